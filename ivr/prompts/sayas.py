"""Speaking values the way a caller expects to hear them (English, Italian).

Why not leave numbers to the TTS engine: espeak reads "42.05" as "forty two
point zero five", "1234" as a number when it is an account number, and
"3/3" as a fraction. A balance, a date or a reference code has one right
reading, and it must be the same whether the sentence is rendered whole or
assembled from pre-rendered words (see :mod:`ivr.prompts.assemble`). So every
kind of value is turned into words here, in two shapes from one source:

- :func:`say` gives the sentence text (for TTS or ``<Say>``), e.g.
  ``say("money", "42.05 USD") == "forty two dollars and five cents"``;
- :func:`pieces` gives the same words split into the smallest phrases that a
  finite vocabulary can cover, e.g. ``["forty", "two", "dollars", "and",
  "five", "cents"]``. In Italian the text fuses numbers as written
  ("quarantadue", "duecentoquarantadue") while pieces keep units of at most
  two digits ("duecento", "quarantadue").
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from ivr.errors import PromptError

#: Value kinds understood by :func:`say` and :func:`pieces`.
KINDS = ("integer", "ordinal", "number", "money", "date", "time", "digits", "queue")
#: Base languages with a sayer.
LANGUAGES = ("en", "it")


@dataclass(frozen=True)
class _P:
    """Punctuation in a spoken sequence: shapes the text, is never a piece."""

    mark: str


_Seq = list["str | _P"]

# --------------------------------------------------------------------------
# English

_EN_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
            "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
            "seventeen", "eighteen", "nineteen"]
_EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_EN_SCALES = [(10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand")]
_EN_ORD_IRREGULAR = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                     "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}
_EN_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_EN_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December"]

# --------------------------------------------------------------------------
# Italian

_IT_ONES = ["zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove",
            "dieci", "undici", "dodici", "tredici", "quattordici", "quindici", "sedici",
            "diciassette", "diciotto", "diciannove"]
_IT_TENS = ["", "", "venti", "trenta", "quaranta", "cinquanta", "sessanta", "settanta",
            "ottanta", "novanta"]
_IT_ORD = ["", "primo", "secondo", "terzo", "quarto", "quinto", "sesto", "settimo", "ottavo",
           "nono", "decimo"]
_IT_WEEKDAYS = ["lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"]
_IT_MONTHS = ["gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
              "settembre", "ottobre", "novembre", "dicembre"]

#: currency -> language -> (one, many, one minor, many minor, feminine)
_CURRENCIES: dict[str, dict[str, tuple[str, str, str, str, bool]]] = {
    "USD": {"en": ("dollar", "dollars", "cent", "cents", False),
            "it": ("dollaro", "dollari", "centesimo", "centesimi", False)},
    "EUR": {"en": ("euro", "euros", "cent", "cents", False),
            "it": ("euro", "euro", "centesimo", "centesimi", False)},
    "GBP": {"en": ("pound", "pounds", "penny", "pence", False),
            "it": ("sterlina", "sterline", "penny", "pence", True)},
}
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP"}
_UNIT_WORDS = {
    "dollar": "USD", "dollars": "USD", "dollaro": "USD", "dollari": "USD",
    "euro": "EUR", "euros": "EUR", "pound": "GBP", "pounds": "GBP",
    "sterlina": "GBP", "sterline": "GBP",
}
_MINOR_WORDS = r"(?:cents?|pence|penny|centesim[oi])"

_MAX = 10 ** 12 - 1


def base_language(language: str) -> str:
    """The sayer for a BCP 47 tag: ``en-GB`` -> ``en``, ``it-IT`` -> ``it``.

    Raises:
        PromptError: for a language without a sayer, naming those that exist.
    """
    base = language.strip().replace("_", "-").split("-")[0].lower()
    if base not in LANGUAGES:
        raise PromptError(f"no say-as rules for language {language!r}; "
                          f"supported: {', '.join(LANGUAGES)}")
    return base


def default_currency(language: str) -> str:
    """The currency a caller of this locale means by a bare amount."""
    lang = language.replace("_", "-").lower()
    if lang.startswith("it") or lang in ("en-ie", "en-mt"):
        return "EUR"
    if lang == "en-gb":
        return "GBP"
    return "USD"


def _check_int(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        try:
            d = Decimal(str(n))
        except InvalidOperation:
            raise ValueError(f"not an integer: {n!r}") from None
        if d != d.to_integral_value():
            raise ValueError(f"not an integer: {n!r}")
        n = int(d)
    if abs(n) > _MAX:
        raise ValueError(f"{n} is too large to speak (limit {_MAX})")
    return n


# -- cardinal numbers ------------------------------------------------------

def _en_cardinal(n: int) -> list[str]:
    if n < 0:
        return ["minus", *_en_cardinal(-n)]
    if n < 20:
        return [_EN_ONES[n]]
    if n < 100:
        return [_EN_TENS[n // 10]] + ([_EN_ONES[n % 10]] if n % 10 else [])
    if n < 1000:
        return [_EN_ONES[n // 100], "hundred"] + (_en_cardinal(n % 100) if n % 100 else [])
    for size, word in _EN_SCALES:
        if n >= size:
            rest = n % size
            return [*_en_cardinal(n // size), word] + (_en_cardinal(rest) if rest else [])
    raise AssertionError(n)  # pragma: no cover


def _it_under_100(n: int) -> str:
    if n < 20:
        return _IT_ONES[n]
    tens, unit = _IT_TENS[n // 10], n % 10
    if unit == 0:
        return tens
    if unit in (1, 8):
        return tens[:-1] + _IT_ONES[unit]  # ventuno, ventotto
    return tens + _IT_ONES[unit]


def _it_cardinal(n: int) -> list[str]:
    """Italian number as pieces of at most three digits' worth each."""
    if n < 0:
        return ["meno", *_it_cardinal(-n)]
    if n < 100:
        return [_it_under_100(n)]
    if n < 1000:
        h, r = divmod(n, 100)
        head = "cento" if h == 1 else _IT_ONES[h] + "cento"
        return [head] + ([_it_under_100(r)] if r else [])
    for size, one, many in ((10 ** 9, "un miliardo", "miliardi"),
                            (10 ** 6, "un milione", "milioni"), (1000, "mille", "mila")):
        if n >= size:
            q, r = divmod(n, size)
            lead = [one] if q == 1 else [*_it_cardinal(q), many]
            return lead + (_it_cardinal(r) if r else [])
    raise AssertionError(n)  # pragma: no cover


