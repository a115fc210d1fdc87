"""One call's dialogue over its media stream: prompts out, caller audio and keys in, one engine.

A :class:`MediaSession` plays each turn's prompts as ``media`` messages
followed by a ``mark``, starts the no-input timer when that mark comes back,
sends ``clear`` when the caller barges in, feeds caller audio through the
VAD and a recogniser session per listen, and turns what it hears or the keys
pressed into the engine's events. Timing counts the 20 ms frames Twilio
sends, so a test peer may run faster than real time. The socket loop that
drives it is :func:`ivr.web.media.endpoints.media_socket`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ...engine import actions as A
from ...engine import events as E
from ...engine.state import CallState
from ...speech import mediastreams as MS
from ...speech.codec import ulaw_to_pcm16
from ...speech.pipeline import MAX_HESITATIONS, ListenPipeline
from ...speech.vad import EndpointDetector, SpeechEnded, SpeechPaused, SpeechStarted, VadConfig
from ..barge_in import split_turn
from ..handoff_twiml import Speaker
from .runtime import MediaRuntime, quietly

log = logging.getLogger(__name__)

FRAMES_PER_SECOND = 50
FRAMES_PER_MESSAGE = 10
"""Outbound prompt audio per ``media`` message (200 ms)."""
END_MARK_GRACE_S = 5.0
"""After the last prompt of a call should have played, close the stream anyway."""
HOLD_REPEAT_S = 5.0
"""Seconds between holding phrases while a slow turn (a hook) keeps running."""
HEARD_MEANWHILE_FRAMES = 5 * FRAMES_PER_SECOND
"""Caller audio kept while an utterance is recognised, for the Listen to go on with if it was only "um"."""


def media_extra(state: CallState) -> dict[str, Any]:
    """What the stream keeps with the call between the webhook and the socket (pending, final, dropped)."""
    return state.extra.setdefault("media", {})


@dataclass(eq=False)
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
    silence_ms: int = 0
    """How long the pause has lasted so far (the late pause raises it: an unsure phrase may end the turn)."""



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
        self.send_lock = threading.Lock()
        """Whole messages only: the holding phrase is sent from its own thread while a turn runs."""
        self.flow_id: Optional[str] = None
        self.holds = 0
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
        self.heard_meanwhile: list[bytes] = []
        """Frames that arrived while an utterance was being recognised (fed on if it was only "um")."""
        self.hesitations = 0
        """Hesitations alone ("um") this turn listened on through."""
        self.barged_in = False
        """The caller's speech cut this turn's prompt short (a hesitation then gets the re-prompt)."""
        self.held_keys: list[str] = []
        """Keys pressed while an utterance is being recognised: delivered, in order, after its event."""
        self.spec: Optional[_Speculation] = None
        self.end_frames: Optional[int] = None
        self.end_wall: Optional[float] = None
        self.reply_from: Optional[float] = None
        self.gap_from: Optional[float] = None
        self.early = False
        self.language = "en-US"
        self.detector = EndpointDetector(VadConfig(), on_voiced_frame=self._tap)
        self.reply_ms: list[float] = []

    def _tap(self, frame: bytes) -> None:
        """A voiced frame to the voice tap, unless the call is in a sensitive ask (a PIN said aloud, PCI)."""
        listen = self.listen
        if listen is not None and listen.sensitive:
            return
        self.rt.tap.publish(self.call_id, frame)

    # -- sending --------------------------------------------------------------
    def _send(self, text: str) -> None:
        if self.closed:
            return
        try:
            with self.send_lock:
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
                if self.rt.services.driver.metrics is not None:
                    self.rt.services.driver.metrics.observe_reply(ms / 1000)
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
        if self.driver.voice_auth is not None:  # passive authentication listens to this call on the tap
            self.driver.voice_auth.follow(self.rt.tap, self.call_id)
        with self.lock:
            state = self.driver.state(self.call_id)
            actions: Optional[list[A.Action]] = None
            if state is not None:
                self.language = state.language or "en-US"
                self.flow_id = state.flow
                media = media_extra(state)
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
        turn = split_turn(actions)
        self.turn_no += 1
        self.listen_seq += 1
        self.listen = self.pipeline = None
        self.pre_mark = self.turn_mark = None
        self.timer_start = None
        self.digits = ""
        self.recognizing = False
        self.recognize_deadline = None
        self.heard_meanwhile = []
        self.hesitations = 0
        self.barged_in = False
        self.spec = None
        n = self.turn_no
        listen = turn.listen
        if listen is not None:
            if turn.before:  # not to be interrupted: the VAD listens once their mark comes back
                self._play(turn.before)
                self.pre_mark = f"pre-{n}"
                self._mark(self.pre_mark)
            self._play(turn.during)
            self.turn_mark = f"turn-{n}"
            self._mark(self.turn_mark)
            self.listen = listen
            if listen.speech:
                self.pipeline = self._pipeline_for(listen)
                self.rt.warm(self.pipeline)
            return
        # A transfer or hang-up: keep it for /voice/connect, play the last words, then close.
        self._keep_final(turn.end)
        frames = self._play(turn.before)
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
                media_extra(state)["final"] = A.to_dict(end)
                self.rt.services.store.save(state, [])
        except Exception:  # noqa: BLE001 - /voice/connect falls back to a person
            log.exception("call %s: could not keep the final action", self.call_id)

    def _feed(self, event: E.Event) -> None:
        node = self.listen.node if self.listen else None
        self.listen = None
        done = threading.Event()
        threading.Thread(target=self._hold_while, args=(done,), name=f"ivr-hold-{self.call_id[-6:]}",
                         daemon=True).start()
        try:
            turn = self.driver.feed(self.call_id, event, expect_node=node)
        finally:
            done.set()
        self._run(turn.actions)

    def _hold_while(self, done: threading.Event) -> None:
        """While a slow turn runs (a hook), "One moment, please." after ``IVR_HOLD_AFTER`` s, then every
        :data:`HOLD_REPEAT_S`: the caller never waits in silence (the keypad path's ``<Redirect>`` hold).

        Runs outside :attr:`lock`, which the turn holds; :attr:`send_lock` keeps messages whole, and the
        turn's own prompts simply queue behind the phrase at Twilio.
        """
        wait = self.rt.hold_after
        while not done.wait(wait):
            if self.closed:
                return
            try:
                frames = self.rt.frames(self._hold_play())
            except Exception:  # noqa: BLE001 - a missing phrase must not cost the turn
                log.exception("call %s: no holding phrase", self.call_id)
                return
            for i in range(0, len(frames), FRAMES_PER_MESSAGE):
                self._send(MS.media_message(self.stream_sid, b"".join(frames[i:i + FRAMES_PER_MESSAGE])))
            self.holds += 1
            self.rt.holds += 1
            wait = HOLD_REPEAT_S

    def _hold_play(self) -> A.Play:
        flow = self.rt.services.flows.get(self.flow_id) if self.flow_id else None
        if flow is None:
            return Speaker(self.language).play_of("hold_on")
        return Speaker(flow.language, flow.flow, flow.settings.voice, flow.settings.rate).play_of("hold_on")

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
                if len(self.heard_meanwhile) < HEARD_MEANWHILE_FRAMES:
                    self.heard_meanwhile.append(payload)
                self._check_recognition()
                return
            pipe = self.pipeline
            if pipe is not None and self._hear(listen, pipe, payload):
                return
            if self.digits:
                if self.frames - self.last_key_frame >= listen.digit_timeout * FRAMES_PER_SECOND:
                    self._digits_done()
            elif (self.timer_start is not None and not (pipe is not None and pipe.in_speech)
                  and self.frames - self.timer_start >= listen.timeout * FRAMES_PER_SECOND):
                self._feed(E.NoInput(at=self._now()))

    def _hear(self, listen: A.Listen, pipe: ListenPipeline, payload: bytes) -> bool:
        """One inbound frame through the VAD; True when it ended (or began ending) the utterance."""
        playing = self.timer_start is None
        if self.pre_mark is not None or not (listen.barge_in or not playing):
            return False
        for ev in pipe.feed(ulaw_to_pcm16(payload)):
            if isinstance(ev, SpeechStarted) and playing and listen.barge_in:
                self._send(MS.clear_message(self.stream_sid))
                self.barged_in = True
            elif isinstance(ev, SpeechPaused):
                spec = self.spec
                if (spec is not None and spec.pipe is pipe and spec.seq == self.listen_seq
                        and spec.paused.voiced_seq == ev.voiced_seq):
                    self._paused_longer(spec, ev)
                else:
                    self._speculate(pipe, ev)
                if self.recognizing or self.pipeline is not pipe:
                    return True  # the late pause ended the turn
            elif isinstance(ev, SpeechEnded):
                self._recognize(pipe)
                return True
        return False

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
        self.heard_meanwhile = []
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
        spec = _Speculation(pipe, self.listen_seq, paused, silence_ms=paused.silence_ms)
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
            complete = spec.pipe.is_complete(hyp, spec.silence_ms)
            if spec.awaited:  # the utterance ended, silent since the pause, while this ran: it is the answer
                self.spec = None
                if complete:
                    self._count_early(spec)
                self._speech_result(spec.pipe, spec.seq, hyp)
                return
            if not spec.pipe.still_paused(spec.paused):
                self.spec = None  # the caller went on talking; their utterance will end on its own
                return
            if complete and not self.recognizing:
                self._end_early(spec)

    def _paused_longer(self, spec: _Speculation, paused: SpeechPaused) -> None:
        """The caller is still silent at the late pause: an unsure whole phrase may now end the turn."""
        spec.silence_ms = max(spec.silence_ms, paused.silence_ms)
        if spec.done and not self.recognizing and spec.pipe.is_complete(spec.hyp, spec.silence_ms):
            self._end_early(spec)

    def _end_early(self, spec: _Speculation) -> None:
        """End the turn on the pause's recognition (a whole phrase, and the caller still silent)."""
        self.spec = None
        spec.pipe.end_early(spec.paused)
        self._count_early(spec)
        self.recognizing = True
        self._speech_result(spec.pipe, spec.seq, spec.hyp)

    def _count_early(self, spec: _Speculation) -> None:
        self.rt.early_ends += 1
        if not spec.pipe.is_sure(spec.hyp):
            self.rt.unsure_early_ends += 1
            if spec.hyp is not None and not spec.hyp.text:
                self.rt.rejected_early_ends += 1
        self.early = True

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
            if (hyp is not None and hyp.hesitation and pipe is not None and self.listen is not None
                    and self.hesitations < MAX_HESITATIONS and not self.barged_in):
                self._listen_on()
                return
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
            self._deliver_held_keys()
        if self.driver.voice_auth is not None and not self.closed:
            quietly(lambda: self.rt.pool.submit(self._passive_auth))

    def _listen_on(self) -> None:
        """The caller only hesitated ("um"): no answer and no re-prompt; listen on, as if they had not spoken.

        Why: a caller who thinks aloud before choosing is about to answer; a
        "Sorry, I didn't catch that" would talk over the answer they are
        forming and cost them an attempt. The Listen goes on with a fresh
        recogniser session (fed what the caller said while "um" was being
        recognised) and its no-input timer starts again from now, since the
        caller has shown they are there. After :data:`MAX_HESITATIONS` in
        one turn the next one is the no-match it always was, and so is a
        hesitation that cut the prompt short (barge-in): listening on would
        leave the caller in silence without the rest of the menu, and the
        re-prompt plays it again.
        """
        assert self.listen is not None
        self.hesitations += 1
        self.rt.hesitations += 1
        self.listen_seq += 1   # whatever the old pipeline still has in flight is stale
        self.spec = None
        self.early = False
        if self.timer_start is not None:
            self.timer_start = self.frames
        log.info("call %s: the caller hesitated at %s; listening on", self.call_id, self.listen.node)
        listen = self.listen
        self.pipeline = new = self._pipeline_for(listen)
        heard, self.heard_meanwhile = self.heard_meanwhile, []
        for payload in heard:
            if self.recognizing or self.pipeline is not new or self._hear(listen, new, payload):
                break
        self._deliver_held_keys()

    def _pipeline_for(self, listen: A.Listen) -> ListenPipeline:
        """A Listen's VAD and recogniser session, on the call's own detector (its noise model stays adapted)."""
        return ListenPipeline(listen, self.rt.recognizer, self.language, detector=self.detector,
                              start_lock=self.rt.start_lock)

    def _deliver_held_keys(self) -> None:
        """The keys pressed while an utterance was being recognised, in order, now that it has its outcome."""
        keys, self.held_keys = self.held_keys, []
        for digit in keys:
            self.on_dtmf(digit)

    def _passive_auth(self) -> None:
        """After an utterance, off the media loop: a voice decision once enough speech was heard.

        Its result changes what the call knows (``auth``), rarely what it says:
        only actions it brings (none, unless the flow reacts) are played.
        """
        turn = self.driver.passive_auth(self.call_id)
        if turn is None:
            return
        with self.lock:
            if self.closed:
                return
            if any(isinstance(a, (A.Play, A.Transfer, A.Hangup)) for a in turn.actions):
                self._run(turn.actions)

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
        self.driver.end_audio(self.call_id)
        if mid_dialogue:
            try:
                state = self.driver.state(self.call_id)
                if state is not None and not state.ended:
                    if how == "drop":
                        media_extra(state)["dropped"] = True
                        self.rt.services.store.save(state, [])
                    self.driver.feed(self.call_id, E.CallerHungUp(at=self._now()))
            except Exception:  # noqa: BLE001
                log.exception("call %s: could not record the hang-up", self.call_id)
