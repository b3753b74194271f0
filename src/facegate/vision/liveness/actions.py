"""Challenge actions (blink, open mouth, turn left/right, nod) measured from face landmarks.

The capture SDK uses ``find_action`` to wait for each action of its challenge; the server uses
``action_seen`` to check that an action a package claims is visible in the frames it names. Both
read the same per-frame signals with the same rules, so a package the SDK writes from a real
action passes the server, and a claim the frames do not support does not.

Turns and nods are measured from the capture's resting pose (the median of the frames outside
the actions), and a blink against the eye opening of the frames around it, because landmark
geometry differs between faces and cameras and drifts with pose over a capture; the mouth
opening is a ratio of the mouth's own width.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from facegate.core.package import ActionKind
from facegate.core.types import FloatArray
from facegate.vision.liveness.cues import eye_aspect_ratio
from facegate.vision.quality.measures import head_pose, lip_gap

Series = npt.NDArray[np.float64]  # one value per frame

# A blink: the eye aspect ratio falls below this share of the open-eye level.
BLINK_RATIO = 0.72
# An open mouth: the inner-lip gap over the mouth width reaches this (a closed mouth is ~0;
# speech reaches 0.2–0.3 for a moment; a deliberately opened mouth passes 0.45).
MOUTH_OPEN = 0.45
# A turn: the yaw moves this many degrees from the resting yaw towards the asked side.
TURN_DEGREES = 18.0
# A nod: the pitch goes this many degrees below the resting pitch (head bowed) within the range.
NOD_DEGREES = 10.0


@dataclass(frozen=True, slots=True)
class Signals:
    """Per-frame landmark signals of one face (NaN where the face was not found)."""

    ear: Series  # eye aspect ratio
    mouth: Series  # inner-lip gap / mouth width
    yaw: Series  # degrees, > 0: the subject turns to their left
    pitch: Series  # degrees, > 0: the subject looks up

    @property
    def found(self) -> np.ndarray:
        return np.asarray(~np.isnan(self.ear))


Row = tuple[float, float, float, float]  # one frame's (ear, mouth, yaw, pitch)
MISSING: Row = (math.nan, math.nan, math.nan, math.nan)


def frame_signals(points: FloatArray | None, width: int, height: int) -> Row:
    """One frame's signals from its 68 landmarks (NaN when no face was found)."""
    if points is None:
        return MISSING
    pose = head_pose(points, width, height)
    return (eye_aspect_ratio(points), lip_gap(points), pose.yaw, pose.pitch)


def signals_from(rows: Sequence[Row]) -> Signals:
    table = np.array(rows, dtype=np.float64).reshape(-1, 4)
    ear, mouth, yaw, pitch = (np.ascontiguousarray(table[:, k]) for k in range(4))
    return Signals(ear, mouth, yaw, pitch)


def signals_of(points: Sequence[FloatArray | None], width: int, height: int) -> Signals:
    """Signals for a sequence of 68-point landmark sets (None: no face in that frame)."""
    return signals_from([frame_signals(p, width, height) for p in points])


# Eye opening is judged against the open level of the frames around (this many on each side,
# about a second at the SDK's rate): the ratio drifts with head pose and light over a capture,
# while a blink is a dip of a few frames below its neighbours.
BLINK_CONTEXT = 10


@dataclass(frozen=True, slots=True)
class Resting:
    """The capture's resting head pose: the median of the frames outside every action."""

    yaw: float
    pitch: float

    @classmethod
    def of(cls, signals: Signals, exclude: Iterable[int] = ()) -> Resting | None:
        ok = signals.found.copy()
        for i in exclude:
            if 0 <= i < len(ok):
                ok[i] = False
        if ok.sum() < 3:
            return None
        return cls(yaw=float(np.median(signals.yaw[ok])), pitch=float(np.median(signals.pitch[ok])))


def open_level(ear: Series) -> Series:
    """Per frame, the open-eye level around it (80th percentile of its neighbourhood)."""
    out = np.full(len(ear), np.nan)
    for i in range(len(ear)):
        near = ear[max(0, i - BLINK_CONTEXT) : i + BLINK_CONTEXT + 1]
        near = near[~np.isnan(near)]
        if len(near) >= 3:
            out[i] = float(np.percentile(near, 80))
    return out


