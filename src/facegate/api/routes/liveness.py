"""API manual chapter 3: silent liveness on a video, and its result fields shared with 1.4."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from facegate.api.deps import CipherDep, EngineDep
from facegate.api.forms import Form, FormSpec, Param
from facegate.api.schemas import LivenessBody, responses
from facegate.core.crypto import Cipher
from facegate.core.types import LivenessOutcome
from facegate.ops.context import request_id_of
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


async def read_video(form: Form, cipher: Cipher) -> tuple[Video, VideoOptions, bool]:
    """The video, what to return with it, and ``return_status``."""
    video = Video(VIDEO, await form.encrypted(VIDEO, cipher))
    options = VideoOptions(
        return_image=form.flag("return_image"), return_face_image=form.flag("return_face_image")
    )
    return video, options, form.flag("return_status")


def liveness_fields(
    outcome: LivenessOutcome, return_status: bool, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The manual's field order: passed, liveness_score, liveness_status, [extra], images."""
    body: dict[str, Any] = {
        "code": 1000,
        "passed": outcome.passed,
        "liveness_score": round(float(outcome.score), 6),
    }
    if return_status:
        body["liveness_status"] = outcome.status
    body.update(extra or {})
    if outcome.image_jpeg is not None and outcome.image_timestamp is not None:
        body["image_timestamp"] = round(float(outcome.image_timestamp), 3)
        body["base64_image"] = base64.b64encode(outcome.image_jpeg).decode("ascii")
    if outcome.face_jpeg is not None:
        body["base64_face_image"] = base64.b64encode(outcome.face_jpeg).decode("ascii")
    return body


@router.post(
    "/silent_detection/stateless", openapi_extra=SILENT.openapi(), responses=responses(LivenessBody)
)
async def silent_detection(
    request: Request, form: Annotated[Form, Depends(SILENT)], cipher: CipherDep, engine: EngineDep
) -> JSONResponse:
    video, options, return_status = await read_video(form, cipher)
    outcome = await engine.silent_liveness(video, options)
    body = liveness_fields(outcome, return_status)
    body["request_id"] = request_id_of(request)
    return JSONResponse(body)
