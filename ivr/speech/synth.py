"""Synthesised caller speech for tests and benchmarks.

No recordings of real callers ship with the project, so tests speak with
Debian's ``flite`` and ``espeak-ng`` voices, then degrade the audio the way
a phone call does: 8 kHz, mu-law, optional noise. Results are cached under
``.cache/speech/`` (ignored by git) because synthesis dominates test time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ivr.errors import SpeechError
from ivr.speech.codec import PHONE_RATE, phone_line, read_wav, write_wav

__all__ = ["synthesize", "write_wav", "write_cached", "add_noise", "cache_dir", "VOICES"]

VOICES: tuple[str, ...] = (
    "flite:kal", "flite:awb", "flite:rms", "flite:slt",
    "espeak:en-us", "espeak:en-us+m3", "espeak:en+f2", "espeak:en-gb+m1",
)
"""Voices known to work on the project's machines."""

_BABBLE_TEXT = (
    "the meeting moved to thursday afternoon because the room was booked",
    "she bought apples and a loaf of bread at the corner shop",
    "traffic on the bridge was slow again this morning",
    "we should paint the fence before the summer holidays start",
)
_CACHE_VERSION = "1"


def cache_dir() -> Path:
    """Where synthesised audio is cached: ``$IVR_SPEECH_CACHE`` or ``.cache/speech``."""
    return Path(os.environ.get("IVR_SPEECH_CACHE", ".cache/speech"))


def synthesize(text: str, voice: str = "flite:kal", *, snr_db: float | None = None,
               noise: str = "white", lead_ms: int = 0, trail_ms: int = 0,
               seed: int = 0, phone: bool = True, rate_wpm: int | None = None) -> bytes:
    """Speak ``text`` and return it as 8 kHz pcm16, as heard over a phone line.

    Args:
        text: what to say.
        voice: ``flite:<voice>`` (kal, awb, rms, slt) or ``espeak:<voice>``
            (any espeak-ng voice, with ``+variant``).
        snr_db: add noise at this signal-to-noise ratio (None: clean).
        noise: ``white`` or ``babble`` (other voices talking, time-reversed
            so they are not intelligible words).
        lead_ms: silence before the speech.
        trail_ms: silence after the speech.
        seed: noise seed, so the same arguments give the same audio.
        phone: pass through mu-law encode/decode (on by default).
        rate_wpm: speaking rate for espeak voices (words per minute).

    Raises:
        SpeechError: the voice is unknown or the synthesiser is not installed.
    """
    key = json.dumps([_CACHE_VERSION, text, voice, snr_db, noise, lead_ms, trail_ms, seed,
                      phone, rate_wpm])
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    path = cache_dir() / f"{digest}.pcm"
    if path.exists():
        return path.read_bytes()
    pcm = _speak(text, voice, rate_wpm)
    if snr_db is not None:
        pcm = add_noise(pcm, snr_db, noise, seed)
    silence = lambda ms: b"\x00\x00" * (PHONE_RATE * ms // 1000)  # noqa: E731
    pcm = silence(lead_ms) + pcm + silence(trail_ms)
    if snr_db is not None and (lead_ms or trail_ms):
        # Noise continues through the silences, as line noise would; the
        # level is the one computed against the speech.
        pcm = _noise_under(pcm, pcm[len(silence(lead_ms)):len(pcm) - len(silence(trail_ms))],
                           snr_db, noise, seed, lead_ms, trail_ms)
    if phone:
        pcm = phone_line(pcm)
    write_cached(path, pcm)
    return pcm


def write_cached(path: Path, data: bytes) -> None:
    """Write a cache file atomically, so parallel test workers never read half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def add_noise(pcm: bytes, snr_db: float, kind: str = "white", seed: int = 0) -> bytes:
    """Mix noise into pcm16 at ``snr_db`` relative to the signal's power."""
    sig = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if not len(sig):
        return pcm
    noise = _make_noise(len(sig), kind, seed)
    p_sig = float(np.mean(sig ** 2)) or 1.0
    p_noise = float(np.mean(noise ** 2)) or 1.0
    noise *= np.sqrt(p_sig / (p_noise * 10 ** (snr_db / 10)))
    return np.clip(sig + noise, -32768, 32767).astype("<i2").tobytes()


def _noise_under(pcm: bytes, speech: bytes, snr_db: float, kind: str, seed: int,
                 lead_ms: int, trail_ms: int) -> bytes:
    sig = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    ref = np.frombuffer(speech, dtype="<i2").astype(np.float64)
    p_sig = float(np.mean(ref ** 2)) if len(ref) else 1.0
    lead = PHONE_RATE * lead_ms // 1000
    trail = PHONE_RATE * trail_ms // 1000
    for start, n in ((0, lead), (len(sig) - trail, trail)):
        if n <= 0:
            continue
        noise = _make_noise(n, kind, seed + start + 1)
        noise *= np.sqrt(p_sig / ((float(np.mean(noise ** 2)) or 1.0) * 10 ** (snr_db / 10)))
        sig[start:start + n] += noise
    return np.clip(sig, -32768, 32767).astype("<i2").tobytes()


def _make_noise(n: int, kind: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "white":
        return rng.standard_normal(n)
    if kind == "babble":
        out = np.zeros(n)
        voices = ("flite:awb", "flite:slt", "espeak:en-us+f3", "espeak:en+m2")
        for i, (text, v) in enumerate(zip(_BABBLE_TEXT, voices)):
            talk = np.frombuffer(synthesize(text, v, phone=False), dtype="<i2")[::-1]
            talk = talk.astype(np.float64)
            talk /= np.sqrt(np.mean(talk ** 2)) or 1.0
            reps = np.tile(talk, n // len(talk) + 2)
            off = int(rng.integers(0, len(talk)))
            out += reps[off:off + n]
        return out
    raise SpeechError(f"unknown noise kind {kind!r}; use 'white' or 'babble'")


def _speak(text: str, voice: str, rate_wpm: int | None) -> bytes:
    engine, _, name = voice.partition(":")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        if engine == "flite":
            cmd = [_tool("flite"), "-voice", name or "kal", "-t", text, "-o", str(out)]
        elif engine == "espeak":
            cmd = [_tool("espeak-ng"), "-v", name or "en-us", "-w", str(out)]
            if rate_wpm:
                cmd += ["-s", str(rate_wpm)]
            cmd.append(text)
        else:
            raise SpeechError(
                f"unknown voice {voice!r}; use 'flite:kal|awb|rms|slt' or 'espeak:<voice>'")
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if proc.returncode != 0 or not out.exists():
            raise SpeechError(f"{' '.join(cmd[:3])} failed: {proc.stderr.strip()[:300]}")
        return read_wav(out, PHONE_RATE)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SpeechError(f"{name} is not installed; install it with 'apt-get install {name}'")
    return path
