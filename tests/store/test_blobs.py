"""Stored uploads: encrypted at rest, bound to their row, one tenant's invisible to another, and
purged (rows and files) by key, by expiry and as orphans; on SQLite and on PostgreSQL."""

from __future__ import annotations

import builtins
import io
import json
import os
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from facegate.store.blobs import BlobCorruptError, BlobNotFoundError, BlobStore
from facegate.store.db import ApiKey, Database, StoredBlob
from facegate.store.keys import KeyStore

PEPPER = b"p" * 32
KEY = bytes(range(32))
RETENTION = timedelta(days=30)
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MARKER = b"SELFIE-PLAINTEXT-MARKER-0123456789"
DATA = b"\xff\xd8\xff\xe0" + MARKER * 50 + b"\xff\xd9"


def _tenants(database: Database, n: int = 2) -> list[int]:
    store = KeyStore(database, PEPPER)
    return [store.create(f"tenant {i}")[0].id for i in range(n)]


def _store(database: Database, tmp_path: Path, key: bytes = KEY) -> BlobStore:
    return BlobStore(database, tmp_path / "blobs", key, RETENTION)


def _path(store: BlobStore, blob_id: str) -> Path:
    return store.root / blob_id[:2] / blob_id


def _files(store: BlobStore) -> set[str]:
    return {p.name for p in store.root.rglob("*") if p.is_file()}


def _rows(database: Database) -> int:
    with database.session() as s:
        return int(s.scalar(select(func.count()).select_from(StoredBlob)) or 0)


def test_put_then_get_round_trips_and_the_file_is_encrypted_0600(
    database: Database, tmp_path: Path
) -> None:
    [a, _] = _tenants(database)
    store = _store(database, tmp_path)
    blob_id = store.put(a, "selfie", DATA, now=T0)
    assert len(blob_id) == 32
    assert blob_id == blob_id.lower()
    int(blob_id, 16)
    assert store.get(a, "selfie", blob_id, now=T0 + timedelta(days=1)) == DATA
    path = _path(store, blob_id)
    raw = path.read_bytes()
    assert MARKER not in raw
    assert DATA not in raw
    assert len(raw) == 1 + 12 + len(DATA) + 16  # version, nonce, ciphertext, tag
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert _files(store) == {blob_id}  # no temporary file left behind
    with database.session() as s:
        row = s.get(StoredBlob, blob_id)
        assert row is not None
        assert (row.key_id, row.kind, row.size) == (a, "selfie", len(DATA))
        created, expires = row.created_at, row.expires_at
    # SQLite hands back naive datetimes; they were stored as UTC.
    assert created.replace(tzinfo=created.tzinfo or UTC) == T0
    assert expires.replace(tzinfo=expires.tzinfo or UTC) == T0 + RETENTION
    # Same bytes again: a new id and a new nonce, so a new file.
    again = store.put(a, "selfie", DATA, now=T0)
    assert again != blob_id
    assert _path(store, again).read_bytes()[1:13] != raw[1:13]
    assert store.get(a, "selfie", again, now=T0) == DATA


def test_not_found_says_the_same_whatever_the_cause(database: Database, tmp_path: Path) -> None:
    [a, b] = _tenants(database)
    store = _store(database, tmp_path)
    blob_id = store.put(a, "selfie", DATA, now=T0)
    with pytest.raises(BlobNotFoundError) as unknown:
        store.get(a, "selfie", "0" * 32, now=T0)
    with pytest.raises(BlobNotFoundError) as other_tenant:
        store.get(b, "selfie", blob_id, now=T0)
    with pytest.raises(BlobNotFoundError) as wrong_kind:
        store.get(a, "liveness", blob_id, now=T0)
    with pytest.raises(BlobNotFoundError) as expired:
        store.get(a, "selfie", blob_id, now=T0 + RETENTION)
    _path(store, blob_id).unlink()
    with pytest.raises(BlobNotFoundError) as gone:
        store.get(a, "selfie", blob_id, now=T0)
    messages = {str(e.value) for e in (unknown, other_tenant, wrong_kind, expired, gone)}
    assert len(messages) == 1
    assert blob_id not in messages.pop()


def test_expired_uploads_are_purged_rows_and_files(database: Database, tmp_path: Path) -> None:
    [a, b] = _tenants(database)
    store = _store(database, tmp_path)
    old = store.put(a, "selfie", DATA, now=T0)
    new = store.put(b, "liveness", b"package", now=T0 + timedelta(days=10))
    just_before = T0 + RETENTION - timedelta(microseconds=1)
    assert store.get(a, "selfie", old, now=just_before) == DATA
    # Another zone, same instant: the comparison is on the instant, not the digits.
    eastern = (T0 + RETENTION).astimezone(ZoneInfo("Asia/Tokyo"))
    with pytest.raises(BlobNotFoundError):
        store.get(a, "selfie", old, now=eastern)
    assert store.purge_expired(now=just_before) == 0
    assert store.purge_expired(now=T0 + RETENTION) == 1
    assert _files(store) == {new}
    assert _rows(database) == 1
    with pytest.raises(BlobNotFoundError):
        store.get(a, "selfie", old, now=T0)  # gone for good, even at an earlier time
    assert store.get(b, "liveness", new, now=T0 + RETENTION) == b"package"
    assert store.purge_expired(now=T0 + RETENTION) == 0


