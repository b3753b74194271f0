"""OpenCV YuNet face detector: boxes, five landmarks and a confidence per face."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from facegate.core.types import Box, Face, ImageArray
from facegate.vision._perthread import PerThread


class YuNetDetector:
    def __init__(
        self,
        model_path: Path,
        *,
        max_side: int = 640,
        min_score: float = 0.6,
        nms_threshold: float = 0.3,
        top_k: int = 5000,
    ) -> None:
        self._max_side = max_side
        self.min_score = min_score
        self._nets = PerThread(
            lambda: cv2.FaceDetectorYN.create(
                str(model_path), "", (320, 320), min_score, nms_threshold, top_k
            )
        )
        self._nets.get()  # fail at start-up, not on the first request

    @property
    def max_side(self) -> int:
        return self._max_side

    def detect(self, image: ImageArray, max_side: int | None = None) -> list[Face]:
        """Faces in ``image`` (BGR), in image coordinates, in no particular order; found on a
        copy whose longer side is at most ``max_side`` (default: the detector's)."""
        h, w = image.shape[:2]
        scale = self.scale_for(image, max_side)
        small = image
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            small = np.asarray(
                cv2.resize(image, size, interpolation=cv2.INTER_AREA), dtype=np.uint8
            )
        net = self._nets.get()
        net.setInputSize((small.shape[1], small.shape[0]))
        _, rows = net.detect(small)
        if rows is None:
            return []
        faces = []
        for row in np.asarray(rows, dtype=np.float32):
            x, y, bw, bh = (row[:4] / scale).tolist()
            landmarks = (row[4:14].reshape(5, 2) / scale).astype(np.float32)
            faces.append(Face(Box(x, y, x + bw, y + bh), landmarks, float(row[14])))
        return faces

    def scale_for(self, image: ImageArray, max_side: int | None = None) -> float:
        """The factor from ``image`` to the copy ``detect`` runs on."""
        return min(1.0, (max_side or self._max_side) / float(max(image.shape[:2])))
