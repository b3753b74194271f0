"""The liveness package file format: round trips, every refusal, fuzzing, and fresh gencode."""

from __future__ import annotations

import hashlib
import hmac
import re
import shlex
import struct
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from facegate.core.errors import Code, FacegateError
from facegate.core.package import (
    FORMAT_VERSION,
    ActionKind,
    ChallengeAction,
    FrameRole,
    LivenessPackage,
    Mode,
    PackageFrame,
)
from facegate.proto import codec
from facegate.proto.codec import (
    DEFAULT_LIMITS,
    HEADER_LENGTH,
    PackageLimits,
    open_package,
    package_key,
    seal,
)
from facegate.proto.facegate.v1 import liveness_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENT_KEY = "dcbbad6765e14139a07d34b92292a672"
KEY = package_key(DEPLOYMENT_KEY)
OTHER_KEY = package_key("0123456789abcdef0123456789abcdef")
NONCE = bytes(range(12))


def tiny_jpeg(seed: int, size: int = 8) -> bytes:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return buf.tobytes()


JPEGS = [tiny_jpeg(i) for i in range(6)]


def make_package(**changes: object) -> LivenessPackage:
    package = LivenessPackage(
        sdk_name="facegate-android",
        sdk_version="1.4.2",
        device="Pixel 8 / Android 15 / front camera",
        captured_at=datetime(2025, 3, 14, 15, 9, 26, 535897, tzinfo=UTC),
        mode=Mode.INTERACTIVE,
        frames=(
            PackageFrame(JPEGS[0], 0),
            PackageFrame(JPEGS[1], 33, frozenset({FrameRole.SEQUENCE, FrameRole.ACTION})),
            PackageFrame(JPEGS[2], 66, frozenset({FrameRole.ACTION})),
            PackageFrame(JPEGS[3], 100, frozenset({FrameRole.SEQUENCE, FrameRole.SELECTED})),
            PackageFrame(JPEGS[4], 133, frozenset()),
            PackageFrame(
                JPEGS[5], 4_000_000_000, frozenset({FrameRole.ACTION, FrameRole.SELECTED})
            ),
        ),
        challenge=(
            ChallengeAction(ActionKind.BLINK, 1, 2),
            ChallengeAction(ActionKind.TURN_LEFT, 5, 5, prompted_ms=150),
            ChallengeAction(ActionKind.NOD, 0, 5, prompted_ms=0),  # present, and zero
        ),
        device_score=0.7,
        extra={"camera_fps": "30", "ünïcode": "välue ✓"},
    )
    return replace(package, **changes)  # type: ignore[arg-type]


def sealed(**changes: object) -> bytes:
    return seal(make_package(**changes), KEY, nonce=NONCE)


def valid_message() -> pb.LivenessPackage:
    return codec._to_message(make_package())


def seal_message(message: pb.LivenessPackage) -> bytes:
    """Seal a message without the writer's checks, as a broken or hostile SDK might."""
    return codec._seal_payload(message.SerializeToString(), KEY, NONCE)


def refusal(data: bytes, key: bytes = KEY, limits: PackageLimits = DEFAULT_LIMITS) -> str:
    with pytest.raises(FacegateError) as info:
        open_package(data, key, limits)
    assert info.value.code == Code.CORRUPTED_LIVENESS_DATA
    assert int(info.value.code) == 2007
    return info.value.detail


# --- round trip and envelope layout ---------------------------------------------------------


def test_round_trip_keeps_every_field() -> None:
    package = make_package()
    opened = open_package(seal(package, KEY, nonce=NONCE), KEY)
    assert opened.nonce == NONCE
    assert opened.package == package
    assert opened.package.device_score == 0.7  # float32 on the wire, 0.7 again in Python
    assert opened.package.captured_at.tzinfo is not None
    assert opened.package.captured_at.utcoffset() == timedelta(0)
    assert opened.package.selected_index() == 3


def test_round_trip_minimal_package_and_absent_score() -> None:
    package = LivenessPackage(
        sdk_name="",
        sdk_version="",
        device="",
        captured_at=datetime(1970, 1, 1, tzinfo=UTC),
        mode=Mode.SILENT,
        frames=(PackageFrame(JPEGS[0], 0),),
    )
    opened = open_package(seal(package, KEY), KEY)
    assert opened.package == package
    assert opened.package.device_score is None
    assert opened.package.challenge == ()
    assert opened.package.extra == {}


