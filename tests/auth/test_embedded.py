"""The embedded engine end to end: enrol, verify (genuine, impostor, replay), delete, refusals."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ivr.auth import AuthError, EmbeddedVoiceAuthenticator, NoStableKey, NotEnrolled, Verdict, VoiceAuthenticator
from ivr.auth import VoiceprintStore
from ivr.speech.codec import phone_line

from .conftest import KAL, M1, SLT, consent, say


def test_is_a_voice_authenticator(enrolled: EmbeddedVoiceAuthenticator) -> None:
    assert isinstance(enrolled, VoiceAuthenticator)


def test_genuine_caller_is_verified_impostor_rejected(enrolled: EmbeddedVoiceAuthenticator) -> None:
    genuine = enrolled.verify("+1555kal", say(KAL, 10), call_id="CA2")
    assert genuine.decision == "verified" and not genuine.replay, genuine
    assert 1.5 < genuine.net_speech_s <= 3.5
    for voice in (SLT, M1):
        impostor = enrolled.verify("+1555kal", say(voice, 10))
        assert impostor.decision == "rejected", impostor
        assert impostor.score < genuine.score - 0.1
    trail = enrolled.store.audit_trail("+1555kal")
    assert [r.decision for r in trail] == ["verified", "rejected", "rejected"]
    assert trail[0].call_id == "CA2" and trail[0].score == genuine.score


def test_enrollment_reports_net_speech(enrolled: EmbeddedVoiceAuthenticator) -> None:
    enr = enrolled.enrolled("+1555kal")
    assert enr is not None and enr.engine == "embedded"
    assert 8 < enr.net_speech_s <= 15


def test_replayed_recording_is_flagged_not_verified(enrolled: EmbeddedVoiceAuthenticator) -> None:
    first = say(KAL, 11)
    assert enrolled.verify("+1555kal", first).decision == "verified"
    # The same recording again, 3 ms later, quieter, with line noise, through mu-law once more.
    x = np.frombuffer(first, dtype="<i2").astype(np.float64)[24:] * 0.7
    x += np.random.default_rng(3).normal(0, 40, len(x))
    replay = phone_line(np.clip(x, -32768, 32767).astype("<i2").tobytes())
    v = enrolled.verify("+1555kal", replay)
    assert v.replay and v.decision == "rejected", v
    # a part of the enrolment audio replayed is caught too
    part = say(KAL, 0, 1, 2, 3, 4)[16000 * 2 + 40:16000 * 5]      # 3 s of it, 1.25 ms off the sample grid
    assert enrolled.verify("+1555kal", part).replay
    # the genuine caller saying something new is not a replay
    fresh = enrolled.verify("+1555kal", say(KAL, 12))
    assert not fresh.replay and fresh.decision == "verified"


def test_too_little_speech_is_inconclusive(enrolled: EmbeddedVoiceAuthenticator) -> None:
    v = enrolled.verify("+1555kal", say(KAL, 10)[: 8000 * 2])
    assert v.net_speech_s < 1.5 and v.decision == "inconclusive"


def test_not_enrolled_and_delete(enrolled: EmbeddedVoiceAuthenticator) -> None:
    with pytest.raises(NotEnrolled):
        enrolled.verify("+1555nobody", say(KAL, 10))
    assert enrolled.delete("+1555kal") is True
    assert enrolled.enrolled("+1555kal") is None
    assert enrolled.store.consent("+1555kal") is None
    with pytest.raises(NotEnrolled):
        enrolled.verify("+1555kal", say(KAL, 10))
    assert enrolled.delete("+1555kal") is False


def test_enrol_needs_consent_enough_speech_and_a_key(auth: EmbeddedVoiceAuthenticator, db) -> None:
    with pytest.raises(AuthError, match="no consent"):
        auth.enroll("+1555", say(KAL, 0, 1, 2, 3))
    auth.record_consent("+1555", consent(time.time()))
    with pytest.raises(AuthError, match="not enough"):
        auth.enroll("+1555", say(KAL, 0))
    assert auth.enrolled("+1555") is None
    keyless = EmbeddedVoiceAuthenticator(VoiceprintStore(db, None), auth.encoder, auth.cohort)
    with pytest.raises(NoStableKey, match="IVR_SECRET_KEY"):
        keyless.enroll("+1555", say(KAL, 0, 1, 2, 3))


def test_verdict_is_frozen() -> None:
    v = Verdict(0.7, "verified", 3.0, engine="embedded")
    with pytest.raises(AttributeError):
        v.score = 1.0  # type: ignore[misc]
