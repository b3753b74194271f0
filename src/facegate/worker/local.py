"""In-process inference: the pipeline on a bounded pool of threads.

OpenCV, dlib and NumPy release the GIL, so threads give process-level throughput without copying
images between processes. The two photos of a comparison run on two threads at once, which halves
the latency of a single request on an idle machine.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from facegate.core.errors import Code, FacegateError, ImageError
from facegate.core.limits import ImageLimits, VideoLimits
from facegate.core.media import decode_image
from facegate.core.package import LivenessPackage
from facegate.core.results import (
    EngineStatus,
    FaceRects,
    LivenessModel,
    LivenessOutcome,
    MultiFaceResult,
    PackageLivenessResult,
    PackageVerifyResult,
    QualityResult,
    Rect,
    SilentVerifyResult,
    VerifyResult,
)
from facegate.core.stages import stage
from facegate.core.types import Box, Face, FloatArray, ImageArray
from facegate.core.video import decode_video
from facegate.vision._perthread import run_on_each_thread
from facegate.vision.liveness.analyzer import (
    LivenessAnalyzer,
    LivenessResult,
    face_crop,
)
from facegate.vision.liveness.package_check import PackageCheck, PackageChecker
from facegate.vision.pipeline import FacePipeline, Oriented
from facegate.worker.interface import Photo, PhotoOptions, Video, VideoOptions


@dataclass(frozen=True, slots=True)
class _Embedded:
    oriented: Oriented
    faces: list[Face]
    templates: list[tuple[FloatArray, ...]]


class LocalEngine:
    def __init__(
        self,
        pipeline: FacePipeline,
        *,
        limits: ImageLimits | None = None,
        threads: int = 2,
        occlusion_threshold: float = 0.5,
        max_faces: int = 20,
        liveness: LivenessAnalyzer | None = None,
        video_limits: VideoLimits | None = None,
    ) -> None:
        # Parallelism comes from our threads; OpenCV's own pool would oversubscribe the cores.
        cv2.setNumThreads(1)
        self._pipeline = pipeline
        self._limits = limits or ImageLimits()
        self._occlusion_threshold = occlusion_threshold
        self._max_faces = max_faces
        self._liveness = liveness
        self._video_limits = video_limits or VideoLimits()
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="facegate-infer")
        self._threads = threads
        self._warm = False

    def _submit(self, fn: Any, *args: Any) -> asyncio.Future[Any]:
        # In the request's context, so that the pool thread's stage timings reach the request.
        ctx = contextvars.copy_context()
        return asyncio.get_running_loop().run_in_executor(self._pool, ctx.run, fn, *args)

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await self._submit(fn, *args)

    async def _all(self, *calls: tuple[Any, Any]) -> list[Any]:
        """``fn(arg)`` for each ``(fn, arg)`` at once on the pool. All finish before an error
        is raised, so the error of the earliest call wins deterministically (the request's
        parameters are checked in their order)."""
        results = await asyncio.gather(
            *(self._submit(fn, arg) for fn, arg in calls), return_exceptions=True
        )
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return list(results)

    # --- readiness ----------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        # On a thread of its own: it waits for the pool's threads, which it must not occupy.
        await loop.run_in_executor(None, self._warm_up_everywhere)
        self._warm = True

    def _warm_up_everywhere(self) -> None:
        run_on_each_thread(self._pool, self._threads, self._warm_up)
        if self._liveness is not None:
            self._liveness.warm_up(*_made_up_face())

    def _warm_up(self) -> None:
        """One pass through every model on this thread (models are per thread), so that the
        first request does not pay for building them (≈ 0.4 s). The face is made up: a box and
        landmarks of a frontal face's proportions on a grey image; only the models' cost
        matters."""
        pixels, face = _made_up_face()
        self._pipeline.detect(pixels)
        self._pipeline.embed(pixels, face)
        self._pipeline.quality(pixels, face)
        if self._liveness is not None:
            self._liveness.warm_up_here(pixels, face)

    def ready(self) -> bool:
        return self._warm

    # --- one photo, on a pool thread ----------------------------------------------------------
    def _embed_photo(
        self, photo: Photo, options: PhotoOptions, *, largest_only: bool, corrupt_code: Code
    ) -> _Embedded:
        try:
            with stage("decode"):
                image = decode_image(photo.data, self._limits, corrupt_code=corrupt_code)
        except ImageError as exc:
            raise exc.for_field(photo.field) from None
        with stage("detect"):
            if largest_only:
                oriented, main = self._pipeline.detect_main(
                    image.pixels, photo.field, auto_rotate=options.auto_rotate
                )
                faces = [main]
            else:
                oriented = self._pipeline.detect(image.pixels, auto_rotate=options.auto_rotate)
                if not oriented.faces:
                    raise ImageError(Code.DETECTION_FAILED, "no face was detected", photo.field)
                faces = self._listed_faces(oriented)
        if options.check_quality:
            with stage("quality"):
                for face in faces:
                    self._check_occlusion(oriented, face, photo.field)
        with stage("embed"):
            templates = [self._pipeline.embed(oriented.pixels, f) for f in faces]
        return _Embedded(oriented, faces, templates)

    def _listed_faces(self, oriented: Oriented) -> list[Face]:
        """The largest ``max_faces`` faces, in reading order."""
        kept = sorted(oriented.faces, key=lambda f: -f.box.area)[: self._max_faces]
        return sorted(kept, key=_reading_order(oriented))

    def _check_occlusion(self, oriented: Oriented, face: Face, field: str) -> None:
        occ = self._pipeline.occlusion(oriented.pixels, face)
        regions = {
            "left eye": occ.left_eye,
            "right eye": occ.right_eye,
            "nose": occ.nose,
            "mouth": occ.mouth,
        }
        hidden = [
            f"{k} ({v:.2f} visible)" for k, v in regions.items() if v < self._occlusion_threshold
        ]
        if hidden:
            raise ImageError(Code.FACE_OCCLUSION, "occluded: " + ", ".join(hidden), field)

    # --- the protocol -------------------------------------------------------------------------
    async def verify(self, first: Photo, second: Photo, options: PhotoOptions) -> VerifyResult:
        a, b = await self._both(
            first, second, options, largest_only=True, corrupt=Code.INVALID_IMAGE_TYPE
        )
        sim = self._pipeline.similarity(a.templates[0], b.templates[0])
        return VerifyResult(verification_score=self._pipeline.score(sim))

    async def multiface(
        self, first: Photo, second: Photo, options: PhotoOptions
    ) -> MultiFaceResult:
        # The manual lists 2006 "corrupted image error" for this endpoint alone.
        a, b = await self._both(
            first, second, options, largest_only=False, corrupt=Code.CORRUPTED_IMAGE
        )
        scores = [
            [self._pipeline.score(self._pipeline.similarity(ta, tb)) for tb in b.templates]
            for ta in a.templates
        ]
        rects = FaceRects(
            first_image_face_rects=[_rect(a.oriented, f) for f in a.faces],
            second_image_face_rects=[_rect(b.oriented, f) for f in b.faces],
        )
        return MultiFaceResult(scores=scores, face_rects=rects)

    async def quality(self, photo: Photo) -> QualityResult:
        result: QualityResult = await self._run(self._quality_sync, photo)
        return result

    def _quality_sync(self, photo: Photo) -> QualityResult:
        try:
            with stage("decode"):
                image = decode_image(photo.data, self._limits)
        except ImageError as exc:
            raise exc.for_field(photo.field) from None
        with stage("detect"):
            oriented = self._pipeline.detect(image.pixels)
        if not oriented.faces:
            raise ImageError(Code.DETECTION_FAILED, "no face was detected", photo.field)
        faces = self._listed_faces(oriented)
        with stage("quality"):
            return QualityResult(faces=[self._pipeline.quality(oriented.pixels, f) for f in faces])

    async def _both(
        self,
        first: Photo,
        second: Photo,
        options: PhotoOptions,
        *,
        largest_only: bool,
        corrupt: Code,
    ) -> tuple[_Embedded, _Embedded]:
        work = functools.partial(
            self._embed_photo, options=options, largest_only=largest_only, corrupt_code=corrupt
        )
        a, b = await self._all((work, first), (work, second))
        assert isinstance(a, _Embedded)
        assert isinstance(b, _Embedded)
        return a, b

    # --- videos ------------------------------------------------------------------------------
    def _analyzer(self) -> LivenessAnalyzer:
        if self._liveness is None:
            raise RuntimeError("this engine was built without the liveness analyser")
        return self._liveness

    def _liveness_sync(self, video: Video) -> LivenessResult:
        with stage("decode"):
            decoded = decode_video(video.data, self._video_limits)
        with stage("liveness"):
            return self._analyzer().analyze(decoded)

    async def silent_liveness(self, video: Video, options: VideoOptions) -> LivenessOutcome:
        self._analyzer()
        result: LivenessResult = await self._run(self._liveness_sync, video)
        return _outcome(result, options)

    async def _beside_photo(
        self, fn: Any, arg: Any, photo: Photo, photo_options: PhotoOptions
    ) -> tuple[Any, _Embedded]:
        """``fn(arg)`` (the video or package check) and the photo's embedding at once; the
        first one's error is reported first, as its parameter comes first in the request."""
        embed = functools.partial(
            self._embed_photo,
            options=photo_options,
            largest_only=True,
            corrupt_code=Code.INVALID_IMAGE_TYPE,
        )
        first, embedded = await self._all((fn, arg), (embed, photo))
        assert isinstance(embedded, _Embedded)
        return first, embedded

    def _embed_selected(self, pixels: ImageArray, face: Face) -> tuple[FloatArray, ...]:
        with stage("embed"):
            return self._pipeline.embed(pixels, face)

    def _check_package(self, package: LivenessPackage) -> PackageCheck:
        with stage("liveness"):
            return PackageChecker(self._analyzer(), self._pipeline).check(package)

    def _score(self, template: tuple[FloatArray, ...], photo: _Embedded) -> float:
        return self._pipeline.score(self._pipeline.similarity(template, photo.templates[0]))

    async def silent_verify(
        self, video: Video, photo: Photo, photo_options: PhotoOptions, options: VideoOptions
    ) -> SilentVerifyResult:
        self._analyzer()
        live_r, photo_r = await self._beside_photo(self._liveness_sync, video, photo, photo_options)
        assert isinstance(live_r, LivenessResult)
        score: float | None = None
        if live_r.passed and live_r.selected is not None:
            sel = live_r.selected
            score = self._score(
                await self._run(self._embed_selected, sel.pixels, sel.face), photo_r
            )
        return SilentVerifyResult(**dict(_outcome(live_r, options)), verification_score=score)

    async def package_verify(
        self, package: LivenessPackage, photo: Photo, photo_options: PhotoOptions
    ) -> PackageVerifyResult:
        self._analyzer()
        check_r, photo_r = await self._beside_photo(
            self._check_package, package, photo, photo_options
        )
        assert isinstance(check_r, PackageCheck)
        # The check embedded the selected face already (for its same-person test).
        score = self._score(check_r.template, photo_r)
        return PackageVerifyResult(
            verification_score=score,
            liveness_score=check_r.liveness_score,
            actions=check_r.actions,
            hack_score=check_r.hack_score,
            attack=check_r.attack,
            refused_by=check_r.refused_by,
            evidence=check_r.evidence,
        )

    async def package_liveness(self, package: LivenessPackage) -> PackageLivenessResult:
        self._analyzer()
        check: PackageCheck = await self._run(self._check_package, package)
        return PackageLivenessResult(
            liveness_score=check.liveness_score,
            actions=check.actions,
            hack_score=check.hack_score,
            attack=check.attack,
            refused_by=check.refused_by,
            evidence=check.evidence,
            selected=check.selected,
        )

    def describe(self) -> EngineStatus:
        p = self._pipeline
        liveness: LivenessModel | None = None
        if self._liveness is not None:
            fusion = self._liveness.video_fusion
            liveness = LivenessModel(
                fusion=fusion.name,
                threshold=self._liveness.threshold,
                pack=self._liveness.pack is not None,
                # What the fit predicted for people and cameras it never saw, and where that
                # falls short of its targets (empty: it meets them).
                predicted={
                    k: fusion.info.get("nested", {}).get(k)
                    for k in ("bpcer", "worst_source_bpcer", "apcer_by_type")
                },
                shortfalls=tuple(fusion.info.get("shortfalls", [])),
            )
        return EngineStatus(
            profile=p.profile.name,
            models={
                **{mid: p.manifest.models[mid].sha256 for mid in p.profile.model_ids},
                # The converted files that run in their place (facegate.vision.convert).
                **{c.id: c.sha256 for c in p.converted.values()},
            },
            embedding_contract=p.calibration.contract,
            calibration=p.calibration.calibration.meta,
            liveness=liveness,
        )

    async def aclose(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._liveness is not None:
            self._liveness.close()


def _made_up_face() -> tuple[ImageArray, Face]:
    pixels = np.full((480, 640, 3), 128, dtype=np.uint8)
    landmarks = np.array(
        [[280, 220], [360, 220], [320, 265], [290, 305], [350, 305]], dtype=np.float32
    )
    return pixels, Face(Box(240.0, 160.0, 400.0, 360.0), landmarks, 0.9)


def _jpeg(pixels: ImageArray) -> bytes:
    ok, buf = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, 92])
    if not ok:
        raise FacegateError(Code.INVALID_VIDEO, "the selected frame could not be encoded")
    return bytes(np.asarray(buf).tobytes())


def _outcome(result: LivenessResult, options: VideoOptions) -> LivenessOutcome:
    sel = result.selected if result.passed else None
    return LivenessOutcome(
        passed=result.passed,
        liveness_score=result.score,
        liveness_status=result.status,
        image_timestamp=sel.timestamp if sel is not None and options.return_image else None,
        image=_jpeg(sel.pixels) if sel is not None and options.return_image else None,
        face_image=(
            _jpeg(face_crop(sel)) if sel is not None and options.return_face_image else None
        ),
        refused_by=result.refused_by,
        evidence=result.evidence,
    )


def _rect(oriented: Oriented, face: Face) -> Rect:
    return Rect.of(oriented.box_in_original(face.box).as_ints())


def _reading_order(oriented: Oriented) -> Any:
    """Faces sorted left to right, then top to bottom, in the photo's own coordinates, so the
    order is stable whether or not the photo had to be turned."""

    def key(face: Face) -> tuple[float, float]:
        box = oriented.box_in_original(face.box)
        return (round(box.left), round(box.top))

    return key
