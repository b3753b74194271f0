"""Remembering liveness package nonces, so that one package verifies once.

A guard answers "is this the first use of this nonce within the window?" atomically: two
requests racing with the same package cannot both be first. In memory by default (one
process); with Redis (``FACEGATE_REDIS_URL``) every API process shares the answer, through a
single ``SET key NX EX`` that is atomic on the server.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Protocol

from facegate.core.errors import Code, FacegateError, UnavailableError


class ReplayGuard(Protocol):
    async def first_use(self, nonce: bytes) -> bool:
        """True the first time ``nonce`` is presented within the window, False after."""
        ...

    async def aclose(self) -> None: ...


class MemoryReplayGuard:
    """Nonces in insertion order with their expiry; expired ones are dropped as new ones come.

    Memory is bounded by the window: at most ``max_entries`` nonces are kept, and when full the
    guard refuses new packages (failing closed) rather than forgetting unexpired ones, which
    would reopen the replay it exists to stop.
    """

    def __init__(self, window_seconds: float, max_entries: int = 1_000_000) -> None:
        self._window = window_seconds
        self._max = max_entries
        self._seen: OrderedDict[bytes, float] = OrderedDict()
        self._lock = asyncio.Lock()

    async def first_use(self, nonce: bytes) -> bool:
        now = time.monotonic()
        async with self._lock:
            while self._seen:
                oldest, expiry = next(iter(self._seen.items()))
                if expiry > now:
                    break
                del self._seen[oldest]
            if nonce in self._seen:
                return False
            if len(self._seen) >= self._max:
                raise FacegateError(
                    Code.CORRUPTED_LIVENESS_DATA,
                    "too many packages within the replay window; try again later",
                )
            self._seen[nonce] = now + self._window
            return True

    async def aclose(self) -> None:
        self._seen.clear()


class RedisReplayGuard:
    PREFIX = "facegate:package-nonce:"

    def __init__(self, url: str, window_seconds: int) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._window = window_seconds

    async def first_use(self, nonce: bytes) -> bool:
        from redis.exceptions import RedisError

        try:
            ok = await self._redis.set(self.PREFIX + nonce.hex(), b"1", nx=True, ex=self._window)
        except RedisError as exc:
            # Without the shared record a replay cannot be told apart: refuse for now (503),
            # never accept unchecked. The package was not used up, so a retry can succeed.
            raise UnavailableError(
                f"the replay guard's store is unreachable ({type(exc).__name__})", retry_after=5
            ) from None
        return bool(ok)

    async def aclose(self) -> None:
        await self._redis.aclose()


def build_replay_guard(redis_url: str | None, window_seconds: int) -> ReplayGuard:
    if redis_url:
        return RedisReplayGuard(redis_url, window_seconds)
    return MemoryReplayGuard(window_seconds)
