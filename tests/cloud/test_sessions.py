"""Browser capture sessions (``/facegate/v1/liveness/sessions``) end to end, with the real models:
a backend creates a session with its key, a client streams a clip's frames as a camera would
(at the clip's own pace, over the WebSocket), and the outcome, the package and its use through
1.3 and the cloud endpoint are checked; then every misuse of tokens, frames and keys."""

from __future__ import annotations

import base64
import json
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from facegate.api.app import create_app
from facegate.core.crypto import Cipher
from facegate.core.results import SessionCreated, SessionView
from facegate.proto.codec import open_package, package_key
from facegate.sdk.capture import video_frames
from facegate.settings import Settings
from facegate.store.db import Database
from facegate.store.keys import KeyStore, Limits
from tests.cloud import URL, Borrowed, failed, ok
from tests.packages import frame_at, post_package

pytestmark = [pytest.mark.models, pytest.mark.data]

SESSIONS = "/facegate/v1/liveness/sessions"
LIVE = "tranvanluyt_real.mp4"
REPLAY = "tranvanluyt_fake.mp4"


@dataclass
class Sessions:
    settings: Settings
    app: FastAPI
    client: TestClient
    keys: KeyStore

    def key(self, **limits: Any) -> dict[str, str]:
        info, secret = self.keys.create("sessions", Limits(**limits))
        raw = base64.b64encode(f"{info.api_id}:{secret}".encode()).decode()
        return {"authorization": f"Basic {raw}"}

    def create(self, auth: dict[str, str], **body: Any) -> SessionCreated:
        r = self.client.post(SESSIONS, json=body, headers=auth)
        assert r.status_code == 201, r.text
        return SessionCreated.model_validate(r.json())

    def view(self, auth: dict[str, str], session_id: str) -> SessionView:
        r = self.client.get(f"{SESSIONS}/{session_id}", headers=auth)
        assert r.status_code == 200, r.text
        return SessionView.model_validate(r.json())


def open_sessions(folder: Path, app: FastAPI, prompts: list[str]) -> Iterator[Sessions]:
    url = f"sqlite:///{folder / 'facegate.db'}"
    settings = Settings(
        liveness_use_pack=False,
        data_dir=folder,
        database_url=url,
        auth_failure_burst=10_000,
        session_fixed_actions=prompts,  # type: ignore[arg-type]
    )
    db = Database(url)
    db.migrate()
    session_app = create_app(settings, engine=Borrowed(app.state.engine))
    with TestClient(session_app) as c:
        yield Sessions(settings, session_app, c, KeyStore(db, settings.derived_key("api secrets")))
    db.dispose()


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory, app: FastAPI) -> Iterator[Sessions]:
    # Tests fix the prompts: these two are ones the live clip does not perform on cue.
    yield from open_sessions(tmp_path_factory.mktemp("sessions"), app, ["open_mouth", "turn_left"])


@pytest.fixture(scope="module")
def auth(sessions: Sessions) -> dict[str, str]:
    return sessions.key()


def camera(path: Path, fps: float = 10.0, width: int = 480) -> list[tuple[int, bytes]]:
    """The clip as a browser camera would send it: (capture ms, JPEG) at ``fps``."""
    out: list[tuple[int, bytes]] = []
    for t, frame in video_frames(path):
        if out and t * 1000 < out[-1][0] + 1000 / fps:
            continue
        h, w = frame.shape[:2]
        small = cv2.resize(frame, (width, round(h * width / w)), interpolation=cv2.INTER_AREA)
        ok_, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 85])
        assert ok_
        out.append((round(t * 1000), bytes(np.asarray(buf).tobytes())))
        if t > 12:
            break
    return out


@dataclass
class Streamed:
    messages: list[dict[str, Any]]
    close_code: int | None


