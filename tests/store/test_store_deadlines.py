"""Every store call has a deadline: a locked, deleted, hung or frozen store fails fast, and says why.

A webhook turn makes up to ~3 store calls (load, save, the driver's fallback
save) and Twilio hangs up after 15 s, so a failing store must cost one
timeout, not one per call, and construction must never hang ``serve``.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from ivr.config import Config
from ivr.engine.state import CallState
from ivr.errors import ConfigError, StoreError, StoreUnavailable
from ivr.store import RedisStore, SecretBox, SqlStore, open_store

from .netfaults import freezable_proxy, silent_server
from .test_store_contract import PG_URL, REDIS_URL

TIMEOUT = 0.5
BOX = SecretBox("deadline-test-key")


def _state(call_id: str = "CAD1", **kw) -> CallState:
    return CallState(call_id=call_id, flow="acme", started_at=1.0, updated_at=1.0, **kw)


def _timed(fn) -> tuple[float, BaseException | None]:
    t0 = time.monotonic()
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001 - returned for the test to assert on
        return time.monotonic() - t0, exc
    return time.monotonic() - t0, None


@pytest.fixture
def sqlite_store(tmp_path: Path):
    (tmp_path / "inst").mkdir()
    s = SqlStore(f"sqlite:///{tmp_path / 'inst' / 'ivr.sqlite3'}", BOX, timeout=TIMEOUT)
    yield s
    s.close()


# -- SQLite locked by another process ---------------------------------------------------------------

def test_locked_sqlite_fails_within_the_deadline_and_the_fallback_save_fails_at_once(sqlite_store, tmp_path,
                                                                                    caplog) -> None:
    sqlite_store.save(_state())
    holder = sqlite3.connect(tmp_path / "inst" / "ivr.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process stuck inside a write transaction
    try:
        with caplog.at_level(logging.ERROR, logger="ivr.store"):
            took, exc = _timed(lambda: sqlite_store.save(_state(node="main")))
        assert isinstance(exc, StoreUnavailable), exc
        assert "locked" in str(exc) and "IVR_STORE_TIMEOUT" in str(exc)
        assert TIMEOUT * 0.8 <= took < TIMEOUT + 1.0, took
        assert any("unavailable" in r.getMessage() for r in caplog.records)  # the outage is logged
        # The rest of the turn (the driver's fallback load and save) must not wait another timeout.
        for again in (lambda: sqlite_store.save(_state(node="fallback")), lambda: sqlite_store.load_state("CAD1")):
            took_again, exc_again = _timed(again)
            assert isinstance(exc_again, StoreUnavailable) and took_again < 0.2, (took_again, exc_again)
    finally:
        holder.rollback()
        holder.close()
    time.sleep(sqlite_store.breaker.cooldown + 0.05)  # the breaker closes by itself once the cooldown is over
    sqlite_store.save(_state(node="after"))
    assert sqlite_store.load_state("CAD1").node == "after"


def test_default_deadline_keeps_a_locked_sqlite_turn_well_under_twilios_15_s(tmp_path) -> None:
    store = open_store(Config(instance_dir=str(tmp_path / "instance")))  # IVR_STORE_TIMEOUT unset: 2 s
    try:
        store.save(_state())
        holder = sqlite3.connect(tmp_path / "instance" / "ivr.sqlite3", isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            t0 = time.monotonic()
            errors = []
            for call in (lambda: store.load_state("CAD1"), lambda: store.save(_state(node="x"), (), 0),
                         lambda: store.load_state("CAD1"), lambda: store.save(_state(node="fallback"))):
                errors.append(_timed(call)[1])  # a turn: load, save, fallback load, fallback save
            took = time.monotonic() - t0
        finally:
            holder.rollback()
            holder.close()
        assert errors[0] is None  # WAL: reads still work while a writer holds the lock
        assert all(isinstance(e, StoreUnavailable) for e in errors[1:]), errors
        assert took < 3.0, took  # one 2 s timeout, then fail-fast
    finally:
        store.close()


# -- SQLite file deleted under a running server -------------------------------------------------------

def test_deleted_sqlite_directory_is_noticed_not_written_to(sqlite_store, tmp_path, caplog) -> None:
    sqlite_store.save(_state())
    shutil.rmtree(tmp_path / "inst")
    with caplog.at_level(logging.ERROR, logger="ivr.store"):
        with pytest.raises(StoreUnavailable, match="is gone.*restore it, or restart"):
            sqlite_store.save(_state(node="lost"))
    assert any("is gone" in r.getMessage() for r in caplog.records)
    for read in (lambda: sqlite_store.load_state("CAD1"), lambda: sqlite_store.calls()):
        with pytest.raises(StoreUnavailable):
            read()
    assert not (tmp_path / "inst").exists()  # and nothing re-created an empty database by accident


def test_replaced_sqlite_file_is_reopened(sqlite_store, tmp_path) -> None:
    sqlite_store.save(_state())
    shutil.rmtree(tmp_path / "inst")
    (tmp_path / "inst").mkdir()
    other = SqlStore(f"sqlite:///{tmp_path / 'inst' / 'ivr.sqlite3'}", BOX, timeout=TIMEOUT)  # a new worker
    try:
        sqlite_store.save(_state("CAD2", node="main"))
        assert other.load_state("CAD2").node == "main"  # written to the file that is there now
    finally:
        other.close()


# -- databases that accept connections and never answer -----------------------------------------------

def test_postgresql_that_accepts_and_never_answers_fails_construction_within_the_deadline() -> None:
    with silent_server() as port:
        took, exc = _timed(lambda: SqlStore(f"postgresql+psycopg://ivr@127.0.0.1:{port}/ivr", BOX, timeout=1.0))
    assert isinstance(exc, StoreError), exc
    assert "check that the server is up" in str(exc) and "IVR_DATABASE_URL" in str(exc)
    assert took < 3.5, took  # libpq's connect_timeout counts at least 2 s


def test_redis_that_accepts_and_never_answers_fails_construction_within_the_deadline(tmp_path) -> None:
    records = SqlStore(f"sqlite:///{tmp_path / 'rec.sqlite3'}", BOX, timeout=TIMEOUT)
    try:
        with silent_server() as port:
            took, exc = _timed(lambda: RedisStore(f"redis://127.0.0.1:{port}/0", records, BOX, timeout=TIMEOUT))
        assert isinstance(exc, StoreUnavailable) and "unset IVR_REDIS_URL" in str(exc), exc
        assert took < TIMEOUT + 1.0, took  # no silent retries multiplying the deadline
    finally:
        records.close()


def _pg_port() -> int:
    from sqlalchemy.engine import make_url
    return make_url(PG_URL).port or 5432


def test_postgresql_frozen_mid_session_fails_fast_instead_of_hanging() -> None:
    url = PG_URL
    try:
        SqlStore(url, BOX).close()
    except StoreError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    with freezable_proxy(_pg_port()) as proxy:
        from sqlalchemy.engine import make_url
        store = SqlStore(make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(False), BOX,
                         timeout=TIMEOUT)
        try:
            store.save(_state("CAPGFROZEN"))
            proxy.freeze()  # the server stops answering; its host still acknowledges packets
            took, exc = _timed(lambda: store.load_state("CAPGFROZEN"))
            assert isinstance(exc, StoreUnavailable), exc
            assert took < TIMEOUT + 2.5, took  # watchdog: timeout + 1 s margin
            took2, exc2 = _timed(lambda: store.save(_state("CAPGFROZEN", node="fallback")))
            assert isinstance(exc2, StoreUnavailable) and took2 < 0.2, (took2, exc2)
        finally:
            store.close()


def test_redis_frozen_mid_session_fails_within_the_deadline(tmp_path) -> None:
    import redis
    from redis.connection import parse_url
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"Redis not reachable: {exc}")
    target = parse_url(REDIS_URL)
    records = SqlStore(f"sqlite:///{tmp_path / 'rec.sqlite3'}", BOX, timeout=TIMEOUT)
    with freezable_proxy(target.get("port", 6379)) as proxy:
        store = RedisStore(f"redis://127.0.0.1:{proxy.port}/{target.get('db', 0)}", records, BOX,
                           prefix="ivrtest:frozen:", timeout=TIMEOUT)
        try:
            store.save(_state("CARFROZEN"), expected_version=0)
            proxy.freeze()
            took, exc = _timed(lambda: store.save(_state("CARFROZEN", version=2), expected_version=1))
            assert isinstance(exc, StoreUnavailable), exc
            assert took < TIMEOUT + 1.0, took
            took2, exc2 = _timed(lambda: store.load_state("CARFROZEN"))
            assert isinstance(exc2, StoreUnavailable) and took2 < 0.2, (took2, exc2)
        finally:
            store.redis.close()
            records.close()
    cleanup = redis.Redis.from_url(REDIS_URL)
    for key in cleanup.scan_iter("ivrtest:frozen:*"):
        cleanup.delete(key)
    cleanup.close()


# -- configuration ------------------------------------------------------------------------------------

def test_store_timeout_comes_from_the_environment_and_bad_values_say_what_is_allowed() -> None:
    assert Config.from_env({}).store_timeout == 2.0
    assert Config.from_env({"IVR_STORE_TIMEOUT": "0.75"}).store_timeout == 0.75
    for bad in ("abc", "0", "-1", "nan", "1e400"):
        with pytest.raises(ConfigError, match="IVR_STORE_TIMEOUT.*between 0 and 60"):
            Config.from_env({"IVR_STORE_TIMEOUT": bad})
