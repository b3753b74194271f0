"""SFace (MobileFaceNet, 128-d) on YuNet's five landmarks: aligned by OpenCV, run by OpenCV or,
when given one, by a faster runtime on the converted file (``facegate.vision.convert``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from facegate.core.types import Face, FloatArray, ImageArray
from facegate.vision._perthread import PerThread


def yunet_row(face: Face) -> np.ndarray:
    """The 15-float row that OpenCV's FaceRecognizerSF.alignCrop expects."""
    b = face.box
    return np.array(
        [[b.left, b.top, b.width, b.height, *face.landmarks.ravel().tolist(), face.score]],
        dtype=np.float32,
    )


class SFaceEmbedder:
    id = "sface_2021dec_int8bq"

    def __init__(
        self, model_path: Path, runner: Callable[[FloatArray], FloatArray] | None = None
    ) -> None:
        # OpenCV's recognizer stays for alignCrop even when another runtime embeds, so that
        # both runtimes see the very same 112×112 crop.
        self._nets = PerThread(lambda: cv2.FaceRecognizerSF.create(str(model_path), ""))
        self._nets.get()
        self._runner = runner

    def align(self, image: ImageArray, face: Face) -> ImageArray:
        return np.asarray(self._nets.get().alignCrop(image, yunet_row(face)), dtype=np.uint8)

    def embed(self, image: ImageArray, face: Face) -> FloatArray:
        net = self._nets.get()
        crop = net.alignCrop(image, yunet_row(face))
        if self._runner is None:
            feature = net.feature(crop)
        else:
            # What FaceRecognizerSF.feature feeds the network: RGB, 0–255, NCHW.
            blob = cv2.dnn.blobFromImage(crop, 1.0, (112, 112), swapRB=True)
            feature = self._runner(np.asarray(blob, dtype=np.float32))
        vec = np.asarray(feature, dtype=np.float32).ravel()
        return (vec / max(float(np.linalg.norm(vec)), 1e-12)).astype(np.float32)