@pytest.mark.parametrize("score", [0.0, 1.0, 0.5, 0.123456789])
def test_device_score_edges_survive(score: float) -> None:
    opened = open_package(sealed(device_score=score), KEY).package
    assert opened.device_score == pytest.approx(score, rel=1e-7)


def test_captured_at_is_normalised_to_utc() -> None:
    local = datetime(2025, 3, 14, 17, 9, 26, tzinfo=timezone(timedelta(hours=2)))
    opened = open_package(sealed(captured_at=local), KEY).package
    assert opened.captured_at == local
    assert opened.captured_at.tzinfo == UTC
    assert opened.captured_at.hour == 15


def test_envelope_layout() -> None:
    data = sealed()
    magic, version, key_id, nonce, length = struct.unpack(">4sB8s12sI", data[:HEADER_LENGTH])
    assert HEADER_LENGTH == 29
    assert magic == b"FGLV"
    assert version == 1
    assert key_id == hmac.new(KEY, b"facegate key id", hashlib.sha256).digest()[:8]
    assert nonce == NONCE
    assert length == len(data) - HEADER_LENGTH
    # Independently: AES-256-GCM under the package key, the whole header as associated data.
    plain = AESGCM(KEY).decrypt(nonce, data[HEADER_LENGTH:], data[:HEADER_LENGTH])
    message = pb.LivenessPackage.FromString(plain)
    assert message.format_version == FORMAT_VERSION == 1
    assert message.sdk.name == "facegate-android"
    assert message.frames[1].roles == [pb.FRAME_ROLE_SEQUENCE, pb.FRAME_ROLE_ACTION]
    assert message.HasField("device_score")


def test_package_key_is_hkdf_of_the_deployment_key() -> None:
    expected = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"facegate liveness package v1"
    ).derive(DEPLOYMENT_KEY.encode())
    assert expected == KEY
    assert package_key(DEPLOYMENT_KEY.encode()) == expected
    assert DEPLOYMENT_KEY.encode() != KEY  # domain separation from parameter encryption
    with pytest.raises(ValueError, match="32 bytes"):
        package_key("short")


def test_random_nonce_per_seal_and_deterministic_with_a_fixed_one() -> None:
    package = make_package()
    a, b = seal(package, KEY), seal(package, KEY)
    assert a != b
    assert open_package(a, KEY).nonce != open_package(b, KEY).nonce
    assert seal(package, KEY, nonce=NONCE) == seal(package, KEY, nonce=NONCE)


