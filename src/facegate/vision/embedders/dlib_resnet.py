"""dlib's ResNet face descriptor (128-d), aligned by dlib's own 5-point shape predictor on the
YuNet box, as dlib's model was trained."""

from __future__ import annotations

from pathlib import Path

import cv2
import dlib
import numpy as np

from facegate.core.types import Face, FloatArray, ImageArray
from facegate.vision._perthread import PerThread


class DlibResNetEmbedder:
    id = "dlib_resnet_v1"

    def __init__(self, model_path: Path, shape5_path: Path) -> None:
        self._nets = PerThread(lambda: dlib.face_recognition_model_v1(str(model_path)))
        self._shapes = PerThread(lambda: dlib.shape_predictor(str(shape5_path)))
        self._nets.get()
        self._shapes.get()

    def embed(self, image: ImageArray, face: Face) -> FloatArray:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        b = face.box
        rect = dlib.rectangle(round(b.left), round(b.top), round(b.right), round(b.bottom))
        shape = self._shapes.get()(rgb, rect)
        chip = dlib.get_face_chip(rgb, shape, size=150, padding=0.25)
        vec = np.asarray(self._nets.get().compute_face_descriptor(chip), dtype=np.float32)
        return (vec / max(float(np.linalg.norm(vec)), 1e-12)).astype(np.float32)
