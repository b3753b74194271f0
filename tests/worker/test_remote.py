"""The API tier on workers (``RemoteEngine``): the in-process answers, one request id across both
tiers' logs, no lost or wrong answer when a worker dies mid-burst, one retry elsewhere on a
timeout or "busy", 503 with Retry-After when no worker can answer, a URL that answers but is no
worker, least-busy choice, SenseID errors passed through, and DNS discovery.

Real ``facegate worker`` processes serve the real-model cases; fake engines behind real HTTP
servers on threads serve the faults, which must happen on cue."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from facegate.api.app import create_app
from facegate.compose import build_engine
from facegate.core import stages
from facegate.core.crypto import Cipher
from facegate.settings import Settings
from facegate.worker.interface import Photo, PhotoOptions
from facegate.worker.remote import RemoteEngine, Worker
from facegate.worker.service import create_worker_app
from tests.api.helpers import HEX32, VERIFY, post_pair
from tests.conftest import JsonLog, lfw_photo
from tests.worker import (
    FIRST,
    PROTOBUF,
    SECOND,
    FakeEngine,
    Hold,
    ThreadServer,
    WorkerProcess,
    free_port,
    until,
)

pytestmark = [pytest.mark.timeout(180)]

Pair = tuple[bytes, bytes]
REASONS = ("connect", "disconnect", "timeout", "busy")
FAKE_SCORE = 0.875  # what every healthy fake worker answers


# --- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[WorkerProcess]]:
    """Two real workers, HANDLERS=1 each, with room to queue a whole burst (the default queue
    of 4 would answer part of a 20-call burst "busy", which is a different test)."""
    folder = tmp_path_factory.mktemp("workers")
    procs = [
        WorkerProcess(folder / f"worker{i}.log", env={"FACEGATE_WORKER_QUEUE": "32"})
        for i in range(2)
    ]
    try:
        for p in procs:
            p.start()
        for p in procs:
            p.wait_ready()
        yield procs
    finally:
        for p in procs:
            p.stop()


@pytest.fixture(scope="module")
def pairs(lfw: Path) -> dict[str, Pair]:
    one = lfw_photo(lfw, "Colin_Powell", 1).read_bytes()
    return {
        "same": (one, lfw_photo(lfw, "Colin_Powell", 2).read_bytes()),
        "other": (one, lfw_photo(lfw, "Tony_Blair", 1).read_bytes()),
    }


@pytest.fixture(scope="module")
def expected(client: TestClient, cipher: Cipher, pairs: dict[str, Pair]) -> dict[str, float]:
    """Each pair's score from the in-process app (the session's, models in this process)."""
    scores: dict[str, float] = {}
    for name, (a, b) in pairs.items():
        r = post_pair(client, cipher, VERIFY, a, b)
        assert r.status_code == 200, r.text
        scores[name] = r.json()["verification_score"]
    assert scores["same"] > 0.7 > scores["other"]  # a mix-up would show
    return scores


def on_workers(urls: list[str], **overrides: Any) -> Settings:
    # Health rounds every 0.25 s, so a worker's coming and going shows within a test's patience;
    # calls time out after 10 s (not 30), so a broken choice of worker fails fast.
    settings: dict[str, Any] = {
        "worker_urls": urls,
        "worker_health_interval_seconds": 0.25,
        "worker_timeout_seconds": 10.0,
    }
    return Settings(**{**settings, **overrides})


@asynccontextmanager
async def api(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The API app, started and stopped on this event loop, and a client calling into it; the
    RemoteEngine inside lives on this loop, as it does under uvicorn."""
    app = create_app(settings)
    # A fault inside the app comes back as the 500 a client would see, not as an exception.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://api", timeout=60) as client,
    ):
        yield app, client


def remote(app: FastAPI) -> RemoteEngine:
    engine = app.state.engine.inner  # inside the metrics wrapper
    assert isinstance(engine, RemoteEngine)
    return engine


def worker_named(engine: RemoteEngine, url: str) -> Worker:
    return next(w for w in engine.workers if w.url == url)


async def all_healthy(app: FastAPI) -> None:
    engine = remote(app)
    await until(lambda: all(w.healthy for w in engine.workers), 15, "every worker to be healthy")


