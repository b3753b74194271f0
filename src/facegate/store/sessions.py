"""Liveness sessions in the cloud API's database, so that any API process can stream to one or
answer for it.

A session belongs to the key that created it: every read is asked with the key's id, and
another key's session is not found, with the same answer as an unknown id. The client token is
kept as its sha256 only; opening the stream spends it, in one conditional ``UPDATE``, so two
streams (in two processes) cannot both open one session. The API is synchronous; async
callers run it in a thread.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, update

from facegate.store.db import Database, LivenessSessionRow, as_utc

SessionStatus = Literal["created", "capturing", "passed", "failed", "expired"]
_ID = re.compile(r"[0-9a-f]{32}")


class SessionRefusedError(Exception):
    """The stream cannot open: ``reason`` says why, in words a client can show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SessionRecord:
    id: str
    key_id: int
    mode: str
    actions: tuple[str, ...]
    stored_status: str
    created_at: datetime
    expires_at: datetime
    stream_opened_at: datetime | None
    allowed_origins: tuple[str, ...] | None
    result: dict[str, Any] | None
    liveness_data_id: str | None

    def status(self, now: datetime | None = None) -> SessionStatus:
        """``expired`` once its time is up without a decision; else as stored."""
        now = now or datetime.now(UTC)
        if self.stored_status in ("created", "capturing") and now >= self.expires_at:
            return "expired"
        status: SessionStatus = self.stored_status  # type: ignore[assignment]
        return status

    @classmethod
    def of(cls, row: LivenessSessionRow) -> SessionRecord:
        return cls(
            id=row.id,
            key_id=row.key_id,
            mode=row.mode,
            actions=tuple(row.actions),
            stored_status=row.status,
            created_at=as_utc(row.created_at),
            expires_at=as_utc(row.expires_at),
            stream_opened_at=as_utc(row.stream_opened_at) if row.stream_opened_at else None,
            allowed_origins=tuple(row.allowed_origins) if row.allowed_origins is not None else None,
            result=row.result,
            liveness_data_id=row.liveness_data_id,
        )


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class SessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        key_id: int,
        mode: str,
        actions: tuple[str, ...],
        ttl: timedelta,
        allowed_origins: tuple[str, ...] | None,
        *,
        now: datetime | None = None,
    ) -> tuple[SessionRecord, str]:
        """A new session and its client token (shown once; only its hash is kept)."""
        now = now or datetime.now(UTC)
        token = secrets.token_urlsafe(32)
        row = LivenessSessionRow(
            id=secrets.token_hex(16),
            key_id=key_id,
            mode=mode,
            actions=list(actions),
            status="created",
            created_at=now,
            expires_at=now + ttl,
            token_hash=_hash(token),
            allowed_origins=list(allowed_origins) if allowed_origins is not None else None,
        )
        with self.db.session.begin() as s:
            s.add(row)
        return SessionRecord.of(row), token

    def get(self, key_id: int, session_id: str) -> SessionRecord | None:
        """The key's own session; None for an unknown id and for another key's alike."""
        if not _ID.fullmatch(session_id):
            return None
        with self.db.session() as s:
            row = s.scalar(
                select(LivenessSessionRow).where(
                    LivenessSessionRow.id == session_id, LivenessSessionRow.key_id == key_id
                )
            )
            return SessionRecord.of(row) if row is not None else None

    def open_stream(
        self, session_id: str, token: str, origin: str | None, *, now: datetime | None = None
    ) -> SessionRecord:
        """Spend the client token: the session, now capturing; else ``SessionRefusedError``.
        A page whose ``Origin`` the session does not allow is refused before the token is
        spent."""
        now = now or datetime.now(UTC)
        unknown = "no such session, or this token is not its token"
        if not _ID.fullmatch(session_id):
            raise SessionRefusedError(unknown)
        with self.db.session.begin() as s:
            row = s.scalar(select(LivenessSessionRow).where(LivenessSessionRow.id == session_id))
            if row is None or not hmac.compare_digest(row.token_hash, _hash(token)):
                raise SessionRefusedError(unknown)
            if now >= as_utc(row.expires_at):
                raise SessionRefusedError("the session has expired")
            if row.allowed_origins is not None and origin not in row.allowed_origins:
                raise SessionRefusedError(f"pages of {origin or 'no origin'} may not stream here")
            if row.stream_opened_at is not None:
                raise SessionRefusedError("this token was already used: a session streams once")
            # Conditional, so that of two processes opening it at once, one wins.
            done = s.execute(
                update(LivenessSessionRow)
                .where(
                    LivenessSessionRow.id == session_id,
                    LivenessSessionRow.stream_opened_at.is_(None),
                )
                .values(stream_opened_at=now, status="capturing")
            )
            if getattr(done, "rowcount", 0) != 1:
                raise SessionRefusedError("this token was already used: a session streams once")
        return dataclasses.replace(
            SessionRecord.of(row), stored_status="capturing", stream_opened_at=now
        )

    def finish(
        self,
        session_id: str,
        status: Literal["passed", "failed"],
        result: dict[str, Any],
        liveness_data_id: str | None = None,
    ) -> None:
        """Record the decision of a capturing session (once: a decided one stays decided)."""
        with self.db.session.begin() as s:
            s.execute(
                update(LivenessSessionRow)
                .where(
                    LivenessSessionRow.id == session_id,
                    LivenessSessionRow.status == "capturing",
                )
                .values(status=status, result=result, liveness_data_id=liveness_data_id)
            )
