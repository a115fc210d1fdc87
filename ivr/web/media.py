"""Speech calls over Twilio Media Streams: ``/media`` (websocket) and ``POST /voice/connect``.

How a speech call runs (flows with ``settings.speech: true`` when media
streams are on, see ``IVR_MEDIA_STREAMS``):

1. ``POST /voice`` starts the call in the driver (state exists) and answers
   ``<Connect action="/voice/connect"><Stream url="wss://HOST/media">`` with
   the call id and a per-call HMAC token as ``<Parameter>`` (stream URLs carry
   no query string). The first turn's actions wait in the call state.
2. Twilio opens the websocket; a ``start`` whose token does not sign its call
   is refused (socket closed). The whole self-service dialogue then runs here:
   prompts go out as ``media`` followed by a ``mark``; the no-input timer
   starts when that mark comes back; caller audio goes through the VAD and one
   recogniser session per listen; caller speech or a key during a prompt
   sends ``clear`` (barge-in); keys arrive as ``dtmf``. All timing counts the
   20 ms ``media`` frames Twilio sends continuously, so a test client can run
   faster than real time.
3. A transfer or hang-up plays its last prompts, waits for their mark (or a
   timeout) and closes the socket; Twilio then posts ``/voice/connect``, which
   answers the transfer TwiML (the same renderer as keypad calls) or
   ``<Hangup/>`` from the state the driver saved.

A ``stop`` or a dropped socket mid-dialogue records ``CallerHungUp``. If
Twilio's action webhook still arrives (the caller is there, our socket went),
the caller is reconnected to a new stream when the call is still open, else
handed to a person with the context known -- never silence.

The JSON wire format lives in :mod:`ivr.speech.mediastreams` only.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import hmac
import logging
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from twilio.twiml.voice_response import Connect, VoiceResponse

from ..calls.driver import Turn
from ..engine import actions as A
from ..engine import events as E
from ..flow.model import Flow
from ..speech import mediastreams as MS
from ..speech.codec import ulaw_to_pcm16
from ..speech.fallback_tts import FallbackVoice
from ..speech.pipeline import ListenPipeline
from ..speech.tap import VoiceTap
from ..speech.vad import EndpointDetector, SpeechEnded, SpeechPaused, SpeechStarted, VadConfig
from . import twiml
from .api import bearer_required
from .twilio_request import VoiceParams, install_error_handler, request_key, twilio_signed

log = logging.getLogger(__name__)

bp = Blueprint("media", __name__)

FRAMES_PER_SECOND = 50
FRAMES_PER_MESSAGE = 10
"""Outbound prompt audio per ``media`` message (200 ms)."""
END_MARK_GRACE_S = 5.0
"""After the last prompt of a call should have played, close the stream anyway."""
START_TIMEOUT_S = 10.0
MAX_RECONNECTS = 2
CONNECT_ACTION = "/voice/connect"
RECOGNITION_TIMEOUT_S = 3.0
"""Wall-clock bound from end of speech to the recogniser's answer; past it the turn is a no-match.

A recognition normally takes tens of milliseconds; this only bounds a stuck or
starved recogniser, so the caller hears a re-prompt instead of dead air."""


# -- tokens and TwiML ---------------------------------------------------------

def _secret(config: Any) -> bytes:
    secret = config.secret_key or config.auth_token
    if not secret:
        # Development without secrets: tokens still bind the stream to its call.
        secret = "ivr-dev-media-stream-token"
    return str(secret).encode()


def stream_token(config: Any, call_sid: str) -> str:
    """The per-call token the stream must present (HMAC-SHA256 of the call id)."""
    return hmac.new(_secret(config), b"media:" + call_sid.encode(), hashlib.sha256).hexdigest()[:40]


def token_valid(config: Any, call_sid: str, token: Optional[str]) -> bool:
    return bool(call_sid and token) and hmac.compare_digest(stream_token(config, call_sid), str(token))


def stream_url(config: Any, root: str) -> str:
    """``wss://<public host>/media``; ``ws://`` only when the public URL is plain ``http://``."""
    base = (config.public_url or root).rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://"):] + "/media"
    if base.startswith("http://"):
        return "ws://" + base[len("http://"):] + "/media"
    return "wss://" + base.split("://", 1)[-1] + "/media"


