"""Browser capture sessions: liveness driven by the server, for pages that must not hold a key.

The relying party's backend creates a session with its cloud API key (HTTP Basic
``api_id:api_secret``; the key's permissions, rate and quota as on the cloud endpoint) and hands
the page a single-use client token. The page streams camera frames over a WebSocket; the server
chooses the prompts while the frames arrive (interactive mode), so a recording cannot answer
prompts it could not foresee, then decides with the same package check as 1.3, in-process or
on a worker. The backend reads the outcome with its key; a passed session's package is sealed
and stored, for 1.3 and for the cloud endpoint's ``liveness_data_id``.

The stream (``…/sessions/{id}/stream``):

1. the client sends ``{"client_token": "…"}`` as its first (text) message; the token is spent
   there, so a second stream, another session's token or a reused one is refused
   (``{"type": "error", "reason"}``, then close code 4403; 4408 when nothing came in time);
2. the server answers ``{"type": "ready", …}`` with the limits below;
3. the client sends frames as binary messages: a 4-byte big-endian capture time in ms (any
   origin, increasing), then one JPEG; the server answers ``guidance`` when the light is too
   poor, and, in interactive mode, ``{"type": "prompt", "action", "index", "deadline_ms"}``;
4. once it has what it needs the server sends ``{"type": "processing"}``, decides, sends
   ``{"type": "result", "status": "passed"|"failed", "reason"}`` and closes (1000).

Refused frames (too large, not JPEG, out of order, faster than the frame-rate cap, clocks that
disagree with arrival times) fail the session with the reason. A dropped connection fails it
too: a session streams once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import math
import random
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.requests import Request
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from facegate import __version__
from facegate.cloud.errors import CloudError, Status
from facegate.cloud.service import CloudService, Stores
from facegate.core.errors import Code, FacegateError, UnavailableError
from facegate.core.package import (
    ActionKind,
    ChallengeAction,
    FrameRole,
    LivenessPackage,
    Mode,
    PackageFrame,
)
from facegate.core.results import (
    FaceQuality,
    PackageLivenessResult,
    SessionAction,
    SessionCreated,
    SessionView,
)
from facegate.proto.codec import seal
from facegate.settings import Settings
from facegate.store.keys import KeyInfo
from facegate.store.sessions import SessionRecord, SessionRefusedError
from facegate.worker.interface import InferenceEngine, Photo

log = logging.getLogger("facegate.sessions")

SESSIONS_PATH = "/facegate/v1/liveness/sessions"
CAPTURE_PAGE = "/facegate/v1/capture/"
LEAD_IN_MS = 1000  # frames before the first prompt: a still face to compare the actions with
PROMPT_GAP_MS = 500  # between one action's deadline and the next prompt
HELLO_SECONDS = 10.0  # for the first message, the token
# A frame may claim at most this much more capture time than has passed since the stream was
# ready (a camera started just before): more is a recording pushed faster than it was filmed.
# Server load only makes the time passed longer, so it never trips this.
MAX_AHEAD_MS = 1500
AUDIT_IMAGES = 4
# Interactive sessions ask for at least two actions, drawn from these: a recording passes one
# prompt by chance far more often than two (benchmarks/sessions.py: 9.6 % against 1.2 % of
# 1900 sessions, in-sample), and people blink unasked every few seconds, so a blink prompt
# proves nothing.
MIN_ACTIONS = 2
PROMPTED_KINDS = tuple(k for k in ActionKind if k is not ActionKind.BLINK)
TOO_DARK = 40.0  # mean grey level of a frame below which the client is told so
# Guidance looks at every fifth frame (twice a second at 10 frames/s) with the engine's face
# quality call. The honest selfies of video/ and wild/ have faces of 7.6 % to 60 % of the frame
# and move their face's centre by at most 0.64 face widths (99 % under 0.32) in half a second.
GUIDE_EVERY = 5
MOVE_CLOSER = 0.05  # face region / frame area below which "move_closer"
HOLD_STILL = 0.5  # face-centre movement since the last look, in face widths: "hold_still"
# Close codes (4000-4999 are the application's): refused, timed out, failed stream.
CLOSE_REFUSED, CLOSE_TIMEOUT, CLOSE_FAILED = 4403, 4408, 4400


class SessionRequest(BaseModel):
    """The body of ``POST /facegate/v1/liveness/sessions``."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["silent", "interactive"] = "silent"
    actions: int = Field(
        0, ge=0, le=4, description=f"prompts, interactive sessions only ({MIN_ACTIONS} to 4)"
    )
    ttl_seconds: int = Field(180, ge=30, le=600)
    allowed_origins: list[str] | None = Field(
        None, max_length=20, description="origins whose pages may stream, e.g. https://bank.example"
    )

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str] | None) -> list[str] | None:
        for origin in value or []:
            scheme, _, rest = origin.partition("://")
            if scheme not in ("http", "https") or not rest or "/" in rest or len(origin) > 200:
                raise ValueError(f"not an origin (scheme://host[:port]): {origin!r}")
        return value

    def check(self) -> None:
        if self.mode == "silent" and self.actions:
            raise CloudError(Status.INVALID_ARGUMENT, "actions are for interactive sessions")
        if self.mode == "interactive" and self.actions < MIN_ACTIONS:
            raise CloudError(
                Status.INVALID_ARGUMENT,
                f"an interactive session needs {MIN_ACTIONS} to 4 actions: a recording passes a "
                "single prompt too often by chance",
            )


