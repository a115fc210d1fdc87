"""Dynamic prompts assembled at call time from pre-rendered pieces.

"Your balance is {balance:money}." cannot be rendered ahead of time for every
balance, and must not be rendered on the request path. It is split into
static text ("Your balance is") and spoken values ("forty two", "dollars",
"and", "five", "cents"), each a short prompt rendered once at build time
(:func:`static_specs` for a template's static text, :func:`pieces_for_build`
for the vocabulary of values). At call time the pieces are looked up and
played back to back; when one is missing, the whole sentence goes to the
:class:`~ivr.prompts.background.BackgroundRenderer` and the caller hears
``<Say>`` this once.

Template fields are ``{name}`` or ``{name:kind}`` or ``{name:kind:arg}``,
with kind one of :data:`ivr.prompts.sayas.KINDS` (``money:EUR``,
``time:24``, ``date:year``). Without a kind it is inferred from the value's
type: int -> integer, float/Decimal -> number, date, time, a string of
digits -> digits, "$42.05"/"42.05 USD" -> money, other text -> spoken whole.
"""

from __future__ import annotations

import datetime as _dt
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from ivr.prompts import sayas
from ivr.prompts.background import BackgroundRenderer
from ivr.prompts.cache import PromptAudio, PromptCache
from ivr.prompts.spec import DEFAULT_LANGUAGE, PromptSpec, normalize_language, normalize_text

__all__ = ["AssembledPrompt", "BackgroundRenderer", "TemplatePart", "assemble", "infer_kind",
           "parse_template", "pieces_for_build", "resolve_audio", "static_specs"]

_HAS_WORD = re.compile(r"\w")


@dataclass(frozen=True)
class TemplatePart:
    """A piece of a template: static text, or a field to fill with a value."""

    text: str | None = None
    field: str | None = None
    kind: str | None = None
    arg: str | None = None


@dataclass(frozen=True)
class AssembledPrompt:
    """A dynamic prompt, both as a whole sentence and as playable pieces.

    Attributes:
        text: the sentence in words, for ``<Say>``, logs, transcripts and
            ``prompt_contains`` checks.
        specs: the pieces in play order, each a short pre-renderable prompt.
        language, voice, rate: as for every piece.
    """

    text: str
    specs: tuple[PromptSpec, ...]
    language: str = DEFAULT_LANGUAGE
    voice: str | None = None
    rate: int | None = None

    @property
    def whole(self) -> PromptSpec:
        """The whole sentence as one prompt (for background rendering)."""
        return PromptSpec(self.text, self.language, self.voice, self.rate)


def parse_template(template: str) -> list[TemplatePart]:
    """Split a template into static text and fields.

    Raises:
        ValueError: for a malformed template or an unknown kind.
    """
    parts: list[TemplatePart] = []
    for literal, field, spec, conversion in string.Formatter().parse(template):
        if literal:
            parts.append(TemplatePart(text=literal))
        if field is None:
            continue
        if not field or conversion:
            raise ValueError(f"template {template!r}: fields must be named, like {{balance:money}}")
        kind, _, arg = (spec or "").partition(":")
        if kind and kind not in sayas.KINDS and kind != "text":
            raise ValueError(f"template {template!r}: unknown kind {kind!r} for {field!r}; "
                             f"use one of: {', '.join((*sayas.KINDS, 'text'))}")
        parts.append(TemplatePart(field=field, kind=kind or None, arg=arg or None))
    return parts


def infer_kind(value: object) -> str:
    """The say-as kind for a value whose template field names none."""
    if isinstance(value, bool):
        return "text"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, Decimal)):
        return "number"
    if isinstance(value, (_dt.date, _dt.datetime)):
        return "date"
    if isinstance(value, _dt.time):
        return "time"
    s = str(value).strip()
    if re.fullmatch(r"[0-9][0-9 \-+*#]*", s):
        return "digits"
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+\.\d+", s):
        return "number"  # "1,204.50" as a hook returns it
    try:
        if sayas.parse_money(s)[1] is not None:
            return "money"
    except ValueError:
        pass
    return "text"


def _opts(kind: str, arg: str | None) -> dict[str, object]:
    if not arg:
        return {}
    if kind == "money":
        return {"currency": arg.upper()}
    if kind == "time":
        return {"clock": int(arg)}
    if kind == "date":
        return {"year": arg == "year", "weekday": arg != "noweekday"}
    if kind == "queue":
        return {"wait_minutes": float(arg)}
    return {}


def _static(text: str, language: str, voice: str | None, rate: int | None) -> PromptSpec | None:
    text = normalize_text(text)
    if not _HAS_WORD.search(text):
        return None  # punctuation alone has no sound; the gap between pieces is the pause
    return PromptSpec(text, language, voice, rate)


