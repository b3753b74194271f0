"""Silent liveness of a video: track the main face, measure the cues, fuse, pick a frame.

The analyser works on the frames ``core.video.decode_video`` sampled (about 10 per second of the
first seconds). Detection and landmarks, the costly per-frame part, run on a small pool of
threads of its own, so one request uses both cores; the cues themselves take a few milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from facegate.core.errors import Code, FacegateError
from facegate.core.types import Box, Face, ImageArray
from facegate.core.video import DecodedVideo, VideoFrame
from facegate.vision._perthread import run_on_each_thread
from facegate.vision.align import align_face
from facegate.vision.detectors.yunet import YuNetDetector
from facegate.vision.liveness import cues
from facegate.vision.liveness.fusion import Fusion, load_fusion
from facegate.vision.liveness.minifasnet import MiniFASNet
from facegate.vision.liveness.track import track_main_face, visible_seconds
from facegate.vision.pipeline import FacePipeline
from facegate.vision.quality.landmarks68 import Landmarks68
from facegate.vision.quality.measures import head_pose, sharpness

Status = Literal["ok", "hack", "short_time"]

# Texture and the frame model look at this many frames spread over the track: more add little
# (neighbouring frames share their texture) and cost ~10 ms each.
TEXTURE_FRAMES = 6


@dataclass(frozen=True, slots=True)
class SelectedFrame:
    """The frame a client gets back and the 1:1 comparison uses: sharp, frontal, eyes open."""

    timestamp: float
    pixels: ImageArray
    face: Face


@dataclass(frozen=True, slots=True)
class LivenessResult:
    status: Status
    passed: bool
    score: float
    threshold: float
    visible_seconds: float
    selected: SelectedFrame | None
    cues: dict[str, float] = field(default_factory=dict)
    # Why a face was refused: the expert (attack type) that decided and its strongest cues;
    # empty when the face passed or was not seen long enough to be judged.
    refused_by: str = ""
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Observed:
    """What tracking found: the face's observations, its visible seconds, and the grey frames
    (kept for the motion and edge cues, so each frame is converted once)."""

    observations: list[cues.Observation]
    visible: float
    grays: list[ImageArray]


@dataclass(frozen=True, slots=True)
class LivenessConfig:
    min_visible_seconds: float = 2.0
    # A face seen at least this long but less than min_visible_seconds is refused as "hack"
    # rather than "short_time" when its score is below this share of the threshold: a replay
    # whose face the tracker loses is still named an attack, while a customer who merely left
    # the picture early is told the video was too short, as the manual says.
    min_judged_seconds: float = 1.0
    short_attack_share: float = 0.5
    threshold: float | None = None  # None: the fusion file's own threshold


class LivenessAnalyzer:
    def __init__(
        self,
        detector: YuNetDetector,
        landmarks: Landmarks68,
        video_fusion: Fusion,
        pack: MiniFASNet | None = None,
        *,
        config: LivenessConfig | None = None,
        threads: int = 2,
    ) -> None:
        self._detector = detector
        self._landmarks = landmarks
        self.video_fusion = video_fusion
        self.pack = pack
        self.config = config or LivenessConfig()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="facegate-frames")
        self._threads = threads

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def warm_up_here(self, pixels: ImageArray, face: Face) -> None:
        """One pass through the liveness models (detector, landmarks, texture cues, the pack)
        on this thread; models are per thread."""
        gray = np.asarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
        self._detector.detect(pixels)
        self._landmarks.predict(gray, face)
        self._frame_cues(pixels, gray, face.box)

    def warm_up(self, pixels: ImageArray, face: Face) -> None:
        """``warm_up_here`` on each of the analyser's own threads."""
        run_on_each_thread(self._pool, self._threads, lambda: self.warm_up_here(pixels, face))

    @property
    def threshold(self) -> float:
        t = self.config.threshold
        return self.video_fusion.threshold if t is None else t

    # --- per frame, on the pool --------------------------------------------------------------
    def detect_frame(self, frame: VideoFrame) -> tuple[list[Face], ImageArray]:
        gray = np.asarray(cv2.cvtColor(frame.pixels, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
        return self._detector.detect(frame.pixels), gray

    def observe_face(self, args: tuple[int, float, Face, ImageArray]) -> cues.Observation:
        index, timestamp, face, gray = args
        return cues.Observation(index, timestamp, face, self._landmarks.predict(gray, face))

    def _frame_cues(
        self, pixels: ImageArray, gray: ImageArray, box: Box, *, edges: bool = True
    ) -> dict[str, float]:
        out: dict[str, float] = {}
        if edges:
            out.update(cues.edge_cues(gray, box))
        out["black"] = cues.black_cue(gray, box)
        if self.pack is not None:
            p = min(max(self.pack.score(pixels, box), 1e-4), 1 - 1e-4)
            out["pack"] = math.log(p / (1 - p))
        return out

    # --- a video -----------------------------------------------------------------------------
    def observe(self, frames: Sequence[VideoFrame]) -> Observed:
        """The tracked face through ``frames``: where it is and how long it is visible."""
        if not frames:
            return Observed([], 0.0, [])
        detected = list(self._pool.map(self.detect_frame, frames))
        grays = [g for _, g in detected]
        h, w = frames[0].pixels.shape[:2]
        track = track_main_face([d for d, _ in detected], w, h, [f.timestamp for f in frames])
        visible = visible_seconds(track, [f.timestamp for f in frames])
        jobs = [
            (i, frames[i].timestamp, face, grays[i])
            for i, face in enumerate(track)
            if face is not None
        ]
        return Observed(list(self._pool.map(self.observe_face, jobs)), visible, grays)

    def video_cues(self, frames: Sequence[VideoFrame], observed: Observed) -> dict[str, float]:
        observations, grays = observed.observations, observed.grays
        step = max(1, len(observations) // TEXTURE_FRAMES)
        picked = list(observations[::step])[:TEXTURE_FRAMES]
        # The per-frame cues and the per-pair plane cues all run on the pool. A paper edge or a
        # bezel does not change from frame to frame: every other frame is enough.
        pending = [
            self._pool.submit(
                self._frame_cues,
                frames[o.index].pixels,
                grays[o.index],
                o.face.box,
                edges=k % 2 == 0,
            )
            for k, o in enumerate(picked)
        ]
        pairs = [
            self._pool.submit(cues.pair_planarity, grays, a, b)
            for a, b in cues.planarity_pairs(observations)
        ]
        values = cues.planarity([p.result() for p in pairs])
        per_frame = [f.result() for f in pending]
        for name in {k for d in per_frame for k in d}:
            vals = [d[name] for d in per_frame if name in d]
            values[name] = float(np.mean(vals))
        packs = [d["pack"] for d in per_frame if "pack" in d]
        if packs:
            # The frame model's least convinced frame: one frame where the paper's grain or the
            # screen's glass shows is evidence, the mean over frames dilutes it.
            values["pack_min"] = float(np.min(packs))
        return values

    def analyze(self, video: DecodedVideo) -> LivenessResult:
        return self.analyze_frames(video.frames)

    def analyze_frames(
        self, frames: Sequence[VideoFrame], observed: Observed | None = None, *, select: bool = True
    ) -> LivenessResult:
        """Liveness of time-ordered frames (``observed``: their tracking, if already done).
        ``select=False`` leaves ``selected`` None, for callers that pick the frame themselves
        (the choice measures every frame's pose and sharpness)."""
        if observed is None:
            observed = self.observe(frames)
        observations, visible = observed.observations, observed.visible
        if not observations:
            raise FacegateError(Code.LIVENESS_SILENT_CHECK_FAILED, "no face was found in the video")
        values = self.video_cues(frames, observed)
        score = self.video_fusion.score(values)
        threshold = self.threshold
        status: Status
        cfg = self.config
        if visible < cfg.min_visible_seconds:
            strong = score < cfg.short_attack_share * threshold
            status = "hack" if strong and visible >= cfg.min_judged_seconds else "short_time"
        else:
            status = "ok" if score >= threshold else "hack"
        selected = self.select(frames, observations) if select and status == "ok" else None
        refused_by, evidence = self.video_fusion.explain(values) if status == "hack" else ("", ())
        values["visible_seconds"] = visible
        return LivenessResult(
            status=status,
            passed=status == "ok",
            score=score,
            threshold=threshold,
            visible_seconds=visible,
            selected=selected,
            cues=values,
            refused_by=refused_by,
            evidence=evidence,
        )

    def select(
        self, frames: Sequence[VideoFrame], observations: Sequence[cues.Observation]
    ) -> SelectedFrame:
        ears = np.array([cues.eye_aspect_ratio(o.points) for o in observations])
        open_level = float(np.percentile(ears, 90)) or 1.0

        def quality(o: cues.Observation) -> float:
            pixels = frames[o.index].pixels
            h, w = pixels.shape[:2]
            aligned = cv2.cvtColor(align_face(pixels, o.face.landmarks), cv2.COLOR_BGR2GRAY)
            pose = head_pose(o.points, w, h)
            frontal = math.exp(-(pose.yaw**2 + pose.pitch**2) / (2 * 15.0**2))
            eyes = min(cues.eye_aspect_ratio(o.points) / open_level, 1.0)
            sharp = sharpness(np.asarray(aligned, dtype=np.uint8))
            return sharp * frontal * eyes**2 * o.face.score

        best = max(observations, key=quality)
        frame = frames[best.index]
        return SelectedFrame(frame.timestamp, frame.pixels, best.face)


def face_crop(selected: SelectedFrame, margin: float = 0.3) -> ImageArray:
    """The selected face with ``margin`` of its box size around it, clipped to the frame."""
    b = selected.face.box
    dx, dy = b.width * margin, b.height * margin
    h, w = selected.pixels.shape[:2]
    x0, y0, x1, y1 = Box(b.left - dx, b.top - dy, b.right + dx, b.bottom + dy).clip(w, h).as_ints()
    return np.ascontiguousarray(selected.pixels[y0:y1, x0:x1])


def build_analyzer(
    pipeline: FacePipeline,
    pack: MiniFASNet | None,
    *,
    detect_side: int = 320,
    threshold: float | None = None,
    model_dir: Path | None = None,
    threads: int = 2,
    fitted: bool = True,
) -> LivenessAnalyzer:
    """The analyser sharing the pipeline's models, with the fusion fitted for ``pack``'s
    presence (``fitted=False``: neutral placeholders, for the script that fits them)."""
    detector = YuNetDetector(
        pipeline.manifest.verified_path(pipeline.profile.detector, model_dir),
        max_side=detect_side,
        min_score=pipeline.detector.min_score,
    )
    return LivenessAnalyzer(
        detector,
        pipeline.landmarks,
        load_fusion(pack is not None) if fitted else Fusion("unfitted", (), 0.5),
        pack,
        config=LivenessConfig(threshold=threshold),
        threads=threads,
    )
