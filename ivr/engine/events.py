"""Events that drive the engine: what happened on the call.

Transports (webhooks, media stream, simulator, console) translate their wire
input into these and nothing else reaches the engine.  Time is a value
(``at``: seconds since the epoch) supplied by the transport; the engine never
reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union


@dataclass(frozen=True)
class CallStarted:
    """A call reached the flow.

    Attributes:
        history: earlier calls of this caller (context packets or summaries),
            looked up by the transport from the store before the first step.
    """

    call_id: str
    caller: str = ""
    called: str = ""
    at: float = 0.0
    history: tuple[dict, ...] = ()
    entry: str = ""
    """The name the entry point passed (a "cards line" number, a web page's call button), or ''."""


@dataclass(frozen=True)
class DigitsReceived:
    """Keys pressed; a trailing ``#`` ends entry and is not part of the value."""

    digits: str
    at: float = 0.0


@dataclass(frozen=True)
class SpeechRecognized:
    """Recognised caller speech with the recogniser's confidence (0..1)."""

    text: str
    confidence: float = 1.0
    at: float = 0.0
    backend: str = "text"


@dataclass(frozen=True)
class NoInput:
    """The caller said and pressed nothing before the timeout."""

    at: float = 0.0


@dataclass(frozen=True)
class HookCompleted:
    """A hook asked for by :class:`~ivr.engine.actions.RunHook` returned."""

    outcome: str
    data: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0
    ms: float = 0.0


@dataclass(frozen=True)
class HookFailed:
    """A hook raised, was not registered, or timed out."""

    error: str
    timed_out: bool = False
    at: float = 0.0
    ms: float = 0.0


@dataclass(frozen=True)
class CallerHungUp:
    """The caller hung up (status callback or stream stop)."""

    at: float = 0.0


@dataclass(frozen=True)
class AuthResult:
    """Outcome of a voice or step-up authentication.

    ``status``: ``verified``, ``rejected``, ``inconclusive``, ``not_enrolled``, or ``more_speech``
    (a non-final VerifyVoice heard too little to decide). ``replay``: the audio matched an earlier
    utterance of the voiceprint (a recording played back), so it was not verified.
    """

    method: str
    status: str
    score: Optional[float] = None
    at: float = 0.0
    net_speech_s: Optional[float] = None
    subject: Optional[str] = None
    replay: bool = False


@dataclass(frozen=True)
class EnrollResult:
    """Outcome of an EnrollVoice: ``enrolled``, ``more_speech`` (consent kept; too little speech yet) or
    ``failed`` (the authenticator could not enrol: no stable key, an engine error)."""

    status: str
    net_speech_s: float = 0.0
    at: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class AgentLegEnded:
    """The caller's conversation with a person ended and the caller is still on the line.

    Twilio reports it as the ``<Enqueue action>`` with ``QueueResult=bridged`` or the ``<Dial action>``
    with ``DialCallStatus`` completed/answered. The engine then offers the flow's post-call survey
    (``settings.survey``), or says goodbye.

    Attributes:
        status: Twilio's QueueResult or DialCallStatus, as reported.
        seconds: how long the agent leg lasted, when known.
    """

    call_id: str
    at: float = 0.0
    status: str = "bridged"
    seconds: Optional[int] = None


Event = Union[CallStarted, DigitsReceived, SpeechRecognized, NoInput, HookCompleted, HookFailed,
              CallerHungUp, AuthResult, EnrollResult, AgentLegEnded]
