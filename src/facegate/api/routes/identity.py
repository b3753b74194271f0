"""API manual chapter 1: face comparison."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from facegate.api.deps import CipherDep, EngineDep, SettingsDep
from facegate.api.forms import Form, FormSpec, Param
from facegate.api.routes.liveness import VIDEO_PARAMS, read_video
from facegate.api.schemas import answer, responses
from facegate.core.crypto import Cipher
from facegate.core.errors import Code, FacegateError
from facegate.core.results import MultifaceVerification, SilentVerification, Verification
from facegate.proto.codec import open_fresh_package
from facegate.store.replay import ReplayGuard
from facegate.worker.interface import Photo, PhotoOptions

router = APIRouter(prefix="/identity")

FIRST = "first_encrypted_image"
SECOND = "second_encrypted_image"
IMAGE = "encrypted_image"
LIVENESS_FILE = "liveness_file"

_PHOTO = "JPEG, PNG, BMP, GIF or TIFF; at most 5 MB; sides 32 … 5000 px."
AUTO_ROTATE = Param(
    "auto_rotate", "flag", "Also look for faces in the photo turned by 90°, 270° and 180°."
)
CHECK_QUALITY = Param(
    "check_quality", "flag", "Refuse (4004) a photo whose face has an eye, the nose or the "
    "mouth less than half visible.",
)  # fmt: skip
PAIR = (Param(FIRST, "encrypted", f"The first photo: {_PHOTO}"),
        Param(SECOND, "encrypted", f"The second photo: {_PHOTO}"))  # fmt: skip
PHOTO = Param(IMAGE, "encrypted", f"The photo to compare with: {_PHOTO}")
VERIFY = FormSpec((*PAIR, AUTO_ROTATE, CHECK_QUALITY))
MULTIFACE = FormSpec((*PAIR, AUTO_ROTATE))
SILENT_VERIFY = FormSpec((*VIDEO_PARAMS, PHOTO, AUTO_ROTATE, CHECK_QUALITY))
PACKAGE_VERIFY = FormSpec(
    (
        Param(LIVENESS_FILE, "file", "A liveness package written by the capture SDK (.fglv)."),
        PHOTO,
        AUTO_ROTATE,
        CHECK_QUALITY,
    )
)


async def _photos(form: Form, cipher: Cipher) -> tuple[Photo, Photo]:
    return (
        Photo(FIRST, await form.encrypted(FIRST, cipher)),
        Photo(SECOND, await form.encrypted(SECOND, cipher)),
    )


@router.post(
    "/image_verification/stateless",
    openapi_extra=VERIFY.openapi(),
    responses=responses(Verification),
)
async def image_verification(
    request: Request, form: Annotated[Form, Depends(VERIFY)], cipher: CipherDep, engine: EngineDep
) -> JSONResponse:
    first, second = await _photos(form, cipher)
    options = PhotoOptions(
        auto_rotate=form.flag("auto_rotate"), check_quality=form.flag("check_quality")
    )
    return answer(request, await engine.verify(first, second, options))


@router.post(
    "/multiface_image_omni_verification/stateless",
    openapi_extra=MULTIFACE.openapi(),
    responses=responses(MultifaceVerification),
)
async def multiface_verification(
    request: Request,
    form: Annotated[Form, Depends(MULTIFACE)],
    cipher: CipherDep,
    engine: EngineDep,
) -> JSONResponse:
    first, second = await _photos(form, cipher)
    options = PhotoOptions(auto_rotate=form.flag("auto_rotate"))
    return answer(request, await engine.multiface(first, second, options))


@router.post(
    "/silent_image_verification/stateless",
    openapi_extra=SILENT_VERIFY.openapi(),
    responses=responses(SilentVerification),
)
async def silent_image_verification(
    request: Request,
    form: Annotated[Form, Depends(SILENT_VERIFY)],
    cipher: CipherDep,
    engine: EngineDep,
) -> JSONResponse:
    video, options, omit = await read_video(form, cipher)
    photo = Photo(IMAGE, await form.encrypted(IMAGE, cipher))
    photo_options = PhotoOptions(
        auto_rotate=form.flag("auto_rotate"), check_quality=form.flag("check_quality")
    )
    result = await engine.silent_verify(video, photo, photo_options, options)
    return answer(request, result, omit=omit)


@router.post(
    "/liveness_image_verification/stateless",
    openapi_extra=PACKAGE_VERIFY.openapi(),
    responses=responses(Verification),
)
async def liveness_image_verification(
    request: Request,
    form: Annotated[Form, Depends(PACKAGE_VERIFY)],
    cipher: CipherDep,
    engine: EngineDep,
    settings: SettingsDep,
) -> JSONResponse:
    data = await form.file(LIVENESS_FILE, settings.max_package_bytes)
    # Off the event loop: opening 16 MB (decrypting, parsing, checking) is CPU work.
    opened = await asyncio.to_thread(
        open_fresh_package, data, request.app.state.package_key, settings
    )
    photo = Photo(IMAGE, await form.encrypted(IMAGE, cipher))
    # Remembered before the costly checks, so a package is single-use even when it fails them;
    # a request missing its photo (above) does not use it up.
    guard: ReplayGuard = request.app.state.replay_guard
    if not await guard.first_use(opened.nonce):
        raise FacegateError(
            Code.CORRUPTED_LIVENESS_DATA,
            "this package was already used: each capture verifies once",
        )
    photo_options = PhotoOptions(
        auto_rotate=form.flag("auto_rotate"), check_quality=form.flag("check_quality")
    )
    result = await engine.package_verify(opened.package, photo, photo_options)
    if not result.passed:
        raise FacegateError(Code.CORRUPTED_LIVENESS_DATA, result.attack)
    return answer(request, result)
