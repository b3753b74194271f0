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
they leave the process. Every method returns the frozen model of the endpoint's body, as the
server declares it (:mod:`facegate.core.results`), carrying the ``request_id``; every failure
raises one of the exceptions of :mod:`facegate.sdk.errors`.

For tests, pass any httpx-compatible client as ``http`` (``fastapi.testclient.TestClient(app)``,
``httpx.Client(transport=httpx.MockTransport(handler))``).
"""

from __future__ import annotations

import email.utils
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar

import httpx

from facegate.core.crypto import IV_LENGTH, Cipher
from facegate.core.results import (
    Body,
    FaceQuality,
    MultifaceVerification,
    Occlusion,
    Pose,
    QualityReport,
    Rect,
    SilentLiveness,
    SilentVerification,
    ValidationError,
    Verification,
)
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

_B = TypeVar("_B", bound=Body)

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
# Results: the server's own declarations (facegate.core.results), validated strictly
# ---------------------------------------------------------------------------------------------


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
        return self._post(
            Verification,
            VERIFY_PATH,
            {
                "first_encrypted_image": self._encrypt(first),
                "second_encrypted_image": self._encrypt(second),
                "auto_rotate": _flag(auto_rotate),
                "check_quality": _flag(check_quality),
            },
        )

    def multiface_verify(
        self, first: Source, second: Source, *, auto_rotate: bool = False
    ) -> MultifaceVerification:
        """Compare every face of one photo with every face of the other (manual 1.2)."""
        return self._post(
            MultifaceVerification,
            MULTIFACE_PATH,
            {
                "first_encrypted_image": self._encrypt(first),
                "second_encrypted_image": self._encrypt(second),
                "auto_rotate": _flag(auto_rotate),
            },
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
        return self._post(
            Verification,
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
        return self._post(
            SilentVerification,
            SILENT_VERIFY_PATH,
            {
                "encrypted_image": self._encrypt(photo),
                "auto_rotate": _flag(auto_rotate),
                "check_quality": _flag(check_quality),
                **_liveness_flags(return_status, return_image, return_face_image),
            },
            files=self._video_part(video),
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
        return self._post(
            SilentLiveness,
            SILENT_LIVENESS_PATH,
            _liveness_flags(return_status, return_image, return_face_image),
            files=self._video_part(video),
        )

    def quality(self, photo: Source) -> QualityReport:
        """Quality of every face in the photo (manual 2.1)."""
        return self._post(QualityReport, QUALITY_PATH, {"encrypted_image": self._encrypt(photo)})

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
        answer: type[_B],
        path: str,
        data: Mapping[str, str],
        *,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> _B:
        url = self._base_url + path
        response = self._send(lambda: self._http.post(url, data=data, files=files))
        _body(response)  # raises the error of a failure
        try:
            return answer.model_validate_json(response.content, strict=True)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise ProtocolError(
                f"the answer's {where!r} does not match {answer.__name__}: {first['msg']}",
                http_status=response.status_code,
                body=response.content,
            ) from None

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


def _protocol(message: str, status: int, content: bytes) -> ProtocolError:
    return ProtocolError(message, http_status=status, body=content)


def _missing(name: str, expected: str) -> ProtocolError:
    return ProtocolError(f"the answer's {name!r} is missing or not {expected}")


def _str(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise _missing(name, "a string")
    return value


def _opt_str(body: Mapping[str, Any], name: str) -> str | None:
    return None if body.get(name) is None else _str(body, name)


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