async def verify(client: httpx.AsyncClient, cipher: Cipher, pair: Pair) -> httpx.Response:
    a, b = pair
    data = {FIRST: cipher.encrypt(a), SECOND: cipher.encrypt(b)}
    return await client.post(VERIFY, data=data)


def metric(app: FastAPI, name: str, **labels: str) -> float:
    value = app.state.metrics.registry.get_sample_value(name, labels)
    return float(value or 0.0)


def retries(app: FastAPI) -> dict[str, float]:
    return {r: metric(app, "facegate_worker_retries_total", reason=r) for r in REASONS}


def score_of(r: httpx.Response) -> float:
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["code", "verification_score", "request_id"]
    assert body["code"] == 1000
    score: float = body["verification_score"]
    return score


def assert_unavailable(r: httpx.Response) -> None:
    """The 503 envelope: the client may send the request again after Retry-After seconds."""
    assert r.status_code == 503, r.text
    body = r.json()
    assert list(body) == ["code", "message", "request_id"]
    assert body["code"] == 503
    assert body["message"].startswith("service unavailable")
    assert HEX32.match(body["request_id"])
    assert r.headers["x-request-id"] == body["request_id"]
    assert int(r.headers["retry-after"]) >= 1


def fake_worker(engine: FakeEngine, *, queue: int = 8, port: int | None = None) -> ThreadServer:
    return ThreadServer(create_worker_app(Settings(handlers=1, worker_queue=queue), engine), port)


async def calls_begun(worker: WorkerProcess, count: int) -> None:
    """Until the worker's own /metrics shows ``count`` calls begun and unanswered."""
    deadline = time.monotonic() + 15
    async with httpx.AsyncClient(base_url=worker.url) as scraper:
        while time.monotonic() < deadline:
            text = (await scraper.get("/metrics")).text
            gauge = next(
                f
                for f in text_string_to_metric_families(text)
                if f.name == "facegate_requests_in_flight"
            )
            if gauge.samples[0].value - 1 >= count:  # the scrape itself is in flight too
                return
            await asyncio.sleep(0.005)
    raise AssertionError(f"{worker.url} never had {count} calls in flight")


# --- real workers -----------------------------------------------------------------------------


@pytest.mark.models
@pytest.mark.data
def test_the_api_on_workers_answers_the_in_process_score_under_one_request_id_in_both_logs(
    workers: list[WorkerProcess],
    pairs: dict[str, Pair],
    expected: dict[str, float],
    cipher: Cipher,
    json_log: JsonLog,
) -> None:
    timed = ("decrypt", "worker", "decode", "detect", "embed")

    async def run() -> tuple[list[httpx.Response], dict[str, float]]:
        async with api(on_workers([w.url for w in workers])) as (app, client):
            await all_healthy(app)
            rs = [await verify(client, cipher, pairs[name]) for name in ("same", "other")]
            name = "facegate_stage_duration_seconds_count"
            return rs, {s: metric(app, name, stage=s) for s in timed}

    (same, other), counts = asyncio.run(run())
    assert score_of(same) == expected["same"]
    assert score_of(other) == expected["other"]
    # The workers' stage timings reach the API tier's metrics and its own Server-Timing.
    assert counts == {"decrypt": 4, "worker": 2, "decode": 4, "detect": 4, "embed": 4}
    assert {n for n, _ in stages.parse_server_timing(same.headers["server-timing"])} == set(timed)
    for r in (same, other):
        rid = r.json()["request_id"]
        api_lines = [
            rec
            for rec in json_log.records()
            if rec["logger"] == "facegate.access" and rec["request_id"] == rid
        ]
        assert [(rec["path"], rec["status"]) for rec in api_lines] == [(VERIFY, 200)]

        def worker_lines(rid: str = rid) -> list[dict[str, Any]]:
            return [
                rec
                for w in workers
                for rec in w.records()
                if rec["logger"] == "facegate.access" and rec["request_id"] == rid
            ]

        # A worker writes its access line just after its answer left: give it a moment.
        deadline = time.monotonic() + 5
        while not worker_lines() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [(rec["path"], rec["status"]) for rec in worker_lines()] == [("/v1/verify", 200)]


