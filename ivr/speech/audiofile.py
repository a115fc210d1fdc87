"""Reading caller audio files (any common format) as 8 kHz 16-bit mono PCM.

Test and script audio arrives as WAVs of any rate, often already mu-law
(as it left a phone line), or as flac/ogg: decode with the prompt layer's
reader, mix to mono and resample to the phone rate the recognisers expect.
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import PromptError, SpeechError
from ..prompts.audio import decode_file
from .codec import resample

PHONE_RATE = 8000


def load_phone_audio(path: str | os.PathLike[str]) -> bytes:
    """Any audio file as 8 kHz mono pcm16 bytes.

    Raises:
        SpeechError: when the file cannot be read, with how to fix it.
    """
    try:
        samples, rate = decode_file(path)
    except (PromptError, OSError) as exc:
        raise SpeechError(f"{path}: cannot read audio ({exc}); use a WAV file or install sox") from exc
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    pcm = (np.clip(mono, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    return pcm if rate == PHONE_RATE else resample(pcm, rate, PHONE_RATE)
