"""Token-bucket rate limits: in memory (one process) and in Redis (shared between processes)."""

from __future__ import annotations

import asyncio
import math
import socket
import time
import uuid

import pytest
from redis.asyncio import Redis

from facegate.cloud.limits import (
    MemoryRateLimiter,
    RedisRateLimiter,
    build_rate_limiter,
)
from facegate.core.errors import UnavailableError


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def name(label: str) -> str:
    """A bucket name of its own: the session's Redis server is shared by every test."""
    return f"{label}-{uuid.uuid4().hex}"


# --- in memory ---------------------------------------------------------------------------------


def test_memory_grants_the_burst_then_refuses_with_the_wait() -> None:
    async def run() -> list[float]:
        limiter = MemoryRateLimiter(clock=FakeClock())
        return [await limiter.acquire("k", rate=2.0, burst=3) for _ in range(5)]

    waits = asyncio.run(run())
    assert waits[:3] == [0.0, 0.0, 0.0]
    # Empty, refilling at 2 tokens/s: the next token is half a second away.
    assert waits[3:] == [pytest.approx(0.5), pytest.approx(0.5)]


def test_memory_refund_gives_a_token_back_up_to_the_burst() -> None:
    async def run() -> list[float]:
        limiter = MemoryRateLimiter(clock=FakeClock())
        waits = [await limiter.acquire("k", rate=0.001, burst=2) for _ in range(3)]
        await limiter.refund("k", rate=0.001, burst=2)
        waits.append(await limiter.acquire("k", rate=0.001, burst=2))  # the one given back
        waits.append(await limiter.acquire("k", rate=0.001, burst=2))
        for _ in range(5):
            await limiter.refund("k", rate=0.001, burst=2)  # never beyond the burst
        waits += [await limiter.acquire("k", rate=0.001, burst=2) for _ in range(3)]
        await limiter.refund("unknown", rate=0.001, burst=2)  # nothing to give back to
        return waits

    waits = asyncio.run(run())
    assert [w == 0.0 for w in waits] == [True, True, False, True, False, True, True, False]


def test_memory_refills_with_the_clock() -> None:
    clock = FakeClock()

    async def run() -> None:
        limiter = MemoryRateLimiter(clock=clock)
        for _ in range(10):
            assert await limiter.acquire("k", rate=2.0, burst=10) == 0.0
        assert await limiter.acquire("k", rate=2.0, burst=10) > 0
        # 1.75 s at 2 tokens/s is 3.5 tokens: exactly three requests pass, and the fourth
        # waits for the missing half token.
        clock.advance(1.75)
        waits = [await limiter.acquire("k", rate=2.0, burst=10) for _ in range(4)]
        assert waits[:3] == [0.0, 0.0, 0.0]
        assert waits[3] == pytest.approx(0.25)
        # A long pause refills up to the burst and no further.
        clock.advance(3600)
        waits = [await limiter.acquire("k", rate=2.0, burst=10) for _ in range(11)]
        assert waits.count(0.0) == 10
        assert waits[10] == pytest.approx(0.5)

    asyncio.run(run())


def test_memory_refill_does_not_lose_a_token_to_rounding() -> None:
    """0.3 tokens/s for 10 s is 2.9999999999999996 in floating point; it must count as 3."""
    clock = FakeClock()

    async def run() -> list[float]:
        limiter = MemoryRateLimiter(clock=clock)
        await limiter.acquire("k", rate=0.3, burst=5)
        while await limiter.acquire("k", rate=0.3, burst=5) == 0.0:
            pass
        clock.advance(10)
        return [await limiter.acquire("k", rate=0.3, burst=5) for _ in range(4)]

    waits = asyncio.run(run())
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] > 0


def test_memory_blocked_does_not_consume() -> None:
    clock = FakeClock()

    async def run() -> None:
        limiter = MemoryRateLimiter(clock=clock)
        # An unknown bucket is full: nothing blocks, and looking creates nothing.
        assert await limiter.blocked("k", rate=1.0, burst=2) == 0.0
        assert len(limiter) == 0
        assert await limiter.acquire("k", rate=1.0, burst=2) == 0.0
        for _ in range(5):
            assert await limiter.blocked("k", rate=1.0, burst=2) == 0.0
        assert await limiter.acquire("k", rate=1.0, burst=2) == 0.0
        assert await limiter.blocked("k", rate=1.0, burst=2) == pytest.approx(1.0)
        clock.advance(0.25)
        assert await limiter.blocked("k", rate=1.0, burst=2) == pytest.approx(0.75)
        clock.advance(0.75)
        assert await limiter.blocked("k", rate=1.0, burst=2) == 0.0
        assert await limiter.acquire("k", rate=1.0, burst=2) == 0.0

    asyncio.run(run())


def test_memory_concurrent_acquires_grant_exactly_the_burst() -> None:
    async def run() -> list[float]:
        limiter = MemoryRateLimiter()
        return list(
            await asyncio.gather(*(limiter.acquire("k", rate=1e-6, burst=10) for _ in range(50)))
        )

    waits = asyncio.run(run())
    assert waits.count(0.0) == 10
    assert all(w > 0 for w in waits if w != 0.0)


