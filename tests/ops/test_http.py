"""The HTTP server's bounds (``facegate.ops.http``) on a real uvicorn over loopback sockets:
a request head too large (431) or too slow (408), too many connections (503 + Retry-After),
and nothing changed for a request whose head is complete (issue 17's repros)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from facegate.cli import server_options
from facegate.settings import Settings
from tests.worker import ThreadServer


def tiny_app() -> FastAPI:
    app = FastAPI()

    @app.get("/healthcheck")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.post("/echo")
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"bytes": len(await request.body())})

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[ThreadServer]:
    settings = Settings(
        http_max_head_bytes=16 * 1024, http_head_timeout_seconds=1.0, http_max_connections=20
    )
    with ThreadServer(tiny_app(), **server_options(settings)) as s:
        yield s


def connect(server: ThreadServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    return sock


def answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def test_a_head_over_the_limit_is_431_and_closed(server: ThreadServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthcheck HTTP/1.1\r\nHost: x\r\nX-Big: ")
        try:
            for _ in range(64):  # 4 MB of one header, if the server let it
                sock.sendall(b"a" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed on us: that is the point
        got = answer(sock)
    assert got.startswith(b"HTTP/1.1 431 ")
    assert httpx.get(server.url + "/healthcheck", timeout=10).json() == {"status": "ok"}


@pytest.mark.parametrize("sent", [b"", b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Le"])
def test_a_head_that_does_not_arrive_in_time_is_408_and_closed(
    server: ThreadServer, sent: bytes
) -> None:
    with connect(server) as sock:
        sock.sendall(sent)
        got = answer(sock)  # the server closes it, after its head timeout
    assert got.startswith(b"HTTP/1.1 408 ")


def test_connections_over_the_bound_get_503_with_retry_after(server: ThreadServer) -> None:
    held = [connect(server) for _ in range(20)]
    try:
        with connect(server) as extra:
            got = answer(extra)
        assert got.startswith(b"HTTP/1.1 503 ")
        assert b"retry-after: 1" in got.lower()
    finally:
        for sock in held:
            sock.close()


def test_requests_with_complete_heads_are_untouched(server: ThreadServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        big = client.post("/echo", content=b"x" * (8 * 1024 * 1024))
        assert big.json() == {"bytes": 8 * 1024 * 1024}
        # Kept alive: the next request on the same connection gets its own head allowance.
        assert client.get("/healthcheck").json() == {"status": "ok"}
        assert client.get("/healthcheck").json() == {"status": "ok"}
