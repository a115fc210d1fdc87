"""Optional layers as seen by the simulator: audio recognition and prompt timing.

The simulator works without them; when the speech or prompt layers are
installed they supply ``say_audio`` recognition and real prompt durations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional


def audio_recognizer(services: Any, base: Path) -> Optional[Callable]:
    try:
        from .speech.simulate import make_audio_recognizer
    except ImportError:
        return None
    return make_audio_recognizer(services, base)


def prompt_seconds(services: Any) -> Optional[Callable]:
    try:
        from .prompts.durations import play_seconds
    except ImportError:
        return None
    return play_seconds(services.config)
