"""Audio format conversions for the telephone leg.

Twilio Media Streams carry 8 kHz G.711 mu-law; recognisers want 16-bit linear
PCM, often at 16 kHz. Everything that changes sample format or rate goes
through this module so that the rest of the speech layer can assume one
representation: mono, little-endian, signed 16-bit PCM ("pcm16").
"""

from __future__ import annotations

import io
import warnings
import wave
from pathlib import Path

import numpy as np
import soxr

from ivr.errors import SpeechError

with warnings.catch_warnings():
    # audioop is deprecated in 3.11 and gone in 3.13, where the audioop-lts
    # backport provides the same module name.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

PHONE_RATE = 8000
"""Sample rate of the telephone leg (Twilio Media Streams), in Hz."""

SAMPLE_WIDTH = 2
"""Bytes per pcm16 sample."""


def ulaw_to_pcm16(data: bytes) -> bytes:
    """Decode G.711 mu-law bytes to pcm16 (one sample per input byte)."""
    return audioop.ulaw2lin(data, SAMPLE_WIDTH)


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    """Encode pcm16 to G.711 mu-law, as Twilio expects outbound audio."""
    _check_even(pcm)
    return audioop.lin2ulaw(pcm, SAMPLE_WIDTH)


def phone_line(pcm: bytes) -> bytes:
    """Pass 8 kHz pcm16 through mu-law and back, as a phone call would.

    Tests use this so that recognisers hear the same quantisation noise as on
    a real call rather than clean studio audio.
    """
    return ulaw_to_pcm16(pcm16_to_ulaw(pcm))


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Resample a whole pcm16 buffer in one go (for files, not streams).

    Use :class:`StreamResampler` for audio arriving in chunks: resampling each
    chunk separately restarts the filter and clicks at every boundary.
    """
    _check_even(pcm)
    if from_rate == to_rate or not pcm:
        return pcm
    samples = np.frombuffer(pcm, dtype="<i2")
    out = soxr.resample(samples, from_rate, to_rate, quality="HQ")
    return np.asarray(out, dtype="<i2").tobytes()


class StreamResampler:
    """A resampler that keeps filter state between chunks of one stream.

    One instance per call and direction. ``process`` may return slightly
    fewer samples than the ratio suggests because the filter holds some back;
    ``flush`` returns the rest at the end of the stream.
    """

    def __init__(self, from_rate: int, to_rate: int) -> None:
        """Create a resampler from ``from_rate`` to ``to_rate`` Hz."""
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._pending = b""
        self._stream: soxr.ResampleStream | None = None
        if from_rate != to_rate:
            # float32, not int16: soxr dithers int16 output with noise from a random seed, so the
            # same call audio reached the recogniser differently each time (and decoded differently).
            self._stream = soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32",
                                               quality="HQ")

    def process(self, pcm: bytes) -> bytes:
        """Resample the next chunk; an odd trailing byte is kept for the next call."""
        pcm = self._pending + pcm
        if len(pcm) % 2:
            pcm, self._pending = pcm[:-1], pcm[-1:]
        else:
            self._pending = b""
        if self._stream is None:
            return pcm
        if not pcm:
            return b""
        out = self._stream.resample_chunk(np.frombuffer(pcm, dtype="<i2").astype(np.float32))
        return _to_pcm16(out)

    def flush(self) -> bytes:
        """Return the samples still held by the filter; the stream is then done."""
        if self._stream is None:
            return b""
        out = self._stream.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        return _to_pcm16(out)


def _to_pcm16(samples: np.ndarray) -> bytes:
    """Round and clip float samples (pcm16 scale) to little-endian pcm16, deterministically."""
    return np.clip(np.rint(samples), -32768, 32767).astype("<i2").tobytes()


def read_wav(path: str | Path, rate: int = PHONE_RATE) -> bytes:
    """Read any PCM WAV file as mono pcm16 at ``rate`` Hz.

    Accepts 8/16/24/32-bit PCM, mu-law/A-law WAVs as written by telephony
    tools are rejected with a clear message (convert with sox first).

    Raises:
        SpeechError: the file is missing or is not a PCM WAV file.
    """
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, src_rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except FileNotFoundError as exc:
        raise SpeechError(f"{path}: no such audio file") from exc
    except (wave.Error, EOFError) as exc:
        raise SpeechError(
            f"{path}: not a PCM WAV file ({exc}); convert it with "
            f"'sox {path.name} -e signed -b 16 out.wav'") from exc
    return pcm_to_mono16(frames, width, channels, src_rate, rate)


def pcm_to_mono16(frames: bytes, width: int, channels: int, src_rate: int,
                  rate: int = PHONE_RATE) -> bytes:
    """Convert interleaved linear PCM of any width/channels/rate to mono pcm16."""
    if width == 1:
        frames = audioop.bias(frames, 1, -128)  # WAV 8-bit is unsigned
    if width != SAMPLE_WIDTH:
        frames = audioop.lin2lin(frames, width, SAMPLE_WIDTH)
    if channels == 2:
        frames = audioop.tomono(frames, SAMPLE_WIDTH, 0.5, 0.5)
    elif channels > 2:
        arr = np.frombuffer(frames, dtype="<i2").reshape(-1, channels)
        frames = arr.mean(axis=1).astype("<i2").tobytes()
    return resample(frames, src_rate, rate)


def write_wav(path: str | Path, pcm: bytes, rate: int = PHONE_RATE) -> None:
    """Write mono pcm16 to a WAV file (for debugging and fixtures)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(rate)
        w.writeframes(pcm)


def wav_bytes(pcm: bytes, rate: int = PHONE_RATE) -> bytes:
    """Return mono pcm16 wrapped in an in-memory WAV file."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(rate)
        w.writeframes(pcm)
    return buf.getvalue()


def duration_ms(pcm: bytes, rate: int = PHONE_RATE) -> int:
    """Length of a pcm16 buffer in milliseconds."""
    return len(pcm) * 1000 // (SAMPLE_WIDTH * rate)


def rms_dbfs(pcm: bytes) -> float:
    """Level of a pcm16 buffer in dB relative to full scale (-inf for silence)."""
    if not pcm:
        return float("-inf")
    rms = audioop.rms(pcm, SAMPLE_WIDTH)
    return float("-inf") if rms == 0 else 20.0 * float(np.log10(rms / 32768.0))


def _check_even(pcm: bytes) -> None:
    if len(pcm) % SAMPLE_WIDTH:
        raise SpeechError(f"pcm16 buffer has an odd length ({len(pcm)} bytes)")
