"""``POST /identity/liveness_selfie_verification`` (seed 003) end to end, on SQLite and on a real
PostgreSQL server: the manual's samples, stored ids per tenant, every status of the manual's
table from a real cause, and quota that holds under 50 concurrent requests.

The models load once per session (the session app's engine is lent to these apps); packages
are captured from the real face videos with the SDK, as a phone would.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http.server
import io
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import requests
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from facegate.api.app import create_app
from facegate.core.package import LivenessPackage
from facegate.proto.codec import package_key, seal
from facegate.sdk.capture import CaptureOptions, Capturer, video_frames
from facegate.settings import Settings
from facegate.store.db import Database
from facegate.store.keys import KeyStore, Limits
from tests.cloud import URL, Borrowed, failed, ok
from tests.conftest import encode, jpeg_bytes
from tests.packages import frame_at
from tests.servers import free_port
from tests.worker import ThreadServer

CLIP = "tranvanluyt_real.mp4"
MB = 1024 * 1024


# --- a file server the URL inputs point at ------------------------------------------------------


class Files:
    """Serves ``paths`` on loopback; ``/slow`` answers after 5 s, ``/to-metadata`` redirects to
    the cloud metadata address."""

    def __init__(self) -> None:
        self.paths: dict[str, bytes] = {}
        files = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/slow":
                    time.sleep(5)
                if self.path == "/to-metadata":
                    self.send_response(302)
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = files.paths.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="module")
def files() -> Iterator[Files]:
    f = Files()
    yield f
    f.server.shutdown()
    f.server.server_close()


# --- the cloud app, once per database -----------------------------------------------------------


@dataclass
class Cloud:
    settings: Settings
    app: FastAPI
    client: TestClient
    keys: KeyStore
    engine: Any

    def key(self, **limits: Any) -> tuple[str, str]:
        info, secret = self.keys.create("test", Limits(**limits))
        return info.api_id, secret

    def post(
        self,
        api: tuple[str, str],
        files: dict[str, bytes] | None = None,
        *,
        in_query: bool = False,
        **fields: str,
    ) -> Any:
        creds = {"api_id": api[0], "api_secret": api[1]}
        parts = {
            name: (name, data, "application/octet-stream") for name, data in (files or {}).items()
        }
        return self.client.post(
            URL,
            params=creds if in_query else None,
            data={**({} if in_query else creds), **fields},
            files=parts or None,
        )


def cloud_settings(folder: Path, database_url: str, **changes: Any) -> Settings:
    return Settings(
        liveness_use_pack=False,
        data_dir=folder,
        database_url=database_url,
        # One test address sends every request; failed authentications have a test of their own.
        auth_failure_burst=10_000,
        fetch_allow=["127.0.0.1/32"],
        fetch_timeout_seconds=1.5,
        fetch_connect_timeout_seconds=1.0,
        **changes,
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def cloud(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    app: FastAPI,
    client: TestClient,
) -> Iterator[Cloud]:
    folder = tmp_path_factory.mktemp(f"cloud-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'facegate.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    settings = cloud_settings(folder, url)
    db = Database(url)
    db.migrate()
    engine = Borrowed(app.state.engine)
    cloud_app = create_app(settings, engine=engine)
    with TestClient(cloud_app) as c:
        yield Cloud(
            settings, cloud_app, c, KeyStore(db, settings.derived_key("api secrets")), engine
        )
    db.dispose()


# --- inputs -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def package(capturer: Capturer, videos: Path) -> LivenessPackage:
    return capturer.capture(video_frames(videos / "live" / CLIP), CaptureOptions())


@pytest.fixture(scope="module")
def replay_package(capturer: Capturer, videos: Path) -> LivenessPackage:
    return capturer.capture(video_frames(videos / "replay" / CLIP.replace("real", "fake")))


@pytest.fixture(scope="module")
def selfie(videos: Path) -> bytes:
    """Another photo of the clip's person, from later in the clip than the capture used."""
    return frame_at(videos / "live" / CLIP, 15.0)


def fresh(package: LivenessPackage, settings: Settings) -> bytes:
    """A new capture's file: every seal draws a new nonce."""
    return seal(package, package_key(settings.decrypt_key))


