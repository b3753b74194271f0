"""A typed, synchronous client for every facegate (SenseID 1v1) endpoint.

::

    from facegate.sdk import FacegateClient, NoFaceDetected

    with FacegateClient("http://127.0.0.1:3000", key=KEY, iv=IV) as fg:
        try:
            result = fg.verify("id_card.jpg", selfie_bytes)
        except NoFaceDetected as exc:
            ...
        print(result.verification_score, result.request_id)

Photos and videos are encrypted as the server expects (AES-256-GCM, base64; manual §2) before
they leave the process. Every method returns a frozen dataclass carrying the ``request_id``;
every failure raises one of the exceptions of :mod:`facegate.sdk.errors`.

For tests, pass any httpx-compatible client as ``http`` (``fastapi.testclient.TestClient(app)``,
``httpx.Client(transport=httpx.MockTransport(handler))``).
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

import httpx

from facegate.core.crypto import IV_LENGTH, Cipher

# The manual's pose and occlusion fields are the server's own types.
from facegate.core.types import Occlusion, Pose
from facegate.sdk.errors import (
    ConnectError,
    ProtocolError,
    Timeout,
    TransportError,
    error_for,
)

__all__ = [
    "FaceQuality",
    "FacegateClient",
    "HTTPClient",
    "HTTPResponse",
    "Health",
    "MultifaceVerification",
    "Occlusion",
    "Pose",
    "QualityReport",
    "Rect",
    "SilentLiveness",
    "SilentVerification",
    "Source",
    "Verification",
]

# The HTTP library's exceptions, mapped onto ours. ``httpx2`` (the fork that Starlette's
# TestClient is built on) is mapped too when it is installed.
_CONNECT: tuple[type[Exception], ...] = (httpx.ConnectError,)
_TIMEOUT: tuple[type[Exception], ...] = (httpx.TimeoutException,)
_DECODING: tuple[type[Exception], ...] = (httpx.DecodingError,)
_OTHER: tuple[type[Exception], ...] = (httpx.HTTPError,)
try:
    import httpx2
except ImportError:  # pragma: no cover - httpx2 is only a test dependency
    pass
else:
    _CONNECT += (httpx2.ConnectError,)
    _TIMEOUT += (httpx2.TimeoutException,)
    _DECODING += (httpx2.DecodingError,)
    _OTHER += (httpx2.HTTPError,)

Source = bytes | str | os.PathLike[str]
"""A photo, video or liveness package: its bytes, or the path of a file holding them."""


class HTTPResponse(Protocol):
    """What the client reads of an answer (``httpx.Response`` and its look-alikes)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...


