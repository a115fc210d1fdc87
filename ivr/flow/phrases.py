"""Text normalisation and the words that ask for a person, per language.

Shared by validation (duplicate phrases), lint (phrases that shadow agent
words) and the engine's phrase matcher, so all three agree on what "the same
phrase" means.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

AGENT_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("agent", "representative", "operator", "a person", "person", "human", "a human",
           "real person", "someone", "somebody", "customer service", "customer care", "live agent",
           "speak to someone", "talk to someone", "rep"),
    "it": ("operatore", "un operatore", "operatrice", "una persona", "persona", "assistenza",
           "parlare con qualcuno", "un agente", "agente"),
    "es": ("agente", "representante", "operador", "una persona", "persona", "asesor"),
    "fr": ("agent", "conseiller", "opérateur", "une personne", "un humain"),
    "de": ("mitarbeiter", "berater", "agent", "einen menschen", "mensch", "vermittlung"),
    "zh": ("人工", "客服", "转人工", "人工服务", "真人"),
    "ko": ("상담원", "상담사", "사람"),
}
"""Phrases that escalate to a person from any menu or ask, by language prefix."""

NUMBER_WORDS: dict[str, dict[str, str]] = {
    "en": {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five",
           "6": "six", "7": "seven", "8": "eight", "9": "nine", "*": "star"},
    "it": {"0": "zero", "1": "uno", "2": "due", "3": "tre", "4": "quattro", "5": "cinque",
           "6": "sei", "7": "sette", "8": "otto", "9": "nove", "*": "asterisco"},
    "zh": {"0": "零", "1": "一", "2": "二", "3": "三", "4": "四", "5": "五", "6": "六",
           "7": "七", "8": "八", "9": "九", "*": "星"},
}
"""Keys spoken as words, so "press or say one" works by voice."""

YES_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("yes", "yeah", "yep", "correct", "right", "that's right", "sure", "ok", "okay", "yes please"),
    "it": ("sì", "si", "certo", "esatto", "va bene"),
    "zh": ("是", "是的", "对", "好"),
}
NO_WORDS: dict[str, tuple[str, ...]] = {
    "en": ("no", "nope", "wrong", "incorrect", "no thanks", "not right"),
    "it": ("no", "sbagliato"),
    "zh": ("不", "不是", "不对"),
}

_SPACE = re.compile(r"\s+")
_PUNCT = re.compile(r"[^\w\s']")


def lang_prefix(language: str) -> str:
    """``en-US`` -> ``en``; ``cmn-Hans-CN`` -> ``zh``."""
    prefix = language.split("-")[0].lower()
    return {"cmn": "zh", "yue": "zh"}.get(prefix, prefix)


@lru_cache(maxsize=8192)
def normalize(text: str) -> str:
    """Lower-case, strip accents' compatibility forms and punctuation, fold white space."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")
    text = _PUNCT.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def agent_words(language: str, extra: list[str] | tuple[str, ...] = ()) -> tuple[str, ...]:
    """Agent phrases for a language (English is always understood too)."""
    return _agent_words(language, tuple(extra))


@lru_cache(maxsize=256)
def _agent_words(language: str, extra: tuple[str, ...]) -> tuple[str, ...]:
    words = list(AGENT_WORDS.get(lang_prefix(language), ())) + list(extra)
    if lang_prefix(language) != "en":
        words += list(AGENT_WORDS["en"][:4])
    return tuple(dict.fromkeys(normalize(w) for w in words))


def number_words(language: str) -> dict[str, str]:
    """Digit -> spoken word for a language (English when unknown)."""
    return NUMBER_WORDS.get(lang_prefix(language), NUMBER_WORDS["en"])


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether normalised ``phrase`` occurs in normalised ``text`` on word boundaries.

    Languages written without spaces (Chinese) match on characters.
    """
    if not phrase:
        return False
    if any("\u4e00" <= ch <= "\u9fff" for ch in phrase):
        return phrase.replace(" ", "") in text.replace(" ", "")
    return f" {phrase} " in f" {text} "
