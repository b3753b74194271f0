"""An ``InferenceEngine`` wrapper that records the scores it returns, for drift monitoring.

A shift in the distribution of verification or liveness scores (a new camera, a new attack,
a model swap) shows in these histograms long before anyone reads a false-accept report.
"""

from __future__ import annotations

import logging

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
from facegate.ops.metrics import Metrics
from facegate.worker.interface import InferenceEngine, Photo, PhotoOptions, Video, VideoOptions

log = logging.getLogger("facegate.liveness")


class MeteredEngine:
    def __init__(self, engine: InferenceEngine, metrics: Metrics) -> None:
        self.inner = engine
        self._m = metrics

    def _liveness(
        self,
        call: str,
        score: float,
        passed: bool,
        refused_by: str = "",
        evidence: tuple[str, ...] = (),
    ) -> None:
        self._m.liveness_score.labels(call).observe(score)
        self._m.liveness_checks.labels(call, "true" if passed else "false").inc()
        if refused_by:
            self._m.liveness_refusals.labels(call, refused_by).inc()
            # An operator asking "why are customers refused?" reads the expert and its cues
            # here; the SenseID response itself keeps the manual's fields.
            log.info(
                "liveness refused",
                extra={
                    "call": call,
                    "score": round(score, 4),
                    "refused_by": refused_by,
                    "evidence": list(evidence),
                },
            )

    async def verify(self, first: Photo, second: Photo, options: PhotoOptions) -> VerifyResult:
        result = await self.inner.verify(first, second, options)
        self._m.verification_score.labels("verify").observe(result.verification_score)
        return result

    async def multiface(
        self, first: Photo, second: Photo, options: PhotoOptions
    ) -> MultiFaceResult:
        result = await self.inner.multiface(first, second, options)
        for row in result.scores:
            for score in row:
                self._m.verification_score.labels("multiface").observe(score)
        return result

    async def quality(self, photo: Photo) -> QualityResult:
        return await self.inner.quality(photo)

    async def silent_liveness(self, video: Video, options: VideoOptions) -> LivenessOutcome:
        result = await self.inner.silent_liveness(video, options)
        self._liveness(
            "silent_liveness",
            result.liveness_score,
            result.passed,
            result.refused_by,
            result.evidence,
        )
        return result

    async def silent_verify(
        self, video: Video, photo: Photo, photo_options: PhotoOptions, options: VideoOptions
    ) -> SilentVerifyResult:
        result = await self.inner.silent_verify(video, photo, photo_options, options)
        self._liveness(
            "silent_verify",
            result.liveness_score,
            result.passed,
            result.refused_by,
            result.evidence,
        )
        if result.verification_score is not None:
            self._m.verification_score.labels("silent_verify").observe(result.verification_score)
        return result

    async def package_verify(
        self, package: LivenessPackage, photo: Photo, photo_options: PhotoOptions
    ) -> PackageVerifyResult:
        result = await self.inner.package_verify(package, photo, photo_options)
        self._liveness(
            "package_verify",
            result.liveness_score,
            not result.attack,
            result.refused_by,
            result.evidence,
        )
        self._m.verification_score.labels("package_verify").observe(result.verification_score)
        return result

    async def package_liveness(self, package: LivenessPackage) -> PackageLivenessResult:
        result = await self.inner.package_liveness(package)
        self._liveness(
            "package_liveness",
            result.liveness_score,
            result.passed,
            result.refused_by,
            result.evidence,
        )
        return result

    async def start(self) -> None:
        await self.inner.start()

    def ready(self) -> bool:
        return self.inner.ready()

    def describe(self) -> EngineStatus:
        return self.inner.describe()

    async def aclose(self) -> None:
        await self.inner.aclose()
