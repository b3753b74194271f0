from __future__ import annotations

import io
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import av
import numpy as np
import pytest

from facegate.core.errors import Code, FacegateError, UnavailableError
from facegate.core.limits import VideoLimits
from facegate.core.video import DecodedVideo, decode_video, sniff_container

W, H = 160, 120
MARKER = (slice(0, 30), slice(0, 40))  # pure red block in the stored frame's top-left corner
# Every 1/10 s inside a 4 s window: 40 targets, below the 48-frame cap.
EVERY_TENTH = VideoLimits(window_seconds=4.0, sample_fps=10.0)
# The rotation as iPhones write it for a portrait video: the stored landscape frame must be
# turned 90° clockwise to be upright (FFmpeg reads it as -90°, i.e. counter-clockwise).
IPHONE_PORTRAIT_MATRIX = (0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30)


def _picture(i: int, width: int, height: int) -> np.ndarray:
    rgb = np.full((height, width, 3), 40, dtype=np.uint8)
    rgb[MARKER] = (255, 0, 0)
    x = (i * 4) % max(width - 16, 1)
    rgb[height // 2 : height // 2 + 16, x : x + 16] = 255  # a white square moving right
    return rgb


def _write(
    target: io.BytesIO | Path,
    fmt: str | None,
    codec: str,
    *,
    width: int,
    height: int,
    seconds: float,
    fps: int,
    pix_fmt: str,
    rotation: int | None,
    matrix: tuple[int, ...] | None,
    container_options: dict[str, str] | None = None,
) -> None:
    with av.open(target, "w", format=fmt, options=container_options or {}) as box:
        stream = box.add_stream(codec, rate=fps)
        assert isinstance(stream, av.video.stream.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if matrix is not None:
            stream.set_display_matrix(matrix)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(_picture(i, width, height), format="rgb24")
            for packet in stream.encode(frame):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)


@cache
def make_video(
    fmt: str,
    codec: str,
    *,
    width: int = W,
    height: int = H,
    seconds: float = 3.0,
    fps: int = 25,
    pix_fmt: str = "yuv420p",
    rotation: int | None = None,
    matrix: tuple[int, ...] | None = None,
    live: bool = False,
) -> bytes:
    """A small synthetic video encoded in memory by PyAV (cached: several tests share one).

    ``live`` makes the Matroska muxer write neither durations nor an index, as live recorders do.
    """
    buf = io.BytesIO()
    _write(
        buf,
        fmt,
        codec,
        width=width,
        height=height,
        seconds=seconds,
        fps=fps,
        pix_fmt=pix_fmt,
        rotation=rotation,
        matrix=matrix,
        container_options={"live": "1"} if live else None,
    )
    return buf.getvalue()


def make_faststart_mp4(tmp_path: Path, seconds: float) -> bytes:
    # Moving the moov box to the front rewrites the file, which the muxer only does on a real file.
    path = tmp_path / "faststart.mp4"
    _write(
        path,
        None,
        "libx264",
        width=W,
        height=H,
        seconds=seconds,
        fps=25,
        pix_fmt="yuv420p",
        rotation=None,
        matrix=None,
        container_options={"movflags": "+faststart"},
    )
    return path.read_bytes()


def refused(data: bytes, limits: VideoLimits | None = None) -> str:
    with pytest.raises(FacegateError) as info:
        decode_video(data, limits)
    assert info.value.code is Code.INVALID_VIDEO
    return info.value.detail


def marker_corners(pixels: np.ndarray) -> list[str]:
    """Which corners of a BGR frame hold the red marker."""
    h, w = pixels.shape[:2]
    points = {"TL": (5, 5), "TR": (5, w - 6), "BL": (h - 6, 5), "BR": (h - 6, w - 6)}
    found = []
    for name, (y, x) in points.items():
        b, g, r = (int(v) for v in pixels[y, x])
        if r > 150 and g < 100 and b < 100:
            found.append(name)
    return found


def assert_sampled_every_tenth(decoded: DecodedVideo, fps: float, seconds: float) -> None:
    period = 1.0 / fps
    stamps = [f.timestamp for f in decoded.frames]
    assert [f.index for f in decoded.frames] == list(range(len(stamps)))
    assert len(stamps) == round(seconds * 10)
    assert stamps[0] == 0.0
    for k, t in enumerate(stamps):
        # The first frame at or after each target k / 10 s.
        assert k / 10 - 1e-3 <= t < k / 10 + period + 1e-3
    steps = np.diff(stamps)
    assert np.all(steps > 0)
    assert np.all(np.abs(steps - 0.1) <= period + 1e-3)


# --- containers -----------------------------------------------------------------------------

CONTAINERS = [
    # (muxer, encoder, pixel format, our container name, decoder name)
    ("mp4", "libx264", "yuv420p", "mp4", "h264"),
    ("mp4", "mpeg4", "yuv420p", "mp4", "mpeg4"),
    ("mov", "libx264", "yuv420p", "mp4", "h264"),
    ("avi", "mpeg4", "yuv420p", "avi", "mpeg4"),
    ("avi", "mjpeg", "yuvj420p", "avi", "mjpeg"),
    ("flv", "flv", "yuv420p", "flv", "flv"),
    ("asf", "wmv2", "yuv420p", "asf", "wmv2"),
    ("rm", "rv20", "yuv420p", "rm", "rv20"),
    ("webm", "libvpx", "yuv420p", "matroska", "vp8"),
    ("matroska", "libx264", "yuv420p", "matroska", "h264"),
]


@pytest.mark.parametrize(
    ("muxer", "encoder", "pix_fmt", "container", "codec"),
    CONTAINERS,
    ids=[f"{c[0]}-{c[1]}" for c in CONTAINERS],
)
def test_every_container_decodes_and_samples_every_tenth_of_a_second(
    muxer: str, encoder: str, pix_fmt: str, container: str, codec: str
) -> None:
    data = make_video(muxer, encoder, pix_fmt=pix_fmt)
    assert sniff_container(data) == container
    decoded = decode_video(data, EVERY_TENTH)
    assert (decoded.container, decoded.codec) == (container, codec)
    assert (decoded.width, decoded.height) == (W, H)
    assert decoded.duration == pytest.approx(3.0, abs=0.05)
    assert decoded.fps == pytest.approx(25.0)
    assert (decoded.rotation, decoded.scale) == (0, 1.0)
    assert_sampled_every_tenth(decoded, fps=25.0, seconds=3.0)
    for frame in decoded.frames:
        assert frame.pixels.shape == (H, W, 3)
        assert frame.pixels.dtype == np.uint8
        assert frame.pixels.flags.c_contiguous
    assert marker_corners(decoded.frames[0].pixels) == ["TL"]  # BGR order, upright


def test_default_limits_spread_48_frames_over_the_first_8_seconds() -> None:
    data = make_video("mp4", "mpeg4", seconds=12.0)
    decoded = decode_video(data)
    stamps = [f.timestamp for f in decoded.frames]
    assert len(stamps) == 48
    assert stamps[-1] < 8.0
    # 48 targets every 8/48 s; each lands on the next 1/25 s frame.
    for k, t in enumerate(stamps):
        assert k * 8 / 48 - 1e-3 <= t < k * 8 / 48 + 0.04 + 1e-3
    assert decoded.duration == pytest.approx(12.0, abs=0.05)  # from metadata, beyond the window


class _CountingBox:
    """Stands in for the opened container and records the time of every decoded frame."""

    def __init__(self, box: av.container.InputContainer, times: list[float]) -> None:
        self._box, self._times = box, times

    def __getattr__(self, name: str) -> object:
        return getattr(self._box, name)

    def __enter__(self) -> _CountingBox:
        return self

    def __exit__(self, *exc: object) -> None:
        self._box.close()

    def demux(self, stream: av.video.stream.VideoStream) -> Iterator[_CountingPacket]:
        for packet in self._box.demux(stream):
            yield _CountingPacket(packet, self._times)


class _CountingPacket:
    def __init__(
        self, packet: av.packet.Packet[av.video.stream.VideoStream], times: list[float]
    ) -> None:
        self._packet, self._times = packet, times

    def __getattr__(self, name: str) -> object:
        # pts, duration, time_base …: the truncation check reads them without decoding.
        return getattr(self._packet, name)

    def decode(self) -> list[av.VideoFrame]:
        frames = [f for f in self._packet.decode() if isinstance(f, av.VideoFrame)]
        self._times.extend(float(f.time) for f in frames)
        return frames


def test_only_the_window_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    data = make_video("mp4", "mpeg4", seconds=12.0)
    times: list[float] = []
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda *a, **k: _CountingBox(real_open(*a, **k), times))
    decoded = decode_video(data, VideoLimits(window_seconds=4.0))
    assert decoded.frames[-1].timestamp < 4.0
    assert 3.9 <= max(times) < 4.1
    assert decoded.duration == pytest.approx(12.0, abs=0.05)


