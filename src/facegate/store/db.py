"""The cloud API's database: API keys, their usage, stored uploads and liveness sessions
(SQLAlchemy 2).

SQLite (a file under the data directory) by default, PostgreSQL by URL
(``FACEGATE_DATABASE_URL=postgresql+psycopg://…``). The schema belongs to the Alembic migrations
in ``store/migrations``; ``Database.migrate()`` brings a database to the newest revision, and the
models below must match it (tests/store checks that autogenerate finds nothing to add).

The database holds no secret in usable form: API secrets are salted, peppered hashes, and blobs
live on the filesystem, encrypted under the server key.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    api_id: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Paths this key may call; NULL: every cloud endpoint.
    endpoints: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    rate_per_second: Mapped[float | None] = mapped_column(Float, nullable=True)
    quota_total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    quota_daily: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    used_total: Mapped[int] = mapped_column(BigInteger, default=0)


class DailyUsage(Base):
    __tablename__ = "daily_usage"

    key_id: Mapped[int] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger, default=0)


class StoredBlob(Base):
    """An uploaded selfie or liveness package, kept so it can be used again by id."""

    __tablename__ = "blobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "selfie" or "liveness"
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class LivenessSessionRow(Base):
    """A browser capture session (``facegate.cloud.sessions``): created by a key's backend,
    streamed to once with its single-use client token, then read back by that key."""

    __tablename__ = "liveness_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"), index=True)
    mode: Mapped[str] = mapped_column(String(16))  # "silent" or "interactive"
    actions: Mapped[list[str]] = mapped_column(JSON)  # the prompts, chosen at creation
    status: Mapped[str] = mapped_column(String(16))  # created, capturing, passed, failed
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32))  # sha256 of the client token
    stream_opened_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    allowed_origins: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # The outcome once decided: score, reason, actions, stored image ids (no image bytes).
    result: Mapped[dict[str, object] | None] = mapped_column(JSON, nullable=True)
    liveness_data_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


def as_utc(value: datetime) -> datetime:
    """A datetime read back from a timezone-aware column: SQLite hands back naive ones, and
    every one stored is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    # Foreign keys are off by default in SQLite; WAL lets readers run beside the one writer.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite"):
            # Writers queue on SQLite's lock for up to 30 s instead of failing at once.
            self.engine: Engine = create_engine(
                url, connect_args={"timeout": 30}, poolclass=NullPool
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        self.session = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Upgrade the schema to the newest Alembic revision (a no-op when it is there)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def dispose(self) -> None:
        self.engine.dispose()
