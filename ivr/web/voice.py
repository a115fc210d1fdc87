"""Voice webhooks for keypad calls (``POST /voice`` and ``/voice/...``).

Each webhook turns Twilio's request into one engine event, lets the call
driver run the turn, and renders the resulting actions as TwiML.  Whatever
goes wrong, the answer is valid TwiML that apologises and hands the caller
to a person.

A turn runs in the background (:mod:`ivr.calls.pending`) and the webhook
waits for it only ``hold_after`` seconds: a turn still busy then (a slow
hook) is answered with a short holding phrase and a ``<Redirect>`` to
``/voice/pending``, which waits on the same turn again, so the caller never
hears silence and Twilio never waits near its 15 s limit.  The driver's turn
deadline ends the hooks in time; a turn that is somehow still not done
shortly after it sends the caller to a person.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Optional

from flask import Blueprint, Response, request
from twilio.twiml.voice_response import VoiceResponse

from ..calls.driver import Turn
from ..calls.pending import HOLD_AFTER, Pending
from ..engine import events as E
from ..flow.model import Flow
from ..services import Services
from . import app_state, twiml
from .call_view import CallView
from .handoff_twiml import Speaker
from .transfer import render_transfer
from .twilio_request import (HANGUP_STATUSES, VoiceParams, install_error_handler, request_key, twilio_signed,
                             xml_response)

log = logging.getLogger(__name__)

GIVE_UP_GRACE = 2.0
"""Seconds past the driver's turn deadline (store calls, rendering) before a still-running turn is
abandoned and the caller sent to a person from ``/voice/pending``."""
STORE_POLL = 0.25
"""Seconds between looks at the store for a turn that runs in another worker process."""

bp = Blueprint("voice", __name__, url_prefix="/voice")


def services() -> Services:
    """The app's core services (flows, store, hooks, driver)."""
    return app_state.services()


def render_turn(turn: Turn) -> str:
    """TwiML for a turn: the app's prompt audio (else ``<Say>``) and the handoff's queue targets."""
    return twiml.render(turn.actions, transfer=render_transfer, prompt_url=app_state.parts().prompt_url,
                        base=bp.url_prefix, turn=turn.state.version if turn.state is not None else None)


