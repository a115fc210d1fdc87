"""Passive voice authentication for running calls: the caller's voiced audio in, engine events out.

Why here, between the transports and the authenticator: every transport
(the media stream, the simulator's ``say_audio``) gives the caller's voiced
audio the same way (the voice tap, or :meth:`VoiceAuth.hear`), and the call
driver carries out the engine's VerifyVoice / EnrollVoice / DeleteVoiceprint
with it inside the turn, as it runs hooks. So a scripted call is verified
exactly as a streamed one.

Privacy, by construction:
- audio of sensitive asks never arrives (transports do not tap it);
- audio is held in memory only, at most ``max_audio_s`` per call, and dropped
  as soon as a decision is made or the call ends;
- voiceprints are built only after consent was recorded (the engine asks).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..auth import Consent, NotEnrolled, TooLittleSpeech, VoiceAuthenticator
from ..engine import actions as A
from ..engine import events as E
from ..engine.state import CallState
from ..speech.tap import Subscription, VoiceTap

log = logging.getLogger(__name__)

BYTES_PER_S = 16000
"""8 kHz 16-bit mono."""
PASSIVE_MIN_S = 3.0
"""Voiced speech a passive verification waits for (the authenticate node may decide on less)."""


@dataclass
class _Capture:
    audio: bytearray = field(default_factory=bytearray)
    sub: Optional[Subscription] = None
    tap: Optional[VoiceTap] = None
    decided: bool = False
    consented: bool = False


class VoiceAuth:
    """The voice authenticator as the call driver uses it, with each call's voiced audio.

    Args:
        authenticator: the engine (:func:`ivr.auth.make_authenticator`).
        clock: the driver's clock (events carry its time).
        max_audio_s: voiced audio kept per call at most (the most recent).
        passive_min_s: voiced speech before a passive verification is tried.
    """

    def __init__(self, authenticator: VoiceAuthenticator, clock: Callable[[], float] = time.time,
                 max_audio_s: float = 30.0, passive_min_s: float = PASSIVE_MIN_S) -> None:
        self.authenticator = authenticator
        self.clock = clock
        self.max_bytes = int(max_audio_s * BYTES_PER_S)
        self.passive_min_s = passive_min_s
        self._calls: dict[str, _Capture] = {}
        self._lock = threading.Lock()

    # -- audio in --------------------------------------------------------------
    def follow(self, tap: VoiceTap, call_id: str) -> None:
        """Listen to a call's voiced frames on the voice tap (the media stream publishes them)."""
        with self._lock:
            cap = self._calls.setdefault(call_id, _Capture())
            if cap.sub is None:
                cap.sub, cap.tap = tap.subscribe(call_id), tap

    def hear(self, call_id: str, pcm: bytes) -> None:
        """Voiced audio of a call given directly (the simulator's ``say_audio``)."""
        with self._lock:
            self._append(self._calls.setdefault(call_id, _Capture()), pcm)

    def _append(self, cap: _Capture, pcm: bytes) -> None:
        cap.audio += pcm
        if len(cap.audio) > self.max_bytes:
            del cap.audio[:len(cap.audio) - self.max_bytes]

    def _audio(self, call_id: str) -> bytes:
        with self._lock:
            cap = self._calls.setdefault(call_id, _Capture())
            if cap.sub is not None:
                self._append(cap, cap.sub.drain())
            return bytes(cap.audio)

    def voiced_s(self, call_id: str) -> float:
        """Seconds of voiced audio held for the call now."""
        return len(self._audio(call_id)) / BYTES_PER_S

    def held_s(self) -> float:
        """Seconds of caller audio held now, all calls together (for tests and the health page)."""
        with self._lock:
            return sum(len(c.audio) for c in self._calls.values()) / BYTES_PER_S

    def _forget_audio(self, call_id: str, decided: bool = True) -> None:
        """Drop the call's audio (a decision was made): nothing raw outlives it, on the tap either."""
        with self._lock:
            cap = self._calls.get(call_id)
            if cap is None:
                return
            cap.audio.clear()
            cap.decided = cap.decided or decided
            if cap.sub is not None:
                cap.sub.drain()
            if cap.tap is not None:
                cap.tap.forget(call_id)

    def end(self, call_id: str) -> None:
        """The call is over: its audio and subscription go."""
        with self._lock:
            cap = self._calls.pop(call_id, None)
        if cap is not None and cap.sub is not None:
            cap.sub.close()

    # -- passive ---------------------------------------------------------------
    def undecided(self, call_id: str) -> bool:
        """Whether a passive decision is still to come for the call (cheap: no store, no audio)."""
        with self._lock:
            cap = self._calls.get(call_id)
            return cap is not None and not cap.decided

    def passive(self, state: CallState) -> Optional[E.Event]:
        """A decision from ordinary turns' speech, once enough was heard; None while there is not.

        The subject is the caller ID. A caller with a voiceprint is verified (an
        ``AuthResult`` mid-call, no prompt); a caller who consented earlier but has
        no voiceprint yet is enrolled from this call's speech. Nothing is done for
        a caller already decided in this call, or verified by a step-up.
        """
        call_id, subject = state.call_id, state.caller
        with self._lock:
            cap = self._calls.get(call_id)
            if cap is None or cap.decided or not subject:
                return None
        if state.auth.get("method") not in (None, "none") or state.waiting in ("auth", "enroll"):
            return None
        audio = self._audio(call_id)
        if len(audio) < self.passive_min_s * BYTES_PER_S:
            return None
        try:
            enrolled = self.authenticator.enrolled(subject)
            if enrolled is None:
                if self._consent(subject) is None:
                    with self._lock:
                        cap.decided = True   # nobody to verify against, and no consent to enrol: stop listening
                    return None
                return self._enroll(call_id, subject, audio, None, final=False, min_speech=_min_enroll(self))
            return self._verify(call_id, subject, audio, passive=True)
        except Exception:  # noqa: BLE001 - a broken engine must never break the call
            log.exception("call %s: passive voice authentication failed", call_id)
            self._forget_audio(call_id)
            return None

    # -- the engine's actions ------------------------------------------------------
    def run(self, action: Any, state: CallState) -> Optional[E.Event]:
        """Carry out VerifyVoice / EnrollVoice / DeleteVoiceprint; the event to feed back (None for a delete)."""
        call_id = state.call_id
        try:
            if isinstance(action, A.DeleteVoiceprint):
                deleted = self.authenticator.delete(action.subject)
                log.info("call %s: consent withdrawn; voiceprint %s", call_id, "deleted" if deleted else "absent")
                self._forget_audio(call_id)
                return None
            audio = self._audio(call_id)
            heard = len(audio) / BYTES_PER_S
            if isinstance(action, A.VerifyVoice):
                if heard < action.min_speech and not action.final:
                    return E.AuthResult("voice", "more_speech", at=self.clock(), net_speech_s=round(heard, 2),
                                        subject=action.subject)
                return self._verify(call_id, action.subject, audio)
            if isinstance(action, A.EnrollVoice):
                return self._enroll(call_id, action.subject, audio, action.consent, action.final, action.min_speech)
        except Exception as exc:  # noqa: BLE001 - a person, never silence: the engine handles the outcome
            log.exception("call %s: voice authentication failed", call_id)
            if isinstance(action, A.EnrollVoice):
                return E.EnrollResult("failed", at=self.clock(), error=type(exc).__name__)
            return E.AuthResult("voice", "inconclusive", at=self.clock(), subject=getattr(action, "subject", None))
        return None

    def _verify(self, call_id: str, subject: str, audio: bytes, passive: bool = False) -> E.AuthResult:
        try:
            verdict = self.authenticator.verify(subject, audio, call_id=call_id)
        except NotEnrolled:
            self._forget_audio(call_id, decided=not self._consent(subject))
            return E.AuthResult("voice", "not_enrolled", at=self.clock(), subject=subject,
                                net_speech_s=round(len(audio) / BYTES_PER_S, 2))
        self._forget_audio(call_id)
        return E.AuthResult("voice", verdict.decision, verdict.score, at=self.clock(),
                            net_speech_s=verdict.net_speech_s, subject=subject, replay=verdict.replay)

    def _consent(self, subject: str) -> Optional[Consent]:
        store = getattr(self.authenticator, "store", None)
        return store.consent(subject) if store is not None else None

    def _enroll(self, call_id: str, subject: str, audio: bytes, consent: Optional[dict[str, Any]],
                final: bool, min_speech: float) -> E.EnrollResult:
        if consent is not None:
            with self._lock:
                cap = self._calls.setdefault(call_id, _Capture())
                first = not cap.consented
                cap.consented = True
            if first:
                record = getattr(self.authenticator, "record_consent", None)
                if record is not None:
                    record(subject, Consent(consent["wording"], consent["flow"], consent.get("flow_version", ""),
                                            consent.get("channel", "voice"), self.clock(), call_id))
        heard = len(audio) / BYTES_PER_S
        if heard < min_speech:
            return E.EnrollResult("more_speech", heard, at=self.clock())
        try:
            enrollment = self.authenticator.enroll(subject, audio)
        except TooLittleSpeech as exc:   # voiced audio, but less net speech than the engine needs
            return E.EnrollResult("more_speech", exc.net_speech_s, at=self.clock())
        self._forget_audio(call_id)
        return E.EnrollResult("enrolled", enrollment.net_speech_s, at=self.clock())


def _min_enroll(va: VoiceAuth) -> float:
    return float(getattr(va.authenticator, "min_enroll_s", 8.0))
