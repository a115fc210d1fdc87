"""What a waiting caller chose, by key or by voice: the one rule the wait loop and the queue listener share.

Apart from :mod:`ivr.web.queue` so the spoken-choice listener
(:mod:`ivr.web.queue_speech`, which the transfer renderer uses) does not import the queue's webhooks.
"""

from __future__ import annotations

from typing import Optional, Sequence

from ..engine import texts
from ..engine.matching import wants_agent
from ..flow.phrases import contains_phrase, normalize

LEAVE_KEYS = {"1": "callback", "2": "voicemail", "0": "agent"}


def callback_words(language: str) -> tuple[str, ...]:
    """What a caller says to be called back: the language's words, and English's (as for the agent words)."""
    return tuple(dict.fromkeys((*texts.catalogue(language).callback_words, *texts.catalogue("en").callback_words)))


def voicemail_words(language: str) -> tuple[str, ...]:
    """What a caller says to leave a message: the language's words, and English's."""
    return tuple(dict.fromkeys((*texts.catalogue(language).voicemail_words,
                                *texts.catalogue("en").voicemail_words)))


def leave_choice(digits: Optional[str], speech: Optional[str], language: str,
                 extra_agent: Sequence[str] = ()) -> Optional[str]:
    """What a waiting caller chose: ``callback``, ``voicemail``, ``agent`` (stay in line) or None.

    Args:
        digits: keys pressed (the first one counts).
        speech: words heard (the agent words first, so "agent" is never taken for a leave phrase).
        language: the call's language, for the agent, callback and message words.
        extra_agent: the flow's own agent words.
    """
    if digits:
        return LEAVE_KEYS.get(digits[:1])
    if speech:
        if wants_agent(speech, language, tuple(extra_agent)):
            return "agent"
        text = normalize(speech)
        if any(contains_phrase(text, normalize(w)) for w in callback_words(language)):
            return "callback"
        if any(contains_phrase(text, normalize(w)) for w in voicemail_words(language)):
            return "voicemail"
    return None
