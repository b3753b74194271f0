"""API manual chapter 2: photo quality."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from facegate.api.deps import CipherDep, EngineDep
from facegate.api.forms import Form, FormSpec, Param
from facegate.api.schemas import QualityBody, responses
from facegate.core.types import FaceQuality
from facegate.ops.context import request_id_of
from facegate.worker.interface import Photo

router = APIRouter(prefix="/quality")

IMAGE = "encrypted_image"
QUALITY = FormSpec(
    (Param(IMAGE, "encrypted", "The photo: JPEG, PNG, BMP, GIF or TIFF; at most 5 MB."),)
)


def _r(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


def face_json(q: FaceQuality) -> dict[str, object]:
    left, top, right, bottom = q.rect.as_ints()
    return {
        "rect": {"left": left, "top": top, "right": right, "bottom": bottom},
        "pose": {
            "yaw": _r(q.pose.yaw, 2),
            "pitch": _r(q.pose.pitch, 2),
            "roll": _r(q.pose.roll, 2),
        },
        "occlusion": {
            "left_eye": _r(q.occlusion.left_eye),
            "right_eye": _r(q.occlusion.right_eye),
            "nose": _r(q.occlusion.nose),
            "mouth": _r(q.occlusion.mouth),
            "total": _r(q.occlusion.total),
        },
        "distance2center": _r(q.distance2center),
        "size": _r(q.size),
        "brightness": _r(q.brightness),
        "sharpness": _r(q.sharpness),
        "mouth_open": _r(q.mouth_open),
        "integrity": _r(q.integrity),
    }


@router.post("/face/stateless", openapi_extra=QUALITY.openapi(), responses=responses(QualityBody))
async def face_quality(
    request: Request, form: Annotated[Form, Depends(QUALITY)], cipher: CipherDep, engine: EngineDep
) -> JSONResponse:
    photo = Photo(IMAGE, await form.encrypted(IMAGE, cipher))
    result = await engine.quality(photo)
    return JSONResponse(
        {
            "code": 1000,
            "faces": [face_json(f) for f in result.faces],
            "request_id": request_id_of(request),
        }
    )
