"""The context packet: the caller's whole story, handed to a person.

One JSON shape everywhere it is shown (TwiML ``<Task>``, the API, the agent
page, the simulator): see the README, "The context packet".  Sensitive values
are masked here, once, for every consumer.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from .state import CallState
from .summary import summary


def iso(at: Optional[float]) -> Optional[str]:
    """Seconds since the epoch as ISO 8601 UTC, or None."""
    if at is None:
        return None
    return datetime.fromtimestamp(at, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_context(state: CallState, at: float) -> dict[str, Any]:
    """The context packet of a call at time ``at``."""
    started = state.started_at
    end = state.transferred_at or state.ended_at or at
    ctx = {
        "call_id": state.call_id,
        "caller": state.caller,
        "called": state.called,
        "entry": state.entry,
        "flow": state.flow,
        "language": state.language,
        "path": list(state.path),
        "slots": state.masked_slots(),
        "results": dict(state.results),
        "transcript": [dict(t) for t in state.transcript],
        "reason": state.reason,
        "failed_node": state.failed_node,
        "auth": {k: v for k, v in state.auth.items() if k != "subject"},  # a subject may be a slot's value
        "history": [dict(h) for h in state.history],
        "queue": state.queue,
        "routing": dict(state.routing),
        "timings": {
            "started_at": iso(started),
            "transferred_at": iso(state.transferred_at),
            "ended_at": iso(state.ended_at),
            "self_service_seconds": round(max(0.0, end - started), 3),
            "turns": state.turns,
        },
    }
    ctx["summary"] = summary(ctx)
    return ctx


def history_entry(context: dict[str, Any]) -> dict[str, Any]:
    """A compact summary of an earlier call for a later call's ``history``."""
    return {
        "call_id": context.get("call_id"),
        "flow": context.get("flow"),
        "started_at": (context.get("timings") or {}).get("started_at"),
        "path": context.get("path", []),
        "reason": context.get("reason"),
        "queue": context.get("queue"),
        "outcome": context.get("outcome"),
    }
