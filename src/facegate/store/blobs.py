"""Stored uploads of the cloud API: selfies and liveness packages kept so they can be used again
by id, one tenant (API key) each.

Layout. The database row (``blobs``: id, key_id, kind, size, sha256, created_at, expires_at) says
who owns an upload and until when; the bytes live in a file ``root/<id[:2]>/<id>``. Ids are
32 lowercase hex characters (128 random bits from ``secrets``), so they cannot be guessed, and
an id is checked against that format before it is used in a path: nothing a client sends can
name a file outside ``root``. Files are written to a temporary file in the same folder and
moved into place with ``os.replace``, so a reader sees the whole file or none; files are
``0o600`` and folders ``0o700``.

Encryption. Each file is ``version (1 byte) ‖ nonce (12) ‖ AES-256-GCM(ciphertext ‖ tag)``
under the server's blob key, with a fresh random nonce per file. The associated data is the
file's row identity (version, blob id, key id, kind): the tag then vouches not only that the
bytes are the ones written, but that they were written *for this row*. Someone able to write
to the data folder cannot copy tenant A's file over tenant B's id (or over a selfie id that
should hold a liveness package) and have B's request read it: authentication fails, and
``get`` raises ``BlobCorruptError``, a server fault, never the wrong tenant's data. The sha256
in the row is checked after decryption as well, which also catches a row edited in the
database.

Not found. ``get`` answers ``BlobNotFoundError`` with one and the same message whether the id
is malformed, unknown, another tenant's, of the other kind, expired, or its file is gone; the
database lookup asks for all conditions at once, so the work done is the same too. A tenant
must not be able to learn that an id exists for someone else; to a caller, an upload is either
its own and usable, or it does not exist.

Deletion. Rows are deleted first, files after: once its row is gone no request can reach a
file, and a file left behind by a crash (between the file write and the row insert of ``put``,
or between the row delete and the file removal of a purge), or by a cascade when an API key row
is deleted, is an orphan that ``purge_expired`` removes once it is older than
``ORPHAN_AGE``.

The API is synchronous (SQLAlchemy sessions, file I/O); async callers run it in a thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, Literal, get_args

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, select

from facegate.store.db import Database, StoredBlob

log = logging.getLogger(__name__)

BlobKind = Literal["selfie", "liveness", "frame"]  # frame: a session's reference or audit image
KINDS: Final[frozenset[str]] = frozenset(get_args(BlobKind))

VERSION: Final = 1
NONCE_BYTES: Final = 12
TAG_BYTES: Final = 16
# Files without a row (see the module docstring) are removed once they are this old; a put in
# progress writes its row within moments of its file.
ORPHAN_AGE: Final = timedelta(hours=1)

_ID = re.compile(r"[0-9a-f]{32}")
_FOLDER = re.compile(r"[0-9a-f]{2}")
_TMP_PREFIX = ".tmp-"
_NOT_FOUND = "no stored upload with this id (unknown, expired or deleted)"
_CHUNK = 500  # ids per IN (…) query when sweeping orphans


class BlobNotFoundError(Exception):
    """No usable upload by this id for this tenant and kind. The message never says why."""

    def __init__(self) -> None:
        super().__init__(_NOT_FOUND)


class BlobCorruptError(Exception):
    """The file exists but fails authentication (tampered, moved, or another server key): a
    server fault, not the caller's."""


def valid_id(blob_id: object) -> bool:
    """Whether ``blob_id`` has the form of a blob id (32 lowercase hex characters)."""
    return isinstance(blob_id, str) and _ID.fullmatch(blob_id) is not None


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    # SQLite stores the wall-clock digits only: every value must be in UTC to compare right.
    return now.astimezone(UTC)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown blob kind {kind!r}; expected one of {sorted(KINDS)}")


def _aad(blob_id: str, key_id: int, kind: str) -> bytes:
    # Every field has a fixed alphabet without "|" (hex, decimal, a kind name): unambiguous.
    return f"facegate blob v{VERSION}|{blob_id}|{key_id}|{kind}".encode("ascii")


