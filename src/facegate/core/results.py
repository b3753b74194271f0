"""Every result the service returns, declared once.

Each model here is what three readers derive their view from:

- the SenseID routes: :func:`public` gives a result's JSON fields in the manual's order, names
  and rounding (``{"code": 1000, ...public fields..., "request_id"}``);
- the worker wire: :func:`to_wire` / :func:`from_wire` carry the whole model (internal fields
  included, floats unrounded and bit-exact) between the API tier and a worker;
- the API bodies below (``Verification`` … ``SilentVerification``): the OpenAPI response schemas
  and the typed results that the SDK parses answers into.

So a new field of, say, a face's quality is one line in :class:`FaceQuality` plus the code that
measures it. The fields the manual's bodies show come first in each engine result; the
engine-only ones (why a liveness check refused, the package check's evidence) are declared in
the engine result's own class and never leave the service.

Field order is JSON order: a body's fields are collected along the reversed MRO, so a body class
lists its parts last-first (``class SilentVerification(_Id, _Images, _Compared, _Verdict, _Code)``
answers ``code, passed, …, verification_score, image_timestamp, …, request_id``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    WrapSerializer,
)
from pydantic_core.core_schema import SerializationInfo, SerializerFunctionWrapHandler

__all__ = [
    "ActionSeen",
    "CloudResult",
    "CloudVerification",
    "EngineStatus",
    "FaceQuality",
    "FaceRects",
    "LivenessModel",
    "LivenessOutcome",
    "LivenessStatus",
    "MultiFaceResult",
    "MultifaceVerification",
    "Occlusion",
    "PackageLivenessResult",
    "PackageVerifyResult",
    "Pose",
    "QualityReport",
    "QualityResult",
    "Rect",
    "Result",
    "SessionAction",
    "SessionCreated",
    "SessionView",
    "SilentLiveness",
    "SilentVerification",
    "SilentVerifyResult",
    "StatusDocument",
    "ValidationError",
    "Verification",
    "VerifyResult",
    "WorkerState",
    "from_wire",
    "public",
    "to_wire",
]

_PUBLIC = "public"
_R = TypeVar("_R", bound="Result")


def _rounded(digits: int) -> WrapSerializer:
    """Rounded to ``digits`` in the API's view, as the manual prints it; exact elsewhere."""

    def serialize(
        value: float, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        if info.context == _PUBLIC:
            return round(float(value), digits)
        return handler(value)

    return WrapSerializer(serialize, return_type=float)


def _from_base64(value: object) -> object:
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not base64") from None
    return value


Jpeg = Annotated[
    bytes,
    BeforeValidator(_from_base64),
    PlainSerializer(lambda b: base64.b64encode(b).decode("ascii"), when_used="json"),
    WithJsonSchema(
        {"type": "string", "contentEncoding": "base64", "contentMediaType": "image/jpeg"}
    ),
]
"""JPEG bytes; standard base64 in JSON (the API's bodies and the worker wire alike)."""

Score = Annotated[
    float,
    Field(ge=0.0, le=1.0, description="Calibrated: a threshold t in 0.4 … 0.9 accepts "
          "10^-(10t-3) of impostors"),
    _rounded(6),
]  # fmt: skip
Unit = Annotated[float, Field(ge=0.0, le=1.0), _rounded(6)]
Digits4 = Annotated[float, _rounded(4)]
Degrees = Annotated[float, Field(description="degrees"), _rounded(2)]
LivenessStatus = Literal["ok", "hack", "short_time"]


class Result(BaseModel):
    """A value the service returns: immutable, and a field it does not declare is an error."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        ser_json_inf_nan="constants",  # a NaN crosses the wire as NaN, not as null
    )
    shown: ClassVar[frozenset[str]] = frozenset()
    """The fields the API's body shows (an engine result's; empty for parts and bodies)."""


# --- parts of several results -------------------------------------------------------------------


class Rect(Result):
    """A face box in pixels of the photo as sent; right and bottom are exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    @classmethod
    def of(cls, corners: tuple[int, int, int, int]) -> Rect:
        left, top, right, bottom = corners
        return cls(left=left, top=top, right=right, bottom=bottom)


def _corners_in(value: object) -> object:
    if isinstance(value, list | tuple):
        if len(value) != 4:
            raise ValueError("a rect is [left, top, right, bottom]")
        return dict(zip(("left", "top", "right", "bottom"), value, strict=True))
    return value


