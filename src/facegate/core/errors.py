"""SenseID response codes and the one exception type that carries them.

Codes and their short messages are those of the SenseID 1v1 API manual (seed 004); the HTTP
status of each is the manual's too: 200 for success, 400 for every documented failure code.
"""

from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    OK = 1000
    INVALID_ARGUMENT = 1200
    INVALID_IMAGE_SIZE = 2003
    INVALID_CONTENT_LENGTH = 2004
    INVALID_IMAGE_TYPE = 2005
    CORRUPTED_IMAGE = 2006
    CORRUPTED_LIVENESS_DATA = 2007
    INVALID_VIDEO = 2008
    DETECTION_FAILED = 4000
    FACE_OCCLUSION = 4004
    LIVENESS_SILENT_CHECK_FAILED = 4007

    @property
    def manual_message(self) -> str:
        return _MESSAGES[self]

    @property
    def http_status(self) -> int:
        return 200 if self is Code.OK else 400


_MESSAGES: dict[Code, str] = {
    Code.OK: "ok",
    Code.INVALID_ARGUMENT: "invalid argument",
    Code.INVALID_IMAGE_SIZE: "invalid image size",
    Code.INVALID_CONTENT_LENGTH: "invalid content length",
    Code.INVALID_IMAGE_TYPE: "invalid image type or corrupted",
    Code.CORRUPTED_IMAGE: "corrupted image error",
    Code.CORRUPTED_LIVENESS_DATA: "corrupted liveness data error",
    Code.INVALID_VIDEO: "invalid video error",
    Code.DETECTION_FAILED: "detection failed",
    Code.FACE_OCCLUSION: "face occlusion",
    Code.LIVENESS_SILENT_CHECK_FAILED: "liveness silent check failed",
}


class FacegateError(Exception):
    """A failure the client caused or must know about, answered with a SenseID code.

    ``detail`` says what exactly was wrong (which parameter, which limit); it never holds
    image bytes, keys or embeddings.
    """

    def __init__(self, code: Code, detail: str = "") -> None:
        super().__init__(f"{int(code)} {code.manual_message}: {detail}" if detail else code.name)
        self.code = code
        self.detail = detail

    def message(self, *, detailed: bool = True) -> str:
        if detailed and self.detail:
            return f"{self.code.manual_message}: {self.detail}"
        return self.code.manual_message


class UnavailableError(Exception):
    """The service cannot take the request now: no inference worker is free or reachable, or a
    shared store is down. Answered with HTTP 503, code 503 and ``Retry-After``; nothing was done
    with the request, so the client may send it again."""

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = max(1, int(retry_after))


class ImageError(FacegateError):
    """A photo failed a check; ``field`` names the request parameter it came from."""

    def __init__(self, code: Code, detail: str, field: str | None = None) -> None:
        super().__init__(code, f"{field}: {detail}" if field else detail)
        self.field = field

    def for_field(self, field: str) -> ImageError:
        return ImageError(self.code, self.detail, field)
