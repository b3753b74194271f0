"""Seed 003: ``POST /identity/liveness_selfie_verification``, the cloud API (``cloud.service``)."""

from __future__ import annotations

import logging
import math

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from facegate.api.errors import REQUEST_ID_HEADER, request_id_of
from facegate.cloud.errors import CLOUD_PATH, CloudError, Status, cloud_request_id
from facegate.cloud.service import CloudService, as_cloud_error

router = APIRouter()
log = logging.getLogger("facegate.api")


def cloud_error_response(request: Request, exc: CloudError) -> JSONResponse:
    rid = request_id_of(request)
    request.state.code = exc.status.value
    log.info("request failed", extra={"status": exc.status.value, "detail": exc.reason})
    detailed = request.app.state.settings.detailed_messages
    headers = {REQUEST_ID_HEADER: rid}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return JSONResponse(
        exc.body(cloud_request_id(rid), detailed=detailed),
        status_code=exc.http_status,
        headers=headers,
    )


@router.post(CLOUD_PATH)
async def liveness_selfie_verification(request: Request) -> JSONResponse:
    service: CloudService = request.app.state.cloud
    try:
        body = await service.handle(request)
    except Exception as exc:  # every failure is answered in the cloud API's own envelope
        return cloud_error_response(request, as_cloud_error(exc))
    request.state.code = Status.OK.value
    return JSONResponse({"request_id": cloud_request_id(request_id_of(request)), **body})
