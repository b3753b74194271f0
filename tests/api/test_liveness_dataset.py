"""Acceptance on the real clips: every live video passes and every replay fails at the shipped
threshold, in the default install and with the MiniFASNet pack."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from facegate.api.app import create_app
from facegate.core.crypto import Cipher
from facegate.settings import Settings
from tests.api.helpers import enc

pytestmark = [pytest.mark.models, pytest.mark.data]

SILENT = "/liveness/silent_detection/stateless"


@pytest.fixture(scope="module")
def clips(data_dir: Path) -> dict[str, list[Path]]:
    folder = data_dir / "video"
    found = {kind: sorted((folder / kind).glob("*.*")) for kind in ("live", "replay")}
    if not found["live"] or not found["replay"]:
        pytest.skip(f"no video/live or video/replay clips under {data_dir}")
    return found


@pytest.fixture(scope="module")
def pack_client(pack_model_dir: Path) -> Iterator[TestClient]:
    app = create_app(Settings(model_dir=pack_model_dir, liveness_use_pack=True))
    with TestClient(app) as c:
        yield c


def verdicts(client: TestClient, cipher: Cipher, paths: list[Path]) -> dict[str, tuple[str, float]]:
    out = {}
    for p in paths:
        r = client.post(SILENT, data={"encrypted_video": enc(cipher, p), "return_status": "true"})
        assert r.status_code == 200, (p.name, r.text)
        out[p.name] = (r.json()["liveness_status"], r.json()["liveness_score"])
    return out


def check(client: TestClient, cipher: Cipher, clips: dict[str, list[Path]], fusion: str) -> None:
    status = client.get("/facegate/v1/status").json()
    assert status["liveness"]["fusion"] == fusion
    live = verdicts(client, cipher, clips["live"])
    replay = verdicts(client, cipher, clips["replay"])
    assert all(s == "ok" for s, _ in live.values()), live
    assert all(s == "hack" for s, _ in replay.values()), replay


def test_default_install(client: TestClient, cipher: Cipher, clips: dict[str, list[Path]]) -> None:
    check(client, cipher, clips, "video-default")


def test_with_the_minifasnet_pack(
    pack_client: TestClient, cipher: Cipher, clips: dict[str, list[Path]]
) -> None:
    check(pack_client, cipher, clips, "video-with_pack")