Corners = Annotated[
    Rect,
    BeforeValidator(_corners_in),
    PlainSerializer(lambda r: [r.left, r.top, r.right, r.bottom]),
    WithJsonSchema(
        {
            "type": "array",
            "items": {"type": "integer"},
            "minItems": 4,
            "maxItems": 4,
            "description": "[left, top, right, bottom]",
        }
    ),
]
"""A :class:`Rect` written as ``[left, top, right, bottom]`` (manual 1.2)."""


class Pose(Result):
    yaw: Degrees
    pitch: Degrees
    roll: Degrees


class Occlusion(Result):
    """Visible fraction of each region in [0, 1]; 1 = fully visible."""

    left_eye: Digits4
    right_eye: Digits4
    nose: Digits4
    mouth: Digits4
    total: Digits4


class FaceQuality(Result):
    """One face of manual 2.1; each measure as the manual defines it."""

    rect: Rect
    pose: Pose
    occlusion: Occlusion
    distance2center: Digits4
    size: Digits4
    brightness: Digits4
    sharpness: Digits4
    mouth_open: Digits4
    integrity: Digits4


class FaceRects(Result):
    """In the order of the score matrix's rows (first photo) and columns (second photo)."""

    first_image_face_rects: tuple[Corners, ...]
    second_image_face_rects: tuple[Corners, ...]


# --- what the manual's bodies show --------------------------------------------------------------
# Each a part of a result; the results and the bodies below are assembled from them.


class _Verified(Result):
    verification_score: Score


class _Multiface(Result):
    scores: tuple[tuple[Score, ...], ...] = Field(
        description="scores[i][j]: face i of the first photo against face j of the second"
    )
    face_rects: FaceRects


class _Quality(Result):
    faces: tuple[FaceQuality, ...] = Field(description="one entry per face found")


class _Verdict(Result):
    passed: bool
    liveness_score: Unit
    liveness_status: LivenessStatus = Field(
        description="in the API's bodies only with return_status=true"
    )


class _Compared(Result):
    verification_score: Score | None = Field(
        None, description="only when the liveness check passed"
    )


class _Images(Result):
    """Only when asked for (``return_image``, ``return_face_image``) and when the check passed."""

    image_timestamp: Annotated[float, _rounded(3)] | None = Field(
        None, description="seconds into the video of the selected frame"
    )
    image: Jpeg | None = Field(None, alias="base64_image", description="the selected frame")
    face_image: Jpeg | None = Field(
        None, alias="base64_face_image", description="its face with a 30 % margin"
    )


class _Refusal(Result):
    """Why a check refused (for logs, metrics and the 2007 message; no body shows it)."""

    refused_by: str = ""  # the expert or check that decided: "print", "replay", "action", …
    evidence: tuple[str, ...] = ()  # its strongest cues


# --- the engine's results (the worker wire carries these whole) ---------------------------------


class VerifyResult(_Verified):
    """Manual 1.1."""

    shown: ClassVar[frozenset[str]] = frozenset(_Verified.model_fields)


class MultiFaceResult(_Multiface):
    """Manual 1.2."""

    shown: ClassVar[frozenset[str]] = frozenset(_Multiface.model_fields)


class QualityResult(_Quality):
    """Manual 2.1."""

    shown: ClassVar[frozenset[str]] = frozenset(_Quality.model_fields)


class LivenessOutcome(_Refusal, _Images, _Verdict):
    """Manual 3.1: silent liveness of a video."""

    shown: ClassVar[frozenset[str]] = frozenset({*_Verdict.model_fields, *_Images.model_fields})


class SilentVerifyResult(_Refusal, _Images, _Compared, _Verdict):
    """Manual 1.4: silent liveness of a video and its face compared with a photo."""

    shown: ClassVar[frozenset[str]] = frozenset(
        {*_Verdict.model_fields, *_Compared.model_fields, *_Images.model_fields}
    )

    @property
    def liveness(self) -> LivenessOutcome:
        return LivenessOutcome.model_validate(self.model_dump(exclude={"verification_score"}))


class ActionSeen(Result):
    kind: str
    level: float  # the action's measured strength; 1 is the least that counts
    frame: int | None = None  # where it was reached (prompted) or strongest, in the package


class _PackageCheck(_Refusal):
    liveness_score: float = Field(description="the server's own, on the package's frames")
    actions: tuple[ActionSeen, ...] = ()  # each claimed action and the level seen
    hack_score: float = 0.0  # 0 … 1, above 0.5 an attack (package_check.hack_score)
    attack: str = ""  # why the package is taken for an attack; empty when it passed


