"""Operations of the API tier: Prometheus metrics per stage, endpoint and code; JSON logs that
carry the request id and never a secret or an image; the probes; a shared store's outage
answered 503, never 500."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import cv2
import httpx
import httpx2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from facegate.api.app import create_app
from facegate.core.crypto import Cipher
from facegate.core.package import FrameRole, LivenessPackage, Mode, PackageFrame
from facegate.settings import Settings
from tests.api.helpers import HEX32, VERIFY, enc, post_pair
from tests.conftest import JsonLog, lfw_photo
from tests.packages import post_package, sealed
from tests.worker import FakeEngine, free_port, wait_until

pytestmark = [pytest.mark.timeout(120)]

SILENT = "/liveness/silent_detection/stateless"
Key = tuple[str, frozenset[tuple[str, str]]]


@pytest.fixture(scope="module")
def ops_client(settings: Settings) -> Iterator[TestClient]:
    """An app of its own, so its counters hold only what this module sent."""
    with TestClient(create_app(settings)) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, 60, "the warm-up")
        yield client


def scrape(client: TestClient) -> dict[Key, float]:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    # The parser reads the whole exposition: any malformed line fails here.
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: dict[Key, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def grew(before: dict[Key, float], after: dict[Key, float], name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def verify_pair(client: TestClient, cipher: Cipher, lfw: Path) -> httpx2.Response:
    one, two = lfw_photo(lfw, "Colin_Powell", 1), lfw_photo(lfw, "Colin_Powell", 2)
    r: httpx2.Response = post_pair(client, cipher, VERIFY, one, two)
    assert r.status_code == 200, r.text
    return r


def corrupt_pair(client: TestClient, cipher: Cipher, lfw: Path) -> httpx2.Response:
    one = lfw_photo(lfw, "Colin_Powell", 1)
    r: httpx2.Response = post_pair(client, cipher, VERIFY, one, b"\xff\xd8\xff" + b"x" * 99)
    assert (r.status_code, r.json()["code"]) == (400, 2005)
    return r


@pytest.mark.models
@pytest.mark.data
def test_a_verify_records_every_stage_and_its_score(
    ops_client: TestClient, cipher: Cipher, lfw: Path
) -> None:
    before = scrape(ops_client)
    score = verify_pair(ops_client, cipher, lfw).json()["verification_score"]
    after = scrape(ops_client)
    for stage in ("decrypt", "decode", "detect", "embed"):
        # Two photos: each stage ran twice.
        assert grew(before, after, "facegate_stage_duration_seconds_count", stage=stage) == 2
        assert grew(before, after, "facegate_stage_duration_seconds_sum", stage=stage) > 0
    assert grew(before, after, "facegate_verification_score_count", call="verify") == 1
    assert grew(before, after, "facegate_verification_score_sum", call="verify") == pytest.approx(
        score, abs=1e-6
    )
    # The score (> 0.7, one person) is in the top buckets only.
    assert grew(before, after, "facegate_verification_score_bucket", call="verify", le="1.0") == 1
    assert grew(before, after, "facegate_verification_score_bucket", call="verify", le="0.5") == 0


@pytest.mark.models
@pytest.mark.data
def test_a_silent_liveness_video_records_the_liveness_stage_and_score(
    ops_client: TestClient, cipher: Cipher, videos: Path
) -> None:
    clip = (videos / "live" / "tranvanluyt_real.mp4").read_bytes()
    before = scrape(ops_client)
    r = ops_client.post(SILENT, data={"encrypted_video": enc(cipher, clip)})
    assert r.status_code == 200, r.text
    assert r.json()["passed"] is True
    after = scrape(ops_client)
    assert grew(before, after, "facegate_stage_duration_seconds_count", stage="decrypt") == 1
    assert grew(before, after, "facegate_stage_duration_seconds_count", stage="decode") == 1
    assert grew(before, after, "facegate_stage_duration_seconds_count", stage="liveness") == 1
    assert grew(before, after, "facegate_liveness_score_count", call="silent_liveness") == 1
    checks = "facegate_liveness_checks_total"
    assert grew(before, after, checks, call="silent_liveness", passed="true") == 1


@pytest.mark.models
@pytest.mark.data
def test_a_refused_video_says_which_expert_refused_it_and_why(
    ops_client: TestClient, cipher: Cipher, videos: Path, json_log: JsonLog
) -> None:
    clip = (videos / "replay" / "tranvanluyt_fake.mp4").read_bytes()
    before = scrape(ops_client)
    r = ops_client.post(SILENT, data={"encrypted_video": enc(cipher, clip), "return_status": "1"})
    assert r.status_code == 200, r.text
    assert (r.json()["passed"], r.json()["liveness_status"]) == (False, "hack")
    after = scrape(ops_client)
    records = [
        rec
        for rec in json_log.records()
        if rec["logger"] == "facegate.liveness" and rec["message"] == "liveness refused"
    ]
    assert len(records) == 1
    record = records[0]
    assert record["refused_by"] in ("print", "replay")
    assert record["call"] == "silent_liveness"
    assert record["evidence"]  # the cues that spoke against a live face
    assert record["request_id"] == r.json()["request_id"]
    name = "facegate_liveness_refusals_total"
    assert grew(before, after, name, call="silent_liveness", refused_by=record["refused_by"]) == 1
    # The SenseID body keeps the manual's fields: no expert, no cues.
    assert set(r.json()) == {"code", "passed", "liveness_score", "liveness_status", "request_id"}


def by_code(samples: dict[Key, float], code: str) -> float:
    """Requests answered with ``code``, whatever their endpoint label."""
    return sum(
        v
        for (name, labels), v in samples.items()
        if name == "facegate_requests_total" and ("code", code) in labels
    )


@pytest.mark.models
@pytest.mark.data
def test_an_error_counts_under_its_senseid_code(
    ops_client: TestClient, cipher: Cipher, lfw: Path
) -> None:
    before = scrape(ops_client)
    corrupt_pair(ops_client, cipher, lfw)
    missing = ops_client.post(VERIFY, data={"first_encrypted_image": "x"})
    assert missing.json()["code"] == 1200
    after = scrape(ops_client)
    assert by_code(after, "2005") - by_code(before, "2005") == 1
    assert by_code(after, "1200") - by_code(before, "1200") == 1
    assert grew(before, after, "facegate_verification_score_count", call="verify") == 0


@pytest.mark.models
@pytest.mark.data
def test_requests_are_counted_under_their_route_template(
    ops_client: TestClient, cipher: Cipher, lfw: Path
) -> None:
    before = scrape(ops_client)
    verify_pair(ops_client, cipher, lfw)
    corrupt_pair(ops_client, cipher, lfw)
    assert ops_client.get("/livez").status_code == 200
    after = scrape(ops_client)
    assert grew(before, after, "facegate_requests_total", endpoint=VERIFY, code="1000") == 1
    assert grew(before, after, "facegate_requests_total", endpoint=VERIFY, code="2005") == 1
    assert grew(before, after, "facegate_request_duration_seconds_count", endpoint=VERIFY) == 2
    assert grew(before, after, "facegate_requests_total", endpoint="/livez", code="1000") == 1
    assert grew(before, after, "facegate_requests_total", endpoint="other", code="1000") == 0


@pytest.mark.models
def test_unknown_paths_share_the_label_other(ops_client: TestClient) -> None:
    before = scrape(ops_client)
    paths = ["/wp-login.php", "/identity/nope/stateless", "/admin/../etc/passwd"]
    for path in paths:
        assert ops_client.get(path).status_code == 404
    after = scrape(ops_client)
    assert grew(before, after, "facegate_requests_total", endpoint="other", code="404") == 3
    labelled = {dict(labels).get("endpoint") for _, labels in after}
    # A scan of made-up paths cannot grow the number of series.
    assert not labelled & set(paths)


@pytest.mark.models
@pytest.mark.data
def test_json_logs_carry_the_request_id_and_no_key_iv_or_image(
    ops_client: TestClient, cipher: Cipher, settings: Settings, lfw: Path, json_log: JsonLog
) -> None:
    photos = [lfw_photo(lfw, "Colin_Powell", 1).read_bytes(), b"\xff\xd8\xff" + b"y" * 300]
    sent = [cipher.encrypt(p) for p in photos]
    ok = ops_client.post(
        VERIFY, data={"first_encrypted_image": sent[0], "second_encrypted_image": sent[0]}
    )
    failed = ops_client.post(
        VERIFY, data={"first_encrypted_image": sent[0], "second_encrypted_image": sent[1]}
    )
    assert ok.status_code == 200
    assert failed.json()["code"] == 2005

    records = json_log.records()  # every line is one JSON object
    assert records
    assert all({"level", "logger", "message", "request_id", "timestamp"} <= set(r) for r in records)
    access = [r for r in records if r["logger"] == "facegate.access"]
    assert [(r["request_id"], r["path"], r["code"]) for r in access] == [
        (ok.json()["request_id"], VERIFY, 1000),
        (failed.json()["request_id"], VERIFY, 2005),
    ]
    # The error's own log line is about the same request.
    failures = [r for r in records if r["message"] == "request failed"]
    assert [r["request_id"] for r in failures] == [failed.json()["request_id"]]

    text = json_log.text()
    assert settings.decrypt_key not in text
    assert settings.decrypt_iv not in text
    plain = [base64.b64encode(p).decode() for p in photos]
    for b64 in sent + plain:
        # Not the text, nor any 24-character piece of it (a truncated dump).
        pieces = [b64[i : i + 24] for i in range(0, len(b64) - 24, 24)]
        assert not [p for p in pieces if p in text]


@pytest.mark.models
def test_livez_answers_ok(ops_client: TestClient) -> None:
    r = ops_client.get("/livez")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert HEX32.match(r.json()["request_id"])


@pytest.mark.models
def test_readyz_is_503_until_the_local_engine_has_warmed_up(settings: Settings) -> None:
    # One inference thread: the warm-up runs on every thread, and one is enough to show it.
    app = create_app(settings.model_copy(update={"inference_threads": 1}))

    async def run() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)  # no lifespan: nothing warms up by itself
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            try:
                cold = await client.get("/readyz")
                await app.state.engine.start()
                return cold, await client.get("/readyz")
            finally:
                await app.state.engine.aclose()

    cold, warm = asyncio.run(run())
    assert cold.status_code == 503
    assert cold.json()["status"] == "not ready"
    assert warm.status_code == 200
    assert warm.json()["status"] == "ok"


def fresh_package() -> LivenessPackage:
    """Well-formed and fresh: one the replay guard is asked about."""
    frames = []
    for i in range(3):
        ok, buf = cv2.imencode(".jpg", np.full((16, 16, 3), 40 * i, np.uint8))
        assert ok
        frames.append(PackageFrame(bytes(buf.tobytes()), 100 * i))
    frames[-1] = PackageFrame(frames[-1].jpeg, 200, frozenset({FrameRole.SELECTED}))
    return LivenessPackage(
        sdk_name="test",
        sdk_version="1",
        device="test",
        captured_at=datetime.now(UTC),
        mode=Mode.SILENT,
        frames=tuple(frames),
    )


def test_a_redis_outage_is_503_with_retry_after_not_500(cipher: Cipher) -> None:
    closed = free_port()  # nothing listens there
    settings = Settings(redis_url=f"redis://127.0.0.1:{closed}/0")
    # The guard is asked before the engine: had the outage let the package through unchecked,
    # this engine would have answered 200.
    engine = FakeEngine()
    with TestClient(create_app(settings, engine)) as client:
        r = post_package(client, cipher, sealed(fresh_package(), settings), b"any photo")
    assert r.status_code == 503, r.text
    body = r.json()
    assert list(body) == ["code", "message", "request_id"]
    assert body["code"] == 503
    assert "replay guard" in body["message"]
    assert r.headers["retry-after"] == "5"
    assert engine.calls["package_verify"] == 0
