"""Liveness cues: numbers that differ between a live face and a photo or screen showing one.

Each cue is cheap, has a physical reason, and is computed on the tracked face of the sampled
frames. None decides alone; ``fusion`` weighs them with weights fitted on data.

Motion (needs a video):

* ``nonrigid_med`` / ``nonrigid_p90``: how badly one homography explains the motion of the inner
  68 landmarks between frames 0.3 s apart, relative to the eye distance. A photo, however it is
  moved or tilted, is a plane, and a plane's image moves by a homography; a head turns in 3-D,
  talks and blinks.
* ``independence``: how much the face moves relative to its immediate surroundings (a ring
  around the face, by sparse optical flow), over how much either moves. A print or a phone
  carries its surroundings (paper, screen, bezel) with the face; a live head moves against the
  wall behind it.
* ``ring_vs_bg``: the same between that ring and the far background: a hand-held print or phone
  moves against the room, a wall behind a person does not.
* ``planar``: the same question asked of corners tracked on the face with sub-pixel optical
  flow instead of landmarks, which are too jittery to tell a still face from a moved photo.
* ``blink``, ``mouth``: the relative range of the eye aspect ratio and the spread of the inner-lip
  gap. A print never blinks; a replay may.
* ``pulse``: the signal-to-noise ratio of the strongest 0.7–3 Hz component of the skin colour
  (CHROM projection of the cheeks' mean colour), the blood pulse a camera sees in live skin.

Texture (one frame is enough, so stills use these too):

* ``hf_ratio``: share of the face's spectral energy at high spatial frequency; printing and
  re-filming a screen both lose fine detail.
* ``spectral_peak``: how far the strongest isolated peak of the face's spectrum stands above the
  spectrum's radial average: the dot grid of a print and the pixel grid of a screen leave peaks
  (moiré, halftone); skin does not.
* ``saturation``, ``contrast``, ``specular``: screens and prints compress colour and contrast and
  reflect lights as broad glare.
* ``moire``: the same peak measure on the face's centre at native resolution.
* ``edges``, ``enclosure``: long straight segments in a band around the face — a paper edge or a
  bezel — their length in face widths, and on how many sides of the face they run.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from facegate.core.types import Box, Face, FloatArray, ImageArray
from facegate.vision._perthread import PerThread
from facegate.vision.quality.measures import lip_gap

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


def _eye_distance(points: FloatArray) -> float:
    right = points[36:42].mean(axis=0)
    left = points[42:48].mean(axis=0)
    return max(float(np.linalg.norm(left - right)), 1.0)


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


def shape_cues(obs: Sequence[Observation]) -> dict[str, float]:
    residuals = []
    for a, b in _pairs(obs, RIGID_GAP_S):
        src = a.points[_INNER].astype(np.float64)
        dst = b.points[_INNER].astype(np.float64)
        h, _ = cv2.findHomography(src, dst, 0)
        if h is None:
            continue
        proj = cv2.perspectiveTransform(src.reshape(-1, 1, 2), h).reshape(-1, 2)
        rms = float(np.sqrt(np.mean(np.sum((proj - dst) ** 2, axis=1))))
        residuals.append(rms / _eye_distance(b.points))
    ears = np.array([eye_aspect_ratio(o.points) for o in obs])
    lips = np.array([lip_gap(o.points) for o in obs])
    top = float(np.percentile(ears, 90)) if len(ears) else 0.0
    return {
        "nonrigid_med": float(np.median(residuals)) if residuals else 0.0,
        "nonrigid_p90": float(np.percentile(residuals, 90)) if residuals else 0.0,
        "blink": (top - float(ears.min())) / top if top > 1e-6 else 0.0,
        "mouth": float(lips.std()) if len(lips) else 0.0,
    }


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


def _flow(g0: ImageArray, g1: ImageArray, mask: ImageArray) -> FloatArray | None:
    """Median displacement of trackable corners inside ``mask`` (None when too few)."""
    tracked = _track(g0, g1, mask, corners=60, quality=0.01, spacing=4, levels=2, least=6)
    if tracked is None:
        return None
    p0, p1 = tracked
    return np.asarray(np.median(p1 - p0, axis=0), dtype=np.float32)


def motion_cues(grays: Sequence[ImageArray], obs: Sequence[Observation]) -> dict[str, float]:
    """``grays``: the sampled frames in grey, indexed by ``Observation.index``."""
    rel = face_sum = ring_sum = ring_bg = bg_sum = 0.0
    n = n_bg = 0
    for a, b in itertools.pairwise(obs):
        if b.index != a.index + 1:
            continue
        g0, s = _small(grays[a.index])
        g1, _ = _small(grays[b.index])
        width = max(a.face.box.width * s, 1.0)
        ring = _rect_mask(g0.shape, _scaled(a.face.box, s, 2.2), _scaled(a.face.box, s, 1.25))
        far = 255 - _rect_mask(g0.shape, _scaled(a.face.box, s, 3.0), None)
        d_ring = _flow(g0, g1, ring)
        if d_ring is None:
            continue
        d_face = (b.points[_INNER].mean(axis=0) - a.points[_INNER].mean(axis=0)) * s
        d_bg = _flow(g0, g1, far)
        rel += float(np.linalg.norm(d_face - d_ring)) / width
        face_sum += float(np.linalg.norm(d_face)) / width
        ring_sum += float(np.linalg.norm(d_ring)) / width
        if d_bg is not None:
            ring_bg += float(np.linalg.norm(d_ring - d_bg)) / width
            bg_sum += float(np.linalg.norm(d_bg)) / width
            n_bg += 1
        n += 1
    if n == 0:
        return {"independence": math.nan, "ring_vs_bg": math.nan, "face_motion": math.nan}
    # The floor keeps sub-pixel jitter of a still scene from reading as independent motion.
    floor = 0.004 * n
    return {
        "independence": rel / (face_sum + ring_sum + floor),
        # NaN (unknown, weighed as average) when the face fills the frame and no far
        # background is left to compare with.
        "ring_vs_bg": ring_bg / (ring_sum + bg_sum + floor) if n_bg else math.nan,
        "face_motion": face_sum / n,
    }


def _cheeks(points: FloatArray, width: int, height: int) -> list[tuple[int, int, int, int]]:
    top = float(points[29, 1])  # nose ridge, below the eyes
    bottom = float(points[33, 1])  # nose base, above the lips
    out = []
    for outer, inner in ((points[36, 0], points[31, 0]), (points[35, 0], points[45, 0])):
        x0, x1 = sorted((float(outer), float(inner)))
        box = (round(x0), round(top), round(x1), round(bottom))
        if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
            out.append((max(box[0], 0), max(box[1], 0), min(box[2], width), min(box[3], height)))
    return out


def pulse_cue(frames: Sequence[ImageArray], obs: Sequence[Observation]) -> dict[str, float]:
    """SNR of the pulse band in the CHROM signal (de Haan & Jeanne 2013) of the cheeks."""
    times, rgb = [], []
    for o in obs:
        img = frames[o.index]
        h, w = img.shape[:2]
        pixels = [img[y0:y1, x0:x1].reshape(-1, 3) for x0, y0, x1, y1 in _cheeks(o.points, w, h)]
        pixels = [p for p in pixels if len(p)]
        if not pixels:
            continue
        bgr = np.concatenate(pixels).astype(np.float64).mean(axis=0)
        times.append(o.timestamp)
        rgb.append(bgr[::-1])
    if len(times) < 16 or times[-1] - times[0] < 1.5:
        return {"pulse": 0.0}
    t = np.asarray(times)
    fs = 10.0
    grid = np.arange(t[0], t[-1], 1.0 / fs)
    c = np.stack([np.interp(grid, t, np.asarray(rgb)[:, k]) for k in range(3)], axis=1)
    c = c / np.maximum(c.mean(axis=0), 1e-6)
    x = 3.0 * c[:, 0] - 2.0 * c[:, 1]
    y = 1.5 * c[:, 0] + c[:, 1] - 1.5 * c[:, 2]
    alpha = x.std() / y.std() if y.std() > 1e-9 else 0.0
    s = x - alpha * y
    s = s - np.polyval(np.polyfit(np.arange(len(s)), s, 2), np.arange(len(s)))
    spec = np.abs(np.fft.rfft(s * np.hanning(len(s)), n=512)) ** 2
    freqs = np.fft.rfftfreq(512, 1.0 / fs)
    band = (freqs >= 0.7) & (freqs <= 3.0)
    wide = (freqs >= 0.5) & (freqs <= 4.5)
    if not band.any() or spec[wide].sum() <= 0:
        return {"pulse": 0.0}
    peak = freqs[band][int(np.argmax(spec[band]))]
    near = wide & (np.abs(freqs - peak) <= 0.2)
    return {"pulse": float(spec[near].sum() / spec[wide].sum())}


_TEX = 128


def _face_crop(pixels: ImageArray, box: Box) -> ImageArray | None:
    h, w = pixels.shape[:2]
    x0, y0, x1, y1 = box.clip(w, h).as_ints()
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    crop = pixels[y0:y1, x0:x1]
    interp = cv2.INTER_AREA if crop.shape[0] > _TEX else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(crop, (_TEX, _TEX), interpolation=interp), dtype=np.uint8)


def _radial_index() -> tuple[FloatArray, np.ndarray]:
    f = np.fft.fftfreq(_TEX)
    r = np.sqrt(f[None, :] ** 2 + f[:, None] ** 2).astype(np.float32)
    bins = np.minimum((r * _TEX).astype(np.int64), _TEX // 2)
    return r, bins


_R, _BINS = _radial_index()
_WINDOW = np.outer(np.hanning(_TEX), np.hanning(_TEX)).astype(np.float32)


def texture_cues(pixels: ImageArray, box: Box) -> dict[str, float] | None:
    crop = _face_crop(pixels, box)
    if crop is None:
        return None
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32)
    gray = (gray - gray.mean()) * _WINDOW
    power = np.abs(np.fft.fft2(gray)) ** 2
    usable = (_R >= 0.02) & (_R <= 0.5)
    total = float(power[usable].sum()) or 1.0
    hf = float(power[(_R >= 0.25) & (_R <= 0.5)].sum()) / total
    radial = np.bincount(_BINS.ravel(), weights=power.ravel()) / np.maximum(
        np.bincount(_BINS.ravel()), 1
    )
    ratio = power / np.maximum(radial[_BINS], 1e-9)
    mid = (_R >= 0.08) & (_R <= 0.5)
    peak = float(np.log10(np.percentile(ratio[mid], 99.9) + 1e-9))
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
    v = hsv[..., 2].astype(np.float32)
    return {
        "hf_ratio": math.log10(hf + 1e-6),
        "spectral_peak": peak,
        "saturation": float(hsv[..., 1].mean()) / 255.0,
        "contrast": float(v.std() / max(v.mean(), 1.0)),
        "specular": float((v >= 250).mean()),
    }


# LSD keeps scratch state per call: one per thread, as for the other OpenCV models.
_LSD = PerThread(cv2.createLineSegmentDetector)
# Outer limit of the band searched for a paper edge or a bezel, in face-box sizes.
EDGE_BAND = 3.5


def edge_cues(gray: ImageArray, box: Box) -> dict[str, float]:
    """Long straight segments around the face: ``edges``, their total length in the band
    1.2–3.5× the face box (log of face widths), and ``enclosure``, on how many sides of the face
    (0–4) such a segment runs across it — the frame of a paper or a screen surrounds the face,
    a door or a shelf behind a person seldom does on more than two sides."""
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
    return {"edges": math.log1p(total), "enclosure": float(len(sides))}


_NATIVE_INDEX: dict[int, tuple[FloatArray, np.ndarray, FloatArray]] = {}


def _native_index(side: int) -> tuple[FloatArray, np.ndarray, FloatArray]:
    if side not in _NATIVE_INDEX:
        f = np.fft.fftfreq(side)
        r = np.sqrt(f[None, :] ** 2 + f[:, None] ** 2).astype(np.float32)
        bins = np.minimum((r * side).astype(np.int64), side // 2)
        window = np.outer(np.hanning(side), np.hanning(side)).astype(np.float32)
        _NATIVE_INDEX[side] = (r, bins, window)
    return _NATIVE_INDEX[side]


def moire_cue(pixels: ImageArray, box: Box) -> float | None:
    """Spectral peak of the face's centre at the camera's own resolution. Resampling the crop
    (as ``texture_cues`` does for scale-free measures) would blur away the aliasing pattern a
    screen's pixel grid or a print's dots make against the camera's sensor grid."""
    side = 128 if min(box.width, box.height) >= 128 else 64
    if min(box.width, box.height) < 48:
        return None
    h, w = pixels.shape[:2]
    cx, cy = round((box.left + box.right) / 2), round((box.top + box.bottom) / 2)
    x0, y0 = max(0, min(cx - side // 2, w - side)), max(0, min(cy - side // 2, h - side))
    patch = pixels[y0 : y0 + side, x0 : x0 + side]
    if patch.shape[:2] != (side, side):
        return None
    r, bins, window = _native_index(side)
    gray = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY).astype(np.float32)
    power = np.abs(np.fft.fft2((gray - gray.mean()) * window)) ** 2
    radial = np.bincount(bins.ravel(), weights=power.ravel()) / np.maximum(
        np.bincount(bins.ravel()), 1
    )
    ratio = power / np.maximum(radial[bins], 1e-9)
    mid = (r >= 0.08) & (r <= 0.5)
    return float(np.log10(np.percentile(ratio[mid], 99.5) + 1e-9))


# Corners are tracked on the face at this width (pixels): fine enough to see a nose's parallax,
# small enough to keep tracking cheap on a large face.
_PLANE_FACE = 96.0


def _face_view(gray: ImageArray, box: Box, s: float) -> tuple[ImageArray, int, int]:
    """The face box grown by 30 %, scaled by ``s``, and its top-left corner in the frame."""
    h, w = gray.shape[:2]
    left, top, right, bottom = _scaled(box, 1.0, 1.3)
    x0, y0 = max(0, int(left)), max(0, int(top))
    crop = gray[y0 : min(h, math.ceil(bottom)), x0 : min(w, math.ceil(right))]
    if s < 1.0 and crop.size:
        size = (max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s)))
        return np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA), np.uint8), x0, y0
    return crop, x0, y0


