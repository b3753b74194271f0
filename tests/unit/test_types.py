"""Boxes and faces: overlap, and a crop's face moved back into its photo."""

from __future__ import annotations

import numpy as np
import pytest

from facegate.core.types import Box, Face


def test_iou() -> None:
    a = Box(0, 0, 10, 10)
    assert a.iou(a) == 1.0
    assert a.iou(Box(5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert a.iou(Box(20, 20, 30, 30)) == 0.0
    assert Box(0, 0, 0, 0).iou(Box(0, 0, 0, 0)) == 0.0  # empty boxes: no division by zero


def test_shifted_moves_box_and_landmarks_together() -> None:
    landmarks = np.array([[1, 2], [3, 2], [2, 3], [1, 4], [3, 4]], dtype=np.float32)
    face = Face(Box(0, 1, 4, 5), landmarks, 0.9).shifted(100, 50)
    assert face.box == Box(100, 51, 104, 55)
    assert face.landmarks.dtype == np.float32
    np.testing.assert_array_equal(face.landmarks, landmarks + np.float32([100, 50]))
    assert face.score == 0.9
