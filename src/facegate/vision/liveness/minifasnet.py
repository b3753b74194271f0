"""MiniFASNet V2 + V1SE (Minivision Silent-Face-Anti-Spoofing): frame-level passive anti-spoofing
from the optional ``minifasnet`` model pack.

Each net sees the face box enlarged around its centre (V2 2.7×, V1SE 4.0×, so V1SE also sees the
surroundings: a paper edge, a bezel), resized to 80×80 BGR float 0–255. The score is the mean of
the two nets' softmax probability of class 1, "real". The crop follows upstream's ``CropImage``
exactly; its boxes came from its own RetinaFace, ours come from YuNet (measured with ours: see
tests/vision/test_minifasnet.py).

Both ONNX files have a fixed batch of 1, so several frames are scored one crop at a time.
ONNX Runtime sessions are thread-safe: one instance serves every inference thread.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]

from facegate.core.types import Box, FloatArray, ImageArray
from facegate.vision.convert import OpenVinoNet, on_openvino
from facegate.vision.manifest import Manifest, load_manifest
from facegate.vision.packs import pack_dir

PACK = "minifasnet"
V2_ID = "minifasnet_v2_80x80_fp32"
V1SE_ID = "minifasnet_v1se_80x80_fp32"
# (model id, enlargement of the face box) in the order of the upstream ensemble.
NETS: tuple[tuple[str, float], ...] = ((V2_ID, 2.7), (V1SE_ID, 4.0))
INPUT_SIDE = 80
REAL_CLASS = 1
CPU = ["CPUExecutionProvider"]


def crop_box(width: int, height: int, box: Box, scale: float) -> tuple[int, int, int, int]:
    """Upstream's ``CropImage._get_new_box``: ``box`` enlarged ``scale``× around its centre, the
    scale reduced where the result would not fit the image, then shifted to lie inside it.
    Returns (left, top, right, bottom), right and bottom INCLUSIVE as upstream slices them."""
    x, y = box.left, box.top
    # Upstream's boxes are (x, y, right - left + 1, ...) of a detector; ours are exclusive boxes.
    box_w, box_h = max(box.width, 1.0), max(box.height, 1.0)
    if not all(math.isfinite(v) for v in (x, y, box_w, box_h)):
        raise ValueError(f"face box is not finite: {box}")
    scale = min((height - 1) / box_h, (width - 1) / box_w, scale)
    new_w, new_h = box_w * scale, box_h * scale
    cx, cy = x + box_w / 2, y + box_h / 2
    left, top = cx - new_w / 2, cy - new_h / 2
    right, bottom = cx + new_w / 2, cy + new_h / 2
    if left < 0:
        right -= left
        left = 0
    if top < 0:
        bottom -= top
        top = 0
    if right > width - 1:
        left -= right - width + 1
        right = width - 1
    if bottom > height - 1:
        top -= bottom - height + 1
        bottom = height - 1
    # int() truncates as upstream does; the clamps only absorb floating-point error.
    return (
        max(int(left), 0),
        max(int(top), 0),
        min(int(right), width - 1),
        min(int(bottom), height - 1),
    )


def crop(pixels: ImageArray, box: Box, scale: float, side: int = INPUT_SIDE) -> ImageArray:
    """The ``side``×``side`` BGR patch one net sees (upstream ``CropImage.crop``)."""
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 BGR image, got shape {pixels.shape}")
    h, w = pixels.shape[:2]
    left, top, right, bottom = crop_box(w, h, box, scale)
    patch = pixels[top : bottom + 1, left : right + 1]
    return np.asarray(
        cv2.resize(patch, (side, side), interpolation=cv2.INTER_LINEAR), dtype=np.uint8
    )


def _softmax_real(logits: FloatArray) -> float:
    z = logits.astype(np.float64).ravel()
    e = np.exp(z - z.max())
    return float(e[REAL_CLASS] / e.sum())


class MiniFASNet:
    """The V2 + V1SE ensemble: probability that a face is real, from one frame."""

    def __init__(
        self, v2_path: Path, v1se_path: Path, *, runtime: str = "auto", threads: int = 2
    ) -> None:
        """``runtime`` as ``Settings.runtime``: OpenVINO runs these float32 files about 3× as
        fast as ONNX Runtime here, with the same outputs (``benchmarks/runtimes.py``); ONNX
        Runtime is the fallback, and ``opencv`` (the setting's other value) means it too."""
        paths = (v2_path, v1se_path)

        def make() -> list[OpenVinoNet]:
            return [OpenVinoNet(p.read_bytes(), streams=threads) for p in paths]

        self._openvino: list[OpenVinoNet] = (
            on_openvino(runtime, "the MiniFASNet pack", "ONNX Runtime", make) or []
        )
        self.runtime = "openvino" if self._openvino else "onnxruntime"
        self._sessions: list[Any] = []
        if not self._openvino:
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3  # errors only; ORT's notes go to stderr otherwise
            self._sessions = [
                ort.InferenceSession(
                    str(path), sess_options=options, providers=["CPUExecutionProvider"]
                )
                for path in paths
            ]
        self._inputs = [s.get_inputs()[0].name for s in self._sessions]
        self._scales = [scale for _, scale in NETS]

    @classmethod
    def load(
        cls,
        root: Path | None,
        manifest: Manifest | None = None,
        *,
        runtime: str = "auto",
        threads: int = 2,
    ) -> MiniFASNet | None:
        """The ensemble from the installed ``minifasnet`` pack, or None when it is not installed.

        ``root`` is ``Settings.model_dir``: packs are looked for in ``packs_root(root)``, i.e. the
        default data directory when it is None. Raises ``ModelIntegrityError`` when a file of the
        pack is present but differs from the manifest, or when only part of the pack is there.
        """
        manifest = manifest or load_manifest()
        folder = pack_dir(PACK, root)
        if not any((folder / manifest.spec(mid).path).is_file() for mid, _ in NETS):
            return None
        v2, v1se = (manifest.verified_path(mid, root) for mid, _ in NETS)
        return cls(v2, v1se, runtime=runtime, threads=threads)

    def probabilities(self, pixels: ImageArray, box: Box) -> tuple[float, float]:
        """Each net's probability of "real" (V2 at 2.7×, V1SE at 4.0×) for the face in ``box`` of
        the BGR image ``pixels``."""
        v2, v1se = (self._run(i, crop(pixels, box, scale)) for i, scale in enumerate(self._scales))
        return v2, v1se

    def score(self, pixels: ImageArray, box: Box) -> float:
        """Probability in [0, 1] that the face in ``box`` of the BGR image ``pixels`` is real:
        the mean of the two nets' softmax of class "real"."""
        v2, v1se = self.probabilities(pixels, box)
        return (v2 + v1se) / 2

    def score_batch(self, pixels_list: Sequence[ImageArray], boxes: Sequence[Box]) -> list[float]:
        """``score`` for several frames. The ONNX files have a fixed batch of 1, so this loops;
        it is here so callers need not change if a batched export replaces them."""
        return [self.score(p, b) for p, b in zip(pixels_list, boxes, strict=True)]

    def _run(self, index: int, patch: ImageArray) -> float:
        tensor = np.ascontiguousarray(patch.transpose(2, 0, 1)[None], dtype=np.float32)
        if self._openvino:
            return _softmax_real(self._openvino[index](tensor))
        (logits,) = self._sessions[index].run(None, {self._inputs[index]: tensor})
        return _softmax_real(np.asarray(logits, dtype=np.float32))