def wall() -> bytes:
    """A photo with no face: a shaded wall with some grain."""
    y, x = np.mgrid[0:480, 0:640]
    base = (90 + 60 * x / 640 + 20 * y / 480).astype(np.float32)
    grain = np.random.default_rng(3).normal(0, 4, base.shape)
    gray = np.clip(base + grain, 0, 255).astype(np.uint8)
    return jpeg_bytes(np.dstack([gray, gray * 0.95, gray * 0.9]).astype(np.uint8))


# --- the manual's samples -------------------------------------------------------------------------


def test_the_manuals_python_sample_works_unchanged_but_for_the_host(
    cloud: Cloud, package: LivenessPackage, selfie: bytes, tmp_path: Path
) -> None:
    """Seed 003's ``requests`` sample, as written (files opened from paths, credentials in the
    form), against a real server on loopback."""
    api_id, api_secret = cloud.key()
    selfie_path, package_path = tmp_path / "selfie.jpg", tmp_path / "liveness.protobuf"
    selfie_path.write_bytes(selfie)
    package_path.write_bytes(fresh(package, cloud.settings))
    server_app = create_app(cloud.settings, engine=cloud.engine)
    with ThreadServer(server_app) as server:
        # --- the sample, with its host and paths replaced ---
        host = server.url
        url = host + "/identity/liveness_selfie_verification"
        files = {
            "selfie_file": open(selfie_path, "rb"),  # noqa: SIM115 - the sample's own code
            "liveness_data_file": open(package_path, "rb"),  # noqa: SIM115
        }
        data = {"api_id": api_id, "api_secret": api_secret}
        response = requests.post(url, files=files, data=data)
        result = response.json()
        # ---
        for f in files.values():
            f.close()
    body = ok(response)
    assert result == body
    assert body["hack_score"] < 0.5, body  # a live capture
    assert body["verify_score"] >= 0.7, body  # the same person, at the manual's threshold


def test_credentials_in_the_query_as_in_the_curl_sample(
    cloud: Cloud, package: LivenessPackage, selfie: bytes
) -> None:
    api = cloud.key()
    r = cloud.post(
        api,
        {"liveness_data_file": fresh(package, cloud.settings), "selfie_file": selfie},
        in_query=True,
    )
    ok(r)


def test_stored_uploads_are_used_again_by_id_by_their_owner_only(
    cloud: Cloud, package: LivenessPackage, selfie: bytes, lfw: Path
) -> None:
    owner, other = cloud.key(), cloud.key()
    first = ok(
        cloud.post(
            owner,
            {"liveness_data_file": fresh(package, cloud.settings), "selfie_file": selfie},
            selfie_auto_rotate="true",
        )
    )
    again = ok(
        cloud.post(
            owner,
            selfie_image_id=first["image_id"],
            liveness_data_id=first["liveness_data_id"],
        )
    )
    assert again["image_id"] == first["image_id"]
    assert again["liveness_data_id"] == first["liveness_data_id"]
    assert again["hack_score"] == first["hack_score"]
    assert again["verify_score"] == first["verify_score"]
    assert again["request_id"] != first["request_id"]

    # Another person's selfie against the stored capture: a new image id, a low score.
    stranger = (lfw / "Colin_Powell" / "Colin_Powell_0001.jpg").read_bytes()
    mixed = ok(
        cloud.post(owner, {"selfie_file": stranger}, liveness_data_id=first["liveness_data_id"])
    )
    assert mixed["image_id"] != first["image_id"]
    assert mixed["verify_score"] < 0.7  # below the manual's same-person threshold

    # Another tenant gets "does not exist" for ids that exist, exactly as for made-up ones.
    theirs = failed(
        cloud.post(other, {"liveness_data_file": b"x"}, selfie_image_id=first["image_id"]),
        "IMAGE_ID_NOT_EXIST",
        400,
        image="selfie_image_id",
    )
    made_up = failed(
        cloud.post(other, {"liveness_data_file": b"x"}, selfie_image_id="0" * 32),
        "IMAGE_ID_NOT_EXIST",
        400,
        image="selfie_image_id",
    )
    assert theirs["reason"].replace(first["image_id"], "ID") == made_up["reason"].replace(
        "0" * 32, "ID"
    )
    failed(
        cloud.post(other, {"selfie_file": selfie}, liveness_data_id=first["liveness_data_id"]),
        "IMAGE_ID_NOT_EXIST",
        400,
        image="liveness_data_id",
    )
    # An id of the other kind is not found either.
    failed(
        cloud.post(owner, {"liveness_data_file": b"x"}, selfie_image_id=first["liveness_data_id"]),
        "IMAGE_ID_NOT_EXIST",
        400,
        image="selfie_image_id",
    )