def test_large_frames_are_scaled_down_in_the_conversion() -> None:
    decoded = decode_video(make_video("mp4", "libx264"), VideoLimits(max_output_side=80))
    assert (decoded.width, decoded.height, decoded.scale) == (W, H, 0.5)
    assert all(f.pixels.shape == (60, 80, 3) for f in decoded.frames)
    assert marker_corners(decoded.frames[0].pixels) == ["TL"]


# --- rotation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rotation", "matrix", "applied", "corner"),
    [
        (None, IPHONE_PORTRAIT_MATRIX, 90, "TR"),  # turned clockwise: top-left → top-right
        (180, None, 180, "BR"),
        (90, None, 270, "BL"),  # PyAV's counter-clockwise 90° is 270° clockwise
    ],
)
def test_rotation_metadata_is_applied(
    rotation: int | None, matrix: tuple[int, ...] | None, applied: int, corner: str
) -> None:
    data = make_video("mp4", "libx264", rotation=rotation, matrix=matrix)
    decoded = decode_video(data, VideoLimits(max_output_side=80))
    assert decoded.rotation == applied
    upright = (W, H) if applied == 180 else (H, W)
    assert (decoded.width, decoded.height) == upright
    for frame in decoded.frames:
        assert frame.pixels.shape == (round(upright[1] / 2), round(upright[0] / 2), 3)
        assert frame.pixels.flags.c_contiguous
    assert marker_corners(decoded.frames[0].pixels) == [corner]


