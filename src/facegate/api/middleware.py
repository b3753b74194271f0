"""Request id, Content-Length policy and body limit, as pure ASGI middleware.

It runs before any body is read, so a 20 MB body is refused with 413 from its header alone and
never buffered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facegate.api.errors import REQUEST_ID_HEADER, new_request_id

_BODY_METHODS = {b"POST", b"PUT", b"PATCH"}


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        body_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_limits = dict(body_limits or {})  # per path, where it differs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        header_value = request_id.encode()

        if scope["method"].encode() in _BODY_METHODS:
            length = _content_length(scope)
            if length is None:
                await _reply(send, 411, "length required: send a Content-Length header", request_id)
                return
            if length < 0:
                await _reply(send, 400, "invalid Content-Length header", request_id, code=1200)
                return
            limit = self.body_limits.get(scope["path"], self.max_body_bytes)
            if length > limit:
                await _reply(
                    send,
                    413,
                    f"payload too large: {length} bytes, the limit is {limit}",
                    request_id,
                )
                return

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((REQUEST_ID_HEADER.lower().encode(), header_value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_id)


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


async def _reply(
    send: Send, status: int, message: str, request_id: str, code: int | None = None
) -> None:
    body = json.dumps(
        {"code": code if code is not None else status, "message": message, "request_id": request_id}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
