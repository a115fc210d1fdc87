"""Routing rules: which queue a transfer goes to (pure: state, flow and time in, decision out).

Rules are tried in order; the first whose conditions all hold chooses the
queue.  No rule: the queue the flow asked for.  The decision (rule name,
requested queue, whether the queue is open, and what callers get when it is
closed) is recorded in the call state and so in the context packet.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Optional, Sequence

from ..flow.model import Flow, RouteWhen, RoutingRule
from .hours import is_open, next_opening
from .state import CallState

HISTORY_WINDOW_LIMIT = 50


@dataclass(frozen=True)
class Route:
    """Where a transfer goes.

    Attributes:
        queue: the chosen queue.
        requested: the queue the flow (or escalation) asked for.
        rule: the name of the rule that chose it (None: no rule matched).
        mode: ``agent`` (connect), ``voicemail`` or ``callback``.
        open: whether the queue is within its hours.
        opens_at: ISO time of the next opening when closed, if known.
        priority: TaskRouter priority a rule asked for.
    """

    queue: str
    requested: str
    rule: Optional[str]
    mode: str
    open: bool = True
    opens_at: Optional[str] = None
    priority: Optional[int] = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _as_list(v: Any) -> list:
    return [] if v is None else [v] if isinstance(v, (str, int, float, bool)) else list(v)


def _parse_iso(text: Optional[str]) -> Optional[float]:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _digits(number: str) -> str:
    """A phone number as its digits and a leading +, so "+1 555-010-0000" and "+15550100000" are one number."""
    number = (number or "").strip()
    return ("+" if number.startswith("+") else "") + "".join(c for c in number if c.isdigit())


def earlier_calls_within(history: Sequence[dict], at: float, hours: float) -> int:
    """How many earlier calls started within ``hours`` before ``at``."""
    n = 0
    for h in history[:HISTORY_WINDOW_LIMIT]:
        started = _parse_iso(h.get("started_at"))
        if started is not None and 0 <= at - started <= hours * 3600:
            n += 1
    return n


def holds(when: RouteWhen, state: CallState, requested: str, reason: str, at: float) -> bool:
    """Whether every condition of a rule holds for this call."""
    if when.path_contains is not None and not any(n in state.path for n in _as_list(when.path_contains)):
        return False
    if when.called_within_hours is not None and earlier_calls_within(state.history, at,
                                                                     when.called_within_hours) == 0:
        return False
    if when.calls_at_least is not None and len(state.history) < when.calls_at_least:
        return False
    if when.auth is not None and str(state.auth.get("status")) not in _as_list(when.auth):
        return False
    if when.called is not None and _digits(state.called) not in {_digits(n) for n in _as_list(when.called)}:
        return False
    if when.entry is not None and state.entry not in _as_list(when.entry):
        return False
    if when.reason is not None and reason not in _as_list(when.reason):
        return False
    if when.requested is not None and requested not in _as_list(when.requested):
        return False
    if when.slot is not None:
        # Routing sees sensitive slots only as present/absent (validation enforces exists: for them).
        present = when.slot in state.slots or when.slot in state.sensitive
        value = state.slots.get(when.slot)
        if when.exists is not None:
            return present == when.exists
        if value is None:
            return False
        if when.equals is not None and str(value).lower() != str(when.equals).lower():
            return False
        if when.in_ is not None and str(value).lower() not in {str(v).lower() for v in when.in_}:
            return False
    return True


def choose(rules: Sequence[RoutingRule], state: CallState, requested: str, reason: str,
           at: float) -> Optional[tuple[int, RoutingRule]]:
    """The first rule that holds, with its index."""
    for i, rule in enumerate(rules):
        if holds(rule.when, state, requested, reason, at):
            return i, rule
    return None


def route(flow: Flow, state: CallState, requested: str, reason: str, at: float, mode: str = "agent") -> Route:
    """The routing decision for a transfer at time ``at``.

    Args:
        requested: the queue the flow or the escalation asked for.
        mode: ``agent`` for a person, ``voicemail``/``callback`` for nodes of those kinds.
    """
    hit = choose(flow.routing, state, requested, reason, at)
    queue, rule_name, priority = requested, None, None
    if hit is not None:
        i, rule = hit
        queue, rule_name, priority = rule.queue, rule.name or f"rule-{i + 1}", rule.priority
    spec = flow.queues.get(queue)
    hours = spec.hours if spec else None
    open_now = is_open(hours, at)
    opens = None
    if not open_now:
        nxt = next_opening(hours, at)
        opens = nxt.isoformat() if nxt else None
        if mode == "agent":
            mode = spec.out_of_hours if spec else "voicemail"
    if priority is None and spec is not None:
        priority = spec.target.priority
    return Route(queue=queue, requested=requested, rule=rule_name, mode=mode, open=open_now, opens_at=opens,
                 priority=priority)
