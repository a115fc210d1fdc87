"""Known-answer vectors for speaking values in English and Italian."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ivr.errors import PromptError
from ivr.prompts import sayas
from ivr.prompts.sayas import (
    parse_money,
    pieces,
    say,
    say_date,
    say_digits,
    say_integer,
    say_money,
    say_number,
    say_ordinal,
    say_queue_position,
    say_time,
    spaced_digits,
)

INTEGERS = [
    (0, "zero", "zero"),
    (7, "seven", "sette"),
    (13, "thirteen", "tredici"),
    (21, "twenty one", "ventuno"),
    (23, "twenty three", "ventitré"),
    (28, "twenty eight", "ventotto"),
    (42, "forty two", "quarantadue"),
    (100, "one hundred", "cento"),
    (105, "one hundred five", "centocinque"),
    (181, "one hundred eighty one", "centottantuno"),
    (342, "three hundred forty two", "trecentoquarantadue"),
    (1000, "one thousand", "mille"),
    (1234, "one thousand two hundred thirty four", "milleduecentotrentaquattro"),
    (2003, "two thousand three", "duemilatré"),
    (21000, "twenty one thousand", "ventunomila"),
    (1_000_000, "one million", "un milione"),
    (2_500_000, "two million five hundred thousand", "due milioni cinquecentomila"),
    (3_000_000_000, "three billion", "tre miliardi"),
    (-5, "minus five", "meno cinque"),
]


@pytest.mark.parametrize("n,en,it", INTEGERS)
def test_integers(n: int, en: str, it: str) -> None:
    assert say_integer(n) == en
    assert say_integer(n, "it-IT") == it


@pytest.mark.parametrize("n,en,it", [
    (1, "first", "primo"), (2, "second", "secondo"), (3, "third", "terzo"),
    (5, "fifth", "quinto"), (11, "eleventh", "undicesimo"), (12, "twelfth", "dodicesimo"),
    (20, "twentieth", "ventesimo"), (21, "twenty first", "ventunesimo"),
    (23, "twenty third", "ventitreesimo"), (26, "twenty sixth", "ventiseiesimo"),
    (100, "one hundredth", "centesimo"), (1000, "one thousandth", "millesimo"),
])
def test_ordinals(n: int, en: str, it: str) -> None:
    assert say_ordinal(n) == en
    assert say_ordinal(n, "it") == it


@pytest.mark.parametrize("value,currency,en", [
    (42.05, None, "forty two dollars and five cents"),
    ("42.05 USD", None, "forty two dollars and five cents"),
    ("USD 42.05", None, "forty two dollars and five cents"),
    ("42 dollars and 5 cents", None, "forty two dollars and five cents"),
    ("$1", None, "one dollar"),
    ("$1,234.50", None, "one thousand two hundred thirty four dollars and fifty cents"),
    (Decimal("0.01"), None, "one cent"),
    (0.05, None, "five cents"),
    (0, None, "zero dollars"),
    (1.005, None, "one dollar and one cent"),  # half-up, not binary float noise
    ("-12.10", None, "minus twelve dollars and ten cents"),
    ("€3.50", None, "three euros and fifty cents"),
    (2, "GBP", "two pounds"),
    ("1.01", "GBP", "one pound and one penny"),
])
def test_money_english(value: object, currency: str | None, en: str) -> None:
    assert say_money(value, currency) == en


@pytest.mark.parametrize("value,currency,it", [
    (42.05, None, "quarantadue euro e cinque centesimi"),
    ("1 euro", None, "un euro"),
    ("42 euro e 5 centesimi", None, "quarantadue euro e cinque centesimi"),
    ("42.05 USD", None, "quarantadue dollari e cinque centesimi"),
    ("1.234,50", None, "milleduecentotrentaquattro euro e cinquanta centesimi"),
    (1, "GBP", "una sterlina"),
    (0.01, None, "un centesimo"),
])
def test_money_italian(value: object, currency: str | None, it: str) -> None:
    assert say_money(value, currency, "it-IT") == it


def test_money_defaults_by_locale() -> None:
    assert say_money(2, language="en-GB") == "two pounds"
    assert say_money(2, language="en-IE") == "two euros"


@pytest.mark.parametrize("text,expected", [
    ("$42.05", (Decimal("42.05"), "USD")),
    ("42.05 eur", (Decimal("42.05"), "EUR")),
    ("£7", (Decimal("7"), "GBP")),
    ("42.05", (Decimal("42.05"), None)),
    ("5 cents", (Decimal("0.05"), None)),
])
def test_parse_money(text: str, expected: tuple[Decimal, str | None]) -> None:
    assert parse_money(text) == expected


@pytest.mark.parametrize("bad", ["42,05", "forty dollars", "42 XYZ", "", "$"])
def test_bad_money_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        say_money(bad)


@pytest.mark.parametrize("value,kwargs,en,it", [
    (dt.date(2026, 3, 3), {}, "Tuesday, March third", "martedì tre marzo"),
    (dt.date(2026, 3, 1), {}, "Sunday, March first", "domenica primo marzo"),
    ("2025-12-23", {"weekday": False}, "December twenty third", "ventitré dicembre"),
    (dt.datetime(1999, 7, 4, 9, 30), {"year": True},
     "Sunday, July fourth, nineteen ninety nine", "domenica quattro luglio millenovecentonovantanove"),
    (dt.date(2005, 1, 2), {"year": True, "weekday": False},
     "January second, two thousand five", "due gennaio duemilacinque"),
    (dt.date(2026, 1, 2), {"year": True, "weekday": False},
     "January second, twenty twenty six", "due gennaio duemilaventisei"),
    (dt.date(1905, 1, 2), {"year": True, "weekday": False},
     "January second, nineteen oh five", "due gennaio millenovecentocinque"),
])
def test_dates(value: object, kwargs: dict, en: str, it: str) -> None:
    assert say_date(value, **kwargs) == en
    assert say_date(value, "it-IT", **kwargs) == it


@pytest.mark.parametrize("value,en12,en24,it", [
    ("09:05", "nine oh five A M", "nine oh five", "le nove e cinque"),
    ("14:30", "two thirty P M", "fourteen thirty", "le quattordici e trenta"),
    ("12:00", "twelve noon", "twelve hundred", "mezzogiorno"),
    ("00:00", "twelve midnight", "zero hundred", "mezzanotte"),
    ("9 PM".replace(" ", ":00 "), "nine P M", "twenty one hundred", "le ventuno"),
    (dt.time(1, 15), "one fifteen A M", "one fifteen", "l'una e quindici"),
    (dt.time(0, 45), "twelve forty five A M", "zero forty five", "le zero e quarantacinque"),
])
def test_times(value: object, en12: str, en24: str, it: str) -> None:
    assert say_time(value) == en12
    assert say_time(value, clock=24) == en24
    assert say_time(value, "it-IT") == it


@pytest.mark.parametrize("value,en,it", [
    ("1234", "one two three four", "uno due tre quattro"),
    ("007", "zero zero seven", "zero zero sette"),
    ("555-0100", "five five five, zero one zero zero", "cinque cinque cinque, zero uno zero zero"),
    ("+1 (555) 123#", "plus one, five five five, one two three pound",
     "più uno, cinque cinque cinque, uno due tre cancelletto"),
    ("AB12", "A B one two", "A B uno due"),
    (4321, "four three two one", "quattro tre due uno"),
])
def test_digits(value: object, en: str, it: str) -> None:
    assert say_digits(value) == en
    assert say_digits(value, "it") == it


def test_spaced_digits() -> None:
    assert spaced_digits("12 34") == "1 2 3 4"


@pytest.mark.parametrize("value,en,it", [
    (3.5, "three point five", "tre virgola cinque"),
    ("3.14", "three point one four", "tre virgola quattordici"),
    ("3.05", "three point zero five", "tre virgola zero cinque"),
    (-0.5, "minus zero point five", "meno zero virgola cinque"),
    (12, "twelve", "dodici"),
])
def test_numbers(value: object, en: str, it: str) -> None:
    assert say_number(value) == en
    assert say_number(value, "it") == it


@pytest.mark.parametrize("pos,wait,en,it", [
    (1, None, "You are next in line.", "Lei è il prossimo in linea."),
    (3, None, "You are number three in line.", "Lei è il numero tre in coda."),
    (2, 0.3, "You are number two in line. The expected wait is less than a minute.",
     "Lei è il numero due in coda. L'attesa prevista è inferiore a un minuto."),
    (12, 1, "You are number twelve in line. The expected wait is about one minute.",
     "Lei è il numero dodici in coda. L'attesa prevista è di circa un minuto."),
    (4, 7.6, "You are number four in line. The expected wait is about eight minutes.",
     "Lei è il numero quattro in coda. L'attesa prevista è di circa otto minuti."),
])
def test_queue_positions(pos: int, wait: float | None, en: str, it: str) -> None:
    assert say_queue_position(pos, wait_minutes=wait) == en
    assert say_queue_position(pos, "it-IT", wait_minutes=wait) == it


@pytest.mark.parametrize("kind,value,opts,expected", [
    ("money", "42.05 USD", {}, ["forty", "two", "dollars", "and", "five", "cents"]),
    ("date", dt.date(2026, 3, 23), {}, ["Monday", "March", "twenty", "third"]),
    ("time", "14:05", {}, ["two", "oh", "five", "P M"]),
    ("integer", 1234, {}, ["one", "thousand", "two", "hundred", "thirty", "four"]),
    ("queue", 3, {"wait_minutes": 5}, ["You are number", "three", "in line.",
                                       "The expected wait is about", "five", "minutes."]),
])
def test_pieces_english(kind: str, value: object, opts: dict, expected: list[str]) -> None:
    assert pieces(kind, value, **opts) == expected
    # The pieces say the same words as the sentence.
    assert " ".join(expected).replace(" ", "") == say(kind, value, **opts).replace(",", "").replace(" ", "")


def test_pieces_italian_split_fused_numbers() -> None:
    assert pieces("integer", 2342, "it") == ["due", "mila", "trecento", "quarantadue"]
    assert say("integer", 2342, "it") == "duemilatrecentoquarantadue"
    assert pieces("money", "1 euro", "it") == ["un", "euro"]


@pytest.mark.parametrize("call", [
    lambda: say_integer(10 ** 12), lambda: say_integer("4.5"), lambda: say_ordinal(0),
    lambda: say_date("03/03/2026"), lambda: say_time("25 o'clock"), lambda: say_digits("12?"),
    lambda: say_queue_position(0), lambda: say("colour", 1), lambda: say_number("nan"),
    lambda: say_integer(True),
])
def test_bad_values_raise_value_error(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        call()


def test_unsupported_language_names_supported_ones() -> None:
    with pytest.raises(PromptError, match="en, it"):
        say_integer(3, "fr-FR")
    assert sayas.base_language("en-GB") == "en"
