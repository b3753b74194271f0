"""Geometry and motion of rigid planes seen by a pinhole camera.

Poses, hand tremor and drift (``Wobble``), textured planes (``Planar``) projected with the exact
plane-induced homography ``K [r1 r2 t]``, motion smear, compositing and Lambertian shading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import cv2
import numpy as np

from tools.synth.basics import F32, F64, as_f32, chance, uni


def rotation(yaw: float, pitch: float, roll: float) -> F64:
    """Rotation (degrees) about y (yaw), then x (pitch), then z (roll); OpenCV camera axes."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    out: F64 = rz @ rx @ ry
    return out


def project(kmat: F64, pts: F64) -> F64:
    """Camera-frame points (N, 3) → pixels (N, 2)."""
    p = (kmat @ pts.T).T
    out: F64 = p[:, :2] / p[:, 2:3]
    return out


@dataclass(frozen=True)
class Wobble:
    """Six-DOF offsets (yaw, pitch, roll in degrees; x, y, z in mm) of a hand-held object.

    Tremor: a sum of sinusoids at 1–8 Hz with 1/f amplitudes and random phases per DOF; drift:
    one slow sinusoid (0.05–0.35 Hz) and a linear ramp, both zero at t = 0.
    """

    amp: F64
    freq: F64
    phase: F64
    drift_amp: F64
    drift_freq: F64
    drift_phase: F64
    ramp: F64

    def at(self, t: float) -> F64:
        tremor = (self.amp * np.sin(2 * np.pi * self.freq * t + self.phase)).sum(axis=1)
        drift = self.drift_amp * (
            np.sin(2 * np.pi * self.drift_freq * t + self.drift_phase) - np.sin(self.drift_phase)
        )
        out: F64 = tremor + drift + self.ramp * t
        return out

    def is_still(self) -> bool:
        return not (self.amp.any() or self.drift_amp.any() or self.ramp.any())

    def damped(self, k: float, turns: bool = True) -> Wobble:
        """Less drift (``turns`` False: of the translations only, keeping a shown object's
        sweeping turns)."""
        m = np.full(6, k) if turns else np.array([1, 1, 1, k, k, k], np.float64)
        return replace(self, drift_amp=self.drift_amp * m, ramp=self.ramp * m)

    def sweep(self, seconds: float) -> dict[str, float]:
        """Peak-to-peak excursion of the turns and shifts over ``[0, seconds]``."""
        span = np.array([self.at(t) for t in np.linspace(0, seconds, 81)])
        r = span.max(axis=0) - span.min(axis=0)
        return {
            "yaw_deg": round(float(r[0]), 1),
            "pitch_deg": round(float(r[1]), 1),
            "roll_deg": round(float(r[2]), 1),
            "x_mm": round(float(r[3]), 1),
            "y_mm": round(float(r[4]), 1),
            "z_mm": round(float(r[5]), 1),
        }

    def describe(self) -> dict[str, float]:
        rms = np.sqrt((self.amp**2).sum(axis=1) / 2)
        return {
            "tremor_rot_deg": round(float(rms[:3].mean()), 3),
            "tremor_trans_mm": round(float(rms[3:].mean()), 3),
            "drift_rot_deg": round(float(np.abs(self.drift_amp[:3]).mean()), 3),
            "drift_trans_mm": round(float(np.abs(self.drift_amp[3:]).mean()), 3),
        }


def still_wobble() -> Wobble:
    z = np.zeros((6, 1))
    z6 = np.zeros(6)
    return Wobble(z, z + 1.0, z, z6, z6 + 0.1, z6, z6)


def make_wobble(
    rng: np.random.Generator,
    rot: float,
    trans: float,
    rot_drift: float,
    trans_drift: float,
    seconds: float,
) -> Wobble:
    n = int(rng.integers(2, 5))
    freq = np.exp(rng.uniform(math.log(1.0), math.log(8.0), (6, n)))
    weights = rng.uniform(0.5, 1.5, (6, n)) / freq**1.5
    weights /= np.sqrt((weights**2).sum(axis=1, keepdims=True) / 2)  # unit RMS per DOF
    scale = np.array([rot, rot, 0.7 * rot, trans, trans, 1.5 * trans]) * rng.uniform(0.6, 1.4, 6)
    dscale = np.array(
        [rot_drift, rot_drift, 0.6 * rot_drift, trans_drift, trans_drift, 1.5 * trans_drift]
    ) * rng.uniform(0.3, 1.0, 6)
    return Wobble(
        amp=weights * scale[:, None],
        freq=freq,
        phase=rng.uniform(0, 2 * np.pi, (6, n)),
        drift_amp=dscale * rng.choice([-1.0, 1.0], 6),
        drift_freq=rng.uniform(0.05, 0.35, 6),
        drift_phase=rng.uniform(0, 2 * np.pi, 6),
        ramp=rng.uniform(-1, 1, 6) * dscale * 0.4 / max(seconds, 0.5),
    )


