"""API manual chapter 3: silent liveness on a video, and its result fields shared with 1.4."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from facegate.api.deps import CipherDep, EngineDep
from facegate.api.forms import Form, FormSpec, Param
from facegate.api.schemas import answer, responses
from facegate.core.crypto import Cipher
from facegate.core.results import SilentLiveness
from facegate.worker.interface import Video, VideoOptions

router = APIRouter(prefix="/liveness")

VIDEO = "encrypted_video"

# The video and what to return with its result: shared by 3.1 and 1.4.
VIDEO_PARAMS = (
    Param(VIDEO, "encrypted", "The video: MP4, MOV, 3GP, AVI, FLV, WMV, RM, WebM or MKV; at most "
          "16 MB; sides 8 … 5000 px; at least 2 s (the first seconds are analysed)."),
    Param("return_image", "flag", "On a pass, return the selected frame and its timestamp."),
    Param("return_face_image", "flag", "On a pass, return that frame's face with a margin."),
    Param("return_status", "flag", "Also return liveness_status: ok, hack or short_time."),
)  # fmt: skip
SILENT = FormSpec(VIDEO_PARAMS)


async def read_video(form: Form, cipher: Cipher) -> tuple[Video, VideoOptions, frozenset[str]]:
    """The video, what to return with it, and the fields to leave out of the answer."""
    video = Video(VIDEO, await form.encrypted(VIDEO, cipher))
    options = VideoOptions(
        return_image=form.flag("return_image"), return_face_image=form.flag("return_face_image")
    )
    omit = frozenset() if form.flag("return_status") else frozenset({"liveness_status"})
    return video, options, omit


@router.post(
    "/silent_detection/stateless",
    openapi_extra=SILENT.openapi(),
    responses=responses(SilentLiveness),
)
async def silent_detection(
    request: Request, form: Annotated[Form, Depends(SILENT)], cipher: CipherDep, engine: EngineDep
) -> JSONResponse:
    video, options, omit = await read_video(form, cipher)
    return answer(request, await engine.silent_liveness(video, options), omit=omit)
