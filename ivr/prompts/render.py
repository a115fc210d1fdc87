"""Rendering prompts with pyttsx3 in a supervised worker process.

The request process never imports pyttsx3 (see :mod:`ivr.prompts._worker`).
A :class:`Renderer` owns one worker process started with the ``spawn``
context (no inherited locks or espeak state from a forked parent), sends it
one prompt at a time and waits at most ``timeout`` seconds. A worker that
hangs or dies is killed and replaced, the prompt is retried once on the
fresh worker, and if it fails again it is reported as failed: a build always
finishes.
"""

from __future__ import annotations

import logging
import multiprocessing
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.errors import PromptError
from ivr.prompts import _worker
from ivr.prompts.audio import TelephoneAudio, convert_file, is_silent
from ivr.prompts.spec import PromptSpec
from ivr.prompts.voices import VoiceInfo

log = logging.getLogger(__name__)

#: Speaking rate (words per minute) when a prompt names none. espeak's own
#: default (175-200) is brisk for callers; IVR prompts are read a bit slower.
#: Changing it changes the audio of unchanged specs: bump FORMAT_VERSION too.
DEFAULT_RATE = 165

#: Seconds one prompt may take before the worker is declared hung.
DEFAULT_TIMEOUT = 20.0

ProgressCallback = Callable[[int, int, "RenderResult"], None]


@dataclass(frozen=True)
class RenderResult:
    """The outcome of rendering one prompt.

    Attributes:
        spec: the prompt asked for.
        audio: telephone audio (8 kHz mu-law), or None if rendering failed.
        voice_id: the TTS voice that spoke it.
        error: why it failed, or None.
        seconds: wall time spent on it, including retries.
        attempts: how many workers tried it.
    """

    spec: PromptSpec
    audio: TelephoneAudio | None
    voice_id: str | None = None
    error: str | None = None
    seconds: float = 0.0
    attempts: int = 1

    @property
    def ok(self) -> bool:
        """True when there is audio."""
        return self.audio is not None


