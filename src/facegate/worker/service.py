"""``create_worker_app(settings)``: the inference worker (``facegate worker``, port 50050).

It serves the pipeline to the API tier over HTTP (requests in protobuf, ``worker.proto``; results
as their models' JSON, :mod:`facegate.core.results`): one
``POST /v1/<call>`` per engine method. ``HANDLERS`` requests compute at once; up to
``worker_queue`` more wait for a handler; beyond that a request is answered 503 at once, before
its body is read, so a burst costs neither unbounded memory nor a timeout at the caller, which
retries on another worker.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from facegate import __version__
from facegate.core.errors import FacegateError, UnavailableError
from facegate.core.results import Result
from facegate.ops import probes
from facegate.ops.admission import Admission
from facegate.ops.context import RequestContextMiddleware, request_id_of
from facegate.ops.metered import MeteredEngine
from facegate.ops.metrics import Metrics
from facegate.settings import Settings
from facegate.worker import wire
from facegate.worker.interface import InferenceEngine, serving

log = logging.getLogger("facegate.worker")


@dataclass(frozen=True, slots=True)
class Call:
    parse: Callable[[bytes], tuple[Any, ...]]
    run: Callable[..., Awaitable[Result]]  # (engine, *parsed) -> result


def _one(parse: Callable[[bytes], Any]) -> Callable[[bytes], tuple[Any, ...]]:
    return lambda body: (parse(body),)


CALLS: dict[str, Call] = {
    "verify": Call(wire.parse_pair_request, lambda e, *a: e.verify(*a)),
    "multiface": Call(wire.parse_pair_request, lambda e, *a: e.multiface(*a)),
    "quality": Call(_one(wire.parse_quality_request), lambda e, *a: e.quality(*a)),
    "silent_liveness": Call(
        wire.parse_silent_liveness_request, lambda e, *a: e.silent_liveness(*a)
    ),
    "silent_verify": Call(wire.parse_silent_verify_request, lambda e, *a: e.silent_verify(*a)),
    "package_liveness": Call(
        _one(wire.parse_package_liveness_request), lambda e, *a: e.package_liveness(*a)
    ),
    "package_verify": Call(wire.parse_package_verify_request, lambda e, *a: e.package_verify(*a)),
}


def _protobuf(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, media_type=wire.CONTENT_TYPE, headers=headers)


def create_worker_app(
    settings: Settings | None = None, engine: InferenceEngine | None = None
) -> FastAPI:
    """Build the worker. Models load here (a bad model file stops start-up); the warm-up runs
    once the server is up, and ``/healthcheck`` answers "ok" only after it."""
    settings = settings or Settings()
    if engine is None:
        from facegate.compose import build_local_engine

        # HANDLERS threads compute, shared by the HANDLERS requests admitted: as many busy
        # threads as the cores the worker was sized for, and no more.
        engine = build_local_engine(settings, threads=settings.handlers)
    metrics = Metrics("worker")
    metered = MeteredEngine(engine, metrics)
    admission = Admission(settings.handlers, settings.worker_queue_limit, metrics)

    def lifespan(app: FastAPI) -> AbstractAsyncContextManager[None]:
        return serving(metered)

    app = FastAPI(
        title="facegate worker",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.engine = metered
    app.state.metrics = metrics
    app.state.admission = admission
    app.include_router(probes.router)

    @app.get("/healthcheck")
    async def healthcheck(request: Request) -> JSONResponse:
        # The manual's worker body (installation chapter 4.2.3).
        ready = metered.ready()
        return JSONResponse(
            {"request_id": request_id_of(request), "status": "ok" if ready else "starting"},
            status_code=200 if ready else 503,
        )

    @app.post("/v1/{name}")
    async def call(name: str, request: Request) -> Response:
        spec = CALLS.get(name)
        if spec is None:
            request.state.code = 404
            return _protobuf(wire.error(404, f"no call named {name!r}"), 404)
        async with admission.slot():
            body = await request.body()
            try:
                args = spec.parse(body)
            except (wire.WireError, FacegateError) as exc:
                # A malformed message is the API tier's bug; a bad package inside one is 2007.
                if isinstance(exc, FacegateError):
                    request.state.code = int(exc.code)
                    return _protobuf(wire.facegate_error(exc), 422)
                request.state.code = 400
                return _protobuf(wire.error(400, str(exc)), 400)
            try:
                result = await spec.run(metered, *args)
            except FacegateError as exc:
                request.state.code = int(exc.code)
                return _protobuf(wire.facegate_error(exc), 422)
        return Response(wire.result(result), media_type=wire.RESULT_CONTENT_TYPE)

    @app.exception_handler(UnavailableError)
    async def busy(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, UnavailableError)
        request.state.code = 503
        log.warning("busy", extra={"detail": exc.detail})
        return _protobuf(wire.error(503, exc.detail), 503, {"Retry-After": str(exc.retry_after)})

    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_video_body_bytes,
        metrics=metrics,
        trust_request_id=True,
    )
    return app
