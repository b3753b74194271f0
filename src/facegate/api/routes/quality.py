"""API manual chapter 2: photo quality."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from facegate.api.deps import CipherDep, EngineDep
from facegate.api.forms import Form, FormSpec, Param
from facegate.api.schemas import answer, responses
from facegate.core.results import QualityReport
from facegate.worker.interface import Photo

router = APIRouter(prefix="/quality")

IMAGE = "encrypted_image"
QUALITY = FormSpec(
    (Param(IMAGE, "encrypted", "The photo: JPEG, PNG, BMP, GIF or TIFF; at most 5 MB."),)
)


@router.post("/face/stateless", openapi_extra=QUALITY.openapi(), responses=responses(QualityReport))
async def face_quality(
    request: Request, form: Annotated[Form, Depends(QUALITY)], cipher: CipherDep, engine: EngineDep
) -> JSONResponse:
    photo = Photo(IMAGE, await form.encrypted(IMAGE, cipher))
    return answer(request, await engine.quality(photo))