def _basic(request: Request | WebSocket) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        raise CloudError(
            Status.UNAUTHORIZED, "HTTP Basic authentication with api_id:api_secret is required"
        )
    try:
        api_id, sep, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise CloudError(Status.UNAUTHORIZED, "the Authorization header is not Basic") from None
    if not sep:
        raise CloudError(Status.UNAUTHORIZED, "HTTP Basic credentials are api_id:api_secret")
    return api_id, secret


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class _Capture:
    """The frames of one stream and the prompts sent, on the client's capture clock."""

    record: SessionRecord
    settings: Settings
    started: float = field(default_factory=time.monotonic)
    frames: list[tuple[int, bytes]] = field(default_factory=list)  # (capture ms, JPEG)
    first_arrival: float = 0.0
    prompts: list[tuple[str, int]] = field(default_factory=list)  # (action, prompted at ms)
    guidance: str = "ok"  # the last guidance sent
    last_face: tuple[float, float, float] | None = None  # centre x, y and width at the last look

    @property
    def span_ms(self) -> int:
        return self.frames[-1][0] - self.frames[0][0] if self.frames else 0

    @property
    def duration_ms(self) -> int:
        s = self.settings
        if self.record.mode == "silent":
            return round(s.session_capture_seconds * 1000)
        per_action = round(s.session_prompt_seconds * 1000) + PROMPT_GAP_MS
        return LEAD_IN_MS + per_action * len(self.record.actions)

    @property
    def max_frames(self) -> int:
        return math.ceil(self.settings.session_max_fps * (self.duration_ms / 1000 + 1)) + 1

    def add(self, message: bytes) -> None:
        """Check one frame message and keep it; ``FrameError`` says what was wrong."""
        s = self.settings
        if len(message) < 5:
            raise FrameError("a frame is a 4-byte capture time then a JPEG")
        if len(message) - 4 > s.session_max_frame_bytes:
            raise FrameError(
                f"a frame of {len(message) - 4} bytes; at most {s.session_max_frame_bytes}"
            )
        (stamp,) = struct.unpack(">I", message[:4])
        jpeg = message[4:]
        if jpeg[:3] != b"\xff\xd8\xff":
            raise FrameError("frames must be JPEG")
        if len(self.frames) >= self.max_frames:
            raise FrameError(f"more than {self.max_frames} frames")
        now = time.monotonic()
        if self.frames:
            previous = self.frames[-1][0]
            if stamp <= previous:
                raise FrameError("capture times must increase")
            if stamp - previous < 1000 / (2 * s.session_max_fps):
                raise FrameError(f"frames faster than {s.session_max_fps:g} per second")
            claimed = stamp - self.frames[0][0]
            ahead = claimed - (now - self.started) * 1000
            if ahead > MAX_AHEAD_MS:
                raise FrameError(
                    f"a frame claims {claimed / 1000:.1f} s of capture {ahead / 1000:.1f} s "
                    "before that time had passed: frames must be sent as they are captured"
                )
            behind = (now - self.first_arrival) * 1000 - claimed
            if behind > s.session_idle_seconds * 1000:
                raise FrameError(
                    f"frames arrive {behind / 1000:.0f} s after their capture: the connection "
                    "is too slow"
                )
        else:
            self.first_arrival = now
        self.frames.append((stamp, jpeg))

    def at(self) -> int:
        """Capture time from the first frame, of the last frame received."""
        return self.span_ms

    def next_prompt(self) -> tuple[int, str] | None:
        """The prompt due now (its index and action), if any."""
        k = len(self.prompts)
        if self.record.mode != "interactive" or k >= len(self.record.actions):
            return None
        if self.at() >= prompt_due(k, self.settings.session_prompt_seconds):
            return k, self.record.actions[k]
        return None

    @property
    def complete(self) -> bool:
        return bool(self.frames) and self.span_ms >= self.duration_ms

    @property
    def guidance_due(self) -> bool:
        return len(self.frames) % GUIDE_EVERY == 1

    def too_dark(self) -> bool:
        """Whether the latest frame is too dark."""
        data = np.frombuffer(self.frames[-1][1], np.uint8)
        grey = cv2.imdecode(data, cv2.IMREAD_REDUCED_GRAYSCALE_8)
        if grey is None:
            raise FrameError(f"frame {len(self.frames) - 1} is not a JPEG that decodes")
        return float(grey.mean()) < TOO_DARK

    @property
    def prompting(self) -> bool:
        """Whether an action is being asked for now (the face is meant to move)."""
        if not self.prompts:
            return False
        return self.at() <= self.prompts[-1][1] + round(self.settings.session_prompt_seconds * 1000)

    def guide(self, faces: Sequence[FaceQuality]) -> str:
        """The guidance for the latest frame, given the faces the engine found in it."""
        if not faces:
            self.last_face = None
            return "no_face"
        if len(faces) > 1:
            return "several_faces"
        (face,) = faces
        r = face.rect
        width = max(r.right - r.left, 1)
        centre = ((r.left + r.right) / 2, (r.top + r.bottom) / 2, width)
        last, self.last_face = self.last_face, centre
        if face.size < MOVE_CLOSER:
            return "move_closer"
        if last is not None and not self.prompting:
            moved = math.hypot(centre[0] - last[0], centre[1] - last[1]) / last[2]
            if moved > HOLD_STILL:
                return "hold_still"
        return "ok"

    def package(self, opened_at: datetime, device: str) -> LivenessPackage:
        t0 = self.frames[0][0]
        stamps = [t - t0 for t, _ in self.frames]
        challenge = challenge_windows(stamps, self.prompts, self.settings.session_prompt_seconds)
        roles = [{FrameRole.SEQUENCE} for _ in stamps]
        for action in challenge:
            for i in range(action.first_frame, action.last_frame + 1):
                roles[i].add(FrameRole.ACTION)
        return LivenessPackage(
            sdk_name="facegate-web",
            sdk_version=__version__,
            device=device[:200],
            captured_at=opened_at,
            mode=Mode(self.record.mode),
            frames=tuple(
                PackageFrame(jpeg, t, frozenset(r))
                for (_, jpeg), t, r in zip(self.frames, stamps, roles, strict=True)
            ),
            challenge=challenge,
        )


