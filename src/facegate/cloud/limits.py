"""Token-bucket rate limits for the cloud API.

The cloud API is multi-tenant, so one caller must not be able to take the capacity that the
others pay for: every API key gets its own request rate, and failed authentications are
limited per source address so that keys cannot be guessed by brute force. Both are token
buckets: a bucket holds at most ``burst`` tokens, refills at ``rate`` tokens per second, starts
full, and each request takes one token or is refused with the time until the next one.

:class:`MemoryRateLimiter` keeps the buckets in this process, which is exact only while one
process serves the API. With ``FACEGATE_REDIS_URL`` set there are several API processes (or
hosts) behind a load balancer; kept per process, each limit would be multiplied by their
number, so :class:`RedisRateLimiter` keeps the buckets in Redis, where every process shares
them. When Redis cannot be reached, a limit is not skipped: the request is refused with 503 and
``Retry-After`` (:class:`~facegate.core.errors.UnavailableError`), because an unchecked limit
is exactly the opening a brute-force run waits for.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Protocol

from facegate.core.errors import UnavailableError

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

# Refill arithmetic in floating point can land a hair below a whole token (0.3 tokens/s for
# 10 s is 2.9999999999999996); such a remainder counts as the token it stands for, so that a
# refill grants exactly the whole tokens it should. Used by the Lua script too.
_EPSILON = 1e-9

# How many of the least recently used buckets an eviction looks through for a full one: a few,
# so that making room stays cheap per request.
_EVICTION_SCAN = 16

# Milliseconds an idle Redis bucket outlives the moment it is full again: the key must not vanish
# while it still holds less than a full bucket, whatever the rounding to milliseconds.
_EXPIRY_MARGIN_MS = 1000


class RateLimiter(Protocol):
    async def acquire(self, bucket: str, rate: float, burst: float) -> float:
        """Take one token from `bucket` (refilled at `rate` tokens/s up to `burst`).
        Returns 0.0 when granted, else the seconds until a token will be available (> 0)."""
        ...

    async def blocked(self, bucket: str, rate: float, burst: float) -> float:
        """Without taking anything: 0.0 when at least one token is available, else the seconds
        until one is (> 0)."""
        ...

    async def refund(self, bucket: str, rate: float, burst: float) -> None:
        """Give back one token that ``acquire`` took (never beyond ``burst``): for a limit
        taken before an outcome is known, and returned when the outcome does not count."""
        ...

    async def aclose(self) -> None: ...


def _check(rate: float, burst: float) -> None:
    # NaN and infinities would turn the refill into NaN, which compares false with everything
    # and would grant or refuse for ever; the comparisons are written so that NaN fails them.
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a positive number of tokens per second, not {rate!r}")
    if not (math.isfinite(burst) and burst >= 1):
        raise ValueError(f"burst must be a number of tokens of at least 1, not {burst!r}")


def _wait(tokens: float, rate: float) -> float:
    if tokens >= 1.0 - _EPSILON:
        return 0.0
    return (1.0 - tokens) / rate


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float  # the clock reading that `tokens` was counted at
    rate: float
    burst: float

    def level(self, now: float, rate: float, burst: float) -> float:
        # max(): a clock that steps back (an injected one) must not drain the bucket.
        return min(burst, self.tokens + max(0.0, now - self.stamp) * rate)

    def full(self, now: float) -> bool:
        return self.level(now, self.rate, self.burst) >= self.burst - _EPSILON


class MemoryRateLimiter:
    """Token buckets in this process, for a single API process.

    ``acquire`` and ``blocked`` never await, so under asyncio each one runs to completion
    before another starts: the check and the take cannot interleave, and no lock is needed.
    (Not thread-safe; use it from one event loop.)

    At most ``max_buckets`` buckets are kept, least recently used first in line for eviction.
    Evicting a bucket that is full by now loses nothing (a new one starts full), and most idle
    buckets are, so those go first; only when none is found is the least recently used bucket
    dropped regardless, which gives its owner a fresh burst: the price of a bounded memory.
    """

    def __init__(
        self, *, max_buckets: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_buckets < 1:
            raise ValueError(f"max_buckets must be at least 1, not {max_buckets}")
        self._max = max_buckets
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        # A sweep for full buckets reads the whole table; it is only run again after this many
        # new buckets, so that its cost spread over those stays constant even when it finds few.
        self._sweep_every = max(1, max_buckets // 16)
        self._until_sweep = 0

    def __len__(self) -> int:
        """How many buckets are held (at most ``max_buckets``)."""
        return len(self._buckets)

    async def acquire(self, bucket: str, rate: float, burst: float) -> float:
        _check(rate, burst)
        now = self._clock()
        state = self._buckets.get(bucket)
        if state is None:
            self._make_room(now)
            self._buckets[bucket] = _Bucket(burst - 1.0, now, rate, burst)
            return 0.0
        self._buckets.move_to_end(bucket)
        tokens = state.level(now, rate, burst)
        wait = _wait(tokens, rate)
        state.tokens = tokens if wait else max(0.0, tokens - 1.0)
        state.stamp, state.rate, state.burst = now, rate, burst
        return wait

    async def blocked(self, bucket: str, rate: float, burst: float) -> float:
        _check(rate, burst)
        state = self._buckets.get(bucket)
        if state is None:
            return 0.0
        # A check is a use: a drained bucket that is being asked about (an address still
        # trying keys) must not look idle and be evicted, which would refill it.
        self._buckets.move_to_end(bucket)
        return _wait(state.level(self._clock(), rate, burst), rate)

    async def refund(self, bucket: str, rate: float, burst: float) -> None:
        _check(rate, burst)
        state = self._buckets.get(bucket)
        if state is None:  # evicted, so full already
            return
        now = self._clock()
        state.tokens = min(burst, state.level(now, rate, burst) + 1.0)
        state.stamp, state.rate, state.burst = now, rate, burst

    async def aclose(self) -> None:
        self._buckets.clear()

    def _make_room(self, now: float) -> None:
        buckets = self._buckets
        if len(buckets) < self._max:
            return
        if self._until_sweep <= 0:
            full = [name for name, state in buckets.items() if state.full(now)]
            for name in full:
                del buckets[name]
            self._until_sweep = max(0, self._sweep_every - len(full))
            if full:
                return
        self._until_sweep -= 1
        oldest = islice(buckets.items(), _EVICTION_SCAN)
        victim = next((name for name, state in oldest if state.full(now)), None)
        del buckets[next(iter(buckets)) if victim is None else victim]


# KEYS[1]: the bucket, a hash of `tokens` and `ts` (the server's clock in microseconds when
# `tokens` was counted). ARGV: rate (tokens/s), burst, cost (1 to take a token, 0 to look, -1 to
# give one back), epsilon, expiry margin (ms). Returns 0 when a token is available (and taken
# when cost is 1) or given back, else the microseconds until one is. Integers only: Redis
# truncates a Lua number to an integer.
_SCRIPT = """
-- Redis before 5 replicates scripts verbatim and refuses writes after TIME unless told to
-- replicate the effects instead; later versions do that anyway and keep this as a no-op.
if redis.replicate_commands then redis.replicate_commands() end
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local epsilon = tonumber(ARGV[4])
local margin = tonumber(ARGV[5])
-- The server's clock, not the caller's: API hosts whose clocks disagree still agree on this.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
else
  tokens = math.min(burst, tokens + math.max(0, now - ts) / 1000000 * rate)
