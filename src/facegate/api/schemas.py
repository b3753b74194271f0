"""The bodies the API answers with: the OpenAPI document's response schemas
(``/facegate/v1/openapi.json``), each with an example, and what the API tests validate every
answer against (``extra="forbid"``: a field the code sends and the schema lacks fails them).

The results' bodies are declared with the results themselves (:mod:`facegate.core.results`),
and :func:`answer` writes them; the errors', the health check's and the cloud's are here.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from facegate.cloud.errors import Status
from facegate.core.results import CloudVerification, Result, public
from facegate.ops.context import request_id_of

RequestId = Field(
    description="32 hex digits; also in the X-Request-Id header and in every log line",
    pattern="^[0-9a-f]{32}$",
    examples=["0ecc5731b5664d1a9b9cfbdb9eff383d"],
)


def answer(request: Request, result: Result, *, omit: frozenset[str] = frozenset()) -> JSONResponse:
    """A SenseID success: ``code``, the fields of the result its body shows, ``request_id``."""
    return JSONResponse(
        {"code": 1000, **public(result, omit=omit), "request_id": request_id_of(request)}
    )


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(Body):
    """Every failure of the SenseID endpoints; HTTP 400 for the manual's codes, else the code is
    the HTTP status (404, 411, 413, 500, 503)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": 4000,
                    "message": "detection failed: first_encrypted_image: no face found",
                    "request_id": "0ecc5731b5664d1a9b9cfbdb9eff383d",
                }
            ]
        }
    )
    code: int
    message: str = Field(description="the manual's text for the code, then what was wrong")
    request_id: str = RequestId


class HealthBody(Body):
    code: Literal[1000]
    status: Literal["ok"]


class CloudErrorBody(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "NO_FACE_DETECTED",
                    "image": "selfie_file",
                    "reason": "no face found in the selfie",
                    "request_id": "TID8bf4a6b2c1d04e5f9a7b3c2d1e0f4a5b",
                }
            ]
        }
    )
    status: Status
    image: str | None = Field(None, description="the input that failed")
    reason: str | None = None
    request_id: str = Field(pattern="^TID[0-9a-f]{32}$")


_ERRORS = {
    400: "a parameter, photo, video or package the manual's code table refuses (code 1200, "
    "2003 … 2008, 4000, 4004, 4007)",
    404: "unknown path, or a known path with another method",
    411: "a chunked body without Content-Length",
    413: "the body is over the route's limit (refused before it is read)",
    500: "a fault of ours, logged with the request id",
    503: "no inference worker or shared store can take the request now; retry after Retry-After "
    "seconds (nothing was done, so sending it again is safe)",
}


_CLOUD_ERRORS = {
    400: "an input the seed's status table refuses (ENCODING_ERROR, DOWNLOAD_*, IMAGE_*, "
    "NO_FACE_DETECTED, CORRUPT_IMAGE, INVALID_IMAGE_FORMAT_OR_SIZE, WRONG_LIVENESS_DATA, "
    "INVALID_ARGUMENT)",
    401: "UNAUTHORIZED (missing or wrong api_id/api_secret, revoked key) or KEY_EXPIRED",
    403: "RATE_LIMIT_EXCEEDED (with Retry-After), NO_PERMISSION or OUT_OF_QUOTA",
    404: "NOT_FOUND",
    500: "INTERNAL_ERROR: a fault of ours, logged with the request id",
    503: "INTERNAL_ERROR with Retry-After: the database, Redis or every inference worker is "
    "unreachable",
}


def cloud_responses() -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {
        200: {"model": CloudVerification, "description": "success"}
    }
    for status, about in _CLOUD_ERRORS.items():
        out[status] = {"model": CloudErrorBody, "description": about}
    return out


def responses(
    success: type[BaseModel], errors: type[BaseModel] = ErrorBody
) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses``: its success body and every error status it can answer."""
    out: dict[int | str, dict[str, Any]] = {200: {"model": success, "description": "success"}}
    for status, about in _ERRORS.items():
        out[status] = {"model": ErrorBody, "description": about}
    return out