def _plane_residual(g0: ImageArray, g1: ImageArray, mask: ImageArray) -> float | None:
    """75th percentile of how far corners tracked from ``g0`` to ``g1`` land from where the
    best homography of them puts them, in pixels (None when too few track reliably)."""
    tracked = _track(
        g0, g1, mask, corners=80, quality=0.005, spacing=3, levels=3, least=12, check_back=True
    )
    if tracked is None:
        return None
    p0, p1 = tracked
    # Least median of squares: the fit follows the majority of the face, and what does not
    # follow it (a nose turning against the cheeks, a moving mouth) shows in the residual.
    hm, _ = cv2.findHomography(p0, p1, cv2.LMEDS)
    if hm is None:
        return None
    proj = cv2.perspectiveTransform(p0.reshape(-1, 1, 2), hm).reshape(-1, 2)
    return float(np.percentile(np.linalg.norm(proj - p1, axis=1), 75))


def planarity_cue(grays: Sequence[ImageArray], obs: Sequence[Observation]) -> dict[str, float]:
    """``planar``: log10 of the median, over frame pairs 0.3 s apart, of the plane residual of
    corners tracked on the face, in face widths. The landmark version (``nonrigid_*``) is
    limited by the landmarks' own jitter; sub-pixel corner tracking is not, so a photo moved by
    a hand scores far lower than a live face, whose nose, eyes and mouth never move as one
    plane. NaN when no pair could be measured."""
    residuals = []
    # Every other pair: neighbouring pairs share most of their motion, and half of them give
    # the same median at half the cost (tracking is this cue's cost, about 2 ms a pair).
    for a, b in _pairs(obs, RIGID_GAP_S)[::2]:
        box = a.face.box
        s = min(1.0, _PLANE_FACE / max(box.width, 1.0))
        g0, x0, y0 = _face_view(grays[a.index], box, s)
        g1, _, _ = _face_view(grays[b.index], box, s)
        if g0.shape != g1.shape or min(g0.shape) < 16:
            continue
        # Corners inside the hull of the inner landmarks: on the face, not on hair or background.
        hull = cv2.convexHull(((a.points[_INNER] - (x0, y0)) * s).astype(np.int32))
        mask = np.zeros(g0.shape, np.uint8)
        cv2.fillConvexPoly(mask, hull, 255)
        r = _plane_residual(g0, g1, mask)
        if r is not None:
            residuals.append(r / max(box.width * s, 1.0))
    if not residuals:
        return {"planar": math.nan}
    return {"planar": math.log10(float(np.median(residuals)) + 1e-4)}
