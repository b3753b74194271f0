"""Liveness data read through the server's own decode → track → cue path, with a cache.

Shared by ``fit_liveness.py`` (which fits the fusion weights) and ``liveness.py`` (which measures
the shipped fusion), so both see exactly what the server computes.

Samples:

* real videos (``video/live``, ``video/replay``): decoded as the API decodes an upload (the first
  ``liveness_window_seconds`` at ``liveness_sample_fps``);
* live windows: every live clip cut into 3.5 s windows starting every 3 s, for fitting — the
  synthetic attacks last 3.5 s, so live and attack samples have the same length and duration
  cannot become a cue;
* synthetic attacks (``benchmarks/synth_attacks.py`` output, with its manifest);
* stills (``nuaa/{live,print}``, ``msu/{live,print,replay}``): one frame, texture cues only.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facegate.api.app import build_pipeline
from facegate.core.errors import FacegateError
from facegate.core.video import DecodedVideo, VideoFrame, VideoLimits, decode_video
from facegate.settings import Settings
from facegate.vision.liveness.analyzer import LivenessAnalyzer, build_analyzer
from facegate.vision.liveness.minifasnet import MiniFASNet

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
SYNTH_DIR = CACHE_DIR / "synth"
WINDOW_S = 3.5
WINDOW_STEP_S = 3.0
MIN_WINDOW_S = 3.0
VIDEO_EXT = {".mp4", ".webm", ".avi", ".mov", ".mkv", ".flv", ".wmv", ".rm"}

# Bump when a cue's definition changes: cached features of the old definition are then ignored.
CUES_VERSION = 10


@dataclass(frozen=True)
class Sample:
    id: str  # unique, stable: the cache key
    kind: str  # "live", "print" or "replay"
    source: str  # "real", "synthetic", "window" or "still"
    group: str  # person or clip: samples of one group are never split between train and test
    path: Path
    start: float = 0.0  # for windows


def make_analyzer(
    settings: Settings, pack_root: Path | None, *, fitted: bool = False
) -> LivenessAnalyzer:
    """The server's analyser; with the MiniFASNet pack when ``pack_root`` holds it. Unfitted
    (neutral fusions) unless asked: cue extraction needs no weights, and fitting makes them."""
    pack = MiniFASNet.load(pack_root) if pack_root is not None else None
    return build_analyzer(
        build_pipeline(settings),
        pack,
        detect_side=settings.liveness_detect_side,
        model_dir=settings.model_dir,
        threads=settings.inference_threads,
        fitted=fitted,
    )


def _stem_group(path: Path) -> str:
    # apfol_real2 / apfol_fake2 and tranvanluyt_real / _fake show the same persons.
    stem = path.stem
    for tag in ("_real", "_fake"):
        if tag in stem:
            return stem.split(tag)[0]
    return stem


def real_videos(data: Path) -> list[Sample]:
    out = []
    for kind, folder in (("live", "live"), ("replay", "replay")):
        for p in sorted((data / "video" / folder).glob("*")):
            if p.suffix.lower() in VIDEO_EXT:
                out.append(Sample(f"real:{folder}/{p.name}", kind, "real", _stem_group(p), p))
    return out


def live_windows(data: Path, limits: VideoLimits) -> list[Sample]:
    out = []
    for p in sorted((data / "video" / "live").glob("*")):
        if p.suffix.lower() not in VIDEO_EXT:
            continue
        video = decode_video(p.read_bytes(), _long(limits))
        end = video.frames[-1].timestamp + 0.1 if video.frames else 0.0
        starts = [k * WINDOW_STEP_S for k in range(int((end - WINDOW_S) // WINDOW_STEP_S) + 1)]
        if not starts and end >= MIN_WINDOW_S:
            starts = [0.0]  # a clip shorter than a window (3.1 s) still counts, whole
        for start in starts:
            out.append(
                Sample(f"window:{p.name}@{start:.1f}", "live", "window", _stem_group(p), p, start)
            )
    return out


def synthetic_videos(synth: Path) -> list[Sample]:
    manifest = json.loads((synth / "manifest.json").read_text())
    # The id carries a digest of the entry: a regenerated set with other parameters must not
    # reuse the cached cues of an older file of the same name.
    return [
        Sample(
            f"synthetic:{e['file']}:{_digest(e)}",
            e["kind"],
            "synthetic",
            _group_of(str(e["group"])),
            synth / e["file"],
        )
        for e in manifest
    ]


def _group_of(group: str) -> str:
    """The manifest's group in the live windows' naming: attacks made from a live clip must fall
    in that clip's fold (older manifests wrote ``video:<stem>``)."""
    if group.startswith("video:"):
        return _stem_group(Path(group.removeprefix("video:")))
    return group


