"""dlib's 68-point shape predictor, run on the YuNet box.

The 68 points give what five cannot: the inner lips for mouth opening, and enough rigid points
for a head-pose fit. Indexing is iBUG 300-W's (0–16 jaw, 17–26 brows, 27–35 nose, 36–47 eyes,
48–67 mouth)."""

from __future__ import annotations

from pathlib import Path

import dlib
import numpy as np

from facegate.core.types import Face, FloatArray, ImageArray
from facegate.vision._perthread import PerThread


class Landmarks68:
    def __init__(self, model_path: Path) -> None:
        self._nets = PerThread(lambda: dlib.shape_predictor(str(model_path)))
        self._nets.get()

    def predict(self, gray: ImageArray, face: Face) -> FloatArray:
        b = face.box
        # dlib's predictor was trained on its HOG detector's boxes, which are tighter and lower
        # than YuNet's; shrinking the top edge brings the two conventions closer.
        top = b.top + 0.12 * b.height
        rect = dlib.rectangle(round(b.left), round(top), round(b.right), round(b.bottom))
        shape = self._nets.get()(gray, rect)
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
