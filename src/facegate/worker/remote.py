"""``RemoteEngine``: the inference interface served by workers over HTTP (``worker.proto``).

Each call goes to the least busy healthy worker (fewest calls in flight from this process;
ties rotate). A call is retried once, on another worker, when its worker refuses the connection,
drops it, times out or answers "busy"; inference is stateless, so a retry cannot change an
answer, and the client gets exactly one answer. When no worker can take a call, it fails with
``UnavailableError`` (HTTP 503 with ``Retry-After``).

Workers are checked in the background (``GET /healthcheck`` every few seconds): one that
refuses connections is dropped at once and comes back when it answers "ok" again. With
``dns=True`` each configured host name is re-resolved on every round and each address it
answers with is a worker of its own (a Kubernetes headless Service).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import math
import socket
import time
from dataclasses import dataclass
from typing import Literal, TypeVar
from urllib.parse import urlsplit

import httpx

from facegate.core import stages
from facegate.core.errors import UnavailableError
from facegate.core.package import LivenessPackage
from facegate.core.results import (
    EngineStatus,
    LivenessOutcome,
    MultiFaceResult,
    PackageLivenessResult,
    PackageVerifyResult,
    QualityResult,
    Result,
    SilentVerifyResult,
    VerifyResult,
    WorkerState,
)
from facegate.ops.logs import request_id_var
from facegate.ops.metrics import Metrics
from facegate.worker import wire
from facegate.worker.interface import Photo, PhotoOptions, Video, VideoOptions

log = logging.getLogger("facegate.remote")

_R = TypeVar("_R", bound=Result)
Failure = Literal["connect", "disconnect", "timeout", "busy"]


@dataclass(slots=True)
class Worker:
    url: str
    source: str  # the configured URL it came from
    healthy: bool = False
    in_flight: int = 0


class RemoteEngine:
    def __init__(
        self,
        urls: list[str],
        *,
        timeout: float = 30.0,
        connect_timeout: float = 2.0,
        health_interval: float = 2.0,
        dns: bool = False,
        metrics: Metrics | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not urls:
            raise ValueError("RemoteEngine needs at least one worker URL")
        self._urls = list(urls)
        self._dns = dns
        self._timeout = timeout
        self._health_interval = health_interval
        self._metrics = metrics
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            # Idle connections are dropped well before the worker's keep-alive timeout (30 s),
            # so a request is rarely sent on a connection the worker is closing.
            limits=httpx.Limits(
                max_connections=None, max_keepalive_connections=64, keepalive_expiry=10.0
            ),
            transport=transport,
        )
        self._workers: dict[str, Worker] = {u: Worker(u, u) for u in self._urls}
        self._turn = itertools.count()
        self._loop_task: asyncio.Task[None] | None = None
        self._started = asyncio.Lock()
        self._checks: set[asyncio.Task[None]] = set()

    # --- health -----------------------------------------------------------------------------
    async def start(self) -> None:
        async with self._started:
            if self._loop_task is not None:
                return
            await self._round()
            self._loop_task = asyncio.create_task(self._health_loop())

    def ready(self) -> bool:
        return any(w.healthy for w in self._workers.values())

    @property
    def workers(self) -> list[Worker]:
        return list(self._workers.values())

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self._health_interval)
            try:
                await self._round()
            except Exception:  # a round must never end the loop
                log.exception("worker health round failed")

    async def _round(self) -> None:
        if self._dns:
            await self._resolve()
        await asyncio.gather(*(self._check(w) for w in list(self._workers.values())))

    async def _check(self, worker: Worker) -> None:
        try:
            r = await self._client.get(
                f"{worker.url}/healthcheck", timeout=min(self._health_interval, 5.0)
            )
            body = r.json() if r.status_code == 200 else None
            ok = isinstance(body, dict) and body.get("status") == "ok"
        except (httpx.HTTPError, ValueError):
            ok = False
        self._set_health(worker, ok)

    def _set_health(self, worker: Worker, ok: bool) -> None:
        """The one place a worker's health changes: its flag, the log line and the gauge."""
        if ok != worker.healthy:
            log.info(
                "worker up" if ok else "worker down", extra={"worker": worker.url, "healthy": ok}
            )
        worker.healthy = ok
        if self._metrics is not None:
            self._metrics.worker_up.labels(worker.url).set(1 if ok else 0)

    def _check_soon(self, worker: Worker) -> None:
        task = asyncio.create_task(self._check(worker))
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _resolve(self) -> None:
        loop = asyncio.get_running_loop()
        wanted: dict[str, str] = {}
        for source in self._urls:
            parts = urlsplit(source)
            host, port = (
                parts.hostname or "",
                parts.port or (443 if parts.scheme == "https" else 80),
            )
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError:
                log.warning("worker name did not resolve", extra={"worker": source})
                # Keep what it resolved to before; health checks decide about those.
                wanted.update({u: s for u, s in self._sources().items() if s == source})
                continue
            for info in infos:
                address = str(info[4][0])
                literal = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
                wanted[f"{parts.scheme}://{literal}:{port}"] = source
        for url, source in wanted.items():
            if url not in self._workers:
                self._workers[url] = Worker(url, source)
        for url in [u for u in self._workers if u not in wanted]:
            if self._workers[url].in_flight == 0:
                del self._workers[url]
                if self._metrics is not None:
                    with contextlib.suppress(KeyError):
                        self._metrics.worker_up.remove(url)
                        self._metrics.worker_in_flight.remove(url)
            else:
                self._set_health(self._workers[url], False)  # finishing its calls; no new ones

    def _sources(self) -> dict[str, str]:
        return {u: w.source for u, w in self._workers.items()}

    # --- calls ------------------------------------------------------------------------------
    def _pick(self, tried: set[str]) -> Worker | None:
        candidates = [w for w in self._workers.values() if w.healthy and w.url not in tried]
        if not candidates:
            return None
        start = next(self._turn) % len(candidates)
        rotated = candidates[start:] + candidates[:start]
        return min(rotated, key=lambda w: w.in_flight)

    async def _call(self, name: str, body: bytes, result: type[_R]) -> _R:
        if self._loop_task is None:
            await self.start()
        tried: set[str] = set()
        failure: Failure | None = None
        for attempt in (1, 2):
            worker = self._pick(tried)
            if worker is None:
                break
            if attempt == 2 and failure is not None:
                if self._metrics is not None:
                    self._metrics.worker_retries.labels(failure).inc()
                log.warning(
                    "retrying on another worker", extra={"reason": failure, "worker": worker.url}
                )
            tried.add(worker.url)
            outcome = await self._post(worker, name, body)
            if isinstance(outcome, httpx.Response):
                if outcome.status_code == 200:
                    return wire.parse_result(result, outcome.content)
                if outcome.status_code == 422:
                    wire.raise_facegate_error(outcome.content)
                raise RuntimeError(
                    f"worker {worker.url} answered HTTP {outcome.status_code} to /v1/{name}"
                )
            failure = outcome
        if self._metrics is not None:
            self._metrics.worker_unavailable.inc()
        why = f"the last worker tried failed: {failure}" if failure else "no worker is healthy"
        raise UnavailableError(
            f"no inference worker could take the request ({why})",
            retry_after=math.ceil(self._health_interval),
        )

    async def _post(self, worker: Worker, name: str, body: bytes) -> httpx.Response | Failure:
        """The worker's answer, or why there is none (the failure is retried elsewhere)."""
        headers = {"content-type": wire.CONTENT_TYPE}
        request_id = request_id_var.get()
        if request_id is not None:
            headers["x-request-id"] = request_id
        worker.in_flight += 1
        self._gauge(worker)
        started = time.perf_counter()
        result: httpx.Response | Failure
        try:
            async with asyncio.timeout(self._timeout):
                result = await self._client.post(
                    f"{worker.url}/v1/{name}", content=body, headers=headers
                )
        except (httpx.ConnectError, httpx.ConnectTimeout):
            # Nothing listens there: drop it until a health check finds it again.
            self._set_health(worker, False)
            result = "connect"
        except (TimeoutError, httpx.TimeoutException):
            result = "timeout"
        except httpx.TransportError:
            # Dropped mid-call: the worker died, or closed an idle connection just as it was
            # reused. A health check now tells which.
            self._check_soon(worker)
            result = "disconnect"
        finally:
            worker.in_flight -= 1
            self._gauge(worker)
        stages.record("worker", time.perf_counter() - started)
        if isinstance(result, httpx.Response):
            if result.status_code == 503:
                result = "busy"
            else:
                timing = result.headers.get("server-timing")
                for stage_name, seconds in stages.parse_server_timing(timing or ""):
                    stages.record(stage_name, seconds)
        if self._metrics is not None:
            outcome = str(result.status_code) if isinstance(result, httpx.Response) else result
            self._metrics.worker_requests.labels(worker.url, outcome).inc()
        log.debug("worker call", extra={"worker": worker.url, "call": name})
        return result

    def _gauge(self, worker: Worker) -> None:
        if self._metrics is not None:
            self._metrics.worker_in_flight.labels(worker.url).set(worker.in_flight)

    # --- the protocol -----------------------------------------------------------------------
    async def verify(self, first: Photo, second: Photo, options: PhotoOptions) -> VerifyResult:
        body = wire.pair_request(first, second, options)
        return await self._call("verify", body, VerifyResult)

    async def multiface(
        self, first: Photo, second: Photo, options: PhotoOptions
    ) -> MultiFaceResult:
        body = wire.pair_request(first, second, options)
        return await self._call("multiface", body, MultiFaceResult)

    async def quality(self, photo: Photo) -> QualityResult:
        return await self._call("quality", wire.quality_request(photo), QualityResult)

    async def silent_liveness(self, video: Video, options: VideoOptions) -> LivenessOutcome:
        body = wire.silent_liveness_request(video, options)
        return await self._call("silent_liveness", body, LivenessOutcome)

    async def silent_verify(
        self, video: Video, photo: Photo, photo_options: PhotoOptions, options: VideoOptions
    ) -> SilentVerifyResult:
        body = wire.silent_verify_request(video, photo, photo_options, options)
        return await self._call("silent_verify", body, SilentVerifyResult)

    async def package_verify(
        self, package: LivenessPackage, photo: Photo, photo_options: PhotoOptions
    ) -> PackageVerifyResult:
        body = wire.package_verify_request(package, photo, photo_options)
        return await self._call("package_verify", body, PackageVerifyResult)

    async def package_liveness(self, package: LivenessPackage) -> PackageLivenessResult:
        body = wire.package_liveness_request(package)
        return await self._call("package_liveness", body, PackageLivenessResult)

    def describe(self) -> EngineStatus:
        return EngineStatus(
            workers=tuple(
                WorkerState(url=w.url, healthy=w.healthy, in_flight=w.in_flight)
                for w in self._workers.values()
            )
        )

    async def aclose(self) -> None:
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for task in list(self._checks):
            task.cancel()
        await self._client.aclose()
