"""What a recogniser is allowed to hear at one point of a call.

A menu node listens for a handful of phrases; a digit prompt listens for
spoken digits. Constraining the recogniser to these phrases is what makes
small offline models accurate enough for an IVR, and it is also what lets
the recogniser say "none of these" instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DIGIT_WORDS: dict[str, str] = {
    "0": "zero", "1": "one", "2": "two", "3": "three", "4": "four",
    "5": "five", "6": "six", "7": "seven", "8": "eight", "9": "nine",
    "*": "star", "#": "pound",
}
"""English words a caller says for each keypad key."""

SPOKEN_DIGITS: dict[str, str] = {
    **{w: d for d, w in DIGIT_WORDS.items() if d.isdigit()},
    "oh": "0",
}
"""Spoken word -> digit, including "oh" for zero as callers say it."""


@dataclass(frozen=True)
class Grammar:
    """A set of phrases the recogniser should listen for.

    Attributes:
        phrases: lower-case phrases, each one or more words.
        language: BCP-47 tag of the flow (``en-US``, ``ko-KR``); backends use
            it to check that their model fits.
        digits: True for digit-string collection: any sequence of spoken
            digits is allowed rather than exactly one phrase.
    """

    phrases: tuple[str, ...]
    language: str = "en-US"
    digits: bool = field(default=False)

    def __post_init__(self) -> None:
        cleaned = tuple(dict.fromkeys(normalize(p) for p in self.phrases if normalize(p)))
        object.__setattr__(self, "phrases", cleaned)

    @property
    def key(self) -> tuple:
        """A hashable identity, used to cache compiled decoders per grammar."""
        return (self.phrases, self.language, self.digits)

    def words(self) -> list[str]:
        """Every distinct word in the grammar, in first-seen order."""
        return list(dict.fromkeys(w for p in self.phrases for w in p.split()))


def normalize(text: str) -> str:
    """Lower-case, drop punctuation except apostrophes, collapse spaces."""
    text = re.sub(r"[^\w' ]+", " ", text.lower(), flags=re.UNICODE)
    return " ".join(text.split())


def key_to_words(key: str) -> str:
    """Turn a keypad key string into the words a caller would say.

    ``"1"`` -> ``"one"``, ``"10"`` -> ``"one zero"``; other text is returned
    normalised, so option labels can be passed through unchanged.
    """
    if key and all(ch in DIGIT_WORDS for ch in key):
        return " ".join(DIGIT_WORDS[ch] for ch in key)
    return normalize(key)


def words_to_digits(text: str) -> str | None:
    """Turn recognised spoken digits back into a digit string.

    Returns None if any word is not a digit word, so a caller saying
    something else is treated as no-match, not as a shorter number.
    """
    words = normalize(text).split()
    if not words:
        return None
    out = []
    for w in words:
        if w in SPOKEN_DIGITS:
            out.append(SPOKEN_DIGITS[w])
        elif w.isdigit():
            out.append(w)
        else:
            return None
    return "".join(out)


def digits_grammar(language: str = "en-US") -> Grammar:
    """A grammar for spoken digit strings ("four one oh two ...")."""
    return Grammar(phrases=tuple(SPOKEN_DIGITS), language=language, digits=True)
