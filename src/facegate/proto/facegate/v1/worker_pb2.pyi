from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Photo(_message.Message):
    __slots__ = ("field", "data")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    field: str
    data: bytes
    def __init__(self, field: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class PhotoOptions(_message.Message):
    __slots__ = ("auto_rotate", "check_quality")
    AUTO_ROTATE_FIELD_NUMBER: _ClassVar[int]
    CHECK_QUALITY_FIELD_NUMBER: _ClassVar[int]
    auto_rotate: bool
    check_quality: bool
    def __init__(self, auto_rotate: _Optional[bool] = ..., check_quality: _Optional[bool] = ...) -> None: ...

class Video(_message.Message):
    __slots__ = ("field", "data")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    field: str
    data: bytes
    def __init__(self, field: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class VideoOptions(_message.Message):
    __slots__ = ("return_image", "return_face_image")
    RETURN_IMAGE_FIELD_NUMBER: _ClassVar[int]
    RETURN_FACE_IMAGE_FIELD_NUMBER: _ClassVar[int]
    return_image: bool
    return_face_image: bool
    def __init__(self, return_image: _Optional[bool] = ..., return_face_image: _Optional[bool] = ...) -> None: ...

class PairRequest(_message.Message):
    __slots__ = ("first", "second", "options")
    FIRST_FIELD_NUMBER: _ClassVar[int]
    SECOND_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    first: Photo
    second: Photo
    options: PhotoOptions
    def __init__(self, first: _Optional[_Union[Photo, _Mapping]] = ..., second: _Optional[_Union[Photo, _Mapping]] = ..., options: _Optional[_Union[PhotoOptions, _Mapping]] = ...) -> None: ...

class QualityRequest(_message.Message):
    __slots__ = ("photo",)
    PHOTO_FIELD_NUMBER: _ClassVar[int]
    photo: Photo
    def __init__(self, photo: _Optional[_Union[Photo, _Mapping]] = ...) -> None: ...

class SilentLivenessRequest(_message.Message):
    __slots__ = ("video", "options")
    VIDEO_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    video: Video
    options: VideoOptions
    def __init__(self, video: _Optional[_Union[Video, _Mapping]] = ..., options: _Optional[_Union[VideoOptions, _Mapping]] = ...) -> None: ...

class SilentVerifyRequest(_message.Message):
    __slots__ = ("video", "photo", "photo_options", "options")
    VIDEO_FIELD_NUMBER: _ClassVar[int]
    PHOTO_FIELD_NUMBER: _ClassVar[int]
    PHOTO_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    video: Video
    photo: Photo
    photo_options: PhotoOptions
    options: VideoOptions
    def __init__(self, video: _Optional[_Union[Video, _Mapping]] = ..., photo: _Optional[_Union[Photo, _Mapping]] = ..., photo_options: _Optional[_Union[PhotoOptions, _Mapping]] = ..., options: _Optional[_Union[VideoOptions, _Mapping]] = ...) -> None: ...

class PackageVerifyRequest(_message.Message):
    __slots__ = ("package", "photo", "photo_options")
    PACKAGE_FIELD_NUMBER: _ClassVar[int]
    PHOTO_FIELD_NUMBER: _ClassVar[int]
    PHOTO_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    package: bytes
    photo: Photo
    photo_options: PhotoOptions
    def __init__(self, package: _Optional[bytes] = ..., photo: _Optional[_Union[Photo, _Mapping]] = ..., photo_options: _Optional[_Union[PhotoOptions, _Mapping]] = ...) -> None: ...

class PackageLivenessRequest(_message.Message):
    __slots__ = ("package",)
    PACKAGE_FIELD_NUMBER: _ClassVar[int]
    package: bytes
    def __init__(self, package: _Optional[bytes] = ...) -> None: ...

class WorkerError(_message.Message):
    __slots__ = ("code", "detail", "field")
    CODE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    code: int
    detail: str
    field: str
    def __init__(self, code: _Optional[int] = ..., detail: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...
