"""The liveness data of a folder shaped like ``../shared/data``, read through the server's own
decode → track → cue path, with a cache.

Shared by ``tools/fit_liveness.py`` (which fits the fusion) and ``benchmarks/liveness.py``
(which measures it), so both see exactly what the server computes.

Samples, each with the *source* it comes from (``tools.sources``):

* live windows: every clip of ``video/live`` and ``wild/live`` cut into windows of
  ``WINDOW_S`` seconds, one every ``WINDOW_S`` (a clip shorter than a window but at least the
  manual's 2 s counts once, whole). Uploads of 2–4 s are the manual's normal case, so the fit
  and its evaluation see what a 3 s upload shows;
* synthetic attacks (``tools.synth``): the first ``WINDOW_S`` seconds of each, with the source
  of the clip or photo it was rendered from;
* real clips: the uploads of ``video/live``, ``video/replay`` and ``wild/live`` as they are
  (the server decodes their first seconds), and each cut to its first 3 s and re-encoded at
  640×480 as a phone app or a browser would send it (``cut_clip``).
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from facegate.compose import build_liveness
from facegate.core.errors import FacegateError
from facegate.core.limits import VideoLimits
from facegate.core.video import DecodedVideo, VideoFrame, decode_video
from facegate.settings import Settings
from facegate.vision.liveness.analyzer import LivenessAnalyzer
from tools.sources import clip_source, collection_of

CACHE_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / ".cache"
SYNTH_DIR = CACHE_DIR / "synth"
WINDOW_S = 3.0
MIN_CLIP_S = 2.0
CUT_S = 3.0
VIDEO_EXT = {".mp4", ".webm", ".avi", ".mov", ".mkv", ".flv", ".wmv", ".rm", ".3gp"}
LIVE_FOLDERS = ("video/live", "wild/live")
REPLAY_FOLDERS = ("video/replay",)
# The code whose output the cache holds: a change to any of these files invalidates it.
_CUE_CODE = ("analyzer.py", "cues.py", "track.py", "minifasnet.py")


@dataclass(frozen=True)
class Sample:
    id: str  # unique and stable: the cache key
    kind: str  # "live", "print" or "replay"
    origin: str  # "window", "synthetic", "real" (an upload as it is) or "cut" (its first 3 s)
    source: str  # person or clip collection (tools.sources); never on both sides of a split
    path: Path
    start: float = 0.0
    seconds: float | None = None  # None: what the server decodes of the upload
    hard: bool = False  # synthetic: the instrument's edges never enter the frame
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def fold(self) -> str:
        """The leave-one-source-out fold: a person, a clip collection or a photo set."""
        return collection_of(self.source)


def clips(data: Path, folders: Sequence[str]) -> list[Path]:
    out: list[Path] = []
    for folder in folders:
        out += sorted(p for p in (data / folder).glob("*") if p.suffix.lower() in VIDEO_EXT)
    return out


def _long(limits: VideoLimits) -> VideoLimits:
    """Limits that decode a whole clip (≤ 40 s) at the server's sampling rate, for windows."""
    return VideoLimits(
        max_bytes=max(limits.max_bytes, 64 * 1024 * 1024),
        window_seconds=40.0,
        sample_fps=limits.sample_fps,
        max_frames=int(40 * limits.sample_fps) + 1,
        max_output_side=limits.max_output_side,
        max_decoded_pixels=40 * 60 * 3840 * 2160,
        decode_timeout_s=300.0,
    )


def clip_seconds(path: Path) -> float:
    """How long a clip plays, from its packets' timestamps (nothing is decoded)."""
    with av.open(str(path)) as box:
        stream = box.streams.video[0]
        first: float | None = None
        end = 0.0
        for packet in box.demux(stream):
            if packet.pts is None or packet.time_base is None:
                continue
            start = float(packet.pts * packet.time_base)
            first = start if first is None else min(first, start)
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    return end - (first or 0.0)


