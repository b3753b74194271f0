"""The URL fetcher (``facegate.cloud.fetch``): SSRF refusals (private, loopback, metadata, numeric
host forms, mixed DNS answers, redirects), the connection pinned to the vetted address (DNS
rebinding, https SNI and certificate name), timeouts, the size cap while streaming, and reasons
that never carry a response body.

Real HTTP(S) servers on loopback threads serve the network cases (the positive ones allow
``127.0.0.1/32``); an injected resolver and ``httpx.MockTransport`` serve the cases that must
fail before any connection, and those that need a public address."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import http.client
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from facegate import __version__
from facegate.cloud.fetch import (
    FetchError,
    FetchOptions,
    Resolver,
    SafeFetcher,
    fetch,
    system_resolver,
)

pytestmark = [pytest.mark.timeout(30)]

MB = 1024 * 1024
LOCAL = ("127.0.0.1/32",)
PUBLIC = "93.184.215.14"  # globally routable; only ever "reached" through MockTransport
SECRET = "SECRET-BODY-do-not-echo"


# --- servers -----------------------------------------------------------------------------------


@dataclass
class Seen:
    path: str
    headers: dict[str, str]  # lower-case names


class Server(socketserver.ThreadingTCPServer):
    """An HTTP/1.1 server on a loopback address whose routes write raw responses, so framing
    (Content-Length, chunked, trickling) is exactly what a test asks for."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        super().__init__((host, port), _Handler)
        self.tls = tls
        self.seen: list[Seen] = []
        self.stop = threading.Event()
        self.host = host
        self.port: int = self.server_address[1]
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def url(self, path: str, *, host: str | None = None) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def get_request(self) -> tuple[socket.socket, object]:
        sock, address = super().get_request()
        if self.tls is not None:
            # Handshake in the handler thread: a client that gives up must not stall accept().
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients hanging up mid-answer is what several tests do on purpose

    def close(self) -> None:
        self.stop.set()
        self.shutdown()
        self.server_close()
        self._thread.join(5)


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server = cast(Server, self.server)
        try:
            if isinstance(self.request, ssl.SSLSocket):
                self.request.do_handshake()
            line = self.rfile.readline(65536).decode("latin-1")
            if not line:
                return
            target = line.split(" ")[1]
            headers: dict[str, str] = {}
            while (raw := self.rfile.readline(65536)) not in (b"\r\n", b"\n", b""):
                name, _, value = raw.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            server.seen.append(Seen(target, headers))
            _route(self, server, target)
        except (OSError, ValueError):
            pass

    def send(self, status: int, body: bytes = b"", headers: Sequence[tuple[str, str]] = ()) -> None:
        self.head(status, [*headers, ("Content-Length", str(len(body)))])
        self.wfile.write(body)

    def head(self, status: int, headers: Sequence[tuple[str, str]]) -> None:
        lines = [f"HTTP/1.1 {status} {http.client.responses.get(status, 'X')}"]
        lines += [f"{name}: {value}" for name, value in [*headers, ("Connection", "close")]]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


def _route(h: _Handler, server: Server, target: str) -> None:
    parts = urlsplit(target)
    path, query = parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}
    if path == "/small":
        h.send(200, f"hello from {server.host}".encode(), [("Content-Type", "text/plain")])
    elif path == "/bytes":
        size = int(query["n"])
        if "chunked" in query:
            h.head(200, [("Transfer-Encoding", "chunked")])
            sent = 0
            while sent < size:
                piece = min(64 * 1024, size - sent)
                h.wfile.write(b"%x\r\n" % piece + b"x" * piece + b"\r\n")
                sent += piece
            h.wfile.write(b"0\r\n\r\n")
        else:
            h.send(200, b"x" * size)
    elif path == "/redirect":
        headers = [("Location", query["to"])]
        if "cookie" in query:
            headers.append(("Set-Cookie", "session=tenant-a; Path=/"))
        h.send(int(query.get("status", "302")), b"moved", headers)
    elif path.startswith("/chain/"):
        left = int(path.removeprefix("/chain/"))
        if left == 0:
            h.send(200, b"end of chain")
        else:
            h.send(302, b"", [("Location", f"/chain/{left - 1}")])
    elif path == "/loop":
        h.send(302, b"", [("Location", "/loop")])
    elif path == "/slow":
        if not server.stop.wait(3.0):
            h.send(200, b"too late")
    elif path == "/trickle":
        h.head(200, [("Content-Length", "100")])
        for _ in range(100):
            if server.stop.wait(0.1):
                return
            h.wfile.write(b"x")
    elif path == "/gzip":
        h.send(200, gzip.compress(b"\0" * MB), [("Content-Encoding", "gzip")])
    else:
        h.send(404, f"no such page; {SECRET}".encode(), [("Content-Type", "text/plain")])


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Server, Server]]:
    """The main server on 127.0.0.1 and a decoy on 127.0.0.2 at the same port."""
    main = Server("127.0.0.1")
    decoy = Server("127.0.0.2", main.port)
    yield main, decoy
    main.close()
    decoy.close()