class PackageLivenessResult(_PackageCheck):
    """A package's liveness alone (a browser capture session's decision): no photo compared."""

    selected: int = Field(description="the index of the frame chosen for comparison")

    @property
    def passed(self) -> bool:
        return not self.attack


class PackageVerifyResult(_PackageCheck, _Verified):
    """Manual 1.3 (its body is 1.1's) and the cloud's liveness selfie verification."""

    shown: ClassVar[frozenset[str]] = frozenset(_Verified.model_fields)

    @property
    def passed(self) -> bool:
        return not self.attack


class _CloudVerified(Result):
    """The cloud API's liveness selfie verification (seed 003); ``hack_score`` > 0.5 means the
    package looks like an attack (an answer, not an error: the caller decides)."""

    status: Literal["OK"] = "OK"
    hack_score: Unit
    verify_score: Score
    liveness_data_id: str = Field(description="the stored package's id, to verify it again")
    image_id: str = Field(description="the stored selfie's id")


class CloudResult(_CloudVerified):
    shown: ClassVar[frozenset[str]] = frozenset(_CloudVerified.model_fields)


class LivenessModel(Result):
    fusion: str = Field(description="the shipped fusion's name")
    threshold: float
    pack: bool = Field(description="whether the MiniFASNet pack runs")
    predicted: dict[str, Any] = Field(
        description="what the fit predicted for people and cameras it never saw"
    )
    shortfalls: tuple[str, ...] = Field((), description="the fit's targets it misses")


class WorkerState(Result):
    url: str
    healthy: bool
    in_flight: int


class _Engine(Result):
    """What answers here: an in-process engine's profile, models and calibration, or an API
    tier's workers."""

    profile: str | None = None
    models: dict[str, str] | None = Field(None, description="model id → sha256 of its file")
    embedding_contract: str | None = None
    calibration: dict[str, Any] | None = None
    liveness: LivenessModel | None = None
    workers: tuple[WorkerState, ...] | None = None


class EngineStatus(_Engine):
    shown: ClassVar[frozenset[str]] = frozenset(_Engine.model_fields)


