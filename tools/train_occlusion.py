"""Train the face-occlusion estimator (``facegate.vision.quality.occlusion``) on LFW faces with
synthetic occluders, and write its weights as an ``.npz``.

    python -m tools.train_occlusion --data /work/shared/data/lfw \\
        --out src/facegate/vision/quality/occlusion_2026nov_fp32.npz

How a sample is made (the same code makes the held-out test samples in ``occlusion.py``):

1. An LFW photo (read in place), flipped left-right half of the time for training; YuNet finds the
   largest face; its five landmarks fix the "canvas", the template's 112×112 frame drawn at 2×
   with a margin around it.
2. An occluder is drawn on the canvas: sunglasses (both lenses or one), clear eyeglasses (a
   negative), medical or cloth masks (nose and mouth, or mouth only), hand-like shapes in skin
   colours taken from other faces, generic patches (other photos' backgrounds, other faces,
   solid colours, noise, stripes), scarves, and near misses that cover < 30 % of every region.
   Occluders are lit like the face under them, feathered at the edges and randomly scaled,
   shifted and rotated.
3. The share of each region's box (``REGION_BOXES``) the occluder covers is its label; the region
   counts as occluded at ≥ 50 %. The training target is the visible share, sharpened
   (``visible_target``: 1 up to 20 % covered, 0 from 80 %, 0.5 at half covered).
4. The occluder is warped back into the ORIGINAL photo, the photo is degraded (brightness,
   colour cast, blur, noise, downscaling, JPEG), YuNet runs again and the face is aligned on the
   NEW landmarks, so the model sees what the service would see, landmark drift under the
   occluder included. A face YuNet no longer finds is counted, not used.

Real occluders: about 1 % of LFW photos show real sunglasses (and a few a hand, a medal or a
microphone before the mouth). Left among the "clean" faces they taught the model that real
sunglasses are visible eyes (on the held-out persons it then flagged 18 % of such photos), so
they are labelled by hand in ``REAL_OCCLUSIONS`` (their regions stay covered in every sample,
and those of train persons are drawn ``REAL_REPEATS`` more times), and photos that are neither
clean nor clearly occluded are left out (``AMBIGUOUS``).

Persons are split by a salted hash of the name: 30 % TEST (never trained or tuned on), 15 % TUNE
(early stopping and the per-region bias), 55 % TRAIN. Occluder kinds named by ``--holdout-kinds``
(default: scarf) are never drawn for training, so the benchmark can show how the model does on a
kind of occluder it has not seen.

Each region gets its own one-hidden-layer perceptron (numpy, Adam, soft binary cross-entropy);
after training, a per-region logit offset is set on the TUNE persons so that at most
``--clean-target`` of unoccluded regions fall below 0.5 (false 4004s matter most).

Everything is seeded and BLAS runs on one thread (the script restarts itself with
``OPENBLAS_NUM_THREADS=1`` if needed), so the same data give the same bytes. About 20 minutes
on one core; ``--cache DIR --max-build 1`` builds the generated feature sets one part per run.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from facegate.core.types import Face, ImageArray
from facegate.vision.align import TEMPLATE_112, align_face, alignment_matrix
from facegate.vision.detectors.yunet import YuNetDetector
from facegate.vision.manifest import load_manifest
from facegate.vision.quality.occlusion import (
    FEATURE_VERSION,
    REGION_BOXES,
    REGIONS,
    occlusion_features,
)
from tools.provenance import data_digest, git_commit

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]

SEED = 20261103
GENERATOR_VERSION = 5  # bump when samples change (occluders, features): caches are keyed on it
SPLIT_SALT = "facegate-occlusion-v1"
TEST_FRACTION = 0.30
TUNE_FRACTION = 0.15

OCCLUDER_KINDS = ("sunglasses", "mask", "hand", "patch", "scarf")
NEGATIVE_KINDS = ("clean", "eyeglasses", "partial")
DEFAULT_HOLDOUT = ("scarf",)
REAL_REPEATS = 12.0  # extra degraded copies of each real occluded photo of a train person
OCCLUDED_AT = 0.5

# LFW photos with REAL occluders, found by looking at every test photo (thumbnails) and at the
# train and tune photos two successive models ranked most likely occluded. Coverage as in REGIONS
# (left_eye, right_eye, nose, mouth). Their synthetic samples keep these regions covered;
# those of train and tune persons are also drawn as extra positives, those of test persons
# only measured (benchmarks/occlusion.py, "real").
_SUNGLASSES = (1.0, 1.0, 0.0, 0.0)
REAL_OCCLUSIONS: dict[str, tuple[float, float, float, float]] = {
    "Abbas_Kiarostami_0001.jpg": _SUNGLASSES,
    "Andre_Bucher_0001.jpg": _SUNGLASSES,
    "Andy_Dick_0001.jpg": _SUNGLASSES,
    "Angelina_Jolie_0011.jpg": _SUNGLASSES,
    "Annie-Jeanne_Reynaud_0001.jpg": _SUNGLASSES,
    "Atal_Bihari_Vajpayee_0021.jpg": _SUNGLASSES,
    "Bill_Paxton_0002.jpg": _SUNGLASSES,
    "Brian_Florence_0001.jpg": _SUNGLASSES,
    "Bruno_Junquiera_0001.jpg": _SUNGLASSES,
    "Candice_Bergen_0001.jpg": _SUNGLASSES,
    "Carina_Lau_Ka-ling_0001.jpg": _SUNGLASSES,
    "Catherine_Zeta-Jones_0011.jpg": _SUNGLASSES,
    "Diana_Silvius_0001.jpg": _SUNGLASSES,
    "Dick_Vermeil_0001.jpg": _SUNGLASSES,
    "Elena_de_Chavez_0001.jpg": _SUNGLASSES,
    "Heidi_Fleiss_0004.jpg": _SUNGLASSES,
    "Henry_Suazo_0001.jpg": _SUNGLASSES,
    "Hootie_Johnson_0001.jpg": _SUNGLASSES,
    "Ismail_Cem_0001.jpg": _SUNGLASSES,
    "Jack_Nicholson_0001.jpg": _SUNGLASSES,
    "James_Cameron_0001.jpg": _SUNGLASSES,
    "James_Cameron_0002.jpg": _SUNGLASSES,
    "Jane_Fonda_0002.jpg": _SUNGLASSES,
    "Janice_Goldfinger_0001.jpg": _SUNGLASSES,
    "Jessica_Lange_0001.jpg": _SUNGLASSES,
    "Jimmy_Iovine_0001.jpg": _SUNGLASSES,
    "Jimmy_Jimenez_0001.jpg": _SUNGLASSES,
    "Joey_Mantia_0001.jpg": _SUNGLASSES,
    "Juan_Pablo_Montoya_0007.jpg": _SUNGLASSES,
    "Juan_Pablo_Montoya_0008.jpg": _SUNGLASSES,
    "Keanu_Reeves_0005.jpg": _SUNGLASSES,
    "Keanu_Reeves_0006.jpg": _SUNGLASSES,
    "Keanu_Reeves_0007.jpg": _SUNGLASSES,
    "Kevin_Costner_0002.jpg": _SUNGLASSES,
    "Kimi_Raikkonen_0002.jpg": _SUNGLASSES,
    "Kultida_Woods_0001.jpg": _SUNGLASSES,
    "Laurence_Fishburne_0001.jpg": _SUNGLASSES,
    "Leon_Lai_0001.jpg": _SUNGLASSES,
    "MC_Hammer_0001.jpg": _SUNGLASSES,
    "Marc_Anthony_0001.jpg": _SUNGLASSES,
    "Michael_Schumacher_0014.jpg": _SUNGLASSES,
    "Michael_Schumacher_0017.jpg": _SUNGLASSES,
    "Mick_Jagger_0002.jpg": _SUNGLASSES,
    "Ozzy_Osbourne_0002.jpg": _SUNGLASSES,
    "Ozzy_Osbourne_0003.jpg": _SUNGLASSES,
    "Paula_Radcliffe_0004.jpg": _SUNGLASSES,
    "Paula_Radcliffe_0006.jpg": _SUNGLASSES,
    "Picabo_Street_0001.jpg": _SUNGLASSES,
    "Ricardo_Mayorga_0001.jpg": _SUNGLASSES,
    "Richard_Gere_0003.jpg": _SUNGLASSES,
    "Saddam_Hussein_0010.jpg": _SUNGLASSES,
    "Sarah_Price_0001.jpg": _SUNGLASSES,
    "Sepp_Blatter_0001.jpg": _SUNGLASSES,
    "Sofyan_Dawood_0001.jpg": _SUNGLASSES,
    "Sourav_Ganguly_0001.jpg": _SUNGLASSES,
    "Steffi_Graf_0004.jpg": _SUNGLASSES,
    "Susan_Sarandon_0004.jpg": _SUNGLASSES,
    "Todd_Parrott_0001.jpg": _SUNGLASSES,
    "Tony_Stewart_0004.jpg": _SUNGLASSES,
    "Victoria_Beckham_0002.jpg": _SUNGLASSES,
    "Victoria_Beckham_0003.jpg": _SUNGLASSES,
    "Whoopi_Goldberg_0001.jpg": _SUNGLASSES,
    "Will_Smith_0002.jpg": _SUNGLASSES,
    "Jaouad_Gharib_0001.jpg": (0.0, 0.0, 1.0, 1.0),  # both hands over mouth and nose
    "Adrianna_Zuzic_0001.jpg": (0.0, 0.0, 0.5, 1.0),  # clasped hands over mouth
    "Pedro_Mahecha_0001.jpg": (0.0, 0.0, 0.0, 1.0),  # hand over mouth
    "Eva_Dimas_0002.jpg": (0.0, 0.0, 0.0, 1.0),  # medal held to the mouth
    "Mariana_Gonzalez_0001.jpg": (0.0, 0.0, 0.0, 1.0),  # medal held to the mouth
    "Gwendal_Peizerat_0002.jpg": (0.0, 0.0, 0.0, 1.0),  # medal held to the mouth
    "Jennifer_Capriati_0002.jpg": (0.0, 0.0, 0.0, 1.0),  # tennis ball before the mouth
    "Abel_Pacheco_0004.jpg": (0.0, 0.0, 0.0, 1.0),  # microphone before the mouth
    "Bruce_Springsteen_0001.jpg": (0.0, 0.0, 0.0, 1.0),  # microphone before the mouth
    "Adrian_Annus_0001.jpg": (0.0, 0.0, 0.0, 1.0),  # hands and a handle before the mouth
}
# Left out everywhere: lightly tinted glasses through which the eyes show, a racket, a glove or
# a microphone half over the face, and photos whose largest face is another person's, cut by
# the border (or is not a face) — neither clean nor clearly occluded.
AMBIGUOUS: frozenset[str] = frozenset(
    {
        "Adelina_Avila_0001.jpg",
        "Amelie_Mauresmo_0021.jpg",
        "Andy_Griggs_0001.jpg",
        "Angie_Martinez_0001.jpg",
        "Britney_Spears_0008.jpg",
        "Camryn_Manheim_0001.jpg",
        "Candice_Beatty_0001.jpg",
        "Celine_Dion_0008.jpg",
        "Charles_Moose_0011.jpg",
        "Colin_Powell_0129.jpg",
        "Colin_Powell_0223.jpg",
        "Diana_Krall_0003.jpg",
        "Doug_Duncan_0001.jpg",
        "Elizabeth_Hurley_0001.jpg",
        "Elsa_Zylberstein_0005.jpg",
        "Fredric_Seaman_0001.jpg",
        "Gerard_Tronche_0001.jpg",
        "Gil_Cates_0001.jpg",
        "Goldie_Hawn_0002.jpg",
        "Gwyneth_Paltrow_0003.jpg",
        "Haydar_Aliyev_0001.jpg",
        "Hoda_Asfor_0001.jpg",
        "Ilan_Ramon_0001.jpg",
        "Jack_Nicholson_0003.jpg",
        "James_Blake_0010.jpg",
        "Jay_Garner_0003.jpg",
        "Jennifer_Capriati_0031.jpg",
        "Johnny_Depp_0002.jpg",
        "Joschka_Fischer_0018.jpg",
        "Laura_Bush_0002.jpg",
        "Laura_Bush_0011.jpg",
        "Laura_Bush_0032.jpg",
        "Lazaro_Castro_0001.jpg",
        "LeBron_James_0005.jpg",
        "Li_Peng_0004.jpg",
        "Malcolm_Jamal_Warner_0001.jpg",
        "Mario_Alfaro-Lopez_0001.jpg",
        "Martin_Hoellwarth_0001.jpg",
        "Pat_Burns_0002.jpg",
        "Paul_Pierce_0002.jpg",
        "Paula_Locke_0001.jpg",
        "Quincy_Jones_0001.jpg",
        "Richard_Gere_0010.jpg",
        "Rob_Moore_0001.jpg",
        "Saddam_Hussein_0018.jpg",
        "Serge_Tchuruk_0001.jpg",
        "Sourav_Ganguly_0004.jpg",
        "Susan_Sarandon_0001.jpg",
        "Teresa_Williams_0001.jpg",
        "Tiger_Woods_0023.jpg",
    }
)

# The canvas: template coordinates (112 frame) → canvas pixels = (x + PAD) * SCALE.
SCALE = 2.0
PAD = 40.0
CANVAS = round((112 + 2 * PAD) * SCALE)
_SHIFT = 4
_SUB = 1 << _SHIFT


def person_split(name: str) -> str:
    """ "test", "tune" or "train" for one LFW person, fixed by a salted hash of the name."""
    digest = hashlib.sha256(f"{SPLIT_SALT}:{name}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    if u < TEST_FRACTION:
        return "test"
    return "tune" if u < TEST_FRACTION + TUNE_FRACTION else "train"


def list_images(data: Path, splits: tuple[str, ...]) -> list[tuple[str, Path]]:
    """(person, photo) of the given splits, without the ``AMBIGUOUS`` photos."""
    out: list[tuple[str, Path]] = []
    for person_dir in sorted(p for p in data.iterdir() if p.is_dir()):
        if person_split(person_dir.name) in splits:
            out.extend(
                (person_dir.name, f)
                for f in sorted(person_dir.glob("*.jpg"))
                if f.name not in AMBIGUOUS
            )
    return out


def real_coverage(source: str) -> F32 | None:
    """The hand-labelled coverage of a photo ("Person/file.jpg") with a real occluder."""
    cov = REAL_OCCLUSIONS.get(source.rsplit("/", 1)[-1])
    return None if cov is None else np.array(cov, np.float32)


def sample_rng(*key: int | str) -> np.random.Generator:
    """A generator fixed by the sample's identity, so samples do not depend on run order."""
    text = ":".join(str(k) for k in (SEED, *key))
    return np.random.default_rng(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))


