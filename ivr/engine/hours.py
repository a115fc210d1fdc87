"""Business hours and holidays of a queue (pure: the time is passed in).

A queue without ``hours:`` is always open.  Ranges are local to the queue's
time zone; ``24:00`` ends a day.  Holidays close the whole local date.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Optional
from zoneinfo import ZoneInfo

from ..flow.model import WEEKDAYS, Hours
from . import texts as _texts


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def open_ranges(hours: Hours, day: date) -> list[tuple[int, int]]:
    """The open stretches of a local date, as (start, end) minutes after midnight (holidays: none)."""
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
    return any(start <= minute < end for start, end in open_ranges(hours, now.date()))


def next_opening(hours: Optional[Hours], at: float, days: int = 14) -> Optional[datetime]:
    """The next local time the queue opens after ``at`` (None: always open, or closed for ``days``)."""
    if hours is None:
        return None
    now = local_time(hours, at)
    tz = ZoneInfo(hours.timezone)
    for offset in range(days + 1):
        day = now.date() + timedelta(days=offset)
        for start, end in open_ranges(hours, day):
            opens = datetime(day.year, day.month, day.day, tzinfo=tz) + timedelta(minutes=start)
            if opens > now or (offset == 0 and start <= now.hour * 60 + now.minute < end):
                return opens if opens > now else now
    return None


def spoken_opening(when: datetime, at: float, language: str = "en-US") -> str:
    """"at 9 AM tomorrow", "domani alle 9:30": how a caller hears the next opening, in the flow's language.

    The words come from the language's system phrases (:mod:`ivr.engine.texts`: ``opening``, ``clock_*``,
    ``today``/``tomorrow``/``on_weekday``), so a new language needs no code here.
    """
    return _texts.fill(language, "opening", clock=spoken_clock(when.hour, when.minute, language),
                       day=spoken_day(when, at, language))


def spoken_clock(hour: int, minute: int, language: str = "en-US") -> str:
    """"9 AM", "5:30 PM" ("17:30" in Italian): a time of day in the flow's language (``clock_*`` phrases)."""
    values = {"hour": hour, "hour12": hour % 12 or 12, "minute": f"{minute:02d}", "ampm": "AM" if hour < 12 else "PM"}
    return _texts.fill(language, "clock_minute" if minute else "clock_hour", **values)


def spoken_day(when: datetime, at: float, language: str = "en-US") -> str:
    """"today", "tomorrow" or "on Monday" for ``when`` as seen at ``at`` (in ``when``'s time zone)."""
    now = datetime.fromtimestamp(at, tz=when.tzinfo)
    delta = (when.date() - now.date()).days
    if delta == 0:
        return _texts.fill(language, "today")
    if delta == 1:
        return _texts.fill(language, "tomorrow")
    return _texts.fill(language, "on_weekday", weekday=_texts.fill(language, f"weekday_{when.weekday()}"))
