"""Callbacks and voicemails with status, in the SQL database (SQLAlchemy Core).

Agents (through the JSON API) and the dialer claim work atomically: a claim
is one ``UPDATE ... WHERE status = <open status>``, so two agents never get
the same callback.  Records carry the masked context packet of the call
(sensitive values never reach this table).

Statuses:
    callbacks: ``requested`` -> ``claimed`` (agent) or ``dialing`` (dialer) ->
    ``completed`` | ``failed`` | ``cancelled``; a failed dial with attempts left
    goes back to ``requested`` with a later ``due_at``.
    voicemails: ``new`` -> ``claimed`` -> ``completed``; the transcript has its
    own ``transcript_status`` (``pending``, ``done``, ``failed``).
"""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any, Optional, Union

from sqlalchemy import (Column, Float, Index, Integer, MetaData, String, Table, Text, insert, select, update)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError
from ..store.sql import make_engine

CALLBACK_OPEN = "requested"
VOICEMAIL_OPEN = "new"
KINDS = ("callback", "voicemail")


def _common(prefix: str, name: str, metadata: MetaData, *extra: Column) -> Table:
    return Table(
        f"{prefix}{name}", metadata,
        Column("id", String(40), primary_key=True),
        Column("call_id", String(64), nullable=False),
        Column("flow", String(128), nullable=False, default=""),
        Column("queue", String(128), nullable=False, default=""),
        Column("caller", String(64), nullable=False, default=""),
        Column("reason", String(64)),
        Column("status", String(16), nullable=False),
        Column("created_at", Float, nullable=False),
        Column("updated_at", Float, nullable=False),
        Column("claimed_by", String(128)),
        Column("claimed_at", Float),
        Column("completed_at", Float),
        Column("outcome", String(64)),
        Column("note", Text),
        Column("context", Text),
        *extra,
        Index(f"ix_{prefix}{name}_status", "status", "queue"),
        Index(f"ix_{prefix}{name}_call", "call_id"),
    )


