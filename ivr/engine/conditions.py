"""Evaluation of ``branch`` conditions on slots, hook outcomes and facts of the call."""

from __future__ import annotations

import re
from typing import Any, Optional

from ..flow.model import Condition


def _num(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def holds(cond: Condition, slots: dict[str, Any], results: dict[str, str],
          facts: Optional[dict[str, Any]] = None) -> bool:
    """Whether a condition holds; a missing value never satisfies a comparison.

    Args:
        facts: the call's facts (:meth:`~ivr.engine.state.CallState.facts`) for ``call:`` conditions.
    """
    if cond.call is not None:
        value = (facts or {}).get(cond.call)
    elif cond.slot is not None:
        value = slots.get(cond.slot)
    else:
        value = results.get(cond.result or "")
    if cond.exists is not None:
        return (value is not None and value != "") == cond.exists
    if value is None:
        return cond.not_equals is not None
    if cond.equals is not None:
        return str(value).lower() == str(cond.equals).lower()
    if cond.not_equals is not None:
        return str(value).lower() != str(cond.not_equals).lower()
    if cond.in_ is not None:
        return str(value).lower() in {str(v).lower() for v in cond.in_}
    if cond.matches is not None:
        return re.fullmatch(cond.matches, str(value)) is not None
    n = _num(value)
    if n is None:
        return False
    for op, limit in (("gt", cond.gt), ("gte", cond.gte), ("lt", cond.lt), ("lte", cond.lte)):
        if limit is not None:
            return {"gt": n > limit, "gte": n >= limit, "lt": n < limit, "lte": n <= limit}[op]
    return False
