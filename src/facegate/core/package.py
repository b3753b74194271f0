"""The liveness package a capture SDK hands the server, as plain data.

The wire format is protobuf inside an encrypted envelope (``facegate.proto``); everything past
that edge works on these dataclasses, so the protobuf runtime types never leak into the
pipeline, the engine or the SDK's capture logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from facegate.core.errors import Code, FacegateError

# The version of the message layout inside the envelope (``LivenessPackage.format_version``).
FORMAT_VERSION = 1


class Mode(StrEnum):
    SILENT = "silent"
    INTERACTIVE = "interactive"


class ActionKind(StrEnum):
    BLINK = "blink"
    OPEN_MOUTH = "open_mouth"
    TURN_LEFT = "turn_left"  # the subject turns towards their own left
    TURN_RIGHT = "turn_right"
    NOD = "nod"


class FrameRole(StrEnum):
    SEQUENCE = "sequence"  # part of the regularly sampled capture
    SELECTED = "selected"  # the frame the device chose for comparison
    ACTION = "action"  # evidence for a challenge action


@dataclass(frozen=True, slots=True)
class PackageFrame:
    jpeg: bytes
    timestamp_ms: int  # from the start of the capture
    roles: frozenset[FrameRole] = frozenset({FrameRole.SEQUENCE})


@dataclass(frozen=True, slots=True)
class ChallengeAction:
    """One action of the challenge and the frames (indices, inclusive) where it was seen,
    or, when ``prompted_ms`` is set, the frames between its prompt and its deadline."""

    kind: ActionKind
    first_frame: int
    last_frame: int
    prompted_ms: int | None = None  # capture time of the prompt (a server-driven session)


@dataclass(frozen=True, slots=True)
class LivenessPackage:
    sdk_name: str
    sdk_version: str
    device: str
    captured_at: datetime  # timezone-aware, UTC
    mode: Mode
    frames: tuple[PackageFrame, ...]
    challenge: tuple[ChallengeAction, ...] = ()
    device_score: float | None = None  # the device's own liveness score in [0, 1]
    format_version: int = FORMAT_VERSION
    extra: dict[str, str] = field(default_factory=dict)  # free-form device metadata

    @property
    def duration_ms(self) -> int:
        return self.frames[-1].timestamp_ms - self.frames[0].timestamp_ms if self.frames else 0

    def selected_index(self) -> int | None:
        for i, f in enumerate(self.frames):
            if FrameRole.SELECTED in f.roles:
                return i
        return None


@dataclass(frozen=True, slots=True)
class OpenedPackage:
    """A decrypted, structurally valid package and the envelope nonce that identifies it."""

    nonce: bytes
    package: LivenessPackage


def check_freshness(package: LivenessPackage, window_seconds: int, skew_seconds: int) -> None:
    """A package older than the replay window could be one whose nonce was forgotten (2007);
    one dated further in the future than the clock skew allows is refused too."""
    age = datetime.now(UTC) - package.captured_at
    if age > timedelta(seconds=window_seconds):
        raise FacegateError(
            Code.CORRUPTED_LIVENESS_DATA,
            f"the package expired: captured {age.total_seconds():.0f} s ago, "
            f"packages are accepted for {window_seconds} s",
        )
    if -age > timedelta(seconds=skew_seconds):
        raise FacegateError(
            Code.CORRUPTED_LIVENESS_DATA,
            f"the package is dated {-age.total_seconds():.0f} s in the future",
        )
