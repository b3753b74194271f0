"""One error envelope, ``{"code", "message", "request_id"}``, for every failure.

SenseID codes (1200, 2003, …) go out with HTTP 400. Failures outside the manual's code table
use the HTTP status as the code: 404 (unknown path or method), 411 (no Content-Length),
413 (body over the limit), 503 (no inference worker can take the request, or a shared store is
down: retry after ``Retry-After`` seconds), 500 (a fault of ours, logged with the request id).
"""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from facegate.cloud.errors import (
    CloudError,
    Status,
    cloud_request_id,
    is_cloud_request,
    refusal,
)
from facegate.core.errors import Code, FacegateError, UnavailableError
from facegate.ops.context import REQUEST_ID_HEADER, request_id_of

log = logging.getLogger("facegate.api")


def envelope(
    status: int,
    code: int,
    message: str,
    request_id: str,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "request_id": request_id},
        status_code=status,
        headers={REQUEST_ID_HEADER: request_id, **(headers or {})},
    )


def _answer(request: Request, code: int) -> str:
    """The request id, after noting the response code for the access log and metrics."""
    request.state.code = code
    return request_id_of(request)


def cloud_error_response(request: Request, exc: CloudError) -> JSONResponse:
    """A failure in the cloud API's envelope (seed 003): ``{"status", ["image"], ["reason"],
    "request_id": "TID…"}`` with the table's HTTP status."""
    rid = request_id_of(request)
    request.state.code = exc.status.value
    log.info("request failed", extra={"status": exc.status.value, "detail": exc.reason})
    headers = {REQUEST_ID_HEADER: rid}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    detailed = request.app.state.settings.detailed_messages
    return JSONResponse(
        exc.body(cloud_request_id(rid), detailed=detailed),
        status_code=exc.http_status,
        headers=headers,
    )


def cloud_refusal_body(
    status: int, code: int, message: str, request_id: str
) -> tuple[int, int | str, object]:
    """A body the middleware refused before routing, in the cloud API's envelope."""
    error = refusal(status, message)
    return error.http_status, error.status.value, error.body(cloud_request_id(request_id))


def install_error_handlers(app: FastAPI, *, detailed: bool) -> None:
    async def facegate_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, FacegateError)
        rid = _answer(request, int(exc.code))
        log.info("request failed", extra={"code": int(exc.code), "detail": exc.detail})
        return envelope(exc.code.http_status, int(exc.code), exc.message(detailed=detailed), rid)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code in (404, 405):
            # The manual lists no 405: an existing route called with another method is "not found".
            if is_cloud_request(request.url.path, request.scope.get("query_string", b"")):
                return cloud_error_response(request, CloudError(Status.NOT_FOUND))
            return envelope(404, 404, "not found", _answer(request, 404))
        if exc.status_code == 400:
            rid = _answer(request, int(Code.INVALID_ARGUMENT))
            return envelope(
                400,
                int(Code.INVALID_ARGUMENT),
                _detail(Code.INVALID_ARGUMENT, str(exc.detail), detailed),
                rid,
            )
        rid = _answer(request, exc.status_code)
        return envelope(exc.status_code, exc.status_code, str(exc.detail), rid)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        rid = _answer(request, int(Code.INVALID_ARGUMENT))
        return envelope(
            400, int(Code.INVALID_ARGUMENT), _detail(Code.INVALID_ARGUMENT, str(exc), detailed), rid
        )

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, UnavailableError)
        rid = _answer(request, 503)
        log.warning("unavailable", extra={"detail": exc.detail, "retry_after": exc.retry_after})
        message = f"service unavailable: {exc.detail}" if detailed else "service unavailable"
        return envelope(503, 503, message, rid, {"Retry-After": str(exc.retry_after)})

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        rid = _answer(request, 500)
        log.exception("internal error")
        return envelope(500, 500, "internal error", rid)

    app.add_exception_handler(FacegateError, facegate_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(UnavailableError, unavailable)
    app.add_exception_handler(Exception, internal_error)


def _detail(code: Code, detail: str, detailed: bool) -> str:
    return f"{code.manual_message}: {detail}" if detailed and detail else code.manual_message