def test_memory_buckets_are_separate() -> None:
    async def run() -> list[float]:
        limiter = MemoryRateLimiter(clock=FakeClock())
        await limiter.acquire("a", rate=1.0, burst=1)
        return [await limiter.acquire("a", rate=1.0, burst=1), await limiter.acquire("b", 1.0, 1)]

    refused, other = asyncio.run(run())
    assert refused > 0
    assert other == 0.0


def test_memory_eviction_prefers_idle_full_buckets() -> None:
    """A drained bucket, though the least recently used, survives while idle buckets that have
    refilled by now are evicted to make room."""
    clock = FakeClock()

    async def run() -> None:
        limiter = MemoryRateLimiter(max_buckets=3, clock=clock)
        assert await limiter.acquire("drained", rate=0.01, burst=1) == 0.0
        assert await limiter.acquire("a", rate=10.0, burst=5) == 0.0
        assert await limiter.acquire("b", rate=10.0, burst=5) == 0.0
        for label in ("c", "d", "e"):
            # The buckets used a second ago are full again; "drained" gains 0.01 of a token.
            clock.advance(1.0)
            assert await limiter.acquire(label, rate=10.0, burst=5) == 0.0
            assert len(limiter) <= 3
        assert await limiter.acquire("drained", rate=0.01, burst=1) == pytest.approx(97.0)

    asyncio.run(run())


def test_memory_eviction_never_exceeds_the_bound() -> None:
    """With no full bucket to spare, the least recently used one goes; `blocked` counts as a
    use."""
    clock = FakeClock()

    async def run() -> None:
        limiter = MemoryRateLimiter(max_buckets=3, clock=clock)
        for label in ("1", "2", "3"):
            assert await limiter.acquire(label, rate=0.001, burst=1) == 0.0
        assert await limiter.blocked("1", rate=0.001, burst=1) > 0  # now "2" is the oldest
        assert await limiter.acquire("4", rate=0.001, burst=1) == 0.0
        assert len(limiter) == 3
        assert await limiter.blocked("2", rate=0.001, burst=1) == 0.0  # evicted, so unknown
        for label in ("1", "3", "4"):
            assert await limiter.blocked(label, rate=0.001, burst=1) > 0
        for i in range(200):
            await limiter.acquire(f"flood-{i}", rate=0.001, burst=1)
            assert len(limiter) <= 3
        assert len(limiter) == 3

    asyncio.run(run())


def test_memory_eviction_stays_bounded_at_scale() -> None:
    clock = FakeClock()

    async def run() -> MemoryRateLimiter:
        limiter = MemoryRateLimiter(max_buckets=1000, clock=clock)
        for i in range(5000):
            # Every third bucket refills fast (full again after a tick), the others stay drained.
            rate = 100.0 if i % 3 == 0 else 0.001
            await limiter.acquire(f"b{i}", rate=rate, burst=1)
            clock.advance(0.001)
            assert len(limiter) <= 1000
        return limiter

    started = time.monotonic()
    limiter = asyncio.run(run())
    assert len(limiter) <= 1000
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("rate", "burst", "wrong"),
    [
        (0.0, 5, "rate"),
        (-1.0, 5, "rate"),
        (math.nan, 5, "rate"),
        (math.inf, 5, "rate"),
        (1.0, 0.5, "burst"),
        (1.0, 0, "burst"),
        (1.0, math.nan, "burst"),
        (1.0, math.inf, "burst"),
    ],
)
def test_memory_rejects_invalid_rate_or_burst(rate: float, burst: float, wrong: str) -> None:
    async def run() -> None:
        limiter = MemoryRateLimiter()
        with pytest.raises(ValueError, match=f"^{wrong} "):
            await limiter.acquire("k", rate, burst)
        with pytest.raises(ValueError, match=f"^{wrong} "):
            await limiter.blocked("k", rate, burst)
        assert len(limiter) == 0

    asyncio.run(run())


def test_build_rate_limiter_picks_the_store(redis_url: str) -> None:
    async def run() -> None:
        memory = build_rate_limiter(None)
        shared = build_rate_limiter(redis_url)
        try:
            assert isinstance(memory, MemoryRateLimiter)
            assert isinstance(shared, RedisRateLimiter)
        finally:
            await memory.aclose()
            await shared.aclose()

    asyncio.run(run())


# --- in Redis ----------------------------------------------------------------------------------


def test_redis_bucket_is_shared_between_limiters(redis_url: str) -> None:
    """Two limiters stand for two API processes: 60 racing requests split over both get
    exactly the burst between them."""
    bucket = name("shared")

    async def run() -> tuple[list[float], float]:
        a, b = RedisRateLimiter(redis_url), RedisRateLimiter(redis_url)
        try:
            waits = await asyncio.gather(
                *((a if i % 2 else b).acquire(bucket, rate=0.001, burst=7) for i in range(60))
            )
            return list(waits), await a.blocked(bucket, rate=0.001, burst=7)
        finally:
            await a.aclose()
            await b.aclose()

    waits, blocked = asyncio.run(run())
    assert waits.count(0.0) == 7
    # The next token is 1000 s away at 0.001 tokens/s (less the moments since the race).
    refused = [w for w in waits if w != 0.0]
    assert all(990 < w <= 1000 for w in refused)
    assert 990 < blocked <= 1000


