import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Mode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODE_UNSPECIFIED: _ClassVar[Mode]
    MODE_SILENT: _ClassVar[Mode]
    MODE_INTERACTIVE: _ClassVar[Mode]

class ActionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTION_TYPE_UNSPECIFIED: _ClassVar[ActionType]
    ACTION_TYPE_BLINK: _ClassVar[ActionType]
    ACTION_TYPE_OPEN_MOUTH: _ClassVar[ActionType]
    ACTION_TYPE_TURN_LEFT: _ClassVar[ActionType]
    ACTION_TYPE_TURN_RIGHT: _ClassVar[ActionType]
    ACTION_TYPE_NOD: _ClassVar[ActionType]

class FrameRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FRAME_ROLE_UNSPECIFIED: _ClassVar[FrameRole]
    FRAME_ROLE_SEQUENCE: _ClassVar[FrameRole]
    FRAME_ROLE_SELECTED: _ClassVar[FrameRole]
    FRAME_ROLE_ACTION: _ClassVar[FrameRole]
MODE_UNSPECIFIED: Mode
MODE_SILENT: Mode
MODE_INTERACTIVE: Mode
ACTION_TYPE_UNSPECIFIED: ActionType
ACTION_TYPE_BLINK: ActionType
ACTION_TYPE_OPEN_MOUTH: ActionType
ACTION_TYPE_TURN_LEFT: ActionType
ACTION_TYPE_TURN_RIGHT: ActionType
ACTION_TYPE_NOD: ActionType
FRAME_ROLE_UNSPECIFIED: FrameRole
FRAME_ROLE_SEQUENCE: FrameRole
FRAME_ROLE_SELECTED: FrameRole
FRAME_ROLE_ACTION: FrameRole

class LivenessPackage(_message.Message):
    __slots__ = ("format_version", "sdk", "device", "capture_time", "mode", "challenge", "frames", "device_score")
    FORMAT_VERSION_FIELD_NUMBER: _ClassVar[int]
    SDK_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_TIME_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    CHALLENGE_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    DEVICE_SCORE_FIELD_NUMBER: _ClassVar[int]
    format_version: int
    sdk: Sdk
    device: Device
    capture_time: _timestamp_pb2.Timestamp
    mode: Mode
    challenge: _containers.RepeatedCompositeFieldContainer[ChallengeAction]
    frames: _containers.RepeatedCompositeFieldContainer[Frame]
    device_score: float
    def __init__(self, format_version: _Optional[int] = ..., sdk: _Optional[_Union[Sdk, _Mapping]] = ..., device: _Optional[_Union[Device, _Mapping]] = ..., capture_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., mode: _Optional[_Union[Mode, str]] = ..., challenge: _Optional[_Iterable[_Union[ChallengeAction, _Mapping]]] = ..., frames: _Optional[_Iterable[_Union[Frame, _Mapping]]] = ..., device_score: _Optional[float] = ...) -> None: ...

class Sdk(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class Device(_message.Message):
    __slots__ = ("description", "extra")
    class ExtraEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    description: str
    extra: _containers.ScalarMap[str, str]
    def __init__(self, description: _Optional[str] = ..., extra: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ChallengeAction(_message.Message):
    __slots__ = ("type", "first_frame", "last_frame", "prompted_ms")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FIRST_FRAME_FIELD_NUMBER: _ClassVar[int]
    LAST_FRAME_FIELD_NUMBER: _ClassVar[int]
    PROMPTED_MS_FIELD_NUMBER: _ClassVar[int]
    type: ActionType
    first_frame: int
    last_frame: int
    prompted_ms: int
    def __init__(self, type: _Optional[_Union[ActionType, str]] = ..., first_frame: _Optional[int] = ..., last_frame: _Optional[int] = ..., prompted_ms: _Optional[int] = ...) -> None: ...

class Frame(_message.Message):
    __slots__ = ("jpeg", "timestamp_ms", "roles")
    JPEG_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_MS_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    jpeg: bytes
    timestamp_ms: int
    roles: _containers.RepeatedScalarFieldContainer[FrameRole]
    def __init__(self, jpeg: _Optional[bytes] = ..., timestamp_ms: _Optional[int] = ..., roles: _Optional[_Iterable[_Union[FrameRole, str]]] = ...) -> None: ...
