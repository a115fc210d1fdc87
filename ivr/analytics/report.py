"""Call metrics by flow and flow version over a time window, computed in SQL from the stored events.

Every figure is an SQLAlchemy Core query over the store's ``calls`` and
``call_events`` tables (the same :class:`~sqlalchemy.Table` objects the store
writes), portable between SQLite and PostgreSQL, so a report over a year of
calls moves a handful of rows out of the database, not the events.  Python
only shapes the rows into the report and divides; no JSON field is read in
Python (see :mod:`.expressions` for the two portability seams).  Cost: a
report over 20,000 calls (114,000 events) takes about 2 s on SQLite and 1.7 s
on PostgreSQL on the 2-core development machine; each figure's query
re-derives the per-call outcomes, which keeps every query plain and portable.

How a call is classified (exactly one of the three once it has ended):

* **transferred**: the call has any ``transfer`` event (agent, callback and
  voicemail modes alike, and the driver's fallback transfer), even when the
  caller later hung up in the queue or answered a post-call survey;
* **abandoned**: no transfer, and ``call_ended`` with ``abandoned=true`` (the
  caller hung up before the flow ended the call);
* **contained**: no transfer, and ``call_ended`` with ``abandoned=false`` (the
  flow ended the call: a ``hangup`` node, or a ``say`` without ``next``);
* **in_progress**: neither yet; counted in ``calls`` and in none of the three.

``containment`` is contained over the *ended* calls (in-progress calls have no
outcome yet, so they do not lower it while they run).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import String, and_, case, create_engine, distinct, exists, func, inspect, not_, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import Select, Subquery

from ..store.sql import call_events, calls
from .expressions import any_of, count_if, ev, event_is, field, flag, half, number, utc_day
from .window import TimeLike, to_epoch

REPORT_TIMEOUT = 30.0
"""Seconds a report's queries may take on PostgreSQL (the store's own deadline is for webhooks, seconds)."""

DAY = 86400.0
UNKNOWN_VERSION = "unknown"
"""The version of calls recorded before ``call_started`` carried ``flow_version``."""
OUTCOMES = ("contained", "transferred", "abandoned", "in_progress")
_LAST_ID = 2 ** 62
"""Larger than any event id: "before the transfer" for a call that never transferred."""


@dataclass(frozen=True)
class Window:
    """Which calls a report counts: a flow, a flow version, ``since <= started_at < until`` (epoch seconds)."""

    flow: Optional[str] = None
    since: Optional[float] = None
    until: Optional[float] = None
    version: Optional[str] = None

    @classmethod
    def of(cls, flow: Optional[str], since: TimeLike, until: TimeLike, version: Optional[str]) -> "Window":
        return cls(flow, to_epoch(since, "since"), to_epoch(until, "until"), version or None)


class Analytics:
    """Reports over one database's call records.

    Args:
        engine: the records' SQLAlchemy engine (the store's, or one of :meth:`from_url`).
        timeout: seconds each report may run on PostgreSQL (``SET LOCAL statement_timeout``).
    """

    def __init__(self, engine: Engine, timeout: float = REPORT_TIMEOUT) -> None:
        self.engine = engine
        self.timeout = timeout

    @classmethod
    def from_url(cls, url: str, timeout: float = REPORT_TIMEOUT) -> "Analytics":
        """Reports over the database at an SQLAlchemy URL (``postgresql://`` means psycopg 3, as the store)."""
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return cls(create_engine(url, pool_size=2, max_overflow=2) if not url.startswith("sqlite")
                   else create_engine(url), timeout)

    def close(self) -> None:
        """Release this object's connections (only call it for an engine it owns, as :meth:`from_url`'s)."""
        self.engine.dispose()

    # -- public reports ------------------------------------------------------------------------------
    def report(self, flow: Optional[str] = None, since: TimeLike = None, until: TimeLike = None,
               flow_version: Optional[str] = None) -> list[dict[str, Any]]:
        """One object per flow with calls in the window (or just ``flow``, with zeros when it had none).

        The shape is DESIGN.md's ``report --json``: ``flow``, ``calls``,
        ``contained``, ``transferred``, ``abandoned``, ``containment``, ``fcr_24h``,
        ``transfer_reasons``, ``nodes``, ``survey``, ``median_seconds``; plus
        ``in_progress``, ``fcr_7d``, ``transfer_modes``, ``abandoned_by_node``,
        ``mean_turns``, ``prompt_seconds`` (mean seconds of prompts played per call, to its transfer
        or end), ``journeys``, ``versions`` and ``by_version``.
        """
        w = Window.of(flow, since, until, flow_version)
        with self._connect() as conn:
            if conn is None:
                rows: dict[str, dict[str, Any]] = {}
            else:
                rows = self._report(conn, w)
        if flow is not None and flow not in rows:
            rows[flow] = _empty(flow)
        return [rows[k] for k in sorted(rows)]

    def daily(self, flow: str, since: TimeLike = None, until: TimeLike = None,
              flow_version: Optional[str] = None) -> list[dict[str, Any]]:
        """One object per UTC day with calls, in order (days without calls are left out):
        ``day`` (``YYYY-MM-DD``), ``calls``, ``contained``, ``transferred``, ``abandoned``, ``in_progress``,
        ``containment``, ``transfer_reasons``."""
        w = Window.of(flow, since, until, flow_version)
        with self._connect() as conn:
            if conn is None:
                return []
            c = self._classified(w)
            day = utc_day(c.c.started_at).label("utc_day")  # grouped by label: PostgreSQL's GROUP BY names
            # resolve to input columns first, and a repeated expression's bound parameters would differ
            days = {r.utc_day: {"day": r.utc_day, **_outcomes(r), "transfer_reasons": {}} for r in conn.execute(
                select(day, *_outcome_columns(c)).group_by(day))}
            reasons = conn.execute(
                select(day, func.coalesce(field("reason"), "unspecified").label("transfer_reason"),
                       func.count().label("n"))
                .select_from(c.join(call_events, ev.id == c.c.transfer_id)).group_by(day, "transfer_reason")
                .order_by("transfer_reason")).all()
        for r in reasons:
            days[r.utc_day]["transfer_reasons"][r.transfer_reason] = r.n
        return [days[d] for d in sorted(days)]

    def survey_distribution(self, flow: str, since: TimeLike = None, until: TimeLike = None,
                            flow_version: Optional[str] = None) -> dict[str, dict[str, Any]]:
        """``{question_id: {kind, counts: {value_as_str: n}, responses, unanswered}}`` from ``survey_answer``
        events; yes/no values count as ``"true"``/``"false"``, unanswered questions only in ``unanswered``."""
        w = Window.of(flow, since, until, flow_version)
        with self._connect() as conn:
            if conn is None:
                return {}
            c = self._classified(w)
            kind = field("kind")
            value = case((kind == "yesno", case((flag("value"), "true"), else_="false")),
                         else_=number("value").cast(String))
            answered = field("value").isnot(None)
            rows = conn.execute(
                select(field("question").label("question_id"), kind.label("question_kind"),
                       case((answered, value)).label("answer"), func.count().label("n"))
                .select_from(c.join(call_events, ev.call_id == c.c.call_id))
                .where(ev.kind == "survey_answer").group_by("question_id", "question_kind", "answer")).all()
        out: dict[str, dict[str, Any]] = {}
        for r in rows:
            q = out.setdefault(r.question_id, {"kind": r.question_kind, "counts": {}, "responses": 0,
                                               "unanswered": 0})
            if r.answer is None:
                q["unanswered"] += r.n
            else:
                q["counts"][r.answer] = q["counts"].get(r.answer, 0) + r.n
                q["responses"] += r.n
        for q in out.values():
            q["counts"] = dict(sorted(q["counts"].items(), key=lambda kv: _value_order(kv[0])))
        return dict(sorted(out.items()))

    # -- queries -------------------------------------------------------------------------------------
    def _connect(self) -> "_Reading":
        return _Reading(self.engine, self.timeout)

    def _classified(self, w: Window) -> Subquery:
        """One row per call in the window: its outcome, version, seconds in the IVR, final node, turns.

        ``seconds`` runs from the start to the first transfer or to the end (NULL while in progress);
        ``final_node`` is where it transferred or ended; ``turns`` counts the caller's inputs (keys or
        speech, not silences) before any transfer: the self-service turns.
        """
        conds = []
        if w.flow is not None:
            conds.append(calls.c.flow == w.flow)
        if w.since is not None:
            conds.append(calls.c.started_at >= w.since)
        if w.until is not None:
            conds.append(calls.c.started_at < w.until)
        per_call = (
            select(calls.c.call_id, calls.c.flow, calls.c.caller, calls.c.started_at, calls.c.node.label("at_node"),
                   func.max(case((ev.kind == "call_started", field("flow_version")))).label("version"),
                   any_of(ev.kind == "transfer").label("transferred"),
                   any_of(event_is("call_ended", flag("abandoned"))).label("hung_up"),
                   any_of(event_is("call_ended", not_(flag("abandoned")))).label("flow_ended"),
                   func.min(case((ev.kind == "transfer", ev.id))).label("transfer_id"),
                   func.min(case((ev.kind == "transfer", ev.at))).label("transfer_at"),
                   func.min(case((ev.kind == "call_ended", ev.at))).label("ended_at"),
                   func.max(case((ev.kind == "call_ended", ev.node))).label("end_node"),
                   func.max(case((ev.kind == "prompts_heard", ev.data["seconds"].as_float()))).label("prompt_s"))
            .select_from(calls.outerjoin(call_events, ev.call_id == calls.c.call_id))
            .where(*conds)
            .group_by(calls.c.call_id, calls.c.flow, calls.c.caller, calls.c.started_at, calls.c.node)
            .subquery("per_call"))
        p = per_call.c
        first_transfer = call_events.alias("first_transfer")
        transfer_node = (select(first_transfer.c.node).where(first_transfer.c.id == p.transfer_id)
                         .scalar_subquery())
        inputs = call_events.alias("inputs")
        turns = (select(func.count()).select_from(inputs)
                 .where(inputs.c.call_id == p.call_id, inputs.c.kind == "input",
                        field("input", inputs.c.data) != "none",
                        inputs.c.id < func.coalesce(p.transfer_id, _LAST_ID))
                 .scalar_subquery())
        transferred = p.transferred == 1
        outcome = case((transferred, "transferred"), (p.hung_up == 1, "abandoned"), (p.flow_ended == 1, "contained"),
                       else_="in_progress")
        version = func.coalesce(p.version, UNKNOWN_VERSION)
        query: Select = select(
            p.call_id, p.flow, p.caller, p.started_at, p.at_node, p.transfer_id, version.label("version"),
            outcome.label("outcome"),
            (case((transferred, p.transfer_at), else_=p.ended_at) - p.started_at).label("seconds"),
            case((transferred, transfer_node), else_=p.end_node).label("final_node"),
            turns.label("turns"), p.prompt_s.label("prompt_seconds"))
        if w.version is not None:
            query = query.where(version == w.version)
        return query.subquery("classified")

    def _report(self, conn: Connection, w: Window) -> dict[str, dict[str, Any]]:
        c = self._classified(w)
        out: dict[str, dict[str, Any]] = {}
        ended = c.c.outcome != "in_progress"
        for r in conn.execute(select(c.c.flow, *_outcome_columns(c),
                                     func.avg(case((ended, c.c.turns))).label("mean_turns"),
                                     func.avg(c.c.prompt_seconds).label("prompt_seconds"))
                              .group_by(c.c.flow)):
            out[r.flow] = {"flow": r.flow, **_outcomes(r), "fcr_24h": None, "fcr_7d": None,
                           "median_seconds": None, "mean_turns": _round(r.mean_turns, 2),
                           "prompt_seconds": _round(r.prompt_seconds, 1),
                           "transfer_reasons": {}, "transfer_modes": {}, "abandoned_by_node": {}, "nodes": {},
                           "journeys": {}, "survey": _survey(None), "versions": {}, "by_version": {}}
        if not out:
            return out
        for r in conn.execute(self._fcr(c)):
            out[r.flow]["fcr_24h"] = _share(r.resolved_24h, r.with_caller)
            out[r.flow]["fcr_7d"] = _share(r.resolved_7d, r.with_caller)
        for r in conn.execute(self._median(c)):
            out[r.flow]["median_seconds"] = _round(r.median, 1)
        for r in conn.execute(
                select(c.c.flow, func.coalesce(field("reason"), "unspecified").label("transfer_reason"),
                       func.coalesce(field("mode"), "agent").label("transfer_mode"), func.count().label("n"))
                .select_from(c.join(call_events, ev.id == c.c.transfer_id))
                .group_by(c.c.flow, "transfer_reason", "transfer_mode")):
            _add(out[r.flow]["transfer_reasons"], r.transfer_reason, r.n)
            _add(out[r.flow]["transfer_modes"], r.transfer_mode, r.n)
        for r in conn.execute(select(c.c.flow, c.c.final_node, func.count().label("n"))
                              .where(c.c.outcome == "abandoned").group_by(c.c.flow, c.c.final_node)):
            _add(out[r.flow]["abandoned_by_node"], r.final_node or "(none)", r.n)
        self._nodes(conn, c, out)
        for r in conn.execute(select(c.c.flow, c.c.outcome, c.c.final_node, func.count().label("n"),
                                     func.avg(c.c.turns).label("turns"), func.avg(c.c.seconds).label("seconds"))
                              .where(ended).group_by(c.c.flow, c.c.outcome, c.c.final_node)):
            out[r.flow]["journeys"][f"{r.outcome}:{r.final_node or '(none)'}"] = {
                "outcome": r.outcome, "node": r.final_node, "calls": r.n, "turns": _round(r.turns, 2),
                "seconds": _round(r.seconds, 1)}
        for r in conn.execute(select(c.c.flow, c.c.version, *_outcome_columns(c))
                              .group_by(c.c.flow, c.c.version)):
            out[r.flow]["versions"][r.version] = r.calls
            out[r.flow]["by_version"][r.version] = _outcomes(r)
        for r in conn.execute(self._survey(c)):
            out[r.flow]["survey"] = _survey(r)
        for report in out.values():
            for key in ("transfer_reasons", "transfer_modes", "abandoned_by_node", "journeys", "versions",
                        "by_version"):
                report[key] = dict(sorted(report[key].items()))
        return out

    @staticmethod
    def _fcr(c: Subquery) -> Select:
        """Per flow: calls with a caller ID, and those with no later call of the same caller to the same flow
        within 24 h / 7 d.  Later calls are looked for among all calls, not only the window's: a call on the
        window's last day that was followed by another the next morning was not resolved."""
        later = calls.alias("later")

        def again(seconds: float) -> Any:
            return exists().where(later.c.flow == c.c.flow, later.c.caller == c.c.caller,
                                  later.c.started_at > c.c.started_at,
                                  later.c.started_at <= c.c.started_at + seconds)

        known = c.c.caller != ""
        return (select(c.c.flow, count_if(known).label("with_caller"),
                       count_if(and_(known, not_(again(DAY)))).label("resolved_24h"),
                       count_if(and_(known, not_(again(7 * DAY)))).label("resolved_7d"))
                .group_by(c.c.flow))

    @staticmethod
    def _median(c: Subquery) -> Select:
        """Median of ``seconds`` per flow with window functions (no MEDIAN in SQLite): the middle row, or the
        mean of the two middle rows."""
        ranked = (select(c.c.flow, c.c.seconds,
                         func.row_number().over(partition_by=c.c.flow, order_by=c.c.seconds).label("rn"),
                         func.count().over(partition_by=c.c.flow).label("n"))
                  .where(c.c.seconds.isnot(None)).subquery("ranked"))
        r = ranked.c
        return (select(r.flow, func.avg(r.seconds).label("median"))
                .where(or_(r.rn == half(r.n + 1), r.rn == half(r.n + 2))).group_by(r.flow))

    @staticmethod
    def _nodes(conn: Connection, c: Subquery, out: dict[str, dict[str, Any]]) -> None:
        """The per-node funnel.  ``completed`` = entered minus the entries that ended the call at the node
        without the flow ending it (abandoned, escalated) or that are still there (calls in progress): a
        ``hangup`` node that says goodbye counts as completed."""
        outcome = field("outcome")
        rows = conn.execute(
            select(c.c.flow, ev.node,
                   count_if(ev.kind == "node_entered").label("entered"),
                   count_if(event_is("call_ended", flag("abandoned"))).label("abandoned"),
                   count_if(ev.kind == "transfer").label("escalated"),
                   count_if(event_is("input", outcome == "no_input")).label("no_input"),
                   count_if(event_is("input", outcome == "no_match")).label("no_match"))
            .select_from(c.join(call_events, ev.call_id == c.c.call_id))
            .where(ev.node.isnot(None)).group_by(c.c.flow, ev.node)).all()
        waiting = {(r.flow, r.at_node): r.n for r in conn.execute(
            select(c.c.flow, c.c.at_node, func.count().label("n"))
            .where(c.c.outcome == "in_progress").group_by(c.c.flow, c.c.at_node))}
        for r in rows:
            if not (r.entered or r.abandoned or r.escalated or r.no_input or r.no_match):
                continue
            here = waiting.get((r.flow, r.node), 0)
            out[r.flow]["nodes"][r.node] = {
                "entered": r.entered, "completed": max(0, r.entered - r.abandoned - r.escalated - here),
                "abandoned": r.abandoned, "escalated": r.escalated, "no_input": r.no_input, "no_match": r.no_match,
                "in_progress": here, "abandon_rate": _share(r.abandoned, r.entered),
                "escalate_rate": _share(r.escalated, r.entered), "no_input_rate": _share(r.no_input, r.entered),
                "no_match_rate": _share(r.no_match, r.entered)}
        for report in out.values():
            report["nodes"] = dict(sorted(report["nodes"].items(), key=lambda kv: -kv[1]["entered"]))

    @staticmethod
    def _survey(c: Subquery) -> Select:
        """Survey scores per flow from ``survey_answer`` events (numbers are read only for the numeric kinds;
        a yes/no value is a JSON boolean, which PostgreSQL cannot cast to an integer)."""
        kind = field("kind")
        v = case((kind.in_(("csat", "ces", "nps")), number("value")))
        answered = field("value").isnot(None)
        return (select(c.c.flow,
                       func.count(distinct(case((answered, ev.call_id)))).label("responses"),
                       count_if(and_(kind == "csat", v.isnot(None))).label("csat_n"),
                       count_if(and_(kind == "csat", v >= 4)).label("csat_good"),
                       func.avg(case((kind == "ces", v))).label("ces"),
                       count_if(and_(kind == "ces", v.isnot(None))).label("ces_n"),
                       count_if(and_(kind == "nps", v.isnot(None))).label("nps_n"),
                       count_if(and_(kind == "nps", v >= 9)).label("promoters"),
                       count_if(and_(kind == "nps", v <= 6)).label("detractors"))
                .select_from(c.join(call_events, ev.call_id == c.c.call_id))
                .where(ev.kind == "survey_answer").group_by(c.c.flow))


class _Reading:
    """One read-only transaction for a report (None when the database has no call records yet).

    On PostgreSQL it sets its own statement timeout: the store's engine carries the
    webhook deadline (seconds), which a report over many calls may rightly exceed.
    """

    def __init__(self, engine: Engine, timeout: float) -> None:
        self.engine, self.timeout = engine, timeout
        self.conn: Optional[Connection] = None

    def __enter__(self) -> Optional[Connection]:
        self.conn = self.engine.connect()
        self.tx = self.conn.begin()
        if self.conn.dialect.name == "postgresql":
            self.conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(self.timeout * 1000))}")
        if not inspect(self.conn).has_table("calls") or not inspect(self.conn).has_table("call_events"):
            return None
        return self.conn

    def __exit__(self, *exc: Any) -> None:
        assert self.conn is not None
        self.tx.rollback()  # nothing was written; ends the transaction (and SET LOCAL) either way
        self.conn.close()


