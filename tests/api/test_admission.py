"""In-process, the SenseID endpoints are admitted as a worker admits calls (issue 17): HANDLERS
compute, worker_queue more wait, and one more is answered 503 with Retry-After at once, in the
manual's envelope, before its body is read."""

from __future__ import annotations

import asyncio

import httpx

from facegate.api.app import create_app
from facegate.core.crypto import Cipher
from facegate.settings import Settings
from tests.worker import FakeEngine, Hold, ThreadServer, until

VERIFY = "/identity/image_verification/stateless"


def test_one_more_than_the_handlers_and_the_queue_is_503_at_once() -> None:
    settings = Settings(handlers=1, worker_queue=1)
    hold = Hold()
    engine = FakeEngine(hold=hold)  # the first verification holds the one handler
    cipher = Cipher(settings.decrypt_key, settings.decrypt_iv)
    form = {
        "first_encrypted_image": cipher.encrypt(b"a"),
        "second_encrypted_image": cipher.encrypt(b"b"),
    }
    app = create_app(settings, engine=engine)
    admission = app.state.admission

    async def three(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            first = asyncio.create_task(client.post(VERIFY, data=form))
            await until(hold.entered.is_set, 30, "the first call to hold its handler")
            second = asyncio.create_task(client.post(VERIFY, data=form))
            await until(lambda: admission.waiting == 1, 30, "the second call to queue")
            third = await client.post(VERIFY, data=form)  # nowhere to wait
            hold.released.set()
            return [await first, await second, third]

    with ThreadServer(app) as server:
        first, second, third = asyncio.run(three(server.url))
    assert first.json()["code"] == second.json()["code"] == 1000
    assert third.status_code == 503
    body = third.json()
    assert body["code"] == 503
    assert "full" in body["message"]
    assert third.headers["retry-after"] == "1"
    assert engine.calls["verify"] == 2  # the third never reached the engine


def test_with_workers_the_api_does_not_admit_itself() -> None:
    settings = Settings(worker_urls=["http://127.0.0.1:9"], handlers=1, worker_queue=0)
    assert create_app(settings, engine=FakeEngine()).state.admission is None
