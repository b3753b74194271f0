"""The bodies the API answers with, as pydantic models: the OpenAPI document's response schemas
(``/facegate/v1/openapi.json``), each with an example, and what the API tests validate every
answer against (``extra="forbid"``: a field the code sends and the schema lacks fails them).

The routes build their bodies field by field in the manual's order; these models describe them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from facegate.cloud.errors import Status

RequestId = Field(
    description="32 hex digits; also in the X-Request-Id header and in every log line",
    pattern="^[0-9a-f]{32}$",
    examples=["0ecc5731b5664d1a9b9cfbdb9eff383d"],
)
Score = Field(
    ge=0.0,
    le=1.0,
    description="Calibrated: a threshold t in 0.4 … 0.9 accepts 10^-(10t-3) of impostors",
)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(Body):
    """Every failure of the SenseID endpoints; HTTP 400 for the manual's codes, else the code is
    the HTTP status (404, 411, 413, 500, 503)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": 4000,
                    "message": "detection failed: first_encrypted_image: no face found",
                    "request_id": "0ecc5731b5664d1a9b9cfbdb9eff383d",
                }
            ]
        }
    )
    code: int
    message: str = Field(description="the manual's text for the code, then what was wrong")
    request_id: str = RequestId


class VerifyBody(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": 1000,
                    "verification_score": 0.936477,
                    "request_id": "02655635e6704d1396085de380ccb48b",
                }
            ]
        }
    )
    code: Literal[1000]
    verification_score: float = Score
    request_id: str = RequestId


class FaceRects(Body):
    first_image_face_rects: list[list[int]] = Field(description="[left, top, right, bottom]")
    second_image_face_rects: list[list[int]]


class MultifaceBody(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": 1000,
                    "scores": [[0.912345, 0.201234]],
                    "face_rects": {
                        "first_image_face_rects": [[120, 80, 260, 250]],
                        "second_image_face_rects": [[40, 60, 150, 200], [300, 70, 400, 210]],
                    },
                    "request_id": "02655635e6704d1396085de380ccb48b",
                }
            ]
        }
    )
    code: Literal[1000]
    scores: list[list[float]] = Field(description="scores[i][j]: face i of the first photo "
                                      "against face j of the second, each calibrated")  # fmt: skip
    face_rects: FaceRects
    request_id: str = RequestId


class Rect(Body):
    left: int
    top: int
    right: int
    bottom: int


class PoseBody(Body):
    yaw: float
    pitch: float
    roll: float


class OcclusionBody(Body):
    left_eye: float
    right_eye: float
    nose: float
    mouth: float
    total: float


class FaceQualityBody(Body):
    rect: Rect
    pose: PoseBody
    occlusion: OcclusionBody
    distance2center: float
    size: float
    brightness: float
    sharpness: float
    mouth_open: float
    integrity: float


class QualityBody(Body):
    code: Literal[1000]
    faces: list[FaceQualityBody]
    request_id: str = RequestId


class LivenessBody(Body):
    """``liveness_status`` only with ``return_status=true``; the images only when asked for and
    when the check passed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": 1000,
                    "passed": True,
                    "liveness_score": 0.812345,
                    "liveness_status": "ok",
                    "request_id": "02655635e6704d1396085de380ccb48b",
                }
            ]
        }
    )
    code: Literal[1000]
    passed: bool
    liveness_score: float = Field(ge=0.0, le=1.0)
    liveness_status: Literal["ok", "hack", "short_time"] | None = None
    image_timestamp: float | None = Field(None, description="seconds into the video")
    base64_image: str | None = Field(None, description="the selected frame, JPEG")
    base64_face_image: str | None = Field(None, description="its face with a 30 % margin, JPEG")
    request_id: str = RequestId


class SilentVerifyBody(LivenessBody):
    """As the silent liveness body; ``verification_score`` only when the liveness check passed."""

    verification_score: float | None = Field(
        None, ge=0.0, le=1.0, description="Calibrated, as the photo endpoints' score"
    )


class HealthBody(Body):
    code: Literal[1000]
    status: Literal["ok"]


class CloudBody(Body):
    """The cloud API's success (seed 003); ``hack_score`` > 0.5 means the package looks like an
    attack (an answer, not an error: the caller decides)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_id": "TID8bf4a6b2c1d04e5f9a7b3c2d1e0f4a5b",
                    "status": "OK",
                    "hack_score": 0.21,
                    "verify_score": 0.936477,
                    "liveness_data_id": "5c0e0a9e3f2b4c1d8e7f6a5b4c3d2e1f",
                    "image_id": "a81d6f0e2c3b4a5f9e8d7c6b5a4f3e2d",
                }
            ]
        }
    )
    request_id: str = Field(pattern="^TID[0-9a-f]{32}$")
    status: Literal["OK"]
    hack_score: float = Field(ge=0.0, le=1.0)
    verify_score: float = Score
    liveness_data_id: str
    image_id: str


class CloudErrorBody(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "NO_FACE_DETECTED",
                    "image": "selfie_file",
                    "reason": "no face found in the selfie",
                    "request_id": "TID8bf4a6b2c1d04e5f9a7b3c2d1e0f4a5b",
                }
            ]
        }
    )
    status: Status
    image: str | None = Field(None, description="the input that failed")
    reason: str | None = None
    request_id: str = Field(pattern="^TID[0-9a-f]{32}$")


_ERRORS = {
    400: "a parameter, photo, video or package the manual's code table refuses (code 1200, "
    "2003 … 2008, 4000, 4004, 4007)",
    404: "unknown path, or a known path with another method",
    411: "a chunked body without Content-Length",
    413: "the body is over the route's limit (refused before it is read)",
    500: "a fault of ours, logged with the request id",
    503: "no inference worker or shared store can take the request now; retry after Retry-After "
    "seconds (nothing was done, so sending it again is safe)",
}


_CLOUD_ERRORS = {
    400: "an input the seed's status table refuses (ENCODING_ERROR, DOWNLOAD_*, IMAGE_*, "
    "NO_FACE_DETECTED, CORRUPT_IMAGE, INVALID_IMAGE_FORMAT_OR_SIZE, WRONG_LIVENESS_DATA, "
    "INVALID_ARGUMENT)",
    401: "UNAUTHORIZED (missing or wrong api_id/api_secret, revoked key) or KEY_EXPIRED",
    403: "RATE_LIMIT_EXCEEDED (with Retry-After), NO_PERMISSION or OUT_OF_QUOTA",
    404: "NOT_FOUND",
    500: "INTERNAL_ERROR: a fault of ours, logged with the request id",
    503: "INTERNAL_ERROR with Retry-After: the database, Redis or every inference worker is "
    "unreachable",
}


def cloud_responses() -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {200: {"model": CloudBody, "description": "success"}}
    for status, about in _CLOUD_ERRORS.items():
        out[status] = {"model": CloudErrorBody, "description": about}
    return out


def responses(
    success: type[BaseModel], errors: type[BaseModel] = ErrorBody
) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses``: its success body and every error status it can answer."""
    out: dict[int | str, dict[str, Any]] = {200: {"model": success, "description": "success"}}
    for status, about in _ERRORS.items():
        out[status] = {"model": ErrorBody, "description": about}
    return out