def hand_wobble(rng: np.random.Generator, seconds: float, k: float = 1.0) -> Wobble:
    """An object held in a hand (``k`` < 1: a heavier one)."""
    return make_wobble(
        rng,
        k * uni(rng, 0.2, 1.0),
        k * uni(rng, 0.3, 2.0),
        uni(rng, 0.8, 4),
        k * uni(rng, 3, 20),
        seconds,
    )


def showing_wobble(rng: np.random.Generator, seconds: float, k: float = 1.0) -> Wobble:
    """An object shown to the camera: hand tremor plus large slow turns (yaw or pitch sweeping
    10–25° over the clip, the other 0.3–1× that) and translations of several centimetres."""
    base = hand_wobble(rng, seconds, k)
    freq = rng.uniform(0.08, 0.22, 6)
    phase = rng.uniform(0, 2 * np.pi, 6)
    ts = np.linspace(0, seconds, 81)
    unit = np.sin(2 * np.pi * freq[:, None] * ts + phase[:, None]) - np.sin(phase)[:, None]
    span = unit.max(axis=1) - unit.min(axis=1)
    main = uni(rng, 10, 25)
    other = main * uni(rng, 0.3, 1.0)
    turns = [main, other] if chance(rng, 0.5) else [other, main]
    target = np.array(
        [*turns, uni(rng, 2, 6), uni(rng, 30, 80), uni(rng, 20, 60), uni(rng, 40, 120)]
    )
    # amplitudes that make each sweep exactly its target over the clip, whatever its phase
    amp = target / np.maximum(span, 1e-3) * rng.choice([-1.0, 1.0], 6)
    return replace(base, drift_amp=amp, drift_freq=freq, drift_phase=phase, ramp=np.zeros(6))


def propped_wobble(rng: np.random.Generator, seconds: float) -> Wobble:
    """An object leaning on something: it barely moves."""
    return make_wobble(
        rng,
        uni(rng, 0.01, 0.06),
        uni(rng, 0.03, 0.2),
        uni(rng, 0.03, 0.2),
        uni(rng, 0.1, 1.0),
        seconds,
    )


def camera_shake(rng: np.random.Generator, seconds: float) -> Wobble:
    """A phone or camera held in a hand while filming."""
    return make_wobble(
        rng, uni(rng, 0.05, 0.3), uni(rng, 0.2, 1.0), uni(rng, 0.3, 1.5), uni(rng, 1, 6), seconds
    )


@dataclass
class Pose:
    """Pose of a rigid object in the camera frame at rest, plus its wobble."""

    angles: F64  # yaw, pitch, roll (degrees)
    t: F64  # mm
    wobble: Wobble

    def at(self, time_s: float) -> tuple[F64, F64]:
        w = self.wobble.at(time_s)
        return rotation(*(self.angles + w[:3])), self.t + w[3:]

    def angles_at(self, time_s: float) -> F64:
        out: F64 = self.angles + self.wobble.at(time_s)[:3]
        return out


@dataclass
class Planar:
    """A textured plane: premultiplied linear BGR(+alpha) texels and their place in the object.

    Texel (u, v) sits at ``origin + (u e1 + v e2) * mm`` in the object frame (mm, x right,
    y down, z away from the camera).
    """

    tex: F32
    mm: float
    origin: F64
    e1: F64 = field(default_factory=lambda: np.array([1.0, 0.0, 0.0]))
    e2: F64 = field(default_factory=lambda: np.array([0.0, 1.0, 0.0]))

    def point(self, u: float, v: float) -> F64:
        out: F64 = self.origin + (u * self.e1 + v * self.e2) * self.mm
        return out

    def corners(self) -> F64:
        h, w = self.tex.shape[:2]
        return np.array([self.point(u, v) for u, v in ((0, 0), (w, 0), (w, h), (0, h))])

    def homography(self, kmat: F64, rot: F64, trans: F64) -> F64:
        a_mat = np.column_stack(
            [rot @ self.e1 * self.mm, rot @ self.e2 * self.mm, rot @ self.origin + trans]
        )
        out: F64 = kmat @ a_mat
        return out


