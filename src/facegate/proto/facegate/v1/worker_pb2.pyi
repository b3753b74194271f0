from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
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

class Box(_message.Message):
    __slots__ = ("left", "top", "right", "bottom")
    LEFT_FIELD_NUMBER: _ClassVar[int]
    TOP_FIELD_NUMBER: _ClassVar[int]
    RIGHT_FIELD_NUMBER: _ClassVar[int]
    BOTTOM_FIELD_NUMBER: _ClassVar[int]
    left: float
    top: float
    right: float
    bottom: float
    def __init__(self, left: _Optional[float] = ..., top: _Optional[float] = ..., right: _Optional[float] = ..., bottom: _Optional[float] = ...) -> None: ...

class VerifyResult(_message.Message):
    __slots__ = ("score", "similarity")
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    score: float
    similarity: float
    def __init__(self, score: _Optional[float] = ..., similarity: _Optional[float] = ...) -> None: ...

class ScoreRow(_message.Message):
    __slots__ = ("scores",)
    SCORES_FIELD_NUMBER: _ClassVar[int]
    scores: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, scores: _Optional[_Iterable[float]] = ...) -> None: ...

class MultiFaceResult(_message.Message):
    __slots__ = ("rows", "first_rects", "second_rects")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    FIRST_RECTS_FIELD_NUMBER: _ClassVar[int]
    SECOND_RECTS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[ScoreRow]
    first_rects: _containers.RepeatedCompositeFieldContainer[Box]
    second_rects: _containers.RepeatedCompositeFieldContainer[Box]
    def __init__(self, rows: _Optional[_Iterable[_Union[ScoreRow, _Mapping]]] = ..., first_rects: _Optional[_Iterable[_Union[Box, _Mapping]]] = ..., second_rects: _Optional[_Iterable[_Union[Box, _Mapping]]] = ...) -> None: ...

class Pose(_message.Message):
    __slots__ = ("yaw", "pitch", "roll")
    YAW_FIELD_NUMBER: _ClassVar[int]
    PITCH_FIELD_NUMBER: _ClassVar[int]
    ROLL_FIELD_NUMBER: _ClassVar[int]
    yaw: float
    pitch: float
    roll: float
    def __init__(self, yaw: _Optional[float] = ..., pitch: _Optional[float] = ..., roll: _Optional[float] = ...) -> None: ...

class Occlusion(_message.Message):
    __slots__ = ("left_eye", "right_eye", "nose", "mouth", "total")
    LEFT_EYE_FIELD_NUMBER: _ClassVar[int]
    RIGHT_EYE_FIELD_NUMBER: _ClassVar[int]
    NOSE_FIELD_NUMBER: _ClassVar[int]
    MOUTH_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    left_eye: float
    right_eye: float
    nose: float
    mouth: float
    total: float
    def __init__(self, left_eye: _Optional[float] = ..., right_eye: _Optional[float] = ..., nose: _Optional[float] = ..., mouth: _Optional[float] = ..., total: _Optional[float] = ...) -> None: ...

class FaceQuality(_message.Message):
    __slots__ = ("rect", "pose", "occlusion", "distance2center", "size", "brightness", "sharpness", "mouth_open", "integrity")
    RECT_FIELD_NUMBER: _ClassVar[int]
    POSE_FIELD_NUMBER: _ClassVar[int]
    OCCLUSION_FIELD_NUMBER: _ClassVar[int]
    DISTANCE2CENTER_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    BRIGHTNESS_FIELD_NUMBER: _ClassVar[int]
    SHARPNESS_FIELD_NUMBER: _ClassVar[int]
    MOUTH_OPEN_FIELD_NUMBER: _ClassVar[int]
    INTEGRITY_FIELD_NUMBER: _ClassVar[int]
    rect: Box
    pose: Pose
    occlusion: Occlusion
    distance2center: float
    size: float
    brightness: float
    sharpness: float
    mouth_open: float
    integrity: float
    def __init__(self, rect: _Optional[_Union[Box, _Mapping]] = ..., pose: _Optional[_Union[Pose, _Mapping]] = ..., occlusion: _Optional[_Union[Occlusion, _Mapping]] = ..., distance2center: _Optional[float] = ..., size: _Optional[float] = ..., brightness: _Optional[float] = ..., sharpness: _Optional[float] = ..., mouth_open: _Optional[float] = ..., integrity: _Optional[float] = ...) -> None: ...

class QualityResult(_message.Message):
    __slots__ = ("faces",)
    FACES_FIELD_NUMBER: _ClassVar[int]
    faces: _containers.RepeatedCompositeFieldContainer[FaceQuality]
    def __init__(self, faces: _Optional[_Iterable[_Union[FaceQuality, _Mapping]]] = ...) -> None: ...

class LivenessOutcome(_message.Message):
    __slots__ = ("passed", "score", "status", "image_timestamp", "image_jpeg", "face_jpeg", "refused_by", "evidence")
    PASSED_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    IMAGE_JPEG_FIELD_NUMBER: _ClassVar[int]
    FACE_JPEG_FIELD_NUMBER: _ClassVar[int]
    REFUSED_BY_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    passed: bool
    score: float
    status: str
    image_timestamp: float
    image_jpeg: bytes
    face_jpeg: bytes
    refused_by: str
    evidence: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, passed: _Optional[bool] = ..., score: _Optional[float] = ..., status: _Optional[str] = ..., image_timestamp: _Optional[float] = ..., image_jpeg: _Optional[bytes] = ..., face_jpeg: _Optional[bytes] = ..., refused_by: _Optional[str] = ..., evidence: _Optional[_Iterable[str]] = ...) -> None: ...

class SilentVerifyResult(_message.Message):
    __slots__ = ("liveness", "verification_score")
    LIVENESS_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_SCORE_FIELD_NUMBER: _ClassVar[int]
    liveness: LivenessOutcome
    verification_score: float
    def __init__(self, liveness: _Optional[_Union[LivenessOutcome, _Mapping]] = ..., verification_score: _Optional[float] = ...) -> None: ...

class ActionSeen(_message.Message):
    __slots__ = ("kind", "level")
    KIND_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    kind: str
    level: float
    def __init__(self, kind: _Optional[str] = ..., level: _Optional[float] = ...) -> None: ...

class PackageVerifyResult(_message.Message):
    __slots__ = ("verification_score", "liveness_score", "actions", "attack", "hack_score", "refused_by", "evidence")
    VERIFICATION_SCORE_FIELD_NUMBER: _ClassVar[int]
    LIVENESS_SCORE_FIELD_NUMBER: _ClassVar[int]
    ACTIONS_FIELD_NUMBER: _ClassVar[int]
    ATTACK_FIELD_NUMBER: _ClassVar[int]
    HACK_SCORE_FIELD_NUMBER: _ClassVar[int]
    REFUSED_BY_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    verification_score: float
    liveness_score: float
    actions: _containers.RepeatedCompositeFieldContainer[ActionSeen]
    attack: str
    hack_score: float
    refused_by: str
    evidence: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, verification_score: _Optional[float] = ..., liveness_score: _Optional[float] = ..., actions: _Optional[_Iterable[_Union[ActionSeen, _Mapping]]] = ..., attack: _Optional[str] = ..., hack_score: _Optional[float] = ..., refused_by: _Optional[str] = ..., evidence: _Optional[_Iterable[str]] = ...) -> None: ...

class WorkerError(_message.Message):
    __slots__ = ("code", "detail", "field")
    CODE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    code: int
    detail: str
    field: str
    def __init__(self, code: _Optional[int] = ..., detail: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...
