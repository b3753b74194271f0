"""Per-request stage timings: how long each step of the request path took.

A request starts a fresh ``Timings`` (``begin``); code along the path wraps its steps in
``stage("detect")`` and so on. The web layer turns the timings into Prometheus histograms and a
``Server-Timing`` header, which is also how a worker hands its stage timings back to the API tier.

Work sent to a thread pool must run in the request's context (``contextvars.copy_context``) for
its stages to reach the request's ``Timings``; the timings are then shared, not copied.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

# The stages the request path reports; ``stage`` accepts only these, so metric labels stay few.
STAGES = ("decrypt", "decode", "detect", "embed", "quality", "liveness", "worker")

_current: ContextVar[Timings | None] = ContextVar("facegate_timings", default=None)
_ENTRY = re.compile(r"^\s*([a-z_]+)\s*;\s*dur=([0-9]+(?:\.[0-9]+)?)\s*$")


@dataclass(slots=True)
class Timings:
    # list.append is atomic, so pool threads of one request may add entries concurrently.
    entries: list[tuple[str, float]] = field(default_factory=list)

    def add(self, name: str, seconds: float) -> None:
        if name not in STAGES:
            raise ValueError(f"unknown stage {name!r}; add it to STAGES")
        self.entries.append((name, seconds))

    def server_timing(self) -> str:
        """The entries as a ``Server-Timing`` header value (W3C), in milliseconds."""
        return ", ".join(f"{name};dur={seconds * 1000:.3f}" for name, seconds in self.entries)


def parse_server_timing(value: str) -> list[tuple[str, float]]:
    """Entries of a ``Server-Timing`` header that name a known stage, in seconds; anything else
    (other metrics, malformed parts) is ignored rather than trusted."""
    out: list[tuple[str, float]] = []
    for part in value.split(","):
        match = _ENTRY.match(part)
        if match and match.group(1) in STAGES:
            out.append((match.group(1), float(match.group(2)) / 1000))
    return out


def begin() -> Timings:
    timings = Timings()
    _current.set(timings)
    return timings


def current() -> Timings | None:
    return _current.get()


def record(name: str, seconds: float) -> None:
    timings = _current.get()
    if timings is not None:
        timings.add(name, seconds)


@contextmanager
def stage(name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        record(name, time.perf_counter() - start)
