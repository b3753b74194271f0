"""detect → align → embed / quality, for one photo at a time, on already-decoded pixels.

Everything here is synchronous and thread-safe (models are per thread); the inference engine in
``facegate.worker`` decides which thread runs what.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from facegate.core.errors import Code, ImageError
from facegate.core.results import FaceQuality, Occlusion, Rect
from facegate.core.types import Box, Face, FloatArray, ImageArray
from facegate.vision.align import align_face, alignment_matrix, warp_to_template
from facegate.vision.convert import OpenVinoNet, converted_net, on_openvino
from facegate.vision.detectors.yunet import YuNetDetector
from facegate.vision.embedders import Embedder
from facegate.vision.embedders.dlib_resnet import DlibResNetEmbedder
from facegate.vision.embedders.sface import SFaceEmbedder
from facegate.vision.manifest import (
    ConvertedSpec,
    Manifest,
    ModelIntegrityError,
    ProfileCalibration,
    load_manifest,
    load_profile_calibration,
)
from facegate.vision.quality import measures
from facegate.vision.quality.landmarks68 import Landmarks68

if TYPE_CHECKING:
    from facegate.vision.quality.occlusion import OcclusionModel

log = logging.getLogger("facegate.vision")

# Faces at least this fraction of the largest face's area compete on nearness to the centre.
MAIN_FACE_AREA_RATIO = 0.75
# Coarse-to-fine (``detect_main``), sides in pixels of the copy the detector ran on. Below
# FINE_BELOW the coarse copy may miss a rival face of about the same size (YuNet finds faces
# from about 10 px; a rival must be ≥ √0.75 ≈ 0.87 of the largest's side), so detection runs
# again at the fine size. Below REFINE_BELOW the five landmarks, which place the face in the
# embedder's crop, are taken again from a crop around the face, where it is larger.
FINE_BELOW = 32
REFINE_BELOW = 96
# Boxes differ a little between sizes, so when a second face comes within this fraction of the
# largest's area, which of them is the main face is decided on the full-size pass, as before.
CONTESTED_AREA = 0.5
# The refining crop: the face's box grown to this many times its side, around its centre.
REFINE_CROP = 2.0


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    profile: str = "default"
    detect_max_side: int = 640
    # 1:1 comparisons look on a smaller copy first (``detect_main``); ≥ detect_max_side: never.
    detect_coarse_side: int = 320
    detect_min_score: float = 0.6
    model_dir: Path | None = None
    # Off only for the calibration script, which builds the very calibration this would load.
    calibrated: bool = True
    # Off for benchmarks that only compare faces; quality needs two more models.
    with_quality: bool = True
    # "auto": a model's converted file on OpenVINO where the manifest has one and it checks
    # out, else OpenCV; "openvino": the same, failing instead of falling back; "opencv".
    runtime: str = "auto"
    # Threads that call the models at once (the engine's handlers): OpenVINO's streams.
    threads: int = 2


@dataclass(frozen=True, slots=True)
class Oriented:
    """A photo turned upright: ``pixels`` after ``quarter_turns`` × 90° counter-clockwise, with
    its faces in the turned image's coordinates."""

    pixels: ImageArray
    faces: list[Face]
    quarter_turns: int
    original_size: tuple[int, int]  # (width, height) before turning

    def box_in_original(self, box: Box) -> Box:
        """The face box in the coordinates of the photo as it was sent (EXIF applied)."""
        w, h = self.original_size
        corners = [(box.left, box.top), (box.right, box.bottom)]
        mapped = [_unturn(x, y, self.quarter_turns, w, h) for x, y in corners]
        xs, ys = [p[0] for p in mapped], [p[1] for p in mapped]
        return Box(min(xs), min(ys), max(xs), max(ys))


def _unturn(x: float, y: float, k: int, w: int, h: int) -> tuple[float, float]:
    # np.rot90(img, k) turns counter-clockwise; invert one quarter turn at a time.
    for _ in range(k % 4):
        # (x, y) in a CCW-turned image of size (h, w) came from (w - y, x) in the original.
        x, y = w - y, x
        w, h = h, w
    return x, y


