"""Liveness cues: numbers that differ between a live face and a photo or screen showing one.

Each cue has a physical reason, is measured on the tracked face of the sampled frames, and
speaks only where its physics holds: a cue that cannot be measured (no motion to judge, no
background to compare with) is NaN, which the fusion weighs as "no evidence". A still live face
and a still photo are alike to every motion cue, so motion can only accuse a face that moves
like an object; it never asks a customer to move. None decides alone; ``fusion`` weighs them
with weights fitted on data from many people and cameras (``tools/fit_liveness.py``).

Motion (corners tracked on the face and around it, frame pairs 0.3 s apart):

* ``planar_n``: how badly one homography explains the face's corners, relative to how far they
  moved. A photo, however it is moved or tilted, is a plane, and a plane's image moves by a
  homography; a head that moves turns in depth, and its nose moves against its cheeks.
* ``projective``: how much better that homography explains them than a shift, turn and scale
  do: the foreshortening only a tilting plane shows (a head that merely shifts is a plane to
  any camera, and tells nothing).
* ``coplanar``: how well the face's homography also explains the corners in a ring around the
  face, relative to the face's motion: on a print or a phone the ring is paper, hand, bezel or
  the picture around the face, on the same plane; around a head it is hair, shoulders and a
  room that move otherwise.

Light and texture (one frame is enough; a few frames spread over the clip are averaged):

* ``black``: the darkest luminance around the face. Ink on paper and a screen's black are a
  floor; a live head has its own blacks (pupils, nostrils, hair, shadows).
* ``edges``, ``enclosure``: long straight segments in a band around the face — a paper edge or
  a bezel — their length in face widths, and on how many sides of the face they close beyond
  the two that a door or a shelf behind a person also gives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from facegate.core.types import Box, Face, FloatArray, ImageArray
from facegate.vision._perthread import PerThread

# Landmarks that do not slide along the face outline (brows, nose, eyes, mouth): the jaw points
# of a turned head move along the contour and would count as non-rigid motion on any object.
_INNER = np.arange(17, 68)
RIGID_GAP_S = 0.3
_FLOW_SIDE = 320


@dataclass(frozen=True, slots=True)
class Observation:
    """The tracked face in one sampled frame."""

    index: int
    timestamp: float
    face: Face
    points: FloatArray  # (68, 2) in frame pixels


def eye_aspect_ratio(points: FloatArray) -> float:
    def one(e: FloatArray) -> float:
        v = float(np.linalg.norm(e[1] - e[5]) + np.linalg.norm(e[2] - e[4]))
        h = float(np.linalg.norm(e[0] - e[3]))
        return v / (2.0 * h) if h > 1e-6 else 0.0

    return (one(points[36:42]) + one(points[42:48])) / 2.0


def _pairs(obs: Sequence[Observation], gap_s: float) -> list[tuple[Observation, Observation]]:
    """Pairs of observations about ``gap_s`` apart (the nearest later one at or past it)."""
    out = []
    j = 0
    for i, a in enumerate(obs):
        j = max(j, i + 1)
        while j < len(obs) and obs[j].timestamp - a.timestamp < gap_s * 0.8:
            j += 1
        if j < len(obs) and obs[j].timestamp - a.timestamp <= gap_s * 2.0:
            out.append((a, obs[j]))
    return out


def _small(gray: ImageArray) -> tuple[ImageArray, float]:
    h, w = gray.shape[:2]
    s = min(1.0, _FLOW_SIDE / max(h, w))
    if s >= 1.0:
        return gray, 1.0
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return np.asarray(cv2.resize(gray, size, interpolation=cv2.INTER_AREA), dtype=np.uint8), s


def _scaled(box: Box, s: float, grow: float) -> tuple[float, float, float, float]:
    cx, cy = (box.left + box.right) / 2 * s, (box.top + box.bottom) / 2 * s
    hw, hh = box.width * s * grow / 2, box.height * s * grow / 2
    return cx - hw, cy - hh, cx + hw, cy + hh


def _rect_mask(
    shape: tuple[int, ...], outer: tuple[float, ...], inner: tuple[float, ...] | None
) -> ImageArray:
    mask = np.zeros(shape[:2], np.uint8)
    x0, y0, x1, y1 = (round(v) for v in outer)
    mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = 255
    if inner is not None:
        x0, y0, x1, y1 = (round(v) for v in inner)
        mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = 0
    return mask


def _track(
    g0: ImageArray,
    g1: ImageArray,
    mask: ImageArray,
    *,
    corners: int,
    quality: float,
    spacing: int,
    levels: int,
    least: int,
    check_back: bool = False,
) -> tuple[FloatArray, FloatArray] | None:
    """Corners found in ``g0`` inside ``mask`` and where pyramidal optical flow puts them in
    ``g1``, for those that tracked; None when fewer than ``least`` did. ``check_back``: track
    them back too and keep those that return within half a pixel, which drops corners that
    drifted or were occluded on the way."""
    pts = cv2.goodFeaturesToTrack(g0, corners, quality, spacing, mask=mask)
    if pts is None or len(pts) < least:
        return None
    pts = np.asarray(pts, dtype=np.float32)
    nxt, status, _ = cv2.calcOpticalFlowPyrLK(
        g0, g1, pts, np.empty_like(pts), winSize=(15, 15), maxLevel=levels
    )
    nxt = np.asarray(nxt, dtype=np.float32)
    ok = np.asarray(status).reshape(-1) == 1
    if check_back:
        back, again, _ = cv2.calcOpticalFlowPyrLK(
            g1, g0, nxt, np.empty_like(pts), winSize=(15, 15), maxLevel=levels
        )
        fb = np.linalg.norm((np.asarray(back) - pts).reshape(-1, 2), axis=1)
        ok &= (np.asarray(again).reshape(-1) == 1) & (fb < 0.5)
    if ok.sum() < least:
        return None
    return pts.reshape(-1, 2)[ok], nxt.reshape(-1, 2)[ok]


# LSD keeps scratch state per call: one per thread, as for the other OpenCV models.
_LSD = PerThread(cv2.createLineSegmentDetector)
# Outer limit of the band searched for a paper edge or a bezel, in face-box sizes.
EDGE_BAND = 6.0


def black_cue(gray: ImageArray, box: Box) -> float:
    """``black``: the darkest luminance around the face (0.5th percentile in twice the face
    box), as a fraction of white. A live head has its own blacks (pupils, nostrils, hair,
    shadows) whatever the camera's exposure; ink on paper and a screen's black are a floor
    above them, and a camera that meters the paper or screen does not push them down."""
    h, w = gray.shape[:2]
    x0, y0, x1, y1 = (round(v) for v in _scaled(box, 1.0, 2.0))
    region = gray[max(0, y0) : min(h, y1), max(0, x0) : min(w, x1)]
    return float(np.percentile(region, 0.5)) / 255.0 if region.size else math.nan


def edge_cues(gray: ImageArray, box: Box) -> dict[str, float]:
    """Long straight segments around the face: ``edges``, their total length in the band
    1.2–6× the face box (log of face widths), and ``enclosure``, on how many sides of the face
    beyond two (0–2) such a segment runs across it. The frame of a paper or a screen closes
    around the face; a door, a window or a shelf behind a person often runs past it on two
    sides, seldom on three."""
    small, s = _small(gray)
    lines = _LSD.get().detect(small)[0]
    if lines is None:
        return {"edges": 0.0, "enclosure": 0.0}
    width = max(box.width * s, 1.0)
    ox0, oy0, ox1, oy1 = _scaled(box, s, EDGE_BAND)
    ix0, iy0, ix1, iy1 = _scaled(box, s, 1.2)
    cx, cy = (ix0 + ix1) / 2, (iy0 + iy1) / 2
    total = 0.0
    sides: set[str] = set()
    for x0, y0, x1, y1 in lines.reshape(-1, 4):
        length = math.hypot(x1 - x0, y1 - y0)
        if length < 0.5 * width:
            continue
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        inside_outer = ox0 <= mx <= ox1 and oy0 <= my <= oy1
        inside_inner = ix0 <= mx <= ix1 and iy0 <= my <= iy1
        if not inside_outer or inside_inner:
            continue
        total += length / width
        angle = abs(math.degrees(math.atan2(y1 - y0, x1 - x0))) % 180
        if (angle < 30 or angle > 150) and min(x0, x1) < cx < max(x0, x1):
            sides.add("top" if my < cy else "bottom")
        elif 60 < angle < 120 and min(y0, y1) < cy < max(y0, y1):
            sides.add("left" if mx < cx else "right")
    return {"edges": math.log1p(total), "enclosure": float(max(0, len(sides) - 2))}


# Corners are tracked on the face at this width (pixels): fine enough to see a nose's parallax,
# small enough to keep tracking cheap on a large face.
_PLANE_FACE = 96.0


def _face_view(
    gray: ImageArray, box: Box, s: float, grow: float = 1.3
) -> tuple[ImageArray, int, int]:
    """The face box grown ``grow`` times, scaled by ``s``, and its top-left corner in the frame."""
    h, w = gray.shape[:2]
    left, top, right, bottom = _scaled(box, 1.0, grow)
    x0, y0 = max(0, int(left)), max(0, int(top))
    crop = gray[y0 : min(h, math.ceil(bottom)), x0 : min(w, math.ceil(right))]
    if s < 1.0 and crop.size:
        size = (max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s)))
        return np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA), np.uint8), x0, y0
    return crop, x0, y0


# Tracking noise of corners at _PLANE_FACE, in face widths: motion below it tells nothing.
_NOISE = 0.002


def planarity_pairs(obs: Sequence[Observation]) -> list[tuple[Observation, Observation]]:
    """The frame pairs the plane cues compare: 0.3 s apart, every other one (neighbouring pairs
    share most of their motion, and half of them give the same medians at half the cost)."""
    return _pairs(obs, RIGID_GAP_S)[::2]


def pair_planarity(
    grays: Sequence[ImageArray], a: Observation, b: Observation
) -> tuple[float, float, float] | None:
    """``planar_n``, ``projective`` and ``coplanar`` (NaN when the ring has too few corners) of
    one frame pair, None when the face's corners could not be tracked (see ``planarity``)."""
    box = a.face.box
    s = min(1.0, _PLANE_FACE / max(box.width, 1.0))
    g0, x0, y0 = _face_view(grays[a.index], box, s, 2.4)
    g1, _, _ = _face_view(grays[b.index], box, s, 2.4)
    if g0.shape != g1.shape or min(g0.shape) < 16:
        return None
    width = max(box.width * s, 1.0)
    # Corners inside the hull of the inner landmarks: on the face, not on hair or background.
    hull = cv2.convexHull(((a.points[_INNER] - (x0, y0)) * s).astype(np.int32))
    face_mask = np.zeros(g0.shape, np.uint8)
    cv2.fillConvexPoly(face_mask, hull, 255)
    tracked = _track(
        g0, g1, face_mask, corners=80, quality=0.005, spacing=3, levels=3, least=12,
        check_back=True,
    )  # fmt: skip
    if tracked is None:
        return None
    p0, p1 = tracked
    # Least median of squares: the fit follows the majority of the face, and what does not
    # follow it (a nose turning against the cheeks, a moving mouth) shows in the residual.
    hm, _ = cv2.findHomography(p0, p1, cv2.LMEDS)
    if hm is None:
        return None
    proj = cv2.perspectiveTransform(p0.reshape(-1, 1, 2), hm).reshape(-1, 2)
    r = float(np.percentile(np.linalg.norm(proj - p1, axis=1), 75)) / width
    d = float(np.median(np.linalg.norm(p1 - p0, axis=1))) / width
    planar_n = math.log10((r + _NOISE) / (d + _NOISE))
    sim, _ = cv2.estimateAffinePartial2D(p0, p1, method=cv2.LMEDS)
    if sim is None:
        return None
    moved = p0 @ sim[:, :2].T + sim[:, 2]
    r_sim = float(np.percentile(np.linalg.norm(moved - p1, axis=1), 75)) / width
    projective = math.log10((r_sim + _NOISE) / (r + _NOISE))
    bx0, by0 = (box.left - x0) * s, (box.top - y0) * s
    local = Box(bx0, by0, bx0 + box.width * s, by0 + box.height * s)
    ring_mask = _rect_mask(g0.shape, _scaled(local, 1.0, 2.2), _scaled(local, 1.0, 1.25))
    ring = _track(
        g0, g1, ring_mask, corners=60, quality=0.01, spacing=4, levels=3, least=8,
        check_back=True,
    )  # fmt: skip
    if ring is None:
        return planar_n, projective, math.nan
    q0, q1 = ring
    qp = cv2.perspectiveTransform(q0.reshape(-1, 1, 2), hm).reshape(-1, 2)
    rr = float(np.median(np.linalg.norm(qp - q1, axis=1))) / width
    return planar_n, projective, math.log10((rr + _NOISE) / (d + _NOISE))