def _it_fuse(parts: list[str]) -> str:
    """Write Italian number pieces as the language writes them.

    Below a million everything is one word (duemilatrecentoquarantacinque);
    "milione"/"miliardo" stand apart; a final "tre" in a compound takes the
    accent (ventitré); "cento" drops its o before "ottanta" (centottanta).
    """
    words: list[str] = []
    cur = ""
    for p in parts:
        if p in ("meno", "un milione", "milioni", "un miliardo", "miliardi"):
            if cur:
                words.append(cur)
            words.append(p)
            cur = ""
            continue
        if cur.endswith("cento") and p.startswith("ott"):
            cur = cur[:-1]
        cur += p
    if cur:
        words.append(cur)
    out = []
    for w in words:
        if w.endswith("tre") and w != "tre":
            w = w[:-3] + "tré"
        out.append(w)
    return " ".join(out)


def _cardinal(n: int, lang: str, split: bool) -> list[str]:
    if lang == "en":
        toks = _en_cardinal(n)
        return toks if split else [" ".join(toks)]
    toks = _it_cardinal(n)
    return toks if split else [_it_fuse(toks)]


# -- ordinals --------------------------------------------------------------

def _en_ordinal_word(word: str) -> str:
    if word in _EN_ORD_IRREGULAR:
        return _EN_ORD_IRREGULAR[word]
    if word.endswith("y"):
        return word[:-1] + "ieth"
    return word + "th"