@pytest.mark.models
@pytest.mark.data
def test_a_422_from_a_worker_is_the_senseid_error_of_the_in_process_app_and_not_retried(
    workers: list[WorkerProcess],
    pairs: dict[str, Pair],
    client: TestClient,
    cipher: Cipher,
) -> None:
    corrupt = (pairs["same"][0], b"\xff\xd8\xff" + b"x" * 200)
    in_process = post_pair(client, cipher, VERIFY, *corrupt)

    async def run() -> tuple[httpx.Response, dict[str, float], float]:
        async with api(on_workers([w.url for w in workers])) as (app, api_client):
            await all_healthy(app)
            r = await verify(api_client, cipher, corrupt)
            calls = sum(
                metric(app, "facegate_worker_requests_total", worker=w.url, outcome="422")
                for w in workers
            )
            return r, retries(app), calls

    r, retried, calls = asyncio.run(run())
    assert in_process.status_code == r.status_code == 400
    assert r.json()["code"] == in_process.json()["code"] == 2005
    assert r.json()["message"] == in_process.json()["message"]
    assert "second_encrypted_image" in r.json()["message"]
    assert calls == 1  # one worker asked once: the request's own fault is final
    assert sum(retried.values()) == 0


@pytest.mark.models
@pytest.mark.data
def test_dns_discovery_turns_a_host_name_into_address_urls_that_serve(
    workers: list[WorkerProcess], pairs: dict[str, Pair], expected: dict[str, float]
) -> None:
    port = workers[1].port
    addresses = {
        str(info[4][0]) for info in socket.getaddrinfo("localhost", port, type=socket.SOCK_STREAM)
    }
    wanted = {f"http://[{a}]:{port}" if ":" in a else f"http://{a}:{port}" for a in addresses}
    assert f"http://127.0.0.1:{port}" in wanted

    async def run() -> tuple[list[Worker], float]:
        engine = RemoteEngine([f"http://localhost:{port}"], dns=True, health_interval=0.25)
        try:
            await engine.start()
            a, b = pairs["same"]
            result = await engine.verify(Photo(FIRST, a), Photo(SECOND, b), PhotoOptions())
            return engine.workers, result.verification_score
        finally:
            await engine.aclose()

    found, score = asyncio.run(run())
    assert {w.url for w in found} == wanted  # the name itself is no longer a worker
    assert all(w.source == f"http://localhost:{port}" for w in found)
    assert next(w for w in found if w.url == f"http://127.0.0.1:{port}").healthy
    assert round(score, 6) == expected["same"]


@pytest.mark.models
@pytest.mark.data
def test_sigkill_of_one_worker_mid_burst_loses_no_request_and_it_rejoins_after_restart(
    workers: list[WorkerProcess],
    pairs: dict[str, Pair],
    expected: dict[str, float],
    cipher: Cipher,
) -> None:
    victim, survivor = workers
    names = ["same" if i % 2 == 0 else "other" for i in range(20)]

    async def run() -> dict[str, Any]:
        async with api(on_workers([victim.url, survivor.url])) as (app, client):
            await all_healthy(app)
            engine = remote(app)
            doomed = worker_named(engine, victim.url)
            burst = [asyncio.create_task(verify(client, cipher, pairs[n])) for n in names]
            # Killed once the victim itself has begun three calls (one computing, two queued
            # with HANDLERS=1): it cannot answer them all in the moment before the kill, so
            # some are surely cut off mid-call.
            await calls_begun(victim, 3)
            victim.kill()
            responses = await asyncio.wait_for(asyncio.gather(*burst), 60)
            seen: dict[str, Any] = {"responses": responses, "retries": retries(app)}
            await until(lambda: not doomed.healthy, 5, "the dead worker to be marked down")

            await asyncio.to_thread(victim.start)
            await asyncio.to_thread(victim.wait_ready)
            await until(lambda: doomed.healthy, 10, "the restarted worker to be found healthy")
            before = metric(app, "facegate_worker_requests_total", worker=victim.url, outcome="200")
            seen["after"] = [await verify(client, cipher, pairs["same"]) for _ in range(4)]
            seen["calls to the restarted"] = (
                metric(app, "facegate_worker_requests_total", worker=victim.url, outcome="200")
                - before
            )
            return seen

    seen = asyncio.run(run())
    responses: list[httpx.Response] = seen["responses"]
    assert len(responses) == 20
    # Every request answered, each with its own pair's score: no loss, no mix-up.
    assert [score_of(r) for r in responses] == [expected[n] for n in names]
    retried: dict[str, float] = seen["retries"]
    assert retried["disconnect"] >= 1, retried  # the calls cut off were answered elsewhere
    assert retried["timeout"] == retried["busy"] == 0
    assert [score_of(r) for r in seen["after"]] == [expected["same"]] * 4
    # Idle workers tie and ties alternate: the restarted one takes its share again.
    assert seen["calls to the restarted"] >= 1


