"""Shared by the worker-tier tests: an engine without models whose calls can be held, real
``facegate worker`` processes on loopback, and fake workers served over real HTTP on a thread."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from facegate.core.errors import FacegateError
from facegate.core.package import LivenessPackage
from facegate.core.results import (
    EngineStatus,
    FaceRects,
    LivenessOutcome,
    MultiFaceResult,
    PackageLivenessResult,
    PackageVerifyResult,
    QualityResult,
    SilentVerifyResult,
    VerifyResult,
)
from facegate.worker import wire
from facegate.worker.interface import Photo, PhotoOptions, Video, VideoOptions

FACEGATE = [sys.executable, "-m", "facegate"]
PROTOBUF = {"content-type": wire.CONTENT_TYPE}
FIRST = "first_encrypted_image"
SECOND = "second_encrypted_image"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(0.02)


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """``wait_until`` for code on an event loop: the loop keeps running while it waits."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


class Hold:
    """Holds the first ``verify`` to reach any engine sharing it until ``released`` is set;
    later calls pass. Thread-safe, so the test can release a call served on another thread's
    event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taken = False
        self.entered = threading.Event()
        self.released = threading.Event()

    def take(self) -> bool:
        with self._lock:
            first = not self._taken
            self._taken = True
            return first

    async def wait(self) -> None:
        self.entered.set()
        # Polled, not an asyncio.Event: that would belong to one loop and one thread.
        while not self.released.is_set():
            await asyncio.sleep(0.005)


class FakeEngine:
    """An ``InferenceEngine`` without models: ``verify`` answers ``score`` after ``delay``
    seconds (the first call waits for ``hold`` when given) or raises ``error``; every call is
    counted by name."""

    def __init__(
        self,
        *,
        score: float = 0.875,
        delay: float = 0.0,
        hold: Hold | None = None,
        ready: bool = True,
        error: FacegateError | None = None,
    ) -> None:
        self.score = score
        self.delay = delay
        self.hold = hold
        self.error = error
        self._ready = ready
        self.calls: Counter[str] = Counter()

    async def verify(self, first: Photo, second: Photo, options: PhotoOptions) -> VerifyResult:
        self.calls["verify"] += 1
        if self.hold is not None and self.hold.take():
            await self.hold.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return VerifyResult(verification_score=self.score)

    async def multiface(
        self, first: Photo, second: Photo, options: PhotoOptions
    ) -> MultiFaceResult:
        self.calls["multiface"] += 1
        return MultiFaceResult(
            scores=[[self.score]],
            face_rects=FaceRects(first_image_face_rects=[], second_image_face_rects=[]),
        )

    async def quality(self, photo: Photo) -> QualityResult:
        self.calls["quality"] += 1
        return QualityResult(faces=[])

    async def silent_liveness(self, video: Video, options: VideoOptions) -> LivenessOutcome:
        self.calls["silent_liveness"] += 1
        return LivenessOutcome(passed=True, liveness_score=self.score, liveness_status="ok")

    async def silent_verify(
        self, video: Video, photo: Photo, photo_options: PhotoOptions, options: VideoOptions
    ) -> SilentVerifyResult:
        self.calls["silent_verify"] += 1
        return SilentVerifyResult(
            passed=True,
            liveness_score=self.score,
            liveness_status="ok",
            verification_score=self.score,
        )

    async def package_verify(
        self, package: LivenessPackage, photo: Photo, photo_options: PhotoOptions
    ) -> PackageVerifyResult:
        self.calls["package_verify"] += 1
        return PackageVerifyResult(verification_score=self.score, liveness_score=self.score)

    async def package_liveness(self, package: LivenessPackage) -> PackageLivenessResult:
        self.calls["package_liveness"] += 1
        return PackageLivenessResult(liveness_score=self.score, selected=0)

    async def start(self) -> None:
        self.calls["start"] += 1

    def ready(self) -> bool:
        return self._ready

    def describe(self) -> EngineStatus:
        return EngineStatus(profile="fake")

    async def aclose(self) -> None:
        self.calls["aclose"] += 1


class ThreadServer:
    """An app served by uvicorn on a thread of its own: a fake worker over real HTTP."""

    def __init__(self, app: FastAPI, port: int | None = None, **options: Any) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,  # leave the test process's logging alone
            access_log=False,
            lifespan="on",
            # Calls a slow or held fake still runs at exit are cancelled after this long.
            timeout_graceful_shutdown=1,
            **options,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ThreadServer:
        self._thread.start()
        wait_until(lambda: self.server.started, 10, f"a server on port {self.port}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        if self._thread.is_alive():
            self.server.force_exit = True
            self._thread.join(timeout=5)
        assert not self._thread.is_alive(), "the in-thread server did not stop"


class WorkerProcess:
    """``facegate worker`` on loopback (HANDLERS=1, the default models) with its JSON log in a
    file; it can be killed and started again on the same port."""

    def __init__(self, log: Path, *, port: int | None = None, env: dict[str, str] | None = None):
        self.port = port or free_port()
        self.log = log
        self.env = {
            **os.environ,
            "HANDLERS": "1",
            "FACEGATE_LIVENESS_USE_PACK": "false",  # the default install, whatever packs exist
            "FACEGATE_LOG_FORMAT": "json",
            "FACEGATE_LOG_LEVEL": "info",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        assert not self.running
        # Appended to, so a restarted worker's lines follow the first one's.
        with self.log.open("ab") as stderr:
            self.proc = subprocess.Popen(
                [*FACEGATE, "worker", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until ``/healthcheck`` answers 200: models loaded and every thread warmed up."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/healthcheck", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"the worker exited with {self.proc.returncode}:\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"the worker was not ready within {timeout} s:\n{self.tail()}")
            time.sleep(0.1)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def records(self) -> list[dict[str, Any]]:
        """The log's JSON records (a line that is not JSON fails the caller's test)."""
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]
