"""Survey answers: from keys or words to a score (or a yes/no), and what a recogniser listens for.

Why a module of its own: the engine, the ``recognize`` command and the
speech bench must read "a nine", "nine out of ten", "9" and "nove su dieci"
the same way, from the number words of the flow's language catalogue
(:mod:`ivr.engine.texts`), with English always understood too (as for yes/no
and the agent words). Pure: no IO.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence, Union

from ..flow.model import Question
from ..flow.phrases import NO_WORDS, YES_WORDS, agent_words, lang_prefix, normalize
from . import texts as _texts
from .matching import wants_agent, yes_no

Answer = Union[int, bool, None]
"""A survey answer: a score (csat 1-5, ces 1-7, nps 0-10), a yes/no (True/False) or None (not answered)."""

_CJK = re.compile(r"[\u4e00-\u9fff]")
_SLASH = re.compile(r"(\d+)\s*/\s*\d+")


def _words(language: str) -> dict[str, int]:
    """Number words of the language, then English (a caller may answer in either)."""
    own = _texts.catalogue(language).score_words
    return {**_texts.CATALOGUES[_texts.REFERENCE].score_words, **own}


def _scales(language: str) -> tuple[str, ...]:
    cats = [_texts.catalogue(language), _texts.CATALOGUES[_texts.REFERENCE]]
    return tuple(dict.fromkeys(w for c in cats for w in c.scale_words))


def score_of(text: str, language: str = "en-US") -> Optional[int]:
    """The one number said in ``text`` ("a nine", "nine out of ten", "9", "九分", "nove su dieci"), else None.

    The top of a scale ("out of ten") is not the answer; two different numbers ("four or five") are
    no answer at all (the caller is asked again rather than given a guess).
    """
    words = _words(language)
    number = "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True)) + r"|\d+"
    t = normalize(_SLASH.sub(r"\1", text))
    for scale in _scales(language):
        pattern = re.escape(normalize(scale.replace("{max}", "MAXN"))).replace("maxn", f"(?:{number})")
        t = re.sub(pattern if _CJK.search(scale) else rf"(?<!\S){pattern}(?!\S)", " ", t)
    if _CJK.search(t):
        tokens = re.findall(number, t)
    else:
        tokens = [w for w in t.split() if w.isdigit() or w in words]
    values = {int(w) if w.isdigit() else words[w] for w in tokens}
    return values.pop() if len(values) == 1 else None


def keys_answer(question: Question, keys: str) -> tuple[str, Answer]:
    """``(outcome, value)`` for keys pressed at a question: ``match``, ``agent`` (key 0 but in nps) or ``no_match``.

    In an nps question 0 is a score, so there the keypad cannot reach a person (the agent words still do).
    """
    keys = keys.split("#", 1)[0]
    if keys == "0" and question.kind != "nps":
        return "agent", None
    if question.kind == "yesno":
        answer = {"1": True, "2": False}.get(keys)
        return ("match", answer) if answer is not None else ("no_match", None)
    if keys.isdigit() and len(keys) <= 2 and question.low <= int(keys) <= question.high:
        return "match", int(keys)
    return "no_match", None


def speech_answer(question: Question, text: str, language: str,
                  extra_agent: Sequence[str] = ()) -> tuple[str, Answer]:
    """``(outcome, value)`` for words said at a question: ``match``, ``agent`` or ``no_match``."""
    if wants_agent(text, language, extra_agent):
        return "agent", None
    if question.kind == "yesno":
        answer = yes_no(text, language)
        return ("match", answer == "yes") if answer else ("no_match", None)
    value = score_of(text, language)
    if value is not None and question.low <= value <= question.high:
        return "match", value
    return "no_match", None


def grammar(question: Question, language: str, extra_agent: Sequence[str] = ()) -> tuple[str, ...]:
    """What a recogniser listens for at a question: its scores as the language says them, or yes/no; agent words."""
    lp = lang_prefix(language)
    if question.kind == "yesno":
        said = [*YES_WORDS.get(lp, ()), *NO_WORDS.get(lp, ()), "yes", "no"]
    else:
        cat = _texts.catalogue(language)
        words = cat.score_words or _texts.CATALOGUES[_texts.REFERENCE].score_words
        first: dict[int, str] = {}
        for word, value in words.items():
            first.setdefault(value, word)
        top = first[question.high]
        said = [frame.replace("{n}", first[v]).replace("{max}", top) for v in range(question.low, question.high + 1)
                for frame in cat.score_frames]
    phrases = [normalize(p) for p in said] + list(agent_words(language, extra_agent))
    return tuple(dict.fromkeys(p for p in phrases if p))


def keys_of(question: Question) -> tuple[str, ...]:
    """Keys that answer a one-key question at once (csat, ces, yesno) plus the agent key; none for nps."""
    if question.kind == "nps":
        return ()
    if question.kind == "yesno":
        return ("1", "2", "0")
    return tuple(str(v) for v in range(question.low, question.high + 1)) + ("0",)


def range_text_key(question: Question) -> str:
    """The catalogue phrase that says how to answer a question (after an answer out of range)."""
    return "survey_yesno" if question.kind == "yesno" else f"survey_range_{question.kind}"

