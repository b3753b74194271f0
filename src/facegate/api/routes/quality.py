"""API manual chapter 2: photo quality."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from facegate.api.deps import CipherDep, EngineDep, FormDep
from facegate.core.types import FaceQuality
from facegate.ops.context import request_id_of
from facegate.worker.interface import Photo

router = APIRouter(prefix="/quality")

IMAGE = "encrypted_image"


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


@router.post("/face/stateless")
async def face_quality(
    request: Request, form: FormDep, cipher: CipherDep, engine: EngineDep
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
