"""One contract suite, every store: SQLite, PostgreSQL, Redis (+SQL records)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text

from ivr.engine import RecordEvent
from ivr.engine.state import CallState
from ivr.store import RedisStore, SecretBox, SqlStore

PG_URL = os.environ.get("IVR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("IVR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _pg_schema() -> Iterator[str]:
    schema = "ivr_test_" + uuid.uuid4().hex[:8]
    try:
        eng = create_engine(PG_URL)
        with eng.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with eng.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def store(request, tmp_path: Path):
    box = SecretBox("contract-test-key")
    if request.param == "sqlite":
        s = SqlStore(f"sqlite:///{tmp_path / 'ivr.sqlite3'}", box)
        yield s
        s.close()
    elif request.param == "postgresql":
        gen = _pg_schema()
        url = next(gen)
        s = SqlStore(url, box)
        yield s
        s.close()
        next(gen, None)
    else:
        import redis
        try:
            redis.Redis.from_url(REDIS_URL).ping()
        except Exception as exc:  # pragma: no cover
            pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
        s = RedisStore(REDIS_URL, SqlStore(f"sqlite:///{tmp_path / 'rec.sqlite3'}", box), box,
                       prefix=f"ivrtest:{uuid.uuid4().hex[:6]}:")
        yield s
        for key in s.redis.scan_iter(f"{s.prefix}*"):
            s.redis.delete(key)
        s.close()


def state(call_id: str, caller: str = "+1555", started: float = 100.0, **kw) -> CallState:
    return CallState(call_id=call_id, flow="acme", caller=caller, started_at=started, updated_at=started, **kw)


def test_state_round_trip_with_secrets(store) -> None:
    st = state("CA1", node="main", path=["welcome", "main"], slots={"account": "123"},
               secrets={"pin": "4321"}, sensitive=["pin"])
    store.save(st, [RecordEvent("node_entered", "main", 100.0, {"kind": "menu"})])
    back = store.load_state("CA1")
    assert back == st
    assert store.load_state("CA-unknown") is None


def test_events_in_order(store) -> None:
    st = state("CA2")
    store.save(st, [RecordEvent("call_started", None, 1.0, {}), RecordEvent("node_entered", "a", 1.0, {"k": 1})])
    store.save(st, [RecordEvent("input", "a", 2.0, {"keys": "1"})])
    kinds = [e["kind"] for e in store.events("CA2")]
    assert kinds == ["call_started", "node_entered", "input"]
    assert store.events("CA2")[1]["data"] == {"k": 1}


def test_context_and_history(store) -> None:
    first = state("CA3", started=100.0, path=["welcome", "main", "cards"], ended=True, end_reason="transferred",
                  queue="cards", reason="lost_card", transferred_at=110.0)
    store.save(first)
    ctx = store.context("CA3")
    assert ctx["queue"] == "cards" and ctx["reason"] == "lost_card"
    store.save(state("CA4", started=200.0))
    hist = store.history("+1555", exclude="CA4")
    assert [h["call_id"] for h in hist] == ["CA3"]
    assert hist[0]["reason"] == "lost_card" and hist[0]["path"] == ["welcome", "main", "cards"]
    assert store.history("+1999") == []
    assert {c["call_id"] for c in store.calls()} >= {"CA3", "CA4"}


def test_secrets_are_not_stored_in_clear(store, tmp_path: Path) -> None:
    st = state("CA5", secrets={"card": "9731864205318642"}, sensitive=["card"])
    store.save(st)
    raw = repr(store.events("CA5")) + repr(store.context("CA5")) + repr(store.calls())
    assert "9731864205318642" not in raw
    if isinstance(store, RedisStore):
        blob = b"".join(v for v in store.redis.hvals(store._key("CA5")))
        assert b"9731864205318642" not in blob
    for f in tmp_path.glob("*.sqlite3*"):
        assert b"9731864205318642" not in f.read_bytes()
    assert store.load_state("CA5").secrets == {"card": "9731864205318642"}