# --- fake workers: faults on cue --------------------------------------------------------------


def test_a_worker_that_times_out_is_retried_on_the_other(cipher: Cipher) -> None:
    slow, fast = FakeEngine(score=0.125, delay=3.0), FakeEngine()
    with fake_worker(slow) as slow_server, fake_worker(fast) as fast_server:

        async def run() -> tuple[list[httpx.Response], dict[str, float], float]:
            settings = on_workers([slow_server.url, fast_server.url], worker_timeout_seconds=0.3)
            async with api(settings) as (app, client):
                await all_healthy(app)
                started = time.perf_counter()
                # Idle workers tie and ties alternate, so one of two calls goes to the slow
                # worker first, whichever the first call picks.
                rs = [await verify(client, cipher, (b"a", b"b")) for _ in range(2)]
                return rs, retries(app), time.perf_counter() - started

        responses, retried, took = asyncio.run(run())
    assert [score_of(r) for r in responses] == [FAKE_SCORE, FAKE_SCORE]
    assert retried["timeout"] >= 1
    assert slow.calls["verify"] >= 1
    assert took < 2.5  # never waited for the slow worker's answer (3 s)


def test_with_only_a_worker_that_times_out_the_answer_is_503_with_retry_after(
    cipher: Cipher,
) -> None:
    slow = FakeEngine(delay=3.0)
    with fake_worker(slow) as server:

        async def run() -> tuple[httpx.Response, float]:
            settings = on_workers([server.url], worker_timeout_seconds=0.3)
            async with api(settings) as (app, client):
                await all_healthy(app)
                r = await verify(client, cipher, (b"a", b"b"))
                return r, metric(app, "facegate_worker_unavailable_total")

        r, unavailable = asyncio.run(run())
    assert_unavailable(r)
    assert "timeout" in r.json()["message"]
    assert unavailable == 1


def test_with_every_worker_down_the_api_answers_503_then_recovers_when_one_comes_up(
    cipher: Cipher,
) -> None:
    ports = [free_port(), free_port()]  # nothing listens there

    async def run() -> dict[str, httpx.Response]:
        seen: dict[str, httpx.Response] = {}
        async with api(on_workers([f"http://127.0.0.1:{p}" for p in ports])) as (app, client):
            # Never a hang: connections are refused, so this is quick.
            seen["down"] = await asyncio.wait_for(verify(client, cipher, (b"a", b"b")), 10)
            seen["readyz down"] = await client.get("/readyz")
            with fake_worker(FakeEngine(), port=ports[1]):
                await until(remote(app).ready, 5, "a health round to find the new worker")
                seen["readyz up"] = await client.get("/readyz")
                seen["up"] = await verify(client, cipher, (b"a", b"b"))
        return seen

    seen = asyncio.run(run())
    assert_unavailable(seen["down"])
    assert "no worker is healthy" in seen["down"].json()["message"]
    assert seen["readyz down"].status_code == 503
    assert seen["readyz down"].json()["status"] == "not ready"
    assert seen["readyz up"].status_code == 200
    assert score_of(seen["up"]) == FAKE_SCORE


def test_a_url_that_is_no_worker_is_unhealthy_and_the_others_still_serve(cipher: Cipher) -> None:
    # Something else listens there (a mistyped port): 200 with a JSON body that is no object.
    stranger = FastAPI()

    @stranger.get("/healthcheck")
    async def healthcheck() -> list[str]:
        return ["ok"]

    with ThreadServer(stranger) as odd, fake_worker(FakeEngine()) as good:

        async def run() -> tuple[httpx.Response, dict[str, bool]]:
            async with api(on_workers([odd.url, good.url])) as (app, client):
                await until(remote(app).ready, 5, "the real worker to be found")
                r = await verify(client, cipher, (b"a", b"b"))
                return r, {w.url: w.healthy for w in remote(app).workers}

        r, health = asyncio.run(run())
    assert health == {odd.url: False, good.url: True}
    assert score_of(r) == FAKE_SCORE


