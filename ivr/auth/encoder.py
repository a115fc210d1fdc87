"""The GE2E speaker encoder (resemblyzer's pretrained weights) run in numpy.

A 3-layer LSTM (256 units) over 160-frame (1.6 s) windows of 40 mel
channels, a linear layer and a ReLU give one 256-d unit vector per window;
an utterance's embedding is the unit-length mean of its windows, taken 1.3
per second as resemblyzer does. Running it in numpy keeps torch (about
870 MB) out of serving; the LSTM is a loop of 160 small matrix products per
layer, batched over windows: about 10 ms per second of audio on one core.
"""

from __future__ import annotations

import threading
from importlib import metadata
from pathlib import Path
from typing import Optional

import numpy as np

from .errors import AuthConfigError
from .features import HOP, SAMPLE_RATE, mel_frames, preprocess
from .weights import load_checkpoint

__all__ = ["SpeakerEncoder", "find_weights", "INSTALL_WEIGHTS", "EMBEDDING_DIM"]

EMBEDDING_DIM = 256
PARTIAL_FRAMES = 160
INSTALL_WEIGHTS = "pip install --no-deps Resemblyzer==0.1.4"
"""Installs the weights file only (``resemblyzer/pretrained.pt``); torch is not needed to serve."""


def find_weights(path: Optional[str | Path] = None) -> Path:
    """The encoder's weights: ``path`` if given, else the file the Resemblyzer wheel installs.

    Raises:
        AuthConfigError: no weights file, with the command that installs it.
    """
    if path:
        p = Path(path)
        if not p.is_file():
            raise AuthConfigError(f"speaker-encoder weights {p} not found; unset IVR_VOICE_AUTH_WEIGHTS to use "
                                  f"resemblyzer's, installed with: {INSTALL_WEIGHTS}")
        return p
    try:
        p = Path(str(metadata.distribution("Resemblyzer").locate_file("resemblyzer/pretrained.pt")))
    except metadata.PackageNotFoundError:
        p = None
    if p is None or not p.is_file():
        raise AuthConfigError("voice authentication (IVR_VOICE_AUTH=embedded) needs resemblyzer's GE2E weights; "
                              f"install them with: {INSTALL_WEIGHTS}  (or set IVR_VOICE_AUTH=off)")
    return p


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # no overflow warnings for large |x|


class SpeakerEncoder:
    """Turns speech into a unit-length 256-d voice embedding.

    Loaded once per process (1.4 M weights, about 0.1 s) and safe to share
    between threads: it keeps no state between calls.

    Args:
        weights: a resemblyzer checkpoint; None finds the installed one.
        rate: partial windows per second of speech (resemblyzer: 1.3).
        min_coverage: a last window this full (fraction) is zero-padded and kept.
    """

    _shared: Optional["SpeakerEncoder"] = None
    _lock = threading.Lock()

    def __init__(self, weights: Optional[str | Path] = None, rate: float = 1.3, min_coverage: float = 0.75) -> None:
        state = load_checkpoint(find_weights(weights))["model_state"]
        self.layers = []
        for k in range(3):
            w_ih = state[f"lstm.weight_ih_l{k}"].T.copy()
            w_hh = state[f"lstm.weight_hh_l{k}"].T.copy()
            bias = state[f"lstm.bias_ih_l{k}"] + state[f"lstm.bias_hh_l{k}"]
            self.layers.append((w_ih, w_hh, bias))
        self.w_out = state["linear.weight"].T.copy()
        self.b_out = state["linear.bias"].copy()
        self.rate = rate
        self.min_coverage = min_coverage

    @classmethod
    def shared(cls) -> "SpeakerEncoder":
        """One encoder per process with the installed weights (loading them is the slow part)."""
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def forward(self, mels: np.ndarray) -> np.ndarray:
        """Unit embeddings of a batch of windows, ``(B, frames, 40)`` -> ``(B, 256)`` (PyTorch's LSTM maths)."""
        x = mels.astype(np.float32)
        batch, steps, _ = x.shape
        for w_ih, w_hh, bias in self.layers:
            hidden = w_hh.shape[0]
            xw = x @ w_ih + bias                       # (B, T, 4H): the input part of every step at once
            h = np.zeros((batch, hidden), np.float32)
            c = np.zeros((batch, hidden), np.float32)
            out = np.empty((batch, steps, hidden), np.float32)
            for t in range(steps):
                g = xw[:, t] + h @ w_hh                # gates i, f, g, o (PyTorch's order)
                i = _sigmoid(g[:, :hidden])
                f = _sigmoid(g[:, hidden:2 * hidden])
                cand = np.tanh(g[:, 2 * hidden:3 * hidden])
                o = _sigmoid(g[:, 3 * hidden:])
                c = f * c + i * cand
                h = o * np.tanh(c)
                out[:, t] = h
            x = out
        emb = np.maximum(h @ self.w_out + self.b_out, 0)
        return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)

    def partial_slices(self, n_samples: int) -> list[slice]:
        """Where the 1.6 s windows of an utterance start (in mel frames), as resemblyzer cuts them."""
        n_frames = int(np.ceil((n_samples + 1) / HOP))
        step = int(np.round((SAMPLE_RATE / self.rate) / HOP))
        slices = [slice(i, i + PARTIAL_FRAMES) for i in range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step)]
        last = slices[-1]
        coverage = (n_samples - last.start * HOP) / (PARTIAL_FRAMES * HOP)
        if coverage < self.min_coverage and len(slices) > 1:
            slices = slices[:-1]
        return slices

    def embed_partials(self, wav: np.ndarray) -> np.ndarray:
        """Unit embeddings of each window of a preprocessed 16 kHz waveform, ``(n, 256)``."""
        slices = self.partial_slices(len(wav))
        need = slices[-1].stop * HOP
        if need >= len(wav):
            wav = np.pad(wav, (0, need - len(wav)))
        mel = mel_frames(wav)
        return self.forward(np.stack([mel[s] for s in slices]))

    def embed_wav(self, wav: np.ndarray) -> np.ndarray:
        """resemblyzer's ``embed_utterance``: the unit mean of the window embeddings."""
        raw = self.embed_partials(wav).mean(axis=0)
        return raw / max(float(np.linalg.norm(raw)), 1e-12)

    def embed(self, pcm: bytes, rate: int = 8000) -> tuple[np.ndarray, float]:
        """Embedding and net speech (seconds) of raw pcm16 audio, preprocessing included."""
        wav, net = preprocess(pcm, rate)
        if len(wav) < HOP:
            return np.zeros(EMBEDDING_DIM, np.float32), net
        return self.embed_wav(wav), net
