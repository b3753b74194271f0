"""Every exception the facegate client raises, as one tree under :class:`FacegateSDKError`.

::

    FacegateSDKError                  anything this client raises on purpose
    ├── TransportError                no answer: the request or the connection failed
    │   ├── ConnectError              the server could not be reached (refused, DNS, TLS)
    │   └── Timeout                   connecting, sending or waiting for the answer took too long
    ├── ProtocolError                 an answer came, but it is not the documented JSON
    └── APIError                      the server answered with an error envelope
        ├── InvalidArgument           1200  a parameter is missing, malformed or undecryptable
        ├── ImageRejected             2003  image size, 2004 file size, 2005 type / corrupt,
        │                             2006  corrupt image (multiface)
        ├── LivenessDataRejected      2007  the liveness package is corrupt
        ├── InvalidVideo              2008  unreadable video, or one shorter than 2 s
        ├── NoFaceDetected            4000  no face was found in a photo
        ├── FaceOccluded              4004  eyes, nose or mouth covered (check_quality=true)
        ├── LivenessCheckFailed       4007  the silent liveness check could not be done
        ├── NotFound                  404   unknown path or method (check base_url)
        ├── LengthRequired            411   the request had no Content-Length
        ├── PayloadTooLarge           413   the body is over the server's limit
        └── ServerError               5xx   a fault of the server; ``retry_after`` from 503

Codes not in this table raise a plain :class:`APIError` (or :class:`ServerError` when the HTTP
status is 5xx), so ``except APIError`` catches every answer the server refused.

An error envelope is ``{"code", "message", "request_id"}``; SenseID codes come with HTTP 400, the
others carry the HTTP status as their code. A 404, 411, 413 or 5xx answer without an envelope
(a reverse proxy's HTML page, say) still raises the class of its status, with ``request_id`` None;
any other answer that is not the documented JSON raises :class:`ProtocolError`.

Failed checks that are not errors in the API (``passed: false`` of silent liveness, a low
verification score) are results, never exceptions.
"""

# The names follow httpx's and the SenseID manual's wording (NotFound, Timeout), not "…Error".
# ruff: noqa: N818

from __future__ import annotations

__all__ = [
    "APIError",
    "ConnectError",
    "FaceOccluded",
    "FacegateSDKError",
    "ImageRejected",
    "InvalidArgument",
    "InvalidVideo",
    "LengthRequired",
    "LivenessCheckFailed",
    "LivenessDataRejected",
    "NoFaceDetected",
    "NotFound",
    "PayloadTooLarge",
    "ProtocolError",
    "ServerError",
    "Timeout",
    "TransportError",
    "error_for",
]


class FacegateSDKError(Exception):
    """The root of every exception raised by :class:`facegate.sdk.FacegateClient`."""


class TransportError(FacegateSDKError):
    """No answer was received; ``__cause__`` holds the HTTP library's own exception."""


class ConnectError(TransportError):
    """The server could not be reached: connection refused, unknown host, TLS failure."""


class Timeout(TransportError):
    """Connecting, sending the request or reading the answer took longer than ``timeout``."""


class ProtocolError(FacegateSDKError):
    """An answer arrived but is not the documented JSON (not JSON, a missing or mistyped field).

    ``http_status`` is the answer's HTTP status; ``body`` its first 500 bytes.
    """

    def __init__(self, message: str, *, http_status: int | None = None, body: bytes = b"") -> None:
        super().__init__(message)
        self.http_status = http_status
        self.body = body[:500]


class APIError(FacegateSDKError):
    """The server refused the request with ``{"code", "message", "request_id"}``.

    ``code`` is the SenseID code (1200, 2005, …) or the HTTP status for failures outside the
    manual's table (404, 411, 413, 5xx); ``request_id`` identifies the request in the server's
    logs (None when the answer carried none).
    """

    def __init__(self, code: int, message: str, request_id: str | None, http_status: int) -> None:
        super().__init__(
            f"{code} {message}" + (f" (request_id {request_id})" if request_id else "")
        )
        self.code = code
        self.message = message
        self.request_id = request_id
        self.http_status = http_status

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.code, self.message, self.request_id, self.http_status))


class InvalidArgument(APIError):
    """1200: a parameter is missing or malformed, or could not be decrypted (wrong key or IV)."""


class ImageRejected(APIError):
    """2003 (image size), 2004 (file size), 2005 (type or corrupt), 2006 (corrupt image)."""


class LivenessDataRejected(APIError):
    """2007: the liveness package could not be opened or is corrupt."""


class InvalidVideo(APIError):
    """2008: the video cannot be decoded, or it is shorter than 2 seconds."""


class NoFaceDetected(APIError):
    """4000: no face was detected in a photo."""


class FaceOccluded(APIError):
    """4004: a face was found but its eyes, nose or mouth are covered (``check_quality``)."""


class LivenessCheckFailed(APIError):
    """4007: silent liveness could not be checked (no usable face in the video)."""


class NotFound(APIError):
    """404: no such path or method on the server; usually a wrong ``base_url``."""


class LengthRequired(APIError):
    """411: the request was sent without a Content-Length header."""


class PayloadTooLarge(APIError):
    """413: the request body is over the server's limit."""


class ServerError(APIError):
    """5xx: the server failed. ``retry_after`` (seconds) is set when it sent ``Retry-After``."""

    def __init__(
        self,
        code: int,
        message: str,
        request_id: str | None,
        http_status: int,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, message, request_id, http_status)
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[object, ...]:
        # Positional arguments only: rebuild, then restore ``retry_after`` from the state.
        return (
            type(self),
            (self.code, self.message, self.request_id, self.http_status),
            {"retry_after": self.retry_after},
        )


_BY_CODE: dict[int, type[APIError]] = {
    1200: InvalidArgument,
    2003: ImageRejected,
    2004: ImageRejected,
    2005: ImageRejected,
    2006: ImageRejected,
    2007: LivenessDataRejected,
    2008: InvalidVideo,
    4000: NoFaceDetected,
    4004: FaceOccluded,
    4007: LivenessCheckFailed,
    404: NotFound,
    411: LengthRequired,
    413: PayloadTooLarge,
}


def error_for(
    code: int,
    message: str,
    request_id: str | None,
    http_status: int,
    *,
    retry_after: float | None = None,
) -> APIError:
    """The exception for one error envelope: by code, then 5xx → ServerError, else APIError."""
    if http_status >= 500 or 500 <= code < 600:
        return ServerError(code, message, request_id, http_status, retry_after=retry_after)
    cls = _BY_CODE.get(code, APIError)
    return cls(code, message, request_id, http_status)
