"""``create_app(settings)``: the SenseID-compatible application, built without module globals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from facegate import __version__
from facegate.api.errors import install_error_handlers
from facegate.api.middleware import RequestContextMiddleware
from facegate.api.routes import cloud, health, identity, liveness, ops, quality
from facegate.cloud.errors import CLOUD_PATH
from facegate.cloud.service import CloudService
from facegate.core.crypto import Cipher
from facegate.ops.metered import MeteredEngine
from facegate.ops.metrics import Metrics
from facegate.proto.codec import package_key
from facegate.settings import Settings
from facegate.store.replay import build_replay_guard
from facegate.worker.interface import InferenceEngine, serving

if TYPE_CHECKING:
    from facegate.vision.pipeline import FacePipeline

# Endpoints whose body carries a video (up to 16 MB before encryption and base64) or a
# liveness package (up to 16 MB of frames).
VIDEO_PATHS = (
    "/identity/liveness_image_verification/stateless",
    "/liveness/silent_detection/stateless",
    "/identity/silent_image_verification/stateless",
)


def build_pipeline(settings: Settings) -> FacePipeline:
    from facegate.vision.pipeline import FacePipeline, PipelineOptions

    return FacePipeline(
        PipelineOptions(
            profile=settings.profile,
            detect_max_side=settings.detect_max_side,
            detect_min_score=settings.detect_min_score,
            model_dir=settings.model_dir,
        )
    )


def build_local_engine(settings: Settings, *, threads: int | None = None) -> InferenceEngine:
    """The pipeline in this process; ``threads`` run inference (default: the settings')."""
    # Imported here so that API-only code paths (and tests with a fake engine) load no models.
    from facegate.vision.liveness.analyzer import build_analyzer
    from facegate.vision.liveness.minifasnet import MiniFASNet
    from facegate.vision.packs import packs_root
    from facegate.worker.local import LocalEngine

    threads = threads or settings.inference_threads
    pipeline = build_pipeline(settings)
    pack = MiniFASNet.load(packs_root(settings.model_dir)) if settings.liveness_use_pack else None
    liveness = build_analyzer(
        pipeline,
        pack,
        detect_side=settings.liveness_detect_side,
        threshold=settings.liveness_threshold,
        model_dir=settings.model_dir,
        threads=threads,
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


def create_app(settings: Settings | None = None, engine: InferenceEngine | None = None) -> FastAPI:
    """Build the app. Models load here, so a bad model file stops start-up, not a request."""
    settings = settings or Settings()
    metrics = Metrics("api")
    metered = MeteredEngine(engine or build_engine(settings, metrics), metrics)
    replay_guard = build_replay_guard(settings.redis_url, settings.package_window_seconds)
    # Packages are sealed under a key derived from the deployment key (codec.package_key).
    sealing_key = package_key(settings.decrypt_key)
    cloud_service: CloudService | None = None
    if settings.cloud_api:
        cloud_service = CloudService(settings, metered, replay_guard, sealing_key)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Warm-up (in-process) or the first worker health round runs once the server listens.
        async with serving(metered):
            yield
        if cloud_service is not None:
            await cloud_service.aclose()
        await replay_guard.aclose()

    app = FastAPI(
        title="facegate",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/facegate/v1/openapi.json",
    )
    app.state.settings = settings
    app.state.cipher = Cipher(settings.decrypt_key, settings.decrypt_iv)
    app.state.engine = metered
    app.state.metrics = metrics
    app.state.package_key = sealing_key
    app.state.replay_guard = replay_guard
    app.include_router(health.router)
    app.include_router(identity.router)
    app.include_router(quality.router)
    app.include_router(liveness.router)
    app.include_router(ops.router)
    body_limits = {path: settings.max_video_body_bytes for path in VIDEO_PATHS}
    if cloud_service is not None:
        app.state.cloud = cloud_service
        app.include_router(cloud.router)
        body_limits[CLOUD_PATH] = cloud_service.max_body_bytes
    install_error_handlers(app, detailed=settings.detailed_messages)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        body_limits=body_limits,
        metrics=metrics,
    )
    return app