def _ordinal(n: int, lang: str, split: bool) -> list[str]:
    if n < 1:
        raise ValueError(f"ordinals start at 1, not {n}")
    if lang == "en":
        toks = _en_cardinal(n)
        toks = [*toks[:-1], _en_ordinal_word(toks[-1])]
        return toks if split else [" ".join(toks)]
    if n <= 10:
        return [_IT_ORD[n]]
    word = _it_fuse(_it_cardinal(n)).replace(" ", "")
    if word.endswith("tré"):
        word = word[:-1] + "e"  # ventitreesimo
    elif not word.endswith("sei"):
        word = word[:-1]  # undici -> undic-esimo
    return [word + "esimo"]


# -- decimals --------------------------------------------------------------

def _to_decimal(value: object) -> Decimal:
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, float):
        value = repr(value)  # shortest repr: 42.05, not 42.0499999...
    text = str(value).strip()
    if "," in text:
        # Commas only as thousands separators ("1,234.50"); "42,05" is ambiguous.
        if not re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", text):
            raise ValueError(f"not a number: {value!r} (commas may only group thousands)")
        text = text.replace(",", "")
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None
    if not d.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return d


def _number(value: object, lang: str, split: bool) -> _Seq:
    d = _to_decimal(value)
    sign: _Seq = []
    if d < 0:
        sign, d = ["minus" if lang == "en" else "meno"], -d
    whole = int(d)
    text = format(d, "f")
    frac = text.split(".")[1].rstrip("0") if "." in text else ""
    out: _Seq = [*sign, *_cardinal(whole, lang, split)]
    if frac:
        if lang == "en":
            out.append("point")
            out.extend(_EN_ONES[int(c)] for c in frac)
        else:
            out.append("virgola")
            zeros = len(frac) - len(frac.lstrip("0"))
            out.extend(["zero"] * zeros)
            out.extend(_cardinal(int(frac[zeros:]), lang, split))
    return out


# -- money -----------------------------------------------------------------

def parse_money(text: str, language: str = "en-US") -> tuple[Decimal, str | None]:
    """Read an amount as people and systems write it.

    Accepts ``42.05``, ``$42.05``, ``42.05 USD``, ``USD 42.05``, ``€3``,
    ``1,234.50``, ``42 dollars and 5 cents``, ``42 euro e 5 centesimi``.

    Returns:
        (amount, ISO currency code or None when the text names none).

    Raises:
        ValueError: if the text is not an amount.
    """
    s = " ".join(str(text).split())
    num = r"(?P<num>-?\d[\d,]*(?:\.\d+)?|-?\.\d+)"
    m = re.fullmatch(rf"(?P<neg>-)?\s*(?P<sym>[$€£])\s*{num}", s)
    if m:
        amount = _to_decimal(m["num"])
        return (-amount if m["neg"] else amount), _SYMBOLS[m["sym"]]
    m = re.fullmatch(rf"{num}\s*(?P<cur>[A-Za-z]{{3}}|[$€£])", s) or \
        re.fullmatch(rf"(?P<cur>[A-Za-z]{{3}})\s*{num}", s)
    if m:
        cur = _SYMBOLS.get(m["cur"], m["cur"].upper())
        if cur not in _CURRENCIES:
            raise ValueError(f"unknown currency {m['cur']!r} in {text!r}; "
                             f"known: {', '.join(sorted(_CURRENCIES))}")
        return _to_decimal(m["num"]), cur
    m = re.fullmatch(rf"(?P<major>-?\d[\d,]*)\s+(?P<unit>[A-Za-z]+)"
                     rf"(?:,?\s+(?:(?:and|e)\s+)?(?P<minor>\d{{1,2}})\s+{_MINOR_WORDS})?", s,
                     flags=re.IGNORECASE)
    if m and m["unit"].lower() in _UNIT_WORDS:
        amount = _to_decimal(m["major"])
        cents = Decimal(int(m["minor"] or 0)) / 100
        return (amount - cents if amount < 0 else amount + cents), _UNIT_WORDS[m["unit"].lower()]
    m = re.fullmatch(rf"(?P<minor>\d{{1,2}})\s+{_MINOR_WORDS}", s, flags=re.IGNORECASE)
    if m:
        return Decimal(int(m["minor"])) / 100, None
    if re.fullmatch(r"-?\d{1,3}(?:\.\d{3})*,\d{1,2}", s) and base_language(language) == "it":
        return _to_decimal(s.replace(".", "").replace(",", ".")), None  # 1.234,50
    return _to_decimal(s), None


