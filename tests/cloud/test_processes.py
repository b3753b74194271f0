"""The cloud API's limits across two API processes: request rate and failed authentications
shared through Redis, quota through the database (SQLite and PostgreSQL).

Two real ``facegate serve`` processes share one database, one data directory and one Redis
server. They run as the API tier of a scaled deployment (``FACEGATE_WORKER_URLS`` names a
worker that is not there), so they load no models: every request here is answered before
inference.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from facegate.settings import Settings
from facegate.store.db import Database
from facegate.store.keys import KeyStore, Limits
from tests.cloud import URL, failed
from tests.servers import free_port
from tests.worker import FACEGATE

pytestmark = [pytest.mark.timeout(120)]


class ApiProcess:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*FACEGATE, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=out,
            )

    def wait_listening(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(f"{self.url}/livez", timeout=1.0)
                return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the API did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(params=["sqlite", "postgresql"])
def two_apis(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str
) -> Iterator[tuple[list[ApiProcess], KeyStore]]:
    if request.param == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'facegate.db'}"
    else:
        database_url = request.getfixturevalue("postgres_url")
    Redis.from_url(redis_url).flushdb()
    env = {
        **os.environ,
        "FACEGATE_DATA_DIR": str(tmp_path),
        "FACEGATE_DATABASE_URL": database_url,
        "FACEGATE_REDIS_URL": redis_url,
        "FACEGATE_WORKER_URLS": f"http://127.0.0.1:{free_port()}",
        "FACEGATE_AUTH_FAILURE_BURST": "3",
        "FACEGATE_AUTH_FAILURE_WINDOW_SECONDS": "600",
        "FACEGATE_LOG_FORMAT": "json",
    }
    apis = [ApiProcess(env, tmp_path / f"api{i}.log") for i in range(2)]
    db = Database(database_url)
    try:
        for a in apis:
            a.wait_listening()
        db.migrate()
        settings = Settings(data_dir=tmp_path, database_url=database_url)
        yield apis, KeyStore(db, settings.derived_key("api secrets"))
    finally:
        for a in apis:
            a.stop()
        db.dispose()


async def _spread(apis: list[ApiProcess], forms: list[dict[str, str]]) -> list[httpx.Response]:
    """All at once, alternating between the processes."""
    async with httpx.AsyncClient(timeout=30) as client:
        return list(
            await asyncio.gather(
                *(client.post(apis[i % 2].url + URL, data=f) for i, f in enumerate(forms))
            )
        )


def test_quota_holds_across_two_api_processes(
    two_apis: tuple[list[ApiProcess], KeyStore],
) -> None:
    apis, keys = two_apis
    info, secret = keys.create("quota", Limits(quota_total=5))
    form = {
        "api_id": info.api_id,
        "api_secret": secret,
        "selfie_image_id": "0" * 32,
        "liveness_data_id": "0" * 32,
    }
    responses = asyncio.run(_spread(apis, [form] * 20))
    statuses = Counter(r.json()["status"] for r in responses)
    # Five calls are made (they find no such upload) and fifteen are refused, whichever
    # process took them.
    assert statuses == {"IMAGE_ID_NOT_EXIST": 5, "OUT_OF_QUOTA": 15}, statuses
    assert {r.json()["status"] for r in responses[0::2]} >= {"OUT_OF_QUOTA"}
    assert {r.json()["status"] for r in responses[1::2]} >= {"OUT_OF_QUOTA"}


def test_the_request_rate_of_a_key_holds_across_two_api_processes(
    two_apis: tuple[list[ApiProcess], KeyStore],
) -> None:
    apis, keys = two_apis
    info, secret = keys.create("rate", Limits(rate_per_second=2.0))
    form = {"api_id": info.api_id, "api_secret": secret}  # no inputs: INVALID_ARGUMENT once past
    started = time.monotonic()
    responses = asyncio.run(_spread(apis, [form] * 16))
    elapsed = time.monotonic() - started
    statuses = Counter(r.json()["status"] for r in responses)
    passed = statuses["INVALID_ARGUMENT"]
    assert passed + statuses["RATE_LIMIT_EXCEEDED"] == 16, statuses
    # A burst of 2 plus what 2/s refills while the requests were in flight; two processes
    # each counting alone would let at least 4 through.
    assert 2 <= passed <= 2 + int(2 * elapsed), (statuses, elapsed)
    for r in responses:
        if r.json()["status"] == "RATE_LIMIT_EXCEEDED":
            failed(r, "RATE_LIMIT_EXCEEDED", 403)
            assert int(r.headers["Retry-After"]) >= 1


def test_failed_authentications_from_one_address_are_counted_by_both_processes(
    two_apis: tuple[list[ApiProcess], KeyStore],
) -> None:
    apis, keys = two_apis
    info, secret = keys.create("target")
    wrong = {"api_id": info.api_id, "api_secret": "guess"}
    for i in range(3):
        r = httpx.post(apis[i % 2].url + URL, data=wrong)
        failed(r, "UNAUTHORIZED", 401)
    for api in apis:
        r = httpx.post(api.url + URL, data={"api_id": info.api_id, "api_secret": secret})
        failed(r, "RATE_LIMIT_EXCEEDED", 403)
