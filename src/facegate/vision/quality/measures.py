"""The quality measures whose formulas the SenseID manual gives or that we define here.

Definitions (all documented in docs/api.md, "Quality fields"):

* ``distance2center`` = max(1 − |c − image centre| / short side, 0), c = mean of the five
  landmarks (manual).
* ``size`` = area of the face region inside the image / image area (manual: "area of the five
  features in the image / image area"), the face region being the footprint of the aligned
  112×112 face crop that the five landmarks define (``face_region``).
* ``integrity`` = area of the face region inside the image / face region area (manual).
* ``brightness`` = (mean luma of the face box − 127.5) / 127.5, in [−1, 1].
* ``sharpness`` = v / (v + K) with v the variance of the Laplacian of the 112×112 aligned grey
  face (so it does not depend on the photo's resolution) and K = SHARPNESS_HALF, the variance at
  which sharpness is 0.5.
* ``mouth_open`` = 1 − min(gap / width / MOUTH_OPEN_FULL, 1): gap = mean inner-lip distance,
  width = mouth-corner distance from the 68 landmarks; higher = more closed, as in the manual.
* ``pose``: yaw, pitch, roll in degrees from a perspective-n-point fit of a generic 3-D face to
  the 68 landmarks (focal length = the image's longer side). Yaw > 0: the person turns to their
  left (their nose moves to the image's right); pitch > 0: they look up; roll > 0: the head tilts
  clockwise in the image.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from facegate.core.results import Pose
from facegate.core.types import Box, Face, FloatArray, ImageArray

SHARPNESS_HALF = 60.0
MOUTH_OPEN_FULL = 0.6

# A generic head in millimetres (x right, y up, z towards the camera), at iBUG-68 indices.
_MODEL_POINTS = np.array(
    [
        [0.0, 0.0, 0.0],  # 30 nose tip
        [0.0, -63.6, -12.5],  # 8 chin
        [-43.3, 32.7, -26.0],  # 36 right eye outer corner (subject's right = image left)
        [43.3, 32.7, -26.0],  # 45 left eye outer corner
        [-28.9, -28.9, -24.1],  # 48 right mouth corner
        [28.9, -28.9, -24.1],  # 54 left mouth corner
        [0.0, 18.0, -14.0],  # 27 nose bridge top
        [-19.0, 33.0, -20.0],  # 39 right eye inner corner
        [19.0, 33.0, -20.0],  # 42 left eye inner corner
    ],
    dtype=np.float64,
)
_MODEL_INDEX = [30, 8, 36, 45, 48, 54, 27, 39, 42]


def distance_to_center(face: Face, width: int, height: int) -> float:
    cx, cy = face.landmarks.mean(axis=0).tolist()
    d = math.hypot(cx - width / 2.0, cy - height / 2.0)
    return max(1.0 - d / min(width, height), 0.0)


def face_region(alignment: FloatArray) -> FloatArray:
    """The face region implied by the five landmarks (through their ``alignment_matrix``): the
    footprint in the photo of the 112×112 aligned face crop (a square turned with the face).
    Unlike the detector's box, which stops at the photo's border, it extends past the border when
    the face is cut, because the landmarks' spacing still tells the face's size."""
    m = np.vstack([alignment, [0.0, 0.0, 1.0]])
    inv = np.linalg.inv(m)
    corners = np.array([[0.0, 0.0, 1.0], [112.0, 0.0, 1.0], [112.0, 112.0, 1.0], [0.0, 112.0, 1.0]])
    return (corners @ inv.T)[:, :2].astype(np.float32)


def size_and_integrity(region: FloatArray, width: int, height: int) -> tuple[float, float]:
    frame = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    inside, _ = cv2.intersectConvexConvex(region, frame)
    total = float(cv2.contourArea(region))
    size = float(inside) / float(width * height)
    integrity = float(inside) / total if total > 0 else 0.0
    return min(size, 1.0), min(integrity, 1.0)


def brightness(gray: ImageArray, box: Box) -> float:
    left, top, right, bottom = box.clip(gray.shape[1], gray.shape[0]).as_ints()
    region = gray[top:bottom, left:right]
    if region.size == 0:
        return 0.0
    return float(np.clip((float(region.mean()) - 127.5) / 127.5, -1.0, 1.0))


def sharpness(aligned_gray: ImageArray) -> float:
    v = float(cv2.Laplacian(aligned_gray, cv2.CV_64F).var())
    return v / (v + SHARPNESS_HALF)


def lip_gap(points68: FloatArray) -> float:
    """Mean inner-lip distance over the mouth-corner distance (0 for a degenerate mouth)."""
    width = float(np.linalg.norm(points68[54] - points68[48]))
    if width <= 1e-6:
        return 0.0
    gap = float(
        np.mean(
            [np.linalg.norm(points68[a] - points68[b]) for a, b in ((61, 67), (62, 66), (63, 65))]
        )
    )
    return gap / width


def mouth_open(points68: FloatArray) -> float:
    return float(1.0 - min(lip_gap(points68) / MOUTH_OPEN_FULL, 1.0))


def head_pose(points68: FloatArray, width: int, height: int) -> Pose:
    focal = float(max(width, height))
    camera = np.array(
        [[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]], dtype=np.float64
    )
    image_points = points68[_MODEL_INDEX].astype(np.float64)
    # The model's y axis points up, the image's down: flip y so the fit is a proper rotation.
    model = _MODEL_POINTS * np.array([1.0, -1.0, -1.0])
    # Seeded with a frontal head in front of the camera at the distance its size implies;
    # unseeded, the solver sometimes lands on the mirror solution behind the camera.
    eye_span = float(np.linalg.norm(points68[45] - points68[36])) or 1.0
    rvec0 = np.zeros((3, 1))
    tvec0 = np.array([[0.0], [0.0], [focal * 86.6 / eye_span]])
    ok, rvec, _ = cv2.solvePnP(
        model, image_points, camera, None, rvec0, tvec0, True, cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        return Pose(yaw=0.0, pitch=0.0, roll=_roll_from_eyes(points68))
    rot, _ = cv2.Rodrigues(rvec)
    # Euler angles (x: pitch, y: yaw, z: roll) of the head in camera coordinates.
    sy = math.hypot(rot[0, 0], rot[1, 0])
    pitch = math.degrees(math.atan2(rot[2, 1], rot[2, 2]))
    yaw = math.degrees(math.atan2(-rot[2, 0], sy))
    roll = math.degrees(math.atan2(rot[1, 0], rot[0, 0]))
    return Pose(yaw=float(-yaw), pitch=float(-pitch), roll=float(roll))


def _roll_from_eyes(points68: FloatArray) -> float:
    right = points68[36:42].mean(axis=0)
    left = points68[42:48].mean(axis=0)
    return math.degrees(math.atan2(float(left[1] - right[1]), float(left[0] - right[0])))
