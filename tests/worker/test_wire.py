"""The worker protocol's messages: every value makes the trip exactly, absent stays absent, errors
keep their code, field and message, and nothing malformed gets through."""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from facegate.core.errors import Code, FacegateError, ImageError
from facegate.core.package import (
    ActionKind,
    ChallengeAction,
    FrameRole,
    LivenessPackage,
    Mode,
    PackageFrame,
)
from facegate.core.results import (
    ActionSeen,
    FaceQuality,
    FaceRects,
    LivenessOutcome,
    LivenessStatus,
    MultiFaceResult,
    Occlusion,
    PackageLivenessResult,
    PackageVerifyResult,
    Pose,
    QualityResult,
    Rect,
    Result,
    SilentVerifyResult,
    VerifyResult,
)
from facegate.proto.codec import serialize_package
from facegate.proto.facegate.v1 import liveness_pb2
from facegate.proto.facegate.v1 import worker_pb2 as pb
from facegate.worker import wire
from facegate.worker.interface import Photo, PhotoOptions, Video, VideoOptions

# Doubles a float32 or a decimal text would change: thirds, sums with binary error, the
# smallest subnormal, the largest finite value, the float just below 1, negative zero.
AWKWARD = [
    1 / 3,
    0.1 + 0.2,
    5e-324,
    1.7976931348623157e308,
    math.nextafter(1.0, 0.0),
    -0.0,
    -2.5e-17,
    math.pi,
]
R = TypeVar("R", bound=Result)
ALL_OPTIONS = [PhotoOptions(a, q) for a in (False, True) for q in (False, True)]
ALL_VIDEO_OPTIONS = [VideoOptions(i, f) for i in (False, True) for f in (False, True)]
# Bytes that are not text: NULs, a JPEG marker, invalid UTF-8.
BINARY = b"\xff\xd8\xff\xe0\x00\x00\x10JFIF\x00\x80\xfe\xff" + bytes(range(256))


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


def same_bits(a: float, b: float) -> bool:
    """Equal as bit patterns: tells -0.0 from 0.0, and compares NaNs."""
    return bits(a) == bits(b)


