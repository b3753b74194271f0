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
    decode_budget_s: float = 2.5  # wall-clock budget for decoding; beyond it → 2008, never a hang