def test_redis_refills_over_time(redis_url: str) -> None:
    bucket = name("refill")

    async def run() -> list[float]:
        limiter = RedisRateLimiter(redis_url)
        try:
            first = await limiter.acquire(bucket, rate=20.0, burst=1)
            refused = await limiter.acquire(bucket, rate=20.0, burst=1)
            await asyncio.sleep(0.1)
            return [first, refused, await limiter.acquire(bucket, rate=20.0, burst=1)]
        finally:
            await limiter.aclose()

    first, refused, later = asyncio.run(run())
    assert first == 0.0
    assert 0 < refused <= 0.05
    assert later == 0.0


def test_redis_refund_gives_a_token_back_up_to_the_burst(redis_url: str) -> None:
    bucket = name("refund")

    async def run() -> list[float]:
        limiter = RedisRateLimiter(redis_url)
        try:
            waits = [await limiter.acquire(bucket, rate=0.001, burst=2) for _ in range(3)]
            await limiter.refund(bucket, rate=0.001, burst=2)
            waits.append(await limiter.acquire(bucket, rate=0.001, burst=2))
            waits.append(await limiter.acquire(bucket, rate=0.001, burst=2))
            for _ in range(5):
                await limiter.refund(bucket, rate=0.001, burst=2)
            waits += [await limiter.acquire(bucket, rate=0.001, burst=2) for _ in range(3)]
            return waits
        finally:
            await limiter.aclose()

    waits = asyncio.run(run())
    assert [w == 0.0 for w in waits] == [True, True, False, True, False, True, True, False]


def test_redis_blocked_does_not_consume(redis_url: str) -> None:
    bucket = name("look")
    prefix = f"test-{uuid.uuid4().hex}:"

    async def run() -> None:
        limiter = RedisRateLimiter(redis_url, prefix=prefix)
        raw = Redis.from_url(redis_url)
        try:
            assert await limiter.blocked(bucket, rate=0.001, burst=2) == 0.0
            assert await raw.exists(prefix + bucket) == 0  # looking stores nothing
            assert await limiter.acquire(bucket, rate=0.001, burst=2) == 0.0
            for _ in range(5):
                assert await limiter.blocked(bucket, rate=0.001, burst=2) == 0.0
            assert await limiter.acquire(bucket, rate=0.001, burst=2) == 0.0
            assert await limiter.blocked(bucket, rate=0.001, burst=2) > 0
            assert await limiter.acquire(bucket, rate=0.001, burst=2) > 0
        finally:
            await limiter.aclose()
            await raw.aclose()

    asyncio.run(run())


def test_redis_bucket_expires_once_it_would_be_full(redis_url: str) -> None:
    bucket = name("ttl")
    prefix = f"test-{uuid.uuid4().hex}:"

    async def run() -> tuple[int, dict[bytes | str, bytes | str], tuple[int, int]]:
        limiter = RedisRateLimiter(redis_url, prefix=prefix)
        raw = Redis.from_url(redis_url)
        try:
            assert await limiter.acquire(bucket, rate=1.0, burst=5) == 0.0
            ttl = int(await raw.pttl(prefix + bucket))
            return ttl, await raw.hgetall(prefix + bucket), await raw.time()
        finally:
            await limiter.aclose()
            await raw.aclose()

    ttl, state, (seconds, micros) = asyncio.run(run())
    # The bucket was counted on the server's clock, in whole microseconds.
    assert float(state[b"tokens"]) == 4.0
    assert 0 <= seconds * 1_000_000 + micros - int(state[b"ts"]) < 1_000_000
    # One token short of full at 1 token/s: about a second, plus the margin.
    assert 1000 < ttl <= 2000


def test_redis_unreachable_refuses_instead_of_skipping() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"

    async def run() -> list[UnavailableError]:
        limiter = RedisRateLimiter(url)
        errors = []
        try:
            for call in (limiter.acquire, limiter.blocked):
                with pytest.raises(UnavailableError) as info:
                    await call(name("down"), 1.0, 5)
                errors.append(info.value)
        finally:
            await limiter.aclose()
        return errors

    for error in asyncio.run(run()):
        assert error.retry_after == 5
        assert "rate limits" in error.detail


def test_redis_rejects_invalid_rate_or_burst(redis_url: str) -> None:
    async def run() -> None:
        limiter = RedisRateLimiter(redis_url)
        try:
            with pytest.raises(ValueError, match="rate"):
                await limiter.acquire(name("bad"), 0.0, 5)
            with pytest.raises(ValueError, match="burst"):
                await limiter.blocked(name("bad"), 1.0, 0.5)
        finally:
            await limiter.aclose()

    asyncio.run(run())