@dataclass(frozen=True)
class Bend:
    """A sheet bent into a cylinder about an axis through its centre, flexed by a hand.

    ``vertical``: the axis runs along the sheet's y, so the sheet curves left–right; otherwise
    top–bottom. A point at distance ``s`` (mm, along the sheet) from the axis line goes to
    ``sin(κs)/κ`` along and ``−(1 − cos κs)/κ`` in depth (κ > 0: the edges come towards the
    camera). The curvature varies about ``kappa`` as ``κ(t) = kappa · (1 + flex · sin(2π f t + φ)
    + tremor)``: a slow flex and a few per cent of tremor. The surface is drawn as ``facets``
    planar strips, each lit by its own normal.
    """

    vertical: bool
    kappa: float  # 1/mm
    flex: float  # relative amplitude of the slow flex
    flex_freq: float
    flex_phase: float
    tremor: F64  # (3, n): relative amplitudes, frequencies (Hz), phases
    facets: int

    def curvature(self, t: float) -> float:
        a, f, p = self.tremor
        slow = math.sin(2 * math.pi * self.flex_freq * t + self.flex_phase)
        shake = float((a * np.sin(2 * np.pi * f * t + p)).sum())
        return self.kappa * (1 + self.flex * slow + shake)

    def bent(self, pts: F64, kappa: float) -> F64:
        """Object-frame points of the flat sheet (N, 3; z = 0) → on the cylinder."""
        out = pts.astype(np.float64)
        axis = 0 if self.vertical else 1
        s = pts[:, axis]
        if abs(kappa) < 1e-9:
            return out
        out[:, axis] = np.sin(kappa * s) / kappa
        out[:, 2] = pts[:, 2] - (1 - np.cos(kappa * s)) / kappa
        return out

    def facet_planes(self, sheet: Planar, kappa: float) -> list[tuple[Planar, int]]:
        """The sheet as planar strips along the bend, with each strip's first texel (column or
        row) in the sheet's texture. Strips overlap their neighbours by a texel, so that the
        anti-aliased edges of adjacent strips never let the background through."""
        h, w = sheet.tex.shape[:2]
        n_tex = w if self.vertical else h
        cuts = np.linspace(0, n_tex, self.facets + 1).round().astype(int)
        along = sheet.e1 if self.vertical else sheet.e2
        across = sheet.e2 if self.vertical else sheet.e1
        out: list[tuple[Planar, int]] = []
        for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True):
            lo, hi = max(a - 1, 0), min(b + 1, n_tex)
            ends = self.bent(
                np.array(
                    [sheet.origin + along * a * sheet.mm, sheet.origin + along * b * sheet.mm]
                ),
                kappa,
            )
            step = (ends[1] - ends[0]) / ((b - a) * sheet.mm)  # per texel, in mm units
            origin = ends[0] - step * (a - lo) * sheet.mm
            tex = sheet.tex[:, lo:hi] if self.vertical else sheet.tex[lo:hi]
            if self.vertical:
                out.append((Planar(tex, sheet.mm, origin, step, across), lo))
            else:
                out.append((Planar(tex, sheet.mm, origin, across, step), lo))
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "axis": "vertical" if self.vertical else "horizontal",
            "radius_mm": round(1 / abs(self.kappa), 1),
            "edges": "towards the camera" if self.kappa > 0 else "away from the camera",
            "flex": round(self.flex, 3),
            "flex_hz": round(self.flex_freq, 3),
            "tremor": round(float(np.abs(self.tremor[0]).sum()), 4),
            "facets": self.facets,
        }


