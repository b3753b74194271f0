"""Capture a liveness session on the device and write it as an encrypted package.

Frames come from a video file or a camera (OpenCV) and are sampled at a fixed rate. Each sampled
frame is searched for the face (the same detector, tracker and 68-point landmarks the server
uses), and in interactive mode the challenge's actions are awaited one after the other. The
package holds every sampled frame from the first one with a face, the frames where each action
was seen, the frame chosen for comparison, and the device's own liveness score.

The server re-checks all of it, so the rules here are the server's rules with a margin: an
action counts on the device only when it passes the server's level by ``ACTION_MARGIN``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

import facegate
from facegate.core.media import decode_image
from facegate.core.package import (
    ActionKind,
    ChallengeAction,
    FrameRole,
    LivenessPackage,
    Mode,
    PackageFrame,
)
from facegate.core.types import Face, FloatArray, ImageArray
from facegate.core.video import VideoFrame
from facegate.vision.liveness import actions
from facegate.vision.liveness.analyzer import LivenessAnalyzer, Observed
from facegate.vision.liveness.cues import Observation
from facegate.vision.liveness.package_check import FRAME_LIMITS
from facegate.vision.liveness.track import follow, visible_seconds

SDK_NAME = "facegate-sdk-python"
# The device counts an action only above the server's level by this factor, so that the
# server, which measures the resting level on the whole package, still sees it.
ACTION_MARGIN = 1.15

Prompt = Callable[[str], None]


class CaptureError(Exception):
    """The capture could not produce a package (no face, an action not performed, …)."""


@dataclass(frozen=True, slots=True)
class CaptureOptions:
    mode: Mode = Mode.SILENT
    actions: tuple[ActionKind, ...] | None = None  # None: a random challenge
    challenge_length: int = 2
    fps: float = 10.0  # the rate the server's liveness cues were fitted at
    # The capture lasts at least ``seconds`` (the server's cues were fitted on 3.5 s windows);
    # a source that ends sooner is accepted when it gave ``min_seconds`` with the face.
    seconds: float = 3.5
    min_seconds: float = 2.5
    warmup_seconds: float = 1.0  # resting frames before the first action
    action_timeout_s: float = 8.0
    tail_seconds: float = 0.5
    max_seconds: float = 28.0  # stays under the server's frame limit at ``fps``
    max_side: int = 640
    jpeg_quality: int = 90
    device: str = "unknown"
    seed: int | None = None


@dataclass(slots=True)
class _Session:
    frames: list[VideoFrame] = field(default_factory=list)
    points: list[FloatArray | None] = field(default_factory=list)
    # Each frame's action signals, computed once when it is sampled (the challenge is
    # re-evaluated on every new frame).
    rows: list[actions.Row] = field(default_factory=list)
    faces: list[Face | None] = field(default_factory=list)
    grays: list[ImageArray] = field(default_factory=list)
    jpegs: list[bytes] = field(default_factory=list)
    last: Face | None = None

    @property
    def span(self) -> float:
        return self.frames[-1].timestamp - self.frames[0].timestamp if self.frames else 0.0


def challenge_for(options: CaptureOptions) -> tuple[ActionKind, ...]:
    if options.mode is Mode.SILENT:
        return ()
    if options.actions:
        return options.actions
    # A seed is for reproducible tests; a real challenge must be unpredictable.
    rng = random.Random(options.seed) if options.seed is not None else random.SystemRandom()  # noqa: S311
    return tuple(rng.sample(list(ActionKind), options.challenge_length))


def video_frames(path: str | Path) -> Iterator[tuple[float, ImageArray]]:
    """(seconds, BGR frame) from a video file, rotation metadata applied by OpenCV."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise CaptureError(f"cannot open the video {path}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    try:
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            ms = cap.get(cv2.CAP_PROP_POS_MSEC)
            yield (
                (ms / 1000.0 if ms > 0 or index == 0 else index / fps),
                np.asarray(frame, np.uint8),
            )
            index += 1
    finally:
        cap.release()


