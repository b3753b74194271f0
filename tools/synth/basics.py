"""Array types, random draws and colour.

Everything is composed in linear light: sRGB code values are decoded on the way in
(``linear``, ``lin_colour``) and encoded only by the camera's tone curve. Skin and clothes
colours are BGR sRGB as photographed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
U8 = npt.NDArray[np.uint8]
Face = tuple[float, float, float, float, float]  # x, y, w, h, score
_T = TypeVar("_T")
MAX_TEX = 2048  # longest side of a texture
# Shares of each kind: "hard" videos (paper/device edges never in the frame), of which some are
# close-ups; objects shown to the camera with large slow turns (never hard ones).
HARD_SHARE = 0.25
CLOSE_UP_SHARE = 0.4
SHOWING_SHARE = 0.25
MIN_FACE_PX = 48  # attack faces are at least this wide (YuNet misses smaller ones in CIF/QCIF)
MAX_FACE_FRAC = 0.72  # and at most this share of a (4:3) frame's width
LUMA = np.array([0.0722, 0.7152, 0.2126], np.float32)  # BGR weights (Rec. 709)


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


def srgb_decode(x: F64) -> F64:
    out: F64 = np.where(x <= 0.04045, x / 12.92, ((np.maximum(x, 0) + 0.055) / 1.055) ** 2.4)
    return out


def srgb_encode(x: F64) -> F64:
    x = np.clip(x, 0.0, None)
    out: F64 = np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)
    return out


SRGB_TO_LINEAR: F32 = srgb_decode(np.arange(256) / 255.0).astype(np.float32)


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
    return srgb_decode(np.asarray(bgr, np.float64) / 255.0).astype(np.float32)


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
