"""1.3 /identity/liveness_image_verification/stateless: the server trusts nothing in a package.

Every way a package can be wrong gets 2007 with its own message; a replayed package is refused;
frames must show what the package claims.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from facegate.core.crypto import Cipher
from facegate.core.package import ActionKind, ChallengeAction, LivenessPackage, Mode
from facegate.proto.codec import package_key, seal
from facegate.sdk.capture import CaptureOptions, Capturer, video_frames
from facegate.settings import Settings
from facegate.vision.liveness import actions
from facegate.vision.liveness.package_check import decode_frames
from tests.api.helpers import error_code, ok_body
from tests.conftest import lfw_photo
from tests.packages import frame_at, post_package, sealed

CLIP = "tranvanluyt_real.mp4"


@pytest.fixture(scope="module")
def package(capturer: Capturer, videos: Path) -> LivenessPackage:
    return capturer.capture(video_frames(videos / "live" / CLIP), CaptureOptions())


@pytest.fixture(scope="module")
def photo(videos: Path) -> bytes:
    return frame_at(videos / "live" / CLIP, 15.0)


def rejected(r: object) -> str:
    assert error_code(r) == 2007  # type: ignore[arg-type]
    message: str = r.json()["message"]  # type: ignore[attr-defined]
    assert message.startswith("corrupted liveness data error: ")
    return message.removeprefix("corrupted liveness data error: ")


def test_a_good_package_verifies_once(
    client: TestClient, cipher: Cipher, settings: Settings, package: LivenessPackage, photo: bytes
) -> None:
    data = sealed(package, settings)
    body = ok_body(
        post_package(client, cipher, data, photo, auto_rotate="true", check_quality="true"),
        ["code", "verification_score", "request_id"],
    )
    assert body["verification_score"] > 0.7
    assert "already used" in rejected(post_package(client, cipher, data, photo))


def test_each_tampering_is_2007_with_its_own_reason(
    client: TestClient,
    cipher: Cipher,
    settings: Settings,
    package: LivenessPackage,
    photo: bytes,
    capturer: Capturer,
    videos: Path,
    lfw: Path,
) -> None:
    reasons: dict[str, str] = {}

    def send(name: str, data: bytes) -> None:
        reasons[name] = rejected(post_package(client, cipher, data, photo))

    good = sealed(package, settings)
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x01
    send("flipped byte", bytes(flipped))
    send("truncated", good[: len(good) - 100])
    send("wrong key", seal(package, package_key("k" * 32)))
    used = sealed(package, settings)
    ok_body(post_package(client, cipher, used, photo), ["code", "verification_score", "request_id"])
    send("replayed", used)

    # A blink claimed where the eyes stay open (the frames' own signals show no dip there).
    frames = decode_frames(package)
    observed = capturer._analyzer.observe(frames)
    points: list[np.ndarray | None] = [None] * len(frames)
    for o in observed.observations:
        points[o.index] = o.points
    h, w = frames[0].pixels.shape[:2]
    signals = actions.signals_of(points, w, h)
    rest = actions.Resting.of(signals)
    assert rest is not None
    blink = actions.strengths(ActionKind.BLINK, signals, rest)
    start = min(range(len(frames) - 3), key=lambda i: float(blink[i : i + 3].max()))
    assert blink[start : start + 3].max() < 0.6
    no_blink = dataclasses.replace(
        package,
        mode=Mode.INTERACTIVE,
        challenge=(ChallengeAction(ActionKind.BLINK, start, start + 2),),
    )
    send("blink not shown", sealed(no_blink, settings))

    replay = capturer.capture(video_frames(videos / "replay" / CLIP.replace("real", "fake")))
    send("replay attack video", sealed(replay, settings))

    # Another person's face pasted over the tracked face of the selected frame.
    sel = package.selected_index()
    assert sel is not None
    box = next(o.face.box for o in observed.observations if o.index == sel)
    stranger = cv2.imread(str(lfw_photo(lfw, "Colin_Powell", 1)))[60:190, 65:185]
    x0, y0, x1, y1 = box.clip(w, h).as_ints()
    pasted = frames[sel].pixels.copy()
    pasted[y0:y1, x0:x1] = cv2.resize(stranger, (x1 - x0, y1 - y0))
    spliced_frames = list(package.frames)
    spliced_frames[sel] = dataclasses.replace(
        package.frames[sel], jpeg=bytes(cv2.imencode(".jpg", pasted)[1].tobytes())
    )
    send(
        "spliced face",
        sealed(dataclasses.replace(package, frames=tuple(spliced_frames)), settings),
    )

    bad_jpeg = list(package.frames)
    bad_jpeg[3] = dataclasses.replace(package.frames[3], jpeg=b"\xff\xd8\xff\xe0" + b"\0" * 500)
    send(
        "undecodable frame", sealed(dataclasses.replace(package, frames=tuple(bad_jpeg)), settings)
    )

    old = dataclasses.replace(package, captured_at=datetime.now(UTC) - timedelta(hours=2))
    send("expired", sealed(old, settings))
    short = dataclasses.replace(package, frames=package.frames[:12])
    send("too short", sealed(short, settings))

    expected = {
        "flipped byte": "altered",
        "truncated": "truncated",
        "wrong key": "different key",
        "replayed": "already used",
        "blink not shown": "blink (action 0) is not visible",
        "replay attack video": "do not show a live face",
        "spliced face": "different person",
        "undecodable frame": "frame 3 could not be used",
        "expired": "expired",
        "too short": "at least 2.0 s",
    }
    for name, fragment in expected.items():
        assert fragment in reasons[name], (name, reasons[name])
    assert len(set(reasons.values())) == len(reasons), reasons


def test_the_request_shape_errors(
    client: TestClient, cipher: Cipher, settings: Settings, package: LivenessPackage, photo: bytes
) -> None:
    data = sealed(package, settings)
    r = client.post(
        "/identity/liveness_image_verification/stateless",
        data={"liveness_file": "not a file", "encrypted_image": cipher.encrypt(photo)},
    )
    assert error_code(r) == 1200
    r = client.post(
        "/identity/liveness_image_verification/stateless",
        files={"liveness_file": ("s.fglv", data, "application/octet-stream")},
    )
    assert error_code(r) == 1200
    assert "encrypted_image is required" in r.json()["message"]
    # The photo's request error did not use the package up.
    ok_body(post_package(client, cipher, data, photo), ["code", "verification_score", "request_id"])
    assert (
        error_code(
            post_package(client, cipher, sealed(package, settings), b"\xff\xd8\xff" + b"x" * 100)
        )
        == 2005
    )
    blank = np.full((480, 640, 3), 200, np.uint8)
    no_face = bytes(cv2.imencode(".jpg", blank)[1].tobytes())
    assert error_code(post_package(client, cipher, sealed(package, settings), no_face)) == 4000


@hsettings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_byte_mutations_are_never_accepted(
    client: TestClient,
    cipher: Cipher,
    settings: Settings,
    package: LivenessPackage,
    photo: bytes,
    data: st.DataObject,
) -> None:
    good = bytearray(sealed(package, settings))
    pos = data.draw(st.integers(0, len(good) - 1))
    mask = data.draw(st.integers(1, 255))
    good[pos] ^= mask
    assert error_code(post_package(client, cipher, bytes(good), photo)) == 2007
