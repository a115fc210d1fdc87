"""SQLAlchemy store: SQLite by default, PostgreSQL by URL.

Uses SQLAlchemy Core (not the ORM) because every webhook reads and writes
one row and a few events: the hot path should be two statements.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

from sqlalchemy import (JSON, Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text, create_engine,
                        event, inspect, select)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..engine.actions import RecordEvent
from ..engine.context import build_context, history_entry
from ..engine.state import CallState
from ..errors import StoreConflict, StoreError, StoreUnavailable
from .crypto import SecretBox
from .deadline import DEFAULT_TIMEOUT, Breaker
from .watchdog import Watchdog

log = logging.getLogger(__name__)

metadata = MetaData()

calls = Table(
    "calls", metadata,
    Column("call_id", String(64), primary_key=True),
    Column("flow", String(128), nullable=False),
    Column("caller", String(64), nullable=False, default=""),
    Column("called", String(64), nullable=False, default=""),
    Column("started_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("ended", Boolean, nullable=False, default=False),
    Column("end_reason", String(64)),
    Column("node", String(128)),
    Column("queue", String(128)),
    Column("reason", String(64)),
    Column("state", Text, nullable=False),
    Column("secrets", Text),
    Column("context", Text),
    Column("version", Integer, nullable=False, default=0, server_default="0"),
    Index("ix_calls_caller_started", "caller", "started_at"),
)

call_events = Table(
    "call_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("call_id", String(64), nullable=False, index=True),
    Column("at", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("node", String(128)),
    Column("data", JSON, nullable=False),
)


_CALL_COLS = ("call_id", "flow", "caller", "called", "started_at", "updated_at", "ended", "end_reason", "node",
              "queue", "reason", "state", "secrets", "context", "version")
_EVENT_COLS = ("call_id", "at", "kind", "node", "data")
_UPDATE_COLS = tuple(c for c in _CALL_COLS if c != "call_id")

# The store did not answer in time, dropped the connection or refused it: worth failing fast for a while.
_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)


def make_engine(url: str, timeout: float = DEFAULT_TIMEOUT) -> Engine:
    """An SQLAlchemy engine tuned for many short transactions, each bounded by ``timeout`` seconds.

    SQLite waits at most ``timeout`` for a lock held by another connection.
    PostgreSQL (libpq drivers) bounds connecting (``connect_timeout``; libpq
    counts at least 2 s), each statement (``statement_timeout``, which also
    ends lock waits), unacknowledged writes to a dead peer (``tcp_user_timeout``),
    idle pooled connections to a vanished host (TCP keepalives) and, client-side,
    how long a connection may be held (:class:`~.watchdog.Watchdog`, for a server
    that stopped answering on an open connection).  Waiting for a pooled
    connection is bounded too.  Settings given in the URL win.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": timeout})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # WAL: readers never block the writer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    u = make_url(url)
    if u.get_driver_name() in ("psycopg", "psycopg2"):
        given = dict(u.query)
        ms = max(1, int(timeout * 1000))
        defaults: dict[str, Any] = {"connect_timeout": max(2, math.ceil(timeout)), "keepalives": 1,
                                    "keepalives_idle": max(1, math.ceil(timeout)), "keepalives_interval": 1,
                                    "keepalives_count": 3, "tcp_user_timeout": ms}
        connect_args = {k: v for k, v in defaults.items() if k not in given}
        options = given.get("options", "")
        options = " ".join(options) if isinstance(options, tuple) else options
        if "statement_timeout" not in options:
            connect_args["options"] = f"{options} -c statement_timeout={ms}".strip()
            u = u.difference_update_query(["options"])
    else:
        return create_engine(u, pool_size=10, max_overflow=20, pool_pre_ping=True, pool_timeout=timeout)
    engine = create_engine(u, pool_size=10, max_overflow=20, pool_timeout=timeout, connect_args=connect_args)
    _guard_checkouts(engine, Watchdog(timeout + 1.0, f"PostgreSQL at {u.render_as_string(hide_password=True)}"))
    return engine


