"""Actions the engine asks a transport to carry out.

A step returns a list of these; the list always ends with exactly one
"turn-ending" action (:class:`Listen`, :class:`RunHook`, :class:`Transfer`,
:class:`Hangup`) so a transport knows what to wait for next.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union


@dataclass(frozen=True)
class Play:
    """Speak a prompt.

    Attributes:
        text: the final text (templates already filled).
        node: node the prompt belongs to (recorded prompts are looked up by it).
        part: which prompt of the node: ``prompt``, ``no_input``, ``no_match``,
            ``say``, ``confirm``, ``goodbye``...
        barge_in: whether caller input may interrupt it.
        flow: id of the flow speaking (recorded prompts are per flow and node).
        voice, rate: the flow's TTS settings, so the audio can be found by
            the prompt layer without the flow at hand.
        template: the text before slot values were filled in (``None`` when
            it has no ``{slot}`` fields); lets audio be assembled from pieces.
        values: the filled-in slot values as ``(name, value)`` pairs; values
            of sensitive slots are never here.

    The fields after ``barge_in`` do not take part in equality, so code that
    compares prompts by what is said keeps working.
    """

    text: str
    node: str = ""
    part: str = "prompt"
    language: str = "en-US"
    barge_in: bool = True
    flow: str = field(default="", compare=False)
    voice: Optional[str] = field(default=None, compare=False)
    rate: Optional[int] = field(default=None, compare=False)
    template: Optional[str] = field(default=None, compare=False)
    values: tuple[tuple[str, Any], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class Listen:
    """Wait for caller input at a node.

    Attributes:
        mode: ``menu`` (a key or phrase), ``digits``, ``speech``, ``yesno`` or ``score`` (a survey's
            0-10 answer: up to ``max_digits`` keys ended by ``#`` or the timeout, or a spoken number
            from ``phrases``).
        phrases: what a recogniser should listen for (options, keys spoken as
            words, agent words); empty for free speech.
        keys: keys that complete a menu choice at once.
        max_digits / min_digits: digit entry lengths (``#`` ends entry).
        end_of_speech_ms: trailing silence that ends a spoken answer.
        complete_end_ms: shorter silence that ends it when what was heard
            is already exactly one phrase, confidently (menus and yes/no
            only: an open answer or a digit string may go on); 0: never.
        unsure_end_ms: the silence that ends it when what was heard is
            exactly one phrase but below ``confidence`` (the flow confirms
            it); used only between ``complete_end_ms`` and ``end_of_speech_ms``.
    """

    node: str
    mode: Literal["menu", "digits", "speech", "yesno", "score"]
    timeout: float
    speech: bool
    phrases: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    max_digits: Optional[int] = None
    min_digits: Optional[int] = None
    finish_on_key: str = "#"
    digit_timeout: float = 3.0
    barge_in: bool = True
    confidence: float = 0.5
    end_of_speech_ms: int = 600
    sensitive: bool = False
    complete_end_ms: int = 0
    """Silence that ends the turn early once the caller said one whole, confident phrase; 0: never early."""
    unsure_end_ms: int = 0
    """Silence that ends it once the caller said one whole phrase, heard unsurely (to be confirmed); 0: never."""


@dataclass(frozen=True)
class RunHook:
    """Run a named hook and report back with HookCompleted or HookFailed."""

    node: str
    hook: str
    args: dict[str, Any] = field(default_factory=dict)
    timeout: float = 3.0


@dataclass(frozen=True)
class Transfer:
    """End self-service: hand the caller to the people of ``queue`` with ``context``."""

    queue: str
    reason: str
    context: dict[str, Any]
    mode: str = "agent"
    """``agent`` (connect to a person), ``voicemail`` or ``callback`` (take a message or a
    callback request for the queue's people: a node asked for it, or the queue is closed)."""


@dataclass(frozen=True)
class Hangup:
    """End the call."""

    reason: str = "completed"


@dataclass(frozen=True)
class RecordEvent:
    """A structured call event for analytics; values of sensitive slots are masked."""

    kind: str
    node: Optional[str]
    at: float
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VerifyVoice:
    """Decide from the call's speech so far whether ``subject`` is speaking; report with AuthResult.

    ``final`` False: with less than ``min_speech`` seconds heard, report status
    ``more_speech`` instead of deciding on too little (the engine then asks for a
    few words). Audio of sensitive asks is never part of it.
    """

    node: str
    subject: str
    min_speech: float
    final: bool = False


@dataclass(frozen=True)
class EnrollVoice:
    """Record ``consent`` and build ``subject``'s voiceprint from the call's speech; report with EnrollResult.

    ``consent``: ``wording``, ``flow``, ``flow_version``, ``channel`` (how it was given), recorded even when
    more speech is needed, so a later call can complete the voiceprint.
    """

    node: str
    subject: str
    min_speech: float
    consent: dict[str, Any]
    final: bool = False


@dataclass(frozen=True)
class DeleteVoiceprint:
    """Delete ``subject``'s voiceprint and consent (the caller withdrew consent); no event comes back."""

    node: str
    subject: str


VOICE_ACTIONS = (VerifyVoice, EnrollVoice, DeleteVoiceprint)
"""Actions the call driver carries out with the voice authenticator inside the turn, as it runs hooks."""

Action = Union[Play, Listen, RunHook, Transfer, Hangup, RecordEvent, VerifyVoice, EnrollVoice, DeleteVoiceprint]
TURN_ENDING = (Listen, RunHook, Transfer, Hangup, VerifyVoice, EnrollVoice)


_KINDS: dict[str, type] = {"Play": Play, "Listen": Listen, "Transfer": Transfer, "Hangup": Hangup}


def to_dict(action: Action) -> dict[str, Any]:
    """A JSON-ready form of a Play, Listen, Transfer or Hangup (kept in the call state between requests)."""
    data = dataclasses.asdict(action)
    data["type"] = type(action).__name__
    return data


def from_dict(data: dict[str, Any]) -> Action:
    """The action :func:`to_dict` described."""
    data = dict(data)
    cls = _KINDS[data.pop("type")]
    if cls is Listen:
        data["phrases"] = tuple(data.get("phrases") or ())
        data["keys"] = tuple(data.get("keys") or ())
    if cls is Play:
        data["values"] = tuple(tuple(v) for v in data.get("values") or ())
    return cls(**data)
