"""Face occlusion: the visible fraction of each eye, the nose and the mouth of one face.

The five landmarks define the regions: the face is warped by ``align_face`` onto the ArcFace
112×112 template, so each region is a fixed box in that crop (``REGION_BOXES``), centred on the
template points of the eyes, the nose tip and the mouth corners.

Naming follows the SenseID manual's convention of the person's own sides: ``left_eye`` is the
subject's LEFT eye, which in a non-mirrored photo is on the image's RIGHT (template point
(73.5, 51.5)); ``right_eye`` is the subject's right eye, on the image's left ((38.3, 51.7)).
YuNet's first landmark is likewise the subject's right eye.

Features (``occlusion_features``), all from the aligned crop:

* HOG of a patch around each region, and a coarse HOG of the whole face;
* an 8×8 CIE-Lab thumbnail of the face (colour layout);
* per region: Lab mean, standard deviation and 3×3 layout, the share of pixels whose chroma is
  close to the face's own skin (the median of forehead and cheek patches), dark and bright
  shares, gradient / Laplacian energy, and a small grey thumbnail relative to the skin's
  lightness;
* left/right asymmetry of the eyes and of the cheeks (one lens, one hand).

Model: for each region, a one-hidden-layer perceptron on the standardised feature vector whose
output is the region's visible fraction. It was trained by ``tools/train_occlusion.py`` on
LFW faces with synthetic occluders (sunglasses, masks, hands, patches) and a few dozen
hand-labelled photos with real ones (sunglasses, hands, medals), against the share of the
region's box left visible, sharpened (1 up to 20 % covered, 0 from 80 %, linear between), so 0.5
is where half the region is hidden — the point at which the API reports 4004. ``total`` is the
mean of the four regions.

Inference is numpy + OpenCV only, under a millisecond per face, and keeps no mutable state, so
one instance may serve all threads.

Known limits (see ``benchmarks/occlusion.py``): thin or light occluders over an eye (a finger, a
lightly tinted lens) often stay above 0.5; profile views and downcast eyes can score low.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from facegate.core.results import Occlusion
from facegate.core.types import FloatArray, ImageArray

F64 = npt.NDArray[np.float64]

CROP = 112
FEATURE_VERSION = 1
REGIONS: tuple[str, ...] = ("left_eye", "right_eye", "nose", "mouth")

# (left, top, right, bottom), right/bottom exclusive, in the 112×112 aligned crop. The eye boxes
# stop short of the eyebrows and the nose box starts below the glasses' bridge, so frames and
# eyebrows do not count as occlusion; the mouth box spans the lips from corner to corner.
REGION_BOXES: dict[str, tuple[int, int, int, int]] = {
    "left_eye": (59, 43, 88, 61),
    "right_eye": (24, 43, 53, 61),
    "nose": (45, 58, 67, 81),
    "mouth": (35, 83, 77, 101),
}

# HOG windows around each region: a little larger than the box so that an occluder's edge just
# outside it is seen, and sized in whole 8-pixel cells.
_HOG_WINDOWS: dict[str, tuple[int, int, int, int]] = {
    "left_eye": (54, 40, 94, 64),
    "right_eye": (18, 40, 58, 64),
    "nose": (40, 56, 72, 88),
    "mouth": (32, 80, 80, 104),
}

# Forehead and both cheeks: where the face's own skin colour is read. Taking the median of three
# spreads it so that a hand or mask over one of them does not move the reference much.
_SKIN_PATCHES: tuple[tuple[int, int, int, int], ...] = (
    (40, 22, 72, 36),
    (18, 64, 38, 80),
    (74, 64, 94, 80),
)

_GLOBAL_SIDE = 64
_THUMB_SIDE = 8
# Grey thumbnails of each region box (width, height): the raw look of a lens, a mask or a palm.
_REGION_THUMBS: dict[str, tuple[int, int]] = {
    "left_eye": (8, 5),
    "right_eye": (8, 5),
    "nose": (6, 6),
    "mouth": (10, 4),
}


def _hog(window: tuple[int, int, int, int], gray: ImageArray) -> FloatArray:
    x0, y0, x1, y1 = window
    # Constructing a descriptor costs well under a microsecond; one per call keeps the class free
    # of shared OpenCV objects.
    hog = cv2.HOGDescriptor((x1 - x0, y1 - y0), (16, 16), (8, 8), (8, 8), 9)
    patch = np.ascontiguousarray(gray[y0:y1, x0:x1])
    return np.asarray(hog.compute(patch), dtype=np.float32).ravel()


def _region_stats(
    lab: F64, grad: F64, lap: F64, box: tuple[int, int, int, int], ref: F64
) -> FloatArray:
    x0, y0, x1, y1 = box
    pix = lab[y0:y1, x0:x1]
    flat = pix.reshape(-1, 3)
    mean = flat.mean(axis=0)
    std = flat.std(axis=0)
    layout = cv2.resize(pix, (3, 3), interpolation=cv2.INTER_AREA).reshape(-1)
    chroma = np.abs(flat[:, 1] - ref[1]) + np.abs(flat[:, 2] - ref[2])
    light = flat[:, 0]
    ref_l = max(float(ref[0]), 1.0)
    g = grad[y0:y1, x0:x1]
    lp = lap[y0:y1, x0:x1]
    extra = np.array(
        [
            (chroma < 6.0).mean(),
            (chroma < 12.0).mean(),
            (chroma < 24.0).mean(),
            (light < 0.45 * ref_l).mean(),
            (light < 0.7 * ref_l).mean(),
            (light > 1.3 * ref_l).mean(),
            (light > 225.0).mean(),
            mean[0] - ref[0],
            mean[1] - ref[1],
            mean[2] - ref[2],
            float(np.abs(mean[1:] - ref[1:]).sum()),
            float(g.mean()) / ref_l * 100.0,
            float(np.log1p(lp.var())),
            float(np.log1p(g.var())),
            float(chroma.mean()),
            (light < 0.85 * ref_l).mean(),
            (light > 1.15 * ref_l).mean(),
            float(std[0]) / ref_l * 100.0,
        ],
        dtype=np.float32,
    )
    return np.concatenate([mean, std, layout, extra]).astype(np.float32)


def _symmetry(lab: F64) -> FloatArray:
    """How much the two eyes, and the two cheeks, differ once mirrored: one side hidden by a
    hand or a single lens breaks the face's symmetry."""
    out = []
    for a, b in (
        (REGION_BOXES["right_eye"], REGION_BOXES["left_eye"]),
        (_SKIN_PATCHES[1], _SKIN_PATCHES[2]),
    ):
        pa = lab[a[1] : a[3], a[0] : a[2]]
        pb = lab[b[1] : b[3], b[0] : b[2]][:, ::-1]
        h, w = min(pa.shape[0], pb.shape[0]), min(pa.shape[1], pb.shape[1])
        diff = np.abs(pa[:h, :w] - pb[:h, :w]).reshape(-1, 3).mean(axis=0)
        out.extend(diff.tolist())
    return np.array(out, np.float32) / 32.0


