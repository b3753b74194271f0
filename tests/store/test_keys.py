"""API keys: hashed secrets, authentication, and quota that holds under concurrency, on SQLite
and on a real PostgreSQL server."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from facegate.store.db import ApiKey, Base, Database
from facegate.store.keys import AccessDeniedError, KeyStore, Limits

PEPPER = b"p" * 32
TODAY = date(2026, 11, 24)


def test_the_migrations_build_exactly_the_models(database: Database) -> None:
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert {"api_keys", "daily_usage", "blobs", "alembic_version"} <= set(
        inspect(database.engine).get_table_names()
    )
    database.migrate()  # a second run is a no-op


def test_a_key_authenticates_with_its_secret_only(database: Database) -> None:
    store = KeyStore(database, PEPPER)
    info, secret = store.create("app")
    assert len(info.api_id) == 32
    assert len(secret) == 32
    assert store.authenticate(info.api_id, secret).id == info.id
    other = "x" if secret[-1] != "x" else "y"  # the last character changed, whatever it was
    for api_id, wrong in [
        (info.api_id, secret[:-1] + other),
        (info.api_id, ""),
        ("f" * 32, secret),
    ]:
        with pytest.raises(AccessDeniedError) as exc:
            store.authenticate(api_id, wrong)
        assert exc.value.status == "UNAUTHORIZED"


def test_the_database_holds_no_usable_secret(database: Database) -> None:
    store = KeyStore(database, PEPPER)
    info, secret = store.create("app")
    with database.session() as s:
        row = s.get(ApiKey, info.id)
        assert row is not None
        stored = row.secret_hash
    assert secret.encode() not in stored
    assert stored != hashlib.sha256(row.salt + secret.encode()).digest()  # peppered
    # The same table under another pepper (the server key not leaked with it) is useless.
    with pytest.raises(AccessDeniedError):
        KeyStore(database, b"q" * 32).authenticate(info.api_id, secret)


def test_revoked_and_expired_keys_are_refused(database: Database) -> None:
    store = KeyStore(database, PEPPER)
    soon = datetime.now(UTC) + timedelta(hours=1)
    info, secret = store.create("app", Limits(expires_at=soon))
    assert store.authenticate(info.api_id, secret)
    with pytest.raises(AccessDeniedError) as exc:
        store.authenticate(info.api_id, secret, now=soon + timedelta(seconds=1))
    assert exc.value.status == "KEY_EXPIRED"
    assert "expired at" in exc.value.reason
    assert store.revoke(info.api_id)
    assert not store.revoke(info.api_id)
    with pytest.raises(AccessDeniedError, match="revoked") as exc:
        store.authenticate(info.api_id, secret)
    assert exc.value.status == "UNAUTHORIZED"


def test_the_last_units_of_quota_go_to_exactly_that_many_of_50_parallel_requests(
    database: Database,
) -> None:
    store = KeyStore(database, PEPPER)
    info, _ = store.create("app", Limits(quota_total=1000))
    store.update(info.api_id, quota_total=10)
    key = store.get(info.api_id)
    assert key is not None
    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(lambda _: store.use_quota(key, TODAY), range(50)))
    assert results.count("ok") == 10
    assert results.count("total") == 40
    after = store.get(info.api_id)
    assert after is not None
    assert after.used_total == 10


def _use_from_another_process(url: str, api_id: str, n: int) -> list[str]:
    db = Database(url)
    store = KeyStore(db, PEPPER)
    key = store.get(api_id)
    assert key is not None
    with ThreadPoolExecutor(n) as pool:
        out = list(pool.map(lambda _: store.use_quota(key, TODAY), range(n)))
    db.dispose()
    return out


def test_quota_holds_across_processes(database: Database) -> None:
    store = KeyStore(database, PEPPER)
    info, _ = store.create("app", Limits(quota_total=7))
    # Spawned, not forked: a fork of this many-threaded test process can inherit a lock that
    # another thread held (it hung a CI run in the child's first futex wait).
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as procs:
        parts = list(
            procs.map(_use_from_another_process, [database.url] * 2, [info.api_id] * 2, [25, 25])
        )
    results = parts[0] + parts[1]
    assert results.count("ok") == 7


def test_the_daily_quota_resets_each_day_and_takes_nothing_when_refused(
    database: Database,
) -> None:
    store = KeyStore(database, PEPPER)
    info, _ = store.create("app", Limits(quota_daily=3, quota_total=100))
    key = store.get(info.api_id)
    assert key is not None
    assert [store.use_quota(key, TODAY) for _ in range(4)] == ["ok", "ok", "ok", "daily"]
    used = store.get(info.api_id)
    assert used is not None
    assert used.used_total == 3
    assert store.use_quota(key, TODAY + timedelta(days=1)) == "ok"
    store.refund_quota(key, TODAY)
    assert store.use_quota(key, TODAY) == "ok"


def test_update_changes_and_clears_limits(database: Database) -> None:
    store = KeyStore(database, PEPPER)
    info, _ = store.create("app", Limits(rate_per_second=5, endpoints=("/a",)))
    changed = store.update(info.api_id, rate_per_second=None, endpoints=("/b", "/c"), name="x")
    assert changed is not None
    assert changed.rate_per_second is None
    assert changed.endpoints == ("/b", "/c")
    assert changed.name == "x"
    assert store.update("0" * 32, name="y") is None
    with pytest.raises(ValueError, match="unknown"):
        store.update(info.api_id, secret_hash=b"")


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FACEGATE_DATA_DIR": str(data_dir)}
    env.pop("FACEGATE_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "facegate", "keys", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_creates_lists_sets_and_revokes(tmp_path: Path) -> None:
    created = _cli(
        tmp_path, "create", "--name", "shop", "--quota", "5", "--expires", "30d", "--json"
    )
    assert created.returncode == 0, created.stderr
    pair = json.loads(created.stdout)
    assert list(pair) == ["api_id", "api_secret"]
    listed = _cli(tmp_path, "list", "--json")
    assert pair["api_secret"] not in listed.stdout  # shown once, never again
    [row] = json.loads(listed.stdout)
    assert row["api_id"] == pair["api_id"]
    assert row["quota_total"] == 5
    assert row["name"] == "shop"
    changed = _cli(tmp_path, "set", pair["api_id"], "--daily-quota", "2", "--clear", "quota_total")
    assert changed.returncode == 0, changed.stderr
    assert json.loads(changed.stdout)["quota_daily"] == 2
    assert json.loads(changed.stdout)["quota_total"] is None
    # The secret the CLI printed is the one the server accepts.
    db = Database(f"sqlite:///{tmp_path / 'facegate.db'}")
    from facegate.settings import Settings

    pepper = Settings(data_dir=tmp_path).derived_key("api secrets")
    assert KeyStore(db, pepper).authenticate(pair["api_id"], pair["api_secret"])
    assert _cli(tmp_path, "revoke", pair["api_id"]).returncode == 0
    assert _cli(tmp_path, "revoke", pair["api_id"]).returncode == 1
    with pytest.raises(AccessDeniedError, match="revoked"):
        KeyStore(db, pepper).authenticate(pair["api_id"], pair["api_secret"])
    assert _cli(tmp_path, "create", "--expires", "tomorrow").returncode == 2
