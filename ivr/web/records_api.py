"""The follow-up records API (bearer): callbacks, voicemails, and one call's handoff bundle.

For the people who work the follow-ups, or the desktop that shows them:
``GET /api/callbacks`` and ``/api/voicemails`` (filters), one record,
``POST .../claim`` and ``.../complete`` (409 when someone else has it), and
``GET /api/calls/<sid>/handoff``: context, records and the agent page link.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, request

from . import app_state
from .api import BadQuery, bad_query, bearer_required, call_context, not_found, query_int
from .call_view import now

bp = Blueprint("handoff_api", __name__, url_prefix="/api")
bp.register_error_handler(BadQuery, bad_query)

KINDS = ("callbacks", "voicemails")


def _kind(plural: str) -> str:
    if plural not in KINDS:
        abort(404)
    return plural[:-1]


@bp.get("/<any(callbacks, voicemails):plural>")
@bearer_required
def list_records(plural: str) -> Any:
    """``?status=requested,claimed&queue=cards&due=1&limit=100``"""
    kind = _kind(plural)
    limit = query_int("limit", 100)
    due = request.args.get("due") in ("1", "true") and kind == "callback"
    items = app_state.handoff().records.list(kind, status=request.args.get("status") or ("requested" if due else None),
                                         queue=request.args.get("queue"), due_before=now() if due else None,
                                         limit=limit)
    return jsonify({plural: items})


@bp.get("/<any(callbacks, voicemails):plural>/<rid>")
@bearer_required
def get_record(plural: str, rid: str) -> Any:
    """One callback or voicemail."""
    item = app_state.handoff().records.get(_kind(plural), rid)
    if item is None:
        return not_found(f"no {plural[:-1]} {rid}")
    return jsonify(item)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else dict(request.form)


def _not_done(records: Any, kind: str, rid: str) -> Any:
    """Why a claim or completion did not happen: 404 (no such record) or 409 (someone else has it)."""
    current = records.get(kind, rid)
    if current is None:
        return not_found(f"no {kind} {rid}")
    by = f" by {current['claimed_by']}" if current.get("claimed_by") else ""
    return jsonify(error="conflict", hint=f"{kind} is {current['status']}{by}", item=current), 409


@bp.post("/<any(callbacks, voicemails):plural>/<rid>/claim")
@bearer_required
def claim_record(plural: str, rid: str) -> Any:
    """``{"agent": "..."}``: the record is theirs (409 when someone else has it)."""
    kind = _kind(plural)
    agent = str(_body().get("agent") or "").strip()
    if not agent:
        return jsonify(error="bad_request", hint='send {"agent": "<your name or id>"}'), 400
    records = app_state.handoff().records
    item = records.claim(kind, rid, agent, now())
    return jsonify(item) if item is not None else _not_done(records, kind, rid)


@bp.post("/<any(callbacks, voicemails):plural>/<rid>/complete")
@bearer_required
def complete_record(plural: str, rid: str) -> Any:
    """``{"outcome": "...", "note": "...", "agent": "..."}``: the follow-up is done."""
    kind = _kind(plural)
    body = _body()
    outcome = str(body.get("outcome") or "completed")[:64]
    note = body.get("note")
    records = app_state.handoff().records
    item = records.complete(kind, rid, now(), outcome=outcome, note=str(note)[:2000] if note else None,
                            by=str(body.get("agent") or "") or None)
    return jsonify(item) if item is not None else _not_done(records, kind, rid)


@bp.get("/calls/<call_sid>/handoff")
@bearer_required
def call_handoff(call_sid: str) -> Any:
    """Everything an agent desktop needs about one call: context, callbacks, voicemails, page link."""
    ctx = call_context(call_sid)
    handoff = app_state.handoff()
    return jsonify(context=ctx, agent_url=handoff.agent_url(call_sid), **handoff.records.for_call(call_sid))
