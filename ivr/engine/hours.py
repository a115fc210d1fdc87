"""Business hours and holidays of a queue (pure: the time is passed in).

A queue without ``hours:`` is always open.  Ranges are local to the queue's
time zone; ``24:00`` ends a day.  Holidays close the whole local date.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Optional
from zoneinfo import ZoneInfo

from ..flow.model import WEEKDAYS, Hours


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _ranges(hours: Hours, day: date) -> list[tuple[int, int]]:
    if day.isoformat() in hours.holidays:
        return []
    out = []
    for r in hours.weekly.get(WEEKDAYS[day.weekday()], []):
        start, end = str(r).replace(" ", "").split("-")
        out.append((_minutes(start), _minutes(end)))
    return sorted(out)


def local_time(hours: Hours, at: float) -> datetime:
    """``at`` (seconds since the epoch) in the queue's time zone."""
    return datetime.fromtimestamp(at, tz=timezone.utc).astimezone(ZoneInfo(hours.timezone))


def is_open(hours: Optional[Hours], at: float) -> bool:
    """Whether a queue with these hours takes calls at ``at``."""
    if hours is None:
        return True
    now = local_time(hours, at)
    minute = now.hour * 60 + now.minute
    return any(start <= minute < end for start, end in _ranges(hours, now.date()))


def next_opening(hours: Optional[Hours], at: float, days: int = 14) -> Optional[datetime]:
    """The next local time the queue opens after ``at`` (None: always open, or closed for ``days``)."""
    if hours is None:
        return None
    now = local_time(hours, at)
    tz = ZoneInfo(hours.timezone)
    for offset in range(days + 1):
        day = now.date() + timedelta(days=offset)
        for start, end in _ranges(hours, day):
            opens = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(minutes=start)
            if opens > now or (offset == 0 and start <= now.hour * 60 + now.minute < end):
                return opens if opens > now else now
    return None


def spoken_opening(when: datetime, at: float) -> str:
    """"at 9 AM tomorrow", "at 9:30 AM on Monday": how a caller hears the next opening."""
    now = datetime.fromtimestamp(at, tz=when.tzinfo)
    clock = when.strftime("%I:%M %p").lstrip("0").replace(":00 ", " ")
    delta = (when.date() - now.date()).days
    day = "today" if delta == 0 else "tomorrow" if delta == 1 else f"on {when.strftime('%A')}"
    return f"at {clock} {day}"