# --- refusals -------------------------------------------------------------------------------


def test_empty_data_is_refused() -> None:
    assert "empty" in refused(b"")


def test_over_max_bytes_is_refused_before_anything_else() -> None:
    detail = refused(b"\x00" * (16 * 1024 * 1024 + 1))
    assert detail == "the video is 16777217 bytes; the limit is 16 MB"
    data = make_video("mp4", "libx264")
    assert f"the video is {len(data)} bytes" in refused(data, VideoLimits(max_bytes=1000))


def test_too_short_video_is_refused() -> None:
    detail = refused(make_video("mp4", "libx264", seconds=1.5, fps=10))
    assert detail == "the video lasts 1.50 s; at least 2 s is required"


def test_exactly_two_seconds_is_accepted() -> None:
    assert decode_video(make_video("mp4", "libx264", seconds=2.0)).duration == 2.0


def test_without_duration_metadata_the_decoded_frames_decide() -> None:
    assert decode_video(make_video("webm", "libvpx", live=True)).duration == 3.0
    # Longer than the window: decoding stops there, and that much is proven playable.
    assert decode_video(make_video("webm", "libvpx", seconds=12.0, live=True)).duration == 8.0
    short = make_video("webm", "libvpx", seconds=1.6, live=True)
    assert refused(short) == "the video lasts 1.60 s; at least 2 s is required"


