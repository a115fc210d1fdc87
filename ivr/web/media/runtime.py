"""The media runtime: what every stream of one app shares, and how it gets ready.

One recogniser per process (loaded once), one pool of recognition workers,
a background thread that builds decoders ahead of calls (so the first
caller of a grammar does not pay for it), prompt audio as mu-law frames,
the voice tap, and the latency figures ``/api/media/stats`` reports. It
holds no Flask objects: the socket and webhooks (:mod:`.endpoints`) reach it
through the app's parts.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional

from ...calls.pending import HOLD_AFTER
from ...engine import actions as A
from ...engine import listens
from ...errors import SpeechError
from ...flow.model import Flow
from ...prompts.resolve import PromptResolver, prompt_frames
from ...services import Services
from ...speech.fallback_tts import FallbackVoice
from ...speech.grammar import Grammar
from ...speech.pipeline import ListenPipeline
from ...speech.tap import VoiceTap

log = logging.getLogger(__name__)

RECOGNITION_TIMEOUT_S = 3.0
"""Wall-clock bound from end of speech to the recogniser's answer; past it the turn is a no-match.

A recognition normally takes tens of milliseconds; this only bounds a stuck or
starved recogniser, so the caller hears a re-prompt instead of dead air."""


class MediaRuntime:
    """What all streams of an app share: the recogniser, a worker pool, prompt audio, the tap, stats.

    Recognition runs in ``pool``; warming (building decoders ahead of calls)
    runs in one separate background thread, so a caller's utterance never
    queues behind warm-up work. :meth:`start_warmup` warms every grammar of
    every speech flow at start-up; :meth:`readiness` reports how far it got.

    Args:
        services: the deployment's services (config, flows, store, driver).
        resolver: prompt audio (None: every prompt is synthesised on the spot).
        workers: recognition threads.
    """

    def __init__(self, services: Services, resolver: Optional[PromptResolver] = None, workers: int = 4) -> None:
        self.services = services
        self.resolver = resolver
        self.fallback = FallbackVoice()
        self.workers = workers
        self.start_lock = threading.Lock()
        """Serialises ``recognizer.start`` (pocketsphinx builds decoders racily); decoding stays parallel."""
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ivr-asr")
        self.tap = VoiceTap()
        self._recognizer: Any = None
        self._lock = threading.Lock()
        self._warmed: set[Any] = set()
        self._warmed_flows: dict[str, Flow] = {}
        self._languages: dict[str, bool] = {}
        self.recognition_timeout_s = float(
            self.services.config.extra.get("recognition_timeout_s", RECOGNITION_TIMEOUT_S))
        self.ready = threading.Event()
        """Set once the recogniser is loaded and the grammars known at start-up are warm."""
        self.warm_error: Optional[str] = None
        self.grammars_warm = 0
        self._warm_jobs: "queue.Queue[Optional[Callable[[], None]]]" = queue.Queue()
        self._warm_thread: Optional[threading.Thread] = None
        self._warm_pid = 0
        self.timeouts = 0
        self.hold_after = services.config.hold_after or HOLD_AFTER
        """Seconds a turn may run (a slow hook) before the caller hears the holding phrase."""
        self.holds = 0
        """Holding phrases played (turns that ran longer than :attr:`hold_after`)."""
        self.reply_ms: collections.deque[float] = collections.deque(maxlen=20_000)
        """End-of-turn decision to the first byte of the reply: the server's share of the wait."""
        self.reply_gap_ms: collections.deque[float] = collections.deque(maxlen=20_000)
        """The caller's last voiced frame to the first byte of the reply: the silence the caller hears."""
        self.reply_gap_early_ms: collections.deque[float] = collections.deque(maxlen=20_000)
        """The same, for turns that ended at the short pause (a whole, confident phrase)."""
        self.early_ends = 0
        """Turns ended at a pause on a whole phrase (confident at the short pause, or unsure at the late one)."""
        self.unsure_early_ends = 0
        """Of those, the unsure ones (the flow confirms them) and the rejected ones (a no-match)."""
        self.rejected_early_ends = 0
        """Of the unsure ones, those the recogniser rejected: a whole phrase that fitted too poorly (no-match)."""
        self.hesitations = 0
        """Utterances that were only a hesitation ("um"): the turn listened on instead of re-prompting."""
        self.speculations = 0
        self.active = 0
        self.total = 0
        self.refused = 0

    @property
    def recognizer(self) -> Any:
        """One recogniser per process, loaded on first use."""
        with self._lock:
            if self._recognizer is None:
                from ...speech.asr import get_recognizer
                cfg = self.services.config
                if cfg.asr_processes:
                    # Decodes in worker processes: pocketsphinx holds the GIL while it decodes,
                    # which would stall every other call's audio (ivr.speech.asr.process_pool).
                    from ...speech.asr.process_pool import ProcessRecognizer
                    self._recognizer = ProcessRecognizer(cfg.asr_backend, cfg.vosk_model, cfg.whisper_model,
                                                         cfg.whisper_threads, processes=cfg.asr_processes)
                else:
                    self._recognizer = get_recognizer(cfg.asr_backend, cfg.vosk_model, cfg.whisper_model,
                                                      cfg.whisper_threads)
            return self._recognizer

    def hears(self, language: str) -> bool:
        """Whether the recogniser can listen in ``language`` (else the flow stays on keypad TwiML)."""
        with self._lock:
            known = self._languages.get(language)
        if known is not None:
            return known
        try:
            rec = self.recognizer
            if rec.name == "pocketsphinx":  # English only; probing would build a decoder
                if not language.lower().startswith("en"):
                    raise SpeechError(f"pocketsphinx has only an English model, not {language}")
            else:
                rec.start(Grammar(("agent",), language)).finish()
            ok = True
        except SpeechError as exc:
            log.warning("speech flows in %s run as keypad calls: %s", language, exc)
            ok = False
        except Exception:  # noqa: BLE001 - no recogniser at all: keypad TwiML, never a dead call
            log.exception("recogniser unavailable; speech flows run as keypad calls")
            ok = False
        with self._lock:
            self._languages[language] = ok
        return ok

    def warm(self, pipe: ListenPipeline) -> None:
        """Have one decoder per pool worker built for the pipe's grammar, in the background (once per grammar).

        Never in the recognition pool and never waited for: a caller who
        answers first builds their own decoder, which takes ~20 ms.
        """
        key = pipe.grammar.key if pipe.grammar is not None else None
        with self._lock:
            if key in self._warmed:
                return
            self._warmed.add(key)
        self._submit_warm(lambda: self._warm_pipe(pipe))

    def _warm_pipe(self, pipe: ListenPipeline) -> None:
        pipe.warm(self.workers)
        with self._lock:
            self.grammars_warm += 1

    def warm_flow(self, flow: Flow) -> None:
        """Queue the grammars of ``flow``'s listens for warming (the flows known at start-up)."""
        for pipe in self._new_pipes(flow):
            self.warm(pipe)

    def prepare_flow(self, flow: Flow) -> None:
        """Build ``flow``'s new grammars now, in the calling thread: the hot-reload hook.

        The flow registry calls this before it publishes an added or edited
        flow, so no caller of the new version waits for a decoder (each
        build takes ~20 ms per grammar and worker).
        """
        if not flow.settings.speech or not self.hears(flow.language or "en-US"):
            return
        for pipe in self._new_pipes(flow):
            key = pipe.grammar.key if pipe.grammar is not None else None
            with self._lock:
                if key in self._warmed:
                    continue
                self._warmed.add(key)
            self._warm_pipe(pipe)

    def _new_pipes(self, flow: Flow) -> list[ListenPipeline]:
        if not flow.settings.speech:
            return []
        with self._lock:
            if self._warmed_flows.get(flow.flow) is flow:
                return []
            self._warmed_flows[flow.flow] = flow
        return [ListenPipeline(listen, self.recognizer, flow.language or "en-US", start_lock=self.start_lock)
                for listen in listens(flow) if listen.speech]

    def start_warmup(self) -> None:
        """Load the recogniser and warm every speech flow's grammars, off the request path.

        Idempotent per process: a forked server worker whose copy of the warm-up
        thread is gone starts its own. ``ready`` is set when the grammars known
        now are warm (or warming failed: calls then build decoders on demand).
        """
        with self._lock:
            if self._warm_pid == os.getpid():
                return
            self._warm_pid = os.getpid()
            self._warm_jobs = queue.Queue()
            self._warm_thread = threading.Thread(target=self._warm_loop, name="ivr-asr-warm", daemon=True)
            self._warm_thread.start()
        self._submit_warm(self._warm_all)

    def _warm_all(self) -> None:
        t0 = time.perf_counter()
        try:
            flows = [f for f in (self.services.flows.get(i) for i in self.services.flows.ids)
                     if f is not None and f.settings.speech]
            for flow in flows:
                if self.hears(flow.language or "en-US"):
                    self.warm_flow(flow)
        except Exception as exc:  # noqa: BLE001 - calls still work, building decoders on demand
            self.warm_error = repr(exc)
            log.exception("speech warm-up failed; decoders will be built on demand")
        # Runs after the per-grammar jobs queued above: the queue is first in, first out.
        self._submit_warm(lambda: self._warm_done(t0))

    def _warm_done(self, t0: float) -> None:
        self.ready.set()
        log.info("speech ready: %d grammars warm in %.1f s", self.grammars_warm, time.perf_counter() - t0)

    def _submit_warm(self, job: Callable[[], None]) -> None:
        if self._warm_pid != os.getpid():  # not started yet, or this is a forked worker
            self.start_warmup()
        self._warm_jobs.put(job)

    def _warm_loop(self) -> None:
        jobs = self._warm_jobs
        while True:
            job = jobs.get()
            if job is None:
                return
            quietly(job)

    def wait_ready(self, timeout: float) -> bool:
        """Block until warm-up finished (for ``serve``, before forking workers); False on timeout."""
        self.start_warmup()
        return self.ready.wait(timeout)

    def before_fork(self) -> None:
        """In ``serve``'s master, once warm: let go of a decoding worker process (forked workers start their own)."""
        rec = self._recognizer
        if rec is not None and hasattr(rec, "after_fork"):
            rec.close(wait=True)

    def after_fork(self) -> None:
        """In a forked server worker: a decoding worker process of its own, warmed, before ``ready`` is set again.

        A call that arrives meanwhile is answered once that worker is up (a
        second or two after the fork), never lost.
        """
        rec = self._recognizer
        again = getattr(rec, "after_fork", None)
        if again is None:
            return
        self.ready.clear()

        def job() -> None:
            try:
                again()
            except SpeechError as exc:  # a stop during warm-up, or a worker that died: no traceback to show
                self.warm_error = str(exc)
                log.warning("speech worker process not warmed after fork: %s", exc)
            except Exception as exc:  # noqa: BLE001 - calls still work: the pool starts on the first decode
                self.warm_error = repr(exc)
                log.exception("speech worker process did not start after fork; it starts on the first call")
            finally:
                self.ready.set()
        threading.Thread(target=job, name="ivr-asr-fork-warm", daemon=True).start()

    def readiness(self) -> dict[str, Any]:
        """What ``GET /api/health`` reports under ``speech``."""
        rec = self._recognizer
        return {"ready": self.ready.is_set(), "backend": getattr(rec, "name", None),
                "model": getattr(rec, "model", None), "grammars_warm": self.grammars_warm,
                "error": self.warm_error}

    def frames(self, play: A.Play) -> list[bytes]:
        """Prompt audio as 20 ms mu-law frames: the prompt layer's, else synthesised on the spot."""
        if self.resolver is not None:
            try:
                found = prompt_frames(play, self.resolver)
                if found:
                    return found
            except Exception:  # noqa: BLE001 - a prompt lookup must never cost a caller the call
                log.exception("prompt audio lookup failed; synthesising")
        return self.fallback.frames(play.text, play.language)

    def stats(self) -> dict[str, Any]:
        """What ``GET /api/media/stats`` reports: streams, reply latency and gap percentiles, counters."""
        return {"active": self.active, "total": self.total, "refused": self.refused,
                "reply_ms": _percentiles(self.reply_ms), "reply_gap_ms": _percentiles(self.reply_gap_ms),
                "reply_gap_early_ms": _percentiles(self.reply_gap_early_ms),
                "early_ends": self.early_ends, "unsure_early_ends": self.unsure_early_ends,
                "rejected_early_ends": self.rejected_early_ends, "speculations": self.speculations,
                "hesitations": self.hesitations,
                "recognition_timeouts": self.timeouts, "holds": self.holds}

    def reset_stats(self) -> None:
        """Clear the latency figures and counters (``POST /api/media/stats/reset``); stream counts stay."""
        self.reply_ms.clear()
        self.reply_gap_ms.clear()
        self.reply_gap_early_ms.clear()
        self.early_ends = self.unsure_early_ends = self.rejected_early_ends = 0
        self.speculations = self.timeouts = self.holds = self.hesitations = 0

    def close(self) -> None:
        """Stop the recognition pool and the warm-up thread (the app is closing)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self._warm_jobs.put(None)


def _percentiles(values: Any) -> dict[str, Any]:
    lat = sorted(values)
    pick = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else None  # noqa: E731
    return {"n": len(lat), "p50": pick(0.5), "p95": pick(0.95), "max": round(lat[-1], 1) if lat else None}


def quietly(fn: Callable[[], Any]) -> None:
    """Run best-effort warm-up work: a failure is logged at debug level, never raised."""
    try:
        fn()
    except Exception:  # noqa: BLE001 - warm-up is best effort
        log.debug("recogniser warm-up failed", exc_info=True)