def occlusion_features(aligned_bgr_112: ImageArray) -> FloatArray:
    """The feature vector of one 112×112 aligned BGR face (``FEATURE_VERSION``)."""
    img = np.ascontiguousarray(aligned_bgr_112)
    if img.shape != (CROP, CROP, 3) or img.dtype != np.uint8:
        raise ValueError(f"expected a {CROP}×{CROP}×3 uint8 BGR crop, got {img.shape} {img.dtype}")
    gray: ImageArray = np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    # Sums run in float64: a float32 sum's rounding can depend on where the array happens to
    # sit in memory, and the weights are only reproducible if the features are bit-identical.
    lab: F64 = np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2Lab), dtype=np.float64)
    gx = np.asarray(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3), np.float64)
    gy = np.asarray(cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3), np.float64)
    # Not cv2.magnitude: its SIMD and scalar paths round differently, which again breaks
    # bit-identical features.
    grad: F64 = np.sqrt(gx * gx + gy * gy)
    lap: F64 = np.asarray(cv2.Laplacian(gray, cv2.CV_32F, ksize=3), dtype=np.float64)

    patches: F64 = np.stack(
        [lab[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0) for x0, y0, x1, y1 in _SKIN_PATCHES]
    )
    ref: F64 = np.sort(patches, axis=0)[1]  # the median of three

    small = cv2.resize(gray, (_GLOBAL_SIDE, _GLOBAL_SIDE), interpolation=cv2.INTER_AREA)
    global_hog = np.asarray(
        cv2.HOGDescriptor((64, 64), (16, 16), (16, 16), (8, 8), 9).compute(small),
        dtype=np.float32,
    ).ravel()
    thumb: FloatArray = np.asarray(
        cv2.resize(lab, (_THUMB_SIDE, _THUMB_SIDE), interpolation=cv2.INTER_AREA), np.float32
    ).reshape(-1)

    parts: list[FloatArray] = [
        global_hog,
        ((thumb - 128.0) / 64.0).astype(np.float32),
        (patches.reshape(-1) / 64.0).astype(np.float32),
    ]
    for name in REGIONS:
        parts.append(_region_stats(lab, grad, lap, REGION_BOXES[name], ref))
    ref_l = max(float(ref[0]), 1.0)
    for name in REGIONS:
        x0, y0, x1, y1 = REGION_BOXES[name]
        thumb_r = cv2.resize(
            lab[y0:y1, x0:x1, 0], _REGION_THUMBS[name], interpolation=cv2.INTER_AREA
        )
        parts.append(np.asarray(thumb_r, np.float32).reshape(-1) / ref_l - 1.0)
    parts.append(_symmetry(lab))
    for name in REGIONS:
        parts.append(_hog(_HOG_WINDOWS[name], gray))
    return np.concatenate(parts).astype(np.float32)


