"""A recogniser whose decodes run in a worker process, so they never stall the calls' threads.

Why: pocketsphinx's Python binding holds the GIL for the whole of
``process_raw``. Measured on this box: a thread counting in a loop ran at
27 % of its speed while another thread decoded menu answers back to back.
In the server every streamed call has two threads (the websocket reader and
its media loop), so each 50-250 ms decode froze the VAD of every other call:
at 40 concurrent calls a turn ended at the 250 ms pause still reached the
caller 530 ms (p50) after their last word, against 350 ms with one call.
Decoding in another process takes that work off the web process's GIL; the
audio (a few tens of kB per utterance) and the hypothesis cross a pipe in
well under a millisecond.

The worker process loads its own recogniser (the same backend and model the
process would have used in-line) once, at start. Recognition stays
deterministic: every utterance starts from the decoder's fixed initial
state in whichever process decodes it. A worker that dies breaks the pool;
the utterance in flight becomes a :class:`~ivr.errors.SpeechError` (the
transport's no-match, never silence) and the next one starts a fresh pool.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Optional

from ivr.errors import SpeechError
from ivr.speech.asr.base import Hypothesis, Recognizer
from ivr.speech.grammar import Grammar

PARENT_POLL_S = 0.5
"""How often a worker process checks that the process that started it is still alive."""

DECODE_TIMEOUT_S = 30.0
"""Longest wait for one decode in the worker (a hung worker is a no-match, then a new pool)."""

_WORKER: Optional[Recognizer] = None
_WORKER_ERROR: Optional[str] = None


def _init_worker(backend: Optional[str], vosk_model: Optional[str], whisper_model: Optional[str],
                 whisper_threads: Optional[int]) -> None:
    global _WORKER, _WORKER_ERROR
    from ivr.speech.asr import get_recognizer
    _exit_with_parent(os.getppid())
    try:
        _WORKER = get_recognizer(backend, vosk_model, whisper_model, whisper_threads)
    except Exception as exc:  # noqa: BLE001 - reported by _describe, with the backend's own fix
        _WORKER_ERROR = str(exc)


def _exit_with_parent(parent: int) -> None:
    """End this worker process soon after its parent is gone, however the parent died.

    Why: a server killed by SIGTERM while it warms (before gunicorn installs
    its handlers) or by SIGKILL never shuts its pool down; the orphaned worker
    would finish its queue of warm-ups and keep the server's stdout open, so
    a supervisor (or ``communicate()``) waiting for that pipe to close hangs.
    ``prctl(PR_SET_PDEATHSIG)`` is no use here: it fires when the *thread*
    that started the worker exits, and pools are started from short-lived
    warm-up threads.
    """
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(0)

    threading.Thread(target=watch, name="ivr-asr-parent-watch", daemon=True).start()


def _describe() -> tuple[str, int, Optional[str]]:
    if _WORKER is None:
        raise SpeechError(_WORKER_ERROR or "the recogniser did not load in the worker process")
    return _WORKER.name, _WORKER.sample_rate, getattr(_WORKER, "model", None)


def _decode(grammar: Optional[Grammar], audio: bytes) -> Hypothesis:
    assert _WORKER is not None
    session = _WORKER.start(grammar)
    if audio:
        session.accept(audio)
    return session.finish()


def _warm(grammar: Optional[Grammar]) -> None:
    assert _WORKER is not None
    warm = getattr(_WORKER, "warm", None)
    if warm is not None:
        warm(grammar)
    else:
        _decode(grammar, b"\x00\x00" * 800)


class ProcessRecognizer:
    """The configured backend, decoding in ``processes`` worker processes (see the module notes).

    Args:
        backend, vosk_model, whisper_model, whisper_threads: as for
            :func:`ivr.speech.asr.get_recognizer`, evaluated in the worker.
        processes: worker processes (each holds one loaded recogniser).

    Raises:
        SpeechError: the worker could not load the recogniser (its message says why).
    """

    def __init__(self, backend: Optional[str] = None, vosk_model: Optional[str] = None,
                 whisper_model: Optional[str] = None, whisper_threads: Optional[int] = None,
                 processes: int = 1) -> None:
        self._args = (backend, vosk_model, whisper_model, whisper_threads)
        self.processes = max(1, processes)
        self._lock = threading.Lock()
        self._pool: Optional[ProcessPoolExecutor] = None
        self._pid = os.getpid()
        self.restarts = 0
        self._grammars: dict[Any, Optional[Grammar]] = {}
        pool = self._current()
        try:
            self.name, self.sample_rate, self.model = pool.submit(_describe).result(timeout=120)
        except SpeechError:
            self.close()
            raise
        except Exception as exc:  # noqa: BLE001 - a worker that cannot start is a configuration error
            self.close()
            raise SpeechError(f"the recogniser's worker process failed to start: {exc}") from exc

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pid != os.getpid():
                # A forked server worker: the parent's pool (its threads, its pipes) is not ours.
                self._pool, self._pid = None, os.getpid()
            if self._pool is None:
                # spawn, not fork: the web process has threads (a forked lock may be held forever).
                self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_init_worker, initargs=self._args)
            return self._pool

    def _call(self, fn: Any, *args: Any) -> Any:
        pool = self._current()
        try:
            return pool.submit(fn, *args).result(timeout=DECODE_TIMEOUT_S)
        except SpeechError:
            raise
        except Exception as exc:  # noqa: BLE001 - broken or hung worker: this utterance is a no-match
            self._discard(pool)
            raise SpeechError(f"recognition in the worker process failed ({type(exc).__name__}); "
                              "the next utterance uses a new worker") from exc

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
                self.restarts += 1
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:   # a hung worker would otherwise live on
            if proc.is_alive():
                proc.kill()

    def start(self, grammar: Optional[Grammar]) -> "ProcessSession":
        # Remembered for after_fork (the grammars a server worker's own process must warm).
        self._grammars.setdefault(grammar.key if grammar is not None else None, grammar)
        return ProcessSession(self, grammar)

    def warm(self, grammar: Optional[Grammar]) -> None:
        """Have the worker build what ``grammar`` needs (decoders), off the call path.

        One job per process; with several processes the pool may hand two to one of them.
        """
        self._grammars.setdefault(grammar.key if grammar is not None else None, grammar)
        pool = self._current()
        try:
            futures = [pool.submit(_warm, grammar) for _ in range(self.processes)]
        except RuntimeError as exc:  # shut down under us: the interpreter is exiting (a stop during warm-up)
            raise SpeechError(f"the recogniser's worker process is shutting down ({exc})") from None
        for f in futures:
            try:
                f.result(timeout=120)
            except BrokenProcessPool:
                self._discard(pool)
                raise SpeechError("the recogniser's worker process died while warming") from None

    def after_fork(self) -> None:
        """In a forked server worker: start this process's own worker and warm every grammar warmed before.

        The parent's worker process (and its pipes) cannot serve a forked child;
        blocks until the new worker is loaded and warm (run it off the request path).
        """
        self._current()
        for grammar in list(self._grammars.values()):
            self.warm(grammar)

    def close(self, wait: bool = False) -> None:
        """Stop the worker process; ``wait``: until it has exited and been reaped.

        Before a fork (``serve``'s master), wait: a worker process still on
        multiprocessing's list of children would be "joined" by every forked
        server worker at its exit, which only the parent may do.
        """
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)


class ProcessSession:
    """One utterance: audio kept here, decoded in the worker at :meth:`finish`."""

    def __init__(self, owner: ProcessRecognizer, grammar: Optional[Grammar]) -> None:
        self._owner = owner
        self._grammar = grammar
        self._audio = bytearray()
        self._done = False

    def accept(self, pcm16_at_8k: bytes) -> None:
        if self._done:
            raise SpeechError("recognition session already finished")
        self._audio.extend(pcm16_at_8k)

    def finish(self) -> Hypothesis:
        if self._done:
            raise SpeechError("recognition session already finished")
        self._done = True
        return self._owner._call(_decode, self._grammar, bytes(self._audio))