def planarity(per_pair: Sequence[tuple[float, float, float] | None]) -> dict[str, float]:
    """The medians over frame pairs (``pair_planarity`` of each) of:

    * ``planar_n``: the plane residual r of the face's corners (75th percentile, after a
      least-median-of-squares homography) over their motion d, log10((r + n) / (d + n)), n
      the tracking noise: a photo that moves keeps its residual at n however far it moves, a
      head that moves turns and parallax shows; a face that does not move tells nothing (0).
    * ``projective``: how much better the homography explains the face's corners than a
      similarity (shift, turn, scale) does, log10((r_sim + n) / (r + n)): a photo tilting in
      the hand foreshortens as only a plane does; a head that turns is no plane, and a face
      that only shifts tells nothing (0).
    * ``coplanar``: log10((r + n) / (d + n)) of the ring's corners under the face's homography:
      on a print or a screen the ring is paper, bezel or the picture around the face, on the
      same plane; around a head it is hair, shoulders and a room that move otherwise.

    NaN when no pair could be measured."""
    measured = [p for p in per_pair if p is not None]
    rings = [c for _, _, c in measured if not math.isnan(c)]
    return {
        "planar_n": float(np.median([p for p, _, _ in measured])) if measured else math.nan,
        "projective": float(np.median([q for _, q, _ in measured])) if measured else math.nan,
        "coplanar": float(np.median(rings)) if rings else math.nan,
    }


def planarity_cue(grays: Sequence[ImageArray], obs: Sequence[Observation]) -> dict[str, float]:
    """``planarity`` of every pair of ``planarity_pairs``, on this thread."""
    return planarity([pair_planarity(grays, a, b) for a, b in planarity_pairs(obs)])