def _digest(entry: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()[:10]


def stills(data: Path) -> list[Sample]:
    out = []
    for dataset, kinds in (("nuaa", ("live", "print")), ("msu", ("live", "print", "replay"))):
        for kind in kinds:
            for p in sorted((data / dataset / kind).glob("*.jpg")):
                # NUAA: <subject>_<subject>_…; MSU: files name the subject after "client".
                group = f"{dataset}:{p.name.split('_')[0]}"
                if dataset == "msu":
                    group = f"msu:{_msu_subject(p.name)}"
                out.append(Sample(f"{dataset}:{kind}/{p.name}", kind, dataset, group, p))
    return out


def _msu_subject(name: str) -> str:
    for part in name.replace(".", "_").split("_"):
        if part.startswith("client"):
            return part
    return name.split("_")[0]


def _long(limits: VideoLimits) -> VideoLimits:
    """Limits that decode a whole clip (≤ 40 s) at the server's sampling rate, for windows."""
    return VideoLimits(
        max_bytes=limits.max_bytes,
        window_seconds=40.0,
        sample_fps=limits.sample_fps,
        max_frames=int(40 * limits.sample_fps) + 1,
        max_output_side=limits.max_output_side,
        decode_budget_s=120.0,
    )


def _window(video: DecodedVideo, start: float) -> list[VideoFrame]:
    frames = [f for f in video.frames if start - 1e-6 <= f.timestamp < start + WINDOW_S - 1e-6]
    return [VideoFrame(i, f.timestamp - start, f.pixels) for i, f in enumerate(frames)]


def video_features(
    analyzer: LivenessAnalyzer, sample: Sample, limits: VideoLimits, decoded: DecodedVideo | None
) -> dict[str, float] | None:
    """Cues of one video sample, or None when no face is found (reported as such)."""
    if sample.source == "window":
        assert decoded is not None
        frames = _window(decoded, sample.start)
    else:
        frames = list(decode_video(sample.path.read_bytes(), limits).frames)
    observed = analyzer.observe(frames)
    if not observed.observations:
        return None
    values = analyzer.video_cues(frames, observed)
    values["visible_seconds"] = observed.visible
    return values


def still_features(analyzer: LivenessAnalyzer, sample: Sample) -> dict[str, float] | None:
    pixels = cv2.imread(str(sample.path), cv2.IMREAD_COLOR)
    if pixels is None:
        return None
    return analyzer.still_cues(np.ascontiguousarray(pixels))


def feature_table(
    samples: list[Sample],
    settings: Settings,
    pack_root: Path | None,
    *,
    name: str,
    log: Any = print,
) -> dict[str, dict[str, float] | None]:
    """Features of every sample, cached under ``benchmarks/.cache`` by sample and settings."""
    limits = settings.video_limits
    key = hashlib.sha256(
        json.dumps(
            [CUES_VERSION, pack_root is not None, str(limits), settings.liveness_detect_side]
        ).encode()
    ).hexdigest()[:12]
    cache_path = CACHE_DIR / f"liveness-{name}-{key}.json"
    cache: dict[str, dict[str, float] | None] = {}
    if cache_path.is_file():
        cache = json.loads(cache_path.read_text())
    todo = [s for s in samples if s.id not in cache]
    if todo:
        analyzer = make_analyzer(settings, pack_root)
        decoded: dict[Path, DecodedVideo] = {}
        t0 = time.monotonic()
        for i, s in enumerate(todo):
            try:
                if s.source in ("nuaa", "msu"):
                    cache[s.id] = still_features(analyzer, s)
                else:
                    if s.source == "window" and s.path not in decoded:
                        decoded = {s.path: decode_video(s.path.read_bytes(), _long(limits))}
                    cache[s.id] = video_features(analyzer, s, limits, decoded.get(s.path))
            except FacegateError as exc:
                log(f"  {s.id}: {exc}")
                cache[s.id] = None
            if (i + 1) % 50 == 0:
                log(f"  {name}: {i + 1}/{len(todo)} in {time.monotonic() - t0:.0f} s")
        analyzer.close()
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        cache_path.write_text(json.dumps(cache))
    return {s.id: cache.get(s.id) for s in samples}