# --- detection --------------------------------------------------------------------------------
def read_bgr(path: Path) -> ImageArray | None:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if img is None else np.asarray(img, np.uint8)


def make_detector() -> YuNetDetector:
    return YuNetDetector(load_manifest().verified_path("yunet_2023mar_int8bq"))


def largest_face(detector: YuNetDetector, image: ImageArray) -> Face | None:
    faces = detector.detect(image)
    return max(faces, key=lambda f: f.box.area) if faces else None


def _iou(a: Face, b: Face) -> float:
    ix = max(0.0, min(a.box.right, b.box.right) - max(a.box.left, b.box.left))
    iy = max(0.0, min(a.box.bottom, b.box.bottom) - max(a.box.top, b.box.top))
    inter = ix * iy
    return inter / max(a.box.area + b.box.area - inter, 1e-6)


# --- pools of colours and textures taken from other photos ----------------------------------------
@dataclass
class Pools:
    textures: list[ImageArray] = field(default_factory=list)  # background corners of photos
    faces: list[ImageArray] = field(default_factory=list)  # other aligned faces
    skins: list[F32] = field(default_factory=list)  # BGR skin colours of other faces


def skin_colour(aligned: ImageArray) -> F32:
    """Median BGR of the cheeks and forehead of an aligned face."""
    pix = np.concatenate(
        [
            aligned[22:36, 40:72].reshape(-1, 3),
            aligned[64:80, 18:38].reshape(-1, 3),
            aligned[64:80, 74:94].reshape(-1, 3),
        ]
    )
    return np.asarray(np.median(pix, axis=0), dtype=np.float32)


