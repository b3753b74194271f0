"""The worker in-process: protobuf calls served by the real engine, SenseID errors as 422, its
probes and request ids, and admission (HANDLERS computing, a bounded queue, "busy" beyond it)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import cv2
import httpx
import httpx2
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from facegate.core import stages
from facegate.core.errors import Code, ImageError
from facegate.core.results import VerifyResult
from facegate.settings import Settings
from facegate.worker import wire
from facegate.worker.interface import Photo, PhotoOptions
from facegate.worker.service import create_worker_app
from tests.api.helpers import HEX32
from tests.conftest import JsonLog, lfw_photo
from tests.worker import FIRST, PROTOBUF, SECOND, FakeEngine, Hold, until, wait_until

pytestmark = [pytest.mark.timeout(120)]

PAIR = wire.pair_request(Photo(FIRST, b"a"), Photo(SECOND, b"b"), PhotoOptions())


# --- the real engine --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def worker_app() -> FastAPI:
    # As `facegate worker` builds it with HANDLERS=1: the default models on two threads.
    return create_worker_app(Settings(handlers=1, liveness_use_pack=False))


@pytest.fixture(scope="module")
def worker(worker_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(worker_app) as client:
        wait_until(lambda: client.get("/healthcheck").status_code == 200, 60, "the warm-up")
        yield client


def call(client: TestClient, name: str, body: bytes) -> httpx2.Response:
    r: httpx2.Response = client.post(f"/v1/{name}", content=body, headers=PROTOBUF)
    return r


@pytest.mark.models
@pytest.mark.data
def test_verify_over_the_wire_gives_exactly_the_local_engine_score(
    worker: TestClient, worker_app: FastAPI, lfw: Path
) -> None:
    first = Photo(FIRST, lfw_photo(lfw, "Colin_Powell", 1).read_bytes())
    second = Photo(SECOND, lfw_photo(lfw, "Colin_Powell", 2).read_bytes())
    r = call(worker, "verify", wire.pair_request(first, second, PhotoOptions()))
    assert r.status_code == 200
    assert r.headers["content-type"] == wire.RESULT_CONTENT_TYPE
    remote = wire.parse_result(VerifyResult, r.content)
    # The engine the worker serves, called directly: the same doubles, bit for bit.
    local = asyncio.run(worker_app.state.engine.inner.verify(first, second, PhotoOptions()))
    assert remote == local
    assert remote.verification_score.hex() == local.verification_score.hex()
    assert remote.verification_score > 0.7  # one person: a real comparison ran
    # The worker hands its stage timings to the API tier in Server-Timing.
    timed = {name for name, _ in stages.parse_server_timing(r.headers["server-timing"])}
    assert {"decode", "detect", "embed"} <= timed


def blank_jpeg() -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((480, 640, 3), 200, np.uint8))
    assert ok
    return bytes(buf.tobytes())


@pytest.mark.models
@pytest.mark.data
@pytest.mark.parametrize(
    ("broken", "code", "field"),
    [
        ("second", Code.INVALID_IMAGE_TYPE, SECOND),  # not an image at all: 2005
        ("first", Code.DETECTION_FAILED, FIRST),  # an image without a face: 4000
    ],
)
def test_an_image_error_comes_back_422_with_its_senseid_code_and_field(
    worker: TestClient, worker_app: FastAPI, lfw: Path, broken: str, code: Code, field: str
) -> None:
    good = lfw_photo(lfw, "Colin_Powell", 1).read_bytes()
    bad = b"\xff\xd8\xff" + b"x" * 100 if broken == "second" else blank_jpeg()
    first = Photo(FIRST, bad if broken == "first" else good)
    second = Photo(SECOND, bad if broken == "second" else good)
    r = call(worker, "verify", wire.pair_request(first, second, PhotoOptions()))
    assert r.status_code == 422
    got_code, _, got_field = wire.parse_error(r.content)
    assert (got_code, got_field) == (int(code), field)
    with pytest.raises(ImageError) as direct:
        asyncio.run(worker_app.state.engine.inner.verify(first, second, PhotoOptions()))
    with pytest.raises(ImageError) as relayed:
        wire.raise_facegate_error(r.content)
    # The API tier rebuilds the very error the engine raised in-process.
    assert relayed.value.message() == direct.value.message()
    assert (relayed.value.code, relayed.value.field) == (direct.value.code, direct.value.field)


@pytest.mark.models
def test_a_malformed_body_is_400(worker: TestClient) -> None:
    r = call(worker, "verify", b"\xff\xff\xff\xff")
    assert r.status_code == 400
    code, detail, field = wire.parse_error(r.content)
    assert (code, field) == (400, None)
    assert "not a valid PairRequest message" in detail


@pytest.mark.models
def test_an_unknown_call_is_404(worker: TestClient) -> None:
    r = call(worker, "compare_everything", PAIR)
    assert r.status_code == 404
    assert wire.parse_error(r.content) == (404, "no call named 'compare_everything'", None)


@pytest.mark.models
def test_healthcheck_after_warm_up_is_the_manual_body(worker: TestClient) -> None:
    r = worker.get("/healthcheck")
    assert r.status_code == 200
    body = r.json()
    assert list(body) == ["request_id", "status"]
    assert body["status"] == "ok"
    assert HEX32.match(body["request_id"])
    assert r.headers["x-request-id"] == body["request_id"]
    assert worker.get("/livez").status_code == 200
    assert worker.get("/readyz").status_code == 200


# --- fake engines -----------------------------------------------------------------------------


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Concurrent calls into one app on this event loop (no lifespan: a fake needs no warm-up)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
        yield client


async def verify(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/v1/verify", content=PAIR, headers=PROTOBUF)


def test_healthcheck_is_503_starting_until_the_engine_is_warm() -> None:
    app = create_worker_app(Settings(handlers=1), FakeEngine(ready=False))

    async def probe() -> tuple[httpx.Response, httpx.Response]:
        async with served(app) as client:
            return await client.get("/healthcheck"), await client.get("/readyz")

    health, ready = asyncio.run(probe())
    assert health.status_code == 503
    body = health.json()
    assert list(body) == ["request_id", "status"]
    assert body["status"] == "starting"
    assert HEX32.match(body["request_id"])
    assert ready.status_code == 503


def test_the_callers_request_id_is_echoed_and_in_the_workers_access_log(
    json_log: JsonLog,
) -> None:
    app = create_worker_app(Settings(handlers=1), FakeEngine())
    rid = uuid.uuid4().hex
    with TestClient(app) as client:
        kept = client.post("/v1/verify", content=PAIR, headers={**PROTOBUF, "x-request-id": rid})
        # Only a well-formed id is taken: anything else could forge or garble log lines.
        forged = client.post(
            "/v1/verify", content=PAIR, headers={**PROTOBUF, "x-request-id": "x\ninjected"}
        )
    assert kept.status_code == 200
    assert kept.headers["x-request-id"] == rid
    assert forged.status_code == 200
    assert HEX32.match(forged.headers["x-request-id"])
    access = [r for r in json_log.records() if r["logger"] == "facegate.access"]
    assert [(r["request_id"], r["path"], r["status"]) for r in access] == [
        (rid, "/v1/verify", 200),
        (forged.headers["x-request-id"], "/v1/verify", 200),
    ]


def queue_depth(app: FastAPI) -> float:
    """``facegate_queue_depth`` as a scrape of ``/metrics`` reads it."""
    text = app.state.metrics.render().decode()
    for family in text_string_to_metric_families(text):
        if family.name == "facegate_queue_depth":
            return float(family.samples[0].value)
    raise AssertionError("no facegate_queue_depth in /metrics")


def test_a_full_worker_answers_503_at_once_and_still_finishes_what_it_holds() -> None:
    hold = Hold()
    engine = FakeEngine(hold=hold)
    app = create_worker_app(Settings(handlers=1, worker_queue=0), engine)

    async def run() -> tuple[httpx.Response, httpx.Response, float, bool]:
        async with served(app) as client:
            first = asyncio.create_task(verify(client))
            await until(hold.entered.is_set, 5, "the first call to reach the engine")
            started = time.perf_counter()
            second = await asyncio.wait_for(verify(client), 5)
            waited = time.perf_counter() - started
            first_was_running = not first.done()
            hold.released.set()
            return await asyncio.wait_for(first, 5), second, waited, first_was_running

    first, second, waited, first_was_running = asyncio.run(run())
    assert second.status_code == 503
    assert second.headers["retry-after"] == "1"
    assert second.headers["content-type"] == wire.CONTENT_TYPE
    code, detail, _ = wire.parse_error(second.content)
    assert code == 503
    assert "full (1 computing, 0 waiting)" in detail
    assert waited < 1.0  # refused at once, not after the first call
    assert first_was_running
    assert first.status_code == 200
    assert wire.parse_result(VerifyResult, first.content).verification_score == 0.875
    assert engine.calls["verify"] == 1  # the refused call never reached the engine


def test_with_a_queue_a_second_call_waits_for_the_handler_and_a_third_is_refused() -> None:
    hold = Hold()
    engine = FakeEngine(hold=hold)
    app = create_worker_app(Settings(handlers=1, worker_queue=1), engine)

    async def run() -> dict[str, object]:
        async with served(app) as client:
            first = asyncio.create_task(verify(client))
            await until(hold.entered.is_set, 5, "the first call to reach the engine")
            second = asyncio.create_task(verify(client))
            await until(lambda: app.state.admission.waiting == 1, 5, "the second to queue")
            seen: dict[str, object] = {"depth while queued": queue_depth(app)}
            seen["third"] = await asyncio.wait_for(verify(client), 5)
            seen["second done early"] = second.done()
            hold.released.set()
            seen["first"], seen["second"] = await asyncio.wait_for(asyncio.gather(first, second), 5)
            seen["depth after"] = queue_depth(app)
            return seen

    seen = asyncio.run(run())
    assert seen["depth while queued"] == 1.0
    third = seen["third"]
    assert isinstance(third, httpx.Response)
    assert third.status_code == 503
    assert "full (1 computing, 1 waiting)" in wire.parse_error(third.content)[1]
    assert seen["second done early"] is False
    for name in ("first", "second"):
        r = seen[name]
        assert isinstance(r, httpx.Response)
        assert r.status_code == 200, name
        assert wire.parse_result(VerifyResult, r.content).verification_score == 0.875
    assert seen["depth after"] == 0.0
    assert engine.calls["verify"] == 2
