from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx2 as httpx
from fastapi.testclient import TestClient

from facegate.api.routes import cloud, health, identity, liveness, quality
from facegate.api.schemas import ErrorBody
from facegate.core.crypto import Cipher

HEX32 = re.compile(r"^[0-9a-f]{32}$")
VERIFY = "/identity/image_verification/stateless"
MULTI = "/identity/multiface_image_omni_verification/stateless"
QUALITY = "/quality/face/stateless"


# Each route's documented success body (its OpenAPI 200 response), by path: every answer the
# API tests check is also validated against the schema the OpenAPI document publishes.
SUCCESS_MODELS = {
    route.path: route.responses[200]["model"]
    for module in (cloud, health, identity, liveness, quality)
    for route in module.router.routes
    if 200 in getattr(route, "responses", {})
}


def enc(cipher: Cipher, data: bytes | Path) -> str:
    return cipher.encrypt(data.read_bytes() if isinstance(data, Path) else data)


def post_pair(
    client: TestClient,
    cipher: Cipher,
    url: str,
    first: bytes | Path,
    second: bytes | Path,
    **flags: str,
) -> httpx.Response:
    return client.post(
        url,
        data={
            "first_encrypted_image": enc(cipher, first),
            "second_encrypted_image": enc(cipher, second),
            **flags,
        },
    )


def ok_body(r: httpx.Response, keys: list[str]) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert list(body) == keys
    assert body["code"] == 1000
    assert HEX32.match(body["request_id"])
    assert r.headers["x-request-id"] == body["request_id"]
    SUCCESS_MODELS[r.request.url.path].model_validate(body)
    return body


def error_code(r: httpx.Response) -> int:
    assert r.status_code == 400, (r.status_code, r.text)
    body = r.json()
    assert list(body) == ["code", "message", "request_id"]
    assert HEX32.match(body["request_id"])
    ErrorBody.model_validate(body)
    code: int = body["code"]
    return code
