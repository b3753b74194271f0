"""The server's own check of a liveness package: it trusts nothing the device claims.

A package passes when its frames decode, hold one face that the video liveness cues find live
over at least the minimum visible time, show one and the same person throughout, and show every
action the challenge claims in the frames it names. Every failure is code 2007 with a reason
that says which check failed, so an integrator can tell a tampered file from a failed capture.

Two kinds of failure are told apart. A package that cannot be checked (frames that do not
decode, no face, too short, a malformed challenge) raises 2007. A package that can be checked
but shows an attack (the liveness cues find no live face, a claimed action is not in its frames,
the frames show two people) yields a :class:`PackageCheck` whose ``attack`` says why: the
private-cloud endpoint (1.3) still answers 2007 with that reason, while the cloud endpoint
reports it as a ``hack_score``, as its manual asks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from facegate.core.errors import Code, FacegateError, ImageError
from facegate.core.limits import ImageLimits
from facegate.core.media import decode_image
from facegate.core.package import ChallengeAction, FrameRole, LivenessPackage, Mode
from facegate.core.results import ActionSeen
from facegate.core.types import FloatArray
from facegate.core.video import VideoFrame
from facegate.vision.liveness import actions
from facegate.vision.liveness.analyzer import LivenessAnalyzer, Observed, SelectedFrame
from facegate.vision.liveness.cues import Observation
from facegate.vision.pipeline import FacePipeline

# Frames of one capture come from one camera at preview resolution.
FRAME_LIMITS = ImageLimits(max_bytes=2 * 1024 * 1024, min_side=64, max_side=1920)
# Decoded frames of one package, together (as square frames: 60 frames of 1280 × 1280 px); the
# SDKs send fewer and smaller frames, which this leaves as they are.
FRAME_SIDE = 1280
PACKAGE_PIXELS = 60 * 1280 * 1280
# The tracked face must be found in this share of the frames: a capture is of one face in view.
MIN_FACE_SHARE = 0.8
# Frames compared with the selected frame for identity (spread over the capture, plus every
# action's evidence): enough to catch a spliced package, few enough to stay cheap.
IDENTITY_SAMPLES = 4


def _fail(detail: str) -> FacegateError:
    return FacegateError(Code.CORRUPTED_LIVENESS_DATA, detail)


class _AttackSeenError(Exception):
    """The package was checked and shows an attack; the message says what was seen and
    ``check`` which check saw it ("action" or "identity")."""

    def __init__(self, message: str, check: str) -> None:
        super().__init__(message)
        self.check = check


def hack_score(liveness_score: float, threshold: float, attack: str, *, cues_failed: bool) -> float:
    """How likely the package is an attack, in [0, 1], with 0.5 as the verdict's edge.

    The fused liveness score has its own fitted threshold; mapping each side of it linearly onto
    [0, 0.5] and [0.5, 1] keeps the order of scores and puts every rejected package above 0.5
    and every accepted one at or below it. A package whose cues pass but whose claimed actions or
    identity do not hold is an attack for certain: 1.0.
    """
    if attack and not cues_failed:
        return 1.0
    s = min(max(liveness_score, 0.0), 1.0)
    t = min(max(threshold, 1e-6), 1.0 - 1e-6)
    value = 0.5 + 0.5 * (t - s) / t if s < t else 0.5 * (1.0 - s) / (1.0 - t)
    return round(min(max(value, 0.0), 1.0), 6)


@dataclass(frozen=True, slots=True)
class PackageCheck:
    liveness_score: float
    template: tuple[FloatArray, ...]  # the selected face's embedding, for the 1:1 comparison
    # Each action with the level seen (≥ 1) and the frame where it was seen: the first after a
    # rest for a prompted action, else the strongest.
    actions: tuple[ActionSeen, ...]
    attack: str = ""  # why the package is taken for an attack; empty when it passed
    hack_score: float = 0.0  # see hack_score()
    refused_by: str = ""  # the liveness expert ("print", "replay"), "action" or "identity"
    evidence: tuple[str, ...] = ()  # a refusing expert's strongest cues
    selected: int = 0  # the index of the frame compared (the package's choice or the analyser's)


def frame_limits(count: int) -> ImageLimits:
    """Per-frame limits for a package of ``count`` frames: their decoded pixels together stay
    within ``PACKAGE_PIXELS`` (each frame at most ``FRAME_SIDE`` long), so memory is bounded
    by the budget, not by what a package carries."""
    side = min(FRAME_SIDE, math.isqrt(PACKAGE_PIXELS // max(count, 1)))
    return replace(FRAME_LIMITS, max_output_side=side)


def decode_frames(package: LivenessPackage) -> list[VideoFrame]:
    frames: list[VideoFrame] = []
    t0 = package.frames[0].timestamp_ms
    size: tuple[int, int] | None = None
    limits = frame_limits(len(package.frames))
    for i, f in enumerate(package.frames):
        try:
            image = decode_image(f.jpeg, limits)
        except ImageError as exc:
            raise _fail(f"frame {i} could not be used: {exc.detail}") from None
        if image.format != "JPEG":
            raise _fail(f"frame {i} is {image.format}, frames must be JPEG")
        if size is None:
            size = (image.width, image.height)
        elif (image.width, image.height) != size:
            raise _fail(
                f"frame {i} is {image.width}×{image.height} px while frame 0 is "
                f"{size[0]}×{size[1]}: a capture comes from one camera"
            )
        frames.append(VideoFrame(i, (f.timestamp_ms - t0) / 1000.0, image.pixels))
    return frames


def challenge_verdict(
    challenge: Sequence[ChallengeAction], signals: actions.Signals, stamps_ms: Sequence[int]
) -> tuple[tuple[ActionSeen, ...], str]:
    """The actions a challenge claims, judged on the package's landmark signals: the actions
    seen (each with its level and frame) and, when one is not, why (else ""). A malformed
    challenge raises 2007. ``benchmarks/sessions.py`` calls this on recordings, so the rate
    it reports is this rule's."""
    claimed = [i for a in challenge for i in range(a.first_frame, a.last_frame + 1)]
    rest = actions.Resting.of(signals, exclude=claimed)
    if rest is None:
        raise _fail("too few frames with a face to measure the challenge actions")
    seen: list[ActionSeen] = []
    previous_end = -1
    for k, action in enumerate(challenge):
        if action.first_frame <= previous_end:
            raise _fail(
                f"action {k} ({action.kind.value}) starts at frame {action.first_frame}, "
                f"before the previous action ended (frame {previous_end})"
            )
        previous_end = action.last_frame
        where = f"frames {action.first_frame}–{action.last_frame}"
        window = (action.kind, signals, action.first_frame, action.last_frame, rest)
        if action.prompted_ms is None:
            verdict = actions.action_seen(*window)
        else:
            verdict = actions.prompted_action_seen(*window, stamps_ms, action.prompted_ms)
            where = f"the {where} after its prompt at {action.prompted_ms} ms"
        if verdict.frame is None:
            return (), (
                f"the claimed {action.kind.value} (action {k}) is not visible in {where} "
                f"({verdict.why})"
            )
        seen.append(ActionSeen(kind=action.kind.value, level=verdict.level, frame=verdict.frame))
    return tuple(seen), ""


