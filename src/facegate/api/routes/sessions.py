"""Browser capture sessions (``facegate.cloud.sessions``): facegate's own JSON API beside the
cloud endpoint, with its keys and its error envelope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import JSONResponse, Response

from facegate.api.errors import cloud_error_response
from facegate.api.schemas import cloud_responses
from facegate.cloud.service import as_cloud_error
from facegate.cloud.sessions import SESSIONS_PATH, SessionRequest, SessionService
from facegate.core.results import SessionCreated, SessionView

router = APIRouter(prefix=SESSIONS_PATH)

_AUTH: dict[str, Any] = {"security": [{"basic": []}]}


def _responses(model: type[Any], status: int = 200) -> dict[int | str, dict[str, Any]]:
    out = cloud_responses()
    del out[200]
    out[status] = {"model": model, "description": "success"}
    return out


async def _answer(
    request: Request, work: Callable[[SessionService], Awaitable[Any]], status: int = 200
) -> Response:
    service: SessionService = request.app.state.sessions
    try:
        result = await work(service)
    except Exception as exc:  # every failure in the cloud API's envelope
        error = as_cloud_error(exc)
        return cloud_error_response(request, error)
    request.state.code = "OK"
    if isinstance(result, bytes):
        return Response(result, media_type="application/octet-stream")
    return JSONResponse(result.model_dump(mode="json", by_alias=True), status_code=status)


@router.post(
    "",
    status_code=201,
    responses=_responses(SessionCreated, 201),
    openapi_extra={
        **_AUTH,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SessionRequest.model_json_schema()}},
        },
    },
)
async def create_session(request: Request) -> Response:
    """Create a capture session (HTTP Basic: api_id:api_secret); hand its client token, or its
    capture URL, to the customer's page."""
    return await _answer(request, lambda s: s.create(request), 201)


@router.get("/{session_id}", responses=_responses(SessionView), openapi_extra=_AUTH)
async def read_session(request: Request, session_id: str) -> Response:
    """The session's state and, once decided, its outcome (the key that created it only)."""
    return await _answer(request, lambda s: s.read(request, session_id))


@router.get(
    "/{session_id}/package",
    responses={
        **_responses(SessionView),
        200: {"content": {"application/octet-stream": {}}, "description": "the sealed package"},
    },
    openapi_extra=_AUTH,
)
async def session_package(request: Request, session_id: str) -> Response:
    """A passed session's sealed liveness package, for 1.3 (it verifies once)."""
    return await _answer(request, lambda s: s.package(request, session_id))


@router.websocket("/{session_id}/stream")
async def stream(websocket: WebSocket, session_id: str) -> None:
    service: SessionService = websocket.app.state.sessions
    await service.stream(websocket, session_id)