def _guard_checkouts(engine: Engine, watchdog: Watchdog) -> None:
    """Ping each connection taken from the pool and bound how long it is held (see :mod:`.watchdog`).

    This is SQLAlchemy's ``pool_pre_ping`` done in a ``checkout`` event, so that
    the ping itself runs under the watchdog's deadline: a connection to a server
    that froze is cut, the pool tries a fresh one (bounded by ``connect_timeout``),
    and the store call fails in seconds instead of never.
    """
    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn, _record, _proxy):
        watchdog.arm(dbapi_conn)
        try:
            cur = dbapi_conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
        except Exception as exc:
            watchdog.disarm(dbapi_conn)
            if watchdog.was_cut(dbapi_conn):  # the server froze: fail now, no second wait on a new connection
                raise OperationalError("SELECT 1", None, exc) from exc
            raise DisconnectionError(f"stale connection: {exc}") from exc  # e.g. the server restarted: reconnect

    for name in ("checkin", "close", "close_detached", "invalidate"):
        event.listen(engine, name, lambda dbapi_conn, *_: watchdog.disarm(dbapi_conn))
    event.listen(engine, "engine_disposed", lambda _engine: watchdog.close())


def _sqlite_path(url: str) -> Optional[Path]:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite"):
        return None
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).resolve()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