def test_seal_refuses_what_open_would_refuse() -> None:
    with pytest.raises(ValueError, match="frame 1 timestamp 0 ms is not after frame 0"):
        seal(make_package(frames=(PackageFrame(JPEGS[0], 0), PackageFrame(JPEGS[1], 0))), KEY)
    with pytest.raises(ValueError, match="timezone-aware"):
        seal(make_package(captured_at=datetime(2025, 1, 1)), KEY)
    with pytest.raises(ValueError, match=r"device_score 1\.5"):
        seal(make_package(device_score=1.5), KEY)
    with pytest.raises(ValueError, match="nonce must be 12 bytes"):
        seal(make_package(), KEY, nonce=b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        seal(make_package(), b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        open_package(sealed(), b"short")


# --- envelope refusals ------------------------------------------------------------------------


def test_empty() -> None:
    assert refusal(b"") == "the package is empty (0 bytes)"


def test_too_large() -> None:
    data = sealed()
    assert "over the limit of 100" in refusal(data, limits=PackageLimits(max_bytes=100))


@pytest.mark.parametrize(
    "data", [b"PK\x03\x04rest", b"\xff\xd8\xff\xe0", b"G", b"FGM", b"FGLX" + bytes(40)]
)
def test_bad_magic(data: bytes) -> None:
    assert "not a facegate liveness package" in refusal(data)


def test_unknown_envelope_version() -> None:
    data = bytearray(sealed())
    data[4] = 2
    assert "unknown envelope version 2" in refusal(bytes(data))


@pytest.mark.parametrize("size", [1, 4, 5, 12, 28])
def test_truncated_header(size: int) -> None:
    detail = refusal(sealed()[:size])
    assert detail.startswith("truncated")
    assert f"{size} bytes, shorter than the 29-byte envelope header" in detail


def test_truncated_body() -> None:
    data = sealed()
    assert refusal(data[:-1]) == f"truncated: {len(data) - 1} of {len(data)} bytes"
    assert refusal(data[:HEADER_LENGTH]) == f"truncated: {HEADER_LENGTH} of {len(data)} bytes"


def test_trailing_bytes() -> None:
    data = sealed()
    assert refusal(data + b"\0\0\0") == f"3 trailing bytes after the {len(data)}-byte package"


def test_declared_length_shorter_than_the_tag() -> None:
    data = bytearray(sealed()[:HEADER_LENGTH])
    data[25:29] = struct.pack(">I", 3)
    assert "fewer than the 16-byte tag" in refusal(bytes(data) + b"abc")


def test_different_key() -> None:
    detail = refusal(sealed(), OTHER_KEY)
    assert detail.startswith("the package was sealed under a different key (key id ")
    assert codec.key_id(KEY).hex() in detail


@pytest.mark.parametrize("where", ["nonce", "length-consistent body", "tag"])
def test_altered(where: str) -> None:
    data = bytearray(sealed())
    index = {"nonce": 15, "length-consistent body": HEADER_LENGTH + 10, "tag": len(data) - 1}
    data[index[where]] ^= 0x01
    assert refusal(bytes(data)) == "integrity check failed: the package was altered"


def test_flip_truncate_and_wrong_key_are_told_apart() -> None:
    data = sealed()
    flipped = bytearray(data)
    flipped[HEADER_LENGTH + 3] ^= 0x80
    messages = {
        "flip": refusal(bytes(flipped)),
        "truncate": refusal(data[:-5]),
        "extend": refusal(data + b"x"),
        "key": refusal(data, OTHER_KEY),
        "magic": refusal(b"X" + data[1:]),
        "empty": refusal(b""),
    }
    assert len(set(messages.values())) == len(messages), messages
    assert "altered" in messages["flip"]
    assert "truncated" in messages["truncate"]
    assert "trailing" in messages["extend"]
    assert "different key" in messages["key"]


def test_payload_that_is_not_protobuf() -> None:
    data = codec._seal_payload(b"\xff\xff\xff\xff garbage", KEY, NONCE)
    assert "is not a valid LivenessPackage message" in refusal(data)


def test_invalid_utf8_in_a_string_field_is_not_protobuf() -> None:
    # field 2 (sdk), length 3: field 1 (name), length 1, byte 0xff
    data = codec._seal_payload(b"\x12\x03\x0a\x01\xff", KEY, NONCE)
    assert "is not a valid LivenessPackage message" in refusal(data)


# --- message refusals -------------------------------------------------------------------------


def message_refusal(message: pb.LivenessPackage, limits: PackageLimits = DEFAULT_LIMITS) -> str:
    return refusal(seal_message(message), limits=limits)


def test_the_unaltered_message_helper_is_accepted() -> None:
    assert open_package(seal_message(valid_message()), KEY).package == make_package()


def test_format_version_missing_or_unknown() -> None:
    m = valid_message()
    m.format_version = 0
    assert message_refusal(m) == "format_version is missing"
    m.format_version = 2
    assert message_refusal(m) == "unsupported format_version 2 (this server reads 1)"


def test_capture_time_missing_or_out_of_range() -> None:
    m = valid_message()
    m.ClearField("capture_time")
    assert message_refusal(m) == "capture_time is missing"
    m.capture_time.seconds = 2**40
    assert "capture_time is out of range" in message_refusal(m)
    m.capture_time.seconds = 0
    m.capture_time.nanos = -1
    assert "capture_time is out of range" in message_refusal(m)


def test_mode_unspecified_or_unknown() -> None:
    m = valid_message()
    m.mode = pb.MODE_UNSPECIFIED
    assert message_refusal(m) == "mode is unspecified"
    m.mode = 7  # type: ignore[assignment]
    assert message_refusal(m) == "unknown mode 7"


def test_frame_count() -> None:
    m = valid_message()
    assert "holds 6 frames, more than the limit of 5" in message_refusal(
        m, PackageLimits(max_frames=5)
    )
    assert "holds 6 frames, fewer than the minimum of 10" in message_refusal(
        m, PackageLimits(min_frames=10)
    )
    del m.frames[:]
    del m.challenge[:]
    assert message_refusal(m) == "the package holds no frames"


def test_frame_without_jpeg_data() -> None:
    m = valid_message()
    m.frames[2].jpeg = b""
    assert message_refusal(m) == "frame 2 has no JPEG data"


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n", b"\xff\xd8", b"GIF89a", b"\xff"])
def test_frame_that_is_not_a_jpeg(data: bytes) -> None:
    m = valid_message()
    m.frames[4].jpeg = data
    assert message_refusal(m) == "frame 4 is not a JPEG (no SOI marker)"


def test_frame_too_big() -> None:
    m = valid_message()
    limit = max(len(j) for j in JPEGS[:3])
    m.frames[3].jpeg = JPEGS[3][:2] + bytes(limit) + JPEGS[3][2:]
    detail = message_refusal(m, PackageLimits(max_frame_bytes=limit))
    size = len(m.frames[3].jpeg)
    assert detail == f"frame 3 is {size} bytes, over the per-frame limit of {limit}"


def test_frame_roles_unspecified_or_unknown() -> None:
    m = valid_message()
    m.frames[1].roles.append(pb.FRAME_ROLE_UNSPECIFIED)
    assert message_refusal(m) == "frame 1 has an unspecified role"
    m = valid_message()
    m.frames[5].roles.append(9)  # type: ignore[arg-type]
    assert message_refusal(m) == "frame 5 has an unknown role (9)"


@pytest.mark.parametrize("ts", [100, 99])
def test_timestamps_not_strictly_increasing(ts: int) -> None:
    m = valid_message()
    m.frames[4].timestamp_ms = ts
    assert message_refusal(m) == f"frame 4 timestamp {ts} ms is not after frame 3 (100 ms)"


def test_action_type_unspecified_or_unknown() -> None:
    m = valid_message()
    m.challenge[1].type = pb.ACTION_TYPE_UNSPECIFIED
    assert message_refusal(m) == "action 1 has an unspecified type"
    m.challenge[1].type = 42  # type: ignore[assignment]
    assert message_refusal(m) == "action 1 has an unknown type (42)"


def test_action_frame_ranges() -> None:
    m = valid_message()
    m.challenge[0].first_frame = 3
    assert message_refusal(m) == "action 0: first_frame 3 is after last_frame 2"
    m = valid_message()
    m.challenge[2].last_frame = 6
    assert (
        message_refusal(m) == "action 2: frames 0..6 are out of range (the package holds 6 frames)"
    )


def test_a_prompt_comes_before_the_frames_of_its_action() -> None:
    assert [a.prompted_ms for a in open_package(sealed(), KEY).package.challenge] == [None, 150, 0]
    m = valid_message()
    m.challenge[1].prompted_ms = 4_000_000_001  # its first frame is at 4,000,000,000 ms
    assert message_refusal(m) == (
        "action 1: prompted at 4000000001 ms, after its first frame (4000000000 ms)"
    )


@pytest.mark.parametrize("score", [-0.01, 1.01, float("inf"), float("-inf"), 1e30])
def test_device_score_out_of_range(score: float) -> None:
    m = valid_message()
    m.device_score = score
    detail = message_refusal(m)
    assert detail.startswith("device_score ")
    assert detail.endswith(" is outside [0, 1]")


def test_device_score_nan() -> None:
    m = valid_message()
    m.device_score = float("nan")
    assert message_refusal(m) == "device_score is NaN"


def test_every_refusal_message_is_distinct() -> None:
    """One sample of each failure; no two may read alike."""
    data = sealed()
    altered = bytearray(data)
    altered[-1] ^= 1
    samples = [
        refusal(b""),
        refusal(data, limits=PackageLimits(max_bytes=10)),
        refusal(b"nope" + data[4:]),
        refusal(data[:4] + b"\x09" + data[5:]),
        refusal(data[:20]),
        refusal(data[:-1]),
        refusal(data + b"!"),
        refusal(data, OTHER_KEY),
        refusal(bytes(altered)),
        refusal(codec._seal_payload(b"\xff", KEY, NONCE)),
    ]
    edits: list[tuple[str, object]] = [
        ("format_version", 0),
        ("format_version", 3),
        ("mode", 0),
        ("mode", 5),
    ]
    for name, value in edits:
        m = valid_message()
        setattr(m, name, value)
        samples.append(message_refusal(m))
    m = valid_message()
    m.ClearField("capture_time")
    samples.append(message_refusal(m))
    m = valid_message()
    del m.frames[:]
    samples.append(message_refusal(m))
    samples.append(message_refusal(valid_message(), PackageLimits(max_frames=1)))
    samples.append(message_refusal(valid_message(), PackageLimits(min_frames=99)))
    samples.append(message_refusal(valid_message(), PackageLimits(max_frame_bytes=10)))
    for index, jpeg in [(0, b""), (0, b"abc")]:
        m = valid_message()
        m.frames[index].jpeg = jpeg
        samples.append(message_refusal(m))
    for role in (0, 8):
        m = valid_message()
        m.frames[0].roles.append(role)  # type: ignore[arg-type]
        samples.append(message_refusal(m))
    m = valid_message()
    m.frames[1].timestamp_ms = 0
    samples.append(message_refusal(m))
    for kind in (0, 8):
        m = valid_message()
        m.challenge[0].type = kind  # type: ignore[assignment]
        samples.append(message_refusal(m))
    m = valid_message()
    m.challenge[0].first_frame = 4
    samples.append(message_refusal(m))
    m = valid_message()
    m.challenge[0].last_frame = 40
    samples.append(message_refusal(m))
    for score in (float("nan"), 2.0):
        m = valid_message()
        m.device_score = score
        samples.append(message_refusal(m))
    assert len(set(samples)) == len(samples), samples


# --- properties -------------------------------------------------------------------------------

SEALED = sealed()
ORIGINAL = open_package(SEALED, KEY)

# Positions are taken modulo the current length, so that mutations compose.
position = st.integers(0, 2 * len(SEALED))
mutation = st.one_of(
    st.tuples(st.just("flip"), position, st.integers(1, 255)),
    st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), position, st.integers(1, 8)),
    st.tuples(st.just("truncate"), position, st.none()),
    st.tuples(st.just("extend"), st.none(), st.binary(max_size=8)),
    st.tuples(st.just("overwrite"), position, st.binary(max_size=8)),
)


