"""Liveness sessions in the database, on SQLite and PostgreSQL: owned by one key, a token that
opens one stream once (also when two processes race for it), expiry, allowed origins."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from facegate.store.db import Database
from facegate.store.keys import KeyStore
from facegate.store.sessions import SessionRefusedError, SessionStore

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def make(database: Database, **kw: object) -> tuple[SessionStore, int, str, str]:
    keys = KeyStore(database, b"p" * 32)
    key, _ = keys.create("k")
    store = SessionStore(database)
    record, token = store.create(
        key.id,
        str(kw.get("mode", "silent")),
        ("blink",) if kw.get("mode") == "interactive" else (),
        timedelta(seconds=180),
        kw.get("origins"),  # type: ignore[arg-type]
        now=T0,
    )
    return store, key.id, record.id, token


def test_a_session_belongs_to_its_key(database: Database) -> None:
    store, key_id, sid, token = make(database)
    record = store.get(key_id, sid)
    assert record is not None
    assert (record.mode, record.status(T0), record.result) == ("silent", "created", None)
    assert record.expires_at == T0 + timedelta(seconds=180)
    assert store.get(key_id + 1, sid) is None
    assert store.get(key_id, "../" + sid[3:]) is None
    assert token not in repr(record)


def test_the_token_opens_one_stream_once(database: Database) -> None:
    store, _, sid, token = make(database)
    with pytest.raises(SessionRefusedError, match="not its token"):
        store.open_stream(sid, token + "x", None, now=T0)
    opened = store.open_stream(sid, token, None, now=T0 + timedelta(seconds=1))
    assert opened.status(T0) == "capturing"
    with pytest.raises(SessionRefusedError, match="already used"):
        store.open_stream(sid, token, None, now=T0 + timedelta(seconds=2))


def test_two_streams_racing_for_one_token_open_one(database: Database) -> None:
    store, _, sid, token = make(database)
    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def race() -> None:
        barrier.wait()
        try:
            store.open_stream(sid, token, None, now=T0)
            outcomes.append("opened")
        except SessionRefusedError:
            outcomes.append("refused")

    threads = [threading.Thread(target=race) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["opened"] + ["refused"] * 7


def test_an_expired_session_cannot_open_and_reads_expired(database: Database) -> None:
    store, key_id, sid, token = make(database)
    late = T0 + timedelta(seconds=180)
    with pytest.raises(SessionRefusedError, match="expired"):
        store.open_stream(sid, token, None, now=late)
    record = store.get(key_id, sid)
    assert record is not None
    assert record.status(late) == "expired"


def test_origins_are_checked_before_the_token_is_spent(database: Database) -> None:
    store, _, sid, token = make(database, origins=("https://bank.example",))
    for origin in (None, "https://evil.example", "http://bank.example"):
        with pytest.raises(SessionRefusedError, match="may not stream"):
            store.open_stream(sid, token, origin, now=T0)
    store.open_stream(sid, token, "https://bank.example", now=T0)


def test_a_decision_is_recorded_once(database: Database) -> None:
    store, key_id, sid, token = make(database)
    store.finish(sid, "passed", {"liveness_score": 0.9}, "a" * 32)  # not capturing yet: ignored
    record = store.get(key_id, sid)
    assert record is not None
    assert record.status(T0) == "created"
    store.open_stream(sid, token, None, now=T0)
    store.finish(sid, "failed", {"reason": "gone"})
    store.finish(sid, "passed", {"liveness_score": 0.9}, "a" * 32)  # decided already
    record = store.get(key_id, sid)
    assert record is not None
    assert (record.status(T0), record.result, record.liveness_data_id) == (
        "failed",
        {"reason": "gone"},
        None,
    )
