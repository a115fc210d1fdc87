"""The media stream's endpoints: the ``/media`` websocket, ``POST /voice/connect`` and the stats API.

:func:`start_call` takes a speech call over from ``POST /voice``: it starts
the call in the driver, keeps the first turn's actions in the call state and
answers ``<Connect><Stream>``. :func:`media_socket` verifies the stream's
token and runs a :class:`~.session.MediaSession` (or, for a waiting caller's
stream, the queue listener) until the dialogue ends; Twilio then posts
``/voice/connect``, answered from the state the session saved: the transfer
or hang-up, a new stream after our socket went, or a person with the context.
:func:`install` wires it all into an app.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Optional

from flask import Blueprint, Flask, Response, jsonify, request
from flask_sock import Sock
from twilio.twiml.voice_response import VoiceResponse

from ...calls.driver import Turn
from ...engine import actions as A
from ...flow.model import Flow
from ...speech import mediastreams as MS
from .. import app_state, queue_speech, twiml, voice
from ..api import bearer_required
from ..queue_speech import listen_in_queue
from ..stream_twiml import CONNECT_ACTION, QUEUE_PURPOSE, connect_twiml, stream_token, stream_url, token_valid
from ..twilio_request import VoiceParams, install_error_handler, request_key, twilio_signed, xml_response
from .runtime import MediaRuntime, quietly
from .session import MediaSession, media_extra

log = logging.getLogger(__name__)

bp = Blueprint("media", __name__)

START_TIMEOUT_S = 10.0
"""A stream that sends no ``start`` within this is closed."""
MAX_RECONNECTS = 2
"""New streams for one call after ours dropped mid-dialogue; then a person takes over."""


def media_socket(ws: Any) -> None:
    """The ``/media`` websocket: one Twilio stream."""
    rt = app_state.media()
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
    if params.get("purpose") == QUEUE_PURPOSE:
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


def start_call(flow: Flow, call_sid: str, caller: str, called: str, entry: str = "") -> Optional[str]:
    """The app's ``start_call``: speech flows run over a media stream; None leaves keypad flows to TwiML."""
    rt = app_state.media()
    if not flow.settings.speech or not rt.hears(flow.language):
        return None
    svc = rt.services
    quietly(lambda: rt.warm_flow(flow))  # new or hot-reloaded flows: queued, never waited for
    turn = svc.driver.start(call_sid, caller, called, flow, key=request_key(), entry=entry)
    if not isinstance(turn.last, A.Listen) or turn.state is None or turn.state.ended:
        return voice.render_turn(turn)
    return _connect(turn, call_sid)


def _connect(turn: Turn, call_sid: str) -> str:
    """Keep the turn's actions for the stream and answer ``<Connect><Stream>``."""
    svc = app_state.services()
    call = turn.state
    assert call is not None
    media_extra(call)["pending"] = [A.to_dict(a) for a in turn.actions]
    svc.store.save(call, [])
    return connect_twiml(stream_url(svc.config, request.url_root), call_sid, stream_token(svc.config, call_sid))


@bp.post(CONNECT_ACTION)
@twilio_signed
def connect_action() -> Response:
    """Twilio's ``<Connect action>``: the stream ended; transfer, hang up, or pick the caller up again."""
    svc = app_state.services()
    p = VoiceParams.from_request(request)
    call = svc.driver.state(p.call_sid)
    if call is None:
        return xml_response(twiml.apology("general"))
    flow = svc.flows.get(call.flow)
    media = media_extra(call)
    final = media.get("final")
    if final and not media.get("dropped"):
        return xml_response(voice.render_turn(Turn([A.from_dict(final)], call, flow)))
    if not call.ended and flow is not None and media.get("reconnects", 0) < MAX_RECONNECTS:
        # Our socket went while the caller is still in the dialogue: a new stream, same prompt.
        media["reconnects"] = media.get("reconnects", 0) + 1
        svc.store.save(call, [])
        turn = svc.driver.resume(p.call_sid)
        if isinstance(turn.last, A.Listen) and turn.state is not None:
            log.warning("call %s: media stream ended mid-dialogue; reconnecting", p.call_sid)
            return xml_response(_connect(Turn(turn.actions, svc.driver.state(p.call_sid), flow), p.call_sid))
        return xml_response(voice.render_turn(turn))
    if call.ended and not media.get("dropped") and call.end_reason == "caller_hangup":
        resp = VoiceResponse()
        resp.hangup()
        return xml_response(str(resp))
    # The stream dropped mid-dialogue yet the caller is here: a person takes over with the context.
    log.warning("call %s: media stream lost mid-dialogue; handing over to a person", p.call_sid)
    turn = svc.driver.fallback(p.call_sid, p.caller, flow, "media stream lost")
    return xml_response(voice.render_turn(turn))


def _connect_failed(exc: Exception) -> Response:
    """The safety net of ``/voice/connect``: the caller goes to a person, with what is known."""
    p = VoiceParams.from_request()
    return xml_response(voice.render_turn(app_state.services().driver.fallback(p.call_sid, p.caller, None, repr(exc))))


install_error_handler(bp, _connect_failed)


@bp.get("/api/media/stats")
@bearer_required
def stats() -> Any:
    """Streams active/total, reply latency (end-of-turn decision to first reply audio) and the reply gap.

    The gap runs from the caller's last voiced frame, so it includes the
    end-of-speech silence the caller waits through. Reading never changes
    them: ``POST /api/media/stats/reset`` clears them.
    """
    if "reset" in request.args:
        return jsonify({"error": "GET only reads the figures; clear them with POST /api/media/stats/reset"}), 400
    return jsonify(app_state.media().stats())


@bp.post("/api/media/stats/reset")
@bearer_required
def reset_stats() -> Any:
    """Clear the figures (a benchmark between load levels); answers the figures as they were."""
    rt = app_state.media()
    before = rt.stats()
    rt.reset_stats()
    return jsonify(before)


def install(app: Flask) -> MediaRuntime:
    """Register ``/media`` and ``/voice/connect``; run speech flows over streams when configured.

    Fills the app's parts (:mod:`ivr.web.app_state`): ``media`` (the runtime, whose
    ``tap`` is the voice tap: voiced caller frames by call id) and, unless
    ``config.media_streams`` is false (``IVR_MEDIA_STREAMS=0``), ``start_call``
    so ``POST /voice`` hands speech flows here.
    """
    web = app_state.parts(app)
    rt = MediaRuntime(web.services, web.prompts)
    # The transport refuses oversized frames (1009) before they are buffered; parse_message checks again.
    app.config.setdefault("SOCK_SERVER_OPTIONS", {"max_message_size": MS.MAX_MESSAGE_CHARS})
    web.media = rt
    sock = Sock(app)
    sock.route("/media")(media_socket)
    app.register_blueprint(bp)
    web.services.on_close.append(rt.close)
    if web.config.media_streams is not False:  # on unless IVR_MEDIA_STREAMS=0
        web.start_call = start_call
        rt.start_warmup()  # speech calls are served here: be ready before the first one
        web.services.flows.on_change(rt.prepare_flow)  # and for every flow a reload brings
    queue_speech.install(app)
    return rt
