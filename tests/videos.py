"""Making test videos in memory with PyAV, and cutting frames out of the real clips."""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import av
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
