"""Operations endpoints shared by the API tier and the worker (both keep ``metrics`` and
``engine`` on ``app.state``): metrics and probes.

``/livez`` answers while the process can answer at all (restart it if not); ``/readyz`` only
when a request sent now could be served: models warmed up in-process, or at least one healthy
worker behind the API tier. On SIGTERM the server stops accepting connections at once, so a
draining process drops out of its Service without a flag of its own.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from facegate.ops.context import request_id_of
from facegate.ops.metrics import CONTENT_TYPE, Metrics
from facegate.worker.interface import InferenceEngine

router = APIRouter()


@router.get(
    "/metrics",
    responses={
        200: {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def metrics(request: Request) -> Response:
    registry: Metrics = request.app.state.metrics
    return Response(registry.render(), media_type=CONTENT_TYPE)


@router.get("/livez")
async def livez(request: Request) -> JSONResponse:
    return JSONResponse({"request_id": request_id_of(request), "status": "ok"})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    engine: InferenceEngine = request.app.state.engine
    ready = engine.ready()
    return JSONResponse(
        {"request_id": request_id_of(request), "status": "ok" if ready else "not ready"},
        status_code=200 if ready else 503,
    )
