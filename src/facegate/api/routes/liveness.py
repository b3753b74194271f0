"""API manual chapter 3: silent liveness on a video, and its result fields shared with 1.4."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from facegate.api.deps import CipherDep, EngineDep, FormDep
from facegate.api.forms import Form
from facegate.core.crypto import Cipher
from facegate.core.types import LivenessOutcome
from facegate.ops.context import request_id_of
from facegate.worker.interface import Video, VideoOptions

router = APIRouter(prefix="/liveness")

VIDEO = "encrypted_video"


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


@router.post("/silent_detection/stateless")
async def silent_detection(
    request: Request, form: FormDep, cipher: CipherDep, engine: EngineDep
) -> JSONResponse:
    video, options, return_status = await read_video(form, cipher)
    outcome = await engine.silent_liveness(video, options)
    body = liveness_fields(outcome, return_status)
    body["request_id"] = request_id_of(request)
    return JSONResponse(body)
