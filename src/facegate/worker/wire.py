"""The worker protocol: requests and failures as the messages of
``proto/facegate/v1/worker.proto`` (the only module that touches the worker's protobuf types),
results as the JSON of their models in :mod:`facegate.core.results`.

Floats travel exactly (doubles in protobuf, shortest round-trip decimals in JSON), so a score
computed on a worker is bit-for-bit the one the same engine computes in-process.
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import Message

from facegate.core.errors import Code, FacegateError, ImageError
from facegate.core.package import LivenessPackage
from facegate.core.results import Result, ValidationError, from_wire, to_wire
from facegate.proto.codec import parse_package, serialize_package
from facegate.proto.facegate.v1 import worker_pb2 as pb
from facegate.worker.interface import Photo, PhotoOptions, Video, VideoOptions

CONTENT_TYPE = "application/x-protobuf"

_M = TypeVar("_M", bound=Message)
_R = TypeVar("_R", bound=Result)

# --- inputs -----------------------------------------------------------------------------------


def _photo(p: Photo) -> pb.Photo:
    return pb.Photo(field=p.field, data=p.data)


def _photo_of(m: pb.Photo) -> Photo:
    return Photo(m.field, m.data)


def _photo_options(o: PhotoOptions) -> pb.PhotoOptions:
    return pb.PhotoOptions(auto_rotate=o.auto_rotate, check_quality=o.check_quality)


def _photo_options_of(m: pb.PhotoOptions) -> PhotoOptions:
    return PhotoOptions(auto_rotate=m.auto_rotate, check_quality=m.check_quality)


def _video(v: Video) -> pb.Video:
    return pb.Video(field=v.field, data=v.data)


def _video_options(o: VideoOptions) -> pb.VideoOptions:
    return pb.VideoOptions(return_image=o.return_image, return_face_image=o.return_face_image)


def _video_options_of(m: pb.VideoOptions) -> VideoOptions:
    return VideoOptions(return_image=m.return_image, return_face_image=m.return_face_image)


def pair_request(first: Photo, second: Photo, options: PhotoOptions) -> bytes:
    m = pb.PairRequest(first=_photo(first), second=_photo(second), options=_photo_options(options))
    return m.SerializeToString()


def parse_pair_request(body: bytes) -> tuple[Photo, Photo, PhotoOptions]:
    m = _parse(pb.PairRequest(), body)
    return _photo_of(m.first), _photo_of(m.second), _photo_options_of(m.options)


def quality_request(photo: Photo) -> bytes:
    return pb.QualityRequest(photo=_photo(photo)).SerializeToString()


def parse_quality_request(body: bytes) -> Photo:
    return _photo_of(_parse(pb.QualityRequest(), body).photo)


def silent_liveness_request(video: Video, options: VideoOptions) -> bytes:
    m = pb.SilentLivenessRequest(video=_video(video), options=_video_options(options))
    return m.SerializeToString()


def parse_silent_liveness_request(body: bytes) -> tuple[Video, VideoOptions]:
    m = _parse(pb.SilentLivenessRequest(), body)
    return Video(m.video.field, m.video.data), _video_options_of(m.options)


def silent_verify_request(
    video: Video, photo: Photo, photo_options: PhotoOptions, options: VideoOptions
) -> bytes:
    m = pb.SilentVerifyRequest(
        video=_video(video),
        photo=_photo(photo),
        photo_options=_photo_options(photo_options),
        options=_video_options(options),
    )
    return m.SerializeToString()


def parse_silent_verify_request(
    body: bytes,
) -> tuple[Video, Photo, PhotoOptions, VideoOptions]:
    m = _parse(pb.SilentVerifyRequest(), body)
    return (
        Video(m.video.field, m.video.data),
        _photo_of(m.photo),
        _photo_options_of(m.photo_options),
        _video_options_of(m.options),
    )


def package_verify_request(
    package: LivenessPackage, photo: Photo, photo_options: PhotoOptions
) -> bytes:
    m = pb.PackageVerifyRequest(
        package=serialize_package(package),
        photo=_photo(photo),
        photo_options=_photo_options(photo_options),
    )
    return m.SerializeToString()


def parse_package_verify_request(body: bytes) -> tuple[LivenessPackage, Photo, PhotoOptions]:
    m = _parse(pb.PackageVerifyRequest(), body)
    # Checked again here: the worker does not take the API tier's word for a package's shape.
    package = parse_package(m.package)
    return package, _photo_of(m.photo), _photo_options_of(m.photo_options)


def package_liveness_request(package: LivenessPackage) -> bytes:
    return pb.PackageLivenessRequest(package=serialize_package(package)).SerializeToString()


def parse_package_liveness_request(body: bytes) -> LivenessPackage:
    return parse_package(_parse(pb.PackageLivenessRequest(), body).package)


# --- results ---------------------------------------------------------------------------------
# Carried as the result model's own JSON (facegate.core.results), so a field added to a result
# crosses the wire without a change here. JSON floats are written in their shortest round-trip
# form, so a score is bit-for-bit the one the worker computed.

RESULT_CONTENT_TYPE = "application/json"


def result(r: Result) -> bytes:
    return to_wire(r)


def parse_result(cls: type[_R], body: bytes) -> _R:
    try:
        return from_wire(cls, body)
    except ValidationError as exc:
        raise WireError(f"not a valid {cls.__name__}: {exc}") from None


# --- failures ---------------------------------------------------------------------------------


class WireError(ValueError):
    """A body that is not the expected message: a bug or a version mismatch between tiers."""


def error(code: int, detail: str, field: str | None = None) -> bytes:
    m = pb.WorkerError(code=code, detail=detail)
    if field is not None:
        m.field = field
    return m.SerializeToString()


def facegate_error(exc: FacegateError) -> bytes:
    if isinstance(exc, ImageError) and exc.field is not None:
        # ImageError keeps "field: detail" in its detail; send the bare detail and the field
        # separately so the API tier rebuilds the same error.
        bare = exc.detail.removeprefix(f"{exc.field}: ")
        return error(int(exc.code), bare, exc.field)
    return error(int(exc.code), exc.detail)


def parse_error(body: bytes) -> tuple[int, str, str | None]:
    m = _parse(pb.WorkerError(), body)
    return m.code, m.detail, m.field if m.HasField("field") else None


def raise_facegate_error(body: bytes) -> None:
    """Raise the FacegateError a worker reported (a 422 answer)."""
    code, detail, field = parse_error(body)
    try:
        known = Code(code)
    except ValueError:
        raise WireError(f"a worker reported unknown code {code}") from None
    if field is not None:
        raise ImageError(known, detail, field)
    raise FacegateError(known, detail)


def _parse(message: _M, body: bytes) -> _M:
    try:
        message.ParseFromString(body)
    except Exception as exc:  # protobuf raises DecodeError and, for bad UTF-8, others
        raise WireError(f"not a valid {type(message).__name__} message: {exc}") from None
    return message
