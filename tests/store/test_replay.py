"""Package nonces are first-use only: in memory, and shared between processes through Redis."""

from __future__ import annotations

import asyncio

import pytest

from facegate.core.errors import FacegateError
from facegate.store import replay
from facegate.store.replay import MemoryReplayGuard, RedisReplayGuard


def test_memory_guard_first_use_then_refuses() -> None:
    async def run() -> list[bool]:
        g = MemoryReplayGuard(60)
        return [await g.first_use(b"a"), await g.first_use(b"a"), await g.first_use(b"b")]

    assert asyncio.run(run()) == [True, False, True]


def test_memory_guard_forgets_after_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(replay.time, "monotonic", lambda: now[0])

    async def run() -> list[bool]:
        g = MemoryReplayGuard(10)
        first = await g.first_use(b"n")
        now[0] += 9.0
        inside = await g.first_use(b"n")
        now[0] += 2.0
        after = await g.first_use(b"n")
        return [first, inside, after]

    assert asyncio.run(run()) == [True, False, True]


def test_memory_guard_fails_closed_when_full() -> None:
    async def run() -> None:
        g = MemoryReplayGuard(60, max_entries=2)
        assert await g.first_use(b"1")
        assert await g.first_use(b"2")
        with pytest.raises(FacegateError, match="too many packages"):
            await g.first_use(b"3")
        assert not await g.first_use(b"1")

    asyncio.run(run())


def test_concurrent_uses_of_one_nonce_let_exactly_one_through() -> None:
    async def run() -> list[bool]:
        g = MemoryReplayGuard(60)
        return list(await asyncio.gather(*(g.first_use(b"same") for _ in range(50))))

    assert sorted(asyncio.run(run())) == [False] * 49 + [True]


def test_redis_guard_is_shared_between_guards(redis_url: str) -> None:
    """Two guards stand for two API processes: a nonce used through one is refused by the
    other, and 50 racing uses let exactly one through."""

    async def run() -> tuple[list[bool], list[bool]]:
        a, b = RedisReplayGuard(redis_url, 60), RedisReplayGuard(redis_url, 60)
        try:
            pair = [await a.first_use(b"shared"), await b.first_use(b"shared")]
            race = await asyncio.gather(
                *((a if i % 2 else b).first_use(b"race") for i in range(50))
            )
            return pair, list(race)
        finally:
            await a.aclose()
            await b.aclose()

    pair, race = asyncio.run(run())
    assert pair == [True, False]
    assert sorted(race) == [False] * 49 + [True]


def test_redis_guard_expires(redis_url: str) -> None:
    async def run() -> list[bool]:
        g = RedisReplayGuard(redis_url, 1)
        try:
            first = await g.first_use(b"short")
            await asyncio.sleep(1.3)
            return [first, await g.first_use(b"short")]
        finally:
            await g.aclose()

    assert asyncio.run(run()) == [True, True]


def test_a_future_dated_package_is_remembered_for_as_long_as_it_stays_fresh(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Issue 17's repro: a package dated the allowed skew ahead stays fresh until its date plus
    # the window, so the app's guard must remember its nonce that long, not the window only.
    from datetime import UTC, datetime, timedelta

    from facegate.api.app import create_app
    from facegate.core.package import LivenessPackage, Mode, check_freshness
    from facegate.settings import Settings
    from facegate.store import replay
    from tests.worker import FakeEngine

    window, skew = 60, 30
    settings = Settings(package_window_seconds=window, package_clock_skew_seconds=skew)
    guard = create_app(settings, engine=FakeEngine()).state.replay_guard
    clock = [1000.0]
    monkeypatch.setattr(replay.time, "monotonic", lambda: clock[0])
    start = datetime.now(UTC)
    package = LivenessPackage("t", "1", "d", start + timedelta(seconds=skew), Mode.SILENT, ())

    async def use_at(seconds: float) -> bool:
        clock[0] = 1000.0 + seconds
        return await guard.first_use(b"nonce")

    assert asyncio.run(use_at(0))
    later = window + skew / 2  # past the window, still within window + skew
    # Still fresh at that moment (the package's own date is checked, not its first use) …
    monkeypatch.setattr(
        "facegate.core.package.datetime",
        type(
            "Clock",
            (datetime,),
            {"now": classmethod(lambda cls, tz=None: start + timedelta(seconds=later))},
        ),
    )
    check_freshness(package, window, skew)
    # … so its nonce must still be known.
    assert not asyncio.run(use_at(later))
