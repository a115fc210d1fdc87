"""Callback requests: numbers, preferred time windows, due times (pure: time passed in)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Optional
from zoneinfo import ZoneInfo

from ..flow.model import Hours
from ..engine.hours import is_open, next_opening

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
WITHHELD = {"", "anonymous", "restricted", "unknown", "private", "unavailable", "+266696687", "+86282452253",
            "+7378742833", "+2562533"}


@dataclass(frozen=True)
class Window:
    """A preferred callback window, chosen by a key."""

    key: str
    name: str
    spoken: str
    start: Optional[int] = None  # local hour; None: as soon as possible
    end: Optional[int] = None


WINDOWS = (
    Window("1", "asap", "as soon as possible"),
    Window("2", "morning", "in the morning, between 9 and 12", 9, 12),
    Window("3", "afternoon", "in the afternoon, between 12 and 5", 12, 17),
    Window("4", "evening", "in the evening, between 5 and 8", 17, 20),
)


def window_for_key(key: str) -> Optional[Window]:
    return next((w for w in WINDOWS if w.key == key), None)


def window_prompt() -> str:
    """The spoken menu of windows."""
    return "When should we call you? " + " ".join(f"For {w.spoken}, press {w.key}." for w in WINDOWS)


def usable_caller_id(caller: str) -> Optional[str]:
    """The caller ID if it is a real E.164 number (not withheld), else None."""
    c = (caller or "").strip()
    if c.lower() in WITHHELD or not E164.match(c):
        return None
    return c


def normalize_number(typed: str, caller_id: str = "") -> Optional[str]:
    """A typed number as E.164, or None when it cannot be one.

    ``00`` becomes ``+``; 10 digits take the caller's +1 when the caller ID is
    North American; otherwise a number with its country code is expected.
    """
    digits = re.sub(r"\D", "", typed or "")
    if digits.startswith("00"):
        digits = digits[2:]
    elif len(digits) == 10 and (caller_id or "+1").startswith("+1"):
        digits = "1" + digits
    candidate = "+" + digits
    return candidate if E164.match(candidate) else None


def spoken_number(number: str) -> str:
    """Digits for text-to-speech, grouped like a person reads them: "5 5 5, 1 2 3, 0 0 0 0"."""
    digits = re.sub(r"\D", "", number)
    if number.startswith("+1") and len(digits) == 11:
        digits = digits[1:]
        groups = [digits[:3], digits[3:6], digits[6:]]
    else:
        groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    return ", ".join(" ".join(g) for g in groups if g)


def due_window(window: Window, hours: Optional[Hours], at: float) -> tuple[float, Optional[float]]:
    """When a callback becomes due and when its window ends (seconds since the epoch).

    ``asap`` is now, or the queue's next opening when it is closed.  A named
    window is the next stretch of it (in the queue's time zone) that is not
    over yet, moved to the queue's next opening if the queue is closed then.
    """
    tz = ZoneInfo(hours.timezone if hours else "UTC")
    now = datetime.fromtimestamp(at, tz=timezone.utc).astimezone(tz)
    if window.start is None:
        if is_open(hours, at):
            return at, None
        nxt = next_opening(hours, at)
        return (nxt.timestamp() if nxt else at), None
    for offset in range(0, 15):
        day = now.date() + timedelta(days=offset)
        start = datetime(day.year, day.month, day.day, window.start, tzinfo=tz)
        end = datetime(day.year, day.month, day.day, window.end or 23, tzinfo=tz)
        if end <= now:
            continue
        begin = max(start, now)
        if hours is None or is_open(hours, begin.timestamp()):
            return begin.timestamp(), end.timestamp()
        nxt = next_opening(hours, begin.timestamp())
        if nxt is not None and nxt < end:
            return nxt.timestamp(), end.timestamp()
    return at, None