class Renderer:
    """Render prompts to telephone audio in one supervised pyttsx3 worker.

    Use as a context manager (or call :meth:`close`) so the worker process
    and scratch directory go away. Thread-safe: calls are serialised, since
    one worker speaks one prompt at a time.

    Args:
        timeout: seconds one prompt may take before the worker is killed.
        start_timeout: seconds the worker may take to start its engine.
        retries: extra attempts, each on a fresh worker, after a hang, crash
            or error.
        default_rate: words per minute for specs without a rate.
        engine_factory: picklable zero-argument callable returning a
            pyttsx3-like engine, run in the worker; tests inject faults here.
    """

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, start_timeout: float = 60.0,
                 retries: int = 1, default_rate: int = DEFAULT_RATE,
                 engine_factory: Callable[[], Any] | None = None) -> None:
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.retries = retries
        self.default_rate = default_rate
        self.engine_factory = engine_factory or _worker.pyttsx3_engine
        self._ctx = multiprocessing.get_context("spawn")
        self._proc: Any = None
        self._conn: Any = None
        self._voices: list[VoiceInfo] = []
        self._job = 0
        self._lock = threading.RLock()
        self._tmp: Path | None = None
        #: How many worker processes were started (restarts included).
        self.starts = 0

    # -- lifecycle -------------------------------------------------------

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def worker_pid(self) -> int | None:
        """PID of the live worker, or None; for logs and tests."""
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    def start(self) -> None:
        """Start the worker if it is not running; a no-op otherwise.

        Raises:
            PromptError: if the TTS engine cannot start, with the install hint.
        """
        with self._lock:
            if self._proc is not None and self._proc.is_alive():
                return
            self._stop_worker()
            if self._tmp is None:
                self._tmp = Path(tempfile.mkdtemp(prefix="ivr-render-"))
            parent, child = self._ctx.Pipe(duplex=True)
            proc = self._ctx.Process(target=_worker.worker_main, name="ivr-tts-worker",
                                     args=(child, self.engine_factory, self.default_rate),
                                     daemon=True)
            proc.start()
            child.close()
            self._proc, self._conn = proc, parent
            self.starts += 1
            try:
                msg = self._recv(self.start_timeout)
            except PromptError as exc:
                self._stop_worker()
                raise PromptError(f"TTS worker did not start: {exc}") from None
            if msg[0] != "ready":
                self._stop_worker()
                raise PromptError(f"TTS engine failed to start in the worker: {msg[1]}; "
                                  "on Debian: apt-get install espeak-ng libespeak-ng1, "
                                  "pip install pyttsx3")
            self._voices = list(msg[2])
            log.debug("TTS worker %s ready with %d voices", proc.pid, len(self._voices))

    def close(self) -> None:
        """Stop the worker and remove the scratch directory."""
        with self._lock:
            self._stop_worker(graceful=True)
            if self._tmp is not None:
                shutil.rmtree(self._tmp, ignore_errors=True)
                self._tmp = None

    def voices(self) -> list[VoiceInfo]:
        """The voices the TTS engine offers (starts the worker if needed)."""
        self.start()
        return list(self._voices)

    def _stop_worker(self, graceful: bool = False) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if conn is not None:
            if graceful and proc is not None and proc.is_alive():
                try:
                    conn.send(("stop",))
                except (OSError, ValueError):
                    pass
            conn.close()
        if proc is not None:
            proc.join(1.0 if graceful else 0.0)
            if proc.is_alive():
                proc.kill()
                proc.join(5.0)
            proc.close()

    def _recv(self, timeout: float) -> tuple[Any, ...]:
        """Wait for one message from the worker, or raise on hang or death."""
        assert self._conn is not None and self._proc is not None
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PromptError(f"timed out after {timeout:g}s")
            try:
                if self._conn.poll(min(left, 0.25)):
                    return self._conn.recv()
            except (EOFError, OSError):
                self._proc.join(1.0)
                raise PromptError(f"TTS worker died (exit code {self._proc.exitcode})") from None
            if not self._proc.is_alive():
                raise PromptError(f"TTS worker died (exit code {self._proc.exitcode})")

    # -- rendering -------------------------------------------------------

    def render(self, spec: PromptSpec) -> RenderResult:
        """Render one prompt; never raises for a bad prompt, returns a failed result."""
        with self._lock:
            t0 = time.monotonic()
            error = "not attempted"
            attempts = 0
            for attempt in range(1 + max(0, self.retries)):
                attempts = attempt + 1
                try:
                    self.start()
                    assert self._tmp is not None
                    self._job += 1
                    raw = self._tmp / f"{self._job}.wav"
                    self._conn.send(("render", self._job, spec.normalized_text, spec.language,
                                     spec.voice, spec.rate, str(raw)))
                    msg = self._recv(self.timeout)
                    if msg[0] != "done" or msg[1] != self._job:
                        raise PromptError(f"TTS worker answered out of turn: {msg[:2]!r}")
                    if msg[3] is not None:
                        error = str(msg[3])
                        if "no TTS voice" in error:
                            break  # a configuration error: a new worker will not help
                        continue
                    try:
                        audio = convert_file(raw)
                    finally:
                        raw.unlink(missing_ok=True)
                    if is_silent(audio):
                        error = "the TTS engine rendered only silence"
                        break
                    return RenderResult(spec, audio, msg[2], None,
                                        round(time.monotonic() - t0, 3), attempts)
                except PromptError as exc:
                    error = str(exc)
                    log.warning("TTS worker failed on %r (attempt %d): %s; restarting it",
                                spec.text[:60], attempts, error)
                    self._stop_worker()
            return RenderResult(spec, None, None, error, round(time.monotonic() - t0, 3), attempts)

    def render_many(self, specs: Iterable[PromptSpec],
                    progress_cb: ProgressCallback | None = None) -> list[RenderResult]:
        """Render prompts in order; results line up with ``specs``.

        Args:
            specs: prompts to render (duplicates are rendered each time; the
                builder de-duplicates by key).
            progress_cb: called after each prompt with (done, total, result).
        """
        items = list(specs)
        results: list[RenderResult] = []
        for i, spec in enumerate(items, 1):
            res = self.render(spec)
            results.append(res)
            if progress_cb is not None:
                progress_cb(i, len(items), res)
        return results