def build_pools(
    detector: YuNetDetector, images: list[tuple[str, Path]], n: int, seed_key: str
) -> Pools:
    rng = sample_rng("pools", seed_key)
    idx = rng.choice(len(images), size=min(n, len(images)), replace=False)
    pools = Pools()
    for i in sorted(idx.tolist()):
        img = read_bgr(images[i][1])
        if img is None:
            continue
        h, w = img.shape[:2]
        corner = max(24, min(h, w) // 4)
        for y0, x0 in ((0, 0), (0, w - corner), (h - corner, 0), (h - corner, w - corner)):
            pools.textures.append(np.ascontiguousarray(img[y0 : y0 + corner, x0 : x0 + corner]))
        face = largest_face(detector, img)
        if face is not None:
            aligned = align_face(img, face.landmarks)
            pools.faces.append(aligned)
            pools.skins.append(skin_colour(aligned))
    return pools


# --- drawing on the canvas -------------------------------------------------------------------
def _cpts(points: F64) -> npt.NDArray[np.int32]:
    return np.round((np.asarray(points, np.float64) + PAD) * SCALE * _SUB).astype(np.int32)


def _blank() -> npt.NDArray[np.uint8]:
    return np.zeros((CANVAS, CANVAS), np.uint8)


def fill_poly(mask: npt.NDArray[np.uint8], points: F64) -> None:
    cv2.fillPoly(mask, [_cpts(points).reshape(-1, 1, 2)], 255, cv2.LINE_AA, _SHIFT)


def draw_line(mask: npt.NDArray[np.uint8], p: F64, q: F64, width: float) -> None:
    a, b = _cpts(p), _cpts(q)
    thick = max(1, round(width * SCALE))
    cv2.line(mask, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), 255, thick, cv2.LINE_AA, _SHIFT)


def draw_polyline(mask: npt.NDArray[np.uint8], points: F64, width: float, closed: bool) -> None:
    thick = max(1, round(width * SCALE))
    cv2.polylines(mask, [_cpts(points).reshape(-1, 1, 2)], closed, 255, thick, cv2.LINE_AA, _SHIFT)


def ellipse_points(cx: float, cy: float, ax: float, ay: float, n: int = 40) -> F64:
    t = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    return np.stack([cx + ax * np.cos(t), cy + ay * np.sin(t)], axis=1)


def superellipse(cx: float, cy: float, ax: float, ay: float, p: float, n: int = 48) -> F64:
    """A rounded rectangle for p > 2, an ellipse at p = 2."""
    t = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    x = cx + ax * np.sign(c) * np.abs(c) ** (2.0 / p)
    y = cy + ay * np.sign(s) * np.abs(s) ** (2.0 / p)
    return np.stack([x, y], axis=1)


def rotate(points: F64, centre: tuple[float, float], degrees: float) -> F64:
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    p = np.asarray(points, np.float64) - centre
    return np.stack([c * p[:, 0] - s * p[:, 1], s * p[:, 0] + c * p[:, 1]], axis=1) + centre


def _grid() -> tuple[F32, F32]:
    ys, xs = np.mgrid[0:CANVAS, 0:CANVAS].astype(np.float32)
    return xs / CANVAS - 0.5, ys / CANVAS - 0.5


_GX, _GY = _grid()


@dataclass
class Layer:
    mask: npt.NDArray[np.uint8]
    colour: F32  # (CANVAS, CANVAS, 3) BGR or (3,)
    opacity: float = 1.0


@dataclass
class Occluder:
    layers: list[Layer]
    kind: str
    variant: str

    def render(self) -> tuple[F32, F32]:
        """Colour (BGR float) and alpha in [0, 1] on the canvas, layers in order."""
        colour = np.zeros((CANVAS, CANVAS, 3), np.float32)
        alpha = np.zeros((CANVAS, CANVAS), np.float32)
        for layer in self.layers:
            x, y, w, h = cv2.boundingRect(layer.mask)
            if w == 0 or h == 0:
                continue
            sl = (slice(y, y + h), slice(x, x + w))
            a = layer.mask[sl].astype(np.float32) * (layer.opacity / 255.0)
            keep = alpha[sl] * (1.0 - a)
            new_alpha = a + keep
            lc = layer.colour[sl] if layer.colour.ndim == 3 else layer.colour
            mixed = (lc * a[..., None] + colour[sl] * keep[..., None]) / np.maximum(
                new_alpha, 1e-6
            )[..., None]
            colour[sl] = mixed
            alpha[sl] = new_alpha
        return colour, alpha


def region_coverage(alpha: F32) -> F32:
    """Share of each region's box (``REGIONS`` order) under an opaque (≥ 0.5) occluder."""
    out = []
    for name in REGIONS:
        x0, y0, x1, y1 = (round((v + PAD) * SCALE) for v in REGION_BOXES[name])
        out.append(float((alpha[y0:y1, x0:x1] >= 0.5).mean()))
    return np.array(out, np.float32)


# --- fills ------------------------------------------------------------------------------------
def random_colour(rng: np.random.Generator) -> F32:
    return rng.uniform(0, 255, 3).astype(np.float32)


def tile_to_canvas(patch: ImageArray, size: int) -> F32:
    small = cv2.resize(patch, (size, size), interpolation=cv2.INTER_LINEAR)
    reps = CANVAS // size + 2
    # Mirrored tiles: no seams at the joins.
    row = np.concatenate([small if i % 2 == 0 else small[:, ::-1] for i in range(reps)], axis=1)
    grid = np.concatenate([row if i % 2 == 0 else row[::-1] for i in range(reps)], axis=0)
    return np.ascontiguousarray(grid[:CANVAS, :CANVAS]).astype(np.float32)


def noise_field(rng: np.random.Generator, base: F32, amplitude: float) -> F32:
    k = int(rng.integers(3, 24))
    low = rng.normal(0.0, 1.0, (k, k, 3)).astype(np.float32)
    field_ = cv2.resize(low, (CANVAS, CANVAS), interpolation=cv2.INTER_CUBIC)
    # Grain of about one pixel of the 112 crop (the canvas is drawn at 2×).
    half = CANVAS // 2
    fine = rng.standard_normal((half, half, 3), dtype=np.float32) * 0.3
    fine = np.asarray(
        cv2.resize(fine, (CANVAS, CANVAS), interpolation=cv2.INTER_NEAREST), np.float32
    )
    out: F32 = (base + amplitude * (field_ + fine)).astype(np.float32)
    return out


def stripes(rng: np.random.Generator, c1: F32, c2: F32) -> F32:
    angle = rng.uniform(0, math.pi)
    freq = rng.uniform(6, 40)
    t = np.sin(2 * math.pi * freq * (_GX * math.cos(angle) + _GY * math.sin(angle)))
    sharp = rng.uniform(1, 8)
    w = 0.5 + 0.5 * np.tanh(sharp * t)
    out: F32 = (c1 * w[..., None] + c2 * (1 - w[..., None])).astype(np.float32)
    return out


def texture_fill(
    rng: np.random.Generator, pools: Pools, allow_faces: bool = True
) -> tuple[F32, str]:
    r = rng.random()
    if r < 0.25:
        return random_colour(rng) + np.zeros((CANVAS, CANVAS, 3), np.float32), "solid"
    if r < 0.45:
        return noise_field(rng, random_colour(rng), rng.uniform(10, 60)), "noise"
    if r < 0.55:
        return stripes(rng, random_colour(rng), random_colour(rng)), "stripes"
    if r < 0.85 or not allow_faces or not pools.faces:
        tex = pools.textures[int(rng.integers(len(pools.textures)))]
        return tile_to_canvas(tex, int(rng.integers(60, 220))), "photo"
    face = pools.faces[int(rng.integers(len(pools.faces)))]
    return tile_to_canvas(face, int(rng.integers(140, 320))), "face"


def shading(rng: np.random.Generator, lighting: F32, strength: float) -> F32:
    """A smooth light field: a random gradient times the face's own lighting to ``strength``."""
    grad = 1.0 + rng.uniform(-0.5, 0.5) * _GX + rng.uniform(-0.5, 0.5) * _GY
    out: F32 = (grad * np.power(lighting, strength)).astype(np.float32)
    return out


# --- occluder generators (template coordinates, 112 frame) -----------------------------------
EYE_R = TEMPLATE_112[0].astype(np.float64)  # subject's right eye, image left
EYE_L = TEMPLATE_112[1].astype(np.float64)
NOSE = TEMPLATE_112[2].astype(np.float64)
MOUTH = TEMPLATE_112[3:5].mean(axis=0).astype(np.float64)


