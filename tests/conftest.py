"""Shared fixtures: settings, the real app (models load once per session), data and images."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from facegate.api.app import create_app
from facegate.core.crypto import Cipher
from facegate.ops.logs import logging_config
from facegate.settings import Settings
from facegate.store.db import Base, Database
from tests.servers import pg_bin, postgres_server, redis_bin, redis_server

if TYPE_CHECKING:
    from facegate.sdk.capture import Capturer

ROOT = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    return (ROOT / os.environ.get("FACEGATE_TEST_DATA", "../shared/data")).resolve()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    root = data_root()
    if not (root / "lfw").is_dir():
        pytest.skip(
            f"real face data not found at {root} "
            "(set FACEGATE_TEST_DATA to the folder that holds lfw/)"
        )
    return root


@pytest.fixture(scope="session")
def pack_source() -> Path:
    """The MiniFASNet pack's files (FACEGATE_TEST_MODELS, default ../shared/models)."""
    folder = (ROOT / os.environ.get("FACEGATE_TEST_MODELS", "../shared/models")).resolve()
    folder = folder / "minifasnet"
    if not folder.is_dir():
        pytest.skip(
            f"model pack files not found at {folder} "
            "(set FACEGATE_TEST_MODELS to the folder that holds minifasnet/)"
        )
    return folder


@pytest.fixture(scope="session")
def pack_model_dir(pack_source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory with the MiniFASNet pack installed from ``pack_source``."""
    from facegate.vision.packs import install_pack

    root = tmp_path_factory.mktemp("model_dir")
    install_pack("minifasnet", str(pack_source), root)
    return root


@pytest.fixture(scope="session")
def videos(data_dir: Path) -> Path:
    """The face videos: ``live/`` and ``replay/``."""
    folder = data_dir / "video"
    if not (folder / "live").is_dir():
        pytest.skip(f"no video/live folder in {data_dir}")
    return folder


@pytest.fixture(scope="session")
def capturer(settings: Settings) -> Iterator[Capturer]:
    """The liveness-package SDK's capturer, on the default models."""
    from facegate.compose import build_liveness
    from facegate.sdk.capture import Capturer

    analyzer = build_liveness(settings)
    yield Capturer(analyzer)
    analyzer.close()


@pytest.fixture(scope="session")
def lfw(data_dir: Path) -> Path:
    return data_dir / "lfw"


@pytest.fixture(scope="session")
def settings() -> Settings:
    # The default install: a MiniFASNet pack installed on this machine must not change results.
    return Settings(liveness_use_pack=False)


@pytest.fixture(scope="session")
def cipher(settings: Settings) -> Cipher:
    return Cipher(settings.decrypt_key, settings.decrypt_iv)


@pytest.fixture(scope="session")
def app(settings: Settings) -> Iterator[FastAPI]:
    return create_app(settings)


@pytest.fixture(scope="session")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def jpeg_bytes(pixels_rgb: np.ndarray, quality: int = 90, **save: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels_rgb).save(buf, format="JPEG", quality=quality, **save)
    return buf.getvalue()


def encode(img: Image.Image, fmt: str, **save: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save)
    return buf.getvalue()


def load_rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def lfw_photo(lfw: Path, person: str, n: int) -> Path:
    return lfw / person / f"{person}_{n:04d}.jpg"


def upscale_to_vga(rgb: np.ndarray) -> np.ndarray:
    """An LFW 250×250 face put on a 640×480 canvas, as the manual's recommended photo size."""
    canvas = np.full((480, 640, 3), 128, dtype=np.uint8)
    big = np.asarray(Image.fromarray(rgb).resize((400, 400), Image.Resampling.BICUBIC))
    canvas[40:440, 120:520] = big
    return canvas


class JsonLog:
    """What facegate logged during one test, in its production JSON format."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        # json.loads fails the test on any line that is not one JSON object.
        return [json.loads(line) for line in self.text().splitlines()]


@pytest.fixture
def json_log() -> Iterator[JsonLog]:
    """The formatter and request-id filter of ``logging_config("json")``, built from that very
    document, on a StringIO handler of the ``facegate`` logger for one test. The process's own
    logging configuration is left as it was (``dictConfig`` would change it for every test)."""
    config = logging_config("json", "info")
    configurator = logging.config.DictConfigurator(config)
    formatter = configurator.configure_formatter(dict(config["formatters"]["default"]))
    request_ids = configurator.configure_filter(dict(config["filters"]["request_id"]))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(request_ids)
    logger = logging.getLogger("facegate")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield JsonLog(stream)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A private Redis server for the session (flush it where a test needs it empty)."""
    if redis_bin() is None:
        pytest.skip("redis-server is not installed (.ci/run installs Debian's redis-server)")
    with redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A private PostgreSQL server for the session."""
    if pg_bin() is None:
        pytest.skip("PostgreSQL is not installed (Debian package postgresql; .ci/run installs it)")
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database: each test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'facegate.db'}")
    else:
        from sqlalchemy import text

        db = Database(request.getfixturevalue("postgres_url"))
        with db.engine.begin() as conn:  # each test starts from an empty schema
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    db.migrate()
    yield db
    db.dispose()
