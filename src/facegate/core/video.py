"""Bytes → sampled BGR frames for liveness videos, decoded once from memory with PyAV.

The same order as for photos keeps hostile uploads cheap: size in bytes first, then the container
by magic bytes, then the picture size from the stream header, and only then decoding, under
bounds on work (pixels decoded, packets read, frames): the same upload gets the same verdict on
an idle machine and a saturated one. Only the first ``window_seconds`` are decoded, and only the
sampled frames are converted to BGR (scaled down inside swscale), so a long or high-resolution
video costs about as much as a short one. A wall-clock limit remains only as a net for a stuck
decoder, and its expiry is "busy" (503), never a verdict.
"""

from __future__ import annotations

import io
import math
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import NoReturn

import av
import numpy as np
from av.codec.context import ThreadType
from av.container import InputContainer
from av.stream import Disposition
from av.video.frame import VideoFrame as AvFrame
from av.video.stream import VideoStream

from facegate.core.errors import Code, FacegateError, UnavailableError
from facegate.core.limits import VideoLimits
from facegate.core.types import ImageArray

# Our short container name → the FFmpeg demuxer forced for it. FFmpeg's own probing is never used:
# it would also accept playlist and list formats (hls, concat, …) that open other files or URLs.
_DEMUXERS: dict[str, str] = {
    "mp4": "mov",
    "avi": "avi",
    "flv": "flv",
    "asf": "asf",
    "rm": "rm",
    "matroska": "matroska",
}
# ISO BMFF / QuickTime files start with a box whose type sits at offset 4; old QuickTime files may
# start with padding or media boxes instead of ``ftyp``.
_MP4_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"})
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_EBML = b"\x1a\x45\xdf\xa3"

# Timestamps are rational numbers turned into floats; a target time and a frame time that are
# "equal" may differ in the last bits, so comparisons allow a millisecond.
_EPS = 1e-3
# More decoded frames than this per second of window means the timestamps do not advance (a
# crafted stream could otherwise keep the decoder busy without ever reaching the window's end).
_MAX_DECODED_PER_SECOND = 240
_FALLBACK_FPS = 30.0


@dataclass(frozen=True, slots=True)
class VideoFrame:
    index: int  # position among the sampled frames
    timestamp: float  # seconds from the first frame
    pixels: ImageArray  # BGR uint8, upright (rotation applied), long side ≤ max_output_side


@dataclass(frozen=True, slots=True)
class DecodedVideo:
    container: str  # our short name: "mp4", "avi", "flv", "asf", "rm", "matroska"
    codec: str  # decoder name, e.g. "h264"
    width: int  # upright display size of the original stream (after rotation)
    height: int
    duration: float  # seconds actually playable: metadata, but never more than what decodes
    fps: float  # average frame rate of the stream
    rotation: int  # clockwise degrees applied to make frames upright (0, 90, 180, 270)
    scale: float  # sampled pixel size / original size (≤ 1)
    frames: tuple[VideoFrame, ...]


def sniff_container(data: bytes) -> str | None:
    """Our short container name from the magic bytes, or None for anything we do not accept."""
    if data[4:8] in _MP4_BOXES:
        return "mp4"
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "avi"
    if data.startswith(b"FLV\x01"):
        return "flv"
    if data.startswith(_ASF_GUID):
        return "asf"
    if data.startswith(b".RMF"):
        return "rm"
    if data.startswith(_EBML):
        return "matroska"
    return None


def decode_video(data: bytes, limits: VideoLimits | None = None) -> DecodedVideo:
    """Validate an uploaded video and sample upright BGR frames from its first window.

    Every failure is a ``FacegateError`` with code 2008 (invalid video) and a detail that says
    which rule was broken.
    """
    limits = limits or VideoLimits()
    if not data:
        _invalid("the video file is empty")
    if len(data) > limits.max_bytes:
        _invalid(f"the video is {len(data)} bytes; the limit is {_size_text(limits.max_bytes)}")
    name = sniff_container(data)
    if name is None:
        _invalid("unsupported video container; send MP4, MOV, AVI, FLV, WMV/ASF, RM, WebM or MKV")
    started = time.monotonic()
    try:
        with av.open(
            io.BytesIO(data),
            mode="r",
            format=_DEMUXERS[name],
            # FFmpeg's interrupt callback bounds the header parsing, which our loop cannot reach.
            timeout=limits.decode_timeout_s,
            io_open=_refuse_nested_open,
        ) as box:
            return _decode(box, name, limits, started)
    except (FacegateError, UnavailableError):
        raise
    except Exception as exc:  # av errors, MemoryError, ValueError …: all mean an unusable upload
        _check_deadline(started, limits, exc)
        _invalid("the video data is corrupt, truncated or cannot be decoded", exc)


