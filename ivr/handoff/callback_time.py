"""A callback at a day and time the caller chooses, within the queue's hours (pure: the time is passed in).

The caller picks a day (today, tomorrow, or one of the next open days, by
key) and a time (keys: ``1030``; speech: "tomorrow at half past ten"). A
clock time without AM/PM is read the way a person would: the one the queue
is open at ("two" is 2 PM for a 9-to-5 team). The dialogue around it, with
the read-back and the change of mind, is :mod:`ivr.web.callback`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Optional
from zoneinfo import ZoneInfo

from ..engine.hours import open_ranges
from ..flow.model import Hours

LEAD_S = 15 * 60
"""A chosen time must be at least this far ahead (time to schedule the dialer)."""
MAX_DAY_KEYS = 7
"""Days offered on the keypad (keys 1..7), counting only days the queue is open."""
SLOT_S = 30 * 60
"""How long the promise lasts: the callback is due at the time and may be made up to 30 minutes later."""


@dataclass(frozen=True)
class Chosen:
    """What the caller asked for: a day (or None: the soonest that fits) and a clock time."""

    day: Optional[date]
    hour: int
    minute: int
    ampm: Optional[str] = None  # "am", "pm" or None (decided by the queue's hours)


@dataclass(frozen=True)
class Resolved:
    """A chosen time checked against the queue: ``when`` (local) or why not (``past``, ``closed``)."""

    when: Optional[datetime]
    problem: Optional[str] = None
    day: Optional[date] = None


def _tz(hours: Optional[Hours]) -> ZoneInfo:
    return ZoneInfo(hours.timezone if hours else "UTC")


def local_now(hours: Optional[Hours], at: float) -> datetime:
    return datetime.fromtimestamp(at, tz=timezone.utc).astimezone(_tz(hours))


def _open_at(hours: Optional[Hours], when: datetime) -> bool:
    if hours is None:
        return True
    minute = when.hour * 60 + when.minute
    return any(start <= minute < end for start, end in open_ranges(hours, when.date()))


def _has_time_left(hours: Optional[Hours], day: date, earliest: datetime) -> bool:
    if hours is None:
        return day > earliest.date() or earliest.hour < 23
    ranges = open_ranges(hours, day)
    if day != earliest.date():
        return bool(ranges)
    minute = earliest.hour * 60 + earliest.minute
    return any(end > minute for _, end in ranges)


def day_choices(hours: Optional[Hours], at: float, limit: int = MAX_DAY_KEYS) -> list[date]:
    """The days a caller may choose (key 1 is the first): today if there is open time left, then open days."""
    earliest = local_now(hours, at + LEAD_S)
    out: list[date] = []
    for offset in range(0, 21):
        day = earliest.date() + timedelta(days=offset)
        if _has_time_left(hours, day, earliest):
            out.append(day)
        if len(out) == limit:
            break
    return out


def time_from_keys(digits: str) -> Optional[tuple[int, int]]:
    """Keys as a clock time: ``10`` or ``1030`` or ``930`` or ``1430``; None when it is no time."""
    d = re.sub(r"\D", "", digits or "")
    if not 1 <= len(d) <= 4:
        return None
    hour, minute = (int(d), 0) if len(d) <= 2 else (int(d[:-2]), int(d[-2:]))
    if hour > 23 or minute > 59:
        return None
    return hour, minute


def _candidates(chosen: Chosen) -> list[int]:
    """The 24-hour readings of a clock hour: 10 -> [10, 22]; with "pm" -> [22]; 14 -> [14]."""
    h = chosen.hour
    if chosen.ampm == "am":
        return [0 if h == 12 else h] if h <= 12 else []
    if chosen.ampm == "pm":
        return [12 if h == 12 else h + 12] if h <= 12 else [h]
    if h == 0 or h > 12:
        return [h]
    if h == 12:
        return [12, 0]
    return [h + 12, h] if h < 7 else [h, h + 12]   # "at two" is 2 PM before it is 2 AM; "at nine" 9 AM


def resolve(chosen: Chosen, hours: Optional[Hours], at: float) -> Resolved:
    """The local time the caller meant, if the queue is open then and it is far enough ahead.

    With no day, the soonest day (within a week) on which a reading of the time fits. The problem is
    ``past`` when every reading of the time on the chosen day is already (nearly) over, else ``closed``.
    """
    tz = _tz(hours)
    earliest = local_now(hours, at + LEAD_S)
    days = [chosen.day] if chosen.day else [earliest.date() + timedelta(days=i) for i in range(8)]
    future = False
    for day in days:
        for hour in _candidates(chosen):
            when = datetime(day.year, day.month, day.day, hour, chosen.minute, tzinfo=tz)
            if when < earliest:
                continue
            future = True
            if _open_at(hours, when):
                return Resolved(when, day=day)
    return Resolved(None, "closed" if future else "past", chosen.day)


# -- speech ----------------------------------------------------------------------

_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
            "ten": 10, "eleven": 11, "twelve": 12}
_MINUTES = {"five": 5, "ten": 10, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "forty five": 45,
            "fifty": 50, "twenty five": 25, "thirty five": 35, "fifty five": 55, "oh five": 5}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_WORDS = ("today", "tonight", "tomorrow", "day after tomorrow") + _WEEKDAYS
HOUR_WORDS = tuple(_NUMBERS)
MINUTE_WORDS = ("fifteen", "thirty", "forty five", "o'clock")
PART_WORDS = ("a m", "p m", "in the morning", "in the afternoon", "in the evening")


def _day_of(words: str, today: date) -> Optional[date]:
    if "day after tomorrow" in words:
        return today + timedelta(days=2)
    if re.search(r"\btomorrow\b", words):
        return today + timedelta(days=1)
    if re.search(r"\b(today|tonight|this (morning|afternoon|evening))\b", words):
        return today
    for i, name in enumerate(_WEEKDAYS):
        if re.search(rf"\b{name}\b", words):
            ahead = (i - today.weekday()) % 7
            return today + timedelta(days=ahead or 7) if ahead == 0 and "next" in words else \
                today + timedelta(days=ahead)
    return None


def _ampm_of(words: str) -> Optional[str]:
    if re.search(r"\b(a\.? ?m\.?|in the morning|this morning)\b", words):
        return "am"
    if re.search(r"\b(p\.? ?m\.?|in the afternoon|in the evening|this afternoon|this evening|tonight)\b", words):
        return "pm"
    return None


def parse_spoken(text: str, today: date) -> Optional[Chosen]:
    """English words (or a recogniser's digits, "10:30") as a day and time; None without a time.

    "tomorrow at ten", "monday at half past two", "at 3 pm", "quarter to eleven on friday", "noon tomorrow".
    """
    words = " " + re.sub(r"[^a-z0-9: ']+", " ", (text or "").lower()).strip() + " "
    words = re.sub(r"\s+", " ", words)
    day = _day_of(words, today)
    ampm = _ampm_of(words)
    if re.search(r"\b(noon|midday)\b", words):
        return Chosen(day, 12, 0, "pm")
    m = re.search(r"\b(\d{1,2})(?::| )?(\d{2})?\s*(?:o'clock)?\b", words)
    if m and not re.search(r"\b\d{1,2}(st|nd|rd|th)\b", words):
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
        if hour <= 23 and minute <= 59:
            return Chosen(day, hour, minute, ampm if hour <= 12 else None)
    hour_re = "|".join(sorted(_NUMBERS, key=len, reverse=True))
    m = re.search(rf"\b(half|quarter) (past|after|to|before) ({hour_re})\b", words)
    if m:
        hour = _NUMBERS[m.group(3)]
        minute = 30 if m.group(1) == "half" else 15
        if m.group(2) in ("to", "before"):
            hour, minute = (hour - 1 or 12), 60 - minute
        return Chosen(day, hour, minute, ampm)
    minute_re = "|".join(sorted(_MINUTES, key=len, reverse=True))
    m = re.search(rf"\b({hour_re})(?: ({minute_re}))?(?: o'clock)?\b", words)
    if m:
        return Chosen(day, _NUMBERS[m.group(1)], _MINUTES.get(m.group(2) or "", 0), ampm)
    return None


def spoken_phrases() -> tuple[str, ...]:
    """What a phrase-constrained recogniser should listen for when the caller says a day and time.

    Not every sentence, but every word sequence a day-and-time sentence is made of ("tomorrow at ten",
    "at ten thirty", "thirty p m"): the recogniser's n-gram model joins them into "tomorrow at ten thirty
    p m", and the grammar stays small enough to build in seconds.
    """
    quarters = ("half past", "quarter past", "quarter to")
    out = [f"{day} at {h}" for day in DAY_WORDS for h in HOUR_WORDS]
    out += [f"at {h} {m}" for h in HOUR_WORDS for m in MINUTE_WORDS]
    out += [f"{x} {part}" for x in HOUR_WORDS + MINUTE_WORDS for part in PART_WORDS]
    out += [f"at {q} {h}" for q in quarters for h in HOUR_WORDS]
    out += [f"{day} {part}" for day in DAY_WORDS for part in PART_WORDS]
    out += ["at noon"] + [f"noon {day}" for day in DAY_WORDS] + [f"{day} at noon" for day in DAY_WORDS]
    return tuple(out)
