"""One model instance per thread: OpenCV's DNN wrappers and dlib's nets keep per-call state
(input size, scratch buffers), so sharing one instance across threads is unsafe."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")


class PerThread(Generic[T]):
    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._local = threading.local()

    def get(self) -> T:
        obj: T | None = getattr(self._local, "obj", None)
        if obj is None:
            obj = self._factory()
            self._local.obj = obj
        return obj


def run_on_each_thread(
    pool: ThreadPoolExecutor, threads: int, fn: Callable[[], object], timeout: float = 120.0
) -> None:
    """Run ``fn`` once on each of the pool's ``threads`` threads, so that per-thread models are
    built and warmed before the first request instead of during it (≈ 0.4 s each)."""
    # Each task holds its thread at the barrier until all have started, which forces the pool
    # to start a thread per task.
    barrier = threading.Barrier(threads)

    def task() -> None:
        barrier.wait(timeout)
        fn()

    for future in [pool.submit(task) for _ in range(threads)]:
        future.result()