def apply(data: bytes, op: tuple[str, int | None, object]) -> bytes:
    kind, at, arg = op
    if kind == "extend":
        assert isinstance(arg, bytes)
        return data + arg
    assert at is not None
    if kind == "truncate":
        return data[: at % (len(data) + 1)]
    if kind == "insert":
        assert isinstance(arg, bytes)
        at %= len(data) + 1
        return data[:at] + arg + data[at:]
    if not data:
        return data
    at %= len(data)
    if kind == "flip":
        assert isinstance(arg, int)
        return data[:at] + bytes([data[at] ^ arg]) + data[at + 1 :]
    if kind == "delete":
        assert isinstance(arg, int)
        return data[:at] + data[at + arg :]
    assert kind == "overwrite"
    assert isinstance(arg, bytes)  # may leave the bytes as they were
    return data[:at] + arg + data[at + len(arg) :]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=3))
def test_mutations_are_refused_with_2007_or_change_nothing(
    ops: list[tuple[str, int | None, object]],
) -> None:
    data = SEALED
    for op in ops:
        data = apply(data, op)
    if data != SEALED:
        with pytest.raises(FacegateError) as info:
            open_package(data, KEY)
        assert info.value.code == Code.CORRUPTED_LIVENESS_DATA
        assert info.value.detail
    else:
        assert open_package(data, KEY) == ORIGINAL


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.binary(max_size=200).map(lambda b: b"FGLV\x01" + b),
        st.binary(min_size=16, max_size=200).map(
            lambda b: SEALED[:25] + struct.pack(">I", len(b)) + b
        ),
    )
)
def test_random_bytes_are_refused_with_2007(data: bytes) -> None:
    assume(data != SEALED)
    with pytest.raises(FacegateError) as info:
        open_package(data, KEY)
    assert info.value.code == Code.CORRUPTED_LIVENESS_DATA