def connect_twiml(url: str, call_sid: str, token: str) -> str:
    """``<Connect action=/voice/connect><Stream url=...>`` with the ids as ``<Parameter>``."""
    resp = VoiceResponse()
    connect = Connect(action=CONNECT_ACTION, method="POST")
    stream = connect.stream(url=url)
    stream.parameter(name="call_sid", value=call_sid)
    stream.parameter(name="token", value=token)
    resp.append(connect)
    return str(resp)


# -- actions kept in the call state between the webhook and the stream --------

def _media_extra(state: Any) -> dict[str, Any]:
    return state.extra.setdefault("media", {})


# -- the per-process runtime --------------------------------------------------

class MediaRuntime:
    """What all streams of an app share: the recogniser, a worker pool, prompt audio, the tap, stats.

    Recognition runs in ``pool``; warming (building decoders ahead of calls)
    runs in one separate background thread, so a caller's utterance never
    queues behind warm-up work. :meth:`start_warmup` warms every grammar of
    every speech flow at start-up; :meth:`readiness` reports how far it got.
    """

    def __init__(self, app: Flask, workers: int = 4) -> None:
        self.services = app.extensions["ivr"]
        self.resolver = app.extensions.get("ivr.prompts")
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
        self.reply_ms: collections.deque[float] = collections.deque(maxlen=20_000)
        """End-of-turn decision to the first byte of the reply: the server's share of the wait."""
        self.reply_gap_ms: collections.deque[float] = collections.deque(maxlen=20_000)
        """The caller's last voiced frame to the first byte of the reply: the silence the caller hears."""
        self.reply_gap_early_ms: collections.deque[float] = collections.deque(maxlen=20_000)
        """The same, for turns that ended at the short pause (a whole, confident phrase)."""
        self.early_ends = 0
        self.speculations = 0
        self.active = 0
        self.total = 0
        self.refused = 0

    @property
    def recognizer(self) -> Any:
        """One recogniser per process, loaded on first use."""
        with self._lock:
            if self._recognizer is None:
                from ..speech.asr import get_recognizer
                cfg = self.services.config
                self._recognizer = get_recognizer(cfg.asr_backend, cfg.vosk_model, cfg.whisper_model, cfg.whisper_threads)
            return self._recognizer

    def hears(self, language: str) -> bool:
        """Whether the recogniser can listen in ``language`` (else the flow stays on keypad TwiML)."""
        with self._lock:
            known = self._languages.get(language)
        if known is not None:
            return known
        from ..errors import SpeechError
        from ..speech.grammar import Grammar
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
        from ..engine.engine import listens
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
            _quietly(job)

    def wait_ready(self, timeout: float) -> bool:
        """Block until warm-up finished (for ``serve``, before forking workers); False on timeout."""
        self.start_warmup()
        return self.ready.wait(timeout)

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
                from ..prompts.resolve import prompt_frames
                found = prompt_frames(play, self.resolver)
                if found:
                    return found
            except Exception:  # noqa: BLE001 - a prompt lookup must never cost a caller the call
                log.exception("prompt audio lookup failed; synthesising")
        return self.fallback.frames(play.text, play.language)

    def stats(self) -> dict[str, Any]:
        return {"active": self.active, "total": self.total, "refused": self.refused,
                "reply_ms": _percentiles(self.reply_ms), "reply_gap_ms": _percentiles(self.reply_gap_ms),
                "reply_gap_early_ms": _percentiles(self.reply_gap_early_ms),
                "early_ends": self.early_ends, "speculations": self.speculations,
                "recognition_timeouts": self.timeouts}

    def reset_stats(self) -> None:
        self.reply_ms.clear()
        self.reply_gap_ms.clear()
        self.reply_gap_early_ms.clear()
        self.early_ends = self.speculations = self.timeouts = 0

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self._warm_jobs.put(None)