def feature_size() -> int:
    return int(occlusion_features(np.full((CROP, CROP, 3), 128, np.uint8)).shape[0])


def _sigmoid(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float64)


class OcclusionModel:
    id = "occlusion_2026nov_fp32"

    def __init__(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k]) for k in data.files}
        missing = {"meta", "mean", "scale"} - set(arrays)
        missing |= {f"{r}.{p}" for r in REGIONS for p in ("w1", "b1", "w2", "b2")} - set(arrays)
        if missing:
            raise ValueError(f"{path}: not occlusion weights, missing {sorted(missing)}")
        meta: dict[str, Any] = json.loads(str(arrays["meta"]))
        if int(meta["feature_version"]) != FEATURE_VERSION:
            raise ValueError(
                f"{path}: weights are for occlusion features v{meta['feature_version']}, "
                f"this code computes v{FEATURE_VERSION}"
            )
        dim = feature_size()
        self._mean = arrays["mean"].astype(np.float32)
        self._inv_scale = (1.0 / arrays["scale"].astype(np.float64)).astype(np.float32)
        # Stacked so that one batched product scores all four regions.
        self._w1 = np.stack([arrays[f"{r}.w1"] for r in REGIONS]).astype(np.float32)
        self._b1 = np.stack([arrays[f"{r}.b1"] for r in REGIONS]).astype(np.float32)
        self._w2 = np.stack([arrays[f"{r}.w2"] for r in REGIONS]).astype(np.float32)
        self._b2 = np.array([float(arrays[f"{r}.b2"]) for r in REGIONS], dtype=np.float32)
        hidden = self._w1.shape[2] if self._w1.ndim == 3 else -1
        shapes_ok = (
            self._mean.shape == (dim,)
            and self._inv_scale.shape == (dim,)
            and self._w1.shape == (len(REGIONS), dim, hidden)
            and self._b1.shape == (len(REGIONS), hidden)
            and self._w2.shape == (len(REGIONS), hidden)
        )
        if not shapes_ok or not all(
            np.isfinite(a).all() for a in (self._mean, self._inv_scale, self._w1, self._w2)
        ):
            raise ValueError(f"{path}: layer shapes do not fit {dim} features, or not finite")
        self.meta = meta

    def visible_batch(self, features: FloatArray) -> npt.NDArray[np.float64]:
        """Visible fraction per region, shape (n, 4) in ``REGIONS`` order, for (n, d) features."""
        z = (np.asarray(features, np.float32) - self._mean) * self._inv_scale
        h = np.maximum(np.matmul(z[None, :, :], self._w1) + self._b1[:, None, :], 0.0)
        logits = np.einsum("rnh,rh->nr", h, self._w2) + self._b2
        return _sigmoid(logits.astype(np.float64))

    def estimate_aligned(self, aligned_bgr_112: ImageArray) -> Occlusion:
        v = self.visible_batch(occlusion_features(aligned_bgr_112)[None, :])[0]
        values = {name: float(np.clip(v[i], 0.0, 1.0)) for i, name in enumerate(REGIONS)}
        total = float(np.mean([values[name] for name in REGIONS]))
        return Occlusion(total=total, **values)