def _flip_last_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x01
    path.write_bytes(bytes(raw))


def test_a_tampered_file_is_corrupt_not_data(database: Database, tmp_path: Path) -> None:
    [a, _] = _tenants(database)
    store = _store(database, tmp_path)
    blob_id = store.put(a, "selfie", DATA, now=T0)
    path = _path(store, blob_id)
    original = path.read_bytes()
    for offset in (1, 20, len(original) - 1):  # nonce, ciphertext, tag
        raw = bytearray(original)
        raw[offset] ^= 0x01
        path.write_bytes(bytes(raw))
        with pytest.raises(BlobCorruptError):
            store.get(a, "selfie", blob_id, now=T0)
    for bad in (b"", original[:20], bytes([2]) + original[1:]):  # truncated, other version
        path.write_bytes(bad)
        with pytest.raises(BlobCorruptError):
            store.get(a, "selfie", blob_id, now=T0)
    path.write_bytes(original)
    assert store.get(a, "selfie", blob_id, now=T0) == DATA


def test_a_file_copied_onto_another_blob_fails_authentication(
    database: Database, tmp_path: Path
) -> None:
    [a, b] = _tenants(database)
    store = _store(database, tmp_path)
    mine = store.put(a, "selfie", DATA, now=T0)
    same_tenant = store.put(a, "selfie", b"other selfie", now=T0)
    other_tenant = store.put(b, "selfie", b"b's selfie", now=T0)
    other_kind = store.put(a, "liveness", b"a's package", now=T0)
    for target, owner, kind in (
        (same_tenant, a, "selfie"),
        (other_tenant, b, "selfie"),
        (other_kind, a, "liveness"),
    ):
        _path(store, target).write_bytes(_path(store, mine).read_bytes())
        with pytest.raises(BlobCorruptError):
            store.get(owner, kind, target, now=T0)  # type: ignore[arg-type]
    assert store.get(a, "selfie", mine, now=T0) == DATA


def test_another_server_key_cannot_read_the_files(database: Database, tmp_path: Path) -> None:
    [a, _] = _tenants(database)
    blob_id = _store(database, tmp_path).put(a, "selfie", DATA, now=T0)
    with pytest.raises(BlobCorruptError):
        _store(database, tmp_path, key=b"k" * 32).get(a, "selfie", blob_id, now=T0)
    with pytest.raises(ValueError, match="32 bytes"):
        _store(database, tmp_path, key=b"short")


def test_a_row_whose_sha256_was_changed_is_corrupt(database: Database, tmp_path: Path) -> None:
    [a, _] = _tenants(database)
    store = _store(database, tmp_path)
    blob_id = store.put(a, "selfie", DATA, now=T0)
    with database.session.begin() as s:
        row = s.get(StoredBlob, blob_id)
        assert row is not None
        row.sha256 = "0" * 64
    with pytest.raises(BlobCorruptError):
        store.get(a, "selfie", blob_id, now=T0)


def test_malformed_ids_are_not_found_without_touching_the_filesystem(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    [a, _] = _tenants(database)
    store = _store(database, tmp_path)
    blob_id = store.put(a, "selfie", DATA, now=T0)
    # A readable file outside root, where a path built from "../secret" would land.
    (tmp_path / "secret").write_bytes(b"not yours")
    bad_ids = [
        "../etc/passwd",
        "../secret",
        "/etc/passwd",
        blob_id.upper(),
        blob_id[:31],
        blob_id + "0",
        blob_id[:31] + "g",
        blob_id[:31] + "\n",
        "",
        "..",
    ]
    # Rows under those very ids, so that only the format check stands between them and a path.
    with database.session.begin() as s:
        for bad in bad_ids:
            if len(bad) <= 32:
                s.add(
                    StoredBlob(
                        id=bad,
                        key_id=a,
                        kind="selfie",
                        size=9,
                        sha256="0" * 64,
                        created_at=T0,
                        expires_at=T0 + RETENTION,
                    )
                )
    touched: list[str] = []

    def spy(name: str, real: Any) -> Any:
        def wrapper(target: Any, *args: Any, **kwargs: Any) -> Any:
            touched.append(f"{name} {target}")
            return real(target, *args, **kwargs)

        return wrapper

    for owner, name in [
        (builtins, "open"),
        (io, "open"),
        (os, "open"),
        (os, "stat"),
        (Path, "open"),
        (Path, "read_bytes"),
        (Path, "stat"),
        (Path, "exists"),
    ]:
        monkeypatch.setattr(owner, name, spy(name, getattr(owner, name)))
    messages = set()
    for bad in bad_ids:
        with pytest.raises(BlobNotFoundError) as exc:
            store.get(a, "selfie", bad, now=T0)
        messages.add(str(exc.value))
    assert touched == []
    assert len(messages) == 1
    # The spies do see a real read.
    assert store.get(a, "selfie", blob_id, now=T0) == DATA
    assert any(str(_path(store, blob_id)) in t for t in touched)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="kind"):
        store.put(a, "video", DATA)  # type: ignore[arg-type]


