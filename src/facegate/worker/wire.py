"""The worker protocol's messages (``proto/facegate/v1/worker.proto``) and the typed values the
engine works with: the only module that touches the worker's protobuf types.

Floats travel as doubles, so a score computed on a worker is bit-for-bit the one the same engine
computes in-process.
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import Message

from facegate.core.errors import Code, FacegateError, ImageError
from facegate.core.package import LivenessPackage
from facegate.core.types import (
    Box,
    FaceQuality,
    LivenessOutcome,
    MultiFaceResult,
    Occlusion,
    PackageVerifyResult,
    Pose,
    QualityResult,
    SilentVerifyResult,
    VerifyResult,
)
from facegate.proto.codec import parse_package, serialize_package
from facegate.proto.facegate.v1 import worker_pb2 as pb
from facegate.worker.interface import Photo, PhotoOptions, Video, VideoOptions

CONTENT_TYPE = "application/x-protobuf"

_M = TypeVar("_M", bound=Message)

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


# --- results ----------------------------------------------------------------------------------


def _box(b: Box) -> pb.Box:
    return pb.Box(left=b.left, top=b.top, right=b.right, bottom=b.bottom)


def _box_of(m: pb.Box) -> Box:
    return Box(m.left, m.top, m.right, m.bottom)


def verify_result(r: VerifyResult) -> bytes:
    return pb.VerifyResult(score=r.score, similarity=r.similarity).SerializeToString()


def parse_verify_result(body: bytes) -> VerifyResult:
    m = _parse(pb.VerifyResult(), body)
    return VerifyResult(score=m.score, similarity=m.similarity)


def multiface_result(r: MultiFaceResult) -> bytes:
    m = pb.MultiFaceResult(
        rows=[pb.ScoreRow(scores=row) for row in r.scores],
        first_rects=[_box(b) for b in r.first_rects],
        second_rects=[_box(b) for b in r.second_rects],
    )
    return m.SerializeToString()


def parse_multiface_result(body: bytes) -> MultiFaceResult:
    m = _parse(pb.MultiFaceResult(), body)
    return MultiFaceResult(
        scores=[list(row.scores) for row in m.rows],
        first_rects=[_box_of(b) for b in m.first_rects],
        second_rects=[_box_of(b) for b in m.second_rects],
    )


def quality_result(r: QualityResult) -> bytes:
    faces = [
        pb.FaceQuality(
            rect=_box(f.rect),
            pose=pb.Pose(yaw=f.pose.yaw, pitch=f.pose.pitch, roll=f.pose.roll),
            occlusion=pb.Occlusion(
                left_eye=f.occlusion.left_eye,
                right_eye=f.occlusion.right_eye,
                nose=f.occlusion.nose,
                mouth=f.occlusion.mouth,
                total=f.occlusion.total,
            ),
            distance2center=f.distance2center,
            size=f.size,
            brightness=f.brightness,
            sharpness=f.sharpness,
            mouth_open=f.mouth_open,
            integrity=f.integrity,
        )
        for f in r.faces
    ]
    return pb.QualityResult(faces=faces).SerializeToString()


def parse_quality_result(body: bytes) -> QualityResult:
    m = _parse(pb.QualityResult(), body)
    return QualityResult(
        [
            FaceQuality(
                rect=_box_of(f.rect),
                pose=Pose(f.pose.yaw, f.pose.pitch, f.pose.roll),
                occlusion=Occlusion(
                    f.occlusion.left_eye,
                    f.occlusion.right_eye,
                    f.occlusion.nose,
                    f.occlusion.mouth,
                    f.occlusion.total,
                ),
                distance2center=f.distance2center,
                size=f.size,
                brightness=f.brightness,
                sharpness=f.sharpness,
                mouth_open=f.mouth_open,
                integrity=f.integrity,
            )
            for f in m.faces
        ]
    )


def _outcome(o: LivenessOutcome) -> pb.LivenessOutcome:
    m = pb.LivenessOutcome(
        passed=o.passed,
        score=o.score,
        status=o.status,
        refused_by=o.refused_by,
        evidence=o.evidence,
    )
    if o.image_timestamp is not None:
        m.image_timestamp = o.image_timestamp
    if o.image_jpeg is not None:
        m.image_jpeg = o.image_jpeg
    if o.face_jpeg is not None:
        m.face_jpeg = o.face_jpeg
    return m


def _outcome_of(m: pb.LivenessOutcome) -> LivenessOutcome:
    return LivenessOutcome(
        passed=m.passed,
        score=m.score,
        status=m.status,
        image_timestamp=m.image_timestamp if m.HasField("image_timestamp") else None,
        image_jpeg=m.image_jpeg if m.HasField("image_jpeg") else None,
        face_jpeg=m.face_jpeg if m.HasField("face_jpeg") else None,
        refused_by=m.refused_by,
        evidence=tuple(m.evidence),
    )


def liveness_result(o: LivenessOutcome) -> bytes:
    return _outcome(o).SerializeToString()


def parse_liveness_result(body: bytes) -> LivenessOutcome:
    return _outcome_of(_parse(pb.LivenessOutcome(), body))


def silent_verify_result(r: SilentVerifyResult) -> bytes:
    m = pb.SilentVerifyResult(liveness=_outcome(r.liveness))
    if r.verification_score is not None:
        m.verification_score = r.verification_score
    return m.SerializeToString()


def parse_silent_verify_result(body: bytes) -> SilentVerifyResult:
    m = _parse(pb.SilentVerifyResult(), body)
    score = m.verification_score if m.HasField("verification_score") else None
    return SilentVerifyResult(_outcome_of(m.liveness), score)


def package_verify_result(r: PackageVerifyResult) -> bytes:
    m = pb.PackageVerifyResult(
        verification_score=r.verification_score,
        liveness_score=r.liveness_score,
        actions=[pb.ActionSeen(kind=k, level=v) for k, v in r.actions],
        attack=r.attack,
        hack_score=r.hack_score,
        refused_by=r.refused_by,
        evidence=r.evidence,
    )
    return m.SerializeToString()


def parse_package_verify_result(body: bytes) -> PackageVerifyResult:
    m = _parse(pb.PackageVerifyResult(), body)
    return PackageVerifyResult(
        m.verification_score,
        m.liveness_score,
        tuple((a.kind, a.level) for a in m.actions),
        hack_score=m.hack_score,
        attack=m.attack,
        refused_by=m.refused_by,
        evidence=tuple(m.evidence),
    )


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
