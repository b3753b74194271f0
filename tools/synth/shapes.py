"""Anti-aliased drawing on premultiplied linear BGRA textures: rounded rectangles, polygons,
and the hands that hold a sheet or a device (tapered, cylinder-shaded capsules in the plane of
the object).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from tools.synth.basics import F32, F64, lin_colour, sym, uni
from tools.synth.geometry import Planar

SHIFT = 4  # fixed-point bits for anti-aliased polygon drawing


def _fixed(pts: Any) -> npt.NDArray[np.int32]:
    return (np.asarray(pts, np.float64) * (1 << SHIFT)).round().astype(np.int32).reshape(-1, 1, 2)


def rounded_rect(x0: float, y0: float, x1: float, y1: float, r: float, n: int = 10) -> F64:
    r = max(0.0, min(r, (x1 - x0) / 2, (y1 - y0) / 2))
    if r < 0.5:
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64)
    pts: list[tuple[float, float]] = []
    for cx, cy, a0 in ((x1 - r, y0 + r, -90), (x1 - r, y1 - r, 0), (x0 + r, y1 - r, 90)):
        pts += [
            (
                cx + r * math.cos(math.radians(a0 + 90 * k / n)),
                cy + r * math.sin(math.radians(a0 + 90 * k / n)),
            )
            for k in range(n + 1)
        ]
    cx, cy = x0 + r, y0 + r
    pts += [
        (
            cx + r * math.cos(math.radians(180 + 90 * k / n)),
            cy + r * math.sin(math.radians(180 + 90 * k / n)),
        )
        for k in range(n + 1)
    ]
    return np.array(pts, np.float64)


def poly_mask(shape: tuple[int, int], pts: F64) -> F32:
    """Anti-aliased coverage (0–1) of a polygon."""
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [_fixed(pts)], 255, cv2.LINE_AA, SHIFT)
    out: F32 = m.astype(np.float32) / 255.0
    return out


def ellipse_poly(cx: float, cy: float, ax: float, ay: float, angle: float, n: int = 48) -> F64:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ca, sa = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    x, y = ax * np.cos(t), ay * np.sin(t)
    return np.column_stack([cx + ca * x - sa * y, cy + sa * x + ca * y])


def paint(canvas: F32, mask: F32, colour: F32 | npt.NDArray[np.float32]) -> None:
    """Paint ``colour`` (a BGR triple or an h×w×3 image, linear) with coverage ``mask``."""
    a = mask[..., None]
    canvas[..., :3] *= 1 - a
    canvas[..., :3] += colour * a
    canvas[..., 3:] *= 1 - a
    canvas[..., 3:] += a


@dataclass(frozen=True)
class Capsule:
    """A tapered capsule (thumb, fingertip, palm, forearm) in object millimetres."""

    p0: tuple[float, float]
    p1: tuple[float, float]
    r0: float
    r1: float
    nail: bool = False
    cloth: bool = False  # a sleeve, not skin

    def polygon(self, n: int = 24) -> F64:
        a = np.linspace(0, 2 * np.pi, n, endpoint=False)
        ring = np.column_stack([np.cos(a), np.sin(a)])
        pts = np.vstack(
            [np.asarray(self.p0) + self.r0 * ring, np.asarray(self.p1) + self.r1 * ring]
        )
        hull = cv2.convexHull(pts.astype(np.float32))[:, 0, :]
        out: F64 = hull.astype(np.float64)
        return out


def draw_capsules(
    canvas: F32,
    caps: Sequence[Capsule],
    skin: F32,
    origin: tuple[float, float],
    ppm: float,
    sleeve: F32 | None = None,
) -> None:
    """Paint skin capsules (cylinder-shaded, thumbnails on thumbs) on a texel canvas.

    ``origin``: the object-frame mm of texel (0, 0); ``ppm``: texels per mm.
    """
    h, w = canvas.shape[:2]
    ox, oy = origin
    for c in caps:
        p0 = (np.asarray(c.p0) - (ox, oy)) * ppm
        p1 = (np.asarray(c.p1) - (ox, oy)) * ppm
        r0, r1 = c.r0 * ppm, c.r1 * ppm
        poly = Capsule((p0[0], p0[1]), (p1[0], p1[1]), r0, r1).polygon()
        x0, y0 = max(int(poly[:, 0].min()) - 2, 0), max(int(poly[:, 1].min()) - 2, 0)
        x1, y1 = min(int(poly[:, 0].max()) + 3, w), min(int(poly[:, 1].max()) + 3, h)
        if x1 <= x0 or y1 <= y0:
            continue
        sub = canvas[y0:y1, x0:x1]
        mask = poly_mask(sub.shape[:2], poly - (x0, y0))
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        d = p1 - p0
        length2 = max(float(d @ d), 1e-6)
        t = np.clip(((xx - p0[0]) * d[0] + (yy - p0[1]) * d[1]) / length2, 0, 1)
        dist = np.hypot(xx - (p0[0] + t * d[0]), yy - (p0[1] + t * d[1]))
        r = r0 + t * (r1 - r0)
        across = np.clip(1 - (dist / np.maximum(r, 1e-3)) ** 2, 0, 1)
        shade = 0.55 + 0.45 * np.sqrt(across)
        base = sleeve if c.cloth and sleeve is not None else skin
        paint(sub, mask, (base * shade[..., None]).astype(np.float32))
        if c.nail:
            u = d / math.sqrt(length2)
            centre = p1 - u * 0.15 * r1 - (x0, y0)
            ang = math.degrees(math.atan2(u[1], u[0]))
            nail = poly_mask(
                sub.shape[:2], ellipse_poly(centre[0], centre[1], 0.7 * r1, 0.55 * r1, ang, 24)
            )
            pink = lin_colour((185, 180, 225))
            paint(sub, nail * 0.8, (skin * 0.55 + pink * 0.45).astype(np.float32))


def _unit(v: F64) -> F64:
    out: F64 = v / max(float(np.linalg.norm(v)), 1e-9)
    return out


def _pt(v: F64) -> tuple[float, float]:
    return float(v[0]), float(v[1])


def edge_grip(
    rng: np.random.Generator,
    edge: str,
    at: float,
    rect: tuple[float, float, float, float],
    reach: float,
    sleeve: bool,
    inset: tuple[float, float] = (12.0, 24.0),
) -> tuple[list[Capsule], list[Capsule]]:
    """A hand holding an edge of a sheet/device (mm): (parts behind it, thumb in front of it).

    The forearm runs down and out of the picture (``reach`` mm; it stands in for an arm that
    recedes towards the body, which a single plane cannot show), bare or in a ``sleeve``.
    """
    x0, y0, x1, y1 = rect
    if edge in ("left", "right"):
        sgn = -1.0 if edge == "left" else 1.0
        e = np.array([x0 if edge == "left" else x1, y0 + at * (y1 - y0)])
        out = np.array([sgn, 0.0])
        away = _unit(out * uni(rng, 0.1, 0.45) + np.array([0.0, 1.0]))
    else:  # bottom
        e = np.array([x0 + at * (x1 - x0), y1])
        out = np.array([0.0, 1.0])
        away = _unit(np.array([(1 if at > 0.5 else -1) * uni(rng, 0.1, 0.35), 1.0]))
    r_palm = uni(rng, 27, 33)
    p0 = e + out * uni(rng, 4, 12)
    p1 = p0 + away * uni(rng, 45, 70)
    arm_dir = _unit(away + out * 0.1)
    p2 = p1 + arm_dir * max(reach, 300.0)
    wrist = r_palm * 0.85
    behind = [Capsule(_pt(p0), _pt(p1), r_palm, r_palm * 0.9)]
    if sleeve:
        cuff = p1 + arm_dir * uni(rng, 20, 50)
        behind += [
            Capsule(_pt(p1), _pt(cuff), wrist, wrist * 1.02),
            Capsule(_pt(cuff), _pt(p2), wrist * 1.25, wrist * 1.6, cloth=True),
        ]
    else:
        behind.append(Capsule(_pt(p1), _pt(p2), wrist, r_palm * 1.1))
    tilt = math.radians(uni(rng, -15, 35))  # mostly pointing a little upwards
    inward = -out
    if edge in ("left", "right"):
        up = np.array([0.0, -1.0])
    else:
        up = np.array([-1.0 if at > 0.5 else 1.0, 0.0])
    direction = _unit(inward * math.cos(tilt) + up * math.sin(tilt))
    base = e + out * uni(rng, 4, 10) + up * sym(rng, 6)
    tip = e + direction * uni(rng, *inset)
    thumb = Capsule(_pt(base), _pt(tip), uni(rng, 10.5, 12), uni(rng, 8.5, 10), nail=True)
    return behind, [thumb]


def phone_grip(
    rng: np.random.Generator,
    side: str,
    rect: tuple[float, float, float, float],
    reach: float,
    sleeve: bool,
) -> tuple[list[Capsule], list[Capsule]]:
    """One hand holding a portrait phone from behind: palm and wrist below, thumb on ``side``,
    fingertips peeking out on the other side."""
    x0, y0, x1, y1 = rect
    w, h = x1 - x0, y1 - y0
    sgn = -1.0 if side == "left" else 1.0
    cx = (x0 + x1) / 2
    r_palm = uni(rng, 36, 42)
    p0 = np.array([cx + sgn * 0.2 * w, y0 + uni(rng, 0.55, 0.7) * h])
    p1 = np.array([cx + sgn * 0.1 * w, y1 + uni(rng, 15, 35)])
    arm_dir = _unit(np.array([sgn * uni(rng, 0.05, 0.35), 1.0]))
    p2 = p1 + arm_dir * max(reach, 300.0)
    behind = [Capsule(_pt(p0), _pt(p1), r_palm, r_palm * 0.9)]
    if sleeve:
        cuff = p1 + arm_dir * uni(rng, 20, 50)
        behind += [
            Capsule(_pt(p1), _pt(cuff), r_palm * 0.72, r_palm * 0.74),
            Capsule(_pt(cuff), _pt(p2), r_palm * 0.95, r_palm * 1.3, cloth=True),
        ]
    else:
        behind.append(Capsule(_pt(p1), _pt(p2), r_palm * 0.72, r_palm * 0.9))
    x_other = x0 if sgn > 0 else x1
    for k in range(int(rng.integers(2, 4))):
        y = y0 + (uni(rng, 0.35, 0.45) + 0.13 * k) * h
        a = np.array([x_other + sgn * 12, y])
        b = np.array([x_other - sgn * uni(rng, 2, 7), y + uni(rng, 0, 5)])
        behind.append(Capsule(_pt(a), _pt(b), 8.5, 7.5))
    x_thumb = x1 if sgn > 0 else x0
    base = np.array([x_thumb + sgn * uni(rng, 10, 16), y0 + uni(rng, 0.85, 0.95) * h])
    tip = base + _unit(np.array([-sgn * uni(rng, 0.4, 0.9), -1.0])) * uni(rng, 24, 34)
    return behind, [Capsule(_pt(base), _pt(tip), uni(rng, 10.5, 12), uni(rng, 8.5, 10), nail=True)]


def capsule_layer(
    caps: Sequence[Capsule], skin: F32, sleeve: F32, ppm: float, clip_mm: float
) -> Planar | None:
    """A low-resolution texture holding the capsules behind an object (same plane)."""
    if not caps:
        return None
    pts = np.vstack([c.polygon() for c in caps])
    lo = np.maximum(pts.min(axis=0) - 3, -clip_mm)
    hi = np.minimum(pts.max(axis=0) + 3, clip_mm)
    ppm = min(ppm, 1400 / max(float((hi - lo).max()), 1.0))
    w, h = max(2, round((hi[0] - lo[0]) * ppm)), max(2, round((hi[1] - lo[1]) * ppm))
    tex = np.zeros((h, w, 4), np.float32)
    draw_capsules(tex, caps, skin, (float(lo[0]), float(lo[1])), ppm, sleeve)
    return Planar(tex, 1 / ppm, np.array([lo[0], lo[1], 0.0]))