def _percentiles(values: Any) -> dict[str, Any]:
    lat = sorted(values)
    pick = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else None  # noqa: E731
    return {"n": len(lat), "p50": pick(0.5), "p95": pick(0.95), "max": round(lat[-1], 1) if lat else None}


@dataclasses.dataclass(eq=False)
class _Speculation:
    """An early recognition of an utterance at a pause (see :class:`~ivr.speech.vad.SpeechPaused`).

    Its result ends the turn if it is complete and the caller has not spoken
    since. If the utterance ends with nothing said since the pause, the
    result is the answer whether complete or not (the audio differs only by
    silence), and the turn waits for it if need be: one decode per utterance,
    and the same answer whichever comes back first.
    """

    pipe: ListenPipeline
    seq: int
    paused: SpeechPaused
    done: bool = False
    awaited: bool = False
    hyp: Any = None


def _quietly(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception:  # noqa: BLE001 - warm-up is best effort
        log.debug("recogniser warm-up failed", exc_info=True)


# -- one stream ---------------------------------------------------------------

class MediaSession:
    """The dialogue of one call over its stream.

    All state changes happen under ``lock``: the receive loop (media, keys,
    marks) and the recognition workers both go through it, and every send
    happens inside it, so nothing is sent after :meth:`teardown`.

    Args:
        rt: the app's media runtime.
        call_id: the call (already started by ``POST /voice``).
        stream_sid: Twilio's stream id, put on every outbound message.
        send: writes one text frame to the socket.
    """

    def __init__(self, rt: MediaRuntime, call_id: str, stream_sid: str, send: Callable[[str], None]) -> None:
        self.rt = rt
        self.driver = rt.services.driver
        self.call_id = call_id
        self.stream_sid = stream_sid
        self._send_raw = send
        self.lock = threading.RLock()
        self.closed = False
        self.close_requested = False
        self.ending = False
        self.frames = 0
        self.turn_no = 0
        self.listen: Optional[A.Listen] = None
        self.pipeline: Optional[ListenPipeline] = None
        self.listen_seq = 0
        self.pre_mark: Optional[str] = None
        self.turn_mark: Optional[str] = None
        self.timer_start: Optional[int] = None
        self.digits = ""
        self.last_key_frame = 0
        self.recognizing = False
        self.recognize_deadline: Optional[float] = None
        self.held_keys: list[str] = []
        """Keys pressed while an utterance is being recognised: delivered, in order, after its event."""
        self.spec: Optional[_Speculation] = None
        self.end_frames: Optional[int] = None
        self.end_wall: Optional[float] = None
        self.reply_from: Optional[float] = None
        self.gap_from: Optional[float] = None
        self.early = False
        self.language = "en-US"
        self.detector = EndpointDetector(VadConfig(), on_voiced_frame=lambda f: rt.tap.publish(call_id, f))
        self.reply_ms: list[float] = []

    # -- sending --------------------------------------------------------------
    def _send(self, text: str) -> None:
        if self.closed:
            return
        try:
            self._send_raw(text)
        except Exception:  # noqa: BLE001 - the socket went away; the loop tears down
            self.close_requested = True

    def _play(self, plays: list[A.Play]) -> int:
        frames: list[bytes] = []
        for p in plays:
            frames.extend(self.rt.frames(p))
        for i in range(0, len(frames), FRAMES_PER_MESSAGE):
            if i == 0 and self.reply_from is not None:
                now = time.perf_counter()
                ms = (now - self.reply_from) * 1000
                self.reply_ms.append(ms)
                self.rt.reply_ms.append(ms)
                if self.gap_from is not None:
                    self.rt.reply_gap_ms.append((now - self.gap_from) * 1000)
                    if self.early:
                        self.rt.reply_gap_early_ms.append((now - self.gap_from) * 1000)
                self.reply_from = self.gap_from = None
                self.early = False
            self._send(MS.media_message(self.stream_sid, b"".join(frames[i:i + FRAMES_PER_MESSAGE])))
        return len(frames)

    def _mark(self, name: str) -> None:
        self._send(MS.mark_message(self.stream_sid, name))

    # -- turns ------------------------------------------------------------------
    def begin(self) -> None:
        """Play the call's pending first turn (kept by ``POST /voice``), or resume it."""
        with self.lock:
            state = self.driver.state(self.call_id)
            actions: Optional[list[A.Action]] = None
            if state is not None:
                self.language = state.language or "en-US"
                media = _media_extra(state)
                pending = media.pop("pending", None)
                if pending:
                    actions = [A.from_dict(a) for a in pending]
                    self.rt.services.store.save(state, [])
            if actions is None:
                if state is not None and state.ended:
                    self.ending = True
                    self.close_requested = True
                    return
                actions = self.driver.resume(self.call_id).actions
            self._run(actions)

    def _run(self, actions: list[A.Action]) -> None:
        plays = [a for a in actions if isinstance(a, A.Play)]
        end = next((a for a in reversed(actions) if isinstance(a, A.TURN_ENDING)), None)
        self.turn_no += 1
        self.listen_seq += 1
        self.listen = self.pipeline = None
        self.pre_mark = self.turn_mark = None
        self.timer_start = None
        self.digits = ""
        self.recognizing = False
        self.recognize_deadline = None
        self.spec = None
        n = self.turn_no
        if isinstance(end, A.Listen):
            split = len(plays)
            while split > 0 and plays[split - 1].barge_in and end.barge_in:
                split -= 1
            if plays[:split]:
                self._play(plays[:split])
                self.pre_mark = f"pre-{n}"
                self._mark(self.pre_mark)
            self._play(plays[split:])
            self.turn_mark = f"turn-{n}"
            self._mark(self.turn_mark)
            self.listen = end
            if end.speech:
                self.pipeline = ListenPipeline(end, self.rt.recognizer, self.language, detector=self.detector,
                                               start_lock=self.rt.start_lock)
                self.rt.warm(self.pipeline)
            return
        # A transfer or hang-up: keep it for /voice/connect, play the last words, then close.
        self._keep_final(end)
        frames = self._play(plays)
        self.turn_mark = f"turn-{n}"
        self._mark(self.turn_mark)
        self.ending = True
        self.end_frames = self.frames + frames + int(END_MARK_GRACE_S * FRAMES_PER_SECOND)
        self.end_wall = time.monotonic() + frames / FRAMES_PER_SECOND + END_MARK_GRACE_S

    def _keep_final(self, end: Optional[A.Action]) -> None:
        if not isinstance(end, (A.Transfer, A.Hangup)):
            end = A.Hangup("completed")
        try:
            state = self.driver.state(self.call_id)
            if state is not None:
                _media_extra(state)["final"] = A.to_dict(end)
                self.rt.services.store.save(state, [])
        except Exception:  # noqa: BLE001 - /voice/connect falls back to a person
            log.exception("call %s: could not keep the final action", self.call_id)

    def _feed(self, event: E.Event) -> None:
        node = self.listen.node if self.listen else None
        self.listen = None
        turn = self.driver.feed(self.call_id, event, expect_node=node)
        self._run(turn.actions)

    def _now(self) -> float:
        return self.driver.clock()

    # -- inbound ------------------------------------------------------------------
    def on_media(self, payload: bytes) -> None:
        with self.lock:
            if self.closed:
                return
            self.frames += 1
            if self.ending:
                if self.end_frames is not None and self.frames >= self.end_frames:
                    self.close_requested = True
                return
            listen = self.listen
            if listen is None:
                return
            if self.recognizing:
                self._check_recognition()
                return
            pipe = self.pipeline
            playing = self.timer_start is None
            if pipe is not None and self.pre_mark is None and (listen.barge_in or not playing):
                for ev in pipe.feed(ulaw_to_pcm16(payload)):
                    if isinstance(ev, SpeechStarted) and playing and listen.barge_in:
                        self._send(MS.clear_message(self.stream_sid))
                    elif isinstance(ev, SpeechPaused):
                        self._speculate(pipe, ev)
                    elif isinstance(ev, SpeechEnded):
                        self._recognize(pipe)
                        return
            if self.digits:
                if self.frames - self.last_key_frame >= listen.digit_timeout * FRAMES_PER_SECOND:
                    self._digits_done()
            elif (self.timer_start is not None and not (pipe is not None and pipe.in_speech)
                  and self.frames - self.timer_start >= listen.timeout * FRAMES_PER_SECOND):
                self._feed(E.NoInput(at=self._now()))

    def on_dtmf(self, digit: str) -> None:
        with self.lock:
            if self.recognizing and not self.closed:
                # The caller spoke first: their utterance gets its event before this key does.
                self.held_keys.append(digit)
                return
            listen = self.listen
            if self.closed or self.ending or listen is None or self.pre_mark is not None:
                return
            if self.timer_start is None:  # the prompt is still playing
                if not listen.barge_in:
                    return
                self._send(MS.clear_message(self.stream_sid))
            if listen.finish_on_key and digit == listen.finish_on_key:
                # "#" ends entry; alone it ends nothing (it often trails an entry that
                # max_digits already completed) and the no-input timer keeps running.
                if self.digits:
                    self._digits_done()
                return
            if listen.mode in ("menu", "yesno"):
                self._feed(E.DigitsReceived(digit, at=self._now()))
                return
            self.digits += digit
            self.last_key_frame = self.frames
            if listen.max_digits and len(self.digits) >= listen.max_digits:
                self._digits_done()

    def _digits_done(self) -> None:
        digits, self.digits = self.digits, ""
        if digits:
            self._feed(E.DigitsReceived(digits, at=self._now()))
        else:
            self._feed(E.NoInput(at=self._now()))

    def on_mark(self, name: str) -> None:
        with self.lock:
            if self.closed:
                return
            if name == self.pre_mark:
                self.pre_mark = None
                self.detector.reset()
            elif name == self.turn_mark:
                self.turn_mark = None
                if self.ending:
                    self.close_requested = True
                elif self.listen is not None:
                    self.timer_start = self.frames

    def tick(self) -> None:
        """Wall-clock safety: close a finished call whose last mark never came back; bound recognition."""
        with self.lock:
            if self.ending and self.end_wall is not None and time.monotonic() >= self.end_wall:
                self.close_requested = True
            if self.recognizing:
                self._check_recognition()

    # -- recognition ----------------------------------------------------------------
    def _recognize(self, pipe: ListenPipeline) -> None:
        """Hand the ended utterance to a worker; its one engine event comes from :meth:`_speech_result`.

        While it runs the VAD and the no-input timer rest, so the deadline
        (checked on every inbound frame and every idle tick) guarantees they
        resume: a recognition that does not come back in time is a no-match.
        """
        self.recognizing = True
        self.recognize_deadline = time.monotonic() + self.rt.recognition_timeout_s
        seq = self.listen_seq
        spec = self.spec
        if spec is not None and spec.pipe is pipe and spec.seq == seq and pipe.still_paused(spec.paused):
            # Nothing was said since the pause: the audio differs only by silence, so the pause's
            # recognition is the answer (one decode per utterance; the same answer whichever is first).
            if not spec.done:
                spec.awaited = True
                return
            self.spec = None
            self._speech_result(pipe, seq, spec.hyp)
            return
        self.spec = None
        self._submit_full(pipe, seq)

    def _submit_full(self, pipe: ListenPipeline, seq: int) -> None:
        try:
            self.rt.pool.submit(self._recognized, pipe, seq)
        except RuntimeError:  # the pool is shut down (app closing): a no-match, never silence
            self._speech_result(pipe, seq, None)

    def _speculate(self, pipe: ListenPipeline, paused: SpeechPaused) -> None:
        """At a short pause in a menu answer, recognise what was said so far (grammar-aware end of turn)."""
        spec = _Speculation(pipe, self.listen_seq, paused)
        self.spec = spec
        self.rt.speculations += 1
        try:
            self.rt.pool.submit(self._speculated, spec)
        except RuntimeError:  # shutting down: the full end of speech still answers
            self.spec = None

    def _speculated(self, spec: _Speculation) -> None:
        try:
            hyp = spec.pipe.speculate(spec.paused)
        except Exception:  # noqa: BLE001 - the full recognition at the end of speech still answers
            log.exception("call %s: early recognition failed", self.call_id)
            hyp = None
        with self.lock:
            if self.closed or spec is not self.spec or spec.seq != self.listen_seq:
                return
            spec.done, spec.hyp = True, hyp
            complete = spec.pipe.is_complete(hyp)
            if spec.awaited:  # the utterance ended, silent since the pause, while this ran: it is the answer
                self.spec = None
                if complete:
                    self.rt.early_ends += 1
                    self.early = True
                self._speech_result(spec.pipe, spec.seq, hyp)
                return
            if not spec.pipe.still_paused(spec.paused):
                self.spec = None  # the caller went on talking; their utterance will end on its own
                return
            if complete and not self.recognizing:
                self.spec = None
                spec.pipe.end_early(spec.paused)
                self.rt.early_ends += 1
                self.early = True
                self.recognizing = True
                self._speech_result(spec.pipe, spec.seq, hyp)

    def _check_recognition(self) -> None:
        if self.recognize_deadline is not None and time.monotonic() >= self.recognize_deadline:
            self.rt.timeouts += 1
            log.warning("call %s: no recognition within %.1f s; treating the turn as a no-match",
                        self.call_id, self.rt.recognition_timeout_s)
            self._speech_result(self.pipeline, self.listen_seq, None)

    def _recognized(self, pipe: ListenPipeline, seq: int) -> None:
        try:
            hyp = pipe.recognize()
        except Exception:  # noqa: BLE001 - a recogniser failure is a no-match, not a dead call
            log.exception("call %s: recognition failed", self.call_id)
            hyp = None
        self._speech_result(pipe, seq, hyp)

    def _speech_result(self, pipe: Optional[ListenPipeline], seq: int, hyp: Optional[Any]) -> None:
        """Feed the utterance's one event (``hyp`` None: a no-match), then any keys held meanwhile.

        The first of the worker's answer and the deadline wins; the other finds
        the listen changed (``listen_seq``) and does nothing.
        """
        with self.lock:
            if self.closed or seq != self.listen_seq or not self.recognizing:
                return
            self.recognizing = False
            self.recognize_deadline = None
            self.reply_from = pipe.ended_at if pipe is not None else None
            self.gap_from = pipe.last_voiced_at if pipe is not None else None
            event: E.Event = (E.SpeechRecognized(hyp.text, hyp.confidence, at=self._now(), backend=hyp.backend)
                              if hyp is not None else E.SpeechRecognized("", 0.0, at=self._now()))
            try:
                self._feed(event)
            except Exception:  # noqa: BLE001
                log.exception("call %s: turn after speech failed", self.call_id)
                self.close_requested = True
                return
            keys, self.held_keys = self.held_keys, []
            for digit in keys:
                self.on_dtmf(digit)

    # -- the end ----------------------------------------------------------------------
    def teardown(self, how: str) -> None:
        """End the session once: ``stop`` (Twilio said the call ended), ``drop`` (socket lost) or ``closed``."""
        with self.lock:
            if self.closed:
                return
            mid_dialogue = not self.ending and how in ("stop", "drop")
            self.closed = True
            self.listen = self.pipeline = None
        self.rt.tap.end(self.call_id)
        if mid_dialogue:
            try:
                state = self.driver.state(self.call_id)
                if state is not None and not state.ended:
                    if how == "drop":
                        _media_extra(state)["dropped"] = True
                        self.rt.services.store.save(state, [])
                    self.driver.feed(self.call_id, E.CallerHungUp(at=self._now()))
            except Exception:  # noqa: BLE001
                log.exception("call %s: could not record the hang-up", self.call_id)


# -- Flask wiring -------------------------------------------------------------

def _rt() -> MediaRuntime:
    return current_app.extensions["ivr.media"]


def media_socket(ws: Any) -> None:
    """The ``/media`` websocket: one Twilio stream."""
    rt = _rt()
    config = rt.services.config
    start: Optional[MS.Start] = None
    reader = MS.FrameReader("media stream", log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while start is None:
        text = ws.receive(timeout=max(0.01, deadline - time.monotonic()))
        if text is None:
            log.warning("media stream sent no start within %.0f s; closing", START_TIMEOUT_S)
            return
        try:
            msg = reader.read(text)
        except MS.ProtocolError as exc:
            ws.close(reason=exc.close_code, message=exc.close_reason)
            return
        if isinstance(msg, MS.Start):
            start = msg
        elif isinstance(msg, MS.Stop):
            return
    params = start.custom_parameters
    call_id = params.get("call_sid") or start.call_sid
    if (not token_valid(config, call_id, params.get("token"))
            or (start.call_sid and start.call_sid != call_id)
            or rt.services.driver.state(call_id) is None):
        rt.refused += 1
        log.warning("media stream for call %s refused: bad or missing token", call_id[:40])
        ws.close(reason=1008, message="bad stream token")
        return
    if params.get("purpose") == "queue":
        from .queue_speech import listen_in_queue
        listen_in_queue(ws, rt, call_id)  # a waiting caller's one-way stream: leave phrases only
        return
    session = MediaSession(rt, call_id, start.stream_sid, ws.send)
    reader.label = f"call {call_id}"
    with rt._lock:
        rt.active += 1
        rt.total += 1
    how = "closed"
    fatal: Optional[MS.ProtocolError] = None
    try:
        session.begin()
        while not session.close_requested:
            try:
                text = ws.receive(timeout=0.05)
            except Exception:  # noqa: BLE001 - ConnectionClosed and friends
                how = "drop"
                break
            if text is None:
                if not ws.connected:
                    how = "drop"
                    break
                session.tick()
                continue
            try:
                msg = reader.read(text)
            except MS.ProtocolError as exc:
                fatal = exc
                how = "drop"
                break
            if isinstance(msg, MS.Media):
                if msg.track in ("inbound", "inbound_track"):
                    session.on_media(msg.payload)
            elif isinstance(msg, MS.Dtmf):
                session.on_dtmf(msg.digit)
            elif isinstance(msg, MS.Mark):
                session.on_mark(msg.name)
            elif isinstance(msg, MS.Stop):
                how = "stop"
                break
        if how == "closed" and session.close_requested and not session.ending:
            how = "drop"  # the socket failed under a send
    except Exception:  # noqa: BLE001 - a bug must not leave the socket open; /voice/connect hands over
        log.exception("call %s: media session failed", call_id)
        how = "drop"
    finally:
        session.teardown(how)
        reader.finish()
        with rt._lock:
            rt.active -= 1
    try:
        if fatal is not None:
            ws.close(reason=fatal.close_code, message=fatal.close_reason)
        else:
            ws.close()
    except Exception:  # noqa: BLE001
        pass


def start_call(flow: Flow, p: VoiceParams) -> Optional[str]:
    """``ivr.start_call``: speech flows run over a media stream; None leaves keypad flows to TwiML."""
    if not flow.settings.speech or not _rt().hears(flow.language):
        return None
    from .voice import render_turn
    svc = current_app.extensions["ivr"]
    _quietly(lambda: _rt().warm_flow(flow))  # new or hot-reloaded flows: queued, never waited for
    turn = svc.driver.start(p.call_sid, p.caller, p.called, flow, key=request_key())
    if not isinstance(turn.last, A.Listen) or turn.state is None or turn.state.ended:
        return render_turn(turn)
    return _connect(turn, p.call_sid)


def _connect(turn: Turn, call_sid: str) -> str:
    svc = current_app.extensions["ivr"]
    state = turn.state
    assert state is not None
    _media_extra(state)["pending"] = [A.to_dict(a) for a in turn.actions]
    svc.store.save(state, [])
    return connect_twiml(stream_url(svc.config, request.url_root), call_sid, stream_token(svc.config, call_sid))


def _xml(body: str) -> Response:
    return Response(body, mimetype="text/xml")


@bp.post(CONNECT_ACTION)
@twilio_signed
def connect_action() -> Response:
    """Twilio's ``<Connect action>``: the stream ended; transfer, hang up, or pick the caller up again."""
    from .voice import render_turn
    svc = current_app.extensions["ivr"]
    p = VoiceParams.from_request(request)
    state = svc.driver.state(p.call_sid)
    if state is None:
        return _xml(twiml.apology("general"))
    flow = svc.flows.get(state.flow)
    media = _media_extra(state)
    final = media.get("final")
    if final and not media.get("dropped"):
        return _xml(render_turn(Turn([A.from_dict(final)], state, flow)))
    if not state.ended and flow is not None and media.get("reconnects", 0) < MAX_RECONNECTS:
        # Our socket went while the caller is still in the dialogue: a new stream, same prompt.
        media["reconnects"] = media.get("reconnects", 0) + 1
        svc.store.save(state, [])
        turn = svc.driver.resume(p.call_sid)
        if isinstance(turn.last, A.Listen) and turn.state is not None:
            log.warning("call %s: media stream ended mid-dialogue; reconnecting", p.call_sid)
            return _xml(_connect(Turn(turn.actions, svc.driver.state(p.call_sid), flow), p.call_sid))
        return _xml(render_turn(turn))
    if state.ended and not media.get("dropped") and state.end_reason == "caller_hangup":
        resp = VoiceResponse()
        resp.hangup()
        return _xml(str(resp))
    # The stream dropped mid-dialogue yet the caller is here: a person takes over with the context.
    log.warning("call %s: media stream lost mid-dialogue; handing over to a person", p.call_sid)
    turn = svc.driver.fallback(p.call_sid, p.caller, flow, "media stream lost")
    return _xml(render_turn(turn))


def _connect_failed(exc: Exception) -> Response:
    """The safety net of ``/voice/connect``: the caller goes to a person, with what is known."""
    from .voice import render_turn
    p = VoiceParams.from_request()
    return _xml(render_turn(current_app.extensions["ivr"].driver.fallback(p.call_sid, p.caller, None, repr(exc))))


install_error_handler(bp, _connect_failed)


@bp.get("/api/media/stats")
@bearer_required
def stats() -> Any:
    """Streams active/total, reply latency (end-of-turn decision to first reply audio) and the reply gap.

    The gap runs from the caller's last voiced frame, so it includes the
    end-of-speech silence the caller waits through; ``?reset=1`` clears the figures.
    """
    rt = _rt()
    if request.args.get("reset"):
        rt.reset_stats()
    return jsonify(rt.stats())


def install(app: Flask) -> MediaRuntime:
    """Register ``/media`` and ``/voice/connect``; run speech flows over streams when configured.

    Sets ``app.extensions["ivr.media"]`` (the runtime), ``["ivr.voice_tap"]``
    (voiced caller frames by call id) and, unless ``config.media_streams`` is
    false (``IVR_MEDIA_STREAMS=0``), ``["ivr.start_call"]`` so ``POST /voice``
    hands speech flows here.
    """
    from flask_sock import Sock

    rt = MediaRuntime(app)
    # The transport refuses oversized frames (1009) before they are buffered; parse_message checks again.
    app.config.setdefault("SOCK_SERVER_OPTIONS", {"max_message_size": MS.MAX_MESSAGE_CHARS})
    app.extensions["ivr.media"] = rt
    app.extensions["ivr.voice_tap"] = rt.tap
    sock = Sock(app)
    sock.route("/media")(media_socket)
    app.register_blueprint(bp)
    if app.extensions["ivr"].config.media_streams is not False:  # on unless IVR_MEDIA_STREAMS=0
        app.extensions["ivr.start_call"] = start_call
    app.extensions["ivr"].on_close.append(rt.close)
    if app.extensions.get("ivr.start_call") is start_call:
        rt.start_warmup()  # speech calls are served here: be ready before the first one
        app.extensions["ivr"].flows.on_change(rt.prepare_flow)  # and for every flow a reload brings
    from . import queue_speech
    queue_speech.install(app)
    return rt