def live_windows(data: Path, limits: VideoLimits) -> list[Sample]:
    out = []
    for p in clips(data, LIVE_FOLDERS):
        end = clip_seconds(p)
        starts = [k * WINDOW_S for k in range(int((end + 1e-6) // WINDOW_S))]
        if not starts and end >= MIN_CLIP_S:
            starts = [0.0]
        for start in starts:
            out.append(
                Sample(
                    f"window:{p.parent.parent.name}/{p.name}@{start:.1f}",
                    "live",
                    "window",
                    clip_source(p),
                    p,
                    start,
                    WINDOW_S,
                )
            )
    return out


def synthetic_attacks(synth: Path) -> list[Sample]:
    manifest = json.loads((synth / "manifest.json").read_text())
    out = []
    for e in manifest["videos"]:
        # The id carries a digest of the entry: a regenerated set must not reuse the cached
        # cues of an older file of the same name.
        digest = hashlib.sha256(json.dumps(e, sort_keys=True).encode()).hexdigest()[:10]
        out.append(
            Sample(
                f"synthetic:{e['file']}:{digest}",
                e["kind"],
                "synthetic",
                e["group"],
                synth / e["file"],
                0.0,
                WINDOW_S,
                bool(e["hard"]),
                {"params": e.get("params", {}), "source_file": e.get("source")},
            )
        )
    return out


def real_clips(data: Path, *, cuts: bool = True) -> list[Sample]:
    """Every live and replay upload as it is, and (``cuts``) cut to its first ``CUT_S``."""
    out = []
    for kind, folders in (("live", LIVE_FOLDERS), ("replay", REPLAY_FOLDERS)):
        for p in clips(data, folders):
            name = f"{p.parent.parent.name}/{p.name}"
            out.append(Sample(f"real:{name}", kind, "real", clip_source(p), p))
            if cuts:
                out.append(Sample(f"cut:{name}", kind, "cut", clip_source(p), p, 0.0, CUT_S))
    return out


def cut_clip(
    path: Path, seconds: float = CUT_S, box: tuple[int, int] = (640, 480), *, stretch: bool = False
) -> bytes:
    """The first ``seconds`` of a clip, upright, scaled to fit ``box`` (turned for portrait
    clips; ``stretch``: scaled to ``box`` exactly), re-encoded as H.264 with the clip's own
    timestamps (variable rate kept)."""
    buf = io.BytesIO()
    with av.open(str(path)) as src, av.open(buf, mode="w", format="mp4") as dst:
        stream: Any = None
        first: float | None = None
        last_ms = -1
        for frame in src.decode(video=0):
            if frame.time is None:
                continue
            first = frame.time if first is None else first
            t = frame.time - first
            if t >= seconds - 1e-6:
                break
            img = frame.to_ndarray(format="bgr24")
            turn = round(frame.rotation / 90) % 4
            if turn:
                img = np.ascontiguousarray(np.rot90(img, turn))
            if stream is None:
                h, w = img.shape[:2]
                bw, bh = box if w >= h or stretch else box[::-1]
                s = min(bw / w, bh / h)
                stream = dst.add_stream("libx264", rate=30)
                stream.width, stream.height = (
                    (bw, bh) if stretch else (round(w * s) // 2 * 2, round(h * s) // 2 * 2)
                )
                stream.pix_fmt = "yuv420p"
                stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
                stream.options = {"crf": "23", "preset": "veryfast"}
            img = cv2.resize(img, (stream.width, stream.height), interpolation=cv2.INTER_AREA)
            out = av.VideoFrame.from_ndarray(img, format="bgr24")
            last_ms = max(round(t * 1000), last_ms + 1)
            out.pts, out.time_base = last_ms, Fraction(1, 1000)
            for packet in stream.encode(out):
                dst.mux(packet)
        if stream is None:
            raise ValueError(f"{path}: no frame decoded")
        for packet in stream.encode():
            dst.mux(packet)
    return buf.getvalue()


def sample_frames(
    sample: Sample, limits: VideoLimits, decoded: dict[Path, DecodedVideo]
) -> list[VideoFrame]:
    """The frames the server would analyse for ``sample`` (``decoded``: whole clips decoded
    once for their windows)."""
    if sample.origin == "window":
        if sample.path not in decoded:
            decoded.clear()  # one long clip at a time: they are large
            decoded[sample.path] = decode_video(sample.path.read_bytes(), _long(limits))
        video = decoded[sample.path]
    elif sample.origin == "cut":
        video = decode_video(cut_clip(sample.path, sample.seconds or CUT_S), limits)
    else:
        video = decode_video(sample.path.read_bytes(), limits)
    if sample.origin in ("window", "synthetic") and sample.seconds is not None:
        end = sample.start + sample.seconds
        kept = [f for f in video.frames if sample.start - 1e-6 <= f.timestamp < end - 1e-6]
        return [VideoFrame(i, f.timestamp - sample.start, f.pixels) for i, f in enumerate(kept)]
    return list(video.frames)


def sample_cues(
    analyzer: LivenessAnalyzer, frames: Sequence[VideoFrame]
) -> dict[str, float] | None:
    """Every cue the analyser measures (None when no face is found), plus the visible time."""
    observed = analyzer.observe(frames)
    if not observed.observations:
        return None
    values = analyzer.video_cues(frames, observed)
    values["visible_seconds"] = observed.visible
    return values


def _code(source: str) -> str:
    """A module's code without its comments and docstrings: rewording them keeps the cache."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body[0] = ast.Pass()
    return ast.dump(tree)


def code_digest() -> str:
    h = hashlib.sha256()
    pkg = resources.files("facegate.vision.liveness")
    files = [pkg.joinpath(name) for name in _CUE_CODE]
    files.append(resources.files("facegate.core").joinpath("video.py"))
    for f in files:
        h.update(_code(f.read_text()).encode())
    return h.hexdigest()[:12]


def feature_table(
    samples: Iterable[Sample],
    settings: Settings,
    pack_root: Path | None,
    *,
    name: str,
    log: Callable[[str], None] = print,
) -> dict[str, dict[str, float] | None]:
    """Cues of every sample, cached under ``benchmarks/.cache`` by sample, settings and the
    code that computes them."""
    samples = list(samples)
    limits = settings.video_limits
    key = hashlib.sha256(
        json.dumps(
            [code_digest(), pack_root is not None, str(limits), settings.liveness_detect_side]
        ).encode()
    ).hexdigest()[:12]
    cache_path = CACHE_DIR / f"liveness-{name}-{key}.json"
    cache: dict[str, dict[str, float] | None] = {}
    if cache_path.is_file():
        cache = json.loads(cache_path.read_text())
    todo = [s for s in samples if s.id not in cache]
    if todo:
        analyzer = build_liveness(settings, pack_root=pack_root, fitted=False)
        decoded: dict[Path, DecodedVideo] = {}
        t0 = time.monotonic()
        for i, s in enumerate(todo):
            try:
                cache[s.id] = sample_cues(analyzer, sample_frames(s, limits, decoded))
            except FacegateError as exc:
                log(f"  {s.id}: {exc}")
                cache[s.id] = None
            if (i + 1) % 50 == 0 or i + 1 == len(todo):
                log(f"  {name}: {i + 1}/{len(todo)} in {time.monotonic() - t0:.0f} s")
                CACHE_DIR.mkdir(parents=True, exist_ok=True)
                cache_path.write_text(json.dumps(cache))
        analyzer.close()
    return {s.id: cache.get(s.id) for s in samples}