def _decode(box: InputContainer, name: str, limits: VideoLimits, started: float) -> DecodedVideo:
    stream = _video_stream(box)
    ctx = stream.codec_context
    _check_sides(ctx.width, ctx.height, limits)
    stream.thread_type = ThreadType.AUTO  # frame + slice threads: every core helps

    meta_fps = _positive(stream.average_rate) or _positive(stream.guessed_rate)
    period = 1.0 / (meta_fps or _FALLBACK_FPS)
    scale = min(1.0, limits.max_output_side / max(ctx.width, ctx.height))
    out_w, out_h = max(1, round(ctx.width * scale)), max(1, round(ctx.height * scale))
    targets = _targets(limits)
    max_decoded = math.ceil(limits.window_seconds * _MAX_DECODED_PER_SECOND) + 1

    sampled: list[VideoFrame] = []
    next_target = 0
    decoded = 0
    pixels_decoded = 0
    packets = 0
    first: float | None = None
    last = 0.0
    rotation_ccw = 0
    reached_window = False
    # Where the packets read so far end: with frame threading the decoder runs several packets
    # ahead of the frames it returns, so at the window's end the rest of a short file may
    # already be read, and only this says how far its data goes.
    packets_end = 0.0
    try:
        for packet in box.demux(stream):
            _check_deadline(started, limits)
            packets += 1
            if packets > limits.max_packets:
                _invalid(f"the video has more than {limits.max_packets} packets to read")
            packets_end = max(packets_end, _packet_end(packet))
            for frame in packet.decode():
                _check_deadline(started, limits)
                decoded += 1
                pixels_decoded += frame.width * frame.height
                if decoded > max_decoded:
                    _invalid(
                        f"the video has more than {max_decoded} frames in its first "
                        f"{limits.window_seconds:g} s; its timestamps are not valid"
                    )
                if frame.width != ctx.width or frame.height != ctx.height:
                    _check_sides(frame.width, frame.height, limits)
                if frame.pts is not None:
                    absolute = float(frame.time)
                else:  # no timestamp: assume the nominal frame period
                    absolute = 0.0 if first is None else first + last + period
                if first is None:
                    first = absolute
                    # Phones write quarter turns; anything else is rounded to the nearest one.
                    rotation_ccw = round(frame.rotation / 90) % 4
                # Decoders emit in presentation order; a step backwards is a broken stream, and
                # clamping keeps the sampling and the duration evidence monotone.
                last = max(absolute - first, last)
                if next_target < len(targets) and last >= targets[next_target] - _EPS:
                    # Converted at once: holding decoded frames would pin full-size YUV buffers.
                    pixels = _to_bgr(frame, out_w, out_h, rotation_ccw)
                    sampled.append(VideoFrame(index=len(sampled), timestamp=last, pixels=pixels))
                    while next_target < len(targets) and targets[next_target] <= last + _EPS:
                        next_target += 1
                # At the window's end, or at the pixel budget: what decoded so far is what the
                # clip is judged on, whatever the load.
                if (
                    last + period >= limits.window_seconds - _EPS
                    or pixels_decoded >= limits.max_decoded_pixels
                ):
                    reached_window = True
                    break
            if reached_window:
                break
    except FacegateError:
        raise
    except av.FFmpegError as exc:
        # A truncated upload ends in a damaged packet; what decoded before it is the playable
        # part, and the duration rule below judges whether that is enough.
        _check_deadline(started, limits, exc)
    if first is None:
        _invalid("no frame of the video could be decoded")

    evidence = last + period
    meta = _metadata_duration(box, stream)
    if meta is None:
        duration = evidence
    elif reached_window:
        # Decoding stopped at the window, so the evidence is only a lower bound. A header that
        # claims less than what decoded is still believed: the safe side, and it keeps a bogus
        # timestamp jump from turning a short clip into a long one.
        duration = meta
        # A file cut in transit still plays its first seconds; its header, written for the whole
        # file, gives it away. Reading the rest of the packets without decoding them is cheap.
        end = max(packets_end, _packets_end(box, stream, started, limits)) - (first or 0.0)
        if end < meta - max(0.5, 0.05 * meta):
            _invalid(
                f"the video is truncated: its data ends at {end:.2f} s of the {meta:.2f} s "
                "its header declares"
            )
    else:
        # Decoding hit the end of the data: a header cannot vouch for frames that are not there.
        duration = min(meta, evidence)
    duration = round(duration, 3)
    if duration < limits.min_seconds:
        _invalid(f"the video lasts {duration:.2f} s; at least {limits.min_seconds:g} s is required")

    fps = meta_fps or ((decoded - 1) / last if last > 0 else 0.0)
    upright = (ctx.height, ctx.width) if rotation_ccw % 2 else (ctx.width, ctx.height)
    return DecodedVideo(
        container=name,
        codec=ctx.name,
        width=upright[0],
        height=upright[1],
        duration=duration,
        fps=float(fps),
        rotation=(-90 * rotation_ccw) % 360,
        scale=scale,
        frames=tuple(sampled),
    )


