"""Phrase matching: from caller words to a menu option, a yes/no, or a person.

Shared by ``say:`` script steps, the console and recogniser output, so a
typed sentence and a spoken one take the same decision.  Rules:

* agent words anywhere in the sentence win (never keep a caller who asked
  for a person);
* an option phrase inside a longer sentence selects it ("I want to pay my
  bill" selects the option with "pay my bill"); the longest phrase wins; a
  tie between two options is no match (ambiguous);
* keys spoken as words ("two", "press two", "option 2") select that key.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Sequence

from ..flow.model import Menu
from ..flow.phrases import NO_WORDS, YES_WORDS, agent_words, contains_phrase, lang_prefix, normalize, number_words

FILLER = {"press", "option", "number", "the", "key", "please", "um", "uh", "er", "erm", "ah", "oh",
          "i", "want", "would", "like", "to", "choose", "pick", "select", "say", "for", "and"}

_SPOKEN_DIGITS = {"zero": "0", "oh": "0", "o": "0", "nought": "0", "one": "1", "two": "2", "to": "2",
                  "too": "2", "three": "3", "four": "4", "for": "4", "five": "5", "six": "6",
                  "seven": "7", "eight": "8", "ate": "8", "nine": "9",
                  # Italian
                  "uno": "1", "due": "2", "tre": "3", "quattro": "4", "cinque": "5", "sei": "6",
                  "sette": "7", "otto": "8", "nove": "9",
                  # Chinese
                  "零": "0", "一": "1", "二": "2", "三": "3", "四": "4", "五": "5", "六": "6",
                  "七": "7", "八": "8", "九": "9"}


@dataclass(frozen=True)
class Match:
    """What caller words mean at a menu.

    Attributes:
        kind: ``option``, ``agent`` or ``none``.
        index: the chosen option's index, for ``option``.
        phrase: the phrase (or key word) that decided it.
    """

    kind: str
    index: Optional[int] = None
    phrase: str = ""


@lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Normalise and fold simple English plurals ("cards" -> "card")."""
    words = []
    for w in normalize(text).split(" "):
        if len(w) >= 4 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
            w = w[:-1]
        words.append(w)
    return " ".join(words)


def wants_agent(text: str, language: str, extra: Sequence[str] = ()) -> Optional[str]:
    """The agent phrase in ``text``, if the caller asked for a person."""
    t = fold(text)
    for word in agent_words(language, extra):
        if contains_phrase(t, fold(word)):
            return word
    return None


def match_menu(menu: Menu, text: str, language: str = "en-US", extra_agent: Sequence[str] = ()) -> Match:
    """Decide what a sentence selects at a menu."""
    t = fold(text)
    if not t:
        return Match("none")
    agent = wants_agent(text, language, extra_agent)
    if agent:
        return Match("agent", phrase=agent)
    best: list[tuple[int, int, str]] = []
    for i, opt in enumerate(menu.options):
        for phrase in opt.say:
            p = fold(phrase)
            if p and contains_phrase(t, p):
                best.append((len(p.split(" ")) * 100 + len(p), i, phrase))
    if best:
        best.sort(reverse=True)
        top = best[0]
        rivals = {i for score, i, _ in best if score == top[0]}
        if len(rivals) == 1:
            return Match("option", top[1], top[2])
        return Match("none")
    key = spoken_key(t, language)
    if key is not None:
        for i, opt in enumerate(menu.options):
            if opt.key == key:
                return Match("option", i, key)
        if key == "0":
            return Match("agent", phrase="0")
    return Match("none")


def spoken_key(folded: str, language: str) -> Optional[str]:
    """A single key said as a word or digit ("press two", "option 2"), else None."""
    words = [w for w in folded.split(" ") if w and w not in FILLER]
    if len(words) != 1:
        return None
    w = words[0]
    if len(w) == 1 and w in "0123456789*":
        return w
    names = {v: k for k, v in number_words(language).items()}
    names.update({v: k for k, v in number_words("en").items()})
    return names.get(w)


def spoken_digits(text: str) -> str:
    """Digits from speech: "four two one" -> "421", "4 2 1" -> "421"; non-digits dropped."""
    out = []
    for w in normalize(text).split(" "):
        if w.isdigit():
            out.append(w)
        elif w in _SPOKEN_DIGITS:
            out.append(_SPOKEN_DIGITS[w])
        elif w == "double" or w == "triple":
            out.append(w)
    # expand "double four" -> "44"
    digits: list[str] = []
    repeat = 1
    for tok in out:
        if tok == "double":
            repeat = 2
        elif tok == "triple":
            repeat = 3
        else:
            digits.append(tok[0] * repeat + tok[1:] if repeat > 1 else tok)
            repeat = 1
    return "".join(digits)


def yes_no(text: str, language: str) -> Optional[str]:
    """``"yes"``, ``"no"`` or None for a spoken or typed answer."""
    t = normalize(text)
    lp = lang_prefix(language)
    yes = YES_WORDS.get(lp, ()) + YES_WORDS["en"]
    no = NO_WORDS.get(lp, ()) + NO_WORDS["en"]
    said_no = any(contains_phrase(t, normalize(w)) for w in no)
    # A no-phrase may contain a yes-word ("not right", "不是" holds "是"): look for a yes outside the no-phrases.
    rest = t
    for w in sorted((normalize(w) for w in no), key=len, reverse=True):
        if w and contains_phrase(rest, w):
            rest = rest.replace(w, " ") if any("\u4e00" <= ch <= "\u9fff" for ch in w) else \
                f" {rest} ".replace(f" {w} ", "  ")
    said_yes = any(contains_phrase(rest.strip(), normalize(w)) for w in yes)
    if said_yes and not said_no:
        return "yes"
    if said_no and not said_yes:
        return "no"
    return None


def grammar_for_menu(menu: Menu, language: str, extra_agent: Sequence[str] = ()) -> tuple[str, ...]:
    """Phrases a recogniser should expect at a menu: options, keys as words, agent words."""
    key = (id(menu), language, tuple(extra_agent))
    hit = _GRAMMARS.get(key)
    if hit is not None and hit[0] is menu:  # identity check: ids are reused after a flow reload
        return hit[1]
    phrases = _grammar(menu, language, tuple(extra_agent))
    if len(_GRAMMARS) > 4096:
        _GRAMMARS.clear()
    _GRAMMARS[key] = (menu, phrases)
    return phrases


_GRAMMARS: dict[tuple, tuple[Menu, tuple[str, ...]]] = {}


def _grammar(menu: Menu, language: str, extra_agent: tuple[str, ...]) -> tuple[str, ...]:
    words = number_words(language)
    out: list[str] = []
    for opt in menu.options:
        out += [normalize(p) for p in opt.say]
        if opt.key is not None and opt.key in words:
            out.append(words[opt.key])
    out += list(agent_words(language, extra_agent))
    return tuple(dict.fromkeys(p for p in out if p))