@dataclass
class Context:
    pools: Pools
    lighting: F32  # the face's smoothed relative luminance on the canvas
    own_skin: F32
    near_miss: bool = False


def _lens_shape(
    rng: np.random.Generator, style: str, cx: float, cy: float, w: float, h: float
) -> F64:
    if style == "round":
        r = 0.5 * max(w, h) * 0.85
        return ellipse_points(cx, cy, r, r)
    if style == "rect":
        return superellipse(cx, cy, w / 2, h / 2, rng.uniform(3.0, 6.0))
    if style == "aviator":
        pts = ellipse_points(cx, cy, w / 2, h / 2)
        # Teardrop: the lower, outer part droops.
        pts[:, 1] += np.clip(pts[:, 1] - cy, 0, None) * 0.35
        return pts
    return ellipse_points(cx, cy, w / 2, h / 2)


MIRROR_BGR = (
    (205, 205, 210),  # silver
    (215, 130, 50),  # blue
    (70, 175, 225),  # gold
    (90, 165, 70),  # green
    (175, 70, 150),  # purple
    (50, 100, 230),  # orange-red
)


def glasses(rng: np.random.Generator, ctx: Context, dark: bool) -> Occluder:
    style = str(rng.choice(["ellipse", "rect", "aviator", "round", "wrap"] if dark else
                           ["ellipse", "rect", "aviator", "round"]))  # fmt: skip
    scale = rng.uniform(0.85, 1.2)
    if dark:
        w, h = rng.uniform(25, 34) * scale, rng.uniform(17, 26) * scale
    else:
        # Clear lenses are larger than the eye: the frame runs round it, not across it.
        w, h = rng.uniform(29, 36) * scale, rng.uniform(21, 28) * scale
    spread = rng.uniform(-2.0, 2.5)
    drop = rng.uniform(-1.5, 3.0) if dark else rng.uniform(-0.5, 2.5)
    shift = rng.normal(0.0, 1.5, 2)
    if ctx.near_miss:
        # Pushed up onto the forehead or slid down the nose.
        drop += float(rng.choice([-rng.uniform(22, 32), rng.uniform(14, 20)]))
    centre_r = EYE_R + shift + np.array([-spread, drop])
    centre_l = EYE_L + shift + np.array([spread, drop])
    which = "both"
    if dark and style != "wrap" and rng.random() < 0.2:
        which = str(rng.choice(["right_only", "left_only"]))
    angle = rng.normal(0.0, 5.0)
    mid = tuple(((centre_r + centre_l) / 2).tolist())
    if style == "wrap":
        # One shield across both eyes, as sports glasses have.
        half_w = float(centre_l[0] - centre_r[0]) / 2 + w / 2
        shield = superellipse(mid[0], mid[1], half_w, h / 2, rng.uniform(2.5, 4.0))
        lens_r = rotate(shield, mid, angle)
        lens_l = lens_r
    else:
        cr, cl = centre_r.tolist(), centre_l.tolist()
        lens_r = rotate(_lens_shape(rng, style, cr[0], cr[1], w, h), mid, angle)
        lens_l = rotate(_lens_shape(rng, style, cl[0], cl[1], w, h), mid, angle)

    layers: list[Layer] = []
    light = shading(rng, ctx.lighting, rng.uniform(0.0, 0.7))
    lens_mask = _blank()
    if which in ("both", "right_only"):
        fill_poly(lens_mask, lens_r)
    if which in ("both", "left_only"):
        fill_poly(lens_mask, lens_l)
    vertical = 1.0 + rng.uniform(-0.6, 0.1) * (_GY * 4.0)
    if dark:
        style_c = rng.random()
        if style_c < 0.6:
            base = rng.uniform(5, 55, 3).astype(np.float32)
            base += rng.uniform(0, 25) * rng.dirichlet([1, 1, 1]).astype(np.float32)
            colour = base * vertical[..., None]
            variant = "dark"
        elif style_c < 0.82:
            hue = rng.dirichlet([2, 2, 2]) * 3 - 1
            base = (rng.uniform(25, 80) * (1 + 0.6 * hue)).astype(np.float32)
            colour = base * vertical[..., None]
            variant = "tinted"
        else:
            # Mirrored: a metallic tint over a reflection of the surroundings, bright at the top.
            base = np.array(MIRROR_BGR[int(rng.integers(len(MIRROR_BGR)))], np.float32)
            base = base * rng.uniform(0.7, 1.1)
            env, _ = texture_fill(rng, ctx.pools, allow_faces=False)
            mix = rng.uniform(0.15, 0.5)
            ramp = 1.0 + rng.uniform(0.2, 0.6) * (-_GY * 4.0)
            colour = (base * (1 - mix) + env * mix) * ramp[..., None]
            variant = "mirror"
        colour = colour * light[..., None]
        layers.append(Layer(lens_mask, colour.astype(np.float32), rng.uniform(0.88, 1.0)))
        # A specular streak across one or both lenses.
        if rng.random() < 0.6:
            streak = _blank()
            c = (centre_r if rng.random() < 0.5 else centre_l) + rng.normal(0, 3, 2)
            d = np.array([math.cos(rng.uniform(0, math.pi)), 0.0])
            d[1] = math.sqrt(max(0.0, 1 - d[0] ** 2))
            draw_line(streak, c - 8 * d, c + 8 * d, rng.uniform(1.5, 5))
            streak = np.minimum(streak, lens_mask)
            layers.append(Layer(streak, np.full(3, rng.uniform(180, 255), np.float32), 0.6))
    else:
        variant = "clear"
        tint = rng.uniform(150, 255, 3).astype(np.float32)
        layers.append(Layer(lens_mask, tint, rng.uniform(0.0, 0.15)))
        if rng.random() < 0.4:
            glare = _blank()
            c = centre_r if rng.random() < 0.5 else centre_l
            gx, gy = (c + rng.normal(0, 4, 2)).tolist()
            fill_poly(glare, ellipse_points(gx, gy, rng.uniform(3, 8), 3))
            glare = np.minimum(glare, lens_mask)
            layers.append(Layer(glare, np.full(3, 245, np.float32), rng.uniform(0.3, 0.6)))
    frame = _blank()
    fw = rng.uniform(0.5, 2.0) if not dark else rng.uniform(0.8, 3.5)
    if which in ("both", "right_only"):
        draw_polyline(frame, lens_r, fw, True)
    if which in ("both", "left_only") and style != "wrap":
        draw_polyline(frame, lens_l, fw, True)
    if which == "both" and style != "wrap":
        inner_r = lens_r[np.argmax(lens_r[:, 0])]
        inner_l = lens_l[np.argmin(lens_l[:, 0])]
        draw_line(frame, inner_r, inner_l, fw)
    outer_r = lens_r[np.argmin(lens_r[:, 0])]
    outer_l = lens_l[np.argmax(lens_l[:, 0])]
    draw_line(frame, outer_r, outer_r + np.array([-30.0, rng.uniform(-2, 4)]), fw)
    draw_line(frame, outer_l, outer_l + np.array([30.0, rng.uniform(-2, 4)]), fw)
    frame_colour = rng.uniform(0, 80, 3) if rng.random() < 0.7 else rng.uniform(0, 255, 3)
    layers.append(Layer(frame, (frame_colour * light[..., None]).astype(np.float32)))
    kind = "sunglasses" if dark else "eyeglasses"
    return Occluder(layers, kind, f"{variant}_{'wrap' if style == 'wrap' else which}")


def _bezier(p0: F64, p1: F64, p2: F64, n: int = 16) -> F64:
    t = np.linspace(0, 1, n)[:, None]
    out: F64 = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
    return out