def _money(value: object, lang: str, split: bool, currency: str | None, language: str) -> _Seq:
    if isinstance(value, str):
        amount, parsed = parse_money(value, language)
        currency = currency or parsed
    else:
        amount = _to_decimal(value)
    currency = (currency or default_currency(language)).upper()
    if currency not in _CURRENCIES:
        raise ValueError(f"unknown currency {currency!r}; known: {', '.join(sorted(_CURRENCIES))}")
    one, many, minor_one, minor_many, feminine = _CURRENCIES[currency][lang]
    out: _Seq = []
    if amount < 0:
        out.append("minus" if lang == "en" else "meno")
        amount = -amount
    amount = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    major, minor = int(amount), int((amount - int(amount)) * 100)

    def count(n: int, sing: str, plur: str, fem: bool) -> _Seq:
        if n == 1:
            if lang == "it":
                return ["una" if fem else "un", sing]
            return ["one", sing]
        return [*_cardinal(n, lang, split), plur]

    if major or not minor:
        out.extend(count(major, one, many, feminine))
    if minor:
        if major:
            out.append("and" if lang == "en" else "e")
        out.extend(count(minor, minor_one, minor_many, False))
    return out


# -- dates and times ---------------------------------------------------------

def _as_date(value: object) -> _dt.date:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    try:
        return _dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValueError(f"not a date (use YYYY-MM-DD): {value!r}") from None


def _as_time(value: object) -> _dt.time:
    if isinstance(value, _dt.datetime):
        return value.time()
    if isinstance(value, _dt.time):
        return value
    m = re.fullmatch(r"\s*(\d{1,2})[:.h](\d{2})(?::\d{2})?\s*([AaPp]\.?[Mm]\.?)?\s*", str(value))
    if not m:
        raise ValueError(f"not a time (use HH:MM): {value!r}")
    h, mi = int(m[1]), int(m[2])
    if m[3]:
        if not 1 <= h <= 12:
            raise ValueError(f"not a 12-hour time: {value!r}")
        h = h % 12 + (12 if m[3][0] in "Pp" else 0)
    return _dt.time(h, mi)


def _en_year(y: int, split: bool) -> list[str]:
    if 2000 <= y <= 2009 or y < 1100 or y >= 10000 or (y % 1000 < 10 and y % 100 == y % 1000):
        return _cardinal(y, "en", split)
    hi, lo = divmod(y, 100)
    if lo == 0:
        toks = [*_en_cardinal(hi), "hundred"]
    elif lo < 10:
        toks = [*_en_cardinal(hi), "oh", _EN_ONES[lo]]
    else:
        toks = [*_en_cardinal(hi), *_en_cardinal(lo)]
    return toks if split else [" ".join(toks)]


def _date(value: object, lang: str, split: bool, weekday: bool, year: bool) -> _Seq:
    d = _as_date(value)
    out: _Seq = []
    if lang == "en":
        if weekday:
            out += [_EN_WEEKDAYS[d.weekday()], _P(",")]
        out += [_EN_MONTHS[d.month - 1], *_ordinal(d.day, "en", split)]
        if year:
            out += [_P(","), *_en_year(d.year, split)]
    else:
        if weekday:
            out.append(_IT_WEEKDAYS[d.weekday()])
        day = ["primo"] if d.day == 1 else _cardinal(d.day, "it", split)
        out += [*day, _IT_MONTHS[d.month - 1]]
        if year:
            out += _cardinal(d.year, "it", split)
    return out