def public(result: Result, *, omit: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The fields the manual's body shows, in its order, names and rounding; a field that is
    None is left out (the images when not asked for, the score of a failed 1.4)."""
    shown: frozenset[str] = type(result).shown
    return result.model_dump(
        mode="json", by_alias=True, include=set(shown - omit), exclude_none=True, context=_PUBLIC
    )


def to_wire(result: Result) -> bytes:
    """The whole result as JSON: every field, floats unrounded (shortest round-trip form)."""
    return result.model_dump_json().encode()


def from_wire(cls: type[_R], body: bytes) -> _R:
    return cls.model_validate_json(body)


# --- the API's bodies: the OpenAPI response schemas and the SDK's results -----------------------


class Body(Result):
    """An answer of a SenseID endpoint (the SDK validates answers strictly: a number where a
    flag belongs, or a field the answer lacks, is the server's fault, not the caller's)."""


class _Code(Body):
    code: Literal[1000]


class _Id(Body):
    request_id: str = Field(
        description="32 hex digits; also in the X-Request-Id header and in every log line",
        examples=["0ecc5731b5664d1a9b9cfbdb9eff383d"],
    )


def _example(**fields: Any) -> ConfigDict:
    body = {"code": 1000, **fields, "request_id": "02655635e6704d1396085de380ccb48b"}
    return ConfigDict(json_schema_extra={"examples": [body]})


class Verification(_Id, _Verified, _Code):
    """Manual 1.1 and 1.3: ``verification_score`` in [0, 1]; the manual recommends > 0.7."""

    model_config = _example(verification_score=0.936477)


class MultifaceVerification(_Id, _Multiface, _Code):
    """Manual 1.2: ``scores[i][j]`` compares face i of the first photo with face j of the
    second; the face rects are in the order of the rows and the columns."""

    model_config = _example(
        scores=[[0.912345, 0.201234]],
        face_rects={
            "first_image_face_rects": [[120, 80, 260, 250]],
            "second_image_face_rects": [[40, 60, 150, 200], [300, 70, 400, 210]],
        },
    )

    @property
    def first_image_face_rects(self) -> tuple[Rect, ...]:
        return self.face_rects.first_image_face_rects

    @property
    def second_image_face_rects(self) -> tuple[Rect, ...]:
        return self.face_rects.second_image_face_rects


class QualityReport(_Id, _Quality, _Code):
    """Manual 2.1: one entry per face found in the photo."""

    model_config = _example(
        faces=[
            {
                "rect": {"left": 212, "top": 118, "right": 398, "bottom": 344},
                "pose": {"yaw": -3.12, "pitch": 4.8, "roll": 1.05},
                "occlusion": {"left_eye": 1.0, "right_eye": 1.0, "nose": 0.9987, "mouth": 1.0,
                              "total": 0.9996},
                "distance2center": 0.0421,
                "size": 0.0839,
                "brightness": 0.5312,
                "sharpness": 0.8123,
                "mouth_open": 0.0312,
                "integrity": 1.0,
            }
        ]
    )  # fmt: skip


class SilentLiveness(_Id, _Images, _Verdict, _Code):
    """Manual 3.1. ``liveness_status`` only with ``return_status``; ``image`` and
    ``face_image`` (``base64_image``, ``base64_face_image``: JPEG) only when asked for and
    passed."""

    model_config = _example(passed=True, liveness_score=0.812345, liveness_status="ok")
    liveness_status: LivenessStatus | None = Field(  # type: ignore[assignment]
        None, description="ok, hack or short_time; only with return_status=true"
    )


class SilentVerification(_Id, _Images, _Compared, _Verdict, _Code):
    """Manual 1.4: silent liveness of the video, then its face compared with the photo;
    ``verification_score`` is None when the liveness check did not pass."""

    model_config = _example(
        passed=True, liveness_score=0.812345, liveness_status="ok", verification_score=0.936477
    )
    liveness_status: LivenessStatus | None = Field(  # type: ignore[assignment]
        None, description="ok, hack or short_time; only with return_status=true"
    )


class _CloudId(Body):
    request_id: str = Field(pattern="^TID[0-9a-f]{32}$", description="TID and 32 hex digits")


class CloudVerification(_CloudVerified, _CloudId):
    """The cloud API's success (seed 003): ``request_id`` first, as its sample shows."""

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


class _Version(Body):
    version: str


class StatusDocument(_Engine, _Id, _Version):
    """``GET /facegate/v1/status`` (not part of the SenseID API)."""


# --- browser capture sessions (facegate's own JSON API, not SenseID's) --------------------------


class SessionCreated(Body):
    """``POST /facegate/v1/liveness/sessions``: what the relying party's backend hands its page
    (the session id and client token, or the capture URL holding both in its fragment)."""

    session_id: str = Field(pattern="^[0-9a-f]{32}$")
    client_token: str = Field(
        description="single use; opens this session's stream and nothing else"
    )
    expires_at: str = Field(description="ISO 8601, UTC")
    capture_url: str = Field(description="the hosted capture page, the session in its fragment")


class SessionAction(Result):
    kind: str
    prompted_at_ms: int = Field(description="capture time of the prompt, from the first frame")
    seen_at_ms: int | None = Field(
        None,
        description="capture time of the first frame, after the subject was at rest, where the "
        "action was reached (from the first frame); null unless the session passed",
    )


class SessionView(Body):
    """``GET /facegate/v1/liveness/sessions/{id}``: the session's state and, once decided, its
    outcome; the images are the frames the decision was made on (base64 JPEG)."""

    session_id: str
    status: Literal["created", "capturing", "passed", "failed", "expired"]
    mode: Literal["silent", "interactive"]
    liveness_score: float | None = None
    reason: str | None = Field(None, description="why it failed, in words")
    actions: tuple[SessionAction, ...] = ()
    reference_image: Jpeg | None = Field(None, description="the frame chosen for comparison")
    audit_images: tuple[Jpeg, ...] = Field((), max_length=4)
    liveness_data_id: str | None = Field(
        None, description="the stored package, for the cloud API's liveness_data_id"
    )


BODY_OF: dict[type[Result], type[Body]] = {
    EngineStatus: StatusDocument,
    CloudResult: CloudVerification,
    VerifyResult: Verification,
    PackageVerifyResult: Verification,
    MultiFaceResult: MultifaceVerification,
    QualityResult: QualityReport,
    LivenessOutcome: SilentLiveness,
    SilentVerifyResult: SilentVerification,
}
"""The body each engine result is answered as (the test that every field is shown checks it)."""
