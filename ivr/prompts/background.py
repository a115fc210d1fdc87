"""Rendering whole prompts in the background while a call goes on.

Some text cannot be assembled from pre-rendered pieces (a customer's name, a
free-text value, a prompt added to a flow without a rebuild). Rendering it on
the request path would stall the call and risk pyttsx3 hanging the server, so
the request gets None at once (the transport logs that and falls back to
TwiML ``<Say>``), while one worker process renders the text for the next time
it is asked for.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable

from ivr.prompts.cache import PromptAudio, PromptCache
from ivr.prompts.render import Renderer
from ivr.prompts.spec import PromptSpec

log = logging.getLogger(__name__)


class BackgroundRenderer:
    """A queue of prompts rendered by one worker process, off the request path.

    Args:
        cache: the cache (or audio directory) to render into.
        renderer_factory: makes the :class:`Renderer` (one worker process);
            called lazily on the first request that needs rendering.
        max_pending: queue bound; beyond it requests are dropped (and logged)
            so a flood of unique texts cannot grow memory without limit.
        retry_after: seconds before a prompt that failed is tried again.
    """

    def __init__(self, cache: PromptCache | str | os.PathLike[str], *,
                 renderer_factory: Callable[[], Renderer] = Renderer,
                 max_pending: int = 200, retry_after: float = 300.0) -> None:
        self.cache = cache if isinstance(cache, PromptCache) else PromptCache(cache)
        self._factory = renderer_factory
        self._queue: queue.Queue[PromptSpec | None] = queue.Queue(maxsize=max_pending)
        self._pending: set[str] = set()
        self._failed: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._renderer: Renderer | None = None
        self._closed = False
        self.retry_after = retry_after
        #: Prompts rendered since start.
        self.rendered = 0

    def __enter__(self) -> BackgroundRenderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, spec: PromptSpec) -> PromptAudio | None:
        """The audio for ``spec`` if it exists; otherwise queue it and return None.

        Never blocks and never renders in the calling thread.
        """
        audio = self.cache.lookup(spec)
        if audio is not None:
            return audio
        key = spec.key
        with self._lock:
            if self._closed or key in self._pending:
                return None
            failed = self._failed.get(key)
            if failed and time.monotonic() - failed[0] < self.retry_after:
                return None
            try:
                self._queue.put_nowait(spec)
            except queue.Full:
                log.warning("background render queue full; not rendering %r", spec.text[:60])
                return None
            self._pending.add(key)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ivr-tts-background",
                                                daemon=True)
                self._thread.start()
        log.info("prompt %s not rendered yet; queued for background rendering: %r",
                 key, spec.text[:60])
        return None

    def error(self, spec: PromptSpec) -> str | None:
        """Why the last background render of ``spec`` failed, if it did."""
        with self._lock:
            failed = self._failed.get(spec.key)
        return failed[1] if failed else None

    @property
    def pending(self) -> int:
        """Prompts queued or being rendered."""
        with self._lock:
            return len(self._pending)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is pending (for tests and shutdown); False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending, timeout)

    def close(self) -> None:
        """Stop the thread and the worker process; queued prompts are dropped."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            while True:  # make room for the sentinel even if the queue is full
                try:
                    self._queue.put_nowait(None)
                    break
                except queue.Full:
                    try:
                        self._queue.get_nowait()
                    except queue.Empty:
                        pass
            thread.join()
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def _run(self) -> None:
        while True:
            spec = self._queue.get()
            if spec is None or self._closed:
                break
            try:
                if self._renderer is None:
                    self._renderer = self._factory()
                res = self._renderer.render(spec)
                if res.ok and res.audio is not None:
                    self.cache.store(spec, res.audio, res.voice_id)
                    self.rendered += 1
                    with self._lock:
                        self._failed.pop(spec.key, None)
                else:
                    self._fail(spec, res.error or "unknown error")
            except Exception as exc:  # noqa: BLE001 - the thread must survive anything
                self._fail(spec, f"{type(exc).__name__}: {exc}")
            finally:
                with self._idle:
                    self._pending.discard(spec.key)
                    self._idle.notify_all()
        with self._idle:
            self._pending.clear()
            self._idle.notify_all()

    def _fail(self, spec: PromptSpec, error: str) -> None:
        log.warning("background render failed for %r: %s", spec.text[:60], error)
        with self._lock:
            self._failed[spec.key] = (time.monotonic(), error)
