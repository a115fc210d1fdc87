"""SQLAlchemy store: SQLite by default, PostgreSQL by URL.

Uses SQLAlchemy Core (not the ORM) because every webhook reads and writes
one row and a few events: the hot path should be two statements.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Optional, Sequence

from sqlalchemy import (JSON, Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text, create_engine,
                        event, select)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..engine.actions import RecordEvent
from ..engine.context import build_context, history_entry
from ..engine.state import CallState
from ..errors import StoreError
from .crypto import SecretBox

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
              "queue", "reason", "state", "secrets", "context")
_EVENT_COLS = ("call_id", "at", "kind", "node", "data")


def make_engine(url: str) -> Engine:
    """An SQLAlchemy engine tuned for many short transactions."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # WAL: readers never block the writer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


class SqlStore:
    """Call state and records in one SQL database."""

    def __init__(self, url: str, box: SecretBox) -> None:
        self.url = url
        self.box = box
        try:
            self.engine = make_engine(url)
            metadata.create_all(self.engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the database {self._safe_url()}: {exc.__class__.__name__}: "
                             f"{str(exc).splitlines()[0]}; check IVR_DATABASE_URL") from exc
        self._lock = threading.Lock() if url.startswith("sqlite") else None
        self._prepare_sql()

    def _safe_url(self) -> str:
        from sqlalchemy.engine import make_url
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:
            return "(unparsable URL)"

    # -- state ------------------------------------------------------------
    def load_state(self, call_id: str) -> Optional[CallState]:
        sql = "SELECT state, secrets FROM calls WHERE call_id = " + ("?" if self._qmark else "%(id)s")
        with self.engine.connect() as conn:
            row = conn.exec_driver_sql(sql, (call_id,) if self._qmark else {"id": call_id}).first()
        if row is None:
            return None
        state = CallState.model_validate_json(row.state)
        if row.secrets:
            state.secrets = self.box.open(row.secrets)
        return state

    def _row(self, state: CallState) -> dict[str, Any]:
        context = build_context(state, state.updated_at) if state.ended else None
        return {
            "flow": state.flow, "caller": state.caller, "called": state.called,
            "started_at": state.started_at, "updated_at": state.updated_at, "ended": state.ended,
            "end_reason": state.end_reason, "node": state.node, "queue": state.queue, "reason": state.reason,
            "state": state.model_dump_json(exclude={"secrets"}),
            "secrets": self.box.seal(state.secrets) if state.secrets else None,
            "context": json.dumps(context, separators=(",", ":")) if context else None,
        }

    def save(self, state: CallState, events: Sequence[RecordEvent] = ()) -> None:
        row = self._row(state)
        rows = [{"call_id": state.call_id, "at": e.at, "kind": e.kind, "node": e.node, "data": e.data}
                for e in events]
        try:
            if self._lock:
                with self._lock:
                    self._write(state.call_id, row, rows)
            else:
                self._write(state.call_id, row, rows)
        except SQLAlchemyError as exc:
            raise StoreError(f"could not save call {state.call_id}: {exc.__class__.__name__}") from exc

    def _write(self, call_id: str, row: dict, rows: list[dict]) -> None:
        # Hot path (every webhook): one upsert and one multi-row insert, as plain driver SQL
        # (ON CONFLICT works the same in SQLite and PostgreSQL), skipping statement compilation.
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self._upsert_sql, self._params({"call_id": call_id, **row}, _CALL_COLS))
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
        sets = ", ".join(f"{c} = excluded.{c}" for c in _CALL_COLS if c != "call_id")
        self._upsert_sql = f"INSERT INTO calls ({cols}) VALUES ({vals}) ON CONFLICT (call_id) DO UPDATE SET {sets}"
        self._event_sql = (f"INSERT INTO call_events ({', '.join(_EVENT_COLS)}) "
                           f"VALUES ({', '.join(ph(c) for c in _EVENT_COLS)})")

    def save_records(self, state: CallState, events: Sequence[RecordEvent]) -> None:
        """Records only (used by the Redis store, which keeps live state itself)."""
        self.save(state, events)

    # -- records ----------------------------------------------------------
    def context(self, call_id: str) -> Optional[dict[str, Any]]:
        with self.engine.connect() as conn:
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
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(sql, params).all()
        out = []
        for (raw,) in rows:
            st = CallState.model_validate_json(raw)
            entry = history_entry(build_context(st, st.updated_at))
            entry["outcome"] = st.end_reason or "in_progress"
            out.append(entry)
        return out

    def events(self, call_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(call_events).where(call_events.c.call_id == call_id)
                                .order_by(call_events.c.id)).all()
        return [{"at": r.at, "kind": r.kind, "node": r.node, "data": r.data} for r in rows]

    def calls(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(calls.c.call_id, calls.c.flow, calls.c.caller, calls.c.started_at,
                                       calls.c.ended, calls.c.end_reason, calls.c.node, calls.c.queue,
                                       calls.c.reason).order_by(calls.c.started_at.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]

    def close(self) -> None:
        self.engine.dispose()
