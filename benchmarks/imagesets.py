"""Photo-pair sets for the latency benchmark, built deterministically from a seed.

Each set stands for a kind of photo a customer sends, because the cost of a request depends on
the photo far more than on the comparison:

- ``webcam``: NUAA live webcam frames, 640×480 JPEG, the face large and centred. The easy case
  (and the pairs the benchmark has always used); nothing is written.
- ``scene``: a customer's photo where the face is small in a cluttered scene: an LFW face pasted
  at 110–190 px into a 640×480 procedural background full of edges, shapes and text (but no
  faces), with a feathered elliptical edge. The detector must search the whole frame, and at a
  reduced detection size the face gets small. The ground-truth face box is known.
- ``phone``: a phone photo at full resolution: frames of real phone selfie clips
  (``wild/live/td_selfies__*``, decoded upright by the service's own decoder), centre-cropped to
  9:16 and resized to 1080×1920 portrait. Decoding and downscaling the JPEG is a real part of the
  cost of such a photo.

Same data and seed, same pairs and byte-identical files. ``out`` is the caller's (temporary)
folder; no data is ever written next to the data or into the project.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facegate.core.limits import VideoLimits
from facegate.core.types import ImageArray
from facegate.core.video import decode_video

FaceBox = tuple[int, int, int, int]

SCENE_SIZE = (640, 480)  # width, height
PHONE_SIZE = (1080, 1920)
FACE_SIDES = (110, 190)  # side in px of the pasted LFW square
# Where YuNet puts the face in a deep-funneled LFW image (median over 150 photos: x 0.31–0.68,
# y 0.27–0.76), as fractions of the image side: (left, top, right, bottom).
LFW_FACE = (0.30, 0.26, 0.70, 0.76)
PHONE_TIMES = (1.0, 2.5)  # seconds into each clip
JPEG_QUALITY = 90


@dataclass(frozen=True)
class Photo:
    path: Path  # the JPEG written
    person: str  # identity label
    face: (
        FaceBox | None
    )  # ground-truth face box (left, top, right, bottom) in the photo, where known


@dataclass(frozen=True)
class ImageSet:
    name: str  # "webcam", "scene", "phone"
    description: str  # one line for the docs
    pairs: list[tuple[Photo, Photo]]


def webcam_set(data: Path, n: int, seed: int = 0) -> ImageSet:
    """The pairs of ``benchmarks.latency.photo_pairs``: NUAA live frames, any two subjects."""
    files = sorted((data / "nuaa" / "live").glob("*.jpg"))
    if not files:
        raise SystemExit(f"no NUAA live frames under {data}/nuaa/live")
    rng = random.Random(seed)
    picks = [(rng.choice(files), rng.choice(files)) for _ in range(n)]

    def photo(path: Path) -> Photo:
        return Photo(path, path.name.split("_")[0], None)

    pairs = [(photo(a), photo(b)) for a, b in picks]
    return ImageSet("webcam", "NUAA live webcam frames, 640×480 JPEG", pairs)


def scene_set(data: Path, out: Path, n: int, seed: int = 0) -> ImageSet:
    """LFW pairs (half same person, half different) pasted small into cluttered 640×480 scenes."""
    lines = [ln.split() for ln in (data / "lfw" / "pairs.txt").read_text().splitlines()]
    same = [(w[0], int(w[1]), w[0], int(w[2])) for w in lines if len(w) == 3]
    diff = [(w[0], int(w[1]), w[2], int(w[3])) for w in lines if len(w) == 4]
    rng = random.Random(seed)
    chosen = rng.sample(same, n - n // 2) + rng.sample(diff, n // 2)
    rng.shuffle(chosen)
    folder = out / "scene"
    folder.mkdir(parents=True, exist_ok=True)
    pairs = []
    for index, (name_a, i, name_b, j) in enumerate(chosen):
        gen = np.random.default_rng((seed, index))
        a = _scene_photo(data, name_a, i, folder / f"{index:04d}_a.jpg", gen)
        b = _scene_photo(data, name_b, j, folder / f"{index:04d}_b.jpg", gen)
        pairs.append((a, b))
    return ImageSet(
        "scene",
        "LFW photos pasted small (faces 44–95 px) into cluttered 640×480 scenes, JPEG",
        pairs,
    )


def phone_set(data: Path, out: Path, n: int, seed: int = 0) -> ImageSet:
    """Frames of phone selfie clips at 1080×1920, half same person, half different persons."""
    clips = sorted((data / "wild" / "live").glob("td_selfies__*"))
    if not clips:
        raise SystemExit(f"no td_selfies clips under {data}/wild/live")
    frames: dict[str, list[tuple[Path, float]]] = {}
    for clip in clips:
        frames.setdefault(_selfie_person(clip), []).extend((clip, t) for t in PHONE_TIMES)
    persons = sorted(frames)
    rng = random.Random(seed)
    picks: list[tuple[tuple[Path, float], tuple[Path, float]]] = []
    for index in range(n):
        if index % 2 == 0:  # same person: two frames, from one clip or two
            a, b = rng.sample(frames[rng.choice(persons)], 2)
        else:
            p, q = rng.sample(persons, 2)
            a, b = rng.choice(frames[p]), rng.choice(frames[q])
        picks.append((a, b))
    folder = out / "phone"
    folder.mkdir(parents=True, exist_ok=True)
    photos: dict[tuple[Path, float], Photo] = {}
    for clip in sorted({c for pair in picks for c, _ in pair}):
        for t, pixels in zip(PHONE_TIMES, _clip_frames(clip), strict=True):
            path = folder / f"{clip.stem}_{round(t * 1000)}ms.jpg"
            _write_jpeg(path, _portrait(pixels))
            photos[clip, t] = Photo(path, _selfie_person(clip), None)
    pairs = [(photos[a], photos[b]) for a, b in picks]
    return ImageSet(
        "phone", "phone selfie frames at full resolution, 1080×1920 portrait JPEG", pairs
    )


def build_sets(
    data: Path,
    out: Path,
    n: int,
    seed: int = 0,
    names: Sequence[str] = ("webcam", "scene", "phone"),
) -> list[ImageSet]:
    """The sets named, in that order; files go under ``out/<name>/``."""
    makers: dict[str, Callable[[], ImageSet]] = {
        "webcam": lambda: webcam_set(data, n, seed),
        "scene": lambda: scene_set(data, out, n, seed),
        "phone": lambda: phone_set(data, out, n, seed),
    }
    unknown = [name for name in names if name not in makers]
    if unknown:
        raise ValueError(f"unknown image set {unknown[0]!r}; known: {', '.join(makers)}")
    return [makers[name]() for name in names]


def _write_jpeg(path: Path, pixels: ImageArray) -> None:
    ok, buf = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError(f"could not encode {path}")
    path.write_bytes(buf.tobytes())


def _colour(gen: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = gen.integers(0, 256, 3).tolist()
    return (r, g, b)


def _point(gen: np.random.Generator, w: int, h: int) -> tuple[int, int]:
    return (int(gen.integers(-40, w + 40)), int(gen.integers(-40, h + 40)))


def _background(gen: np.random.Generator) -> ImageArray:
    """Textured clutter: shapes, lines and text in random colours, soft blobs, a little noise."""
    w, h = SCENE_SIZE
    img = np.full((h, w, 3), gen.integers(30, 226, 3), np.uint8)
    for _ in range(int(gen.integers(40, 70))):
        kind, thick = int(gen.integers(0, 3)), int(gen.choice([-1, 1, 2, 3, 5]))
        if kind == 0:
            cv2.rectangle(img, _point(gen, w, h), _point(gen, w, h), _colour(gen), thick)
        elif kind == 1:
            radius = int(gen.integers(5, 90))
            cv2.circle(img, _point(gen, w, h), radius, _colour(gen), thick, cv2.LINE_AA)
        else:
            cv2.line(img, _point(gen, w, h), _point(gen, w, h), _colour(gen), max(thick, 1))
    for _ in range(int(gen.integers(6, 12))):
        text = "".join(gen.choice(list(string.ascii_letters + string.digits), 8).tolist())
        font, scale = int(gen.integers(0, 8)), float(gen.uniform(0.5, 2.0))
        cv2.putText(img, text, _point(gen, w, h), font, scale, _colour(gen), 2, cv2.LINE_AA)
    out = img.astype(np.float32)
    for _ in range(int(gen.integers(3, 7))):  # soft blobs, drawn and blurred at a quarter size
        blob = np.zeros((h // 4, w // 4), np.float32)
        cx, cy = _point(gen, w, h)
        cv2.circle(blob, (cx // 4, cy // 4), int(gen.integers(8, 30)), 1.0, -1)
        soft = cv2.GaussianBlur(blob, (0, 0), float(gen.uniform(4, 10)))
        mask = np.asarray(cv2.resize(soft, (w, h)), np.float32)[..., None] * 0.7
        out = out * (1 - mask) + np.array(_colour(gen), np.float32) * mask
    out += gen.standard_normal(out.shape, np.float32) * 6.0
    return np.asarray(np.clip(out + 0.5, 0, 255), np.uint8)


def _scene_photo(
    data: Path, person: str, number: int, path: Path, gen: np.random.Generator
) -> Photo:
    face = cv2.imread(str(data / "lfw" / person / f"{person}_{number:04d}.jpg"))
    if face is None:
        raise SystemExit(f"cannot read LFW photo {person} {number}")
    img = _background(gen).astype(np.float32)
    side = int(gen.integers(FACE_SIDES[0], FACE_SIDES[1] + 1))
    x = int(gen.integers(0, SCENE_SIZE[0] - side + 1))
    y = int(gen.integers(0, SCENE_SIZE[1] - side + 1))
    small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32)
    # A feathered ellipse: opaque over the face, fading out before the square's edge.
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side - 0.5
    r = np.sqrt((xx / 0.44) ** 2 + (yy / 0.5) ** 2)
    alpha = np.clip((1.0 - r) / 0.25, 0.0, 1.0)[..., None]
    patch = img[y : y + side, x : x + side]
    img[y : y + side, x : x + side] = patch * (1 - alpha) + small * alpha
    _write_jpeg(path, np.clip(img + 0.5, 0, 255).astype(np.uint8))
    left, top, right, bottom = (round(f * side) for f in LFW_FACE)
    return Photo(path, person, (x + left, y + top, x + right, y + bottom))


def _selfie_person(clip: Path) -> str:
    return clip.stem.removeprefix("td_selfies__").split("_")[0] or clip.stem


def _clip_frames(clip: Path) -> list[ImageArray]:
    """The upright full-resolution frames nearest to PHONE_TIMES, by the service's decoder."""
    limits = VideoLimits(
        max_bytes=1 << 30,
        max_output_side=VideoLimits().max_side,
        window_seconds=max(PHONE_TIMES) + 0.25,
        sample_fps=2.0,  # samples at 0, 0.5, 1.0, … s: PHONE_TIMES among them
        decode_timeout_s=600.0,
    )
    video = decode_video(clip.read_bytes(), limits)
    return [min(video.frames, key=lambda f: abs(f.timestamp - t)).pixels for t in PHONE_TIMES]


def _portrait(pixels: ImageArray) -> ImageArray:
    """Centre-crop to 9:16 (landscape frames and 3:4 portraits alike), then resize to 1080×1920."""
    h, w = pixels.shape[:2]
    cw, ch = min(w, round(h * 9 / 16)), min(h, round(w * 16 / 9))
    x, y = (w - cw) // 2, (h - ch) // 2
    crop = pixels[y : y + ch, x : x + cw]
    interp = cv2.INTER_CUBIC if cw < PHONE_SIZE[0] else cv2.INTER_AREA
    return np.ascontiguousarray(cv2.resize(crop, PHONE_SIZE, interpolation=interp), np.uint8)
