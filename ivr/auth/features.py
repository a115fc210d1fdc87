"""resemblyzer's audio front end, reproduced with numpy, soxr and webrtcvad (no librosa, no torch).

The GE2E encoder was trained on exactly this preprocessing, so it is copied
step by step rather than approximated: 16 kHz (soxr HQ, what librosa's
default resampler is), volume raised to -30 dBFS (never lowered), long
silences cut with webrtcvad (mode 3, 30 ms windows, smoothed over 8 windows
and dilated by 6), then a power mel spectrogram (25 ms Hann window, 10 ms
hop, 40 Slaney mels, centred frames with zero padding). A test checks the
result against resemblyzer itself.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import soxr
import webrtcvad

__all__ = ["SAMPLE_RATE", "HOP", "preprocess", "mel_frames", "voiced_seconds"]

SAMPLE_RATE = 16_000
"""The encoder's sample rate (our phone audio is 8 kHz and is upsampled)."""
N_FFT = 400      # 25 ms
HOP = 160        # 10 ms
N_MELS = 40
_VAD_WINDOW = 480  # 30 ms at 16 kHz
_VAD_SMOOTH = 8
_VAD_MAX_SILENCE = 6
_TARGET_DBFS = -30.0
_INT16_MAX = 32767


def to_float(pcm: bytes) -> np.ndarray:
    """pcm16 bytes as float32 in [-1, 1), the scale librosa loads WAV files at."""
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def preprocess(pcm: bytes, rate: int = 8000) -> tuple[np.ndarray, float]:
    """The waveform the encoder hears, and the net speech in it.

    Args:
        pcm: mono pcm16 bytes.
        rate: their sample rate (8 kHz from the phone line).

    Returns:
        ``(wav, net_speech_s)``: float32 at 16 kHz, volume-normalised, long
        silences removed; and the seconds of 30 ms windows webrtcvad judged
        voiced (before smoothing, so pauses between words do not count).
    """
    wav = to_float(pcm)
    if rate != SAMPLE_RATE and len(wav):
        wav = soxr.resample(wav, rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
    if not len(wav):
        return wav, 0.0
    wav = _normalize_volume(wav)
    return _trim_long_silences(wav)


def _normalize_volume(wav: np.ndarray) -> np.ndarray:
    rms = float(np.sqrt(np.mean((wav.astype(np.float64) * _INT16_MAX) ** 2)))
    if rms <= 0:
        return wav
    change = _TARGET_DBFS - 20 * np.log10(rms / _INT16_MAX)
    return wav if change < 0 else (wav * (10 ** (change / 20))).astype(np.float32)


def _trim_long_silences(wav: np.ndarray) -> tuple[np.ndarray, float]:
    wav = wav[:len(wav) - len(wav) % _VAD_WINDOW]
    if not len(wav):
        return wav, 0.0
    pcm = np.round(wav * _INT16_MAX).astype(np.int16).tobytes()
    vad = webrtcvad.Vad(3)
    step = _VAD_WINDOW * 2
    flags = np.array([vad.is_speech(pcm[i:i + step], SAMPLE_RATE) for i in range(0, len(pcm), step)], dtype=float)
    width = _VAD_SMOOTH
    padded = np.concatenate((np.zeros((width - 1) // 2), flags, np.zeros(width // 2)))
    avg = np.cumsum(padded, dtype=float)
    avg[width:] = avg[width:] - avg[:-width]
    mask = np.round(avg[width - 1:] / width).astype(bool)
    if mask.any():  # scipy's binary_dilation with a centred run of 7 windows
        idx = np.flatnonzero(mask)
        dil = np.zeros_like(mask)
        half = (_VAD_MAX_SILENCE + 1) // 2
        for d in range(-half, _VAD_MAX_SILENCE + 1 - half):
            j = idx + d
            dil[j[(j >= 0) & (j < len(mask))]] = True
        mask = dil
    net = float(flags.sum()) * _VAD_WINDOW / SAMPLE_RATE
    return wav[np.repeat(mask, _VAD_WINDOW)], net


def voiced_seconds(pcm: bytes, rate: int = 8000) -> float:
    """Net speech of pcm16 audio: what :func:`preprocess` would report, without the spectrum."""
    return preprocess(pcm, rate)[1]


@lru_cache(maxsize=1)
def _mel_basis() -> np.ndarray:
    """librosa.filters.mel(sr=16000, n_fft=400, n_mels=40): Slaney scale, Slaney area norm."""
    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        f = np.asanyarray(f, dtype=np.float64)
        mel = f / (200.0 / 3)
        log_t = f >= 1000.0
        return np.where(log_t, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        m = np.asanyarray(m, dtype=np.float64)
        f = m * (200.0 / 3)
        return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), f)

    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, 1 + N_FFT // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    weights = np.zeros((N_MELS, len(fft_freqs)))
    for i in range(N_MELS):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:N_MELS + 2] - mel_f[:N_MELS]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    n = np.arange(N_FFT)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)).astype(np.float32)  # periodic Hann


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """Power mel spectrogram, one row per 10 ms frame: shape ``(1 + len(wav) // 160, 40)``, float32."""
    padded = np.pad(wav.astype(np.float32), (N_FFT // 2, N_FFT // 2))
    n = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(padded, shape=(n, N_FFT),
                                             strides=(padded.strides[0] * HOP, padded.strides[0]))
    spec = np.fft.rfft(frames * _window(), axis=1)
    power = (spec.real ** 2 + spec.imag ** 2).astype(np.float32)
    return power @ _mel_basis().T