def _outcome_columns(c: Subquery) -> list[Any]:
    return [func.count().label("calls")] + [count_if(c.c.outcome == o).label(o) for o in OUTCOMES]


def _outcomes(r: Any) -> dict[str, Any]:
    if r is None:
        return {"calls": 0, **{o: 0 for o in OUTCOMES}, "containment": None}
    counts = {o: int(getattr(r, o) or 0) for o in OUTCOMES}
    done = counts["contained"] + counts["transferred"] + counts["abandoned"]
    return {"calls": int(r.calls), **counts, "containment": _share(counts["contained"], done)}


def _survey(r: Any) -> dict[str, Any]:
    if r is None:
        return {"responses": 0, "csat": None, "ces": None, "nps": None, "answers": {"csat": 0, "ces": 0, "nps": 0}}
    nps = None if not r.nps_n else round(100.0 * (r.promoters - r.detractors) / r.nps_n, 1)
    return {"responses": int(r.responses or 0), "csat": _share(r.csat_good, r.csat_n), "ces": _round(r.ces, 2),
            "nps": nps, "answers": {"csat": int(r.csat_n), "ces": int(r.ces_n), "nps": int(r.nps_n)}}


def _empty(flow: str) -> dict[str, Any]:
    return {"flow": flow, **_outcomes(None), "fcr_24h": None, "fcr_7d": None, "median_seconds": None,
            "mean_turns": None, "prompt_seconds": None, "transfer_reasons": {}, "transfer_modes": {},
            "abandoned_by_node": {}, "nodes": {},
            "journeys": {}, "survey": _survey(None), "versions": {}, "by_version": {}}


def _share(part: Any, whole: Any) -> Optional[float]:
    return round(float(part) / float(whole), 4) if whole else None


def _round(value: Any, digits: int) -> Optional[float]:
    return None if value is None else round(float(value), digits)


def _add(d: dict[str, int], key: str, n: int) -> None:
    d[key] = d.get(key, 0) + int(n)


def _value_order(value: str) -> tuple[int, Any]:
    return (0, int(value)) if value.lstrip("-").isdigit() else (1, value)


def utc_iso(epoch: float) -> str:
    """An epoch time as ISO 8601 UTC (what the report command prints for its window)."""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")