def tiny_jpeg(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", pixels)
    assert ok
    return bytes(buf.tobytes())


def a_package() -> LivenessPackage:
    return LivenessPackage(
        sdk_name="facegate-web",
        sdk_version="2.0.1",
        device="test rig",
        captured_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        mode=Mode.INTERACTIVE,
        frames=(
            PackageFrame(tiny_jpeg(0), 0),
            PackageFrame(tiny_jpeg(1), 40, frozenset({FrameRole.SEQUENCE, FrameRole.ACTION})),
            PackageFrame(tiny_jpeg(2), 80, frozenset({FrameRole.SELECTED})),
        ),
        challenge=(ChallengeAction(ActionKind.BLINK, 0, 1),),
        # A float in the package format itself (liveness.proto), so one float32 holds exactly.
        device_score=0.375,
        extra={"camera": "front", "ünïcode": "✓"},
    )


# --- requests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("options", ALL_OPTIONS)
def test_pair_request_round_trips(options: PhotoOptions) -> None:
    first, second = Photo("first_encrypted_image", BINARY), Photo("second", b"")
    assert wire.parse_pair_request(wire.pair_request(first, second, options)) == (
        first,
        second,
        options,
    )


def test_quality_request_round_trips() -> None:
    photo = Photo("image", BINARY)
    assert wire.parse_quality_request(wire.quality_request(photo)) == photo


@pytest.mark.parametrize("options", ALL_VIDEO_OPTIONS)
def test_silent_liveness_request_round_trips(options: VideoOptions) -> None:
    video = Video("encrypted_video", BINARY * 3)
    body = wire.silent_liveness_request(video, options)
    assert wire.parse_silent_liveness_request(body) == (video, options)


@pytest.mark.parametrize(
    ("photo_options", "options"), list(zip(ALL_OPTIONS, ALL_VIDEO_OPTIONS, strict=True))
)
def test_silent_verify_request_round_trips(
    photo_options: PhotoOptions, options: VideoOptions
) -> None:
    video, photo = Video("encrypted_video", BINARY), Photo("encrypted_image", BINARY[::-1])
    body = wire.silent_verify_request(video, photo, photo_options, options)
    assert wire.parse_silent_verify_request(body) == (video, photo, photo_options, options)


def test_package_liveness_request_round_trips_the_whole_package() -> None:
    package = a_package()
    assert wire.parse_package_liveness_request(wire.package_liveness_request(package)) == package


def test_package_verify_request_round_trips_the_whole_package() -> None:
    package, photo = a_package(), Photo("encrypted_image", BINARY)
    options = PhotoOptions(auto_rotate=True)
    parsed = wire.parse_package_verify_request(wire.package_verify_request(package, photo, options))
    assert parsed == (package, photo, options)
    assert parsed[0].captured_at == package.captured_at  # microseconds and time zone kept


# --- results ----------------------------------------------------------------------------------
# Carried as their models' JSON: every double makes the trip bit for bit.


def trip(result: R) -> R:
    return wire.parse_result(type(result), wire.result(result))


@given(score=st.floats(0.0, 1.0), other=st.floats(allow_nan=False))
def test_every_double_survives_bit_for_bit(score: float, other: float) -> None:
    result = PackageVerifyResult(
        verification_score=score,
        liveness_score=other,
        actions=(ActionSeen(kind="blink", level=-other),),
        hack_score=other,
    )
    parsed = trip(result)
    assert same_bits(parsed.verification_score, score)
    assert same_bits(parsed.liveness_score, other)
    assert same_bits(parsed.hack_score, other)
    assert same_bits(parsed.actions[0].level, -other)


def test_nan_stays_nan() -> None:
    # Its payload bits do not survive JSON; no score is ever NaN, but a measure might be.
    assert math.isnan(
        trip(PackageVerifyResult(verification_score=0.5, liveness_score=math.nan)).liveness_score
    )


def test_awkward_scores_survive_exactly() -> None:
    for x in AWKWARD:
        assert same_bits(trip(VerifyResult(verification_score=abs(x) % 1.0)).verification_score,
                         abs(x) % 1.0)  # fmt: skip
        parsed = trip(PackageVerifyResult(verification_score=0.5, liveness_score=x))
        assert same_bits(parsed.liveness_score, x)


def rects(*corners: tuple[int, int, int, int]) -> list[Rect]:
    return [Rect.of(c) for c in corners]


@pytest.mark.parametrize(
    "result",
    [
        MultiFaceResult(
            scores=[], face_rects=FaceRects(first_image_face_rects=[], second_image_face_rects=[])
        ),
        MultiFaceResult(
            scores=[[1 / 3, 0.1 + 0.2, 5e-324], [math.nextafter(1.0, 0.0), -0.0, 0.5]],
            face_rects=FaceRects(
                first_image_face_rects=rects((0, 0, 250, 249), (-1, -2, 5, 10**6)),
                second_image_face_rects=rects((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12)),
            ),
        ),
    ],
)
def test_multiface_result_round_trips(result: MultiFaceResult) -> None:
    parsed = trip(result)
    assert parsed == result
    for row, parsed_row in zip(result.scores, parsed.scores, strict=True):
        assert [bits(s) for s in row] == [bits(s) for s in parsed_row]


def face_quality(seed: float) -> FaceQuality:
    return FaceQuality(
        rect=Rect.of((round(seed), round(seed / 3), round(seed + 100.5), round(seed + 120.25))),
        pose=Pose(yaw=-seed / 7, pitch=seed / 11, roll=-0.0),
        occlusion=Occlusion(left_eye=1 / 3, right_eye=0.1 + 0.2, nose=1.0, mouth=0.0, total=2 / 3),
        distance2center=seed / 13,
        size=seed * 1e-3,
        brightness=5e-324,
        sharpness=1.7976931348623157e308,
        mouth_open=math.nextafter(0.0, 1.0),
        integrity=seed / 17,
    )


def test_quality_result_round_trips_every_field_of_every_face() -> None:
    result = QualityResult(faces=[face_quality(1.0), face_quality(math.e)])
    parsed = trip(result)
    assert parsed == result
    assert same_bits(parsed.faces[0].pose.roll, -0.0)
    assert same_bits(parsed.faces[1].size, math.e * 1e-3)
    assert trip(QualityResult(faces=[])) == QualityResult(faces=[])


def outcome(passed: bool, score: float, status: LivenessStatus, **more: Any) -> LivenessOutcome:
    return LivenessOutcome(passed=passed, liveness_score=score, liveness_status=status, **more)


@pytest.mark.parametrize(
    "result",
    [
        # Absent stays absent (None), not 0.0 or b"".
        outcome(False, 0.25, "hack"),
        outcome(False, 0.25, "hack", refused_by="replay", evidence=("pack", "edges")),
        outcome(False, 0.0, "short_time"),
        # Present stays present, even when it is empty or zero.
        outcome(True, 1 / 3, "ok", image_timestamp=0.0, image=b"", face_image=b""),
        outcome(True, 0.9, "ok", image_timestamp=2.5, image=BINARY),
        outcome(True, 0.9, "ok", face_image=BINARY),
        outcome(True, 0.9, "ok", image_timestamp=1 / 7, image=BINARY, face_image=BINARY[::-1]),
    ],
)
def test_liveness_outcome_round_trips_with_optional_fields_absent_or_present(
    result: LivenessOutcome,
) -> None:
    parsed = trip(result)
    assert parsed == result
    assert same_bits(parsed.liveness_score, result.liveness_score)


@pytest.mark.parametrize("score", [None, 0.0, 1 / 3])
def test_silent_verify_result_tells_no_score_from_a_zero_score(score: float | None) -> None:
    live = outcome(True, 0.75, "ok", image_timestamp=1.0, image=b"jpeg")
    result = SilentVerifyResult(**dict(live), verification_score=score)
    assert trip(result) == result
    assert trip(result).liveness == live


@pytest.mark.parametrize(
    "result",
    [
        PackageVerifyResult(verification_score=1 / 3, liveness_score=0.1 + 0.2),
        PackageVerifyResult(
            verification_score=0.0,
            liveness_score=1.0,
            actions=(
                ActionSeen(kind="blink", level=1.25),
                ActionSeen(kind="turn_left", level=1 / 3),
                ActionSeen(kind="blink", level=2.0),
            ),
        ),
        PackageVerifyResult(
            verification_score=0.5,
            liveness_score=0.1,
            hack_score=0.9,
            attack="looks like a print",
            refused_by="print",
            evidence=("black",),
        ),
    ],
)
def test_package_verify_result_round_trips(result: PackageVerifyResult) -> None:
    parsed = trip(result)
    assert parsed == result
    assert same_bits(parsed.verification_score, result.verification_score)


def test_a_result_a_worker_could_not_have_computed_is_a_wire_error() -> None:
    with pytest.raises(wire.WireError, match="not a valid VerifyResult"):
        wire.parse_result(VerifyResult, b'{"verification_score": 1.5}')
    with pytest.raises(wire.WireError, match="not a valid QualityResult"):
        wire.parse_result(QualityResult, b'{"faces": [], "extra": 1}')


# --- failures ---------------------------------------------------------------------------------


def test_image_error_keeps_its_field_and_its_message() -> None:
    exc = ImageError(
        Code.INVALID_IMAGE_SIZE, "10×10 px, the minimum is 32", "second_encrypted_image"
    )
    body = wire.facegate_error(exc)
    # The bare detail and the field travel apart, so the field is not prefixed twice.
    assert wire.parse_error(body) == (2003, "10×10 px, the minimum is 32", "second_encrypted_image")
    with pytest.raises(ImageError) as info:
        wire.raise_facegate_error(body)
    got = info.value
    assert (got.code, got.field, got.detail) == (exc.code, exc.field, exc.detail)
    assert (
        got.message()
        == exc.message()
        == ("invalid image size: second_encrypted_image: 10×10 px, the minimum is 32")
    )
    assert str(got) == str(exc)


@pytest.mark.parametrize("code", [c for c in Code if c is not Code.OK])
def test_every_senseid_code_comes_back_as_the_same_error(code: Code) -> None:
    exc = FacegateError(code, f"detail of {code.name}")
    with pytest.raises(FacegateError) as info:
        wire.raise_facegate_error(wire.facegate_error(exc))
    assert type(info.value) is FacegateError  # no field: not an ImageError
    assert (info.value.code, info.value.detail) == (code, exc.detail)
    assert info.value.message() == exc.message()


def test_worker_errors_outside_the_manual_keep_their_code_and_detail() -> None:
    assert wire.parse_error(wire.error(503, "the worker is full")) == (
        503,
        "the worker is full",
        None,
    )
    assert wire.parse_error(wire.error(400, "bad", field="")) == (400, "bad", "")


@pytest.mark.parametrize("code", [9999, 503, 400, 0])
def test_a_code_a_worker_should_never_report_as_422_is_a_wire_error(code: int) -> None:
    with pytest.raises(wire.WireError, match=f"unknown code {code}"):
        wire.raise_facegate_error(wire.error(code, "whatever", "first_encrypted_image"))


PARSERS: list[Callable[[bytes], Any]] = [
    wire.parse_pair_request,
    wire.parse_quality_request,
    wire.parse_silent_liveness_request,
    wire.parse_silent_verify_request,
    wire.parse_package_verify_request,
    wire.parse_package_liveness_request,
    *(
        functools.partial(wire.parse_result, cls)
        for cls in (
            VerifyResult,
            MultiFaceResult,
            QualityResult,
            LivenessOutcome,
            SilentVerifyResult,
            PackageVerifyResult,
            PackageLivenessResult,
        )
    ),
    wire.parse_error,
    wire.raise_facegate_error,
]
GARBAGE = [
    b"\xff\xff\xff\xff",  # a tag whose varint never ends
    b"\x0a\x10short",  # a length-delimited field longer than the body
    b"\x0f",  # wire type 7 does not exist
    b"<html>502 Bad Gateway</html>",  # a proxy's error page
]


@pytest.mark.parametrize("parse", PARSERS, ids=lambda p: getattr(p, "__name__", repr(p)))
@pytest.mark.parametrize("body", GARBAGE)
def test_a_garbage_body_raises_wire_error(parse: Callable[[bytes], Any], body: bytes) -> None:
    with pytest.raises(wire.WireError, match="not a valid"):
        parse(body)


def test_a_string_field_with_invalid_utf8_is_a_wire_error() -> None:
    # PairRequest.first (field 1) holding a Photo whose field (1) is the byte 0xff.
    photo = b"\x0a\x01\xff"
    with pytest.raises(wire.WireError, match="not a valid PairRequest"):
        wire.parse_pair_request(b"\x0a" + bytes([len(photo)]) + photo)


def package_request(package: bytes) -> bytes:
    m = pb.PackageVerifyRequest(package=package, photo=pb.Photo(field="encrypted_image", data=b"x"))
    return m.SerializeToString()


def tampered(change: Callable[[liveness_pb2.LivenessPackage], None]) -> bytes:
    message = liveness_pb2.LivenessPackage()
    message.ParseFromString(serialize_package(a_package()))
    change(message)
    return message.SerializeToString()


def no_soi(m: liveness_pb2.LivenessPackage) -> None:
    m.frames[1].jpeg = b"GIF89a not a jpeg"


def action_out_of_range(m: liveness_pb2.LivenessPackage) -> None:
    m.challenge[0].last_frame = 7


def device_score_above_one(m: liveness_pb2.LivenessPackage) -> None:
    m.device_score = 1.5


@pytest.mark.parametrize(
    ("package", "reason"),
    [
        (tampered(no_soi), "frame 1 is not a JPEG"),
        (tampered(action_out_of_range), "out of range"),
        (tampered(device_score_above_one), "outside [0, 1]"),
        (b"\xff\xff\xff", "not a valid LivenessPackage"),
        (b"", "format_version is missing"),
    ],
    ids=["no-soi", "action-range", "device-score", "not-protobuf", "empty"],
)
def test_a_package_inside_the_request_is_checked_again_on_the_worker(
    package: bytes, reason: str
) -> None:
    # The API tier checked it before sending; a worker still takes nobody's word for it.
    with pytest.raises(FacegateError) as info:
        wire.parse_package_verify_request(package_request(package))
    assert info.value.code is Code.CORRUPTED_LIVENESS_DATA
    assert int(info.value.code) == 2007
    assert reason in info.value.detail
