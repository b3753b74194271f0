"""Seed 003: ``POST /identity/liveness_selfie_verification``, the cloud API (``cloud.service``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from facegate.api.errors import cloud_error_response
from facegate.cloud.errors import CLOUD_PATH, Status, cloud_request_id
from facegate.cloud.service import CloudService, as_cloud_error
from facegate.ops.context import request_id_of

router = APIRouter()


@router.post(CLOUD_PATH)
async def liveness_selfie_verification(request: Request) -> JSONResponse:
    service: CloudService = request.app.state.cloud
    try:
        body = await service.handle(request)
    except Exception as exc:  # every failure is answered in the cloud API's own envelope
        return cloud_error_response(request, as_cloud_error(exc))
    request.state.code = Status.OK.value
    return JSONResponse({"request_id": cloud_request_id(request_id_of(request)), **body})