class FrameError(ValueError):
    pass


def prompt_due(index: int, prompt_seconds: float) -> int:
    """Capture time (ms from the first frame) from which prompt ``index`` is sent."""
    return LEAD_IN_MS + index * (round(prompt_seconds * 1000) + PROMPT_GAP_MS)


def challenge_windows(
    stamps: list[int], prompts: list[tuple[str, int]], prompt_seconds: float
) -> tuple[ChallengeAction, ...]:
    """Each prompted action over the frames captured after its prompt went out, until its
    deadline (``stamps``: capture times from the first frame)."""
    prompt_ms = round(prompt_seconds * 1000)
    out = []
    for kind, at in prompts:
        window = [i for i, t in enumerate(stamps) if at < t <= at + prompt_ms]
        if not window:
            raise FrameError(f"no frame arrived while {kind} was asked for")
        out.append(ChallengeAction(ActionKind(kind), window[0], window[-1], prompted_ms=at))
    return tuple(out)


def draw_actions(rng: random.Random, n: int) -> tuple[str, ...]:
    """``n`` prompts at random from ``PROMPTED_KINDS``, never the same twice in a row (each
    prompt is a fresh movement from rest)."""
    out: list[str] = []
    while len(out) < n:
        kind = rng.choice(PROMPTED_KINDS).value
        if not out or out[-1] != kind:
            out.append(kind)
    return tuple(out)


