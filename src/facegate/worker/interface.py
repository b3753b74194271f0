"""The inference protocol: decrypted file bytes in, typed results out.

Decoding happens behind this interface (on the worker when there is one) because it is CPU work
and because it is where image errors (2003/2004/2005/2006) arise; those are raised as
``ImageError`` naming the request parameter the photo came from.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from facegate.core.package import LivenessPackage
from facegate.core.results import (
    EngineStatus,
    LivenessOutcome,
    MultiFaceResult,
    PackageLivenessResult,
    PackageVerifyResult,
    QualityResult,
    SilentVerifyResult,
    VerifyResult,
)


@dataclass(frozen=True, slots=True)
class Photo:
    field: str  # the request parameter it came from, for error messages
    data: bytes


@dataclass(frozen=True, slots=True)
class PhotoOptions:
    auto_rotate: bool = False
    check_quality: bool = False


@dataclass(frozen=True, slots=True)
class Video:
    field: str
    data: bytes


@dataclass(frozen=True, slots=True)
class VideoOptions:
    return_image: bool = False
    return_face_image: bool = False


class InferenceEngine(Protocol):
    async def verify(self, first: Photo, second: Photo, options: PhotoOptions) -> VerifyResult: ...

    async def multiface(
        self, first: Photo, second: Photo, options: PhotoOptions
    ) -> MultiFaceResult: ...

    async def quality(self, photo: Photo) -> QualityResult: ...

    async def silent_liveness(self, video: Video, options: VideoOptions) -> LivenessOutcome:
        """Video errors are ``FacegateError`` 2008; no face in any frame is 4007."""
        ...

    async def silent_verify(
        self, video: Video, photo: Photo, photo_options: PhotoOptions, options: VideoOptions
    ) -> SilentVerifyResult: ...

    async def package_verify(
        self, package: LivenessPackage, photo: Photo, photo_options: PhotoOptions
    ) -> PackageVerifyResult:
        """The server's re-check of a decrypted liveness package, then its selected face
        against the photo. A package that cannot be checked raises 2007 with the reason; one
        that shows an attack comes back with ``attack`` (the reason) and ``hack_score`` set."""
        ...

    async def start(self) -> None:
        """Get ready to serve: warm the models up (in-process) or find healthy workers."""
        ...

    def ready(self) -> bool:
        """Whether a request sent now could be served (the readiness probe)."""
        ...

    async def package_liveness(self, package: LivenessPackage) -> PackageLivenessResult:
        """The liveness check of a package alone (its actions too), no photo compared."""
        ...

    def describe(self) -> EngineStatus:
        """Models, profile and calibration in use, for status endpoints and logs."""
        ...

    async def aclose(self) -> None: ...


@contextlib.asynccontextmanager
async def serving(engine: InferenceEngine) -> AsyncIterator[None]:
    """An app's lifespan for its engine: ``start()`` runs in the background once the server
    listens (readiness says when it is done); on shutdown it is stopped and the engine closed."""
    starting = asyncio.create_task(engine.start())
    try:
        yield
    finally:
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await starting
        await engine.aclose()
