"""Assembly of the inference side from the settings: the face pipeline, the video liveness
analyser and the engine (in this process, or the workers named by ``FACEGATE_WORKER_URLS``).

The API tier, the worker, the SDK's capture, the fits and the benchmarks all build them here, so
they run the models exactly as the server does. Model runtimes are imported inside the builders:
importing this module loads none.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from facegate.settings import Settings

if TYPE_CHECKING:
    from facegate.ops.metrics import Metrics
    from facegate.vision.liveness.analyzer import LivenessAnalyzer
    from facegate.vision.pipeline import FacePipeline
    from facegate.worker.interface import InferenceEngine


def build_pipeline(settings: Settings, *, threads: int | None = None) -> FacePipeline:
    """The face pipeline; ``threads`` is how many threads call its models at once (the
    engine's; default: the settings'), which sizes OpenVINO's streams."""
    from facegate.vision.pipeline import FacePipeline, PipelineOptions

    return FacePipeline(
        PipelineOptions(
            profile=settings.profile,
            detect_max_side=settings.detect_max_side,
            detect_coarse_side=settings.detect_coarse_side,
            detect_min_score=settings.detect_min_score,
            model_dir=settings.model_dir,
            runtime=settings.runtime,
            threads=threads or settings.inference_threads,
        )
    )


def served_pack_root(settings: Settings) -> Path | None:
    """Where the server loads the MiniFASNet pack from, or None when it runs without it."""
    from facegate.vision.packs import packs_root

    return packs_root(settings.model_dir) if settings.liveness_use_pack else None


def build_liveness(
    settings: Settings,
    pipeline: FacePipeline | None = None,
    *,
    pack_root: Path | None = None,
    threads: int | None = None,
    fitted: bool = True,
) -> LivenessAnalyzer:
    """The video liveness analyser as the server runs it, sharing ``pipeline``'s models; with
    the MiniFASNet pack when ``pack_root`` holds it. ``fitted=False`` gives neutral fusion
    weights, for the script that fits them (cue extraction needs none)."""
    from facegate.vision.liveness.analyzer import build_analyzer
    from facegate.vision.liveness.minifasnet import MiniFASNet

    return build_analyzer(
        pipeline or build_pipeline(settings),
        (
            MiniFASNet.load(
                pack_root,
                runtime=settings.runtime,
                threads=threads or settings.inference_threads,
            )
            if pack_root is not None
            else None
        ),
        detect_side=settings.liveness_detect_side,
        threshold=settings.liveness_threshold,
        model_dir=settings.model_dir,
        threads=threads or settings.inference_threads,
        fitted=fitted,
    )


def build_local_engine(settings: Settings, *, threads: int | None = None) -> InferenceEngine:
    """The pipeline in this process; ``threads`` run inference (default: the settings')."""
    from facegate.worker.local import LocalEngine

    threads = threads or settings.inference_threads
    pipeline = build_pipeline(settings, threads=threads)
    liveness = build_liveness(
        settings, pipeline, pack_root=served_pack_root(settings), threads=threads
    )
    return LocalEngine(
        pipeline,
        limits=settings.image_limits,
        threads=threads,
        occlusion_threshold=settings.occlusion_threshold,
        max_faces=settings.max_faces,
        liveness=liveness,
        video_limits=settings.video_limits,
    )


def build_engine(settings: Settings, metrics: Metrics | None = None) -> InferenceEngine:
    """Workers when ``FACEGATE_WORKER_URLS`` names some, else the pipeline in this process."""
    if not settings.worker_urls:
        return build_local_engine(settings)
    from facegate.worker.remote import RemoteEngine

    return RemoteEngine(
        settings.worker_urls,
        timeout=settings.worker_timeout_seconds,
        connect_timeout=settings.worker_connect_timeout_seconds,
        health_interval=settings.worker_health_interval_seconds,
        dns=settings.worker_dns,
        metrics=metrics,
    )