def test_truncated_faststart_mp4_is_judged_by_what_decodes(tmp_path: Path) -> None:
    data = make_faststart_mp4(tmp_path, seconds=3.0)
    assert data[4:8] == b"ftyp"
    assert b"moov" in data[:200]  # the header (promising 3 s) survives the cut
    assert "the video lasts" in refused(data[: len(data) // 2])


def test_truncated_long_mp4_reports_only_the_playable_part(tmp_path: Path) -> None:
    data = make_faststart_mp4(tmp_path, seconds=8.0)
    decoded = decode_video(data[: len(data) * 6 // 10])
    assert 2.0 <= decoded.duration < 6.5
    assert decoded.frames[-1].timestamp < decoded.duration


def test_mp4_with_its_moov_at_the_end_cut_off_is_refused() -> None:
    data = make_video("mp4", "libx264")
    moov = data.rfind(b"moov")
    assert moov > len(data) // 2
    # Cut inside the moov box the demuxer finds no complete stream; before it, no header at all.
    assert refused(data[: moov + 100]) == "the file holds no video stream"
    assert refused(data[: len(data) // 2]).startswith("the video data is corrupt")


@pytest.mark.parametrize("magic", [b"\x00\x00\x00\x18ftypisom", b"\x1a\x45\xdf\xa3", b".RMF"])
def test_garbage_behind_a_valid_magic_is_refused(magic: bytes) -> None:
    data = magic + np.random.default_rng(1).bytes(20_000)
    assert refused(data).startswith("the video data is corrupt")


def test_random_bytes_jpeg_and_text_are_unsupported_containers() -> None:
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(500)
    for data in (np.random.default_rng(2).bytes(5000), jpeg, b"hello, world"):
        assert refused(data).startswith("unsupported video container")


def test_playlists_are_refused_without_opening_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[object] = []
    monkeypatch.setattr(av, "open", lambda *a, **k: opened.append(a))
    hls = b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
    concat = b"ffconcat version 1.0\nfile '/etc/passwd'\n"
    for data in (hls, concat):
        assert refused(data).startswith("unsupported video container")
    assert opened == []


def test_demuxers_are_forced_never_probed(monkeypatch: pytest.MonkeyPatch) -> None:
    formats: list[object] = []
    real_open = av.open

    def spy(*args: object, **kwargs: object) -> object:
        formats.append(kwargs.get("format"))
        return real_open(*args, **kwargs)  # type: ignore[call-overload]

    webm, wmv = make_video("webm", "libvpx"), make_video("asf", "wmv2")
    monkeypatch.setattr(av, "open", spy)
    decode_video(webm)
    decode_video(wmv)
    assert formats == ["matroska", "asf"]


def test_a_file_without_video_is_refused() -> None:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as box:
        stream = box.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 16000
        for i in range(40):
            frame.pts = i * 1024
            for packet in stream.encode(frame):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)
    assert refused(buf.getvalue()) == "the file holds no video stream"


def test_a_side_below_8_px_is_refused() -> None:
    detail = refused(make_video("mp4", "mpeg4", width=160, height=6))
    assert detail == "the video is 160×6 px; its height must be 8 … 5000 px"


def test_a_side_above_max_side_is_refused_before_decoding() -> None:
    data = make_video("mp4", "libx264")
    assert refused(data, VideoLimits(max_side=150)) == (
        "the video is 160×120 px; its width must be 8 … 150 px"
    )
    assert "its width and height must be" in refused(data, VideoLimits(max_side=100))


def test_the_pixel_budget_ends_decoding_like_the_window_does() -> None:
    # 3 s at 25 frames/s of 160×120: a budget of 50 frames' pixels stops decoding at 2 s; the
    # clip is judged on those frames, with its header's duration, the same on any machine.
    data = make_video("mp4", "libx264")
    full = decode_video(data)
    cut = decode_video(data, VideoLimits(max_decoded_pixels=50 * W * H))
    assert cut.duration == full.duration
    assert 1.8 <= cut.frames[-1].timestamp < 2.0  # the 50 frames decoded end at 1.96 s
    assert [f.timestamp for f in cut.frames] == [f.timestamp for f in full.frames][
        : len(cut.frames)
    ]


def test_a_packet_bound_refuses_what_no_valid_clip_needs() -> None:
    detail = refused(make_video("mp4", "libx264"), VideoLimits(max_packets=10))
    assert detail == "the video has more than 10 packets to read"


def test_a_stuck_decoder_is_busy_not_an_invalid_video() -> None:
    # The wall clock is only a net for a decoder that hangs: its expiry is 503, not 2008.
    with pytest.raises(UnavailableError, match="took more than 0 s"):
        decode_video(make_video("mp4", "libx264"), VideoLimits(decode_timeout_s=0.0))


def test_damaged_videos_never_raise_anything_but_2008() -> None:
    rng = np.random.default_rng(3)
    codes: set[Code] = set()
    for muxer, encoder, pix_fmt, *_ in CONTAINERS:
        original = make_video(muxer, encoder, pix_fmt=pix_fmt)
        for _ in range(3):
            data = np.frombuffer(original, dtype=np.uint8).copy()
            spots = rng.integers(16, len(data), 30)
            data[spots] = rng.integers(0, 256, len(spots), dtype=np.uint8)
            try:
                decoded = decode_video(data.tobytes())
            except FacegateError as exc:
                codes.add(exc.code)
            else:
                assert decoded.duration >= 2.0
    assert codes <= {Code.INVALID_VIDEO}


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"\x00\x00\x00\x20ftypisom", "mp4"),
        (b"\x00\x00\x00\x08wide\x00\x00", "mp4"),
        (b"\x00\x00\x00\x08free", "mp4"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "avi"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"FLV\x01\x05", "flv"),
        (bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c") + b"\x00", "asf"),
        (b".RMF\x00\x00\x00\x12", "rm"),
        (b"\x1a\x45\xdf\xa3\x9f", "matroska"),
        (b"#EXTM3U\n", None),
        (b"", None),
    ],
)
def test_sniff_container(data: bytes, name: str | None) -> None:
    assert sniff_container(data) == name


# --- real clips -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_videos(videos: Path) -> Path:
    return videos / "live"


@pytest.mark.data
def test_real_portrait_phone_clip(live_videos: Path) -> None:
    decoded = decode_video((live_videos / "tranvanluyt_real.mp4").read_bytes())
    assert (decoded.container, decoded.codec) == ("mp4", "h264")
    assert (decoded.width, decoded.height, decoded.rotation) == (368, 656, 0)
    assert decoded.duration == pytest.approx(20.7, abs=0.1)
    assert decoded.fps == pytest.approx(30.0)
    assert len(decoded.frames) == 48
    assert all(f.pixels.shape == (656, 368, 3) for f in decoded.frames)
    assert decoded.frames[-1].timestamp < 8.0
    assert float(decoded.frames[0].pixels.std()) > 10  # a picture, not a blank frame


@pytest.mark.data
def test_real_webm_clip_without_stream_duration(live_videos: Path) -> None:
    decoded = decode_video((live_videos / "apfol_real2.webm").read_bytes())
    assert (decoded.container, decoded.codec) == ("matroska", "vp8")
    assert (decoded.width, decoded.height) == (640, 480)
    assert decoded.duration == pytest.approx(11.68, abs=0.1)  # the segment's duration
    assert len(decoded.frames) == 48
    stamps = [f.timestamp for f in decoded.frames]
    assert stamps == sorted(stamps)
    assert stamps[-1] < 8.0


def test_a_file_cut_after_the_window_is_refused_by_its_header() -> None:
    data = make_video("mp4", "mpeg4", seconds=12.0)
    decode_video(data, VideoLimits(window_seconds=4.0))  # whole: fine
    with pytest.raises(FacegateError) as err:
        decode_video(data[: len(data) * 2 // 3], VideoLimits(window_seconds=4.0))
    assert err.value.code == Code.INVALID_VIDEO
    assert "truncated" in err.value.detail


def test_a_clip_just_longer_than_the_window_is_not_taken_for_truncated() -> None:
    # The frame-threaded decoder reads packets ahead of the frames it returns; when the window
    # ends a few frames before the file does, those last packets are already read, and the
    # truncation check must count them (a 6.13 s phone clip was refused as "ends at 0.00 s").
    data = make_video("mp4", "libx264", seconds=4.12, fps=30)
    decoded = decode_video(data, VideoLimits(window_seconds=4.0))
    assert decoded.duration == pytest.approx(4.12, abs=0.05)
