"""``facegate worker`` as deployed: on SIGTERM it stops taking connections, finishes every call
it holds, and exits 0 within the drain time; its commands' help works."""

from __future__ import annotations

import asyncio
import io
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from facegate.core.results import VerifyResult
from facegate.worker import wire
from facegate.worker.interface import Photo, PhotoOptions
from tests.conftest import lfw_photo
from tests.worker import FACEGATE, FIRST, PROTOBUF, SECOND, WorkerProcess

DRAIN_SECONDS = 20
CALLS = 6


def large_jpeg(path: Path) -> bytes:
    """An LFW photo blown up to 4000 × 4000 px (≈ 1 MB): a call takes ≈ 0.3 s on one handler,
    so six queued calls keep the worker draining long enough to be watched."""
    image = Image.open(path).convert("RGB").resize((4000, 4000), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def worker_gauges(text: str) -> tuple[float, float]:
    """(requests in flight, calls answered) from a worker's /metrics."""
    in_flight = answered = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "facegate_requests_in_flight":
                in_flight = s.value
            if s.name == "facegate_requests_total" and s.labels.get("endpoint") == "/v1/{name}":
                answered += s.value
    return in_flight, answered


async def drain(worker: WorkerProcess, body: bytes) -> dict[str, Any]:
    assert worker.proc is not None
    seen: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=worker.url, timeout=60) as client:
        async with httpx.AsyncClient(base_url=worker.url) as scraper:
            _, answered_before = worker_gauges((await scraper.get("/metrics")).text)
            calls = [
                asyncio.create_task(client.post("/v1/verify", content=body, headers=PROTOBUF))
                for _ in range(CALLS)
            ]
            # SIGTERM once the worker has begun every call (the scrape is in flight too).
            deadline = time.monotonic() + 30
            while True:
                in_flight, answered = worker_gauges((await scraper.get("/metrics")).text)
                if in_flight - 1 + answered - answered_before >= CALLS:
                    break
                assert time.monotonic() < deadline, "the calls never reached the worker"
                await asyncio.sleep(0.01)
        seen["unanswered at SIGTERM"] = sum(not c.done() for c in calls)
        terminated = time.monotonic()
        worker.proc.send_signal(signal.SIGTERM)

        # New connections are refused while the calls in hand are still being answered.
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", worker.port)
            except ConnectionRefusedError:
                break
            writer.close()
            await writer.wait_closed()
            assert time.monotonic() - terminated < 5, "still accepting 5 s after SIGTERM"
            await asyncio.sleep(0.01)
        seen["unanswered at refusal"] = sum(not c.done() for c in calls)
        seen["alive at refusal"] = worker.proc.poll() is None
        seen["responses"] = await asyncio.gather(*calls)
    seen["terminated"] = terminated
    return seen


@pytest.mark.models
@pytest.mark.data
@pytest.mark.timeout(180)
def test_sigterm_drains_every_call_in_hand_refuses_new_connections_and_exits_0(
    lfw: Path, tmp_path: Path
) -> None:
    first = Photo(FIRST, large_jpeg(lfw_photo(lfw, "Colin_Powell", 1)))
    second = Photo(SECOND, large_jpeg(lfw_photo(lfw, "Colin_Powell", 2)))
    body = wire.pair_request(first, second, PhotoOptions())
    worker = WorkerProcess(
        tmp_path / "worker.log",
        # Room for every call in the queue: a "busy" answer is not what this test is about.
        env={"FACEGATE_WORKER_QUEUE": str(CALLS), "FACEGATE_DRAIN_SECONDS": str(DRAIN_SECONDS)},
    )
    worker.start()
    try:
        worker.wait_ready()
        reference = httpx.post(
            f"{worker.url}/v1/verify", content=body, headers=PROTOBUF, timeout=60
        )
        assert reference.status_code == 200
        seen = asyncio.run(drain(worker, body))
        assert worker.proc is not None
        try:
            status = worker.proc.wait(timeout=DRAIN_SECONDS + 10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker still runs {DRAIN_SECONDS + 10} s after SIGTERM")
        took = time.monotonic() - seen["terminated"]
    finally:
        worker.stop()

    assert seen["unanswered at SIGTERM"] >= CALLS - 1  # SIGTERM came while calls were in hand
    assert seen["alive at refusal"]
    assert seen["unanswered at refusal"] >= 1  # refused while still draining, not after exit
    responses: list[httpx.Response] = seen["responses"]
    assert [r.status_code for r in responses] == [200] * CALLS
    # Every drained call has the answer of an undisturbed one, bit for bit.
    expected = wire.parse_result(VerifyResult, reference.content)
    assert all(wire.parse_result(VerifyResult, r.content) == expected for r in responses)
    assert expected.verification_score > 0.7
    assert took < DRAIN_SECONDS
    messages = [r["message"] for r in worker.records()]  # every line is JSON
    assert "Shutting down" in messages
    assert "Finished server process" in " ".join(messages)
    # Kubernetes and compose read a non-zero status as a crash.
    assert status == 0, f"the worker exited with {status} after a clean drain"


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_help_of_the_server_commands_exits_0(command: str) -> None:
    out = subprocess.run(
        [*FACEGATE, command, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    for option in ("--host", "--port", "--log-level"):
        assert option in out.stdout