class HTTPClient(Protocol):
    """What the client needs of an HTTP client: ``httpx.Client``, Starlette's ``TestClient``."""

    def post(
        self,
        url: str,
        *,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> HTTPResponse: ...

    def get(self, url: str) -> HTTPResponse: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rect:
    """A face box in pixels of the photo as sent; the origin is its top-left corner."""

    left: int
    top: int
    right: int
    bottom: int


@dataclass(frozen=True, slots=True)
class FaceQuality:
    """One face of :meth:`FacegateClient.quality` (manual 2.1); scores as the manual defines."""

    rect: Rect
    pose: Pose
    occlusion: Occlusion
    distance2center: float
    size: float
    brightness: float
    sharpness: float
    mouth_open: float
    integrity: float


@dataclass(frozen=True, slots=True)
class Verification:
    """Manual 1.1 and 1.3: ``verification_score`` in [0, 1]; the manual recommends > 0.7."""

    verification_score: float
    request_id: str


@dataclass(frozen=True, slots=True)
class MultifaceVerification:
    """Manual 1.2: ``scores[i][j]`` compares face i of the first photo with face j of the second.

    The face rects are in the same order as the rows (first photo) and columns (second photo).
    """

    scores: tuple[tuple[float, ...], ...]
    first_image_face_rects: tuple[Rect, ...]
    second_image_face_rects: tuple[Rect, ...]
    request_id: str


@dataclass(frozen=True, slots=True)
class SilentLiveness:
    """Manual 3.1. Optional fields are None unless asked for (and, for images, passed).

    ``image`` and ``face_image`` are the decoded JPEG bytes of ``base64_image`` and
    ``base64_face_image``; ``liveness_status`` is ``"ok"``, ``"hack"`` or ``"short_time"``.
    """

    passed: bool
    liveness_score: float
    request_id: str
    liveness_status: str | None = None
    image_timestamp: float | None = None
    image: bytes | None = None
    face_image: bytes | None = None


@dataclass(frozen=True, slots=True)
class SilentVerification:
    """Manual 1.4: silent liveness of the video, and its face compared with the photo.

    ``verification_score`` is None when the liveness check did not pass.
    """

    passed: bool
    liveness_score: float
    request_id: str
    verification_score: float | None = None
    liveness_status: str | None = None
    image_timestamp: float | None = None
    image: bytes | None = None
    face_image: bytes | None = None


@dataclass(frozen=True, slots=True)
class QualityReport:
    """Manual 2.1: one entry per face found in the photo."""

    faces: tuple[FaceQuality, ...]
    request_id: str


@dataclass(frozen=True, slots=True)
class Health:
    """``GET /healthcheck``. facegate's body has no request id: it comes from ``X-Request-Id``."""

    status: str
    request_id: str | None


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------

VERIFY_PATH = "/identity/image_verification/stateless"
MULTIFACE_PATH = "/identity/multiface_image_omni_verification/stateless"
LIVENESS_VERIFY_PATH = "/identity/liveness_image_verification/stateless"
SILENT_VERIFY_PATH = "/identity/silent_image_verification/stateless"
SILENT_LIVENESS_PATH = "/liveness/silent_detection/stateless"
QUALITY_PATH = "/quality/face/stateless"
HEALTH_PATH = "/healthcheck"

_DUMMY_IV = "\0" * IV_LENGTH  # never used to encrypt: without an IV every message gets a nonce


class FacegateClient:
    """A synchronous client for one facegate (or SenseID 1v1) server.

    ``key`` and ``iv`` are the server's ``PARAM_DECRYPT_KEY`` (32 characters) and
    ``PARAM_DECRYPT_IV`` (12 characters). With an ``iv``, parameters are encrypted in the
    manual's form under that fixed IV, which every SenseID server understands; with
    ``random_nonce=True`` or without an ``iv``, each one gets a fresh random nonce instead
    (``nonce ‖ ciphertext ‖ tag``), which facegate accepts and which does not reuse GCM nonces.

    ``timeout`` (seconds) applies to the client built here; when ``http`` is given, that
    client is used as it is (with its own timeouts) and is not closed by :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        key: str,
        iv: str | None = None,
        timeout: float = 30.0,
        http: HTTPClient | None = None,
        random_nonce: bool = False,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._cipher = Cipher(key, iv if iv is not None else _DUMMY_IV)
        self._random_nonce = random_nonce or iv is None
        self._owns_http = http is None
        self._http: HTTPClient = http if http is not None else httpx.Client(timeout=timeout)

    @property
    def base_url(self) -> str:
        return self._base_url

    def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FacegateClient({self._base_url!r})"

    # -- endpoints -----------------------------------------------------------------------------

    def verify(
        self,
        first: Source,
        second: Source,
        *,
        auto_rotate: bool = False,
        check_quality: bool = False,
    ) -> Verification:
        """Compare the largest face of two photos (manual 1.1)."""
        body = self._post(
            VERIFY_PATH,
            {
                "first_encrypted_image": self._encrypt(first),
                "second_encrypted_image": self._encrypt(second),
                "auto_rotate": _flag(auto_rotate),
                "check_quality": _flag(check_quality),
            },
        )
        return Verification(_float(body, "verification_score"), _request_id(body))

    def multiface_verify(
        self, first: Source, second: Source, *, auto_rotate: bool = False
    ) -> MultifaceVerification:
        """Compare every face of one photo with every face of the other (manual 1.2)."""
        body = self._post(
            MULTIFACE_PATH,
            {
                "first_encrypted_image": self._encrypt(first),
                "second_encrypted_image": self._encrypt(second),
                "auto_rotate": _flag(auto_rotate),
            },
        )
        rows = _list(body, "scores")
        scores = tuple(tuple(_number(v, "scores") for v in _as_list(row, "scores")) for row in rows)
        rects = _dict(body, "face_rects")
        return MultifaceVerification(
            scores=scores,
            first_image_face_rects=_rect_list(rects, "first_image_face_rects"),
            second_image_face_rects=_rect_list(rects, "second_image_face_rects"),
            request_id=_request_id(body),
        )

    def liveness_verify(
        self,
        liveness_file: Source,
        photo: Source,
        *,
        auto_rotate: bool = False,
        check_quality: bool = False,
    ) -> Verification:
        """Compare a capture SDK's liveness package with a photo (manual 1.3).

        The package is sent as it is, as the multipart file part ``liveness_file``: it is
        already encrypted by the SDK that made it.
        """
        body = self._post(
            LIVENESS_VERIFY_PATH,
            {
                "encrypted_image": self._encrypt(photo),
                "auto_rotate": _flag(auto_rotate),
                "check_quality": _flag(check_quality),
            },
            files={
                "liveness_file": ("liveness_file", _read(liveness_file), "application/octet-stream")
            },
        )
        return Verification(_float(body, "verification_score"), _request_id(body))

    def silent_verify(
        self,
        video: Source,
        photo: Source,
        *,
        return_status: bool = False,
        return_image: bool = False,
        return_face_image: bool = False,
        auto_rotate: bool = False,
        check_quality: bool = False,
    ) -> SilentVerification:
        """Silent liveness on a video, then its face compared with a photo (manual 1.4)."""
        body = self._post(
            SILENT_VERIFY_PATH,
            {
                "encrypted_image": self._encrypt(photo),
                "auto_rotate": _flag(auto_rotate),
                "check_quality": _flag(check_quality),
                **_liveness_flags(return_status, return_image, return_face_image),
            },
            files=self._video_part(video),
        )
        return SilentVerification(
            verification_score=_opt_float(body, "verification_score"), **_liveness_fields(body)
        )

    def silent_liveness(
        self,
        video: Source,
        *,
        return_status: bool = False,
        return_image: bool = False,
        return_face_image: bool = False,
    ) -> SilentLiveness:
        """Is the person in the video a live human (manual 3.1)?"""
        body = self._post(
            SILENT_LIVENESS_PATH,
            _liveness_flags(return_status, return_image, return_face_image),
            files=self._video_part(video),
        )
        return SilentLiveness(**_liveness_fields(body))

    def quality(self, photo: Source) -> QualityReport:
        """Quality of every face in the photo (manual 2.1)."""
        body = self._post(QUALITY_PATH, {"encrypted_image": self._encrypt(photo)})
        faces = tuple(_face_quality(_as_dict(f, "faces")) for f in _list(body, "faces"))
        return QualityReport(faces, _request_id(body))

    def health(self) -> Health:
        """``GET /healthcheck``: ``status`` is ``"ok"`` when the server is up.

        Both bodies of the manual are understood: the API server's ``{"code": 1000, "status"}``
        and the worker's ``{"request_id", "status"}``.
        """
        response = self._send(lambda: self._http.get(self._base_url + HEALTH_PATH))
        body = _body(response, code_required=False)
        request_id = _opt_str(body, "request_id") or response.headers.get("x-request-id")
        return Health(_str(body, "status"), request_id)

    # -- plumbing ------------------------------------------------------------------------------

    def _encrypt(self, source: Source) -> str:
        return self._cipher.encrypt(_read(source), random_nonce=self._random_nonce)

    def _video_part(self, video: Source) -> dict[str, tuple[str, bytes, str]]:
        # Multipart, so a 16 MB video is not percent-encoded into a 30 MB form body.
        return {"encrypted_video": ("encrypted_video", self._encrypt(video).encode(), "text/plain")}

    def _post(
        self,
        path: str,
        data: Mapping[str, str],
        *,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        url = self._base_url + path
        return _body(self._send(lambda: self._http.post(url, data=data, files=files)))

    @staticmethod
    def _send(call: Callable[[], HTTPResponse]) -> HTTPResponse:
        try:
            response = call()
        except _CONNECT as exc:
            raise ConnectError(str(exc) or type(exc).__name__) from exc
        except _TIMEOUT as exc:
            raise Timeout(str(exc) or type(exc).__name__) from exc
        except _DECODING as exc:
            raise ProtocolError(str(exc) or type(exc).__name__) from exc
        except _OTHER as exc:
            raise TransportError(str(exc) or type(exc).__name__) from exc
        return response


# ---------------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------------

_STATUS_ONLY = (404, 411, 413)


def _body(response: HTTPResponse, *, code_required: bool = True) -> dict[str, Any]:
    """The JSON object of a success, or the exception of an error envelope."""
    status = response.status_code
    content = response.content
    parsed = _json_object(content)
    if status == 200:
        if parsed is None:
            raise ProtocolError("the answer is not a JSON object", http_status=status, body=content)
        if parsed.get("code") != 1000 and (code_required or "code" in parsed):
            raise _protocol(f"HTTP 200 with code {parsed.get('code')!r}, not 1000", status, content)
        return parsed
    envelope = _envelope(parsed)
    if envelope is None:
        if status in _STATUS_ONLY or status >= 500:
            text = content[:200].decode("utf-8", "replace").strip()
            raise error_for(
                status,
                text or f"HTTP {status}",
                response.headers.get("x-request-id"),
                status,
                retry_after=_retry_after(response.headers),
            )
        raise _protocol(f"HTTP {status} without an error envelope", status, content)
    code, message, request_id = envelope
    raise error_for(code, message, request_id, status, retry_after=_retry_after(response.headers))


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _envelope(body: dict[str, Any] | None) -> tuple[int, str, str | None] | None:
    if body is None:
        return None
    code, message, request_id = body.get("code"), body.get("message"), body.get("request_id")
    if not isinstance(code, int) or isinstance(code, bool) or not isinstance(message, str):
        return None
    return code, message, request_id if isinstance(request_id, str) else None


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _liveness_flags(status: bool, image: bool, face_image: bool) -> dict[str, str]:
    return {
        "return_status": _flag(status),
        "return_image": _flag(image),
        "return_face_image": _flag(face_image),
    }


def _liveness_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The fields 3.1 and 1.4 answer alike (1.4 adds ``verification_score``)."""
    return {
        "passed": _bool(body, "passed"),
        "liveness_score": _float(body, "liveness_score"),
        "request_id": _request_id(body),
        "liveness_status": _opt_str(body, "liveness_status"),
        "image_timestamp": _opt_float(body, "image_timestamp"),
        "image": _opt_image(body, "base64_image"),
        "face_image": _opt_image(body, "base64_face_image"),
    }


def _protocol(message: str, status: int, content: bytes) -> ProtocolError:
    return ProtocolError(message, http_status=status, body=content)


def _missing(name: str, expected: str) -> ProtocolError:
    return ProtocolError(f"the answer's {name!r} is missing or not {expected}")


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _missing(name, "a number")
    return float(value)


def _float(body: Mapping[str, Any], name: str) -> float:
    return _number(body.get(name), name)


def _opt_float(body: Mapping[str, Any], name: str) -> float | None:
    return None if body.get(name) is None else _float(body, name)


def _int(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _missing(name, "an integer")
    return value


def _bool(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise _missing(name, "a boolean")
    return value


def _str(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise _missing(name, "a string")
    return value


def _opt_str(body: Mapping[str, Any], name: str) -> str | None:
    return None if body.get(name) is None else _str(body, name)


def _request_id(body: Mapping[str, Any]) -> str:
    return _str(body, "request_id")


def _as_list(value: object, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise _missing(name, "a list")
    return value


def _list(body: Mapping[str, Any], name: str) -> list[Any]:
    return _as_list(body.get(name), name)


def _as_dict(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _missing(name, "an object")
    return value


def _dict(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    return _as_dict(body.get(name), name)


def _opt_image(body: Mapping[str, Any], name: str) -> bytes | None:
    text = _opt_str(body, name)
    if text is None:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(f"the answer's {name!r} is not base64") from exc


def _rect_list(rects: Mapping[str, Any], name: str) -> tuple[Rect, ...]:
    out = []
    for item in _list(rects, name):
        values = _as_list(item, name)
        if len(values) != 4 or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in values
        ):
            raise _missing(name, "a list of [left, top, right, bottom] integers")
        out.append(Rect(*values))
    return tuple(out)


def _face_quality(face: Mapping[str, Any]) -> FaceQuality:
    rect = _dict(face, "rect")
    pose = _dict(face, "pose")
    occ = _dict(face, "occlusion")
    return FaceQuality(
        rect=Rect(_int(rect, "left"), _int(rect, "top"), _int(rect, "right"), _int(rect, "bottom")),
        pose=Pose(_float(pose, "yaw"), _float(pose, "pitch"), _float(pose, "roll")),
        occlusion=Occlusion(
            _float(occ, "left_eye"),
            _float(occ, "right_eye"),
            _float(occ, "nose"),
            _float(occ, "mouth"),
            _float(occ, "total"),
        ),
        distance2center=_float(face, "distance2center"),
        size=_float(face, "size"),
        brightness=_float(face, "brightness"),
        sharpness=_float(face, "sharpness"),
        mouth_open=_float(face, "mouth_open"),
        integrity=_float(face, "integrity"),
    )


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


def _read(source: Source) -> bytes:
    """Bytes as they are; a str or path-like is a file to read."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)  # bytearray and memoryview work too
    if isinstance(source, str | os.PathLike):
        return Path(source).read_bytes()
    raise TypeError(f"expected bytes or a file path, got {type(source).__name__}")


def _flag(value: bool) -> str:
    return "true" if value else "false"
