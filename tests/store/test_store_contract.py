"""One contract suite, every store: SQLite, PostgreSQL, Redis (+SQL records)."""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text

from ivr.engine import RecordEvent
from ivr.engine.state import CallState
from ivr.errors import StoreConflict
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


# -- compare-and-set on the version: one call's turns are serialised in the store -----------------------

def _turn(store, st: CallState, expected: int, node: str, at: float) -> None:
    """Save ``st`` as the turn after version ``expected`` would: version + 1, one event."""
    new = st.model_copy(update={"version": expected + 1, "node": node})
    store.save(new, [RecordEvent("node_entered", node, at, {"by": node})], expected_version=expected)


def test_versioned_saves_advance_the_stored_version(store) -> None:
    st = state("CAV1")
    _turn(store, st, 0, "main", 1.0)
    assert store.load_state("CAV1").version == 1
    _turn(store, store.load_state("CAV1"), 1, "cards", 2.0)
    back = store.load_state("CAV1")
    assert (back.version, back.node) == (2, "cards")
    assert [e["node"] for e in store.events("CAV1")] == ["main", "cards"]


def test_conflicting_save_raises_and_writes_neither_state_nor_events(store) -> None:
    _turn(store, state("CAV2"), 0, "main", 1.0)
    before_state, before_events = store.load_state("CAV2"), store.events("CAV2")
    for stale in (0, 2, 7):  # a retried webhook's first attempt already saved; or a version from nowhere
        with pytest.raises(StoreConflict, match="reload the state"):
            _turn(store, state("CAV2"), stale, f"stale{stale}", 9.0)
    assert store.load_state("CAV2") == before_state
    assert store.events("CAV2") == before_events
    assert store.context("CAV2")["path"] == before_state.path


def test_expected_version_of_an_unknown_call_other_than_zero_conflicts(store) -> None:
    with pytest.raises(StoreConflict):
        _turn(store, state("CAV3"), 3, "main", 1.0)
    assert store.load_state("CAV3") is None and store.events("CAV3") == []


def test_unconditional_save_still_overwrites_and_sets_the_version(store) -> None:
    _turn(store, state("CAV4"), 0, "main", 1.0)
    store.save(state("CAV4", node="fallback", version=5))  # the driver's fallback transfer: no expectation
    assert (store.load_state("CAV4").node, store.load_state("CAV4").version) == ("fallback", 5)
    _turn(store, store.load_state("CAV4"), 5, "after", 2.0)
    assert store.load_state("CAV4").version == 6


def _race(store, call_id: str, expected: int, n: int = 8) -> tuple[list[str], list[BaseException]]:
    """``n`` threads save the same call from the same version at once; returns winners' nodes and errors."""
    barrier = threading.Barrier(n)
    won: list[str] = []
    lost: list[BaseException] = []

    def one(i: int) -> None:
        barrier.wait(timeout=10)
        try:
            _turn(store, state(call_id), expected, f"n{i}", float(i))
            won.append(f"n{i}")
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
            lost.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return won, lost


def test_concurrent_turns_from_one_version_exactly_one_applies(store) -> None:
    _turn(store, state("CAV5"), 0, "main", 0.5)
    won, lost = _race(store, "CAV5", expected=1)
    assert len(won) == 1, (won, lost)
    assert len(lost) == 7 and all(isinstance(e, StoreConflict) for e in lost), lost
    back = store.load_state("CAV5")
    assert (back.version, back.node) == (2, won[0])
    assert [e["node"] for e in store.events("CAV5")] == ["main", won[0]]


def test_concurrent_first_saves_of_a_new_call_exactly_one_applies(store) -> None:
    won, lost = _race(store, "CAV6", expected=0)
    assert len(won) == 1, (won, lost)
    assert all(isinstance(e, StoreConflict) for e in lost) and len(lost) == 7, lost
    assert store.load_state("CAV6").node == won[0]
    assert [e["node"] for e in store.events("CAV6")] == won