def stream(
    client: TestClient,
    session_id: str,
    token: str,
    frames: list[tuple[int, bytes]],
    *,
    headers: dict[str, str] | None = None,
    paced: bool = True,
    first: str | None = None,
) -> Streamed:
    """Send the token, then the frames at their own pace (as they are captured) until the
    server has what it needs; everything the server said, and how it closed."""
    messages: list[dict[str, Any]] = []
    url = f"{SESSIONS}/{session_id}/stream"
    with client.websocket_connect(url, headers=dict(headers or {})) as ws:
        ws.send_text(first if first is not None else json.dumps({"client_token": token}))
        try:
            ready = ws.receive_json()
            messages.append(ready)
            if ready["type"] != "ready":
                ws.receive_json()  # the close
            start, t0 = time.monotonic(), frames[0][0]
            for stamp, jpeg in frames:
                if stamp - t0 > ready["duration_ms"] + 400:
                    break
                if paced:
                    time.sleep(max(0.0, (stamp - t0) / 1000 - (time.monotonic() - start)))
                ws.send_bytes(struct.pack(">I", stamp) + jpeg)
            while True:
                messages.append(ws.receive_json())
        except WebSocketDisconnect as exc:
            return Streamed(messages, exc.code)
    return Streamed(messages, None)


@pytest.fixture(scope="module")
def live_frames(videos: Path) -> list[tuple[int, bytes]]:
    return camera(videos / "live" / LIVE)


@pytest.fixture(scope="module")
def passed(
    sessions: Sessions, auth: dict[str, str], live_frames: list[tuple[int, bytes]]
) -> tuple[SessionCreated, Streamed]:
    created = sessions.create(auth, mode="silent")
    return created, stream(sessions.client, created.session_id, created.client_token, live_frames)


# --- the flow -----------------------------------------------------------------------------------


def test_a_session_is_created_for_a_key(sessions: Sessions, auth: dict[str, str]) -> None:
    created = sessions.create(auth, mode="silent", ttl_seconds=60)
    assert created.capture_url == (
        f"/facegate/v1/capture/#session_id={created.session_id}&client_token={created.client_token}"
    )
    view = sessions.view(auth, created.session_id)
    assert (view.status, view.mode, view.actions, view.liveness_score) == (
        "created",
        "silent",
        (),
        None,
    )
    # The token is nowhere in what the backend reads back.
    r = sessions.client.get(f"{SESSIONS}/{created.session_id}", headers=auth)
    assert created.client_token not in r.text


def test_a_live_clip_passes_and_its_package_verifies(
    sessions: Sessions,
    auth: dict[str, str],
    passed: tuple[SessionCreated, Streamed],
    videos: Path,
    client: TestClient,
    cipher: Cipher,
) -> None:
    created, streamed = passed
    kinds = [m["type"] for m in streamed.messages]
    assert kinds[0] == "ready"
    assert kinds[-2:] == ["processing", "result"], streamed.messages
    assert streamed.messages[-1]["status"] == "passed", streamed.messages[-1]
    assert streamed.close_code == 1000
    view = sessions.view(auth, created.session_id)
    assert view.status == "passed"
    assert view.liveness_score is not None
    assert view.liveness_score > 0
    assert view.reference_image is not None
    assert view.reference_image[:2] == b"\xff\xd8"
    assert 1 <= len(view.audit_images) <= 4
    assert view.liveness_data_id is not None

    r = sessions.client.get(f"{SESSIONS}/{created.session_id}/package", headers=auth)
    assert r.status_code == 200
    package = open_package(r.content, package_key(sessions.settings.decrypt_key)).package
    assert package.sdk_name == "facegate-web"
    # Through 1.3, against a later frame of the same person, then another person.
    same = frame_at(videos / "live" / LIVE, 15.0)
    r13 = post_package(sessions.client, cipher, r.content, same)
    assert r13.status_code == 200, r13.text
    assert r13.json()["verification_score"] >= 0.7
    again = post_package(sessions.client, cipher, r.content, same)
    assert again.json()["code"] == 2007  # a package verifies once
    # The stored package by id, through the cloud endpoint.
    api_id, secret = base64.b64decode(auth["authorization"].split()[1]).decode().split(":")
    selfie = ("selfie.jpg", same, "image/jpeg")
    rc = sessions.client.post(
        URL,
        data={"api_id": api_id, "api_secret": secret, "liveness_data_id": view.liveness_data_id},
        files={"selfie_file": selfie},
    )
    assert ok(rc)["verify_score"] >= 0.7
    other = frame_at(videos / "live" / "apfol_real2.webm", 4.0)
    rc = sessions.client.post(
        URL,
        data={"api_id": api_id, "api_secret": secret, "liveness_data_id": view.liveness_data_id},
        files={"selfie_file": ("other.jpg", other, "image/jpeg")},
    )
    assert ok(rc)["verify_score"] < 0.5