def test_a_busy_worker_is_retried_on_the_other(cipher: Cipher) -> None:
    hold = Hold()
    full, free = FakeEngine(hold=hold), FakeEngine()
    with fake_worker(full, queue=0) as full_server, fake_worker(free, queue=0) as free_server:

        async def run() -> tuple[list[httpx.Response], dict[str, float], httpx.Response]:
            async with httpx.AsyncClient() as other_api:
                # Another API process's call fills the first worker (HANDLERS=1, no queue).
                blocker = asyncio.create_task(
                    other_api.post(
                        f"{full_server.url}/v1/verify", content=b"", headers=PROTOBUF, timeout=30
                    )
                )
                await until(hold.entered.is_set, 5, "the first worker to be full")
                settings = on_workers([full_server.url, free_server.url])
                async with api(settings) as (app, client):
                    await all_healthy(app)
                    # Ties alternate, so one of two calls tries the full worker first.
                    rs = [await verify(client, cipher, (b"a", b"b")) for _ in range(2)]
                    retried = retries(app)
                hold.released.set()
                return rs, retried, await blocker

        responses, retried, blocked = asyncio.run(run())
    assert [score_of(r) for r in responses] == [FAKE_SCORE, FAKE_SCORE]
    assert retried["busy"] >= 1
    assert full.calls["verify"] == 1  # only the blocker got in
    assert free.calls["verify"] == 2
    assert blocked.status_code == 200


def test_calls_go_to_the_idle_worker_while_the_other_is_busy(cipher: Cipher) -> None:
    hold = Hold()  # shared: holds whichever worker gets the first call
    engines = [FakeEngine(hold=hold), FakeEngine(hold=hold)]
    with fake_worker(engines[0]) as one, fake_worker(engines[1]) as two:
        by_url = {one.url: engines[0], two.url: engines[1]}

        async def run() -> tuple[str, list[httpx.Response], httpx.Response]:
            async with api(on_workers([one.url, two.url])) as (app, client):
                await all_healthy(app)
                first = asyncio.create_task(verify(client, cipher, (b"a", b"b")))
                await until(hold.entered.is_set, 5, "the first call to be held")
                (busy,) = [w.url for w in remote(app).workers if w.in_flight == 1]
                rs = [await verify(client, cipher, (b"a", b"b")) for _ in range(4)]
                hold.released.set()
                return busy, rs, await first

        busy, responses, first = asyncio.run(run())
    idle = next(url for url in by_url if url != busy)
    assert [score_of(r) for r in responses] == [FAKE_SCORE] * 4
    assert score_of(first) == FAKE_SCORE
    assert by_url[busy].calls["verify"] == 1
    assert by_url[idle].calls["verify"] == 4


def test_pick_prefers_the_least_busy_healthy_worker_and_alternates_ties() -> None:
    engine = RemoteEngine(["http://a:1", "http://b:1", "http://c:1"])

    def pick(*tried: str) -> str | None:
        chosen = engine._pick(set(tried))
        return None if chosen is None else chosen.url

    try:
        a, b, c = engine.workers
        a.healthy = b.healthy = True  # c is down: never chosen
        c.in_flight = -1  # even if it looked the least busy
        a.in_flight = 2
        assert {pick() for _ in range(6)} == {"http://b:1"}
        a.in_flight, b.in_flight = 0, 3
        assert {pick() for _ in range(6)} == {"http://a:1"}
        b.in_flight = 0
        ties = [pick() for _ in range(6)]
        assert ties in (["http://a:1", "http://b:1"] * 3, ["http://b:1", "http://a:1"] * 3)
        assert pick("http://a:1") == "http://b:1"  # a retry never goes back
        assert pick("http://a:1", "http://b:1") is None
    finally:
        asyncio.run(engine.aclose())


def test_comma_separated_worker_urls_make_the_api_build_a_remote_engine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FACEGATE_WORKER_URLS", " http://w1:50050/, http://w2:50050 ,")
    monkeypatch.setenv("FACEGATE_WORKER_TIMEOUT_SECONDS", "7")
    settings = Settings()
    assert settings.worker_urls == ["http://w1:50050", "http://w2:50050"]
    engine = build_engine(settings)
    try:
        assert isinstance(engine, RemoteEngine)
        assert [w.url for w in engine.workers] == settings.worker_urls
        assert not engine.ready()  # no health round yet: /readyz says 503
    finally:
        asyncio.run(engine.aclose())
