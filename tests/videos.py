"""Making test videos in memory with PyAV, and cutting frames out of the real clips."""

from __future__ import annotations

import io
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


def encode_video(
    frames: Iterable[np.ndarray],
    fps: int = 25,
    *,
    container: str = "mp4",
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
) -> bytes:
    """BGR frames (all one size, even sides) → the bytes of a video file."""
    buf = io.BytesIO()
    out = av.open(buf, mode="w", format=container)
    stream = None
    for img in frames:
        if stream is None:
            stream = out.add_stream(codec, rate=fps)
            stream.height, stream.width = img.shape[:2]
            stream.pix_fmt = pix_fmt
            stream.options = options or ({"preset": "veryfast"} if codec == "libx264" else {})
        for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
            out.mux(packet)
    assert stream is not None, "no frames"
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return buf.getvalue()


def read_frames(path: Path, start: float = 0.0, seconds: float = 3.0) -> list[np.ndarray]:
    """Upright BGR frames of ``path`` from ``start`` for ``seconds`` (even sides)."""
    frames = []
    with av.open(str(path)) as box:
        for frame in box.decode(video=0):
            t = frame.time or 0.0
            if t < start:
                continue
            if t >= start + seconds:
                break
            img = frame.to_ndarray(format="bgr24")
            if frame.rotation:
                img = np.rot90(img, frame.rotation // 90)
            h, w = img.shape[:2]
            frames.append(np.ascontiguousarray(img[: h - h % 2, : w - w % 2]))
    return frames


def wall(seconds: float, fps: int = 25, size: tuple[int, int] = (640, 480)) -> list[np.ndarray]:
    """A plastered wall filmed by a slightly moving hand-held camera: texture, no face."""
    rng = np.random.default_rng(7)
    w, h = size
    big = rng.normal(150, 12, (h // 8 + 40, w // 8 + 40, 3))
    texture = np.kron(big, np.ones((8, 8, 1)))
    texture = np.clip(texture + rng.normal(0, 4, texture.shape), 0, 255).astype(np.uint8)
    out = []
    for k in range(round(seconds * fps)):
        dx = int(8 + 6 * np.sin(k / 7))
        dy = int(8 + 5 * np.cos(k / 9))
        out.append(np.ascontiguousarray(texture[dy : dy + h, dx : dx + w]))
    return out


def reencode(
    path: Path,
    *,
    muxer: str,
    codec: str,
    size: tuple[int, int],
    seconds: float = 3.0,
    fps: float | None = None,
    jitter: float = 0.0,
    sideways: bool = False,
) -> bytes:
    """The first ``seconds`` of a clip as another phone or camera would have written it: other
    container, codec and frame size (``size`` upright), at ``fps`` (None: the clip's own
    times) with timestamps shifted by up to ``jitter`` of a frame period (variable frame rate),
    and ``sideways``: stored turned a quarter and tagged with a 90° rotation, as phones do."""
    rng = np.random.default_rng(1)
    buf = io.BytesIO()
    with av.open(str(path)) as src, av.open(buf, mode="w", format=muxer) as dst:
        rate = Fraction(round(fps or 30), 1)
        stream = dst.add_stream(codec, rate=rate)
        w, h = size
        stream.width, stream.height = (h, w) if sideways else (w, h)
        stream.pix_fmt = "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        if sideways:
            stream.set_display_rotation(90)
        first: float | None = None
        next_t = 0.0
        last_ms = -1
        for frame in src.decode(video=0):
            t = float(frame.time or 0.0)
            first = t if first is None else first
            t -= first
            if t >= seconds:
                break
            if fps is not None and t + 1e-6 < next_t:
                continue  # dropped to the lower frame rate
            next_t = t + 1.0 / fps if fps else t
            img = frame.to_ndarray(format="bgr24")
            if frame.rotation:
                img = np.rot90(img, round(frame.rotation / 90) % 4)
            img = cv2.resize(np.ascontiguousarray(img), size, interpolation=cv2.INTER_AREA)
            if sideways:  # stored turned clockwise; the tag turns it back
                img = np.ascontiguousarray(np.rot90(img, -1))
            shake = rng.uniform(-jitter, jitter) / (fps or 30)
            ms = max(round((t + shake) * 1000), last_ms + 1)
            out = av.VideoFrame.from_ndarray(img, format="bgr24")
            out.pts, out.time_base, last_ms = ms, Fraction(1, 1000), ms
            for packet in stream.encode(out):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    return buf.getvalue()