def mask(rng: np.random.Generator, ctx: Context) -> Occluder:
    r = rng.random()
    if ctx.near_miss:
        top, variant = rng.uniform(100, 110), "chin"
    elif r < 0.72:
        top, variant = rng.uniform(50, 63), "nose_mouth"
    else:
        top, variant = rng.uniform(76, 84), "mouth_only"
    left = rng.uniform(6, 24)
    right = rng.uniform(88, 106)
    side_drop = rng.uniform(4, 14)
    bottom = rng.uniform(116, 134)
    cx = 56 + rng.normal(0, 2.5)
    top_curve = _bezier(
        np.array([left, top + side_drop]),
        np.array([cx, top - rng.uniform(2, 8)]),
        np.array([right, top + side_drop]),
    )
    # Down the cheeks to the jaw, then round under the chin.
    low = max(top + side_drop + 8, rng.uniform(96, 108))
    right_side = _bezier(
        np.array([right, top + side_drop]),
        np.array([right + rng.uniform(0, 4), low - 6]),
        np.array([right - rng.uniform(4, 10), low]),
        n=8,
    )
    left_side = _bezier(
        np.array([left + rng.uniform(4, 10), low]),
        np.array([left - rng.uniform(0, 4), low - 6]),
        np.array([left, top + side_drop]),
        n=8,
    )
    chin = _bezier(right_side[-1], np.array([cx, bottom + 8]), left_side[0], n=16)
    shape = np.concatenate([top_curve, right_side[1:], chin[1:], left_side[1:]])
    shape = rotate(shape, (56.0, 88.0), rng.normal(0, 5))
    centre = np.array([56.0, 88.0])
    shape = (shape - centre) * rng.uniform(0.9, 1.12) + centre
    m = _blank()
    fill_poly(m, shape)
    light = shading(rng, ctx.lighting, rng.uniform(0.2, 0.9))
    style = rng.random()
    if style < 0.45:
        palette = [
            (235, 205, 160),
            (245, 245, 245),
            (200, 225, 190),
            (215, 195, 235),
            (40, 40, 40),
            (200, 200, 200),
            (240, 220, 200),
        ]
        base = np.array(palette[int(rng.integers(len(palette)))], np.float32)
        base += rng.normal(0, 8, 3).astype(np.float32)
        fill = base + np.zeros((CANVAS, CANVAS, 3), np.float32)
        kind_v = "medical"
    else:
        fill, kind_v = texture_fill(rng, ctx.pools, allow_faces=False)
        kind_v = f"cloth_{kind_v}"
    colour = fill * light[..., None]
    layers = [Layer(m, colour.astype(np.float32))]
    if kind_v == "medical":
        pleats = _blank()
        for k in range(int(rng.integers(2, 4))):
            y = top + 12 + 8 * k + rng.normal(0, 1)
            draw_line(
                pleats,
                np.array([left + 4, y + side_drop]),
                np.array([right - 4, y + side_drop]),
                0.8,
            )
        pleats = np.minimum(pleats, m)
        layers.append(Layer(pleats, (fill * light[..., None] * 0.8).astype(np.float32), 0.7))
    loops = _blank()
    draw_line(loops, np.array([left, top + side_drop]), np.array([-20.0, top - 10]), 1.0)
    draw_line(loops, np.array([right, top + side_drop]), np.array([132.0, top - 10]), 1.0)
    layers.append(Layer(loops, (fill * light[..., None]).astype(np.float32), 0.9))
    return Occluder(layers, "mask", f"{variant}_{kind_v}")


def hand(rng: np.random.Generator, ctx: Context) -> Occluder:
    pools = ctx.pools
    if pools.skins and rng.random() < 0.75:
        skin = pools.skins[int(rng.integers(len(pools.skins)))].copy()
    else:
        skin = ctx.own_skin.copy()
    skin = np.clip(skin * rng.uniform(0.85, 1.15) + rng.normal(0, 6, 3), 5, 250).astype(np.float32)
    ax, ay = rng.uniform(14, 20), rng.uniform(17, 24)
    fist = rng.random() < 0.2
    fingers = []
    spread = rng.uniform(0, 22)
    for i, x in enumerate(np.linspace(-0.75 * ax, 0.75 * ax, 4)):
        length = (rng.uniform(24, 36) * (1.0, 1.12, 1.05, 0.85)[i]) * (0.45 if fist else 1.0)
        width = rng.uniform(7.0, 9.5)
        angle = math.radians(-spread + 2 * spread * i / 3 + rng.normal(0, 3))
        base = np.array([x, -0.75 * ay])
        tip = base + length * np.array([math.sin(angle), -math.cos(angle)])
        fingers.append((base, tip, width))
    side = float(rng.choice([-1.0, 1.0]))
    t_angle = math.radians(side * rng.uniform(40, 85))
    t_base = np.array([side * 0.85 * ax, rng.uniform(-0.2, 0.3) * ay])
    t_tip = t_base + rng.uniform(18, 26) * np.array([math.sin(t_angle), -math.cos(t_angle)])
    fingers.append((t_base, t_tip, rng.uniform(9, 11)))
    palm = ellipse_points(0.0, 0.0, ax, ay)
    key = np.concatenate([palm, *[np.stack([b, t]) for b, t, _ in fingers]])
    centroid = key.mean(axis=0)

    if ctx.near_miss:
        targets = [(56, 118), (12, 84), (100, 84), (56, 22), (8, 110), (104, 110)]
        variant = "near_miss"
        jitter = 3.0
    else:
        options = {
            "mouth": MOUTH + np.array([0.0, 1.0]),
            "nose_mouth": (NOSE + MOUTH) / 2,
            "right_eye": EYE_R,
            "left_eye": EYE_L,
            "eyes": (EYE_R + EYE_L) / 2,
            "anywhere": np.array([rng.uniform(25, 87), rng.uniform(40, 100)]),
        }
        variant = str(rng.choice(list(options), p=[0.32, 0.2, 0.12, 0.12, 0.1, 0.14]))
        targets = [tuple(options[variant].tolist())]
        jitter = 4.0
    target = np.array(targets[int(rng.integers(len(targets)))], np.float64)
    target += rng.normal(0, jitter, 2)
    scale = rng.uniform(0.85, 1.3) * (1.25 if variant == "eyes" else 1.0)
    # Mostly fingers up or sideways: hands reach the face from below and from the sides.
    angle = float(
        rng.choice(
            [rng.normal(0, 25), rng.normal(90, 25), rng.normal(-90, 25), rng.uniform(0, 360)],
            p=[0.5, 0.2, 0.2, 0.1],
        )
    )

    def place(p: F64) -> F64:
        q = rotate((np.atleast_2d(p) - centroid) * scale, (0.0, 0.0), angle)
        out: F64 = q + target
        return out

    light = shading(rng, ctx.lighting, rng.uniform(0.3, 1.0))
    skin_field = noise_field(rng, skin, rng.uniform(2, 8)) * light[..., None]
    dark = (skin_field * rng.uniform(0.6, 0.8)).astype(np.float32)
    layers: list[Layer] = []
    m = _blank()
    fill_poly(m, place(palm))
    layers.append(Layer(m, skin_field.astype(np.float32)))
    order = list(range(len(fingers)))
    for i in order:
        b, t, w = fingers[i]
        pb, pt = place(b)[0], place(t)[0]
        outline = _blank()
        draw_line(outline, pb, pt, w * scale)
        layers.append(Layer(outline, dark, 1.0))
        inner = _blank()
        draw_line(inner, pb, pt, max(w * scale - 1.6, 1.0))
        layers.append(Layer(inner, skin_field.astype(np.float32), 1.0))
    # Knuckle creases.
    if rng.random() < 0.6:
        creases = _blank()
        for b, t, w in fingers[:4]:
            mid = place(b + 0.55 * (t - b))[0]
            d = place(b + 0.55 * (t - b) + np.array([w * 0.35, 0]))[0] - mid
            draw_line(creases, mid - d, mid + d, 0.6)
        layers.append(Layer(creases, dark, 0.5))
    return Occluder(layers, "hand", variant)


def patch(rng: np.random.Generator, ctx: Context) -> Occluder:
    w = rng.uniform(14, 60)
    h = w * math.exp(rng.uniform(-0.7, 0.7))
    if ctx.near_miss:
        spots = [(56, 26), (14, 80), (98, 80), (56, 112), (10, 40), (102, 40)]
        c = np.array(spots[int(rng.integers(len(spots)))], np.float64) + rng.normal(0, 3, 2)
        w, h = min(w, 26.0), min(h, 26.0)
    elif rng.random() < 0.6:
        centres = [EYE_R, EYE_L, NOSE, MOUTH, (EYE_R + EYE_L) / 2, (NOSE + MOUTH) / 2]
        c = centres[int(rng.integers(len(centres)))] + rng.normal(0, 6, 2)
    else:
        c = np.array([rng.uniform(14, 98), rng.uniform(30, 110)])
    shape_r = rng.random()
    if shape_r < 0.35:
        pts = superellipse(c[0], c[1], w / 2, h / 2, 12.0)
        shape = "rect"
    elif shape_r < 0.65:
        pts = ellipse_points(c[0], c[1], w / 2, h / 2)
        shape = "ellipse"
    else:
        k = int(rng.integers(5, 10))
        t = np.sort(rng.uniform(0, 2 * math.pi, k))
        rad = rng.uniform(0.55, 1.0, k)
        pts = np.stack([c[0] + w / 2 * rad * np.cos(t), c[1] + h / 2 * rad * np.sin(t)], axis=1)
        shape = "polygon"
    pts = rotate(pts, (float(c[0]), float(c[1])), rng.uniform(0, 180))
    m = _blank()
    fill_poly(m, pts)
    fill, fill_kind = texture_fill(rng, ctx.pools)
    colour = fill * shading(rng, ctx.lighting, rng.uniform(0.0, 0.8))[..., None]
    return Occluder([Layer(m, colour.astype(np.float32))], "patch", f"{shape}_{fill_kind}")