def _remove(path: Path) -> bool:
    """Remove a file; whether this call removed it. Failures other than "already gone" are
    logged, not raised: its row is gone already, and the orphan sweep tries again later."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        log.warning("could not remove stored upload file %s: %s", path, exc)
        return False
    return True


class BlobStore:
    def __init__(self, db: Database, root: Path, key: bytes, retention: timedelta) -> None:
        if len(key) != 32:
            raise ValueError("the blob key must be 32 bytes (AES-256)")
        if retention <= timedelta(0):
            raise ValueError("the retention must be positive")
        self.db = db
        self.root = Path(root)
        self.retention = retention
        self._aead = AESGCM(key)

    # --- paths and files ----------------------------------------------------------------------
    def _path(self, blob_id: str) -> Path:
        # Only ever called with a validated id: no separators, no "..", never absolute.
        return self.root / blob_id[:2] / blob_id

    @staticmethod
    def _mkdir(path: Path) -> None:
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            return
        path.chmod(0o700)  # exactly 0o700, whatever the umask

    def _write(self, blob_id: str, payload: bytes) -> Path:
        self.root.parent.mkdir(parents=True, exist_ok=True)
        self._mkdir(self.root)
        folder = self.root / blob_id[:2]
        self._mkdir(folder)
        path = folder / blob_id
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=folder)  # created 0o600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return path

    def _unlink(self, blob_id: str) -> bool:
        return _remove(self._path(blob_id))

    # --- the API ------------------------------------------------------------------------------
    def put(self, key_id: int, kind: BlobKind, data: bytes, *, now: datetime | None = None) -> str:
        """Store ``data`` for tenant ``key_id``; the new blob's id."""
        _check_kind(kind)
        now = _utc(now)
        blob_id = secrets.token_hex(16)
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, data, _aad(blob_id, key_id, kind))
        path = self._write(blob_id, bytes([VERSION]) + nonce + sealed)
        row = StoredBlob(
            id=blob_id,
            key_id=key_id,
            kind=kind,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            created_at=now,
            expires_at=now + self.retention,
        )
        try:
            with self.db.session.begin() as s:
                s.add(row)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            raise
        return blob_id

    def get(
        self, key_id: int, kind: BlobKind, blob_id: str, *, now: datetime | None = None
    ) -> bytes:
        """The bytes of tenant ``key_id``'s unexpired ``kind`` upload ``blob_id``; else
        ``BlobNotFoundError`` (always the same message), or ``BlobCorruptError`` when the file
        fails authentication."""
        _check_kind(kind)
        now = _utc(now)
        if not valid_id(blob_id):
            raise BlobNotFoundError
        with self.db.session() as s:
            row = s.scalar(
                select(StoredBlob).where(
                    StoredBlob.id == blob_id,
                    StoredBlob.key_id == key_id,
                    StoredBlob.kind == kind,
                    StoredBlob.expires_at > now,
                )
            )
            if row is None:
                raise BlobNotFoundError
            size, sha256 = row.size, row.sha256
        try:
            payload = self._path(blob_id).read_bytes()
        except FileNotFoundError:  # purged since the lookup, or lost
            raise BlobNotFoundError from None
        if len(payload) < 1 + NONCE_BYTES + TAG_BYTES or payload[0] != VERSION:
            raise BlobCorruptError(f"stored upload {blob_id}: not a blob file of version {VERSION}")
        nonce, sealed = payload[1 : 1 + NONCE_BYTES], payload[1 + NONCE_BYTES :]
        try:
            data = self._aead.decrypt(nonce, sealed, _aad(blob_id, key_id, kind))
        except InvalidTag:
            raise BlobCorruptError(
                f"stored upload {blob_id}: the file fails authentication "
                "(tampered, copied from another id, or encrypted under another server key)"
            ) from None
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
            raise BlobCorruptError(f"stored upload {blob_id}: size or sha256 differs from its row")
        return data

    def purge_key(self, key_id: int) -> int:
        """Delete every upload of tenant ``key_id``, rows then files; how many rows."""
        with self.db.session.begin() as s:
            ids = list(
                s.scalars(
                    delete(StoredBlob).where(StoredBlob.key_id == key_id).returning(StoredBlob.id)
                )
            )
        for blob_id in ids:
            self._unlink(blob_id)
        return len(ids)

    def purge_expired(self, *, now: datetime | None = None) -> int:
        """Delete the uploads expired at ``now`` (rows, then files), then the orphan files older
        than ``ORPHAN_AGE`` (by their modification time, on the real clock); how many uploads
        (expired rows plus orphan blob files) were deleted."""
        now = _utc(now)
        with self.db.session.begin() as s:
            ids = list(
                s.scalars(
                    delete(StoredBlob).where(StoredBlob.expires_at <= now).returning(StoredBlob.id)
                )
            )
        for blob_id in ids:
            self._unlink(blob_id)
        return len(ids) + self._sweep_orphans(time.time() - ORPHAN_AGE.total_seconds())

    # --- orphans ------------------------------------------------------------------------------
    def _old_files(self, before: float) -> Iterator[tuple[str, Path]]:
        """``(name, path)`` of the files under ``root/<2 hex>/`` modified before ``before``: blob
        files and temporary files. Anything else under ``root`` is left alone."""
        if not self.root.is_dir():
            return
        for folder in sorted(self.root.iterdir()):
            if not _FOLDER.fullmatch(folder.name) or folder.is_symlink() or not folder.is_dir():
                continue
            for path in folder.iterdir():
                name = path.name
                if not (
                    (valid_id(name) and name[:2] == folder.name) or name.startswith(_TMP_PREFIX)
                ):
                    continue
                try:
                    st = path.lstat()
                except FileNotFoundError:
                    continue
                if st.st_mtime < before:
                    yield name, path

    def _known(self, ids: Iterable[str]) -> set[str]:
        with self.db.session() as s:
            return set(s.scalars(select(StoredBlob.id).where(StoredBlob.id.in_(list(ids)))))

    def _sweep_orphans(self, before: float) -> int:
        removed = 0
        batch: list[tuple[str, Path]] = []

        def flush() -> int:
            known = self._known(name for name, _ in batch)
            n = sum(_remove(path) for name, path in batch if name not in known)
            batch.clear()
            return n

        for name, path in self._old_files(before):
            if name.startswith(_TMP_PREFIX):  # a write that never finished: not an upload
                _remove(path)
                continue
            batch.append((name, path))
            if len(batch) >= _CHUNK:
                removed += flush()
        if batch:
            removed += flush()
        return removed
