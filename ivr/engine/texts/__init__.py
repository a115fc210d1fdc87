"""Every system phrase, one catalogue per language: ``en.py``, ``it.py``, ``zh.py``...

Why one place: the engine's apologies and every queue, callback and voicemail
dialogue line are spoken to the same caller, so they must be in the flow's
language together, rendered ahead of time together (:mod:`ivr.prompts.catalog`
lists them) and checked together. Adding a language is one module here with
``LANGUAGE`` (the prefix, as :func:`ivr.flow.phrases.lang_prefix` gives it),
``TEXTS`` (the same keys and placeholders as English), ``CALLBACK_WORDS`` and
``VOICEMAIL_WORDS``, and for survey answers ``SCORE_WORDS`` (word -> 0..10),
``SCALE_WORDS`` (how the top of a scale is said, ``"out of {max}"``) and
``SCORE_FRAMES`` (how a score is said, for grammars); modules are found by listing this package, so nothing
else changes. :func:`problems` says what a catalogue lacks (a test runs it).

A language without a catalogue is spoken in English; a key missing from one
falls back to English, so a call never fails over a phrase.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Mapping

from ...flow import templates
from ...flow.phrases import lang_prefix

__all__ = ["CLOCK_FIELDS", "PIECES", "Catalogue", "catalogue", "fill", "is_piece", "languages", "placeholders",
           "problems", "text"]

REFERENCE = "en"
"""The catalogue every other one is checked against."""

CLOCK_FIELDS = frozenset({"hour", "hour12", "minute", "ampm"})
"""Values offered to the ``clock_*`` phrases; each language uses the ones its way of telling time needs."""


@dataclass(frozen=True)
class Catalogue:
    """One language's system phrases.

    Attributes:
        language: the language prefix (``en``, ``it``).
        texts: phrase key -> text (a template when it has ``{fields}``).
        callback_words, voicemail_words: what a waiting caller says to leave the queue.
        score_words: number words -> value (0 to 10) for survey answers; the first word of a value is the
            one a grammar listens for.
        scale_words: how the top of a scale is said, with ``{max}`` ("out of {max}"): not the answer.
        score_frames: how a caller says a score, ``{n}`` and ``{max}`` ("{n} out of {max}"), for grammars.
    """

    language: str
    texts: Mapping[str, str]
    callback_words: tuple[str, ...]
    voicemail_words: tuple[str, ...]
    score_words: Mapping[str, int] = field(default_factory=dict)
    scale_words: tuple[str, ...] = ()
    score_frames: tuple[str, ...] = ("{n}",)


def _discover() -> dict[str, Catalogue]:
    out: dict[str, Catalogue] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        lang = getattr(mod, "LANGUAGE", info.name)
        out[lang] = Catalogue(lang, dict(mod.TEXTS), tuple(getattr(mod, "CALLBACK_WORDS", ())),
                              tuple(getattr(mod, "VOICEMAIL_WORDS", ())), dict(getattr(mod, "SCORE_WORDS", {})),
                              tuple(getattr(mod, "SCALE_WORDS", ())), tuple(getattr(mod, "SCORE_FRAMES", ("{n}",))))
    return out


CATALOGUES: dict[str, Catalogue] = _discover()


PIECES = ("opening", "clock_", "today", "tomorrow", "on_weekday", "weekday_", "when_", "window_")
"""Key prefixes of phrases that are only ever spoken inside another one (a day, a time, a callback window)."""


def is_piece(key: str) -> bool:
    """Whether ``key`` is a piece of other phrases (never spoken alone)."""
    return key.startswith(PIECES)


def languages() -> tuple[str, ...]:
    """The shipped languages (prefixes), English first."""
    return (REFERENCE, *sorted(k for k in CATALOGUES if k != REFERENCE))


def catalogue(language: str) -> Catalogue:
    """The catalogue for a flow language (``it-IT`` -> ``it``); English when there is none."""
    return CATALOGUES.get(lang_prefix(language or REFERENCE), CATALOGUES[REFERENCE])


def text(language: str, key: str) -> str:
    """A system phrase as written (a template when it has fields), in the language or else English.

    Raises:
        KeyError: for a key English does not have either (a typo in the code, not a missing translation).
    """
    return catalogue(language).texts.get(key) or CATALOGUES[REFERENCE].texts[key]


def fill(language: str, key: str, **values: Any) -> str:
    """A system phrase with its fields filled (``{number:digits}`` takes ``values["number"]`` as given)."""
    return templates.render(text(language, key), values)


def placeholders(words: str) -> frozenset[str]:
    """The fields of a phrase with their say-as kinds (``number:digits``), as a set."""
    return frozenset(m.group(0)[1:-1] for m in templates.FIELD.finditer(words))


def problems() -> list[str]:
    """What each shipped catalogue lacks against English: missing keys, different placeholders, no words."""
    ref = CATALOGUES[REFERENCE]
    out: list[str] = []
    for lang, cat in sorted(CATALOGUES.items()):
        if lang == REFERENCE:
            continue
        for key, words in ref.texts.items():
            if key not in cat.texts:
                out.append(f"{lang}: no text for {key!r} (English: {words!r})")
                continue
            mine, theirs = placeholders(cat.texts[key]), placeholders(words)
            if key.startswith("clock_"):
                if not mine <= CLOCK_FIELDS:
                    out.append(f"{lang}: {key!r} may use only {sorted(CLOCK_FIELDS)}, not {sorted(mine)}")
            elif mine != theirs:
                out.append(f"{lang}: {key!r} has fields {sorted(mine)}, English has {sorted(theirs)}")
        for key in cat.texts.keys() - ref.texts.keys():
            out.append(f"{lang}: {key!r} is not an English key (a typo, or add it to en.py)")
        if not cat.callback_words or not cat.voicemail_words:
            out.append(f"{lang}: CALLBACK_WORDS and VOICEMAIL_WORDS must both be given")
    for lang, cat in sorted(CATALOGUES.items()):
        missing = sorted(set(range(11)) - set(cat.score_words.values()))
        if missing:
            out.append(f"{lang}: SCORE_WORDS has no word for {missing} (survey answers are 0 to 10)")
        if any("{max}" not in w for w in cat.scale_words) or any("{n}" not in f for f in cat.score_frames):
            out.append(f"{lang}: every SCALE_WORDS entry needs {{max}} and every SCORE_FRAMES entry {{n}}")
    return out
