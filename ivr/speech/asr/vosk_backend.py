"""Vosk (Kaldi) recogniser: the backend for real deployments.

The model is loaded once per process and shared; each utterance gets its own
``KaldiRecognizer``. Phone audio (8 kHz) is upsampled to the model rate
because vosk only downsamples. Grammars are passed as a JSON phrase list
with ``"[unk]"`` appended: without it vosk forces every utterance onto some
phrase and reports confidence 1.0.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from ivr.errors import SpeechError
from ivr.speech.asr.base import Hypothesis
from ivr.speech.codec import PHONE_RATE, StreamResampler
from ivr.speech.grammar import Grammar, normalize

_MODELS: dict[str, Any] = {}
_LOCK = threading.Lock()

MISSING_MODEL_HELP = ("download one with 'python -m ivr models download NAME' "
                      "or set IVR_VOSK_MODEL to an unpacked vosk model directory")


def load_model(path: str | os.PathLike[str]) -> Any:
    """Load (once per process) and return the vosk model at ``path``.

    Raises:
        SpeechError: vosk is not installed or the directory is not a model.
    """
    key = str(Path(path).resolve())
    with _LOCK:
        model = _MODELS.get(key)
        if model is not None:
            return model
        p = Path(key)
        if not p.is_dir() or not (p / "am").is_dir() or not (p / "conf").is_dir():
            raise SpeechError(f"no vosk model at {path} (expected am/ and conf/ inside); "
                              f"{MISSING_MODEL_HELP}")
        try:
            import vosk
        except ImportError as exc:  # pragma: no cover - vosk is a requirement
            raise SpeechError("vosk is not installed; pip install vosk") from exc
        vosk.SetLogLevel(-1)
        model = vosk.Model(key)
        _MODELS[key] = model
        return model


def loaded_models() -> tuple[str, ...]:
    """Paths of the models loaded so far (lets tests check 'loaded once')."""
    with _LOCK:
        return tuple(_MODELS)


class VoskRecognizer:
    """Recogniser over a vosk model directory.

    Args:
        model_path: directory of an unpacked vosk model.
        sample_rate: rate the model expects (16000 for all current models).
        min_confidence: mean word confidence below which a result is no-match.
    """

    name = "vosk"

    def __init__(self, model_path: str | os.PathLike[str], sample_rate: int = 16000,
                 min_confidence: float = 0.5) -> None:
        self.model_path = str(model_path)
        self.sample_rate = sample_rate
        self.min_confidence = min_confidence
        self._model = load_model(model_path)

    def start(self, grammar: Grammar | None) -> "VoskSession":
        """Create a fresh ``KaldiRecognizer`` for one utterance."""
        import vosk

        if grammar is not None and grammar.phrases:
            phrases = list(grammar.phrases) + ["[unk]"]
            rec = vosk.KaldiRecognizer(self._model, float(self.sample_rate), json.dumps(
                phrases, ensure_ascii=False))
        else:
            rec = vosk.KaldiRecognizer(self._model, float(self.sample_rate))
        rec.SetWords(True)
        return VoskSession(rec, self, grammar)


class VoskSession:
    """One utterance on vosk: streams upsampled audio into the recogniser."""

    def __init__(self, rec: Any, owner: VoskRecognizer, grammar: Grammar | None) -> None:
        self._rec = rec
        self._owner = owner
        self._grammar = grammar
        self._resampler = StreamResampler(PHONE_RATE, owner.sample_rate)
        self._finals: list[dict[str, Any]] = []
        self._done = False

    def accept(self, pcm16_at_8k: bytes) -> None:
        """Feed 8 kHz pcm16; vosk decodes as it goes, so finish() is quick."""
        if self._done:
            raise SpeechError("recognition session already finished")
        data = self._resampler.process(pcm16_at_8k)
        if data and self._rec.AcceptWaveform(data):
            self._finals.append(json.loads(self._rec.Result()))

    def finish(self) -> Hypothesis:
        """Flush and score: words marked ``[unk]`` or below threshold mean no match."""
        if self._done:
            raise SpeechError("recognition session already finished")
        self._done = True
        tail = self._resampler.flush()
        if tail:
            self._rec.AcceptWaveform(tail)
        self._finals.append(json.loads(self._rec.FinalResult()))
        words = [w for r in self._finals for w in r.get("result", [])]
        text = " ".join(r.get("text", "") for r in self._finals).strip()
        raw = text
        if not words:
            return Hypothesis("", 0.0, "vosk", raw)
        conf = sum(float(w.get("conf", 0.0)) for w in words) / len(words)
        if any(w.get("word") == "[unk]" for w in words):
            return Hypothesis("", min(conf, 0.1), "vosk", raw)
        text = normalize(text)
        if self._grammar is not None and self._grammar.phrases and not self._grammar.digits \
                and text not in self._grammar.phrases:
            return Hypothesis("", min(conf, 0.1), "vosk", raw)
        if conf < self._owner.min_confidence:
            return Hypothesis("", conf, "vosk", raw)
        return Hypothesis(text, conf, "vosk", raw)