def random_bend(rng: np.random.Generator, sheet_w: float, sheet_h: float) -> Bend:
    """A bend of radius 1–4× the sheet's extent across the bend, either way, flexing by ±10–25 %
    at 0.15–0.6 Hz with 1–4 % of tremor at 3–8 Hz."""
    vertical = chance(rng, 0.6)
    extent = sheet_w if vertical else sheet_h
    radius = extent * math.exp(uni(rng, math.log(1.0), math.log(4.0)))
    n = int(rng.integers(2, 4))
    tremor = np.stack(
        [
            rng.uniform(0.01, 0.04, n) / n,
            rng.uniform(3.0, 8.0, n),
            rng.uniform(0, 2 * np.pi, n),
        ]
    )
    return Bend(
        vertical=vertical,
        kappa=float(rng.choice([-1.0, 1.0])) / radius,
        flex=uni(rng, 0.1, 0.25),
        flex_freq=uni(rng, 0.15, 0.6),
        flex_phase=uni(rng, 0, 2 * np.pi),
        tremor=tremor,
        facets=int(rng.integers(8, 17)),
    )


def face_inside(centre: F64, width: float, img_w: int, img_h: int) -> bool:
    """Whether most of a face (``width`` px wide, 1.2× as tall) centred at ``centre`` is inside."""
    mx, my = max(0.45 * width, 0.08 * img_w), max(0.55 * width, 0.08 * img_h)
    return bool(mx < centre[0] < img_w - mx and my < centre[1] < img_h - my)


def to_camera(rot: F64, trans: F64, pts: F64) -> F64:
    out: F64 = (rot @ pts.T).T + trans
    return out


def warp_patch(
    tex: F32, hom: F64, size: tuple[int, int], pad: int = 0
) -> tuple[F32, int, int] | None:
    """Warp ``tex`` by ``hom`` (texel → pixel) into the bounding box of its image in a frame.

    ``pad``: extra pixels around the box (room for a motion smear).
    """
    out_w, out_h = size
    h, w = tex.shape[:2]
    c = np.array([[-0.5, -0.5, 1], [w - 0.5, -0.5, 1], [w - 0.5, h - 0.5, 1], [-0.5, h - 0.5, 1]])
    p = hom @ c.T
    if (p[2] <= 1e-6).any():
        return None
    xs, ys = p[0] / p[2], p[1] / p[2]
    x0, y0 = max(math.floor(xs.min()) - 1 - pad, 0), max(math.floor(ys.min()) - 1 - pad, 0)
    x1, y1 = min(math.ceil(xs.max()) + 2 + pad, out_w), min(math.ceil(ys.max()) + 2 + pad, out_h)
    if x1 <= x0 or y1 <= y0:
        return None
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
    patch = cv2.warpPerspective(
        tex, shift @ hom, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    if patch.ndim == 2:
        patch = patch[..., None]
    return as_f32(patch), x0, y0


def smear(img: F32, d: F64, border: int = cv2.BORDER_CONSTANT) -> F32:
    """Motion blur: the mean of copies of ``img`` shifted along ``d`` (pixels, centred).

    Shifts are whole pixels (the lens blur that follows hides the rounding).
    """
    length = float(np.hypot(*d))
    if length < 1.0:
        return img
    n = min(8, math.ceil(length) + 1)
    steps = [(k / (n - 1) - 0.5) for k in range(n)]
    offsets = [(round(float(d[0]) * f), round(float(d[1]) * f)) for f in steps]
    r = max(max(abs(ox), abs(oy)) for ox, oy in offsets)
    h, w = img.shape[:2]
    padded = as_f32(cv2.copyMakeBorder(img, r, r, r, r, border, value=0)).reshape(
        (h + 2 * r, w + 2 * r, *img.shape[2:])
    )
    acc = np.zeros_like(img)
    for ox, oy in offsets:
        acc += padded[r - oy : r - oy + h, r - ox : r - ox + w]
    acc /= n
    return acc


def over(frame: F32, patch: F32, x0: int, y0: int, gain: float = 1.0) -> None:
    """Composite a premultiplied BGRA patch over ``frame`` in place."""
    h, w = patch.shape[:2]
    region = frame[y0 : y0 + h, x0 : x0 + w]
    *colour, a = cv2.split(patch)  # planar arithmetic is much faster than broadcasting
    inv = 1 - a
    for c, plane in enumerate(colour):
        dst = region[..., c]
        dst *= inv
        dst += plane * gain if gain != 1.0 else plane


FACING = np.array([0.0, 0.0, -1.0])  # an object's front normal, towards the camera


def lambert(rot: F64, light: F64, ambient: float, normal: F64 = FACING) -> float:
    """Brightness of a plane with attitude R lit from direction ``light`` (towards the light);
    ``normal``: the plane's front normal in the object frame."""
    return ambient + (1 - ambient) * max(0.05, float((rot @ normal) @ light))
