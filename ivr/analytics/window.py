"""The time window of a report: ``since``/``until`` as datetimes, ISO 8601 text or epoch seconds.

Calls are stored with epoch seconds (``calls.started_at``), so every form is
turned into one float; a naive date-time means UTC, as the stored times are
UTC and a report run on a laptop in another zone must count the same calls.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Optional, Union

TimeLike = Union[None, float, int, str, datetime, date]

ISO_HINT = "an ISO 8601 date or date-time, e.g. 2026-11-30 or 2026-11-30T10:00:00+00:00 (UTC when no offset)"


def to_epoch(value: TimeLike, name: str = "time") -> Optional[float]:
    """Epoch seconds of ``value`` (None stays None).

    Raises:
        ValueError: text that is not ISO 8601; the message names ``name`` and the expected format.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name}: {value!r} is not a time; give {ISO_HINT}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        when = value
    elif isinstance(value, date):
        when = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        raw = value.strip()
        try:
            when = datetime.fromisoformat(raw[:-1] + "+00:00" if raw.endswith(("Z", "z")) else raw)
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not {ISO_HINT}") from None
    else:
        raise ValueError(f"{name}: {value!r} is not a time; give {ISO_HINT}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()
