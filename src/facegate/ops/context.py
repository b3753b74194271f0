"""Request context, for the API tier and the worker alike: request ids, and pure ASGI middleware
for body limits, metrics and the access log.

The middleware runs before any body is read, so a 20 MB body is refused with 413 from its header
alone and never buffered. It also starts the request's stage timings (``core.stages``) and, when
the response starts, reports them in a ``Server-Timing`` header; that header is how a worker
hands its stage timings to the API tier.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Collection, Mapping

from starlette.requests import Request
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facegate.core import stages
from facegate.core.errors import UnavailableError
from facegate.ops.admission import Admission
from facegate.ops.logs import request_id_var
from facegate.ops.metrics import Metrics

_BODY_METHODS = {b"POST", b"PUT", b"PATCH"}
_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")
# Probes and scrapes are frequent and say nothing about the service's work.
_QUIET_PATHS = frozenset({"/metrics", "/livez", "/readyz", "/healthcheck"})

access_log = logging.getLogger("facegate.access")

REQUEST_ID_HEADER = "X-Request-Id"

# How a path answers a body refused before routing: (HTTP status, code, message, request id)
# -> (HTTP status, code for the access log and metrics, JSON document).
RefusalBody = Callable[[int, int, str, str], tuple[int, int | str, object]]


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_of(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else new_request_id()


def envelope_body(status: int, code: int, message: str, request_id: str) -> tuple[int, int, object]:
    """The one error envelope, ``{"code", "message", "request_id"}``."""
    return status, code, {"code": code, "message": message, "request_id": request_id}


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        body_limits: Mapping[str, int] | None = None,
        metrics: Metrics | None = None,
        trust_request_id: bool = False,
        refusal_bodies: Mapping[str, RefusalBody] | None = None,
        admission: Admission | None = None,
        admitted_paths: Collection[str] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_limits = dict(body_limits or {})  # per path, where it differs
        # Per path, where its error document differs from the envelope (the cloud API's).
        self.refusal_bodies = dict(refusal_bodies or {})
        self.metrics = metrics
        # A worker keeps the API tier's id so one request can be followed through both logs;
        # the public API never takes an id from its callers.
        self.trust_request_id = trust_request_id
        # Requests to these paths take an inference slot before their body is read.
        self.admission = admission
        self.admitted_paths = frozenset(admitted_paths)

    def _request_id(self, scope: Scope) -> str:
        if self.trust_request_id:
            for key, value in scope["headers"]:
                if key == b"x-request-id":
                    candidate = bytes(value).decode("latin-1")
                    if _REQUEST_ID.match(candidate):
                        return candidate
        return new_request_id()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = self._request_id(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        request_id_var.set(request_id)
        timings = stages.begin()
        header_value = request_id.encode()
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((REQUEST_ID_HEADER.lower().encode(), header_value))
                if timings.entries:
                    headers.append((b"server-timing", timings.server_timing().encode()))
                message["headers"] = headers
            await send(message)

        if self.metrics is not None:
            self.metrics.in_flight.inc()
        try:
            refusal = self._refusal(scope)
            if refusal is not None:
                body = self.refusal_bodies.get(scope["path"], envelope_body)
                status, state["code"], document = body(*refusal, request_id)
                await _send_json(send, status, document, request_id)
                return
            if self.admission is None or scope["path"] not in self.admitted_paths:
                await self.app(scope, receive, send_with_id)
                return
            try:
                async with self.admission.slot():
                    await self.app(scope, receive, send_with_id)
            except UnavailableError as exc:
                if status != 500:  # the app had answered already: not an admission refusal
                    raise
                body = self.refusal_bodies.get(scope["path"], envelope_body)
                status, state["code"], document = body(503, 503, exc.detail, request_id)
                retry = {"retry-after": str(exc.retry_after)}
                await _send_json(send, status, document, request_id, retry)
        finally:
            self._done(scope, status, time.perf_counter() - started, timings)

    def _refusal(self, scope: Scope) -> tuple[int, int, str] | None:
        if scope["method"].encode() not in _BODY_METHODS:
            return None
        length = _content_length(scope)
        if length is None:
            # Without Content-Length or Transfer-Encoding the body is empty (RFC 9112, 6.3), as
            # in `curl -X POST URL?params`; a chunked body cannot be bounded before it is read.
            if not any(k == b"transfer-encoding" for k, _ in scope["headers"]):
                return None
            return 411, 411, "length required: send a Content-Length header"
        if length < 0:
            return 400, 1200, "invalid Content-Length header"
        limit = self.body_limits.get(scope["path"], self.max_body_bytes)
        if length > limit:
            return 413, 413, f"payload too large: {length} bytes, the limit is {limit}"
        return None

    def _done(self, scope: Scope, status: int, seconds: float, timings: stages.Timings) -> None:
        state = scope["state"]
        code = state.get("code", 1000 if status == 200 else status)
        endpoint = _endpoint(scope)
        if self.metrics is not None:
            self.metrics.in_flight.dec()
            self.metrics.requests.labels(endpoint, str(code)).inc()
            self.metrics.latency.labels(endpoint).observe(seconds)
            self.metrics.observe_stages(timings.entries)
        if scope["path"] in _QUIET_PATHS and status == 200:
            return
        access_log.info(
            "request",
            extra={
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "code": code,
                "duration_ms": round(seconds * 1000, 1),
            },
        )


def _endpoint(scope: Scope) -> str:
    """The route's path template; unknown paths share one label so scans cannot inflate the
    metric's cardinality."""
    path = getattr(scope.get("route"), "path", None)  # set by the router once it matched
    if isinstance(path, str):
        return path
    app = scope.get("app")
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", ()):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "other"))
    return "other"


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


async def _send_json(
    send: Send,
    status: int,
    document: object,
    request_id: str,
    extra: Mapping[str, str] | None = None,
) -> None:
    body = json.dumps(document).encode()
    more = [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
                (b"connection", b"close"),
                *more,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
