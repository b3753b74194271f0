"""One error envelope, ``{"code", "message", "request_id"}``, for every failure.

SenseID codes (1200, 2003, …) go out with HTTP 400. Failures outside the manual's code table
use the HTTP status as the code: 404 (unknown path or method), 411 (no Content-Length),
413 (body over the limit), 500 (a fault of ours, logged with the request id).
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from facegate.core.errors import Code, FacegateError

log = logging.getLogger("facegate.api")

REQUEST_ID_HEADER = "X-Request-Id"


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_of(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else new_request_id()


def envelope(status: int, code: int, message: str, request_id: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "request_id": request_id},
        status_code=status,
        headers={REQUEST_ID_HEADER: request_id},
    )


def install_error_handlers(app: FastAPI, *, detailed: bool) -> None:
    async def facegate_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, FacegateError)
        rid = request_id_of(request)
        log.info(
            "request failed", extra={"request_id": rid, "code": int(exc.code), "detail": exc.detail}
        )
        return envelope(exc.code.http_status, int(exc.code), exc.message(detailed=detailed), rid)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        rid = request_id_of(request)
        if exc.status_code in (404, 405):
            # The manual lists no 405: an existing route called with another method is "not found".
            return envelope(404, 404, "not found", rid)
        if exc.status_code == 400:
            return envelope(
                400,
                int(Code.INVALID_ARGUMENT),
                _detail(Code.INVALID_ARGUMENT, str(exc.detail), detailed),
                rid,
            )
        return envelope(exc.status_code, exc.status_code, str(exc.detail), rid)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        rid = request_id_of(request)
        return envelope(
            400, int(Code.INVALID_ARGUMENT), _detail(Code.INVALID_ARGUMENT, str(exc), detailed), rid
        )

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        rid = request_id_of(request)
        log.exception("internal error", extra={"request_id": rid})
        return envelope(500, 500, "internal error", rid)

    app.add_exception_handler(FacegateError, facegate_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, internal_error)


def _detail(code: Code, detail: str, detailed: bool) -> str:
    return f"{code.manual_message}: {detail}" if detailed and detail else code.manual_message
