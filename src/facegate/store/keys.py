"""API keys of the cloud API: creation, authentication, limits and quota use.

A key is a public ``api_id`` (32 hex) and a secret shown once (32 URL-safe characters, 192
random bits). The database keeps ``HMAC-SHA256(pepper, salt ‖ secret)``: one hash per request
is cheap, and since the secret is random, not chosen by a person, a leaked table cannot be
brute-forced; without the pepper (derived from the server key, never stored in the database)
it cannot even be tried. Comparison is constant-time, and an unknown ``api_id`` costs the same
work as a known one, so timing does not tell which ids exist.

Quota use is one conditional ``UPDATE … WHERE used < quota`` per counter inside a transaction:
the database serializes concurrent updates of a row, so the last unit of quota is handed out
exactly once, across threads and processes alike.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from facegate.store.db import ApiKey, DailyUsage, Database, as_utc

SALT_BYTES = 16
_DUMMY_SALT = bytes(SALT_BYTES)


class AccessDeniedError(Exception):
    """Authentication or permission failure, with the cloud API's status name."""

    def __init__(
        self, status: Literal["UNAUTHORIZED", "KEY_EXPIRED", "NO_PERMISSION"], reason: str
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class KeyInfo:
    id: int
    api_id: str
    name: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    endpoints: tuple[str, ...] | None
    rate_per_second: float | None
    quota_total: int | None
    quota_daily: int | None
    used_total: int

    @classmethod
    def of(cls, row: ApiKey) -> KeyInfo:
        return cls(
            id=row.id,
            api_id=row.api_id,
            name=row.name,
            created_at=as_utc(row.created_at),
            expires_at=as_utc(row.expires_at) if row.expires_at else None,
            revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
            endpoints=tuple(row.endpoints) if row.endpoints is not None else None,
            rate_per_second=row.rate_per_second,
            quota_total=row.quota_total,
            quota_daily=row.quota_daily,
            used_total=row.used_total,
        )


@dataclass(frozen=True, slots=True)
class Limits:
    """What ``create`` and ``update`` set; ``None`` leaves a limit off."""

    expires_at: datetime | None = None
    endpoints: tuple[str, ...] | None = None
    rate_per_second: float | None = None
    quota_total: int | None = None
    quota_daily: int | None = None


def _unknown_key() -> ApiKey:
    return ApiKey(
        id=0,
        api_id="0" * 32,
        name="",
        salt=_DUMMY_SALT,
        secret_hash=bytes(32),
        created_at=datetime.fromtimestamp(0, UTC),
        expires_at=None,
        revoked_at=None,
        endpoints=None,
        rate_per_second=None,
        quota_total=None,
        quota_daily=None,
        used_total=0,
    )


class KeyStore:
    def __init__(self, db: Database, pepper: bytes) -> None:
        if len(pepper) < 32:
            raise ValueError("the pepper must be at least 32 bytes")
        self._db = db
        self._pepper = pepper

    def _hash(self, salt: bytes, secret: str) -> bytes:
        return hmac.new(self._pepper, salt + secret.encode("utf-8"), hashlib.sha256).digest()

    # --- administration -----------------------------------------------------------------------
    def create(self, name: str = "", limits: Limits | None = None) -> tuple[KeyInfo, str]:
        """A new key and its secret; the secret is not stored and cannot be shown again."""
        limits = limits or Limits()
        secret = secrets.token_urlsafe(24)
        salt = secrets.token_bytes(SALT_BYTES)
        row = ApiKey(
            api_id=uuid.uuid4().hex,
            name=name,
            salt=salt,
            secret_hash=self._hash(salt, secret),
            created_at=datetime.now(UTC),
            expires_at=limits.expires_at,
            endpoints=list(limits.endpoints) if limits.endpoints is not None else None,
            rate_per_second=limits.rate_per_second,
            quota_total=limits.quota_total,
            quota_daily=limits.quota_daily,
            used_total=0,
        )
        with self._db.session.begin() as s:
            s.add(row)
            s.flush()
            info = KeyInfo.of(row)
        return info, secret

    def list(self) -> list[KeyInfo]:
        with self._db.session() as s:
            return [KeyInfo.of(r) for r in s.scalars(select(ApiKey).order_by(ApiKey.id))]

    def get(self, api_id: str) -> KeyInfo | None:
        with self._db.session() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.api_id == api_id))
            return KeyInfo.of(row) if row else None

    def revoke(self, api_id: str) -> bool:
        with self._db.session.begin() as s:
            result = s.execute(
                update(ApiKey)
                .where(ApiKey.api_id == api_id, ApiKey.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            return bool(getattr(result, "rowcount", 0))

    def update(self, api_id: str, **changes: object) -> KeyInfo | None:
        """Set the named limits (``expires_at``, ``endpoints``, ``rate_per_second``,
        ``quota_total``, ``quota_daily``, ``name``); a value of ``None`` turns one off."""
        allowed = {"expires_at", "endpoints", "rate_per_second", "quota_total", "quota_daily"}
        unknown = set(changes) - allowed - {"name"}
        if unknown:
            raise ValueError(f"unknown key settings: {', '.join(sorted(unknown))}")
        values = dict(changes)
        if values.get("endpoints") is not None:
            values["endpoints"] = list(values["endpoints"])  # type: ignore[call-overload]
        with self._db.session.begin() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.api_id == api_id))
            if row is None:
                return None
            for name, value in values.items():
                setattr(row, name, value)
            s.flush()
            return KeyInfo.of(row)

    # --- per request --------------------------------------------------------------------------
    def authenticate(self, api_id: str, secret: str, *, now: datetime | None = None) -> KeyInfo:
        """The key for this id and secret; else ``AccessDeniedError`` (UNAUTHORIZED or
        KEY_EXPIRED)."""
        now = now or datetime.now(UTC)
        with self._db.session() as s:
            row = s.scalar(select(ApiKey).where(ApiKey.api_id == api_id)) if api_id else None
            # An unknown id goes down the same path with a key that matches nothing, so the
            # time taken does not tell which ids exist.
            source = row if row is not None else _unknown_key()
            info = KeyInfo.of(source)
            salt, stored = source.salt, source.secret_hash
        matches = hmac.compare_digest(self._hash(salt, secret), stored)
        if row is None or not matches:
            raise AccessDeniedError("UNAUTHORIZED", "the api_id or the api_secret is wrong")
        if info.revoked_at is not None:
            raise AccessDeniedError("UNAUTHORIZED", "this key has been revoked")
        if info.expires_at is not None and info.expires_at <= now:
            expired = info.expires_at.isoformat()
            raise AccessDeniedError("KEY_EXPIRED", f"the key expired at {expired}")
        return info

    def use_quota(self, key: KeyInfo, today: date) -> Literal["ok", "total", "daily"]:
        """Take one unit of the key's quota: "ok", or which quota is used up (nothing taken)."""
        with self._db.session.begin() as s:
            done = s.execute(
                update(ApiKey)
                .where(ApiKey.id == key.id)
                .where((ApiKey.quota_total.is_(None)) | (ApiKey.used_total < ApiKey.quota_total))
                .values(used_total=ApiKey.used_total + 1)
            )
            if not getattr(done, "rowcount", 0):
                return "total"
            if key.quota_daily is None:
                return "ok"
            _ensure_day(s, key.id, today)
            daily = s.execute(
                update(DailyUsage)
                .where(DailyUsage.key_id == key.id, DailyUsage.day == today)
                .where(DailyUsage.used < key.quota_daily)
                .values(used=DailyUsage.used + 1)
            )
            if not getattr(daily, "rowcount", 0):
                s.rollback()  # give the total unit back
                return "daily"
            return "ok"

    def refund_quota(self, key: KeyInfo, today: date) -> None:
        """Give back a unit taken for a request that failed through no fault of the caller."""
        with self._db.session.begin() as s:
            s.execute(
                update(ApiKey)
                .where(ApiKey.id == key.id, ApiKey.used_total > 0)
                .values(used_total=ApiKey.used_total - 1)
            )
            if key.quota_daily is not None:
                s.execute(
                    update(DailyUsage)
                    .where(DailyUsage.key_id == key.id, DailyUsage.day == today)
                    .where(DailyUsage.used > 0)
                    .values(used=DailyUsage.used - 1)
                )


def _ensure_day(s: Session, key_id: int, today: date) -> None:
    dialect = s.get_bind().dialect.name
    values = {"key_id": key_id, "day": today, "used": 0}
    if dialect == "postgresql":
        s.execute(postgresql.insert(DailyUsage).values(**values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        s.execute(sqlite.insert(DailyUsage).values(**values).on_conflict_do_nothing())
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database dialect {dialect}")