class SessionService:
    def __init__(
        self,
        settings: Settings,
        cloud: CloudService,
        engine: InferenceEngine,
        package_key: bytes,
    ) -> None:
        self._settings = settings
        self._cloud = cloud
        self._engine = engine
        self._package_key = package_key
        self._random = random.SystemRandom()

    async def _key(self, request: Request, path: str) -> tuple[Stores, KeyInfo]:
        stores = await self._cloud.stores()
        api_id, secret = _basic(request)
        address = request.client.host if request.client else "unknown"
        return stores, await self._cloud.authenticate(stores, api_id, secret, address, path)

    def _actions(self, n: int) -> tuple[str, ...]:
        fixed = self._settings.session_fixed_actions
        if fixed:
            return tuple(fixed[i % len(fixed)].value for i in range(n))
        return draw_actions(self._random, n)

    async def create(self, request: Request) -> SessionCreated:
        stores, key = await self._key(request, SESSIONS_PATH)
        try:
            body = SessionRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise CloudError(Status.INVALID_ARGUMENT, f"{where}: {first['msg']}") from None
        body.check()
        await self._cloud.take_quota(stores, key)
        origins = tuple(body.allowed_origins) if body.allowed_origins is not None else None
        record, token = await asyncio.to_thread(
            stores.sessions.create,
            key.id,
            body.mode,
            self._actions(body.actions),
            timedelta(seconds=body.ttl_seconds),
            origins,
        )
        log.info("session created", extra={"session": record.id, "mode": record.mode})
        return SessionCreated(
            session_id=record.id,
            client_token=token,
            expires_at=_iso(record.expires_at),
            capture_url=f"{CAPTURE_PAGE}#session_id={record.id}&client_token={token}",
        )

    async def _own(self, request: Request, session_id: str) -> tuple[Stores, SessionRecord]:
        stores, key = await self._key(request, SESSIONS_PATH)
        record = await asyncio.to_thread(stores.sessions.get, key.id, session_id)
        if record is None:
            raise CloudError(Status.NOT_FOUND, "no such session")
        return stores, record

    async def read(self, request: Request, session_id: str) -> SessionView:
        stores, record = await self._own(request, session_id)
        result = record.result or {}

        def image(blob_id: str) -> bytes:
            return stores.blobs.get(record.key_id, "frame", blob_id)

        reference = result.get("reference_image")
        return SessionView(
            session_id=record.id,
            status=record.status(),
            mode=record.mode,
            liveness_score=result.get("liveness_score"),
            reason=result.get("reason"),
            actions=tuple(SessionAction(**a) for a in result.get("actions", [])),
            reference_image=await asyncio.to_thread(image, reference) if reference else None,
            audit_images=tuple(
                [await asyncio.to_thread(image, b) for b in result.get("audit_images", [])]
            ),
            liveness_data_id=record.liveness_data_id,
        )

    async def package(self, request: Request, session_id: str) -> bytes:
        stores, record = await self._own(request, session_id)
        if record.status() != "passed" or record.liveness_data_id is None:
            raise CloudError(
                Status.NOT_FOUND, f"the session has no package: it is {record.status()}"
            )
        return await asyncio.to_thread(
            stores.blobs.get, record.key_id, "liveness", record.liveness_data_id
        )

    # --- the stream ---------------------------------------------------------------------------
    async def stream(self, ws: WebSocket, session_id: str) -> None:
        await ws.accept()
        try:
            hello = await asyncio.wait_for(ws.receive(), HELLO_SECONDS)
        except TimeoutError:
            await _close(ws, CLOSE_TIMEOUT, "send the client token first")
            return
        if hello["type"] == "websocket.disconnect":
            return
        try:
            token = json.loads(hello.get("text") or "")["client_token"]
            if not isinstance(token, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            await _close(ws, CLOSE_REFUSED, 'the first message is {"client_token": "…"}')
            return
        stores = await self._cloud.stores()
        origin = ws.headers.get("origin")
        try:
            record = await asyncio.to_thread(stores.sessions.open_stream, session_id, token, origin)
        except SessionRefusedError as exc:
            await _close(ws, CLOSE_REFUSED, exc.reason)
            return
        capture = _Capture(record, self._settings)
        opened_at = record.stream_opened_at or datetime.now(UTC)
        try:
            await self._capture(ws, capture)
        except FrameError as exc:
            await self._fail(stores, record, str(exc), ws)
            return
        except WebSocketDisconnect:
            await self._fail(stores, record, "the connection was lost during the capture", None)
            return
        except TimeoutError:
            await self._fail(stores, record, "no frame arrived in time", ws)
            return
        await ws.send_json({"type": "processing"})
        status, reason = await self._decide(stores, record, capture, opened_at, ws)
        # The outcome is recorded; a page that left meanwhile reads it through its backend.
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await ws.send_json({"type": "result", "status": status, "reason": reason})
            await ws.close(1000)

    async def _capture(self, ws: WebSocket, capture: _Capture) -> None:
        s = self._settings
        capture.started = time.monotonic()
        await ws.send_json(
            {
                "type": "ready",
                "mode": capture.record.mode,
                "duration_ms": capture.duration_ms,
                "max_fps": s.session_max_fps,
                "max_frames": capture.max_frames,
                "max_frame_bytes": s.session_max_frame_bytes,
                "prompts": len(capture.record.actions),
            }
        )
        while not capture.complete:
            left = (capture.record.expires_at - datetime.now(UTC)).total_seconds()
            if left <= 0:
                raise FrameError("the session expired during the capture")
            message = await asyncio.wait_for(ws.receive(), min(left, s.session_idle_seconds))
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            data = message.get("bytes")
            if data is None:
                raise FrameError("frames are binary messages")
            capture.add(data)
            if capture.guidance_due:
                code = await self._guidance(capture)
                if code is not None and code != capture.guidance:
                    capture.guidance = code
                    await ws.send_json({"type": "guidance", "code": code})
            due = capture.next_prompt()
            if due is not None:
                index, action = due
                capture.prompts.append((action, capture.at()))
                deadline = round(s.session_prompt_seconds * 1000)
                await ws.send_json(
                    {"type": "prompt", "action": action, "index": index, "deadline_ms": deadline}
                )

    async def _guidance(self, capture: _Capture) -> str | None:
        """What the person should change, from the latest frame; None when the engine is too
        busy to look (guidance is advice: the decision at the end does not depend on it)."""
        if capture.too_dark():
            return "too_dark"
        try:
            quality = await self._engine.quality(Photo("frame", capture.frames[-1][1]))
        except FacegateError as exc:
            if exc.code is Code.DETECTION_FAILED:
                return capture.guide(())
            if isinstance(exc, UnavailableError):
                return None
            raise FrameError(f"frame {len(capture.frames) - 1}: {exc.detail}") from None
        return capture.guide(quality.faces)

    async def _decide(
        self,
        stores: Stores,
        record: SessionRecord,
        capture: _Capture,
        opened_at: datetime,
        ws: WebSocket,
    ) -> tuple[str, str]:
        device = ws.headers.get("user-agent", "browser")
        try:
            package = capture.package(opened_at, device)
            result = await self._engine.package_liveness(package)
        except UnavailableError as exc:
            reason = f"the service was busy ({exc.detail}); start a new session"
            await self._fail(stores, record, reason, None)
            return "failed", reason
        except (FrameError, FacegateError) as exc:
            reason = exc.detail if isinstance(exc, FacegateError) else str(exc)
            await self._fail(stores, record, reason, None)
            return "failed", reason
        return await asyncio.to_thread(
            self._record, stores, record, package, result, capture.prompts
        )

    def _record(
        self,
        stores: Stores,
        record: SessionRecord,
        package: LivenessPackage,
        result: PackageLivenessResult,
        prompts: list[tuple[str, int]],
    ) -> tuple[str, str]:
        frames = package.frames
        audit = sorted({round(i * (len(frames) - 1) / (AUDIT_IMAGES - 1)) for i in range(4)})
        put = stores.blobs.put
        seen = self._seen(package, result, len(prompts))
        outcome: dict[str, Any] = {
            "liveness_score": round(result.liveness_score, 6),
            "reason": result.attack or None,
            "actions": [
                SessionAction(kind=kind, prompted_at_ms=at, seen_at_ms=ms).model_dump()
                for (kind, at), ms in zip(prompts, seen, strict=True)
            ],
            "reference_image": put(record.key_id, "frame", frames[result.selected].jpeg),
            "audit_images": [put(record.key_id, "frame", frames[i].jpeg) for i in audit],
        }
        data_id = None
        if result.passed:
            data_id = put(record.key_id, "liveness", seal(package, self._package_key))
        status: Literal["passed", "failed"] = "passed" if result.passed else "failed"
        stores.sessions.finish(record.id, status, outcome, data_id)
        log.info(
            "session decided",
            extra={
                "session": record.id,
                "status": status,
                "score": outcome["liveness_score"],
                "refused_by": result.refused_by,
            },
        )
        return status, result.attack

    @staticmethod
    def _seen(package: LivenessPackage, result: PackageLivenessResult, n: int) -> list[int | None]:
        """Each prompted action's capture time where it was seen (None where it was not)."""
        if len(result.actions) != n:  # failed before every action was judged
            return [None] * n
        return [
            None if a.frame is None else package.frames[a.frame].timestamp_ms
            for a in result.actions
        ]

    async def _fail(
        self, stores: Stores, record: SessionRecord, reason: str, ws: WebSocket | None
    ) -> None:
        await asyncio.to_thread(stores.sessions.finish, record.id, "failed", {"reason": reason})
        log.info("session failed", extra={"session": record.id, "detail": reason})
        if ws is not None:
            await _close(ws, CLOSE_FAILED, reason)


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    if ws.client_state is not WebSocketState.CONNECTED:
        return
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        await ws.send_json({"type": "error", "reason": reason})
        # A close frame's reason is at most 123 bytes.
        await ws.close(code, reason.encode()[:120].decode("utf-8", "ignore"))