class SqlStore:
    """Call state and records in one SQL database.

    Args:
        url: SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``).
        box: encrypts sensitive values at rest.
        timeout: seconds each store call may take (``IVR_STORE_TIMEOUT``); see :func:`make_engine`.
    """

    def __init__(self, url: str, box: SecretBox, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url
        self.box = box
        self.timeout = timeout
        self._db_path = _sqlite_path(url)
        self.what = f"SQLite database {self._db_path}" if self._db_path else f"database {self._safe_url()}"
        self.breaker = Breaker(self.what, cooldown=timeout)
        self._lock = threading.Lock() if url.startswith("sqlite") else None
        self._reopen_lock = threading.Lock()
        self._db_id: Optional[tuple[int, int]] = None
        self._gone_logged = False
        try:
            self.engine = make_engine(url, timeout)
            self._create_schema()
        except SQLAlchemyError as exc:
            error = StoreUnavailable if isinstance(exc, _UNAVAILABLE) else StoreError
            raise error(f"cannot open the {self.what}: {exc.__class__.__name__}: {_first_line(exc)}; "
                        f"{self._advice()}") from exc
        self._prepare_sql()

    def _safe_url(self) -> str:
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:
            return "(unparsable URL)"

    def _advice(self) -> str:
        if self._db_path:
            return (f"check that {self._db_path.parent} exists and is writable and that no other process holds "
                    f"the file's write lock (fuser {self._db_path}); for several workers use PostgreSQL "
                    f"(IVR_DATABASE_URL); IVR_STORE_TIMEOUT (now {self.timeout:g} s) is the deadline")
        return (f"check that the server is up, reachable and not overloaded, and IVR_DATABASE_URL; "
                f"IVR_STORE_TIMEOUT (now {self.timeout:g} s) is the deadline")

    def _create_schema(self) -> None:
        """Create missing tables; add the ``version`` column to a database made before it existed."""
        metadata.create_all(self.engine)
        with self.engine.connect() as conn:
            names = {c["name"] for c in inspect(conn).get_columns("calls")}
        if "version" not in names:
            try:
                with self.engine.begin() as conn:
                    conn.exec_driver_sql("ALTER TABLE calls ADD COLUMN version INTEGER NOT NULL DEFAULT 0")
                log.info("added the version column to the calls table of the %s", self.what)
            except (OperationalError, ProgrammingError):  # another worker added it first
                with self.engine.connect() as conn:
                    if "version" not in {c["name"] for c in inspect(conn).get_columns("calls")}:
                        raise
        if self._db_path:
            self._db_id = self._file_id()

    # -- deadlines ----------------------------------------------------------
    def _file_id(self) -> tuple[int, int]:
        assert self._db_path is not None
        st = os.stat(self._db_path)
        return st.st_dev, st.st_ino

    def _check_file(self) -> None:
        """Refuse to write to a SQLite file deleted under us; follow one replaced by a new file.

        SQLite keeps writing to an unlinked file without an error, so a deleted
        instance directory would silently lose every call from then on.  One
        ``stat`` per store call (microseconds) notices it.
        """
        if self._db_path is None:
            return
        try:
            now = self._file_id()
        except OSError as exc:
            if not self._gone_logged:
                self._gone_logged = True
                log.error("the %s is gone (%s): calls cannot be saved", self.what, exc.strerror)
            raise StoreUnavailable(f"the {self.what} is gone ({exc.strerror}): it was deleted while the server "
                                   f"ran, so writes would be lost; restore it, or restart the server to create "
                                   f"a new one (check IVR_DATABASE_URL and IVR_INSTANCE_DIR)") from exc
        if now != self._db_id:
            with self._reopen_lock:
                if self._file_id() != self._db_id:
                    log.warning("the %s was replaced by another file: reopening it", self.what)
                    self.engine.dispose()
                    self._create_schema()
        self._gone_logged = False

    @contextmanager
    def _call(self, doing: str) -> Iterator[None]:
        """One store call: fail fast while the breaker is open; map driver errors to StoreError."""
        try:
            self.breaker.check()
            self._check_file()
            yield
        except StoreError:
            raise
        except _UNAVAILABLE as exc:
            reason = f"{exc.__class__.__name__}: {_first_line(exc)}"
            self.breaker.trip(reason)
            raise StoreUnavailable(f"could not {doing}: the {self.what} did not answer within {self.timeout:g} s "
                                   f"({reason}); {self._advice()}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"could not {doing} in the {self.what}: {exc.__class__.__name__}: "
                             f"{_first_line(exc)}") from exc
        else:
            self.breaker.succeeded()

    @contextmanager
    def _writer(self, doing: str) -> Iterator[None]:
        """This process's SQLite writers take turns (SQLite has one writer); the wait has the same deadline."""
        if self._lock is None:
            yield
            return
        if not self._lock.acquire(timeout=self.timeout):
            reason = f"another thread of this process held the write lock for more than {self.timeout:g} s"
            self.breaker.trip(reason)
            raise StoreUnavailable(f"could not {doing}: {reason}; {self._advice()}")
        try:
            self.breaker.check()  # the thread ahead may have found the store unavailable meanwhile
            yield
        finally:
            self._lock.release()

    # -- state ------------------------------------------------------------
    def load_state(self, call_id: str) -> Optional[CallState]:
        sql = "SELECT state, secrets, version FROM calls WHERE call_id = " + ("?" if self._qmark else "%(id)s")
        with self._call(f"load call {call_id}"), self.engine.connect() as conn:
            row = conn.exec_driver_sql(sql, (call_id,) if self._qmark else {"id": call_id}).first()
        if row is None:
            return None
        state = CallState.model_validate_json(row.state)
        state.version = row.version
        if row.secrets:
            state.secrets = self.box.open(row.secrets)
        return state

    def stored_version(self, call_id: str) -> int:
        """The call's stored version; 0 when there is no such call (as compare-and-set counts it)."""
        with self._call(f"read the version of call {call_id}"), self.engine.connect() as conn:
            version = conn.execute(select(calls.c.version).where(calls.c.call_id == call_id)).scalar()
        return int(version or 0)

    def _row(self, state: CallState) -> dict[str, Any]:
        context = build_context(state, state.updated_at) if state.ended else None
        return {
            "flow": state.flow, "caller": state.caller, "called": state.called,
            "started_at": state.started_at, "updated_at": state.updated_at, "ended": state.ended,
            "end_reason": state.end_reason, "node": state.node, "queue": state.queue, "reason": state.reason,
            "state": state.model_dump_json(exclude={"secrets"}),
            "secrets": self.box.seal(state.secrets) if state.secrets else None,
            "context": json.dumps(context, separators=(",", ":")) if context else None,
            "version": state.version,
        }

    def save(self, state: CallState, events: Sequence[RecordEvent] = (),
             expected_version: Optional[int] = None) -> None:
        """Write the state and append events in one transaction (see :class:`~ivr.store.base.Store`)."""
        row = self._row(state)
        rows = [{"call_id": state.call_id, "at": e.at, "kind": e.kind, "node": e.node, "data": e.data}
                for e in events]
        doing = f"save call {state.call_id}"
        with self._call(doing), self._writer(doing):
            self._write(state.call_id, row, rows, expected_version)

    def _write(self, call_id: str, row: dict, rows: list[dict], expected: Optional[int]) -> None:
        # Hot path (every webhook): one upsert and one multi-row insert, as plain driver SQL
        # (ON CONFLICT works the same in SQLite and PostgreSQL), skipping statement compilation.
        # With an expected version the upsert (or update) only applies while the stored version
        # still matches, and the database's row lock decides between concurrent writers.
        values = {"call_id": call_id, **row}
        with self.engine.begin() as conn:
            if expected is None:
                conn.exec_driver_sql(self._upsert_sql, self._params(values, _CALL_COLS))
            else:
                sql, cols = ((self._insert_cas_sql, _CALL_COLS + ("expected",)) if expected == 0
                             else (self._update_cas_sql, _UPDATE_COLS + ("call_id", "expected")))
                result = conn.exec_driver_sql(sql, self._params({**values, "expected": expected}, cols))
                if result.rowcount != 1:  # raising here rolls the transaction back: nothing is written
                    raise StoreConflict(f"call {call_id} was saved by another turn meanwhile (its stored version "
                                        f"is no longer {expected}); nothing was written: reload the state and "
                                        f"answer from it")
            if rows:
                for r in rows:
                    r["data"] = json.dumps(r["data"], separators=(",", ":"))
                conn.exec_driver_sql(self._event_sql, [self._params(r, _EVENT_COLS) for r in rows])

    def _params(self, row: dict, cols: tuple[str, ...]) -> Any:
        if self._qmark:
            return tuple(row[c] for c in cols)
        return {c: row[c] for c in cols}

    @property
    def _qmark(self) -> bool:
        return self.engine.dialect.paramstyle == "qmark"

    def _prepare_sql(self) -> None:
        ph = (lambda c: "?") if self._qmark else (lambda c: f"%({c})s")
        cols = ", ".join(_CALL_COLS)
        vals = ", ".join(ph(c) for c in _CALL_COLS)
        sets = ", ".join(f"{c} = excluded.{c}" for c in _UPDATE_COLS)
        self._upsert_sql = f"INSERT INTO calls ({cols}) VALUES ({vals}) ON CONFLICT (call_id) DO UPDATE SET {sets}"
        self._insert_cas_sql = f"{self._upsert_sql} WHERE calls.version = {ph('expected')}"
        self._update_cas_sql = (f"UPDATE calls SET {', '.join(f'{c} = {ph(c)}' for c in _UPDATE_COLS)} "
                                f"WHERE call_id = {ph('call_id')} AND version = {ph('expected')}")
        self._event_sql = (f"INSERT INTO call_events ({', '.join(_EVENT_COLS)}) "
                           f"VALUES ({', '.join(ph(c) for c in _EVENT_COLS)})")

    def save_records(self, state: CallState, events: Sequence[RecordEvent]) -> None:
        """Records only (used by the Redis store, which keeps live state itself)."""
        self.save(state, events)

    # -- records ----------------------------------------------------------
    def context(self, call_id: str) -> Optional[dict[str, Any]]:
        with self._call(f"read the context of call {call_id}"), self.engine.connect() as conn:
            row = conn.execute(select(calls.c.context, calls.c.state).where(calls.c.call_id == call_id)).first()
        if row is None:
            return None
        if row.context:
            return json.loads(row.context)
        state = CallState.model_validate_json(row.state)
        return build_context(state, state.updated_at)

    def history(self, caller: str, exclude: str = "", limit: int = 5) -> list[dict[str, Any]]:
        if not caller:
            return []
        ph = (lambda n: "?") if self._qmark else (lambda n: f"%({n})s")
        sql = (f"SELECT state FROM calls WHERE caller = {ph('caller')} AND call_id != {ph('exclude')} "
               f"ORDER BY started_at DESC LIMIT {int(limit)}")
        params: Any = (caller, exclude) if self._qmark else {"caller": caller, "exclude": exclude}
        with self._call("read the caller's history"), self.engine.connect() as conn:
            rows = conn.exec_driver_sql(sql, params).all()
        out = []
        for (raw,) in rows:
            st = CallState.model_validate_json(raw)
            entry = history_entry(build_context(st, st.updated_at))
            entry["outcome"] = st.end_reason or "in_progress"
            out.append(entry)
        return out

    def events(self, call_id: str) -> list[dict[str, Any]]:
        with self._call(f"read the events of call {call_id}"), self.engine.connect() as conn:
            rows = conn.execute(select(call_events).where(call_events.c.call_id == call_id)
                                .order_by(call_events.c.id)).all()
        return [{"at": r.at, "kind": r.kind, "node": r.node, "data": r.data} for r in rows]

    def calls(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._call("list calls"), self.engine.connect() as conn:
            rows = conn.execute(select(calls.c.call_id, calls.c.flow, calls.c.caller, calls.c.started_at,
                                       calls.c.ended, calls.c.end_reason, calls.c.node, calls.c.queue,
                                       calls.c.reason).order_by(calls.c.started_at.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]

    def close(self) -> None:
        self.engine.dispose()