def _time(value: object, lang: str, split: bool, clock: int | None) -> _Seq:
    t = _as_time(value)
    h, m = t.hour, t.minute
    if lang == "it":
        if m == 0 and h in (0, 12):
            return ["mezzanotte" if h == 0 else "mezzogiorno"]
        hour: _Seq = ["l'una"] if h == 1 else ["le", *_cardinal(h, "it", split)]
        return hour + (["e", *_cardinal(m, "it", split)] if m else [])
    if clock == 24:
        hour = list(_cardinal(h, "en", split))
        if m == 0:
            return [*hour, "hundred"]
        return [*hour, *(["oh", _EN_ONES[m]] if m < 10 else _cardinal(m, "en", split))]
    if m == 0 and h in (0, 12):
        return ["twelve", "midnight" if h == 0 else "noon"]
    h12 = h % 12 or 12
    out: _Seq = list(_cardinal(h12, "en", split))
    if m:
        out += ["oh", _EN_ONES[m]] if m < 10 else _cardinal(m, "en", split)
    out.append("A M" if h < 12 else "P M")
    return out


# -- digits and queue --------------------------------------------------------

_DIGIT_SYMBOLS = {"en": {"+": "plus", "*": "star", "#": "pound"},
                  "it": {"+": "più", "*": "asterisco", "#": "cancelletto"}}
_DIGIT_BREAKS = set(" -./()")


def _digits(value: object, lang: str) -> _Seq:
    s = str(value).strip()
    ones = _EN_ONES if lang == "en" else _IT_ONES
    out: _Seq = []
    for ch in s:
        if ch.isdigit() and ch.isascii():
            out.append(ones[int(ch)])
        elif ch in _DIGIT_SYMBOLS[lang]:
            out.append(_DIGIT_SYMBOLS[lang][ch])
        elif ch.isascii() and ch.isalpha():
            out.append(ch.upper())
        elif ch in _DIGIT_BREAKS:
            if out and not isinstance(out[-1], _P):
                out.append(_P(","))
        else:
            raise ValueError(f"cannot read {ch!r} in {s!r} digit by digit")
    while out and isinstance(out[-1], _P):
        out.pop()
    if not out:
        raise ValueError(f"no digits in {value!r}")
    return out


def _queue(value: object, lang: str, split: bool, wait_minutes: float | None) -> _Seq:
    pos = _check_int(value)
    if pos < 1:
        raise ValueError(f"queue positions start at 1, not {pos}")
    out: _Seq
    if lang == "en":
        out = ["You are next in line."] if pos == 1 else \
            ["You are number", *_cardinal(pos, "en", split), "in line."]
    else:
        out = ["Lei è il prossimo in linea."] if pos == 1 else \
            ["Lei è il numero", *_cardinal(pos, "it", split), "in coda."]
    if wait_minutes is not None:
        mins = int(Decimal(str(wait_minutes)).to_integral_value(ROUND_HALF_UP))
        if lang == "en":
            if mins < 1:
                out.append("The expected wait is less than a minute.")
            elif mins == 1:
                out.append("The expected wait is about one minute.")
            else:
                out += ["The expected wait is about", *_cardinal(mins, "en", split), "minutes."]
        else:
            if mins < 1:
                out.append("L'attesa prevista è inferiore a un minuto.")
            elif mins == 1:
                out.append("L'attesa prevista è di circa un minuto.")
            else:
                out += ["L'attesa prevista è di circa", *_cardinal(mins, "it", split), "minuti."]
    return out


# -- public API --------------------------------------------------------------

