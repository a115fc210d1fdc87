"""The render worker: the only code that touches pyttsx3, run in its own process.

Why a process: pyttsx3 keeps global driver state, can hang in ``runAndWait``
when reused carelessly, and espeak may crash in C. In a worker process a hang
or a crash costs one prompt and a restart, never the web server or the build.
One engine is created per worker and reused for every prompt, because creating
engines repeatedly in one process is exactly what makes pyttsx3 misbehave.

Messages (tuples over a :class:`multiprocessing.connection.Connection`):

- worker -> parent ``("ready", pid, voices)`` once the engine is up;
  ``("failed", error)`` if it cannot start.
- parent -> worker ``("render", job, text, language, voice, rate, out_path)``;
  worker -> parent ``("done", job, voice_id, error_or_None)``.
- parent -> worker ``("stop",)``.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from ivr.prompts.voices import VoiceInfo, choose_voice, clean_language


def pyttsx3_engine() -> Any:
    """Create the pyttsx3 engine (espeak driver on Linux); the default factory."""
    import pyttsx3  # noqa: PLC0415 - imported here so only the worker loads it

    driver = "espeak" if sys.platform.startswith("linux") else None
    return pyttsx3.init(driver)


def list_voices(engine: Any) -> list[VoiceInfo]:
    """The engine's voices as plain data (see :class:`VoiceInfo`)."""
    out = []
    for v in engine.getProperty("voices") or []:
        langs = tuple(clean_language(x) for x in (getattr(v, "languages", None) or []))
        out.append(VoiceInfo(str(v.id), str(getattr(v, "name", "") or v.id), langs))
    return out


def settle(engine: Any, timeout: float = 2.0) -> None:
    """Wait until the TTS driver has applied the properties just set.

    Why: pyttsx3's espeak driver runs espeak-ng asynchronously
    (AUDIO_OUTPUT_RETRIEVAL), where ``SetParameter`` (rate, volume) is only
    queued. ``runAndWait`` then calls ``espeak_Cancel`` while that queue is
    not empty, which drops the queued rate: measured, about a third of the
    prompts came out at the previous prompt's rate. Waiting for espeak to go
    idle first makes every prompt use its own settings.
    """
    driver = getattr(getattr(engine, "proxy", None), "_driver", None)
    if driver is None or type(driver).__module__ != "pyttsx3.drivers.espeak":
        return
    from pyttsx3.drivers import _espeak  # noqa: PLC0415 - worker only

    deadline = time.monotonic() + timeout
    while _espeak.IsPlaying() and time.monotonic() < deadline:
        time.sleep(0.002)


def _silence_stdout() -> None:
    # pyttsx3 prints "Audio saved to ..." for every file; a worker owns no
    # terminal, and a progress bar in the parent must not be scribbled over.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _exit_with_parent() -> None:
    # A worker stuck inside runAndWait never reads its pipe again, so it would
    # outlive a parent that was killed; watch the parent's sentinel instead.
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(0)

    threading.Thread(target=watch, name="ivr-tts-parent-watch", daemon=True).start()


def worker_main(conn: Any, engine_factory: Callable[[], Any], default_rate: int) -> None:
    """Serve render requests on ``conn`` until told to stop or the parent goes."""
    _silence_stdout()
    _exit_with_parent()
    try:
        engine = engine_factory()
        voices = list_voices(engine)
    except BaseException as exc:  # noqa: BLE001 - report anything, then exit
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid(), voices))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return  # parent went away
        if not msg or msg[0] == "stop":
            return
        _, job, text, language, voice, rate, out_path = msg
        try:
            chosen = choose_voice(voices, language, voice) if voices else None
            if chosen is not None:
                engine.setProperty("voice", chosen.id)
            engine.setProperty("rate", int(rate or default_rate))
            engine.setProperty("volume", 1.0)
            settle(engine)
            engine.save_to_file(text, out_path)
            engine.runAndWait()
            if not os.path.exists(out_path) or os.path.getsize(out_path) <= 44:
                raise RuntimeError("the TTS engine wrote no audio")
            conn.send(("done", job, chosen.id if chosen else None, None))
        except Exception as exc:  # noqa: BLE001 - one bad prompt must not end the worker
            conn.send(("done", job, None, f"{type(exc).__name__}: {exc}"))
