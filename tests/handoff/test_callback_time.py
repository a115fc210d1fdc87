"""Reading a caller's day and time: keys, words, AM/PM by the team's hours, days the team works."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from ivr.flow.model import Hours
from ivr.handoff.callback_time import Chosen, day_choices, parse_spoken, resolve, spoken_phrases, time_from_keys

WED = date(2026, 3, 4)
NOON = datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc).timestamp()   # Wednesday, noon in London
OFFICE = Hours(timezone="Europe/London", weekly={d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
               holidays=["2026-03-06"])


@pytest.mark.parametrize("words, expected", [
    ("tomorrow at ten", Chosen(date(2026, 3, 5), 10, 0)),
    ("Tomorrow at 10:30.", Chosen(date(2026, 3, 5), 10, 30)),
    ("could you call me on monday at half past two", Chosen(date(2026, 3, 9), 2, 30)),
    ("quarter to eleven on thursday", Chosen(date(2026, 3, 5), 10, 45)),
    ("at 3 pm", Chosen(None, 3, 0, "pm")),
    ("friday at four fifteen p m", Chosen(date(2026, 3, 6), 4, 15, "pm")),
    ("noon tomorrow", Chosen(date(2026, 3, 5), 12, 0, "pm")),
    ("today at two in the afternoon", Chosen(WED, 2, 0, "pm")),
    ("next wednesday at nine", Chosen(date(2026, 3, 11), 9, 0)),
    ("the day after tomorrow at eleven", Chosen(date(2026, 3, 6), 11, 0)),
    ("the weather is lovely", None),
    ("tomorrow", None),
])
def test_spoken_days_and_times(words: str, expected) -> None:
    assert parse_spoken(words, WED) == expected


def test_keys_as_a_time() -> None:
    assert [time_from_keys(k) for k in ("1030", "930", "2", "14", "1430", "0915")] == \
        [(10, 30), (9, 30), (2, 0), (14, 0), (14, 30), (9, 15)]
    assert [time_from_keys(k) for k in ("", "2561", "12345", "99")] == [None, None, None, None]


def test_days_offered_are_the_days_the_team_calls() -> None:
    days = day_choices(OFFICE, NOON)
    assert days[:4] == [WED, date(2026, 3, 5), date(2026, 3, 9), date(2026, 3, 10)], \
        "the holiday Friday and the weekend are not offered"
    late = datetime(2026, 3, 4, 16, 50, tzinfo=timezone.utc).timestamp()
    assert day_choices(OFFICE, late)[0] == date(2026, 3, 5), "no time left today: it is not offered"
    assert len(day_choices(None, NOON)) == 7


def test_a_bare_hour_reads_as_the_team_is_open_and_too_soon_or_closed_is_said() -> None:
    def local(chosen: Chosen) -> str:
        r = resolve(chosen, OFFICE, NOON)
        return r.when.strftime("%a %H:%M") if r.when else str(r.problem)
    assert local(Chosen(date(2026, 3, 5), 2, 0)) == "Thu 14:00"
    assert local(Chosen(date(2026, 3, 5), 9, 30)) == "Thu 09:30"
    assert local(Chosen(date(2026, 3, 5), 7, 0, "pm")) == "closed"
    assert local(Chosen(WED, 12, 5)) == "past", "less than 15 minutes ahead"
    assert local(Chosen(date(2026, 3, 6), 10, 0)) == "closed", "a holiday"
    assert local(Chosen(None, 10, 0)) == "Thu 10:00", "no day: the soonest that fits"


def test_the_grammar_covers_what_the_parser_reads() -> None:
    phrases = spoken_phrases()
    assert len(phrases) < 500, "a grammar that builds in seconds"
    assert "tomorrow at ten" in phrases and "at half past two" in phrases
    assert all(parse_spoken(p, WED) is not None for p in phrases if " at " in f" {p}")