class HandoffRecords:
    """Callback requests and voicemails.

    Args:
        engine: an SQLAlchemy engine or URL (the call store's engine is shared in the app).
        prefix: table name prefix (tests isolate runs with it).
    """

    def __init__(self, engine: Union[Engine, str], prefix: str = "") -> None:
        self.engine = make_engine(engine) if isinstance(engine, str) else engine
        self.prefix = prefix
        self.metadata = MetaData()
        self.callbacks_t = _common(prefix, "callbacks", self.metadata,
                                   Column("number", String(32), nullable=False),
                                   Column("window", String(32), nullable=False, default="asap"),
                                   Column("due_at", Float, nullable=False),
                                   Column("window_end", Float),
                                   Column("attempts", Integer, nullable=False, default=0),
                                   Column("dial_sid", String(64)),
                                   Index(f"ix_{prefix}callbacks_due", "status", "due_at"))
        self.voicemails_t = _common(prefix, "voicemails", self.metadata,
                                    Column("recording_url", Text),
                                    Column("recording_sid", String(64)),
                                    Column("duration", Float),
                                    Column("transcript", Text),
                                    Column("confidence", Float),
                                    Column("backend", String(32)),
                                    Column("transcript_status", String(16), nullable=False, default="pending"))
        self._lock = threading.Lock() if str(self.engine.url).startswith("sqlite") else None
        try:
            self.metadata.create_all(self.engine)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot create the callback/voicemail tables: {exc.__class__.__name__}: "
                             f"{str(exc).splitlines()[0]}") from exc

    def drop(self) -> None:
        """Remove the tables (tests)."""
        self.metadata.drop_all(self.engine)

    def _table(self, kind: str) -> Table:
        if kind not in KINDS:
            raise ValueError(f"unknown record kind {kind!r}; use callback or voicemail")
        return self.callbacks_t if kind == "callback" else self.voicemails_t

    def _write(self, stmt: Any) -> int:
        try:
            if self._lock:
                with self._lock, self.engine.begin() as conn:
                    return conn.execute(stmt).rowcount
            with self.engine.begin() as conn:
                return conn.execute(stmt).rowcount
        except SQLAlchemyError as exc:
            raise StoreError(f"could not write a handoff record: {exc.__class__.__name__}") from exc

    @staticmethod
    def _out(row: Any) -> dict[str, Any]:
        d = dict(row._mapping)
        if d.get("context"):
            try:
                d["context"] = json.loads(d["context"])
            except ValueError:
                d["context"] = None
        return d

    # -- creating -----------------------------------------------------------
    def add_callback(self, *, call_id: str, number: str, at: float, due_at: float, window: str = "asap",
                     window_end: Optional[float] = None, flow: str = "", queue: str = "", caller: str = "",
                     reason: Optional[str] = None, context: Optional[dict] = None) -> dict[str, Any]:
        """Store a callback request (status ``requested``)."""
        rid = "CB" + uuid.uuid4().hex
        self._write(insert(self.callbacks_t).values(
            id=rid, call_id=call_id, flow=flow, queue=queue, caller=caller, reason=reason, status=CALLBACK_OPEN,
            created_at=at, updated_at=at, number=number, window=window, due_at=due_at, window_end=window_end,
            attempts=0, context=json.dumps(context, separators=(",", ":")) if context else None))
        return self.get("callback", rid)  # type: ignore[return-value]

    def add_voicemail(self, *, call_id: str, at: float, recording_url: Optional[str] = None,
                      recording_sid: Optional[str] = None, duration: Optional[float] = None, flow: str = "",
                      queue: str = "", caller: str = "", reason: Optional[str] = None,
                      context: Optional[dict] = None) -> dict[str, Any]:
        """Store a voicemail (status ``new``, transcript ``pending``); one per recording."""
        if recording_sid:
            existing = self.find_voicemail(recording_sid=recording_sid)
            if existing:
                return existing
        rid = "VM" + uuid.uuid4().hex
        self._write(insert(self.voicemails_t).values(
            id=rid, call_id=call_id, flow=flow, queue=queue, caller=caller, reason=reason, status=VOICEMAIL_OPEN,
            created_at=at, updated_at=at, recording_url=recording_url, recording_sid=recording_sid,
            duration=duration, transcript_status="pending",
            context=json.dumps(context, separators=(",", ":")) if context else None))
        return self.get("voicemail", rid)  # type: ignore[return-value]

    # -- reading ------------------------------------------------------------
    def get(self, kind: str, rid: str) -> Optional[dict[str, Any]]:
        t = self._table(kind)
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.id == rid)).first()
        return self._out(row) if row else None

    def find_voicemail(self, recording_sid: str) -> Optional[dict[str, Any]]:
        t = self.voicemails_t
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.recording_sid == recording_sid)).first()
        return self._out(row) if row else None

    def list(self, kind: str, status: Optional[str] = None, queue: Optional[str] = None,
             due_before: Optional[float] = None, call_id: Optional[str] = None, limit: int = 100) -> list[dict]:
        """Records, oldest first (callbacks by due time)."""
        t = self._table(kind)
        q = select(t)
        if status:
            q = q.where(t.c.status.in_(status.split(",")))
        if queue:
            q = q.where(t.c.queue == queue)
        if call_id:
            q = q.where(t.c.call_id == call_id)
        if due_before is not None and kind == "callback":
            q = q.where(t.c.due_at <= due_before)
        q = q.order_by(t.c.due_at if kind == "callback" else t.c.created_at, t.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [self._out(r) for r in conn.execute(q).all()]

    def due_callbacks(self, now: float, queue: Optional[str] = None, limit: int = 100) -> list[dict]:
        """Callbacks waiting to be made whose time has come."""
        return self.list("callback", status=CALLBACK_OPEN, queue=queue, due_before=now, limit=limit)

    # -- changing -----------------------------------------------------------
    def claim(self, kind: str, rid: str, by: str, at: float, status: str = "claimed") -> Optional[dict]:
        """Take an open record for ``by``; None if it is not open any more (someone else has it)."""
        t = self._table(kind)
        open_status = CALLBACK_OPEN if kind == "callback" else VOICEMAIL_OPEN
        values: dict[str, Any] = {"status": status, "claimed_by": by, "claimed_at": at, "updated_at": at}
        if kind == "callback" and status == "dialing":
            values["attempts"] = t.c.attempts + 1
        n = self._write(update(t).where(t.c.id == rid, t.c.status == open_status).values(**values))
        return self.get(kind, rid) if n == 1 else None

    def complete(self, kind: str, rid: str, at: float, outcome: str = "completed", note: Optional[str] = None,
                 by: Optional[str] = None, status: str = "completed") -> Optional[dict]:
        """Close a record (from any open or claimed status); None if it is already closed."""
        t = self._table(kind)
        live = ("requested", "claimed", "dialing") if kind == "callback" else ("new", "claimed")
        cond = [t.c.id == rid, t.c.status.in_(live)]
        if by:
            cond.append((t.c.claimed_by == by) | (t.c.claimed_by.is_(None)))
        n = self._write(update(t).where(*cond).values(status=status, outcome=outcome, note=note, completed_at=at,
                                                      updated_at=at, claimed_by=t.c.claimed_by if not by else by))
        return self.get(kind, rid) if n == 1 else None

    def release(self, rid: str, at: float, retry_at: float, dial_sid: Optional[str] = None,
                note: Optional[str] = None) -> Optional[dict]:
        """A dial did not reach the customer: the callback is requested again for ``retry_at``."""
        t = self.callbacks_t
        n = self._write(update(t).where(t.c.id == rid, t.c.status.in_(("dialing", "claimed"))).values(
            status=CALLBACK_OPEN, due_at=retry_at, claimed_by=None, claimed_at=None, updated_at=at,
            dial_sid=dial_sid, note=note))
        return self.get("callback", rid) if n == 1 else None

    def set_dial_sid(self, rid: str, sid: str, at: float) -> None:
        t = self.callbacks_t
        self._write(update(t).where(t.c.id == rid).values(dial_sid=sid, updated_at=at))

    def set_recording(self, rid: str, at: float, url: Optional[str], sid: Optional[str],
                      duration: Optional[float]) -> None:
        t = self.voicemails_t
        values: dict[str, Any] = {"updated_at": at}
        if url:
            values["recording_url"] = url
        if sid:
            values["recording_sid"] = sid
        if duration is not None:
            values["duration"] = duration
        self._write(update(t).where(t.c.id == rid).values(**values))

    def set_transcript(self, rid: str, at: float, text: Optional[str], confidence: Optional[float],
                       backend: Optional[str], status: str = "done") -> None:
        t = self.voicemails_t
        self._write(update(t).where(t.c.id == rid).values(transcript=text, confidence=confidence, backend=backend,
                                                          transcript_status=status, updated_at=at))

    def for_call(self, call_id: str) -> dict[str, list[dict]]:
        """Every callback and voicemail of one call (for the agent page)."""
        return {"callbacks": self.list("callback", call_id=call_id),
                "voicemails": self.list("voicemail", call_id=call_id)}

    def for_caller(self, caller: str, limit: int = 10) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for kind in KINDS:
            t = self._table(kind)
            with self.engine.connect() as conn:
                rows = conn.execute(select(t).where(t.c.caller == caller).order_by(t.c.created_at.desc())
                                    .limit(limit)).all()
            out[kind + "s"] = [self._out(r) for r in rows]
        return out
