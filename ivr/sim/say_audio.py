"""``say_audio`` for in-process simulated calls: a WAV through the live call's VAD and ASR.

The simulator (``python -m ivr simulate``) asks :func:`make_audio_recognizer`
for a function that hears a WAV file at a Listen. It runs the file through
:class:`~ivr.speech.pipeline.ListenPipeline`, the same per-listen pipeline
the media stream uses, so a script hears what a caller on the line would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

from ..engine import actions as A
from ..engine import events as E
from ..errors import SpeechError
from ..speech.asr import get_recognizer
from ..speech.pipeline import recognize_wav

__all__ = ["make_audio_recognizer"]


def _language_of(services: Any, listen: A.Listen) -> str:
    flows = getattr(services, "flows", None)
    for fid in getattr(flows, "ids", ()) or ():
        flow = flows.get(fid)
        if flow is not None and listen.node in flow.nodes:
            return flow.language
    return "en-US"


def make_audio_recognizer(services: Any, base_dir: str | Path
                          ) -> Callable[..., Optional[E.SpeechRecognized]]:
    """A ``(path, Listen) -> SpeechRecognized | None`` for the simulator.

    Args:
        services: the deployment (its config picks the ASR backend).
        base_dir: relative WAV paths are resolved against it (the script's directory).

    The recogniser is loaded on first use, once. None means the VAD heard no
    speech (the engine then gets ``NoInput``); an utterance outside the grammar
    is ``SpeechRecognized("")``, a no-match.
    """
    base = Path(base_dir)
    loaded: list[Any] = []

    def recognizer() -> Any:
        if not loaded:
            cfg = getattr(services, "config", None)
            loaded.append(get_recognizer(getattr(cfg, "asr_backend", None), getattr(cfg, "vosk_model", None),
                                          getattr(cfg, "whisper_model", None), getattr(cfg, "whisper_threads", None)))
        return loaded[0]

    def hear(path: str, listen: A.Listen,
             on_voiced_frame: Optional[Callable[[bytes], None]] = None) -> Optional[E.SpeechRecognized]:
        p = Path(path)
        if not p.is_absolute():
            p = base / p
        if not p.is_file():
            raise SpeechError(f"say_audio: no such file {p} (paths are relative to the script's directory)")
        rec = recognizer()
        hyp = recognize_wav(p, listen, rec, _language_of(services, listen), on_voiced_frame=on_voiced_frame)
        if hyp is None:
            return None
        clock = getattr(getattr(services, "driver", None), "clock", None)
        return E.SpeechRecognized(hyp.text, hyp.confidence, at=clock() if clock else 0.0, backend=hyp.backend)

    return hear
