"""The pitch level the embedded engine scores beside the embedding: measured, robust to the line, used."""

from __future__ import annotations

import time

import numpy as np
import pytest

from ivr.auth import EmbeddedVoiceAuthenticator
from ivr.auth.pitch import pitch_level, semitones
from ivr.bench.speakers import Voice
from ivr.speech.codec import phone_line

from .conftest import M1, consent, say


def _voice_like(f0: float, seconds: float = 2.0, rate: int = 8000) -> bytes:
    """A buzz with vowel-like harmonics at ``f0`` Hz, its pitch wobbling ±3 % as speech does."""
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 3 * t))) / rate
    x = sum(np.sin(k * phase) / k for k in range(1, 12))
    return (x / np.abs(x).max() * 12000).astype("<i2").tobytes()


@pytest.mark.parametrize("f0", [95.0, 140.0, 220.0])
def test_level_of_a_known_pitch_over_the_phone_line(f0: float) -> None:
    level = pitch_level(phone_line(_voice_like(f0)))
    assert level == pytest.approx(semitones(f0), abs=0.3)


def test_no_level_from_silence_noise_or_too_little_audio() -> None:
    assert pitch_level(b"\x00\x00" * 16000) is None
    noise = np.random.default_rng(1).normal(0, 3000, 16000).astype("<i2").tobytes()
    assert pitch_level(noise) is None
    assert pitch_level(_voice_like(140.0, 0.05)) is None


def test_a_voice_pitched_up_is_not_its_original(auth: EmbeddedVoiceAuthenticator) -> None:
    """espeak-ng's m1 voice and the same voice 2 semitones higher sound alike to the embedding (it would verify
    the impostor): the pitch level is what withholds verification."""
    auth.record_consent("+1555m1", consent(time.time()))
    auth.enroll("+1555m1", say(M1, 0, 1, 2, 3, 4))
    vp = auth.store.load("+1555m1")
    assert vp is not None and vp.pitch is not None
    higher = Voice("us-m1-p60", "espeak", "en-us+m1", pitch=60)
    timbre_only = EmbeddedVoiceAuthenticator(auth.store, auth.encoder, auth.cohort, pitch_weight=0.0)
    assert timbre_only.verify("+1555m1", say(higher, 10)).decision == "verified"
    impostor = say(higher, 12)
    v = auth.verify("+1555m1", impostor)
    assert v.decision != "verified" and not v.replay, v
    assert auth.pitch_penalty(vp.pitch, pitch_level(impostor)) == auth.pitch_max_penalty
    assert auth.verify("+1555m1", say(M1, 11)).decision == "verified"
    # a pitch level that could not be measured costs nothing; a difference within the tolerance neither
    assert auth.pitch_penalty(vp.pitch, None) == 0.0
    assert auth.pitch_penalty(5.0, 5.0 + auth.pitch_tolerance_st) == 0.0
    assert auth.pitch_penalty(5.0, 5.5 + auth.pitch_tolerance_st) == pytest.approx(0.5 * auth.pitch_weight)