def test_url_inputs_are_fetched_and_stored(
    cloud: Cloud, package: LivenessPackage, selfie: bytes, files: Files
) -> None:
    files.paths["/me.jpg"] = selfie
    files.paths["/capture.protobuf"] = fresh(package, cloud.settings)
    body = ok(
        cloud.post(
            cloud.key(),
            selfie_url=files.url("/me.jpg"),
            liveness_data_url=files.url("/capture.protobuf"),
        )
    )
    assert body["hack_score"] < 0.5
    assert body["verify_score"] >= 0.7


def test_an_attack_gets_a_high_hack_score_and_a_live_capture_a_low_one(
    cloud: Cloud, package: LivenessPackage, replay_package: LivenessPackage, selfie: bytes
) -> None:
    """``hack_score`` is the server's own check of the package: a replay of the clip on a
    screen scores above 0.5, the live capture below."""
    api = cloud.key()
    live = ok(
        cloud.post(
            api, {"liveness_data_file": fresh(package, cloud.settings), "selfie_file": selfie}
        )
    )
    attack = ok(
        cloud.post(
            api,
            {"liveness_data_file": fresh(replay_package, cloud.settings), "selfie_file": selfie},
        )
    )
    assert live["hack_score"] < 0.5 < attack["hack_score"], (live, attack)


# --- every status of the table, from a real cause ------------------------------------------------