def still_from_video(path: str | Path, seconds: float, quality: int = 92) -> bytes:
    """A JPEG of the frame at ``seconds`` (or the last one, for a shorter video)."""
    frame: ImageArray | None = None
    for t, pixels in video_frames(path):
        frame = pixels
        if t >= seconds:
            break
    if frame is None:
        raise CaptureError(f"the video {path} has no frames")
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise CaptureError("the frame could not be encoded")
    return bytes(np.asarray(buf).tobytes())


def camera_frames(index: int = 0) -> Iterator[tuple[float, ImageArray]]:
    cap = cv2.VideoCapture(index)
    if not cap.isOpened():
        raise CaptureError(f"cannot open camera {index}")
    start = cv2.getTickCount()
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                raise CaptureError(f"camera {index} stopped delivering frames")
            yield (cv2.getTickCount() - start) / cv2.getTickFrequency(), np.asarray(frame, np.uint8)
    finally:
        cap.release()


def _shrink(pixels: ImageArray, max_side: int) -> ImageArray:
    h, w = pixels.shape[:2]
    s = max_side / max(h, w)
    if s >= 1.0:
        return pixels
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return np.asarray(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


class Capturer:
    def __init__(self, analyzer: LivenessAnalyzer) -> None:
        self._analyzer = analyzer

    def _add(self, s: _Session, t: float, raw: ImageArray, quality: int) -> bool:
        """Sample one frame; False when no face has been seen yet (the frame is dropped).

        The frame is measured as the server will see it: JPEG-encoded and decoded again. EAR
        and pose on a small face move by several per cent through JPEG alone, enough to turn a
        blink seen on the raw frame into one the server cannot confirm."""
        ok, buf = cv2.imencode(".jpg", raw, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise CaptureError(f"frame at {t:.2f} s could not be encoded")
        jpeg = bytes(np.asarray(buf).tobytes())
        pixels = decode_image(jpeg, FRAME_LIMITS).pixels
        frame = VideoFrame(len(s.frames), t, pixels)
        faces, gray = self._analyzer.detect_frame(frame)
        h, w = pixels.shape[:2]
        face = follow(faces, s.last, w, h)
        if face is None and not s.frames:
            return False
        points = None
        if face is not None:
            points = self._analyzer.observe_face((frame.index, t, face, gray)).points
            s.last = face
        s.frames.append(frame)
        s.points.append(points)
        s.rows.append(actions.frame_signals(points, w, h))
        s.faces.append(face)
        s.grays.append(gray)
        s.jpegs.append(jpeg)
        return True

    def capture(
        self,
        source: Iterable[tuple[float, ImageArray]],
        options: CaptureOptions | None = None,
        prompt: Prompt | None = None,
    ) -> LivenessPackage:
        options = options or CaptureOptions()
        say = prompt or (lambda _msg: None)
        challenge = challenge_for(options)
        s = _Session()
        found: list[tuple[ActionKind, int, int]] = []
        step = 1.0 / options.fps
        next_t: float | None = None
        t_origin = 0.0
        waiting_since: float | None = None
        done_at: float | None = None
        say("look at the camera")
        for t, raw in source:
            if next_t is not None and t < next_t - 1e-3:
                continue
            if not self._add(s, t, _shrink(raw, options.max_side), options.jpeg_quality):
                continue
            if next_t is None:
                t_origin = t
                next_t = t
            next_t += step
            now = t - t_origin
            if now > options.max_seconds:
                break
            if done_at is not None:
                if now >= done_at:
                    break
                continue
            if options.mode is Mode.SILENT:
                if now >= options.seconds:
                    break
                continue
            if now < options.warmup_seconds:
                continue
            k = len(found)
            if waiting_since is None:
                waiting_since = now
                say(f"please {challenge[k].value.replace('_', ' ')}")
            hit = self._look_for(s, challenge[k], found)
            if hit is not None:
                found.append((challenge[k], *hit))
                waiting_since = None
                if len(found) == len(challenge):
                    done_at = max(now + options.tail_seconds, options.seconds)
            elif now - waiting_since > options.action_timeout_s:
                raise CaptureError(
                    f"the {challenge[k].value} action was not seen within "
                    f"{options.action_timeout_s:.0f} s"
                )
        if not s.frames:
            raise CaptureError("no face was found")
        if s.span < options.min_seconds:
            raise CaptureError(f"the face was followed for {s.span:.1f} s only")
        if len(found) < len(challenge):
            missing = challenge[len(found)].value
            raise CaptureError(f"the source ended before the {missing} action was seen")
        return self._package(s, found, options)

    def _look_for(
        self, s: _Session, kind: ActionKind, found: list[tuple[ActionKind, int, int]]
    ) -> tuple[int, int] | None:
        signals = actions.signals_from(s.rows)
        done = [i for _, a, b in found for i in range(a, b + 1)]
        rest = actions.Resting.of(signals, exclude=done)
        if rest is None:
            return None
        start = found[-1][2] + 1 if found else 0
        return actions.find_action(kind, signals, start, rest, level=ACTION_MARGIN)

    def _self_check(
        self, s: _Session, found: list[tuple[ActionKind, int, int]], in_action: set[int]
    ) -> None:
        """The server's action rule on the whole capture: its resting pose can move after an
        action was seen (a head that stays turned), so an action clear at the time may not be
        clear in the end. Better to say so here than to send a package the server refuses."""
        if not found:
            return
        signals = actions.signals_from(s.rows)
        rest = actions.Resting.of(signals, exclude=in_action)
        for kind, a, b in found:
            peak = 0.0 if rest is None else actions.action_seen(kind, signals, a, b, rest).level
            if peak < 1.0:
                raise CaptureError(
                    f"the {kind.value} was not clear over the whole capture ({peak:.2f} of 1.00): "
                    "return to a neutral pose after each action and try again"
                )

    def _package(
        self, s: _Session, found: list[tuple[ActionKind, int, int]], options: CaptureOptions
    ) -> LivenessPackage:
        in_action = {i for _, a, b in found for i in range(a, b + 1)}
        self._self_check(s, found, in_action)
        observations = [
            Observation(f.index, f.timestamp, face, p)
            for f, face, p in zip(s.frames, s.faces, s.points, strict=True)
            if face is not None and p is not None and f.index not in in_action
        ]
        if not observations:
            raise CaptureError("no frame outside the actions shows the face")
        visible = visible_seconds(s.faces, [f.timestamp for f in s.frames])
        tracked = [
            Observation(f.index, f.timestamp, face, p)
            for f, face, p in zip(s.frames, s.faces, s.points, strict=True)
            if face is not None and p is not None
        ]
        result = self._analyzer.analyze_frames(
            s.frames, Observed(tracked, visible, s.grays), select=False
        )
        selected = self._analyzer.select(s.frames, observations)
        selected_index = next(f.index for f in s.frames if f.timestamp == selected.timestamp)
        t0 = s.frames[0].timestamp
        frames = []
        for f in s.frames:
            roles = {FrameRole.SEQUENCE}
            if f.index in in_action:
                roles.add(FrameRole.ACTION)
            if f.index == selected_index:
                roles.add(FrameRole.SELECTED)
            frames.append(
                PackageFrame(
                    jpeg=s.jpegs[f.index],
                    timestamp_ms=round((f.timestamp - t0) * 1000),
                    roles=frozenset(roles),
                )
            )
        return LivenessPackage(
            sdk_name=SDK_NAME,
            sdk_version=facegate.__version__,
            device=options.device,
            captured_at=datetime.now(UTC),
            mode=options.mode,
            frames=tuple(frames),
            challenge=tuple(ChallengeAction(kind, a, b) for kind, a, b in found),
            device_score=float(result.score),
        )
