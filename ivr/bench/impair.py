"""Phone-line impairments beyond noise: a mobile codec and lost packets.

Why: a caller on a mobile phone reaches the IVR through a speech codec
(GSM full-rate on 2G legs, still common on interconnects) and then through
a jittery RTP path where 20 ms packets get lost. Both damage the spectrum in
ways white or babble noise do not (codec smearing of formants; holes or
stutters in the waveform), so the speech benchmark plays them too. The
codec is sox's GSM 06.10 implementation, the reference one; packet loss is
simulated here, deterministically from a seed.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np

from ivr.errors import SpeechError
from ivr.speech.codec import PHONE_RATE

__all__ = ["gsm_full_rate", "drop_packets", "PACKET_MS"]

PACKET_MS = 20
"""RTP packetisation of a phone call (Twilio sends 20 ms of audio per media message)."""

_RAW = ["-t", "raw", "-r", str(PHONE_RATE), "-e", "signed-integer", "-b", "16", "-c", "1"]


def gsm_full_rate(pcm16: bytes) -> bytes:
    """Encode 8 kHz pcm16 with GSM 06.10 full rate (13 kbit/s) and decode it again.

    Raises:
        SpeechError: sox is not installed.
    """
    sox = shutil.which("sox")
    if sox is None:
        raise SpeechError("sox is not installed; install it with 'apt-get install sox'")
    enc = subprocess.run([sox, *_RAW, "-", "-t", "gsm", "-"], input=pcm16, capture_output=True, timeout=60)
    if enc.returncode != 0:
        raise SpeechError(f"sox GSM encode failed: {enc.stderr.decode(errors='replace')[:300]}")
    dec = subprocess.run([sox, "-t", "gsm", "-", *_RAW, "-"], input=enc.stdout, capture_output=True, timeout=60)
    if dec.returncode != 0:
        raise SpeechError(f"sox GSM decode failed: {dec.stderr.decode(errors='replace')[:300]}")
    out = dec.stdout[:len(pcm16)]
    return out + b"\x00" * (len(pcm16) - len(out))  # GSM frames are 160 samples: pad the tail back


def drop_packets(pcm16: bytes, rate: float, seed: int = 0, conceal: str = "zero") -> bytes:
    """Lose each 20 ms packet with probability ``rate``.

    Args:
        rate: loss probability per packet (0.03-0.05 is a poor but usable line).
        seed: which packets are lost, so the same arguments give the same audio.
        conceal: ``zero`` (the gap is silence: no concealment) or ``repeat``
            (the previous packet is played again, the simplest concealment).
    """
    if conceal not in ("zero", "repeat"):
        raise SpeechError(f"unknown concealment {conceal!r}; use 'zero' or 'repeat'")
    x = np.frombuffer(pcm16[:len(pcm16) // 2 * 2], dtype="<i2").copy()
    n = PHONE_RATE * PACKET_MS // 1000
    lost = np.random.default_rng(seed).random(len(x) // n) < rate
    for k in np.flatnonzero(lost):
        a = k * n
        if conceal == "repeat" and k > 0:
            x[a:a + n] = x[a - n:a]
        else:
            x[a:a + n] = 0
    return x.tobytes()
