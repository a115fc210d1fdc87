"""Spoken "callback" / "leave a message" while a caller waits in an agent queue, heard offline.

A waitUrl cannot run our dialogue stream, and Twilio's cloud speech is not
allowed, so a speech call transferred to a ``<Enqueue>`` target gets a
one-way ``<Start><Stream track="inbound_track">`` (``purpose=queue``) before
the ``<Enqueue>``. The ``/media`` socket hands such streams to
:func:`listen_in_queue`: VAD plus our recogniser with a grammar of the leave
phrases (and the agent words, so "agent" is not forced into a leave phrase).
A confident leave phrase records the choice as a key press would
(``handoff.leave`` and a ``queue_leave_requested`` event) and moves the live
call to the callback or voicemail dialogue through Twilio's REST API
(``calls(sid).update(url=...)``), exactly where pressing 1 or 2 leads.

Opt-in (``IVR_QUEUE_SPEECH=1``), and available only with media streams on and ``TWILIO_ACCOUNT_SID`` (plus the
auth token) configured; :func:`install` then sets the app's ``queue_speech`` part
(:mod:`ivr.web.app_state`) so the wait prompt says "or say callback".

Limitation: the ``<Start>`` stream lives as long as the call. The listener
stops once the handoff records a queue result or a leave choice, but a caller
already bridged to an agent before the ``<Enqueue action>`` arrives is still
heard; it only ever acts on the leave phrases.
"""

from __future__ import annotations

import logging
import time
import types
from typing import TYPE_CHECKING, Any

from flask import Flask, request
from twilio.twiml.voice_response import VoiceResponse

from ..engine import actions as A
from ..engine.matching import agent_words
from ..speech import mediastreams as MS
from ..speech.codec import ulaw_to_pcm16
from ..speech.pipeline import ListenPipeline
from ..speech.vad import EndpointDetector, VadConfig
from . import app_state
from .queue_choice import callback_words, leave_choice, voicemail_words
from .stream_twiml import QUEUE_PURPOSE, add_queue_stream

if TYPE_CHECKING:
    from .media.runtime import MediaRuntime

log = logging.getLogger(__name__)

PURPOSE = QUEUE_PURPOSE
LEAVE_PATHS = {"callback": "/voice/queue/callback", "voicemail": "/voice/queue/voicemail"}
MIN_CONFIDENCE = 0.5


def install(app: Flask) -> bool:
    """Turn spoken leave choices on when media streams and a Twilio account are configured."""
    web = app_state.parts(app)
    svc, handoff = web.services, web.handoff
    reason = None
    if not svc.config.queue_speech:
        reason = ("IVR_QUEUE_SPEECH is off (turn it on to hear 'call me back' while callers wait; the listener "
                  "keeps listening after an agent answers until Twilio reports the queue result)")
    elif svc.config.media_streams is False:
        reason = "media streams are off (IVR_MEDIA_STREAMS=0)"
    elif handoff is None:
        reason = "the handoff service is not installed"
    elif not handoff.settings.account_sid:
        reason = "TWILIO_ACCOUNT_SID is not set (the call is moved out of the queue with Twilio's REST API)"
    elif not svc.config.auth_token:
        reason = "TWILIO_AUTH_TOKEN is not set"
    on = reason is None
    web.queue_speech = on
    if not on:
        log.info("queue wait loop takes keys only: %s", reason)
    return on


def available() -> bool:
    """Whether this app hears waiting callers' spoken choices."""
    return app_state.parts().queue_speech


def add_stream(resp: VoiceResponse, call_sid: str) -> None:
    """The waiting caller's one-way stream, ahead of the ``<Enqueue>``."""
    add_queue_stream(resp, app_state.config(), request.url_root, call_sid)


def phrases(language: str, extra_agent: tuple = ()) -> tuple[str, ...]:
    """What the queue listener's grammar holds: the leave phrases and the agent words."""
    return callback_words(language) + voicemail_words(language) + tuple(agent_words(language, extra_agent))