def _sequence(kind: str, value: object, language: str, split: bool, **opts: object) -> _Seq:
    lang = base_language(language)
    if kind == "integer":
        return list(_cardinal(_check_int(value), lang, split))
    if kind == "ordinal":
        return list(_ordinal(_check_int(value), lang, split))
    if kind == "number":
        return _number(value, lang, split)
    if kind == "money":
        cur = opts.get("currency")
        return _money(value, lang, split, str(cur) if cur else None, language)
    if kind == "date":
        return _date(value, lang, split, bool(opts.get("weekday", True)), bool(opts.get("year", False)))
    if kind == "time":
        clock = opts.get("clock")
        return _time(value, lang, split, int(clock) if clock else None)  # type: ignore[call-overload]
    if kind == "digits":
        return _digits(value, lang)
    if kind == "queue":
        wait = opts.get("wait_minutes")
        return _queue(value, lang, split, float(wait) if wait is not None else None)  # type: ignore[arg-type]
    raise ValueError(f"unknown say-as kind {kind!r}; use one of: {', '.join(KINDS)}")


def say(kind: str, value: object, language: str = "en-US", **opts: object) -> str:
    """Words for ``value`` read as ``kind``, as one string for TTS or ``<Say>``.

    Args:
        kind: one of :data:`KINDS`.
        value: the value (int, Decimal, float, str, date, time...).
        language: BCP 47 tag; English and Italian are supported.
        **opts: ``currency`` (money), ``weekday``/``year`` (date),
            ``clock`` 12 or 24 (time, English), ``wait_minutes`` (queue).

    Raises:
        ValueError: if the value cannot be read as that kind.
        PromptError: if the language has no say-as rules.
    """
    text = ""
    for item in _sequence(kind, value, language, split=False, **opts):
        if isinstance(item, _P):
            text += item.mark
        else:
            text += (" " if text else "") + item
    return text


def pieces(kind: str, value: object, language: str = "en-US", **opts: object) -> list[str]:
    """The same words as :func:`say`, split into pre-renderable pieces."""
    return [x for x in _sequence(kind, value, language, split=True, **opts)
            if not isinstance(x, _P)]


def say_integer(n: int, language: str = "en-US") -> str:
    """``42`` -> "forty two" / "quarantadue"."""
    return say("integer", n, language)


def say_ordinal(n: int, language: str = "en-US") -> str:
    """``3`` -> "third" / "terzo"."""
    return say("ordinal", n, language)


def say_number(value: object, language: str = "en-US") -> str:
    """``3.5`` -> "three point five" / "tre virgola cinque"."""
    return say("number", value, language)


def say_money(amount: object, currency: str | None = None, language: str = "en-US") -> str:
    """``42.05`` or ``"42.05 USD"`` -> "forty two dollars and five cents"."""
    return say("money", amount, language, currency=currency)


def say_date(value: object, language: str = "en-US", weekday: bool = True,
             year: bool = False) -> str:
    """``2026-03-03`` -> "Tuesday, March third" / "martedì tre marzo"."""
    return say("date", value, language, weekday=weekday, year=year)


def say_time(value: object, language: str = "en-US", clock: int | None = None) -> str:
    """``"14:30"`` -> "two thirty P M" / "le quattordici e trenta"."""
    return say("time", value, language, clock=clock)


def say_digits(value: object, language: str = "en-US") -> str:
    """``"1234"`` -> "one two three four": codes are read digit by digit.

    Separators (space, dash, dot, slash, brackets) become short pauses:
    ``"555-0100"`` -> "five five five, zero one zero zero".
    """
    return say("digits", value, language)


def spaced_digits(value: object) -> str:
    """``"1234"`` -> ``"1 2 3 4"``: for engines that read spaced digits singly."""
    return " ".join(c for c in str(value) if not c.isspace())


def say_queue_position(position: int, language: str = "en-US",
                       wait_minutes: float | None = None) -> str:
    """``3`` -> "You are number three in line." plus the expected wait if given."""
    return say("queue", position, language, wait_minutes=wait_minutes)
