"""The HTTP server's own bounds, which uvicorn's httptools protocol does not have: a request's
head (request line and headers) of at most ``max_head_bytes``, received within
``head_timeout`` seconds of its first byte or of the connection, and at most
``max_connections`` connections open at once.

Without them one connection could send a 128 MB header (httptools' buffering made that cost
the event loop CPU quadratic in its size, while every other request waited), and a few hundred
connections sending nothing, or half a request, stayed open for ever. Past a bound the answer
is a status a client understands (431, 408, or 503 with ``Retry-After``) and the connection is
closed; a request whose head is complete is never touched, however long its body.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def _response(status: bytes, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-length: 0\r\nconnection: close\r\n" + extra + b"\r\n"
    )


HEAD_TOO_LARGE = _response(b"431 Request Header Fields Too Large")
HEAD_TOO_SLOW = _response(b"408 Request Timeout")
TOO_MANY = _response(b"503 Service Unavailable", b"retry-after: 1\r\n")


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    max_head_bytes = 64 * 1024
    head_timeout = 10.0
    max_connections = 1000

    _head_timer: asyncio.TimerHandle | None = None
    _in_head = True
    _head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            self._refuse(TOO_MANY)
            return
        self._start_head()

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            # May count some body bytes of the chunk that completes the head: harmless, the
            # bound is far above any real request's head.
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_head_bytes:
            self._refuse(HEAD_TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_head:  # the next request on a kept-alive connection
            self._start_head()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._stop_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def _start_head(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._stop_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._refuse, HEAD_TOO_SLOW)

    def _stop_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, response: bytes) -> None:
        self._stop_timer()
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()


def bounded_protocol(
    max_head_bytes: int, head_timeout: float, max_connections: int
) -> type[BoundedHttpToolsProtocol]:
    """The protocol class with these bounds (uvicorn takes a class for ``http``)."""
    attrs: dict[str, Any] = {
        "max_head_bytes": max_head_bytes,
        "head_timeout": head_timeout,
        "max_connections": max_connections,
    }
    return type("FacegateHttpProtocol", (BoundedHttpToolsProtocol,), attrs)
