"""Seed 003: ``POST /identity/liveness_selfie_verification``, the cloud API (``cloud.service``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from facegate.api.errors import cloud_error_response
from facegate.api.schemas import cloud_responses
from facegate.cloud.errors import CLOUD_PATH, Status, cloud_request_id
from facegate.cloud.service import CloudService, as_cloud_error
from facegate.core.results import public
from facegate.ops.context import request_id_of

router = APIRouter()

_SOURCES = {
    "selfie_file": ("The selfie as a file part (JPG, BMP, PNG, GIF or TIFF; ≤ 5 MB; sides 9 … 4000 "
                    "px).", True),
    "selfie_url": ("An http(s) URL to fetch the selfie from.", False),
    "selfie_image_id": ("The image_id of a selfie this key uploaded before.", False),
    "liveness_data_file": ("A liveness package as a file part.", True),
    "liveness_data_url": ("An http(s) URL to fetch the package from.", False),
    "liveness_data_id": ("The liveness_data_id of a package this key uploaded before.", False),
}  # fmt: skip
_BINARY = {"type": "string", "contentMediaType": "application/octet-stream"}
_CREDENTIALS = {
    "api_id": "The key's id (`facegate keys create`), in the query or the body.",
    "api_secret": "The key's secret, in the query or the body.",
}


def _body_schema(multipart: bool) -> dict[str, object]:
    props: dict[str, object] = {
        name: {**(_BINARY if file and multipart else {"type": "string"}), "description": about}
        for name, (about, file) in _SOURCES.items()
    }
    props["selfie_auto_rotate"] = {
        "type": "string",
        "enum": ["true", "false", "1", "0", ""],
        "description": "Also turn the selfie to find a face.",
    }
    props.update({k: {"type": "string", "description": v} for k, v in _CREDENTIALS.items()})
    return {"type": "object", "properties": props}


# The cloud form is read by cloud/form.py (strict UTF-8, exactly one source of each input); this
# describes it: one of selfie_file / selfie_url / selfie_image_id, one of liveness_data_file /
# liveness_data_url / liveness_data_id.
OPENAPI = {
    "parameters": [
        {"name": k, "in": "query", "required": False, "schema": {"type": "string"},
         "description": v}
        for k, v in _CREDENTIALS.items()
    ],
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": _body_schema(True)},
            "application/x-www-form-urlencoded": {"schema": _body_schema(False)},
        },
    },
}  # fmt: skip


@router.post(CLOUD_PATH, openapi_extra=OPENAPI, responses=cloud_responses())
async def liveness_selfie_verification(request: Request) -> JSONResponse:
    service: CloudService = request.app.state.cloud
    try:
        body = await service.handle(request)
    except Exception as exc:  # every failure is answered in the cloud API's own envelope
        return cloud_error_response(request, as_cloud_error(exc))
    request.state.code = Status.OK.value
    return JSONResponse({"request_id": cloud_request_id(request_id_of(request)), **public(body)})
