"""A voice's pitch level: the second cue, beside the GE2E embedding, that voice authentication scores.

GE2E embeddings describe timbre and barely encode how high a voice is: on
our synthetic speakers two variants of one synthesiser voice that differ
only in pitch score a cosine of 0.78 against each other, about as close as
two takes of one speaker. A speaker's typical pitch (the median F0 over the
voiced frames of a few seconds of speech) is one of the oldest cues of
speaker recognition and is robust to the phone line: it lives below 400 Hz
and survives 8 kHz mu-law, unlike the spectral detail the embedding
depends on.

The level is given in semitones above 100 Hz, so that the same distance
means the same perceived interval for low and high voices. It is measured
with Praat's autocorrelation pitch tracker (``praat-parselmouth``), the
phoneticians' standard, at 10 ms steps between 60 and 400 Hz. A person's
median F0 moves by about a semitone from day to day (more with a cold, or
when upset); the engine therefore only counts a difference beyond a
tolerance, and a caller whose pitch moved a lot is stepped up to a PIN,
not rejected outright (:mod:`ivr.auth.embedded`).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .errors import AuthConfigError

try:
    import parselmouth
except ImportError:                     # only the embedded engine needs it: it says so when it is built
    parselmouth = None

__all__ = ["PITCH_FLOOR_HZ", "PITCH_CEILING_HZ", "MIN_VOICED_FRAMES", "INSTALL_PITCH", "require_pitch_tracker",
           "pitch_level", "semitones"]

INSTALL_PITCH = "pip install 'praat-parselmouth>=0.4.3,<0.5'"
"""Installs Praat's pitch tracker (a 10 MB wheel; requirements.txt has it)."""

PITCH_FLOOR_HZ = 60.0
"""The lowest F0 tracked: below any adult speaking voice, above mains hum."""
PITCH_CEILING_HZ = 400.0
"""The highest F0 tracked: above high female and children's speaking voices."""
MIN_VOICED_FRAMES = 30
"""Voiced 10 ms frames needed before a level means anything (0.3 s of vowels)."""


def require_pitch_tracker() -> None:
    """Fail now, with the install command, when the pitch tracker is missing (the engine calls this at start-up).

    Raises:
        AuthConfigError: ``praat-parselmouth`` is not installed.
    """
    if parselmouth is None:
        raise AuthConfigError(f"the embedded voice authenticator needs Praat's pitch tracker: {INSTALL_PITCH}")


def semitones(hz: float) -> float:
    """A frequency as semitones above 100 Hz."""
    return float(12.0 * np.log2(hz / 100.0))


def pitch_level(pcm: bytes, rate: int = 8000) -> Optional[float]:
    """The median F0 of voiced frames, in semitones above 100 Hz; None with too few voiced frames.

    Args:
        pcm: mono pcm16 bytes (the phone line's 8 kHz by default).
        rate: their sample rate.
    """
    require_pitch_tracker()
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    if len(x) < rate // 10:
        return None
    track = parselmouth.Sound(x, sampling_frequency=rate).to_pitch_ac(
        time_step=0.01, pitch_floor=PITCH_FLOOR_HZ, pitch_ceiling=PITCH_CEILING_HZ)
    f0 = track.selected_array["frequency"]
    f0 = f0[f0 > 0]
    if len(f0) < MIN_VOICED_FRAMES:
        return None
    return round(semitones(float(np.median(f0))), 3)
