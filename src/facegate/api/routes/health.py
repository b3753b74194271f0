"""Health and status."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from facegate import __version__
from facegate.api.deps import EngineDep
from facegate.api.schemas import HealthBody
from facegate.core.results import StatusDocument, public
from facegate.ops.context import request_id_of

router = APIRouter()


@router.get("/healthcheck", responses={200: {"model": HealthBody, "description": "up"}})
async def healthcheck() -> JSONResponse:
    # Exactly the manual's body; the request id travels in the X-Request-Id header.
    return JSONResponse({"code": 1000, "status": "ok"})


@router.get(
    "/facegate/v1/status", responses={200: {"model": StatusDocument, "description": "status"}}
)
async def status(request: Request, engine: EngineDep) -> JSONResponse:
    """Which models, profile and calibration answer here (not part of the SenseID API)."""
    head = {"version": __version__, "request_id": request_id_of(request)}
    return JSONResponse({**head, **public(engine.describe())})
