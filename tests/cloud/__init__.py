"""Shared by the cloud API tests: request helpers and the checks every answer must pass."""

from __future__ import annotations

import re
from typing import Any

from facegate.api.schemas import CloudErrorBody
from facegate.cloud.errors import CLOUD_PATH
from facegate.core.results import CloudVerification
from facegate.worker.interface import InferenceEngine

TID = re.compile(r"^TID[0-9a-f]{32}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")
OK_KEYS = ["request_id", "status", "hack_score", "verify_score", "liveness_data_id", "image_id"]
URL = CLOUD_PATH


class Borrowed:
    """An engine lent to another app: that app neither starts nor closes it (the models load
    once per test session)."""

    def __init__(self, inner: InferenceEngine) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def ok(r: Any) -> dict[str, Any]:
    """A success exactly as the manual shows it."""
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert sorted(body) == sorted(OK_KEYS), body
    assert body["status"] == "OK"
    assert TID.match(body["request_id"]), body
    assert HEX32.match(body["image_id"]), body
    assert HEX32.match(body["liveness_data_id"]), body
    assert isinstance(body["hack_score"], float)
    assert 0.0 <= body["hack_score"] <= 1.0
    assert isinstance(body["verify_score"], float)
    assert 0.0 <= body["verify_score"] <= 1.0
    CloudVerification.model_validate(body)  # the published schema
    return body


def failed(
    r: Any, status: str, http: int, *, image: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    """A failure in the manual's envelope: its status, its HTTP status, ``image`` where the
    table says, and a reason that contains ``reason``."""
    assert r.status_code == http, (r.status_code, r.text)
    body: dict[str, Any] = r.json()
    assert body["status"] == status, body
    assert TID.match(body["request_id"]), body
    assert body.get("image") == image, body
    assert set(body) <= {"status", "image", "reason", "request_id"}, body
    CloudErrorBody.model_validate(body)
    if reason is not None:
        assert reason in body.get("reason", ""), body
    return body
