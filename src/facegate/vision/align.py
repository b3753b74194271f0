"""Similarity alignment of a face to the standard 112×112 five-point template (ArcFace's),
used by the quality models so that their regions sit at fixed places in the crop."""

from __future__ import annotations

import cv2
import numpy as np

from facegate.core.types import FloatArray, ImageArray

TEMPLATE_112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)


def alignment_matrix(landmarks: FloatArray, size: int = 112) -> FloatArray:
    dst = TEMPLATE_112 * (size / 112.0)
    matrix, _ = cv2.estimateAffinePartial2D(landmarks.astype(np.float32), dst, method=cv2.LMEDS)
    if matrix is None:  # degenerate landmarks (all on a line): fall back to least squares
        matrix, _ = cv2.estimateAffinePartial2D(landmarks.astype(np.float32), dst, method=0)
    return np.asarray(matrix, dtype=np.float32)


def align_face(image: ImageArray, landmarks: FloatArray, size: int = 112) -> ImageArray:
    """The face warped so its five landmarks land on the template."""
    return warp_to_template(image, alignment_matrix(landmarks, size), size)


def warp_to_template(image: ImageArray, matrix: FloatArray, size: int = 112) -> ImageArray:
    """Apply an ``alignment_matrix``; out-of-image pixels are black, which the occlusion model
    has learnt to expect at image borders."""
    out = cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    return np.asarray(out, dtype=np.uint8)
