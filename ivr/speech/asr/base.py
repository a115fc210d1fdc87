"""The recogniser protocol every ASR backend implements.

The media transport feeds caller audio (8 kHz pcm16, as decoded from the
phone line) into a :class:`RecognitionSession` while the caller speaks, and
asks for the :class:`Hypothesis` when the VAD says the utterance ended. The
engine only ever sees the hypothesis text and confidence, so backends can be
swapped by configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ivr.speech.grammar import Grammar


@dataclass(frozen=True)
class Hypothesis:
    """What a recogniser heard.

    Attributes:
        text: the recognised phrase, lower case; ``""`` means no match (the
            caller said something outside the grammar, or nothing usable).
        confidence: 0..1; backends report low values for no-match.
        backend: name of the backend that produced it (for the transcript).
        raw: backend-specific detail for debugging (free text, scores).
        hesitation: the caller only hesitated ("hmm", "um"): no answer, and
            certainly one no second recogniser needs to look for (it would force
            a short phrase onto a hum: "hmm" heard as "two").
        rejected: with ``text == ""``, the one grammar phrase the audio decoded
            to but fitted too poorly to accept. No answer either, but a whole
            one: the caller may well have finished, so the turn can end at the
            pause that ends unsure phrases, as a no-match (VoiceXML's
            ``completetimeout`` likewise applies to a complete match whether it
            is then accepted or rejected), instead of after the full silence.
    """

    text: str
    confidence: float
    backend: str
    raw: str = ""
    hesitation: bool = False
    rejected: str = ""

    @property
    def is_match(self) -> bool:
        """True when the recogniser accepted something in the grammar."""
        return bool(self.text)


@runtime_checkable
class RecognitionSession(Protocol):
    """One utterance being recognised. Not thread-safe; use from one call."""

    def accept(self, pcm16_at_8k: bytes) -> None:
        """Feed the next chunk of 8 kHz pcm16 caller audio (any length)."""

    def finish(self) -> Hypothesis:
        """End the utterance and return the result; the session is then spent."""


@runtime_checkable
class Recognizer(Protocol):
    """A loaded ASR backend, shared by all calls of the process.

    Attributes:
        name: backend name as used in configuration (``pocketsphinx``, ``vosk``).
        sample_rate: the model's native rate; sessions resample 8 kHz to it.
    """

    name: str
    sample_rate: int

    def start(self, grammar: Grammar | None) -> RecognitionSession:
        """Begin recognising one utterance, constrained to ``grammar`` if given."""