def test_encoding_error_for_parameters_that_are_not_utf8(cloud: Cloud) -> None:
    api_id, secret = cloud.key()
    urlencoded = cloud.client.post(
        URL,
        content=f"api_id={api_id}&api_secret={secret}&selfie_url=http%3A%2F%2Fa%2F%FF%FE".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    failed(urlencoded, "ENCODING_ERROR", 400)
    query = cloud.client.post(URL + "?api_id=%C3%28&api_secret=x")
    failed(query, "ENCODING_ERROR", 400)
    boundary = "b0undary"
    raw = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="api_id"\r\n\r\n'.encode()
        + b"caf\xe9"  # Latin-1, not UTF-8
        + f"\r\n--{boundary}--\r\n".encode()
    )
    multipart = cloud.client.post(
        URL, content=raw, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    failed(multipart, "ENCODING_ERROR", 400, reason="api_id is not UTF-8")
    # UTF-8 beyond ASCII is fine: the request goes on to authentication.
    failed(cloud.client.post(URL, data={"api_id": "café", "api_secret": "ü"}), "UNAUTHORIZED", 401)


def test_download_timeout_and_errors_name_the_parameter(
    cloud: Cloud, package: LivenessPackage, selfie: bytes, files: Files
) -> None:
    api = cloud.key()
    live = {"liveness_data_file": fresh(package, cloud.settings)}
    started = time.monotonic()
    failed(
        cloud.post(api, live, selfie_url=files.url("/slow")),
        "DOWNLOAD_TIMEOUT",
        400,
        image="selfie_url",
    )
    assert time.monotonic() - started < 4.0  # the 1.5 s limit, not the server's 5 s
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    failed(
        cloud.post(api, live, selfie_url=f"http://127.0.0.1:{closed}/me.jpg"),
        "DOWNLOAD_ERROR",
        400,
        image="selfie_url",
    )
    for metadata in ("http://169.254.169.254/latest/meta-data/", files.url("/to-metadata")):
        body = failed(
            cloud.post(api, live, selfie_url=metadata), "DOWNLOAD_ERROR", 400, image="selfie_url"
        )
        # Refused, with the one answer every unreachable host gets (the logs say why).
        assert "169.254.169.254" in body["reason"], body
        assert "does not resolve to an address that may be fetched" in body["reason"], body
    failed(
        cloud.post(api, {"selfie_file": selfie}, liveness_data_url="http://10.1.2.3/p"),
        "DOWNLOAD_ERROR",
        400,
        image="liveness_data_url",
    )
    failed(
        cloud.post(api, live, selfie_url=files.url("/missing.jpg")),
        "DOWNLOAD_ERROR",
        400,
        image="selfie_url",
        reason="404",
    )


def test_a_selfie_over_5_mb_is_too_big_as_a_file_and_as_a_url(
    cloud: Cloud, package: LivenessPackage, files: Files
) -> None:
    rng = np.random.default_rng(0)
    big = encode(Image.fromarray(rng.integers(0, 255, (1400, 1400, 3), dtype=np.uint8)), "PNG")
    assert 5 * MB < len(big) < 7 * MB  # a 6 MB image
    api = cloud.key()
    live = {"liveness_data_file": fresh(package, cloud.settings)}
    failed(
        cloud.post(api, {**live, "selfie_file": big}),
        "IMAGE_FILE_SIZE_TOO_BIG",
        400,
        image="selfie_file",
    )
    files.paths["/big.png"] = big
    failed(
        cloud.post(api, live, selfie_url=files.url("/big.png")),
        "IMAGE_FILE_SIZE_TOO_BIG",
        400,
        image="selfie_url",
    )


def test_images_that_are_no_image_or_break_the_rules(
    cloud: Cloud, package: LivenessPackage, selfie: bytes
) -> None:
    api = cloud.key()

    def send(image: bytes) -> Any:
        return cloud.post(
            api, {"liveness_data_file": fresh(package, cloud.settings), "selfie_file": image}
        )

    failed(send(b"this is a text file, not a photo\n"), "CORRUPT_IMAGE", 400, image="selfie_file")
    failed(send(b""), "CORRUPT_IMAGE", 400, image="selfie_file")
    failed(send(selfie[: len(selfie) // 2]), "CORRUPT_IMAGE", 400, image="selfie_file")
    rgb = np.asarray(Image.open(io.BytesIO(selfie)).convert("RGB"))
    failed(
        send(encode(Image.fromarray(rgb), "WEBP")),
        "INVALID_IMAGE_FORMAT_OR_SIZE",
        400,
        image="selfie_file",
        reason="WEBP",
    )
    for w, h in ((8, 100), (100, 8), (4001, 20)):
        failed(
            send(encode(Image.new("RGB", (w, h), (120, 110, 100)), "PNG")),
            "INVALID_IMAGE_FORMAT_OR_SIZE",
            400,
            image="selfie_file",
        )
    failed(send(wall()), "NO_FACE_DETECTED", 400, image="selfie_file")
    # The other accepted formats go through (the same person, from a PNG, BMP, GIF, TIFF).
    for fmt in ("PNG", "BMP", "TIFF"):
        body = ok(send(encode(Image.fromarray(rgb), fmt)))
        assert body["verify_score"] >= 0.7, (fmt, body)


def test_wrong_liveness_data(cloud: Cloud, package: LivenessPackage, selfie: bytes) -> None:
    api = cloud.key()

    def send(data: bytes) -> dict[str, Any]:
        return failed(
            cloud.post(api, {"liveness_data_file": data, "selfie_file": selfie}),
            "WRONG_LIVENESS_DATA",
            400,
        )

    good = fresh(package, cloud.settings)
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 1
    assert "altered" in send(bytes(flipped))["reason"]
    assert "different key" in send(seal(package, package_key("k" * 32)))["reason"]
    assert "empty" in send(b"")["reason"]
    old = dataclasses.replace(package, captured_at=datetime.now(UTC) - timedelta(hours=2))
    assert "expired" in send(fresh(old, cloud.settings))["reason"]
    ok(cloud.post(api, {"liveness_data_file": good, "selfie_file": selfie}))
    assert "already used" in send(good)["reason"]


def test_invalid_arguments(cloud: Cloud, package: LivenessPackage, selfie: bytes) -> None:
    api = cloud.key()
    live = {"liveness_data_file": b"x"}
    failed(cloud.post(api, live), "INVALID_ARGUMENT", 400, reason="exactly one of selfie_file")
    failed(
        cloud.post(api, {**live, "selfie_file": selfie}, selfie_url="http://example.com/a.jpg"),
        "INVALID_ARGUMENT",
        400,
        reason="got selfie_file, selfie_url",
    )
    failed(
        cloud.post(api, {"selfie_file": selfie}),
        "INVALID_ARGUMENT",
        400,
        reason="exactly one of liveness_data_file",
    )
    failed(
        cloud.post(api, {**live, "selfie_file": selfie}, selfie_auto_rotate="maybe"),
        "INVALID_ARGUMENT",
        400,
        reason="selfie_auto_rotate",
    )
    failed(
        cloud.client.post(URL, content=b"{}", headers={"Content-Type": "application/json"}),
        "INVALID_ARGUMENT",
        400,
    )


def test_unauthorized_and_key_expired(cloud: Cloud) -> None:
    api_id, secret = cloud.key()
    failed(cloud.post((api_id, secret + "x")), "UNAUTHORIZED", 401)
    failed(cloud.post(("0" * 32, secret)), "UNAUTHORIZED", 401)
    failed(cloud.client.post(URL, data={"api_id": api_id}), "UNAUTHORIZED", 401)
    cloud.keys.revoke(api_id)
    failed(cloud.post((api_id, secret)), "UNAUTHORIZED", 401, reason="revoked")

    expired = cloud.key(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    failed(cloud.post(expired), "KEY_EXPIRED", 401, reason="expired at")


def test_no_permission_rate_limit_and_quota(
    cloud: Cloud, package: LivenessPackage, selfie: bytes
) -> None:
    failed(
        cloud.post(cloud.key(endpoints=("/identity/other",))),
        "NO_PERMISSION",
        403,
    )
    allowed = cloud.key(endpoints=(URL,))
    failed(cloud.post(allowed), "INVALID_ARGUMENT", 400)  # past the permission check

    limited = cloud.key(rate_per_second=1.0)
    failed(cloud.post(limited), "INVALID_ARGUMENT", 400)
    r = cloud.post(limited)
    failed(r, "RATE_LIMIT_EXCEEDED", 403)
    assert int(r.headers["Retry-After"]) >= 1

    counted = cloud.key(quota_total=1)
    failed(
        cloud.post(counted, selfie_image_id="0" * 32, liveness_data_id="0" * 32),
        "IMAGE_ID_NOT_EXIST",
        400,
        image="selfie_image_id",
    )  # a call, and it counts
    failed(
        cloud.post(counted, selfie_image_id="0" * 32, liveness_data_id="0" * 32),
        "OUT_OF_QUOTA",
        403,
        reason="total",
    )
    daily = cloud.key(quota_daily=1)
    ok(
        cloud.post(
            daily, {"liveness_data_file": fresh(package, cloud.settings), "selfie_file": selfie}
        )
    )
    failed(
        cloud.post(
            daily, {"liveness_data_file": fresh(package, cloud.settings), "selfie_file": selfie}
        ),
        "OUT_OF_QUOTA",
        403,
        reason="daily",
    )


def test_not_found_for_a_wrong_path_or_method(cloud: Cloud) -> None:
    api_id, secret = cloud.key()
    r = cloud.client.post(
        f"/identity/liveness_selfie_verificaton?api_id={api_id}&api_secret={secret}"
    )
    failed(r, "NOT_FOUND", 404)
    failed(cloud.client.get(URL), "NOT_FOUND", 404)
    # The private-cloud endpoints keep their own envelope for unknown paths.
    other = cloud.client.post("/identity/nothing_here/stateless")
    assert other.status_code == 404
    assert other.json()["code"] == 404


def test_internal_error_for_a_damaged_stored_upload_gives_the_unit_back(
    cloud: Cloud, package: LivenessPackage, selfie: bytes
) -> None:
    api = cloud.key()
    first = ok(
        cloud.post(
            api, {"liveness_data_file": fresh(package, cloud.settings), "selfie_file": selfie}
        )
    )
    blob = next((cloud.settings.data_path / "blobs").rglob(first["image_id"]))
    damaged = bytearray(blob.read_bytes())
    damaged[-5] ^= 0xFF
    blob.write_bytes(bytes(damaged))
    used = cloud.keys.get(api[0]).used_total  # type: ignore[union-attr]
    body = failed(
        cloud.post(
            api, selfie_image_id=first["image_id"], liveness_data_id=first["liveness_data_id"]
        ),
        "INTERNAL_ERROR",
        500,
    )
    assert first["image_id"] not in body.get("reason", "")
    assert cloud.keys.get(api[0]).used_total == used  # type: ignore[union-attr]


def test_an_unreachable_database_is_503_with_retry_after(tmp_path: Path, cloud: Cloud) -> None:
    closed = free_port()
    settings = cloud_settings(
        tmp_path, f"postgresql+psycopg://facegate@127.0.0.1:{closed}/facegate?connect_timeout=2"
    )
    with TestClient(create_app(settings, engine=cloud.engine)) as c:
        r = c.post(URL, data={"api_id": "a" * 32, "api_secret": "s"})
    failed(r, "INTERNAL_ERROR", 503, reason="database")
    assert r.headers["Retry-After"] == "5"


def test_failed_authentications_are_limited_per_address(tmp_path: Path, cloud: Cloud) -> None:
    settings = cloud_settings(tmp_path, cloud.settings.database).model_copy(
        update={"auth_failure_burst": 3, "auth_failure_window_seconds": 600.0}
    )
    api_id, secret = cloud.key()
    with TestClient(create_app(settings, engine=cloud.engine)) as c:
        for _ in range(3):
            failed(c.post(URL, data={"api_id": api_id, "api_secret": "guess"}), "UNAUTHORIZED", 401)
        # Even the right secret is refused from this address now; the answer tells nothing.
        r = c.post(URL, data={"api_id": api_id, "api_secret": secret})
        failed(r, "RATE_LIMIT_EXCEEDED", 403)
        assert int(r.headers["Retry-After"]) > 100


def test_concurrent_wrong_secrets_are_checked_no_more_than_the_burst(
    tmp_path: Path, cloud: Cloud
) -> None:
    # Issue 17's repro: 100 wrong secrets at once from one address, against a burst of 10. The
    # token is taken before each check, so at most 10 secrets are ever checked.
    settings = cloud_settings(tmp_path, cloud.settings.database).model_copy(
        update={"auth_failure_burst": 10, "auth_failure_window_seconds": 600.0}
    )
    api_id, _ = cloud.key()

    async def storm(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http_client:
            form = {"api_id": api_id, "api_secret": "guess"}
            return list(
                await asyncio.gather(*(http_client.post(URL, data=form) for _ in range(100)))
            )

    with ThreadServer(create_app(settings, engine=cloud.engine)) as server:
        responses = asyncio.run(storm(server.url))
    statuses = [r.json()["status"] for r in responses]
    assert statuses.count("UNAUTHORIZED") <= 10, statuses
    assert statuses.count("UNAUTHORIZED") + statuses.count("RATE_LIMIT_EXCEEDED") == 100


@pytest.mark.parametrize("trusted", [False, True])
def test_a_forwarded_address_counts_only_from_a_trusted_proxy(
    tmp_path: Path, cloud: Cloud, trusted: bool
) -> None:
    # Issue 17's repro: wrong secrets from loopback, each claiming another client address.
    from facegate.cli import server_options

    settings = cloud_settings(tmp_path, cloud.settings.database).model_copy(
        update={
            "auth_failure_burst": 2,
            "auth_failure_window_seconds": 600.0,
            "trusted_proxies": ["127.0.0.1"] if trusted else [],
        }
    )
    api_id, _ = cloud.key()
    app = create_app(settings, engine=cloud.engine)
    with ThreadServer(app, **server_options(settings)) as server:
        statuses = [
            httpx.post(
                server.url + URL,
                data={"api_id": api_id, "api_secret": "guess"},
                headers={"X-Forwarded-For": f"203.0.113.{i}"},
                timeout=30,
            ).json()["status"]
            for i in range(4)
        ]
    if trusted:  # each forwarded address has a bucket of its own, as it should behind a proxy
        assert statuses == ["UNAUTHORIZED"] * 4
    else:  # the header is ignored: one address, one bucket
        assert statuses == ["UNAUTHORIZED"] * 2 + ["RATE_LIMIT_EXCEEDED"] * 2


def test_a_right_secret_gives_its_token_back(tmp_path: Path, cloud: Cloud) -> None:
    settings = cloud_settings(tmp_path, cloud.settings.database).model_copy(
        update={"auth_failure_burst": 2, "auth_failure_window_seconds": 600.0}
    )
    api_id, secret = cloud.key()
    with TestClient(create_app(settings, engine=cloud.engine)) as c:
        for _ in range(5):  # more than the burst: right secrets are not charged
            r = c.post(URL, data={"api_id": api_id, "api_secret": secret})
            assert r.json()["status"] == "INVALID_ARGUMENT", r.text  # past authentication
        failed(c.post(URL, data={"api_id": api_id, "api_secret": "x"}), "UNAUTHORIZED", 401)
        failed(c.post(URL, data={"api_id": api_id, "api_secret": "y"}), "UNAUTHORIZED", 401)
        failed(
            c.post(URL, data={"api_id": api_id, "api_secret": secret}), "RATE_LIMIT_EXCEEDED", 403
        )


def test_a_body_over_the_limit_is_refused_before_it_is_read(cloud: Cloud) -> None:
    limit = cloud.app.state.cloud.max_body_bytes
    r = cloud.client.post(
        URL,
        content=b"x",
        headers={
            "Content-Type": "multipart/form-data; boundary=b",
            "Content-Length": str(limit + 1),
        },
    )
    failed(r, "IMAGE_FILE_SIZE_TOO_BIG", 400, reason="payload too large")


# --- quota under concurrency ----------------------------------------------------------------------


def test_50_concurrent_requests_on_the_last_10_units_let_exactly_10_through(
    cloud: Cloud, package: LivenessPackage, selfie: bytes
) -> None:
    api_id, secret = cloud.key()
    stored = ok(
        cloud.post(
            (api_id, secret),
            {"liveness_data_file": fresh(package, cloud.settings), "selfie_file": selfie},
        )
    )
    used = cloud.keys.get(api_id).used_total  # type: ignore[union-attr]
    cloud.keys.update(api_id, quota_total=used + 10)
    form = {
        "api_id": api_id,
        "api_secret": secret,
        "selfie_image_id": stored["image_id"],
        "liveness_data_id": stored["liveness_data_id"],
    }

    async def burst(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http_client:
            return list(
                await asyncio.gather(*(http_client.post(URL, data=form) for _ in range(50)))
            )

    with ThreadServer(create_app(cloud.settings, engine=cloud.engine)) as server:
        responses = asyncio.run(burst(server.url))
    statuses = sorted(r.json()["status"] for r in responses)
    assert statuses == ["OK"] * 10 + ["OUT_OF_QUOTA"] * 40, statuses
    for r in responses:
        if r.status_code == 200:
            assert ok(r)["verify_score"] == stored["verify_score"]
        else:
            failed(r, "OUT_OF_QUOTA", 403)
    assert cloud.keys.get(api_id).used_total == used + 10  # type: ignore[union-attr]
    assert len({r.json()["request_id"] for r in responses}) == 50
    assert all(re.match(r"^TID", r.json()["request_id"]) for r in responses)


def test_the_server_deletes_uploads_past_their_retention(cloud: Cloud) -> None:
    from facegate.store.cli import build_blob_store

    store = build_blob_store(cloud.settings)
    api_id, _ = cloud.key()
    key = cloud.keys.get(api_id)
    assert key is not None
    long_ago = datetime.now(UTC) - timedelta(days=cloud.settings.blob_retention_days + 1)
    old = store.put(key.id, "selfie", b"an old upload", now=long_ago)
    recent = store.put(key.id, "selfie", b"a recent upload")
    files = {p.name for p in store.root.rglob("*") if p.is_file()}
    assert {old, recent} <= files
    # A new server opens its store on the first cloud request, and deletes what expired then.
    with TestClient(create_app(cloud.settings, engine=cloud.engine)) as c:
        failed(c.post(URL, data={"api_id": api_id, "api_secret": "wrong"}), "UNAUTHORIZED", 401)
        deadline = time.monotonic() + 10
        while (store.root / old[:2] / old).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not (store.root / old[:2] / old).exists()
    assert store.get(key.id, "selfie", recent) == b"a recent upload"
    store.db.dispose()


def test_a_post_with_no_body_and_credentials_in_the_query_is_read(cloud: Cloud) -> None:
    """``curl -X POST "URL?api_id=…&api_secret=…"`` sends neither Content-Length nor a body."""
    api_id, secret = cloud.key()
    app = create_app(cloud.settings, engine=cloud.engine)
    with (
        ThreadServer(app) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as s,
    ):
        s.sendall(
            f"POST {URL}?api_id={api_id}&api_secret={secret} HTTP/1.1\r\n"
            "Host: localhost\r\nConnection: close\r\n\r\n".encode()
        )
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert b'"status":"INVALID_ARGUMENT"' in body, body  # authenticated; no inputs given
    assert b"exactly one of selfie_file" in body, body
