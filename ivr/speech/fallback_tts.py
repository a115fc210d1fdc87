"""Stream audio for prompts that have no rendered audio yet.

Inside a media stream there is no ``<Say>``: when the prompt layer has no
file for a text (``prompts build`` not run, a new slot value), the caller
must still hear it. This renders the text with ``flite`` (English) or
``espeak-ng`` (other languages) in a short-lived subprocess -- never pyttsx3,
which hangs when reused on the request path -- converts it to 8 kHz mu-law
and keeps a bounded in-memory cache. The prompt layer's background renderer
is asked (by the resolver) to render the proper audio for next time.
If neither synthesiser is installed, a short tone stands in and the gap is
logged.
"""

from __future__ import annotations

import collections
import logging
import math
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from ivr.speech.codec import PHONE_RATE, pcm16_to_ulaw, read_wav

log = logging.getLogger(__name__)

FRAME_BYTES = 160

__all__ = ["FallbackVoice", "tone_frames"]


def tone_frames(ms: int = 300, hz: float = 440.0) -> list[bytes]:
    """A short beep, as mu-law frames (the last resort)."""
    import struct
    n = PHONE_RATE * ms // 1000
    pcm = b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * hz * i / PHONE_RATE))) for i in range(n))
    return _frames(pcm16_to_ulaw(pcm))


def _frames(ulaw: bytes) -> list[bytes]:
    out = [ulaw[i:i + FRAME_BYTES] for i in range(0, len(ulaw), FRAME_BYTES)]
    if out and len(out[-1]) < FRAME_BYTES:
        out[-1] = out[-1].ljust(FRAME_BYTES, b"\xff")
    return out


class FallbackVoice:
    """Text -> mu-law frames with a local synthesiser, cached (bounded)."""

    def __init__(self, max_items: int = 256, timeout: float = 10.0) -> None:
        self.max_items = max_items
        self.timeout = timeout
        self._cache: collections.OrderedDict[tuple[str, str], list[bytes]] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    def frames(self, text: str, language: str = "en-US") -> list[bytes]:
        key = (text, language)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        frames = self._render(text, language)
        with self._lock:
            self._cache[key] = frames
            while len(self._cache) > self.max_items:
                self._cache.popitem(last=False)
        return frames

    def _render(self, text: str, language: str) -> list[bytes]:
        lang = (language or "en-US").split("-")[0].lower()
        flite, espeak = shutil.which("flite"), shutil.which("espeak-ng")
        with tempfile.TemporaryDirectory(prefix="ivr-tts-") as tmp:
            out = Path(tmp) / "p.wav"
            if lang == "en" and flite:
                cmd = [flite, "-voice", "slt", "-t", text, "-o", str(out)]
            elif espeak:
                cmd = [espeak, "-v", lang, "-w", str(out), text]
            else:
                cmd = []
            if cmd:
                try:
                    proc = subprocess.run(cmd, capture_output=True, timeout=self.timeout)
                    if proc.returncode == 0 and out.exists():
                        return _frames(pcm16_to_ulaw(read_wav(out, PHONE_RATE)))
                except (OSError, subprocess.SubprocessError, ValueError) as exc:
                    log.warning("fallback synthesis failed (%s)", type(exc).__name__)
        if language not in self._warned:
            self._warned.add(language)
            log.warning("no prompt audio and no synthesiser (flite/espeak-ng) for %s: playing a tone; "
                        "run `python -m ivr prompts build`", language)
        return tone_frames()