def _turn() -> Optional[int]:
    """The ``turn`` our action URLs carry (None when absent or not a number)."""
    raw = request.args.get("turn", "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def _time() -> float:
    return services().driver.clock()


def _hold_after() -> float:
    """Seconds a webhook waits for its turn before the holding message (``IVR_HOLD_AFTER``)."""
    return services().config.hold_after or HOLD_AFTER


def _give_up_after() -> float:
    """Seconds after which a turn that is still running is abandoned for a person."""
    return services().driver.turn_deadline + GIVE_UP_GRACE


def _in_background(call_id: str, turn: Optional[int], run: Callable[[], Turn],
                   flow: Optional[Flow] = None) -> Response:
    """Run a turn off the request thread and answer with it, or with a holding message if it is slow.

    A turn of the same call still running (this request is Twilio's retry of
    the one that started it) is waited on instead of being run again.
    """
    pending = services().pending.submit(call_id, turn, run, flow)
    return _answer(pending, hold=0)


def _answer(pending: Pending, hold: int) -> Response:
    """The turn's TwiML when it finishes within the hold budget; else hold again, or a person past the deadline."""
    left = _give_up_after() - pending.age()
    done = pending.wait(min(_hold_after(), max(0.0, left)))
    if done is not None:
        return xml_response(render_turn(done))
    if pending.age() >= _give_up_after():
        services().pending.give_up(pending)
        return _give_up(pending.call_id, pending.flow)
    return xml_response(_holding(pending.call_id, pending.turn, hold + 1, pending.flow))


def _give_up(call_id: str, flow: Optional[Flow]) -> Response:
    """The turn did not finish in time: a person, with what is known."""
    log.warning("call %s: turn still running after %.1fs; transferring to a person", call_id, _give_up_after())
    return xml_response(render_turn(services().driver.fallback(call_id, "", flow, "turn deadline passed")))


def _holding(call_id: str, turn: Optional[int], hold: int, flow: Optional[Flow]) -> str:
    """TwiML of the holding phrase (the flow's language and voice) and the ``<Redirect>`` that waits on."""
    svc = services()
    if flow is None:
        state = svc.driver.state(call_id)
        flow = svc.flows.get(state.flow) if state is not None else None
    speaker = Speaker(flow.language, flow.flow, flow.settings.voice, flow.settings.rate,
                      app_state.parts().prompt_url) if flow is not None else Speaker(
                          prompt_url=app_state.parts().prompt_url)
    resp = VoiceResponse()
    speaker.say(resp, "hold_on")
    query = f"hold={int(hold)}" + (f"&turn={int(turn)}" if turn is not None else "")
    resp.redirect(f"{bp.url_prefix}/pending?{query}", method="POST")
    return str(resp)


def _int_arg(name: str) -> Optional[int]:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


@bp.post("")
@twilio_signed
def incoming() -> Response:
    """A call arrives: pick the flow, start the engine."""
    svc = services()
    p = VoiceParams.from_request(request)
    flow: Optional[Flow] = svc.flows.select(called=p.called, flow_id=request.args.get("flow"),
                                            default=svc.config.default_flow)
    if flow is None:
        log.error("no flow for call %s to %s (flow=%s); flows: %s", p.call_sid, p.called,
                  request.args.get("flow"), svc.flows.ids)
        return xml_response(twiml.apology("general"))
    start_hook = app_state.parts().start_call
    if start_hook is not None:  # the speech transport may take over the call
        body = start_hook(flow, p.call_sid, p.caller, p.called, p.entry)
        if body is not None:
            return xml_response(body)
    key, driver = request_key(), svc.driver
    return _in_background(p.call_sid, 0, lambda: driver.start(p.call_sid, p.caller, p.called, flow, key=key,
                                                              entry=p.entry), flow)


@bp.post("/input")
@twilio_signed
def gathered() -> Response:
    """Keys from a ``<Gather>``."""
    p = VoiceParams.from_request(request)
    event = E.DigitsReceived(p.digits or "", at=_time()) if p.digits else E.NoInput(at=_time())
    return _feed(p.call_sid, event)


@bp.post("/noinput")
@twilio_signed
def no_input() -> Response:
    """The ``<Redirect>`` after a ``<Gather>`` that timed out."""
    p = VoiceParams.from_request(request)
    return _feed(p.call_sid, E.NoInput(at=_time()))


def _feed(call_id: str, event: E.Event) -> Response:
    """Deliver a ``<Gather>``'s input as a background turn (request values are read here, in the request)."""
    driver, node, turn, key = services().driver, request.args.get("node"), _turn(), request_key()
    return _in_background(call_id, turn, lambda: driver.feed(call_id, event, expect_node=node, turn=turn, key=key))


@bp.post("/pending")
@twilio_signed
def pending() -> Response:
    """The ``<Redirect>`` after a holding message: wait (bounded) for the same turn, then its TwiML.

    A retried redirect gets the same answer: the finished turn is kept here,
    and the driver saved its answer with the call. A turn this process does
    not know (another worker ran it) is read from the store once saved.
    """
    p = VoiceParams.from_request(request)
    hold, turn = _int_arg("hold") or 1, _turn()
    svc = services()
    waiting = svc.pending.get(p.call_sid)
    if waiting is not None and waiting.turn == turn:
        return _answer(waiting, hold)
    until = time.monotonic() + _hold_after()
    while True:
        state = svc.driver.state(p.call_sid)
        if state is not None and (turn is None or state.version > turn):
            return xml_response(render_turn(svc.driver.answer(p.call_sid)))
        if time.monotonic() >= until:
            break
        time.sleep(STORE_POLL)
    if hold * _hold_after() >= _give_up_after():
        return _give_up(p.call_sid, None)
    return xml_response(_holding(p.call_sid, turn, hold + 1, None))


@bp.post("/status")
@twilio_signed
def status() -> Response:
    """Call status callback: a hang-up mid-flow is an abandonment at that node."""
    p = VoiceParams.from_request(request)
    if p.call_status in HANGUP_STATUSES and p.call_sid:
        state = services().driver.state(p.call_sid)
        if state is not None:
            services().driver.feed(p.call_sid, E.CallerHungUp(at=_time()))
    return xml_response(str(twiml.VoiceResponse()))


@bp.post("/recording")
@twilio_signed
def recording() -> Response:
    """Recording status callback of a recorded flow (``settings.record``): where the call's recording is.

    Kept with the call's events (SID, URL, seconds) for quality review; the
    stretches during sensitive asks were never recorded (see :mod:`ivr.handoff.recording`).
    """
    view = CallView()
    params = view.params
    if view.state is not None and params.get("RecordingStatus", "completed") == "completed":
        view.save("recording_completed", recording=params.get("RecordingSid", ""),
                  url=params.get("RecordingUrl", ""), seconds=_int(params.get("RecordingDuration")),
                  channels=_int(params.get("RecordingChannels")))
    return xml_response(str(twiml.VoiceResponse()))


def _int(value: Optional[str]) -> Optional[int]:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _fallback(exc: Exception) -> Response:
    """The safety net: apologise and hand the caller to a person with what is known."""
    p = VoiceParams.from_request()
    return xml_response(render_turn(services().driver.fallback(p.call_sid, p.caller, None, repr(exc))))


install_error_handler(bp, _fallback)