class PackageChecker:
    def __init__(
        self,
        analyzer: LivenessAnalyzer,
        pipeline: FacePipeline,
        *,
        same_person_score: float = 0.5,
    ) -> None:
        self._analyzer = analyzer
        self._pipeline = pipeline
        # Calibrated score: 0.5 ↔ a false-accept rate of 1 %, so two different people are
        # rarely taken for one, and a live person's own frames always are.
        self._same_person_score = same_person_score

    def check(self, package: LivenessPackage) -> PackageCheck:
        frames = decode_frames(package)
        span = frames[-1].timestamp - frames[0].timestamp if len(frames) > 1 else 0.0
        need = self._analyzer.config.min_visible_seconds
        if span < need:
            raise _fail(f"the frames span {span:.2f} s; at least {need:.1f} s are needed")
        if package.mode is Mode.INTERACTIVE and not package.challenge:
            raise _fail("an interactive package must name its challenge actions")

        observed = self._analyzer.observe(frames)
        if not observed.observations:
            raise _fail("no face was found in the package's frames")
        share = len(observed.observations) / len(frames)
        if share < MIN_FACE_SHARE:
            raise _fail(
                f"the face is found in {len(observed.observations)} of {len(frames)} frames; "
                "a capture must keep one face in view"
            )
        # The package names its selected frame; the analyser picks one only when it does not.
        result = self._analyzer.analyze_frames(
            frames, observed, select=package.selected_index() is None
        )
        if result.status == "short_time":
            raise _fail(f"the face is visible for {result.visible_seconds:.2f} s only")

        by_index = {o.index: o for o in observed.observations}
        selected = self._selected(package, frames, by_index, observed, result.selected)
        reference = self._pipeline.embed(selected.pixels, selected.face)
        seen: tuple[ActionSeen, ...] = ()
        attack = refused_by = ""
        if not result.passed:
            refused_by = result.refused_by
            evidence = f"; strongest evidence: {', '.join(result.evidence)}"
            attack = (
                f"the frames do not show a live face: they look like a {refused_by} attack "
                f"(liveness score {result.score:.3f} below {result.threshold:.3f}"
                f"{evidence if result.evidence else ''})"
            )
        else:
            try:
                seen = self._check_actions(package, frames, observed)
                self._check_identity(package, frames, by_index, selected, reference)
            except _AttackSeenError as exc:
                attack, refused_by = str(exc), exc.check
        score = hack_score(result.score, result.threshold, attack, cues_failed=not result.passed)
        return PackageCheck(
            result.score,
            reference,
            seen,
            attack,
            score,
            refused_by,
            result.evidence if not result.passed else (),
            next(f.index for f in frames if f.timestamp == selected.timestamp),
        )

    def _selected(
        self,
        package: LivenessPackage,
        frames: Sequence[VideoFrame],
        by_index: dict[int, Observation],
        observed: Observed,
        chosen: SelectedFrame | None,
    ) -> SelectedFrame:
        """The package's selected frame; else the analyser's choice (``chosen``, None when the
        liveness check failed, and a reference frame is still needed)."""
        index = package.selected_index()
        if index is None:
            return chosen or self._analyzer.select(frames, observed.observations)
        o = by_index.get(index)
        if o is None:
            raise _fail(f"the selected frame {index} shows no tracked face")
        return SelectedFrame(frames[index].timestamp, frames[index].pixels, o.face)

    def _check_actions(
        self,
        package: LivenessPackage,
        frames: Sequence[VideoFrame],
        observed: Observed,
    ) -> tuple[ActionSeen, ...]:
        if not package.challenge:
            return ()
        points: list[FloatArray | None] = [None] * len(frames)
        for o in observed.observations:
            points[o.index] = o.points
        h, w = frames[0].pixels.shape[:2]
        signals = actions.signals_of(points, w, h)
        stamps = [f.timestamp_ms for f in package.frames]
        seen, failure = challenge_verdict(package.challenge, signals, stamps)
        if failure:
            raise _AttackSeenError(failure, "action")
        for i, f in enumerate(package.frames):
            if FrameRole.ACTION in f.roles and not any(
                a.first_frame <= i <= a.last_frame for a in package.challenge
            ):
                raise _fail(f"frame {i} is marked as action evidence outside every action")
        return seen

    def _check_identity(
        self,
        package: LivenessPackage,
        frames: Sequence[VideoFrame],
        by_index: dict[int, Observation],
        selected: SelectedFrame,
        reference: tuple[FloatArray, ...],
    ) -> None:
        """Every probed frame must show the selected frame's person."""
        tracked = sorted(by_index)
        step = max(1, len(tracked) // IDENTITY_SAMPLES)
        probe = set(tracked[::step][:IDENTITY_SAMPLES])
        for a in package.challenge:
            mid = (a.first_frame + a.last_frame) // 2
            near = min(tracked, key=lambda i: abs(i - mid))
            probe.add(near)
        for i in sorted(probe):
            if frames[i].pixels is selected.pixels:
                continue  # the reference itself
            o = by_index[i]
            template = self._pipeline.embed(frames[i].pixels, o.face)
            score = self._pipeline.score(self._pipeline.similarity(reference, template))
            if score < self._same_person_score:
                raise _AttackSeenError(
                    f"frame {i} shows a different person than the selected frame "
                    f"(score {score:.3f} below {self._same_person_score:.2f})",
                    "identity",
                )