def _packets_end(
    box: InputContainer, stream: VideoStream, started: float, limits: VideoLimits
) -> float:
    """Presentation end (seconds) of the last intact packet after the decoded window."""
    end = 0.0
    try:
        for read, packet in enumerate(box.demux(stream)):
            _check_deadline(started, limits)
            if packet.is_corrupt or read >= limits.max_packets:
                break
            end = max(end, _packet_end(packet))
    except av.FFmpegError:
        pass  # damaged data: what came before it is where the file ends
    return end


def _packet_end(packet: av.Packet[VideoStream]) -> float:
    """Presentation end of a packet in seconds (0 for one without a timestamp)."""
    if packet.pts is None or packet.time_base is None or packet.is_corrupt:
        return 0.0
    return float((packet.pts + (packet.duration or 0)) * packet.time_base)


def _video_stream(box: InputContainer) -> VideoStream:
    for stream in box.streams.video:
        # A cover picture in an audio file is a one-frame "video" stream, not a video.
        if not stream.disposition & Disposition.attached_pic:
            return stream
    _invalid("the file holds no video stream")


def _check_sides(width: int, height: int, limits: VideoLimits) -> None:
    bad = [
        side
        for side, value in (("width", width), ("height", height))
        if not limits.min_side <= value <= limits.max_side
    ]
    if bad:
        _invalid(
            f"the video is {width}×{height} px; its {' and '.join(bad)} must be "
            f"{limits.min_side} … {limits.max_side} px"
        )


def _targets(limits: VideoLimits) -> list[float]:
    """Sampling times in [0, window): every 1/sample_fps, or max_frames spread evenly."""
    count = math.ceil(limits.window_seconds * limits.sample_fps - _EPS)
    if count <= limits.max_frames:
        return [k / limits.sample_fps for k in range(max(count, 1))]
    step = limits.window_seconds / limits.max_frames
    return [k * step for k in range(limits.max_frames)]


def _to_bgr(frame: AvFrame, width: int, height: int, rotation_ccw: int) -> ImageArray:
    # The scaling happens in swscale together with the colour conversion, in one pass.
    pixels = np.asarray(frame.to_ndarray(format="bgr24", width=width, height=height), np.uint8)
    if rotation_ccw:
        pixels = np.rot90(pixels, rotation_ccw)
    # PyAV ≥ 18.1.1 returns a view over the frame's padded rows; OpenCV and the models want
    # one contiguous block (and a copy frees the decoder's frame buffer).
    return np.ascontiguousarray(pixels)


def _metadata_duration(box: InputContainer, stream: VideoStream) -> float | None:
    if stream.duration and stream.duration > 0 and stream.time_base:
        return float(stream.duration * stream.time_base)
    if box.duration and box.duration > 0:  # WebM often states only the segment's duration
        return box.duration / av.time_base
    return None


def _positive(rate: Fraction | None) -> float | None:
    return float(rate) if rate and rate > 0 else None


def _check_deadline(
    started: float, limits: VideoLimits, cause: BaseException | None = None
) -> None:
    """The net for a stuck decoder: its expiry says "busy" (503), not "invalid video"."""
    if time.monotonic() - started >= limits.decode_timeout_s:
        raise UnavailableError(
            f"the video took more than {limits.decode_timeout_s:g} s to decode; retry later",
            retry_after=5,
        ) from cause


def _refuse_nested_open(url: str, flags: int, options: dict[str, str]) -> NoReturn:
    # Demuxers may ask to open further files (QuickTime references and the like); an uploaded
    # video must never make the server read anything but the upload itself.
    raise PermissionError("opening other files or URLs from a video is not allowed")


def _size_text(n: int) -> str:
    mib = 1024 * 1024
    return f"{n // mib} MB" if n % mib == 0 else f"{n} bytes"


def _invalid(detail: str, cause: BaseException | None = None) -> NoReturn:
    raise FacegateError(Code.INVALID_VIDEO, detail) from cause
