"""Admission to the inference handlers, for the worker and for the API in-process: at most
``handlers`` requests compute, at most ``queue`` more wait; beyond that a request is refused
at once (503, ``Retry-After``), before its body is read, so a burst costs neither unbounded
memory nor a client's timeout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from facegate.core.errors import UnavailableError
from facegate.ops.metrics import Metrics


class Admission:
    """At most ``handlers`` requests inside, at most ``queue`` waiting; no more."""

    def __init__(self, handlers: int, queue: int, metrics: Metrics | None = None) -> None:
        self.handlers = handlers
        self.queue = queue
        self.waiting = 0
        self.running = 0
        self._free = asyncio.Semaphore(handlers)
        self._metrics = metrics

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.running >= self.handlers and self.waiting >= self.queue:
            raise UnavailableError(
                f"the service is full ({self.running} computing, {self.waiting} waiting)"
            )
        self._set_waiting(+1)
        try:
            await self._free.acquire()
        finally:
            self._set_waiting(-1)
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self._free.release()

    def _set_waiting(self, delta: int) -> None:
        self.waiting += delta
        if self._metrics is not None:
            self._metrics.queue_depth.set(self.waiting)
