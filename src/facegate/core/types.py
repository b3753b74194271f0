"""Plain types of the vision code: pixel arrays, boxes, detected faces. (The results the
service returns are declared in :mod:`facegate.core.results`.)"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
ImageArray = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Box:
    """Axis-aligned box in pixels; right and bottom are exclusive."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    def clip(self, width: int, height: int) -> Box:
        return Box(
            min(max(self.left, 0.0), width),
            min(max(self.top, 0.0), height),
            min(max(self.right, 0.0), width),
            min(max(self.bottom, 0.0), height),
        )

    def iou(self, other: Box) -> float:
        """Intersection over union."""
        ix = max(0.0, min(self.right, other.right) - max(self.left, other.left))
        iy = max(0.0, min(self.bottom, other.bottom) - max(self.top, other.top))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def as_ints(self) -> tuple[int, int, int, int]:
        return (round(self.left), round(self.top), round(self.right), round(self.bottom))


@dataclass(frozen=True, slots=True)
class Face:
    """A detected face: box, five landmarks (right eye, left eye, nose, right and left mouth
    corners in image order as YuNet gives them) and the detector's confidence."""

    box: Box
    landmarks: FloatArray  # shape (5, 2)
    score: float

    def shifted(self, dx: float, dy: float) -> Face:
        """The same face in coordinates whose origin is at (-dx, -dy): a crop's face in the
        image the crop was cut from."""
        b = self.box
        return Face(
            Box(b.left + dx, b.top + dy, b.right + dx, b.bottom + dy),
            (self.landmarks + np.array([dx, dy], dtype=np.float32)).astype(np.float32),
            self.score,
        )
