"""The limits on what a request may carry, apart from the decoders that enforce them: the settings
(and with them the API tier, the client and the worker's interface) build them without loading
OpenCV or PyAV."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ImageLimits:
    max_bytes: int = 5 * 1024 * 1024
    min_side: int = 32
    max_side: int = 5000
    # A progressive JPEG is decoded once per scan: a few hundred repeated scans in a small file
    # cost seconds of CPU. Photos have a dozen or so (an EXIF thumbnail adds its own).
    max_scans: int = 64
    # Decoded at most this long side (JPEGs by DCT scaling, so the full size is never held).
    max_output_side: int | None = None


@dataclass(frozen=True, slots=True)
class VideoLimits:
    max_bytes: int = 16 * 1024 * 1024
    min_side: int = 8
    max_side: int = 5000
    min_seconds: float = 2.0
    window_seconds: float = 8.0  # only the first window_seconds are decoded and analysed
    sample_fps: float = 10.0  # target sampling rate inside the window
    max_frames: int = 48  # cap on sampled frames (spread evenly when the cap binds)
    max_output_side: int = 1280  # sampled frames are converted to BGR at most this long side
    # Work, not time, bounds what decoding may cost, so that a verdict never depends on what
    # else the machine is doing: pixels decoded (8 s of 1080p at 30 frames/s; beyond it the
    # clip is judged on what decoded so far, like a clip that ends there) and packets read.
    max_decoded_pixels: int = 8 * 30 * 1920 * 1080
    max_packets: int = 20_000
    # A safety net for a stuck decoder only: past it the answer is 503 (busy, retry), never
    # a verdict on the video.
    decode_timeout_s: float = 60.0
