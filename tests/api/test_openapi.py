"""The OpenAPI document describes the API: it validates, lists every route, every parameter the
API reference documents (and only those), and a schema for every success and error body; the
reference page for people works without a CDN and is off in production unless asked for."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from facegate.api.app import DOCS_URL, OPENAPI_URL, create_app
from facegate.api.forms import Form, FormSpec, Param
from facegate.api.routes import cloud, health, identity, liveness, quality, sessions
from facegate.ops import probes
from facegate.settings import Settings
from tests.cloud import Borrowed

ROOT = Path(__file__).resolve().parents[2]
MEDIA = ("application/x-www-form-urlencoded", "multipart/form-data")


@pytest.fixture(scope="module")
def document(client: TestClient) -> dict[str, Any]:
    r = client.get(OPENAPI_URL)
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    return doc


def documented_parameters() -> dict[str, set[str]]:
    """The endpoint table of docs/api.md: path → the parameters it names."""
    out = {}
    for line in (ROOT / "docs" / "api.md").read_text().splitlines():
        m = re.match(r"\| `POST (/\S+)` \| (.*?) \|", line)
        if m:
            out[m.group(1)] = set(re.findall(r"`([a-z_]+)`", m.group(2)))
    return out


def test_the_document_validates(document: dict[str, Any]) -> None:
    validate(document)
    assert document["openapi"].startswith("3.1")


def test_every_route_is_described(document: dict[str, Any]) -> None:
    routers = [m.router for m in (cloud, health, identity, liveness, quality, probes, sessions)]
    routes = {
        (r.path, m.lower())
        for router in routers
        for r in router.routes
        if isinstance(r, APIRoute) and r.include_in_schema
        for m in r.methods
    }
    described = {(path, m) for path, ops in document["paths"].items() for m in ops}
    assert routes == described
    assert "/identity/liveness_selfie_verification" in document["paths"]


def test_every_documented_parameter_is_in_the_document_and_no_other(
    document: dict[str, Any],
) -> None:
    table = documented_parameters()
    assert len(table) == 6, table  # the six SenseID POST endpoints
    for path, names in table.items():
        body = document["paths"][path]["post"]["requestBody"]["content"]
        for media in MEDIA:
            assert set(body[media]["schema"]["properties"]) == names, (path, media)


def test_parameters_say_how_they_are_sent(document: dict[str, Any]) -> None:
    body = document["paths"]["/identity/liveness_image_verification/stateless"]["post"]
    props = body["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    assert props["liveness_file"]["contentMediaType"] == "application/octet-stream"
    assert props["encrypted_image"]["x-encrypted"] is True
    assert props["auto_rotate"]["enum"] == ["true", "false", "1", "0", ""]
    schema = body["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["liveness_file", "encrypted_image"]


def test_every_body_has_a_schema_with_examples(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for path, ops in document["paths"].items():
        for op in ops.values():
            ok = op["responses"].get("200") or op["responses"]["201"]
            if path.startswith(("/identity", "/quality", "/liveness")):
                ref = ok["content"]["application/json"]["schema"]["$ref"]
                assert ref.startswith("#/components/schemas/")
                cloud_api = path == "/identity/liveness_selfie_verification"
                statuses = ("400", "401", "403") if cloud_api else ("400", "411", "413")
                for status in (*statuses, "404", "500", "503"):
                    assert status in op["responses"], (path, status)
    for name in (
        "Verification",
        "ErrorBody",
        "SilentLiveness",
        "CloudVerification",
        "CloudErrorBody",
        "MultifaceVerification",
        "QualityReport",
        "SilentVerification",
    ):
        assert schemas[name]["examples"], name
    assert set(schemas["SilentLiveness"]["required"]) == {
        "code",
        "passed",
        "liveness_score",
        "request_id",
    }


def test_a_route_may_only_read_what_it_declares() -> None:
    from starlette.datastructures import FormData

    form = Form(FormData({"auto_rotate": "true"}), FormSpec((Param("x", "flag", "."),)))
    assert form.flag("x") is False
    with pytest.raises(LookupError, match="auto_rotate"):
        form.flag("auto_rotate")


def test_the_reference_page_serves_its_own_assets(client: TestClient) -> None:
    r = client.get(DOCS_URL)
    assert r.status_code == 200
    scripts = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert f"{DOCS_URL}/assets/swagger-ui-bundle.js" in scripts
    assert OPENAPI_URL in r.text
    assert not [s for s in scripts if s.startswith(("http:", "https:", "//"))], scripts
    for asset in scripts:
        assert client.get(asset).status_code == 200, asset


@pytest.mark.parametrize(("environment", "api_docs", "served"), [
    ("production", None, False), ("production", True, True), ("development", False, False),
])  # fmt: skip
def test_the_reference_page_is_off_in_production_unless_asked(
    app: FastAPI, environment: str, api_docs: bool | None, served: bool
) -> None:
    settings = Settings(
        environment=environment,  # type: ignore[arg-type]
        api_docs=api_docs,
        decrypt_key="0123456789abcdef0123456789abcdef",
    )
    engine = Borrowed(app.state.engine)  # the session's models, neither started nor closed here
    with TestClient(create_app(settings, engine)) as client:  # type: ignore[arg-type]
        assert (client.get(DOCS_URL).status_code == 200) is served
        assert client.get(OPENAPI_URL).status_code == 200