def test_purge_key_removes_only_that_tenants_rows_and_files(
    database: Database, tmp_path: Path
) -> None:
    [a, b] = _tenants(database)
    store = _store(database, tmp_path)
    a_ids = {store.put(a, "selfie", DATA, now=T0), store.put(a, "liveness", b"pkg", now=T0)}
    b_id = store.put(b, "selfie", b"b", now=T0)
    assert store.purge_key(a) == 2
    assert _files(store) == {b_id}
    with database.session() as s:
        assert list(s.scalars(select(StoredBlob.key_id))) == [b]
    for blob_id in a_ids:
        with pytest.raises(BlobNotFoundError):
            store.get(a, "selfie", blob_id, now=T0)
    assert store.get(b, "selfie", b_id, now=T0) == b"b"
    assert store.purge_key(a) == 0


def test_a_failed_row_insert_leaves_no_file(database: Database, tmp_path: Path) -> None:
    store = _store(database, tmp_path)
    with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
        store.put(999_999, "selfie", DATA, now=T0)  # no such api_keys row
    assert _files(store) == set()
    assert _rows(database) == 0


def test_files_orphaned_by_a_deleted_key_are_swept_once_an_hour_old(
    database: Database, tmp_path: Path
) -> None:
    [a, b] = _tenants(database)
    store = _store(database, tmp_path)
    orphans = {store.put(a, "selfie", DATA), store.put(a, "liveness", b"pkg")}
    kept = store.put(b, "selfie", b"b")
    with database.session.begin() as s:
        s.execute(delete(ApiKey).where(ApiKey.id == a))
    assert _rows(database) == 1  # ON DELETE CASCADE
    assert _files(store) == {*orphans, kept}
    # A crash between the file write and the row insert, and one inside the write.
    crashed = _path(store, "ab" + "0" * 30)
    crashed.parent.mkdir(exist_ok=True)
    crashed.write_bytes(b"x")
    stale_tmp = store.root / kept[:2] / ".tmp-crashed"
    stale_tmp.write_bytes(b"x")
    unrelated = store.root / "README"
    unrelated.write_text("not ours to delete")

    assert store.purge_expired() == 0  # too young: could be a put in progress
    assert _files(store) == {*orphans, kept, crashed.name, stale_tmp.name, "README"}

    two_hours_ago = time.time() - 7200
    for path in [*(_path(store, o) for o in orphans), crashed, stale_tmp, _path(store, kept)]:
        os.utime(path, (two_hours_ago, two_hours_ago))
    os.utime(unrelated, (two_hours_ago, two_hours_ago))
    assert store.purge_expired() == 3  # two orphans of the deleted key, one crashed put
    assert _files(store) == {kept, "README"}
    assert store.get(b, "selfie", kept) == b"b"  # old but with a row: kept


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FACEGATE_DATA_DIR": str(data_dir)}
    env.pop("FACEGATE_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "facegate", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_purges_a_keys_uploads_and_expired_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from facegate.settings import Settings
    from facegate.store.cli import build_blob_store

    created = [_cli(tmp_path, "keys", "create", "--json") for _ in range(2)]
    assert all(c.returncode == 0 for c in created), created[0].stderr
    api_a, api_b = (json.loads(c.stdout)["api_id"] for c in created)

    monkeypatch.delenv("FACEGATE_DATABASE_URL", raising=False)
    store = build_blob_store(Settings(data_dir=tmp_path))
    keys = KeyStore(store.db, PEPPER)
    info_a, info_b = keys.get(api_a), keys.get(api_b)
    assert info_a is not None
    assert info_b is not None
    a_ids = [store.put(info_a.id, "selfie", DATA), store.put(info_a.id, "liveness", b"p")]
    expired = store.put(info_b.id, "selfie", b"old", now=datetime.now(UTC) - timedelta(days=400))
    b_id = store.put(info_b.id, "selfie", b"b")
    assert store.get(info_a.id, "selfie", a_ids[0]) == DATA  # the CLI's store is the server's

    purged = _cli(tmp_path, "data", "purge", "--key", api_a, "--json")
    assert purged.returncode == 0, purged.stderr
    assert json.loads(purged.stdout) == {"deleted": 2}
    assert _files(store) == {expired, b_id}

    purged = _cli(tmp_path, "data", "purge", "--expired")
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout.strip() == "deleted 1 stored upload"
    assert _files(store) == {b_id}
    assert store.get(info_b.id, "selfie", b_id) == b"b"

    unknown = _cli(tmp_path, "data", "purge", "--key", "f" * 32)
    assert unknown.returncode == 1
    assert "no key" in unknown.stderr
    assert _cli(tmp_path, "data", "purge").returncode == 2  # one of the two is required
    both = _cli(tmp_path, "data", "purge", "--expired", "--key", api_b)
    assert both.returncode == 2
    assert "not allowed with" in both.stderr
    assert _files(store) == {b_id}
    store.db.dispose()