roles = st.frozensets(st.sampled_from(FrameRole))


@st.composite
def packages(draw: st.DrawFn) -> LivenessPackage:
    n = draw(st.integers(1, 5))
    steps = draw(st.lists(st.integers(1, 10_000), min_size=n, max_size=n))
    start = draw(st.integers(0, 1000))
    stamps = [start + sum(steps[: i + 1]) for i in range(n)]
    frames = tuple(
        PackageFrame(b"\xff\xd8\xff" + draw(st.binary(max_size=20)), t, draw(roles)) for t in stamps
    )
    actions = []
    for _ in range(draw(st.integers(0, 3))):
        first = draw(st.integers(0, n - 1))
        actions.append(
            ChallengeAction(
                draw(st.sampled_from(ActionKind)), first, draw(st.integers(first, n - 1))
            )
        )
    score = draw(st.none() | st.floats(0, 1, width=32))
    return LivenessPackage(
        sdk_name=draw(st.text(max_size=10)),
        sdk_version=draw(st.text(max_size=10)),
        device=draw(st.text(max_size=10)),
        captured_at=draw(
            st.datetimes(
                min_value=datetime(1, 1, 2),
                max_value=datetime(9999, 12, 30),
                timezones=st.just(UTC),
            )
        ),
        mode=draw(st.sampled_from(Mode)),
        frames=frames,
        challenge=tuple(actions),
        device_score=score,
        extra=draw(st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3)),
    )