class QueueListener:
    """Hears one waiting caller; never sends anything back."""

    def __init__(self, rt: MediaRuntime, call_id: str) -> None:
        self.rt = rt
        self.svc = rt.services
        self.call_id = call_id
        state = self.svc.driver.state(call_id)
        self.language = (state.language if state else None) or "en-US"
        flow = self.svc.flows.get(state.flow) if state else None
        self.extra_agent = tuple(flow.settings.agent_words) if flow else ()
        self.listen = types.SimpleNamespace(mode="menu", phrases=phrases(self.language, self.extra_agent),
                                            end_of_speech_ms=600, confidence=MIN_CONFIDENCE)
        self.detector = EndpointDetector(VadConfig())
        self.pipe = self._pipe()
        self.done = False
        self.heard: list[str] = []

    def _pipe(self) -> ListenPipeline:
        return ListenPipeline(self.listen, self.rt.recognizer, self.language, detector=self.detector,
                              start_lock=self.rt.start_lock)

    def still_waiting(self) -> bool:
        state = self.svc.driver.state(self.call_id)
        if state is None:  # (the engine's part of the call ended at the transfer; the queue part has not)
            return False
        data = state.extra.get("handoff") or {}
        return not data.get("leave") and not data.get("queue_result")

    def on_media(self, payload: bytes) -> None:
        self.pipe.feed(ulaw_to_pcm16(payload))
        if self.pipe.ended is None:
            return
        hyp = self.pipe.recognize()
        self.pipe = self._pipe()
        text = (hyp.text or "").strip()
        if not text or hyp.confidence < MIN_CONFIDENCE:
            return
        self.heard.append(text)
        choice = leave_choice(None, text, self.language, self.extra_agent)
        if choice in LEAVE_PATHS:
            self.leave(choice, text, hyp.confidence)

    def leave(self, choice: str, text: str, confidence: float) -> None:
        state = self.svc.driver.state(self.call_id)
        if state is None or not self.still_waiting():
            self.done = True
            return
        flow = self.svc.flows.get(state.flow)
        queue = state.queue or "general"
        spec = flow.queues.get(queue) if flow else None
        if spec is not None and not (spec.offer_callback if choice == "callback" else spec.offer_voicemail):
            return
        handoff = app_state.handoff()
        base = (self.svc.config.public_url or request.host_url).rstrip("/")
        url = base + LEAVE_PATHS[choice]
        now = self.svc.driver.clock()
        data = state.extra.setdefault("handoff", {})
        data["leave"] = choice  # recorded before the move, so the callback dialogue finds it
        state.updated_at = max(state.updated_at, now)
        self.svc.store.save(state, [A.RecordEvent("queue_leave_requested", state.node, now,
                                                  {"queue": queue, "choice": choice, "via": "speech",
                                                   "text": text, "confidence": round(confidence, 3)})])
        try:
            handoff.twilio_client().calls(self.call_id).update(url=url, method="POST")
        except Exception:  # noqa: BLE001 - the caller stays in line; keys still work
            log.exception("call %s: could not move the caller out of the queue", self.call_id)
            data.pop("leave", None)
            self.svc.store.save(state, [A.RecordEvent("queue_leave_failed", state.node, now,
                                                      {"queue": queue, "choice": choice, "via": "speech"})])
            return
        log.info("call %s: said %r in the queue; moved to %s", self.call_id, text, choice)
        self.done = True


def listen_in_queue(ws: Any, rt: MediaRuntime, call_id: str) -> None:
    """The ``/media`` loop of a ``purpose=queue`` stream (token already verified)."""
    listener = QueueListener(rt, call_id)
    reader = MS.FrameReader(f"call {call_id} queue stream", log)
    checked = time.monotonic()
    try:
        while not listener.done:
            try:
                text = ws.receive(timeout=0.5)
            except Exception:  # noqa: BLE001 - the socket went
                break
            if time.monotonic() - checked > 2.0:
                checked = time.monotonic()
                if not listener.still_waiting():
                    break
            if text is None:
                if not ws.connected:
                    break
                continue
            try:
                msg = reader.read(text)
            except MS.ProtocolError as exc:
                ws.close(reason=exc.close_code, message=exc.close_reason)
                break
            if isinstance(msg, MS.Media):
                if msg.track in ("inbound", "inbound_track"):
                    listener.on_media(msg.payload)
            elif isinstance(msg, MS.Stop):
                break
    except Exception:  # noqa: BLE001 - keys still work in the wait loop
        log.exception("call %s: queue listener failed", call_id)
    reader.finish()
    try:
        ws.close()
    except Exception:  # noqa: BLE001
        pass
