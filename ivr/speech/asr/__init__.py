"""ASR backends behind one protocol, chosen by configuration."""

from __future__ import annotations

from ivr.errors import SpeechError
from ivr.speech.asr.base import Hypothesis, RecognitionSession, Recognizer

BACKENDS: tuple[str, ...] = ("pocketsphinx", "vosk")
"""Valid values for ``IVR_ASR_BACKEND``."""

__all__ = ["BACKENDS", "Hypothesis", "RecognitionSession", "Recognizer", "choose_backend", "get_recognizer"]


def choose_backend(name: str | None = None, vosk_model: str | None = None) -> tuple[str, str | None]:
    """Which backend configuration selects, and its model: ``("vosk", path)`` or
    ``("pocketsphinx", acoustic model dir or None for the wheel's)``; loads nothing.

    Raises:
        SpeechError: unknown backend name.
    """
    from ivr.speech.models import find_adapted, find_model

    if name is not None and name not in BACKENDS:
        raise SpeechError(f"unknown ASR backend {name!r}; valid names: {', '.join(BACKENDS)}")
    model = vosk_model or (find_model() if name in (None, "vosk") else None)
    if name == "vosk" or (name is None and model):
        return "vosk", model
    adapted = find_adapted()
    return "pocketsphinx", str(adapted) if adapted else None


def get_recognizer(name: str | None = None, vosk_model: str | None = None) -> Recognizer:
    """Return a recogniser: ``vosk`` when a model is configured or present, else pocketsphinx.

    Args:
        name: ``pocketsphinx``, ``vosk`` or None (choose automatically).
        vosk_model: path of a vosk model directory; when None,
            :func:`ivr.speech.models.find_model` looks for one.

    Raises:
        SpeechError: unknown backend name, or vosk requested without a model.
    """
    backend, model = choose_backend(name, vosk_model)
    if backend == "vosk":
        from ivr.speech.asr.vosk_backend import MISSING_MODEL_HELP, VoskRecognizer

        if not model:
            raise SpeechError(f"the vosk backend needs a model; {MISSING_MODEL_HELP}")
        return VoskRecognizer(model)
    from ivr.speech.asr.pocketsphinx_backend import PocketSphinxRecognizer

    return _shared_pocketsphinx(PocketSphinxRecognizer)


_PS: list[Recognizer] = []


def _shared_pocketsphinx(cls: type) -> Recognizer:
    # One pocketsphinx recogniser per process: it owns the decoder pools.
    if not _PS:
        _PS.append(cls())
    return _PS[0]
