"""What a voice authenticator promises: the protocol every engine implements, and its results.

Audio given to an engine is what the media stream's voice tap publishes
(:mod:`ivr.speech.tap`): 8 kHz, 16-bit, mono PCM bytes, voiced frames of one
call joined. Engines never keep that audio after they have answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional, Protocol, runtime_checkable

__all__ = ["Verdict", "Enrollment", "Consent", "VoiceAuthenticator", "Decision", "DECISIONS"]

Decision = Literal["verified", "rejected", "inconclusive"]
DECISIONS: tuple[str, ...] = ("verified", "rejected", "inconclusive")


@dataclass(frozen=True)
class Verdict:
    """The answer to one verification.

    Attributes:
        score: the engine's normalised score (higher is more alike); comparable only within one engine.
        decision: ``verified`` above the engine's high threshold, ``rejected`` below its low one,
            ``inconclusive`` between them, when there was too little speech, or when the engine
            could not be asked (a vendor timeout): the flow steps up to a PIN or one-time code.
        net_speech_s: seconds of voiced speech the decision used.
        replay: the audio matched a recording heard before (a replay attack); never ``verified``.
        engine: which engine decided (``embedded``, ``http``).
    """

    score: float
    decision: Decision
    net_speech_s: float
    replay: bool = False
    engine: str = ""


@dataclass(frozen=True)
class Enrollment:
    """A voiceprint as stored (no biometric data: the embedding stays inside the engine's store).

    Attributes:
        subject: who (the caller ID, or a slot value such as an account number).
        net_speech_s: seconds of voiced speech it was built from.
        engine: the engine that built it; a voiceprint is only usable by that engine.
        enrolled_at: UNIX time of enrolment.
    """

    subject: str
    net_speech_s: float
    engine: str
    enrolled_at: float


@dataclass(frozen=True)
class Consent:
    """A caller's consent to keep a voiceprint, recorded before enrolment.

    Attributes:
        wording: the exact prompt the caller agreed to.
        flow: the flow's id; flow_version: its version (e.g. the file's hash) when consent was given.
        channel: how it was given (``voice``, ``dtmf``, ``web``...).
        given_at: UNIX time; call_id: the call it was given in, if any.
    """

    wording: str
    flow: str
    flow_version: str
    channel: str
    given_at: float
    call_id: Optional[str] = None


@runtime_checkable
class VoiceAuthenticator(Protocol):
    """Enrols and verifies callers by voice.

    ``verify`` raises :class:`~ivr.auth.errors.NotEnrolled` for a subject
    without a usable voiceprint (the flow's ``not_enrolled`` outcome) and
    otherwise always returns a :class:`Verdict`, even when a vendor fails.
    """

    name: str

    def enroll(self, subject: str, audio: bytes) -> Enrollment:
        """Build (or replace) the subject's voiceprint from ``audio``; needs recorded consent."""

    def verify(self, subject: str, audio: bytes, call_id: Optional[str] = None) -> Verdict:
        """Score ``audio`` against the subject's voiceprint and decide (``call_id`` goes to the audit trail)."""

    def delete(self, subject: str) -> bool:
        """Remove voiceprint and consent; True if there was one."""

    def enrolled(self, subject: str) -> Optional[Enrollment]:
        """The subject's usable voiceprint, or None (never enrolled, deleted, expired)."""