def assemble(template: str, values: Mapping[str, object], language: str = DEFAULT_LANGUAGE,
             voice: str | None = None, rate: int | None = None) -> AssembledPrompt:
    """Fill a template with values, as words and as pieces.

    Raises:
        KeyError: if a field has no value.
        ValueError: if a value cannot be read as its kind.
    """
    words: list[str] = []
    specs: list[PromptSpec] = []
    for part in parse_template(template):
        if part.text is not None:
            words.append(part.text)
            spec = _static(part.text, language, voice, rate)
            if spec is not None:
                specs.append(spec)
            continue
        assert part.field is not None
        if part.field not in values:
            raise KeyError(f"template {template!r} needs a value for {part.field!r}")
        value = values[part.field]
        kind = part.kind or infer_kind(value)
        if kind == "text":
            text = normalize_text(str(value))
            words.append(text)
            spec = _static(text, language, voice, rate)
            if spec is not None:
                specs.append(spec)
            continue
        opts = _opts(kind, part.arg)
        words.append(sayas.say(kind, value, language, **opts))
        specs.extend(PromptSpec(p, language, voice, rate)
                     for p in sayas.pieces(kind, value, language, **opts))
    return AssembledPrompt(normalize_text("".join(words)), tuple(specs),
                           normalize_language(language), voice, rate)


def static_specs(template: str, language: str = DEFAULT_LANGUAGE, voice: str | None = None,
                 rate: int | None = None) -> list[PromptSpec]:
    """The static pieces of a template, to pre-render at build time."""
    out = []
    for part in parse_template(template):
        if part.text is not None:
            spec = _static(part.text, language, voice, rate)
            if spec is not None:
                out.append(spec)
    return out


def _vocabulary(language: str) -> list[str]:
    """Every piece :func:`ivr.prompts.sayas.pieces` can produce for common values.

    Built by asking the say-as rules themselves, so the vocabulary and the
    pieces can never drift apart.
    """
    lang = sayas.base_language(language)
    words: list[str] = []

    def add(kind: str, value: object, **opts: object) -> None:
        words.extend(sayas.pieces(kind, value, language, **opts))

    for n in [*range(0, 100), *range(100, 1000, 100), 1000, 2000, 10 ** 6, 2 * 10 ** 6,
              10 ** 9, 2 * 10 ** 9, -1]:
        add("integer", n)
    for n in [*range(1, 100), 100, 1000, 10 ** 6]:
        add("ordinal", n)
    add("number", "0.5")
    for cur in ("USD", "EUR", "GBP"):
        for amount in ("1.01", "2.02", "-1"):
            add("money", amount, currency=cur)
    for day in range(1, 8):
        add("date", _dt.date(2024, 1, day))
    for month in range(1, 13):
        add("date", _dt.date(2024, month, 1), year=True)
    for h in range(24):
        for m in (0, 1, 5, 15, 30):
            add("time", _dt.time(h, m))
            if lang == "en":
                add("time", _dt.time(h, m), clock=24)
    add("digits", "0123456789+*#")
    add("digits", string.ascii_uppercase)
    for pos in (1, 2):
        for wait in (0, 1, 2):
            add("queue", pos, wait_minutes=wait)
    seen: set[str] = set()
    return [w for w in words if not (w in seen or seen.add(w))]  # type: ignore[func-returns-value]


def pieces_for_build(languages: Iterable[str] = (DEFAULT_LANGUAGE,), voice: str | None = None,
                     rate: int | None = None) -> list[PromptSpec]:
    """The vocabulary to pre-render so values can be spoken from pieces.

    Numbers 0-99 (Italian needs them whole: "quarantadue"), hundreds,
    thousand, million, billion, ordinals, "point", "and", currency words,
    weekdays, months, times of day, digits and keypad symbols, letters, and
    the queue announcements, per language.
    """
    return [PromptSpec(w, lang, voice, rate) for lang in languages for w in _vocabulary(lang)]


def resolve_audio(prompt: AssembledPrompt, cache: PromptCache,
                  background: BackgroundRenderer | None = None) -> list[PromptAudio] | None:
    """The audio to play for a dynamic prompt, without rendering anything.

    Prefers the whole sentence if it was rendered (better intonation), then
    the pieces if every one is cached. Otherwise queues the whole sentence for
    background rendering (when ``background`` is given) and returns None: the
    transport then speaks ``prompt.text`` with ``<Say>`` and logs it.
    """
    whole = cache.lookup(prompt.whole)
    if whole is not None:
        return [whole]
    found = [cache.lookup(s) for s in prompt.specs]
    if found and all(a is not None for a in found):
        return [a for a in found if a is not None]
    if background is not None:
        background.request(prompt.whole)
    return None