@pytest.fixture
def server(servers: tuple[Server, Server]) -> Server:
    for each in servers:
        each.seen.clear()
    return servers[0]


@pytest.fixture
def decoy(servers: tuple[Server, Server], server: Server) -> Server:
    return servers[1]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- fetch helpers -----------------------------------------------------------------------------


class FakeDNS:
    """Answers from a script, one entry per call (the last one repeats); records each call."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


class _Stream(httpx.AsyncByteStream):
    """A body that arrives as a stream, as from the network (``content=`` arrives pre-read)."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.body


@dataclass
class Recorder:
    """A MockTransport that answers 200 and records what would have gone on the network."""

    requests: list[httpx.Request] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        def answer(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return httpx.Response(200, stream=_Stream(b"mock body"))

        return httpx.MockTransport(answer)


def get(
    url: str,
    *,
    max_bytes: int = MB,
    allow: tuple[str, ...] = (),
    resolver: Resolver | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    total_timeout: float = 10.0,
    max_redirects: int = 3,
) -> bytes:
    """One fetch of ``url`` on a fresh event loop (the defaults of FetchOptions otherwise)."""
    options = FetchOptions(
        max_bytes=max_bytes, allow=allow, total_timeout=total_timeout, max_redirects=max_redirects
    )
    return asyncio.run(fetch(url, options, resolver=resolver, transport=transport))


def failure(url: str, **kwargs: Any) -> FetchError:
    """The FetchError ``get(url, **kwargs)`` raises."""
    with pytest.raises(FetchError) as caught:
        get(url, **kwargs)
    return caught.value


def timed(call: Callable[[], object]) -> tuple[object, float]:
    start = time.monotonic()
    try:
        result: object = call()
    except FetchError as exc:
        result = exc
    return result, time.monotonic() - start


# --- allowlist and address checks --------------------------------------------------------------


def test_a_small_body_is_fetched_when_the_allowlist_names_the_address_and_refused_without(
    server: Server,
) -> None:
    url = server.url("/small?x=1")
    assert get(url, allow=LOCAL) == b"hello from 127.0.0.1"
    assert [s.path for s in server.seen] == ["/small?x=1"]
    seen = server.seen[0].headers
    assert seen["host"] == f"127.0.0.1:{server.port}"
    assert seen["user-agent"] == f"facegate/{__version__}"
    assert seen["accept-encoding"] == "identity"
    assert "cookie" not in seen

    server.seen.clear()
    error = failure(url)
    assert error.kind == "error"
    assert error.detail == "refused address: 127.0.0.1 is a loopback address"
    assert server.seen == []


def test_an_allowlisted_host_name_may_resolve_to_a_private_address(server: Server) -> None:
    dns = FakeDNS(["127.0.0.1"])
    url = server.url("/small", host="images.internal")
    assert get(url, allow=("images.internal",), resolver=dns) == b"hello from 127.0.0.1"
    assert server.seen[0].headers["host"] == f"images.internal:{server.port}"
    assert failure(url, allow=("other.internal",), resolver=dns).detail == (
        "refused address: images.internal resolves to a loopback address"
    )


@pytest.mark.parametrize(
    ("url", "allow", "dns"),
    [
        ("http://169.254.169.254/latest/meta-data/", (), None),
        # A range around a metadata address does not admit it: only an exact entry does.
        ("http://169.254.169.254/latest/meta-data/", ("169.254.0.0/16",), None),
        ("http://[::ffff:169.254.169.254]/latest/meta-data/", ("169.254.0.0/16",), None),
        ("http://0xa9fea9fe/latest/meta-data/", (), None),
        ("http://100.100.100.200/latest/meta-data/", ("100.64.0.0/10",), None),
        ("http://[fd00:ec2::254]/latest/meta-data/", ("fd00::/8",), None),
        ("http://168.63.129.16/machine", (), None),
        # Nor does an allowed host name that resolves to one.
        ("http://metadata.google.internal/", ("metadata.google.internal",), ["169.254.169.254"]),
    ],
)
def test_metadata_addresses_are_refused_before_any_connection(
    url: str, allow: tuple[str, ...], dns: list[str] | None
) -> None:
    resolver = FakeDNS(dns or ["8.8.8.8"])
    recorder = Recorder()
    error = failure(url, allow=allow, resolver=resolver, transport=recorder.transport())
    assert error.kind == "error"
    assert "cloud metadata address" in error.detail
    assert recorder.requests == []
    assert len(resolver.calls) == (1 if dns else 0)  # an address in the URL needs no DNS


def test_a_metadata_address_named_exactly_in_the_allowlist_is_fetched() -> None:
    recorder = Recorder()
    url = "http://169.254.169.254/latest/meta-data/"
    assert get(url, allow=("169.254.169.254/32",), transport=recorder.transport()) == b"mock body"
    assert [str(r.url) for r in recorder.requests] == [url]


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("localhost", "loopback"),  # the system resolver, /etc/hosts
        ("[::1]", "loopback"),
        ("2130706433", "loopback"),
        ("0x7f.0.0.1", "loopback"),
        ("0177.1", "loopback"),
        ("127.1", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[2002:7f00:1::]", "loopback"),  # 6to4
        ("[64:ff9b::a01:203]", "private"),  # NAT64 of 10.1.2.3
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("172.16.5.4", "private"),
        ("[fc00::1]", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("169.254.1.1", "link-local"),
        ("[fe80::1]", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
    ],
)
def test_non_public_addresses_are_refused_with_an_empty_allowlist(
    server: Server, host: str, kind: str
) -> None:
    recorder = Recorder()
    error = failure(
        f"http://{host}:{server.port}/small",
        resolver=system_resolver,
        transport=recorder.transport(),
    )
    assert error.kind == "error"
    assert error.detail.startswith("refused address: ")
    assert f"a {kind} address" in error.detail
    assert recorder.requests == []


@pytest.mark.parametrize("answer", [[PUBLIC, "10.0.0.5"], ["10.0.0.5", PUBLIC]])
def test_one_private_answer_among_public_ones_refuses_the_host(answer: list[str]) -> None:
    recorder = Recorder()
    error = failure(
        "http://mixed.example/x", resolver=FakeDNS(answer), transport=recorder.transport()
    )
    assert error.detail == "refused address: mixed.example resolves to a private address"
    assert "10.0.0.5" not in error.reason  # internal DNS answers are not echoed to the caller
    assert recorder.requests == []


# --- pinning -----------------------------------------------------------------------------------


def test_dns_rebinding_cannot_move_the_request_off_the_vetted_public_address() -> None:
    # Vetted answer public, every later answer loopback: only a fetcher that resolved again
    # (or let httpx resolve the name) would send a request to 127.0.0.1.
    dns = FakeDNS([PUBLIC], ["127.0.0.1"])
    recorder = Recorder()
    body = get("http://images.example:8080/a.jpg?s=1", resolver=dns, transport=recorder.transport())
    assert body == b"mock body"
    assert dns.calls == [("images.example", 8080)]
    (request,) = recorder.requests
    assert str(request.url) == f"http://{PUBLIC}:8080/a.jpg?s=1"
    assert request.headers["host"] == "images.example:8080"


def test_dns_rebinding_on_real_sockets_the_connection_goes_to_the_vetted_address(
    server: Server, decoy: Server
) -> None:
    # First answer the allowed 127.0.0.1, then the refused 127.0.0.2, where a decoy listens on
    # the same port: the body must come from 127.0.0.1 and the decoy must see nothing. The name
    # does not resolve in real DNS, so connecting by name would fail too.
    dns = FakeDNS(["127.0.0.1"], ["127.0.0.2"])
    url = server.url("/small", host="rebind.test")
    assert get(url, allow=LOCAL, resolver=dns) == b"hello from 127.0.0.1"
    assert len(dns.calls) == 1
    assert server.seen[0].headers["host"] == f"rebind.test:{server.port}"
    assert decoy.seen == []


def test_an_unreachable_first_address_falls_back_to_the_next_vetted_one(server: Server) -> None:
    # The server listens on 127.0.0.1 only, so ::1 refuses the connection.
    dns = FakeDNS(["::1", "127.0.0.1"])
    url = server.url("/small", host="dual.test")
    assert get(url, allow=(*LOCAL, "::1/128"), resolver=dns) == b"hello from 127.0.0.1"


def test_https_goes_to_the_vetted_address_with_the_host_name_as_sni_and_host_header() -> None:
    recorder = Recorder()
    dns = FakeDNS(["2606:4700::6810:84e5"])
    get("https://Images.Example/p/a.jpg", resolver=dns, transport=recorder.transport())
    (request,) = recorder.requests
    assert str(request.url) == "https://[2606:4700::6810:84e5]/p/a.jpg"
    assert request.headers["host"] == "images.example"
    assert request.extensions["sni_hostname"] == "images.example"


def test_https_to_an_address_literal_sends_no_sni_override() -> None:
    recorder = Recorder()
    get(f"https://{PUBLIC}:8443/a.jpg", transport=recorder.transport())
    (request,) = recorder.requests
    assert str(request.url) == f"https://{PUBLIC}:8443/a.jpg"
    assert "sni_hostname" not in request.extensions


@dataclass
class TLS:
    server: Server
    client: ssl.SSLContext  # trusts the test CA
    sni: list[str | None]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLS]:
    """An https server on 127.0.0.1 with a certificate for images.test only."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key, ca = _certificate("images.test", folder)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    sni: list[str | None] = []
    server_context.sni_callback = lambda _sock, name, _ctx: sni.append(name)
    server = Server("127.0.0.1", tls=server_context)
    yield TLS(server, ssl.create_default_context(cadata=ca), sni)
    server.close()


def _certificate(name: str, folder: Path) -> tuple[Path, Path, str]:
    """A leaf certificate for ``name`` signed by a throwaway CA: (cert file, key file, CA PEM)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "facegate test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(ca_ski, critical=False)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = folder / "leaf.pem", folder / "leaf.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file, ca.public_bytes(serialization.Encoding.PEM).decode()


def _tls_transport(tls: TLS) -> httpx.AsyncHTTPTransport:
    return httpx.AsyncHTTPTransport(
        verify=tls.client, limits=httpx.Limits(max_keepalive_connections=0), trust_env=False
    )


def test_https_to_a_real_tls_server_checks_the_certificate_for_the_name_not_the_ip(
    tls: TLS,
) -> None:
    tls.sni.clear()
    tls.server.seen.clear()
    url = tls.server.url("/small", host="images.test")
    dns = FakeDNS(["127.0.0.1"])
    assert get(url, allow=LOCAL, resolver=dns, transport=_tls_transport(tls)) == (
        b"hello from 127.0.0.1"
    )
    assert tls.sni == ["images.test"]
    assert tls.server.seen[0].headers["host"] == f"images.test:{tls.server.port}"

    # Same server, same address, a name the certificate does not hold: refused in the handshake.
    error = failure(
        tls.server.url("/small", host="other.test"),
        allow=LOCAL,
        resolver=dns,
        transport=_tls_transport(tls),
    )
    assert error.kind == "error"
    assert error.reason.startswith(f"TLS handshake with other.test:{tls.server.port} failed")
    assert "other.test" in error.reason
    assert len(tls.server.seen) == 1


# --- redirects ---------------------------------------------------------------------------------


def test_a_redirect_within_allowed_addresses_is_followed_and_keeps_no_cookie(
    server: Server,
) -> None:
    url = server.url("/redirect?cookie=1&to=/small")
    assert get(url, allow=LOCAL) == b"hello from 127.0.0.1"
    assert [s.path for s in server.seen] == ["/redirect?cookie=1&to=/small", "/small"]
    assert "cookie" not in server.seen[1].headers


def test_a_redirect_to_a_refused_address_is_refused(server: Server, decoy: Server) -> None:
    url = server.url(f"/redirect?to=http://127.0.0.2:{server.port}/small")
    error = failure(url, allow=LOCAL)
    assert error.kind == "error"
    assert error.detail == (
        f"a redirect from 127.0.0.1:{server.port} led to a refused address: "
        "127.0.0.2 is a loopback address"
    )
    assert decoy.seen == []


def test_a_redirect_to_a_host_name_is_resolved_and_checked_again(server: Server) -> None:
    dns = FakeDNS(["10.9.9.9"])
    url = server.url("/redirect?status=307&to=http://internal.test/admin")
    error = failure(url, allow=LOCAL, resolver=dns)
    assert "led to a refused address: internal.test resolves to a private address" in error.detail
    assert dns.calls == [("internal.test", 80)]


@pytest.mark.parametrize(
    ("location", "why"),
    [
        ("file:///etc/passwd", "only http and https URLs can be fetched, not file:"),
        ("ftp://127.0.0.1/x", "only http and https URLs can be fetched, not ftp:"),
        ("gopher://127.0.0.1:6379/_INFO", "only http and https URLs can be fetched, not gopher:"),
        ("http://user:pw@127.0.0.1/x", "URLs with credentials (user:password@) are not accepted"),
    ],
)
def test_a_redirect_to_another_scheme_or_with_credentials_is_refused(
    server: Server, location: str, why: str
) -> None:
    error = failure(server.url(f"/redirect?to={location}"), allow=LOCAL)
    assert error.kind == "error"
    assert error.reason == f"a redirect from 127.0.0.1:{server.port} led to a refused URL: {why}"
    assert len(server.seen) == 1


def test_max_redirects_are_followed_and_one_more_is_an_error(server: Server) -> None:
    assert get(server.url("/chain/3"), allow=LOCAL, max_redirects=3) == b"end of chain"
    server.seen.clear()
    error = failure(server.url("/chain/4"), allow=LOCAL, max_redirects=3)
    assert (error.kind, error.reason) == ("error", "more than 3 redirects")
    assert len(server.seen) == 4
    assert failure(server.url("/loop"), allow=LOCAL).reason == "more than 3 redirects"


# --- failures and timeouts ---------------------------------------------------------------------


def test_a_closed_port_is_an_error_at_once() -> None:
    port = closed_port()
    error, took = timed(lambda: get(f"http://127.0.0.1:{port}/a.jpg", allow=LOCAL))
    assert isinstance(error, FetchError)
    assert (error.kind, error.reason) == ("error", f"connection refused by 127.0.0.1:{port}")
    assert took < 2


def test_a_host_that_does_not_resolve_is_an_error() -> None:
    async def nxdomain(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    error = failure("http://no-such-host.example/a.jpg", resolver=nxdomain)
    assert (error.kind, error.detail) == ("error", "could not resolve no-such-host.example")


def test_a_server_that_answers_after_the_total_timeout_is_a_timeout(server: Server) -> None:
    error, took = timed(lambda: get(server.url("/slow"), allow=LOCAL, total_timeout=0.5))
    assert isinstance(error, FetchError)
    assert error.kind == "timeout"
    assert error.reason == f"no complete answer from 127.0.0.1:{server.port} within 0.5 s"
    assert took < 1.2


def test_a_body_trickling_past_the_total_timeout_is_a_timeout(server: Server) -> None:
    # A byte every 0.1 s never trips the per-read timeout; the total one must end it.
    error, took = timed(lambda: get(server.url("/trickle"), allow=LOCAL, total_timeout=0.8))
    assert isinstance(error, FetchError)
    assert error.kind == "timeout"
    assert took < 1.5


def test_a_404_is_an_error_with_the_status_and_without_the_body(server: Server) -> None:
    error = failure(server.url("/missing"), allow=LOCAL)
    assert (error.kind, error.reason) == ("error", f"HTTP 404 from 127.0.0.1:{server.port}")
    assert SECRET not in str(error)


def test_a_compressed_body_is_refused_rather_than_inflated(server: Server) -> None:
    error = failure(server.url("/gzip"), allow=LOCAL, max_bytes=5 * MB)
    assert error.kind == "error"
    assert "gzip-encoded body" in error.reason


# --- size cap ----------------------------------------------------------------------------------


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_6_mb_body_is_too_big_for_a_5_mb_cap(server: Server, framing: str) -> None:
    chunked = "&chunked=1" if framing == "chunked" else ""
    error = failure(server.url(f"/bytes?n={6 * MB}{chunked}"), allow=LOCAL, max_bytes=5 * MB)
    assert error.kind == "too_big"
    assert error.reason == f"the file at 127.0.0.1:{server.port} is larger than {5 * MB} bytes"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_of_exactly_the_cap_is_fetched(server: Server, framing: str) -> None:
    chunked = "&chunked=1" if framing == "chunked" else ""
    body = get(server.url(f"/bytes?n={5 * MB}{chunked}"), allow=LOCAL, max_bytes=5 * MB)
    assert body == b"x" * (5 * MB)


def test_the_cap_stops_the_download_early_instead_of_reading_it_all(server: Server) -> None:
    # Chunked, so only the running count can stop it: a 200 MB body ends at about 1 MB read.
    fetched = 0

    async def run() -> None:
        nonlocal fetched
        async with SafeFetcher(FetchOptions(max_bytes=MB, allow=LOCAL)) as fetcher:
            with pytest.raises(FetchError) as caught:
                await fetcher.fetch(server.url(f"/bytes?n={200 * MB}&chunked=1"))
            assert caught.value.kind == "too_big"
            fetched = len(await fetcher.fetch(server.url(f"/bytes?n={MB}&chunked=1")))

    _, took = timed(lambda: asyncio.run(run()))
    assert fetched == MB  # the same fetcher serves the next URL
    assert took < 2


# --- inputs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("file:///etc/passwd", "only http and https URLs can be fetched, not file:"),
        ("ftp://example.com/a.jpg", "only http and https URLs can be fetched, not ftp:"),
        ("/relative/a.jpg", "only http and https URLs can be fetched, not a relative URL"),
        (
            "http://user:pw@example.com/a.jpg",
            "URLs with credentials (user:password@) are not accepted",
        ),
        ("http:///a.jpg", "the URL has no host"),
        ("http://1.2.3.4.5/a.jpg", "1.2.3.4.5 is not a valid IPv4 address"),
        ("http://0x100.1/a.jpg", "0x100.1 is not a valid IPv4 address"),
        ("http://0177.0.0.1/a.jpg", "not a valid URL"),  # httpx refuses it itself
        ("http://exa mple.com/", "exa%20mple.com is not a valid host name"),
    ],
)
def test_urls_that_are_not_plain_http_or_https_are_refused_before_dns(url: str, why: str) -> None:
    dns = FakeDNS([PUBLIC])
    recorder = Recorder()
    error = failure(url, resolver=dns, transport=recorder.transport())
    assert (error.kind, error.reason) == ("error", why)
    assert dns.calls == []
    assert recorder.requests == []


@pytest.mark.parametrize(
    "options",
    [
        {"max_bytes": 0},
        {"max_bytes": 1, "total_timeout": 0},
        {"max_bytes": 1, "max_redirects": -1},
        {"max_bytes": 1, "allow": ("10.0.0.1/8",)},  # host bits set: a typo, not a network
        {"max_bytes": 1, "allow": ("not a host",)},
    ],
)
def test_bad_options_fail_at_construction(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        FetchOptions(**options)


def test_a_name_that_does_not_resolve_and_one_that_resolves_inside_get_one_answer() -> None:
    # Issue 17: telling them apart would map the private network's DNS through the server.
    async def nxdomain(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    async def internal(host: str, port: int) -> list[str]:
        return ["10.0.0.5"]

    unknown = failure("http://ghost.example/a.jpg", resolver=nxdomain)
    inside = failure("http://ghost.example/a.jpg", resolver=internal)
    assert (
        unknown.reason
        == inside.reason
        == ("ghost.example does not resolve to an address that may be fetched")
    )
    assert unknown.detail != inside.detail  # the logs still tell which