def scarf(rng: np.random.Generator, ctx: Context) -> Occluder:
    top = rng.uniform(100, 110) if ctx.near_miss else rng.uniform(56, 86)
    xs = np.linspace(-40, 152, 40)
    wave = rng.uniform(1, 5) * np.sin(xs / rng.uniform(6, 15) + rng.uniform(0, 6))
    sag = rng.uniform(-10, 6) * ((xs - 56) / 60) ** 2
    top_edge = np.stack([xs, top + wave + sag], axis=1)
    shape = np.concatenate([top_edge, [[152, 160], [-40, 160]]])
    shape = rotate(shape, (56.0, top), rng.normal(0, 6))
    m = _blank()
    fill_poly(m, shape)
    r = rng.random()
    c1, c2 = random_colour(rng), random_colour(rng)
    if r < 0.35:
        fill = stripes(rng, c1, c2)
        variant = "striped"
    elif r < 0.6:
        fill = 0.5 * (stripes(rng, c1, c2) + stripes(rng, c2, c1))
        variant = "plaid"
    else:
        fill = noise_field(rng, c1, rng.uniform(5, 25))
        variant = "knit"
    # Folds: soft bands of shade running across the cloth.
    fa = rng.uniform(0, math.pi)
    folds = 0.8 + 0.2 * np.sin(
        2 * math.pi * rng.uniform(3, 9) * (_GX * math.cos(fa) + _GY * math.sin(fa))
    )
    colour = fill * (folds * shading(rng, ctx.lighting, rng.uniform(0.2, 0.8)))[..., None]
    return Occluder([Layer(m, colour.astype(np.float32))], "scarf", variant)


GENERATORS: dict[str, Callable[[np.random.Generator, Context], Occluder]] = {
    "sunglasses": lambda rng, ctx: glasses(rng, ctx, dark=True),
    "eyeglasses": lambda rng, ctx: glasses(rng, ctx, dark=False),
    "mask": mask,
    "hand": hand,
    "patch": patch,
    "scarf": scarf,
}


# --- photometric degradation ------------------------------------------------------------------
def degrade(image: ImageArray, rng: np.random.Generator) -> ImageArray:
    img = image.astype(np.float32)
    if rng.random() < 0.8:
        img = img * rng.uniform(0.6, 1.35) + rng.uniform(-35, 35)
    if rng.random() < 0.4:
        img = 255.0 * np.power(np.clip(img, 0, 255) / 255.0, rng.uniform(0.65, 1.6))
    if rng.random() < 0.4:
        img = img * rng.uniform(0.85, 1.15, 3).astype(np.float32)
    if rng.random() < 0.05:
        g = img.mean(axis=2, keepdims=True)
        img = np.repeat(g, 3, axis=2)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.6)), np.uint8)
    if rng.random() < 0.35:
        h, w = out.shape[:2]
        f = rng.uniform(0.35, 0.8)
        size = (max(1, round(w * f)), max(1, round(h * f)))
        out = np.asarray(cv2.resize(out, size, interpolation=cv2.INTER_AREA), np.uint8)
    if rng.random() < 0.25:
        noise = rng.normal(0, rng.uniform(2, 8), out.shape)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 95))])
        if ok:
            out = np.asarray(cv2.imdecode(buf, cv2.IMREAD_COLOR), np.uint8)
    return np.ascontiguousarray(out)


# --- one sample -------------------------------------------------------------------------------
@dataclass
class Sample:
    features: F32 | None  # None: YuNet lost the face after the occluder
    coverage: F32
    kind: str
    variant: str
    person: str
    aligned: ImageArray | None = None


def canvas_matrix(landmarks: F32) -> F64:
    """Original photo → canvas."""
    m = alignment_matrix(landmarks, 112).astype(np.float64)
    m = m * SCALE
    m[:, 2] += PAD * SCALE
    return m