class FacePipeline:
    def __init__(self, options: PipelineOptions, manifest: Manifest | None = None) -> None:
        self._options = options
        self.manifest = manifest or load_manifest()
        self.profile = self.manifest.profile(options.profile)

        def path(model_id: str) -> Path:
            return self.manifest.verified_path(model_id, options.model_dir)

        self._calibration = load_profile_calibration(self.profile) if options.calibrated else None
        self.detector = YuNetDetector(
            path(self.profile.detector),
            max_side=options.detect_max_side,
            min_score=options.detect_min_score,
        )
        self.embedders: list[Embedder] = []
        # The converted files that run in place of a wheel's model, by that model's id.
        self.converted: dict[str, ConvertedSpec] = {}
        for mid in self.profile.embedders:
            if mid == SFaceEmbedder.id:
                runner = self._converted_runner(mid, options)
                self.embedders.append(SFaceEmbedder(path(mid), runner))
            elif mid == DlibResNetEmbedder.id:
                self.embedders.append(DlibResNetEmbedder(path(mid), path("dlib_shape5")))
            else:
                raise ValueError(f"no backend for embedder {mid}")
        self._landmarks: Landmarks68 | None = None
        self._occlusion: OcclusionModel | None = None
        if options.with_quality:
            # Imported here: benchmarks that only compare faces need neither model.
            from facegate.vision.quality.occlusion import OcclusionModel

            self._landmarks = Landmarks68(path(self.profile.landmarks))
            self._occlusion = OcclusionModel(path(OcclusionModel.id))

    def _converted_runner(self, model_id: str, options: PipelineOptions) -> OpenVinoNet | None:
        spec = self.manifest.converted_from(model_id, "openvino")

        def make() -> OpenVinoNet:
            if spec is None:
                raise ModelIntegrityError(f"the manifest has no OpenVINO file for {model_id}")
            return converted_net(self.manifest, spec, options.model_dir, streams=options.threads)

        runner = on_openvino(options.runtime, model_id, "OpenCV", make)
        if runner is not None and spec is not None:
            self.converted[model_id] = spec
            log.info("%s runs on OpenVINO from %s (sha256 %s)", model_id, spec.id, spec.sha256[:12])
        return runner

    @property
    def runtimes(self) -> dict[str, str]:
        """What runs each model: ``openvino:<converted file>``, ``opencv`` or ``dlib``."""
        names = {DlibResNetEmbedder.id: "dlib", "dlib_shape5": "dlib"}
        return {
            mid: f"openvino:{self.converted[mid].id}"
            if mid in self.converted
            else names.get(mid, "opencv")
            for mid in (self.profile.detector, *self.profile.embedders)
        }

    @property
    def landmarks(self) -> Landmarks68:
        if self._landmarks is None:
            raise RuntimeError("this pipeline was built without the quality models")
        return self._landmarks

    @property
    def calibration(self) -> ProfileCalibration:
        if self._calibration is None:
            raise RuntimeError("this pipeline was built without its calibration")
        return self._calibration

    # detection -----------------------------------------------------------------------------
    def detect(
        self, pixels: ImageArray, *, auto_rotate: bool = False, max_side: int | None = None
    ) -> Oriented:
        """Faces of the photo; with ``auto_rotate``, of the quarter turn where they are upright.

        YuNet also finds faces lying sideways or upside down, with landmarks in template order
        whatever the face's orientation, so neither a detection nor its landmark geometry shows
        which way is up. Its confidence does: on 300 LFW photos (250 px and 640×480) the upright
        turn scored highest every time, by 0.035 or more in 99 % of cases. So all four turns are
        scored and the best kept; it costs three more detections, only when asked.
        """
        h, w = pixels.shape[:2]
        best = Oriented(pixels, self.detector.detect(pixels, max_side), 0, (w, h))
        if not auto_rotate:
            return best
        for k in (1, 2, 3):
            turned = np.ascontiguousarray(np.rot90(pixels, k))
            cand = Oriented(turned, self.detector.detect(turned, max_side), k, (w, h))
            if _top_score(cand.faces) > _top_score(best.faces):
                best = cand
        return best

    def detect_main(
        self, pixels: ImageArray, field: str, *, auto_rotate: bool = False
    ) -> tuple[Oriented, Face]:
        """The photo turned upright and the face a 1:1 comparison uses, found coarse to fine.

        On a copy at ``detect_coarse_side`` first, where detection costs about a quarter of
        the full-size one (YuNet's cost goes with the pixels). At ``detect_max_side`` when no
        face, only small ones, or two faces of similar size turn up there: so every main face
        the full-size pass finds is still found, and chosen as it chooses. Then, when the
        chosen face was small in the copy it was found on, its landmarks are taken again from
        a crop around it. ``benchmarks/detection.py`` measures recall, landmarks and embeddings
        against the full-size pass."""
        fine = self.detector.max_side
        side = min(self._options.detect_coarse_side, fine)
        oriented = self.detect(pixels, auto_rotate=auto_rotate, max_side=side)
        scale = self.detector.scale_for(oriented.pixels, side)
        # (A photo no larger than the coarse copy was seen at full size already.)
        if (
            side < fine
            and scale < 1.0
            and (_largest_side(oriented.faces) * scale < FINE_BELOW or _contested(oriented.faces))
        ):
            oriented = self.detect(pixels, auto_rotate=auto_rotate)
            scale = self.detector.scale_for(oriented.pixels)
        face = self.main_face(oriented, field)
        if scale < 1.0 and _side(face) * scale < REFINE_BELOW:
            face = self._refined(oriented.pixels, face, side)
        return oriented, face

    def _refined(self, pixels: ImageArray, face: Face, max_side: int) -> Face:
        """``face`` detected again in a crop around it; itself when the crop shows no face
        overlapping it by at least half (IoU)."""
        h, w = pixels.shape[:2]
        b = face.box
        half = REFINE_CROP * max(b.width, b.height) / 2
        cx, cy = (b.left + b.right) / 2, (b.top + b.bottom) / 2
        x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
        x1, y1 = min(w, math.ceil(cx + half)), min(h, math.ceil(cy + half))
        found = self.detector.detect(np.ascontiguousarray(pixels[y0:y1, x0:x1]), max_side)
        moved = [f.shifted(x0, y0) for f in found]
        best = max(moved, key=lambda f: f.box.iou(b), default=None)
        return best if best is not None and best.box.iou(b) >= 0.5 else face

    @staticmethod
    def main_face(oriented: Oriented, field: str) -> Face:
        """The face a 1:1 comparison uses: the largest; when others come close to its size
        (a crowd, a poster behind the subject), the one nearest the photo's centre."""
        faces = oriented.faces
        if not faces:
            raise ImageError(Code.DETECTION_FAILED, "no face was detected", field)
        height, width = oriented.pixels.shape[:2]
        largest = max(f.box.area for f in faces)
        close = [f for f in faces if f.box.area >= MAIN_FACE_AREA_RATIO * largest]

        def off_centre(f: Face) -> float:
            cx = (f.box.left + f.box.right) / 2 - width / 2
            cy = (f.box.top + f.box.bottom) / 2 - height / 2
            return math.hypot(cx, cy)

        return min(close, key=off_centre)

    # embeddings ----------------------------------------------------------------------------
    def embed(self, pixels: ImageArray, face: Face) -> tuple[FloatArray, ...]:
        return tuple(e.embed(pixels, face) for e in self.embedders)

    def similarity(self, a: tuple[FloatArray, ...], b: tuple[FloatArray, ...]) -> float:
        """Cosine for one embedder; for several, the sum of their z-normalised cosines."""
        if len(self.embedders) == 1:
            return float(np.dot(a[0], b[0]))
        return fuse(
            [float(np.dot(x, y)) for x, y in zip(a, b, strict=True)], self.calibration.norms
        )

    def score(self, similarity: float) -> float:
        return self.calibration.calibration(similarity)

    # quality -------------------------------------------------------------------------------
    def occlusion(self, pixels: ImageArray, face: Face) -> Occlusion:
        """Occlusion alone, for check_quality: skips the 68 landmarks and the other measures."""
        if self._occlusion is None:
            raise RuntimeError("this pipeline was built without its quality models")
        return self._occlusion.estimate_aligned(align_face(pixels, face.landmarks))

    def quality(self, pixels: ImageArray, face: Face) -> FaceQuality:
        if self._landmarks is None or self._occlusion is None:
            raise RuntimeError("this pipeline was built without its quality models")
        h, w = pixels.shape[:2]
        gray = np.asarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
        points = self._landmarks.predict(gray, face)
        matrix = alignment_matrix(face.landmarks)
        aligned = warp_to_template(pixels, matrix)
        size, integrity = measures.size_and_integrity(measures.face_region(matrix), w, h)
        return FaceQuality(
            rect=Rect.of(face.box.as_ints()),
            pose=measures.head_pose(points, w, h),
            occlusion=self._occlusion.estimate_aligned(aligned),
            distance2center=measures.distance_to_center(face, w, h),
            size=size,
            brightness=measures.brightness(gray, face.box),
            sharpness=measures.sharpness(
                np.asarray(cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
            ),
            mouth_open=measures.mouth_open(points),
            integrity=integrity,
        )


def fuse(cosines: Sequence[float], norms: Sequence[tuple[float, float]]) -> float:
    """Sum of cosines z-normalised by each embedder's impostor mean and deviation."""
    return float(sum((c - m) / s for c, (m, s) in zip(cosines, norms, strict=True)))


def _contested(faces: list[Face]) -> bool:
    areas = sorted((f.box.area for f in faces), reverse=True)
    return len(areas) > 1 and areas[1] >= CONTESTED_AREA * areas[0]


def _side(face: Face) -> float:
    return max(face.box.width, face.box.height)


def _largest_side(faces: list[Face]) -> float:
    return max((_side(f) for f in faces), default=0.0)


def _top_score(faces: list[Face]) -> float:
    return max((f.score for f in faces), default=0.0)