def strengths(kind: ActionKind, signals: Signals, rest: Resting) -> Series:
    """Per frame, how far the face goes into ``kind``: ≥ 1 means the action is reached there."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind is ActionKind.BLINK:
            closed = 1.0 - signals.ear / np.maximum(open_level(signals.ear), 1e-6)
            st: Series = np.asarray(closed / (1.0 - BLINK_RATIO), dtype=np.float64)
        elif kind is ActionKind.OPEN_MOUTH:
            st = np.asarray(signals.mouth / MOUTH_OPEN, dtype=np.float64)
        elif kind is ActionKind.TURN_LEFT:
            st = np.asarray((signals.yaw - rest.yaw) / TURN_DEGREES, dtype=np.float64)
        elif kind is ActionKind.TURN_RIGHT:
            st = np.asarray((rest.yaw - signals.yaw) / TURN_DEGREES, dtype=np.float64)
        elif kind is ActionKind.NOD:
            st = np.asarray((rest.pitch - signals.pitch) / NOD_DEGREES, dtype=np.float64)
        else:
            raise ValueError(f"unknown action {kind!r}")
    return np.nan_to_num(np.asarray(st, dtype=np.float64), nan=0.0)


def find_action(
    kind: ActionKind, signals: Signals, start: int, rest: Resting, *, level: float = 1.0
) -> tuple[int, int] | None:
    """The first completed run of ``kind`` from frame ``start`` on: it begins where the
    strength reaches ``level`` and lasts while it stays ≥ 1. Returned widened by one frame on
    each side (inclusive indices, not before ``start``) so the evidence shows the change; None
    while no run has ended before the newest frame."""
    st = strengths(kind, signals, rest)
    hits = np.flatnonzero(st[start:] >= level)
    if len(hits) == 0:
        return None
    first = start + int(hits[0])
    last = first
    while last + 1 < len(st) and st[last + 1] >= 1.0:
        last += 1
    if last == len(st) - 1:
        return None
    return max(first - 1, start), last + 1


class Seen(NamedTuple):
    """An action's verdict over a window: the level reached, the frame where the action was
    seen (None when it was not) and, when it was not, why."""

    ok: bool
    level: float
    frame: int | None
    why: str


def action_seen(kind: ActionKind, signals: Signals, first: int, last: int, rest: Resting) -> Seen:
    """Whether frames ``first..last`` show ``kind``: its strongest level there, and where."""
    st = strengths(kind, signals, rest)[first : last + 1]
    if not len(st):
        return Seen(False, 0.0, None, "the window holds no frame")
    strongest = int(np.argmax(st))
    peak = float(st[strongest])
    if peak < 1.0:
        return Seen(False, peak, None, f"it reaches {peak:.2f} of the 1.00 needed")
    return Seen(True, peak, first + strongest, "")


# A prompted action must rise from rest after the subject could have read the prompt: a
# recording is as likely to be mid-turn or mid-word when a prompt goes out as at any moment, a
# person following prompts is still. Rest is below half the action's level; nobody reads a
# prompt and starts moving within a quarter of a second (visual reaction times are above 0.2 s
# before reading anything).
PROMPTED_REST = 0.5
REACTION_MS = 250
_OPPOSITE = {
    ActionKind.TURN_LEFT: ActionKind.TURN_RIGHT,
    ActionKind.TURN_RIGHT: ActionKind.TURN_LEFT,
}


def prompted_action_seen(
    kind: ActionKind,
    signals: Signals,
    first: int,
    last: int,
    rest: Resting,
    stamps_ms: Sequence[int],
    prompted_ms: int,
) -> Seen:
    """Whether frames ``first..last`` (the prompt's window) show ``kind`` begun after the prompt:
    a frame at rest, captured at least ``REACTION_MS`` after ``prompted_ms``, followed within the
    window by one that reaches the action; and, for a turn, no turn the other way in the window."""
    st = strengths(kind, signals, rest)
    peak = float(np.max(st[first : last + 1])) if last >= first else 0.0
    opposite = _OPPOSITE.get(kind)
    if opposite is not None:
        other = strengths(opposite, signals, rest)[first : last + 1]
        if len(other) and float(np.max(other)) >= 1.0:
            why = f"the head also turned the other way ({float(np.max(other)):.2f})"
            return Seen(False, peak, None, why)
    at_rest = False
    risen = 0.0
    for i in range(first, last + 1):
        if at_rest:
            risen = max(risen, float(st[i]))
            if st[i] >= 1.0:
                return Seen(True, risen, i, "")
        if st[i] < PROMPTED_REST and stamps_ms[i] >= prompted_ms + REACTION_MS:
            at_rest = True
    if peak >= 1.0:
        return Seen(False, risen, None, "it was under way before the prompt could have been read")
    return Seen(False, risen, None, f"it reaches {peak:.2f} of the 1.00 needed after the prompt")