def face_lighting(image: ImageArray, m: F64) -> F32:
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    # The light field is smooth: compute it at a quarter of the canvas and scale it up.
    quarter = m / 4.0
    small = cv2.warpAffine(
        gray,
        quarter,
        (CANVAS // 4, CANVAS // 4),
        flags=cv2.INTER_AREA,
        borderMode=cv2.BORDER_REPLICATE,
    )
    smooth = cv2.resize(
        cv2.GaussianBlur(small, (0, 0), 3.0), (CANVAS, CANVAS), interpolation=cv2.INTER_LINEAR
    )
    c0, c1 = int((20 + PAD) * SCALE), int((100 + PAD) * SCALE)
    ref = max(float(smooth[c0:c1, c0:c1].mean(dtype=np.float64)), 1.0)
    out: F32 = np.clip(smooth / ref, 0.3, 1.8).astype(np.float32)
    return out


def make_sample(
    detector: YuNetDetector,
    image: ImageArray,
    face: Face,
    kind: str,
    rng: np.random.Generator,
    pools: Pools,
    person: str,
    *,
    photometric: bool = True,
    keep_aligned: bool = False,
) -> Sample:
    m = canvas_matrix(face.landmarks)
    occluded = image
    coverage = np.zeros(len(REGIONS), np.float32)
    variant = "none"
    if kind not in ("clean", "clean_original"):
        ctx = Context(
            pools, face_lighting(image, m), skin_colour(align_face(image, face.landmarks))
        )
        if kind == "partial":
            for _ in range(12):
                ctx.near_miss = True
                base = str(rng.choice(["sunglasses", "mask", "hand", "patch", "patch"]))
                occ = GENERATORS[base](rng, ctx)
                colour, alpha = occ.render()
                coverage = region_coverage(alpha)
                if coverage.max() < 0.3:
                    variant = f"{base}_{occ.variant}"
                    break
            else:
                alpha = np.zeros((CANVAS, CANVAS), np.float32)
                coverage = np.zeros(len(REGIONS), np.float32)
                variant = "fallback_clean"
        else:
            occ = GENERATORS[kind](rng, ctx)
            colour, alpha = occ.render()
            coverage = region_coverage(alpha)
            variant = occ.variant
        if alpha.max() > 0:
            feather = rng.uniform(0.4, 1.4) * SCALE
            x, y, bw, bh = cv2.boundingRect((alpha > 0).astype(np.uint8))
            x0, y0 = max(0, x - 8), max(0, y - 8)
            x1, y1 = min(CANVAS, x + bw + 8), min(CANVAS, y + bh + 8)
            alpha[y0:y1, x0:x1] = cv2.GaussianBlur(alpha[y0:y1, x0:x1], (0, 0), feather)
            h, w = image.shape[:2]
            flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
            a = cv2.warpAffine(alpha, m, (w, h), flags=flags, borderMode=cv2.BORDER_CONSTANT)
            col = cv2.warpAffine(colour, m, (w, h), flags=flags, borderMode=cv2.BORDER_REPLICATE)
            mixed = image.astype(np.float32) * (1 - a[..., None]) + col * a[..., None]
            occluded = np.clip(mixed, 0, 255).astype(np.uint8)
    if photometric and kind != "clean_original":
        occluded = degrade(occluded, rng)
    found = largest_face(detector, occluded)
    scale = occluded.shape[1] / image.shape[1]
    if found is not None:
        found = Face(
            found.box.__class__(
                found.box.left / scale,
                found.box.top / scale,
                found.box.right / scale,
                found.box.bottom / scale,
            ),
            found.landmarks,
            found.score,
        )
    if found is None or _iou(found, face) < 0.3:
        return Sample(None, coverage, kind, variant, person)
    aligned = align_face(occluded, found.landmarks)
    return Sample(
        occlusion_features(aligned),
        coverage,
        kind,
        variant,
        person,
        aligned if keep_aligned else None,
    )


def iter_sources(
    detector: YuNetDetector, images: list[tuple[str, Path]], flip_key: str | None
) -> Iterator[tuple[int, str, ImageArray, Face, bool]]:
    for i, (person, path) in enumerate(images):
        img = read_bgr(path)
        if img is None:
            continue
        flipped = False
        if flip_key is not None and sample_rng(flip_key, path.name).random() < 0.5:
            img = np.ascontiguousarray(img[:, ::-1])
            flipped = True
        face = largest_face(detector, img)
        if face is None:
            continue
        yield i, person, img, face, flipped


@dataclass
class Dataset:
    x: F32
    coverage: F32
    kinds: list[str]
    variants: list[str]
    sources: list[str]  # person/file of each sample
    lost: dict[str, list[int]]  # kind → [lost, total]


def build_dataset(
    detector: YuNetDetector,
    images: list[tuple[str, Path]],
    plan: dict[str, float],
    pools: Pools,
    key: str,
    *,
    flip: bool,
    log_every: int = 500,
) -> Dataset:
    """``plan``: kind → expected samples per photo (fractions drawn at random)."""
    feats: list[F32] = []
    cov: list[F32] = []
    kinds: list[str] = []
    variants: list[str] = []
    sources: list[str] = []
    lost: dict[str, list[int]] = {}
    t0 = time.perf_counter()
    for n, (i, person, img, face, _) in enumerate(
        iter_sources(detector, images, f"{key}-flip" if flip else None)
    ):
        for kind, rate in plan.items():
            count_rng = sample_rng(key, images[i][1].name, kind, "count")
            count = int(rate) + int(count_rng.random() < rate - int(rate))
            for j in range(count):
                rng = sample_rng(key, images[i][1].name, kind, j)
                s = make_sample(detector, img, face, kind, rng, pools, person)
                stat = lost.setdefault(kind, [0, 0])
                stat[1] += 1
                if s.features is None:
                    stat[0] += 1
                    continue
                feats.append(s.features)
                cov.append(s.coverage)
                kinds.append(kind)
                variants.append(s.variant)
                sources.append(f"{person}/{images[i][1].name}")
        if log_every and (n + 1) % log_every == 0:
            rate_s = (time.perf_counter() - t0) / (n + 1)
            print(
                f"  [{key}] {n + 1}/{len(images)} photos, {len(feats)} samples, "
                f"{rate_s:.3f} s/photo",
                flush=True,
            )
    return Dataset(
        np.stack(feats).astype(np.float32),
        np.stack(cov).astype(np.float32),
        kinds,
        variants,
        sources,
        lost,
    )


def save_dataset(ds: Dataset, path: Path) -> None:
    np.savez(
        path,
        x=ds.x,
        coverage=ds.coverage,
        kinds=np.array(ds.kinds),
        variants=np.array(ds.variants),
        sources=np.array(ds.sources),
        lost=np.array(json.dumps(ds.lost)),
    )


def merge(parts: list[Dataset]) -> Dataset:
    kinds = sorted({k for p in parts for k in p.lost})
    return Dataset(
        np.concatenate([p.x for p in parts]),
        np.concatenate([p.coverage for p in parts]),
        [k for p in parts for k in p.kinds],
        [v for p in parts for v in p.variants],
        [s for p in parts for s in p.sources],
        {k: [sum(p.lost.get(k, [0, 0])[i] for p in parts) for i in (0, 1)] for k in kinds},
    )


def with_real_labels(ds: Dataset) -> Dataset:
    """Regions covered by a real occluder stay covered whatever was drawn on top; ambiguous
    photos are dropped (caches may predate the list)."""
    keep = np.array([s.rsplit("/", 1)[-1] not in AMBIGUOUS for s in ds.sources], bool)
    cov = ds.coverage.copy()
    for i, source in enumerate(ds.sources):
        real = real_coverage(source)
        if real is not None:
            cov[i] = np.maximum(cov[i], real)
    return Dataset(
        ds.x[keep],
        cov[keep],
        [k for k, m in zip(ds.kinds, keep, strict=True) if m],
        [v for v, m in zip(ds.variants, keep, strict=True) if m],
        [s for s, m in zip(ds.sources, keep, strict=True) if m],
        ds.lost,
    )


def load_dataset(path: Path) -> Dataset:
    with np.load(path, allow_pickle=False) as d:
        return Dataset(
            d["x"],
            d["coverage"],
            d["kinds"].tolist(),
            d["variants"].tolist(),
            d["sources"].tolist(),
            json.loads(str(d["lost"])),
        )


# --- the model ---------------------------------------------------------------------------------
@dataclass
class Mlp:
    w1: F32
    b1: F32
    w2: F32
    b2: float


def _forward(z: F32, m: Mlp) -> tuple[F32, F32]:
    h = np.maximum(z @ m.w1 + m.b1, 0.0)
    return h, (h @ m.w2 + m.b2).astype(np.float32)


def train_mlp(
    z: F32,
    target: F32,
    weight: F32,
    z_val: F32,
    t_val: F32,
    w_val: F32,
    *,
    hidden: int,
    epochs: int,
    lr: float,
    decay: float,
    seed: int,
    input_dropout: float,
) -> Mlp:
    """Soft-target binary cross-entropy, Adam; returns the epoch with the lowest TUNE loss."""
    rng = np.random.default_rng(seed)
    d = z.shape[1]
    params = {
        "w1": (rng.normal(0, math.sqrt(2.0 / d), (d, hidden))).astype(np.float32),
        "b1": np.zeros(hidden, np.float32),
        "w2": (rng.normal(0, math.sqrt(1.0 / hidden), hidden)).astype(np.float32),
        "b2": np.zeros(1, np.float32),
    }
    mom = {k: np.zeros_like(v) for k, v in params.items()}
    vel = {k: np.zeros_like(v) for k, v in params.items()}
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    step = 0
    best: tuple[float, Mlp] | None = None
    batch = 256
    for epoch in range(epochs):
        order = rng.permutation(len(z))
        lr_e = lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
        for s in range(0, len(order), batch):
            idx = order[s : s + batch]
            xb, tb, wb = z[idx], target[idx], weight[idx]
            if input_dropout > 0:
                keep = rng.random(xb.shape, dtype=np.float32) >= input_dropout
                xb = xb * keep / (1 - input_dropout)
            pre = xb @ params["w1"] + params["b1"]
            h = np.maximum(pre, 0.0)
            logit = h @ params["w2"] + params["b2"][0]
            p = 0.5 * (1 + np.tanh(0.5 * logit))
            g_logit = ((p - tb) * wb / wb.sum(dtype=np.float64)).astype(np.float32)
            grads = {
                "w2": h.T @ g_logit + decay * params["w2"],
                "b2": np.array([g_logit.sum(dtype=np.float64)], np.float32),
            }
            g_h = np.outer(g_logit, params["w2"]) * (pre > 0)
            grads["w1"] = xb.T @ g_h + decay * params["w1"]
            grads["b1"] = g_h.sum(axis=0)
            step += 1
            for k in params:
                g = grads[k].astype(np.float32)
                mom[k] = beta1 * mom[k] + (1 - beta1) * g
                vel[k] = beta2 * vel[k] + (1 - beta2) * g * g
                mhat = mom[k] / (1 - beta1**step)
                vhat = vel[k] / (1 - beta2**step)
                params[k] = (params[k] - lr_e * mhat / (np.sqrt(vhat) + eps)).astype(np.float32)
        model = Mlp(
            params["w1"].copy(), params["b1"].copy(), params["w2"].copy(), float(params["b2"][0])
        )
        _, lv = _forward(z_val, model)
        pv = np.clip(0.5 * (1 + np.tanh(0.5 * lv)), 1e-6, 1 - 1e-6)
        loss = float(
            -(w_val * (t_val * np.log(pv) + (1 - t_val) * np.log(1 - pv))).sum(dtype=np.float64)
            / w_val.sum(dtype=np.float64)
        )
        if best is None or loss < best[0]:
            best = (loss, model)
        print(f"    epoch {epoch + 1:2d}: tune loss {loss:.4f}", flush=True)
    assert best is not None
    return best[1]


def visible_target(coverage: F32) -> F32:
    """The training target for a region's visible share: 1 up to 20 % covered, 0 from 80 %,
    linear between, so 0.5 stays at half covered. Sharper than 1 − covered so that a frame of
    clear glasses or a finger tip at the edge of a box does not pull clean regions towards
    the decision point."""
    out: F32 = np.clip(1.0 - (coverage - 0.2) / 0.6, 0.0, 1.0).astype(np.float32)
    return out


def sample_weights(ds: Dataset, clean_weight: float, real_weight: float) -> F32:
    """Unoccluded faces count more (false 4004s matter most), and so do real occluders (few,
    and the nearest thing to what the service will meet)."""
    w = np.ones(len(ds.kinds), np.float32)
    neg = np.isin(np.array(ds.kinds), NEGATIVE_KINDS)
    w[neg] = clean_weight
    real = np.array([real_coverage(s) is not None for s in ds.sources], bool)
    w[real] = real_weight
    return w


def pick_offset(logits: F32, clean: npt.NDArray[np.bool_], target: float) -> float:
    """The smallest upward logit shift for which at most ``target`` of clean regions score
    < 0.5; 0 when the model already meets it (a shift never goes downwards, which would only
    trade clean faces for occluded ones)."""
    clean_logits = np.sort(logits[clean])
    if len(clean_logits) == 0:
        return 0.0
    k = math.floor(target * len(clean_logits))
    # After the shift, the k-th lowest clean logit must sit at ≥ 0.
    needed = -float(clean_logits[min(k, len(clean_logits) - 1)])
    return max(0.0, needed + 1e-3)


def write_npz(path: Path, arrays: dict[str, Any]) -> None:
    """``np.savez_compressed`` with fixed member dates and order, so that the same weights give
    the same bytes (and sha256) on every run."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue())


_ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def main(argv: list[str] | None = None) -> int:
    if argv is None and any(os.environ.get(k) != v for k, v in _ONE_THREAD.items()):
        # Bit-identical weights need one BLAS thread (the summation order changes with the
        # thread count, and early stopping can then pick another epoch). BLAS reads these
        # variables when numpy loads, so start again with them set.
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **_ONE_THREAD})
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, required=True, help="LFW folder (<person>/<image>.jpg)")
    ap.add_argument("--out", type=Path, required=True, help="weights .npz to write")
    ap.add_argument(
        "--holdout-kinds",
        default=",".join(DEFAULT_HOLDOUT),
        help="occluder kinds never drawn for training (comma-separated)",
    )
    ap.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="folder (outside the project) for generated feature sets, reused if there",
    )
    ap.add_argument(
        "--max-build",
        type=int,
        default=0,
        help="with --cache: build at most this many data parts, then stop (0: all)",
    )
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=24)
    ap.add_argument("--clean-target", type=float, default=0.005)
    ap.add_argument("--limit", type=int, default=0, help="use at most this many photos per split")
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)

    holdout = tuple(k for k in args.holdout_kinds.split(",") if k)
    unknown = set(holdout) - set(OCCLUDER_KINDS)
    if unknown:
        ap.error(f"unknown kinds {sorted(unknown)}")
    plan = {
        "clean": 1.2,
        "eyeglasses": 0.5,
        "partial": 1.0,
        "sunglasses": 1.0,
        "mask": 1.0,
        "hand": 1.5,
        "patch": 1.5,
        "scarf": 1.0,
    }
    plan = {k: v for k, v in plan.items() if k not in holdout}

    detector = make_detector()
    train_images = list_images(args.data, ("train",))
    tune_images = list_images(args.data, ("tune",))
    if args.limit:
        train_images, tune_images = train_images[: args.limit], tune_images[: args.limit]
    print(f"train photos {len(train_images)}, tune photos {len(tune_images)}", flush=True)
    tag = hashlib.sha256(
        json.dumps([plan, args.limit, FEATURE_VERSION, SEED, GENERATOR_VERSION]).encode()
    ).hexdigest()[:10]

    built = 0

    def part(
        split: str, images: list[tuple[str, Path]], r: int, plan: dict[str, float]
    ) -> Dataset | None:
        nonlocal built
        path = args.cache / f"occl_{split}{r}_{tag}.npz" if args.cache else None
        if path is not None and path.is_file():
            print(f"reusing {path}", flush=True)
            return load_dataset(path)
        if args.max_build and built >= args.max_build:
            return None
        built += 1
        pools = build_pools(detector, images, 400, split)
        ds = build_dataset(detector, images, plan, pools, f"{split}{r}", flip=True)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_dataset(ds, path)
        return ds

    t0 = time.perf_counter()
    real_train = [(p, f) for p, f in train_images if f.name in REAL_OCCLUSIONS]
    parts = {
        "train": [
            *(part("train", train_images, r, plan) for r in range(2)),
            # The few real occluders of train persons, drawn again under other degradations.
            part("trainreal", real_train, 0, {"clean": REAL_REPEATS}),
        ],
        "tune": [part("tune", tune_images, 0, plan)],
    }
    if any(p is None for ps in parts.values() for p in ps):
        print(f"built {built} part(s) into {args.cache}; run again to build the rest")
        return 0
    train = with_real_labels(merge([p for p in parts["train"] if p is not None]))
    tune = with_real_labels(merge([p for p in parts["tune"] if p is not None]))
    print(
        f"samples: train {len(train.kinds)}, tune {len(tune.kinds)} "
        f"({time.perf_counter() - t0:.0f} s); lost faces {train.lost}",
        flush=True,
    )

    mean = train.x.mean(axis=0, dtype=np.float64).astype(np.float32)
    std = train.x.std(axis=0, dtype=np.float64)
    scale = np.maximum(std, 1e-3 + 0.05 * float(np.median(std))).astype(np.float32)
    z = ((train.x - mean) / scale).astype(np.float32)
    zv = ((tune.x - mean) / scale).astype(np.float32)
    w = sample_weights(train, 2.0, 3.0)
    wv = sample_weights(tune, 2.0, 3.0)
    clean_v = np.isin(np.array(tune.kinds), NEGATIVE_KINDS)

    arrays: dict[str, Any] = {"mean": mean.astype(np.float32), "scale": scale}
    offsets = {}
    for r, name in enumerate(REGIONS):
        print(f"region {name}", flush=True)
        t = visible_target(train.coverage[:, r])
        tv = visible_target(tune.coverage[:, r])
        m = train_mlp(
            z,
            t,
            w,
            zv,
            tv,
            wv,
            hidden=args.hidden,
            epochs=args.epochs,
            lr=2e-3,
            decay=1e-4,
            seed=SEED + r,
            input_dropout=0.2,
        )
        _, lv = _forward(zv, m)
        # Logit of the visible share: negative = occluded. Clean regions: those of negative kinds.
        clean_regions = clean_v & (tune.coverage[:, r] < 0.3)
        offset = pick_offset(lv, clean_regions, args.clean_target)
        offsets[name] = offset
        arrays[f"{name}.w1"] = m.w1.astype(np.float32)
        arrays[f"{name}.b1"] = m.b1.astype(np.float32)
        arrays[f"{name}.w2"] = m.w2.astype(np.float32)
        arrays[f"{name}.b2"] = np.array(m.b2 + offset, np.float32)
        occ = tune.coverage[:, r] >= OCCLUDED_AT
        pred = (lv + offset) < 0
        print(
            f"  tune: offset {offset:+.3f}, "
            f"clean false-occlusion {pred[clean_regions].mean():.4f}, "
            f"detected {pred[occ].mean():.4f}",
            flush=True,
        )

    meta = {
        "feature_version": FEATURE_VERSION,
        "regions": list(REGIONS),
        "hidden": args.hidden,
        "trained_kinds": sorted(plan),
        "holdout_kinds": list(holdout),
        "split": {"salt": SPLIT_SALT, "test": TEST_FRACTION, "tune": TUNE_FRACTION},
        "seed": SEED,
        "offsets": offsets,
        "samples": {"train": len(train.kinds), "tune": len(tune.kinds)},
        "data": "LFW (deep-funneled), train persons only; synthetic occluders",
        "data_digest": data_digest(
            args.data, [f.relative_to(args.data).as_posix() for _, f in train_images + tune_images]
        ),
        "commit": git_commit(Path(__file__).resolve().parents[1]),
        "made_by": "tools/train_occlusion.py",
    }
    arrays["meta"] = np.array(json.dumps(meta, sort_keys=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_npz(args.out, arrays)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