def jpeg(image: np.ndarray) -> bytes:
    ok_, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok_
    return bytes(np.asarray(buf).tobytes())


def test_guidance_says_what_to_change(
    sessions: Sessions, auth: dict[str, str], live_frames: list[tuple[int, bytes]], videos: Path
) -> None:
    """Guidance looks at every fifth frame: here the camera shows nothing, then two people, then
    a face far away, then the face jumps sideways between looks, then stays."""
    face = cv2.imdecode(np.frombuffer(live_frames[20][1], np.uint8), cv2.IMREAD_COLOR)
    h, w = face.shape[:2]
    other = cv2.imdecode(np.frombuffer(camera(videos / "live" / "apfol_real2.webm")[20][1],
                                       np.uint8), cv2.IMREAD_COLOR)  # fmt: skip
    two = cv2.resize(np.hstack([face, cv2.resize(other, (w, h))]), (w, h // 2))
    two = cv2.copyMakeBorder(two, 0, h - two.shape[0], 0, 0, cv2.BORDER_CONSTANT, value=(90,) * 3)
    far = np.full_like(face, 90)
    small = cv2.resize(face, (w // 4, h // 4))
    far[h // 2 - h // 8 : h // 2 - h // 8 + small.shape[0], w // 2 - w // 8 :][
        :, : small.shape[1]
    ] = small
    half = cv2.resize(face, (w // 2, h // 2))
    left, right = np.full_like(face, 90), np.full_like(face, 90)
    left[h // 4 : h // 4 + half.shape[0], : half.shape[1]] = half
    right[h // 4 : h // 4 + half.shape[0], w - half.shape[1] :] = half
    phases = [np.full_like(face, 90), two, far, left, right, right, right]
    frames = [(i * 100, jpeg(phases[i // 5])) for i in range(5 * len(phases))]
    created = sessions.create(auth, mode="silent")
    streamed = stream(sessions.client, created.session_id, created.client_token, frames)
    codes = [m["code"] for m in streamed.messages if m["type"] == "guidance"]
    expected = iter(["no_face", "several_faces", "move_closer", "hold_still", "ok"])
    step = next(expected)
    for code in codes:
        if code == step:
            step = next(expected, "")
    assert step == "", codes
    assert codes[-1] == "ok", codes


def test_a_replay_clip_fails(sessions: Sessions, auth: dict[str, str], videos: Path) -> None:
    created = sessions.create(auth, mode="silent")
    streamed = stream(
        sessions.client,
        created.session_id,
        created.client_token,
        camera(videos / "replay" / REPLAY),
    )
    assert streamed.messages[-1]["type"] == "result"
    assert streamed.messages[-1]["status"] == "failed"
    view = sessions.view(auth, created.session_id)
    assert view.status == "failed"
    assert view.reason
    assert view.liveness_data_id is None
    r = sessions.client.get(f"{SESSIONS}/{created.session_id}/package", headers=auth)
    failed(r, "NOT_FOUND", 404, reason="failed")


def test_a_recording_does_not_perform_prompts_it_never_saw(
    sessions: Sessions, auth: dict[str, str], live_frames: list[tuple[int, bytes]]
) -> None:
    created = sessions.create(auth, mode="interactive", actions=2)
    streamed = stream(sessions.client, created.session_id, created.client_token, live_frames)
    prompts = [m for m in streamed.messages if m["type"] == "prompt"]
    assert [(p["index"], p["action"]) for p in prompts] == [(0, "open_mouth"), (1, "turn_left")]
    assert all(p["deadline_ms"] == 2500 for p in prompts)
    assert streamed.messages[-1]["type"] == "result"
    assert streamed.messages[-1]["status"] == "failed", streamed.messages[-1]
    view = sessions.view(auth, created.session_id)
    assert [a.kind for a in view.actions] == ["open_mouth", "turn_left"]
    assert view.actions[0].prompted_at_ms >= 1000  # after the lead-in
    assert view.actions[1].prompted_at_ms >= view.actions[0].prompted_at_ms + 2500
    assert "open_mouth" in (view.reason or "")
    assert view.liveness_data_id is None


# The other side: movements that begin after their prompts pass. No clip here shows a person
# following prompts, so this one's own turn to the left and open mouth stand in for them: the
# stream starts 4.7 s into the clip, and the prompts (fixed to turn left, then open mouth) go out
# just before the clip makes each movement, as a person who reacts to them would move (any start
# from 4.3 to 5.0 s passes).
FOLLOWER = "liveportrait_d6.mp4"
FOLLOWER_START_MS = 4700


@pytest.fixture(scope="module")
def follower_sessions(tmp_path_factory: pytest.TempPathFactory, app: FastAPI) -> Iterator[Sessions]:
    yield from open_sessions(tmp_path_factory.mktemp("follower"), app, ["turn_left", "open_mouth"])


def test_movements_begun_after_their_prompts_pass(
    follower_sessions: Sessions, videos: Path
) -> None:
    sessions = follower_sessions
    auth = sessions.key()
    created = sessions.create(auth, mode="interactive", actions=2)
    frames = [(t, j) for t, j in camera(videos / "live" / FOLLOWER) if t >= FOLLOWER_START_MS]
    streamed = stream(sessions.client, created.session_id, created.client_token, frames)
    assert streamed.messages[-1]["type"] == "result"
    assert streamed.messages[-1]["status"] == "passed", streamed.messages[-1]
    view = sessions.view(auth, created.session_id)
    assert [a.kind for a in view.actions] == ["turn_left", "open_mouth"]
    assert view.liveness_data_id is not None
    r = sessions.client.get(f"{SESSIONS}/{created.session_id}/package", headers=auth)
    package = open_package(r.content, package_key(sessions.settings.decrypt_key)).package
    prompts = [a.prompted_ms for a in package.challenge]
    assert prompts == [a.prompted_at_ms for a in view.actions]
    for action in package.challenge:
        assert action.prompted_ms is not None
        assert package.frames[action.first_frame].timestamp_ms > action.prompted_ms
    for a in view.actions:  # seen after a reaction time, within the prompt's 2.5 s
        assert a.seen_at_ms is not None
        assert a.prompted_at_ms + 250 < a.seen_at_ms <= a.prompted_at_ms + 2500


# --- misuse -------------------------------------------------------------------------------------


def error_of(streamed: Streamed) -> str:
    assert streamed.close_code is not None, streamed
    assert streamed.close_code >= 4000, streamed
    last = streamed.messages[-1]
    assert last["type"] == "error", streamed.messages
    reason: str = last["reason"]
    return reason


def test_a_dropped_connection_fails_the_session_cleanly(
    sessions: Sessions, auth: dict[str, str], live_frames: list[tuple[int, bytes]]
) -> None:
    created = sessions.create(auth, mode="silent")
    url = f"{SESSIONS}/{created.session_id}/stream"
    with sessions.client.websocket_connect(url) as ws:
        ws.send_text(json.dumps({"client_token": created.client_token}))
        assert ws.receive_json()["type"] == "ready"
        for stamp, jpeg in live_frames[:3]:
            ws.send_bytes(struct.pack(">I", stamp) + jpeg)
        ws.close(1001)  # the page went away, as a browser's close arrives
        deadline = time.monotonic() + 30  # the server notices the close on its own task
        while (view := sessions.view(auth, created.session_id)).status == "capturing":
            assert time.monotonic() < deadline, view
            time.sleep(0.05)
    assert view.status == "failed"
    assert view.reason == "the connection was lost during the capture"
    assert view.liveness_data_id is None
    # A session streams once: the page cannot pick up where it left off, it starts a new one.
    again = stream(sessions.client, created.session_id, created.client_token, live_frames[:3])
    assert "already used" in error_of(again)


def test_a_token_opens_one_stream_of_its_own_session_only(
    sessions: Sessions,
    auth: dict[str, str],
    passed: tuple[SessionCreated, Streamed],
    live_frames: list[tuple[int, bytes]],
) -> None:
    used, _ = passed
    frames = live_frames[:3]
    again = stream(sessions.client, used.session_id, used.client_token, frames)
    assert "already used" in error_of(again)
    fresh = sessions.create(auth)
    wrong = stream(sessions.client, fresh.session_id, used.client_token, frames)
    assert "not its token" in error_of(wrong)
    unknown = stream(sessions.client, "0" * 32, fresh.client_token, frames)
    assert "not its token" in error_of(unknown)
    garbage = stream(sessions.client, fresh.session_id, "", frames, first="hello")
    assert "client_token" in error_of(garbage)
    # None of that spent the fresh session's token.
    assert sessions.view(auth, fresh.session_id).status == "created"


def test_an_origin_the_session_does_not_allow_is_refused_before_the_token_is_spent(
    sessions: Sessions, auth: dict[str, str], live_frames: list[tuple[int, bytes]]
) -> None:
    created = sessions.create(auth, allowed_origins=["https://bank.example"])
    bad = stream(
        sessions.client,
        created.session_id,
        created.client_token,
        live_frames[:3],
        headers={"origin": "https://evil.example"},
    )
    assert "may not stream" in error_of(bad)
    assert sessions.view(auth, created.session_id).status == "created"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda f: [(t, b"\x89PNG" + j[4:]) for t, j in f], "JPEG"),
        (lambda f: [(t, j + bytes(300 * 1024)) for t, j in f], "bytes; at most"),
        (lambda f: [(t // 20, j) for t, j in f], "faster than"),
        (lambda f: list(reversed(f)), "increase"),
    ],
    ids=["not-jpeg", "oversized", "too-fast", "out-of-order"],
)
def test_bad_frames_fail_the_session(
    sessions: Sessions,
    auth: dict[str, str],
    live_frames: list[tuple[int, bytes]],
    damage: Any,
    reason: str,
) -> None:
    created = sessions.create(auth)
    streamed = stream(
        sessions.client, created.session_id, created.client_token, damage(live_frames[:40])
    )
    assert reason in error_of(streamed)
    view = sessions.view(auth, created.session_id)
    assert view.status == "failed"
    assert reason in (view.reason or "")


def test_frames_sent_faster_than_they_were_captured_are_refused(
    sessions: Sessions, auth: dict[str, str], live_frames: list[tuple[int, bytes]]
) -> None:
    # A recording pushed as fast as the socket takes it: 3 s of capture times in a moment.
    created = sessions.create(auth)
    streamed = stream(
        sessions.client, created.session_id, created.client_token, live_frames, paced=False
    )
    assert "as they are captured" in error_of(streamed)


def test_keys_see_their_own_sessions_only(sessions: Sessions, auth: dict[str, str]) -> None:
    created = sessions.create(auth)
    other = sessions.key()
    r = sessions.client.get(f"{SESSIONS}/{created.session_id}", headers=other)
    unknown = sessions.client.get(f"{SESSIONS}/{'f' * 32}", headers=auth)
    assert failed(r, "NOT_FOUND", 404) | {"request_id": ""} == failed(unknown, "NOT_FOUND", 404) | {
        "request_id": ""
    }
    r = sessions.client.get(f"{SESSIONS}/{created.session_id}")
    failed(r, "UNAUTHORIZED", 401, reason="Basic")
    wrong = {"authorization": "Basic " + base64.b64encode(b"nobody:secret").decode()}
    failed(sessions.client.post(SESSIONS, json={}, headers=wrong), "UNAUTHORIZED", 401)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"mode": "silent", "actions": 2}, "interactive sessions"),
        ({"mode": "interactive"}, "2 to 4 actions"),
        ({"mode": "interactive", "actions": 1}, "too often by chance"),
        ({"mode": "interactive", "actions": 5}, "actions"),
        ({"ttl_seconds": 601}, "ttl_seconds"),
        ({"allowed_origins": ["https://bank.example/path"]}, "not an origin"),
        ({"mode": "video"}, "mode"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_session_requests_are_refused(
    sessions: Sessions, auth: dict[str, str], body: dict[str, Any], reason: str
) -> None:
    failed(sessions.client.post(SESSIONS, json=body, headers=auth), "INVALID_ARGUMENT", 400,
           reason=reason)  # fmt: skip


def test_creating_a_session_takes_quota_and_needs_permission(sessions: Sessions) -> None:
    one = sessions.key(quota_total=1)
    sessions.create(one)
    failed(sessions.client.post(SESSIONS, json={}, headers=one), "OUT_OF_QUOTA", 403)
    cloud_only = sessions.key(endpoints=(URL,))
    failed(sessions.client.post(SESSIONS, json={}, headers=cloud_only), "NO_PERMISSION", 403)