@settings(max_examples=100, deadline=None)
@given(packages())
def test_any_valid_package_round_trips(package: LivenessPackage) -> None:
    opened = open_package(seal(package, KEY), KEY).package
    # device_score is a float32 on the wire and comes back as the shortest decimal of it.
    score = package.device_score
    expected = score if score is None else float(str(np.float32(score)))
    assert opened == replace(package, device_score=expected)
    if score is not None:
        assert np.float32(opened.device_score) == np.float32(score)
    assert open_package(seal(opened, KEY, nonce=NONCE), KEY).package == opened  # stable


# --- generated code -----------------------------------------------------------------------------


def make_proto_command(out: Path) -> list[str]:
    """The recipe of `make proto`, read from the Makefile, writing into ``out`` instead."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(r"^proto:.*\n\t(.+)$", text, re.MULTILINE)
    assert match, "no `proto` target in the Makefile"
    recipe = match.group(1)
    assert recipe.startswith("$(BIN)/python -m grpc_tools.protoc ")
    args = shlex.split(recipe.replace("$(BIN)/python", shlex.quote(sys.executable)))
    assert args.count("--python_out=src/facegate/proto") == 1
    assert args.count("--pyi_out=src/facegate/proto") == 1
    return [a.replace("=src/facegate/proto", f"={out}") for a in args]


def test_generated_code_is_up_to_date(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools", reason="grpcio-tools (the dev extra) is not installed")
    subprocess.run(make_proto_command(tmp_path), cwd=ROOT, check=True)
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert [str(p) for p in generated] == [
        "facegate/v1/liveness_pb2.py",
        "facegate/v1/liveness_pb2.pyi",
        "facegate/v1/worker_pb2.py",
        "facegate/v1/worker_pb2.pyi",
    ]
    committed = ROOT / "src/facegate/proto"
    for relative in generated:
        assert (tmp_path / relative).read_bytes() == (committed / relative).read_bytes(), (
            f"src/facegate/proto/{relative} is stale: run `make proto`"
        )


def test_counts_are_checked_before_anything_is_built_from_them() -> None:
    # Issue 17's repro had 2.6 M challenge actions in 16 MB; 200,000 make the same point here.
    m = valid_message()
    one = m.challenge[0]
    m.challenge.extend([one] * 200_000)
    assert "more than the limit of 16" in refusal(seal_message(m))
    m = valid_message()
    for i in range(40):
        m.device.extra[f"k{i}"] = "v"
    assert "more than the limit of 32" in refusal(seal_message(m))
    m = valid_message()
    m.frames[0].roles.extend([m.frames[0].roles[0]] * 10)
    assert "roles" in refusal(seal_message(m))
