"""Transport-level behaviour: envelopes, request ids, 404/411/413, form encodings."""

from __future__ import annotations

import re
from collections.abc import Iterator

from fastapi.testclient import TestClient

HEX32 = re.compile(r"^[0-9a-f]{32}$")


def assert_envelope(resp: object, status: int, code: int) -> dict[str, object]:
    r = resp
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert set(body) == {"code", "message", "request_id"}
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert HEX32.match(body["request_id"])
    assert r.headers["x-request-id"] == body["request_id"]  # type: ignore[attr-defined]
    return body  # type: ignore[no-any-return]


def test_healthcheck_is_exactly_the_manuals(client: TestClient) -> None:
    r = client.get("/healthcheck")
    assert r.status_code == 200
    assert r.content == b'{"code":1000,"status":"ok"}'
    assert HEX32.match(r.headers["x-request-id"])


def test_request_ids_are_unique(client: TestClient) -> None:
    ids = {client.get("/healthcheck").headers["x-request-id"] for _ in range(20)}
    assert len(ids) == 20


def test_unknown_path_and_wrong_method_are_404(client: TestClient) -> None:
    assert_envelope(client.post("/identity/nothing_here", data={"a": "b"}), 404, 404)
    assert_envelope(client.get("/identity/image_verification/stateless"), 404, 404)


def test_a_trailing_slash_is_not_found_not_redirected(client: TestClient) -> None:
    # A redirect would point at whatever Host the caller sent.
    r = client.post(
        "/identity/image_verification/stateless/",
        data={"a": "b"},
        headers={"Host": "attacker.example"},
        follow_redirects=False,
    )
    assert_envelope(r, 404, 404)
    assert "location" not in r.headers


def test_a_parameter_sent_twice_is_refused(client: TestClient) -> None:
    body = "first_encrypted_image=a&second_encrypted_image=b&first_encrypted_image=c"
    r = client.post(
        "/identity/image_verification/stateless",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert (
        "first_encrypted_image is given more than once" in assert_envelope(r, 400, 1200)["message"]
    )


def test_missing_content_length_is_411(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"first_encrypted_image=abc"

    r = client.post(
        "/identity/image_verification/stateless",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert_envelope(r, 411, 411)


def test_body_over_the_limit_is_413_without_reading_it(client: TestClient) -> None:
    body = b"first_encrypted_image=" + b"A" * (20 * 1024 * 1024)
    r = client.post(
        "/identity/image_verification/stateless",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_envelope(r, 413, 413)


def test_missing_parameters_are_1200(client: TestClient) -> None:
    body = assert_envelope(
        client.post("/identity/image_verification/stateless", data={}), 400, 1200
    )
    assert "first_encrypted_image" in str(body["message"])
    body = assert_envelope(client.post("/quality/face/stateless", data={"x": "1"}), 400, 1200)
    assert "encrypted_image" in str(body["message"])


def test_wrong_content_type_is_1200(client: TestClient) -> None:
    r = client.post("/quality/face/stateless", json={"encrypted_image": "abc"})
    assert_envelope(r, 400, 1200)


def test_openapi_document_is_served(client: TestClient) -> None:
    r = client.get("/facegate/v1/openapi.json")
    assert r.status_code == 200
    assert "/identity/image_verification/stateless" in r.json()["paths"]
