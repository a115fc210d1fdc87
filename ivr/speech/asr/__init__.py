"""ASR backends behind one protocol, chosen by configuration."""

from __future__ import annotations

import threading

from ivr.errors import SpeechError
from ivr.speech.asr.base import Hypothesis, RecognitionSession, Recognizer

BACKENDS: tuple[str, ...] = ("pocketsphinx", "vosk", "whisper", "pocketsphinx+whisper")
"""Valid values for ``IVR_ASR_BACKEND``; ``pocketsphinx+whisper`` asks Whisper only when pocketsphinx is
unsure (:mod:`ivr.speech.asr.combined`)."""

__all__ = ["BACKENDS", "Hypothesis", "RecognitionSession", "Recognizer", "choose_backend", "get_recognizer"]


def choose_backend(name: str | None = None, vosk_model: str | None = None,
                   whisper_model: str | None = None) -> tuple[str, str | None]:
    """Which backend configuration selects, and its model: ``("vosk", path)``,
    ``("whisper", model dir)`` or ``("pocketsphinx", acoustic model dir or None for
    the wheel's)``; loads nothing. Whisper is used only when named (it costs ten
    times pocketsphinx's CPU per menu answer).

    Raises:
        SpeechError: unknown backend name, or a Whisper model that is not there.
    """
    from ivr.speech.models import find_adapted, find_model, find_whisper_model

    if name is not None and name not in BACKENDS:
        raise SpeechError(f"unknown ASR backend {name!r}; valid names: {', '.join(BACKENDS)}")
    if name in ("whisper", "pocketsphinx+whisper"):
        return name, str(find_whisper_model(whisper_model))
    model = vosk_model or (find_model() if name in (None, "vosk") else None)
    if name == "vosk" or (name is None and model):
        return "vosk", model
    adapted = find_adapted()
    return "pocketsphinx", str(adapted) if adapted else None


def get_recognizer(name: str | None = None, vosk_model: str | None = None,
                   whisper_model: str | None = None, whisper_threads: int | None = None) -> Recognizer:
    """Return a recogniser: ``vosk`` when a model is configured or present, else pocketsphinx;
    ``whisper`` when named.

    Args:
        name: ``pocketsphinx``, ``vosk``, ``whisper``, ``pocketsphinx+whisper`` or None (choose automatically).
        vosk_model: path of a vosk model directory; when None,
            :func:`ivr.speech.models.find_model` looks for one.
        whisper_model: Whisper model directory or name; when None, ``IVR_WHISPER_MODEL``,
            else the bundled tiny.en (:func:`ivr.speech.models.find_whisper_model`).
        whisper_threads: OpenMP threads per Whisper decode (default ``IVR_WHISPER_THREADS``, else min(2, CPUs)).

    Raises:
        SpeechError: unknown backend name, vosk requested without a model, or
            the Whisper backend's packages or model missing (with the fix).
    """
    backend, model = choose_backend(name, vosk_model, whisper_model)
    if backend == "vosk":
        from ivr.speech.asr.vosk_backend import MISSING_MODEL_HELP, VoskRecognizer

        if not model:
            raise SpeechError(f"the vosk backend needs a model; {MISSING_MODEL_HELP}")
        return VoskRecognizer(model)
    if backend == "whisper":
        return _shared_whisper(model, whisper_threads)
    from ivr.speech.asr.pocketsphinx_backend import PocketSphinxRecognizer

    if backend == "pocketsphinx+whisper":
        return _shared_combined(model, whisper_threads)
    return _shared_pocketsphinx(PocketSphinxRecognizer)


_PS: list[Recognizer] = []
_WHISPER: dict[tuple[str, int | None], Recognizer] = {}
_WHISPER_LOCK = threading.Lock()


def _shared_pocketsphinx(cls: type) -> Recognizer:
    # One pocketsphinx recogniser per process: it owns the decoder pools.
    if not _PS:
        _PS.append(cls())
    return _PS[0]


_COMBINED: dict[tuple[str, int | None], Recognizer] = {}


def _shared_combined(model: str | None, threads: int | None) -> Recognizer:
    # Its own pocketsphinx (first-pass tuning, own decoder pools) in front of a Whisper that hears
    # the menu's phrases as context, with the second pass's thresholds (whisper_backend.SECOND_PASS).
    from ivr.speech.asr.combined import CombinedRecognizer
    from ivr.speech.asr.pocketsphinx_backend import FIRST_PASS, PocketSphinxRecognizer

    from ivr.speech.asr.whisper_backend import SECOND_PASS, WhisperRecognizer

    key = (model or "", threads)
    with _WHISPER_LOCK:
        rec = _COMBINED.get(key)
        if rec is None:
            # The model itself is loaded once per process (whisper_backend.load_model) and shared.
            second = WhisperRecognizer(model, threads=threads, tuning=SECOND_PASS)
            rec = _COMBINED[key] = CombinedRecognizer(PocketSphinxRecognizer(FIRST_PASS), second)
        return rec


def _shared_whisper(model: str | None, threads: int | None) -> Recognizer:
    # One Whisper recogniser per model and process: the model is ~75 MB (tiny) to 1.5 GB and
    # CTranslate2 serves concurrent calls from one instance.
    from ivr.speech.asr.whisper_backend import WhisperRecognizer

    key = (model or "", threads)
    with _WHISPER_LOCK:
        rec = _WHISPER.get(key)
        if rec is None:
            rec = _WHISPER[key] = WhisperRecognizer(model, threads=threads)
        return rec
