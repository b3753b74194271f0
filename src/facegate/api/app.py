"""``create_app(settings)``: the SenseID-compatible application, built without module globals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from facegate import __version__
from facegate.api.errors import cloud_refusal_body, install_error_handlers
from facegate.api.routes import capture, cloud, health, identity, liveness, quality, sessions
from facegate.cloud.errors import CLOUD_PATH
from facegate.cloud.service import CloudService
from facegate.cloud.sessions import SessionService
from facegate.compose import build_engine
from facegate.core.crypto import Cipher
from facegate.ops import probes
from facegate.ops.admission import Admission
from facegate.ops.context import RefusalBody, RequestContextMiddleware
from facegate.ops.metered import MeteredEngine
from facegate.ops.metrics import Metrics
from facegate.proto.codec import package_key
from facegate.settings import Settings
from facegate.store.replay import build_replay_guard
from facegate.worker.interface import InferenceEngine, serving

OPENAPI_URL = "/facegate/v1/openapi.json"
DOCS_URL = "/facegate/v1/docs"

# Endpoints whose body carries a video (up to 16 MB before encryption and base64) or a
# liveness package (up to 16 MB of frames).
VIDEO_PATHS = (
    "/identity/liveness_image_verification/stateless",
    "/liveness/silent_detection/stateless",
    "/identity/silent_image_verification/stateless",
)
# The SenseID endpoints: each request is one inference call. In-process they are admitted as a
# worker admits calls (the cloud endpoint and the sessions have their keys' own limits).
INFERENCE_PATHS = (
    *VIDEO_PATHS,
    "/identity/image_verification/stateless",
    "/identity/multiface_image_omni_verification/stateless",
    "/quality/face/stateless",
)


def create_app(settings: Settings | None = None, engine: InferenceEngine | None = None) -> FastAPI:
    """Build the app. Models load here, so a bad model file stops start-up, not a request."""
    settings = settings or Settings()
    metrics = Metrics("api")
    metered = MeteredEngine(engine or build_engine(settings, metrics), metrics)
    # A package dated up to the clock skew ahead stays fresh until its date + the window, so
    # its nonce must be remembered that much longer than the window.
    replay_guard = build_replay_guard(
        settings.redis_url,
        settings.package_window_seconds + settings.package_clock_skew_seconds,
    )
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
        openapi_url=OPENAPI_URL,
        # A path with a trailing slash is not found: a redirect would answer with the caller's
        # own Host header, sending clients wherever a forged Host points.
        redirect_slashes=False,
        description="The SenseID 1v1 private-cloud HTTP API, and the cloud API of seed 003. "
        "Parameters marked encrypted are AES-256-GCM with PARAM_DECRYPT_KEY, then base64.",
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
    app.include_router(probes.router)
    body_limits = {path: settings.max_video_body_bytes for path in VIDEO_PATHS}
    refusal_bodies: dict[str, RefusalBody] = {}
    if cloud_service is not None:
        app.state.cloud = cloud_service
        app.state.sessions = SessionService(settings, cloud_service, metered, sealing_key)
        app.include_router(cloud.router)
        app.include_router(sessions.router)
        app.include_router(capture.router)
        _document_basic_auth(app)
        body_limits[CLOUD_PATH] = cloud_service.max_body_bytes
        refusal_bodies[CLOUD_PATH] = cloud_refusal_body
    if settings.api_docs if settings.api_docs is not None else settings.environment != "production":
        _serve_reference(app)
    install_error_handlers(app, detailed=settings.detailed_messages)
    # With workers, they admit (and the API tier answers 503 when none can take a call).
    admission = (
        None
        if settings.worker_urls
        else Admission(settings.handlers, settings.worker_queue_limit, metrics)
    )
    app.state.admission = admission
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        body_limits=body_limits,
        metrics=metrics,
        refusal_bodies=refusal_bodies,
        admission=admission,
        admitted_paths=INFERENCE_PATHS,
    )
    return app


def _document_basic_auth(app: FastAPI) -> None:
    """The sessions API's HTTP Basic scheme (api_id:api_secret), named by its routes."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["basic"] = {"type": "http", "scheme": "basic"}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _serve_reference(app: FastAPI) -> None:
    """Swagger UI for people, on the OpenAPI document, with its scripts served from this process
    (the fastapi-offline wheel carries them): a reference page must not load code from a CDN."""
    assets = Path(str(resources.files("fastapi_offline") / "static"))
    app.mount(f"{DOCS_URL}/assets", StaticFiles(directory=assets), name="reference-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def reference() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title="facegate API reference",
            swagger_js_url=f"{DOCS_URL}/assets/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_URL}/assets/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_URL}/assets/favicon.png",
        )
