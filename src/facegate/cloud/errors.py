"""The cloud API's statuses (seed 003, section 4) and the exception that carries them.

The cloud API answers failures as ``{"status": NAME, "request_id": "TID…"}`` with the HTTP status
of the manual's table, plus ``image`` (the request parameter at fault) for the image statuses and
``reason`` (what exactly was wrong) where there is one to tell. This is a different envelope from
the private-cloud endpoints' ``{"code", "message"}``: the two APIs are separate products.
"""

from __future__ import annotations

from enum import StrEnum

CLOUD_PATH = "/identity/liveness_selfie_verification"


class Status(StrEnum):
    OK = "OK"
    ENCODING_ERROR = "ENCODING_ERROR"
    DOWNLOAD_TIMEOUT = "DOWNLOAD_TIMEOUT"
    DOWNLOAD_ERROR = "DOWNLOAD_ERROR"
    IMAGE_FILE_SIZE_TOO_BIG = "IMAGE_FILE_SIZE_TOO_BIG"
    IMAGE_ID_NOT_EXIST = "IMAGE_ID_NOT_EXIST"
    NO_FACE_DETECTED = "NO_FACE_DETECTED"
    CORRUPT_IMAGE = "CORRUPT_IMAGE"
    INVALID_IMAGE_FORMAT_OR_SIZE = "INVALID_IMAGE_FORMAT_OR_SIZE"
    WRONG_LIVENESS_DATA = "WRONG_LIVENESS_DATA"
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    UNAUTHORIZED = "UNAUTHORIZED"
    KEY_EXPIRED = "KEY_EXPIRED"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    NO_PERMISSION = "NO_PERMISSION"
    OUT_OF_QUOTA = "OUT_OF_QUOTA"
    NOT_FOUND = "NOT_FOUND"
    INTERNAL_ERROR = "INTERNAL_ERROR"

    @property
    def http_status(self) -> int:
        return _HTTP.get(self, 400)


_HTTP: dict[Status, int] = {
    Status.OK: 200,
    Status.UNAUTHORIZED: 401,
    Status.KEY_EXPIRED: 401,
    Status.RATE_LIMIT_EXCEEDED: 403,
    Status.NO_PERMISSION: 403,
    Status.OUT_OF_QUOTA: 403,
    Status.NOT_FOUND: 404,
    Status.INTERNAL_ERROR: 500,
}


class CloudError(Exception):
    """A failed cloud request. ``image`` names the parameter whose input failed; ``reason`` may
    be shown to the caller (it never holds secrets, image bytes or internal addresses).
    ``http_status`` overrides the table's (503 when the service cannot take the request now);
    ``retry_after`` adds that header."""

    def __init__(
        self,
        status: Status,
        reason: str = "",
        *,
        image: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status.value}: {reason}" if reason else status.value)
        self.status = status
        self.reason = reason
        self.image = image
        self.http_status = http_status or status.http_status
        self.retry_after = retry_after

    def body(self, request_id: str, *, detailed: bool = True) -> dict[str, str]:
        out = {"status": self.status.value}
        if self.image is not None:
            out["image"] = self.image
        if self.reason and detailed:
            out["reason"] = self.reason
        out["request_id"] = request_id
        return out


def cloud_request_id(request_id: str) -> str:
    """The manual's request id: ``TID`` and 32 hex digits (the same id the logs carry)."""
    return "TID" + request_id


def refusal(http_status: int, reason: str) -> CloudError:
    """A body refused before routing (no length, over the size limit) on the cloud path."""
    if http_status == 413:
        return CloudError(Status.IMAGE_FILE_SIZE_TOO_BIG, reason)
    return CloudError(Status.INVALID_ARGUMENT, reason)


def is_cloud_request(path: str, query_string: bytes) -> bool:
    """Whether an unroutable request was meant for the cloud API: its path, or a query that
    carries the cloud API's credentials (the manual's cURL sample puts them there)."""
    return path.startswith(CLOUD_PATH) or b"api_id=" in query_string
