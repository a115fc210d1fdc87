"""A pyttsx3 engine that misbehaves on cue, to prove the worker is supervised.

Lives in an importable module because the render worker is started with the
``spawn`` context and must import the engine factory by name.

Cues in the prompt text:
    HANG       runAndWait never returns.
    CRASH      the worker process dies at once (as a C crash would).
    HANGONCE   hangs the first time only (a marker file under
               $IVR_TEST_FAULT_DIR remembers), then speaks normally.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ivr.prompts._worker import pyttsx3_engine


class FaultyEngine:
    """Wraps a real pyttsx3 engine and injects faults by prompt text."""

    def __init__(self) -> None:
        self._engine = pyttsx3_engine()
        self._text = ""

    @property
    def proxy(self) -> Any:
        """The real engine's driver proxy (the worker looks at its driver)."""
        return self._engine.proxy

    def getProperty(self, name: str) -> Any:  # noqa: N802 - pyttsx3's API
        return self._engine.getProperty(name)

    def setProperty(self, name: str, value: Any) -> None:  # noqa: N802
        self._engine.setProperty(name, value)

    def save_to_file(self, text: str, path: str) -> None:
        self._text = text
        self._engine.save_to_file(text, path)

    def runAndWait(self) -> None:  # noqa: N802
        if "HANGONCE" in self._text:
            marker = Path(os.environ["IVR_TEST_FAULT_DIR"]) / "hung-once"
            if not marker.exists():
                marker.touch()
                time.sleep(3600)
        elif "HANG" in self._text:
            time.sleep(3600)
        if "CRASH" in self._text:
            os._exit(3)
        self._engine.runAndWait()


def faulty_engine() -> FaultyEngine:
    """Engine factory for :class:`ivr.prompts.render.Renderer`."""
    return FaultyEngine()


def broken_engine() -> Any:
    """An engine factory that cannot start at all."""
    raise RuntimeError("no speech engine here")