end
-- Capped (2^52 microseconds is some 140 years) so that absurd rates still give integers Redis
-- accepts; numbers go out through string.format as Lua's own conversion keeps only 14 digits.
local cap = 2 ^ 52
local function store(level)
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', level),
             'ts', string.format('%.0f', now))
  -- Once full again the bucket is the same as no bucket, so an idle one vanishes then.
  local ttl = math.min(cap, math.ceil((burst - level) / rate * 1000) + margin)
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl))
end
if cost < 0 then
  store(math.min(burst, tokens - cost))
  return 0
end
if tokens < 1 - epsilon then
  return math.min(cap, math.max(1, math.ceil((1 - tokens) / rate * 1000000)))
end
if cost > 0 then
  store(math.max(0, tokens - cost))
end
return 0
"""


class RedisRateLimiter:
    """Token buckets in Redis, shared by every API process that uses the same server.

    Each check runs as one Lua script, which Redis executes atomically: two processes taking
    the last token at the same moment cannot both get it. A refused request writes nothing, so
    a caller hammering a drained bucket costs Redis one read each time.
    """

    def __init__(self, url: str, *, prefix: str = "facegate:bucket:") -> None:
        from redis.asyncio import Redis

        self._redis: Redis = Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._prefix = prefix
        self._script: AsyncScript = self._redis.register_script(_SCRIPT)

    async def acquire(self, bucket: str, rate: float, burst: float) -> float:
        return await self._run(bucket, rate, burst, 1)

    async def blocked(self, bucket: str, rate: float, burst: float) -> float:
        return await self._run(bucket, rate, burst, 0)

    async def refund(self, bucket: str, rate: float, burst: float) -> None:
        await self._run(bucket, rate, burst, -1)

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def _run(self, bucket: str, rate: float, burst: float, cost: int) -> float:
        from redis.exceptions import RedisError

        _check(rate, burst)
        try:
            wait_us = await self._script(
                keys=[self._prefix + bucket],
                args=[repr(rate), repr(burst), cost, repr(_EPSILON), _EXPIRY_MARGIN_MS],
            )
        except RedisError as exc:
            # Without the shared bucket there is no telling whether the caller is within its
            # limit: refuse for now (503 + Retry-After) rather than let it through unchecked.
            raise UnavailableError(
                f"the rate limits' store is unavailable ({type(exc).__name__})", retry_after=5
            ) from None
        return int(wait_us) / 1_000_000


def build_rate_limiter(redis_url: str | None) -> RateLimiter:
    if redis_url:
        return RedisRateLimiter(redis_url)
    return MemoryRateLimiter()
