"""Voice webhooks for keypad calls (``POST /voice`` and ``/voice/...``).

Each webhook turns Twilio's request into one engine event, lets the call
driver run the turn, and renders the resulting actions as TwiML.  Whatever
goes wrong, the answer is valid TwiML that apologises and hands the caller
to a person.
"""

from __future__ import annotations

import logging
from typing import Optional

from flask import Blueprint, Response, request

from ..calls.driver import Turn
from ..engine import events as E
from ..flow.model import Flow
from ..services import Services
from . import app_state, twiml
from .transfer import render_transfer
from .twilio_request import (HANGUP_STATUSES, VoiceParams, install_error_handler, request_key, twilio_signed,
                             xml_response)

log = logging.getLogger(__name__)

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
    turn = svc.driver.start(p.call_sid, p.caller, p.called, flow, key=request_key(), entry=p.entry)
    return xml_response(render_turn(turn))


@bp.post("/input")
@twilio_signed
def gathered() -> Response:
    """Keys from a ``<Gather>``."""
    p = VoiceParams.from_request(request)
    event = E.DigitsReceived(p.digits or "", at=_time()) if p.digits else E.NoInput(at=_time())
    turn = services().driver.feed(p.call_sid, event, expect_node=request.args.get("node"), turn=_turn(),
                                  key=request_key())
    return xml_response(render_turn(turn))


@bp.post("/noinput")
@twilio_signed
def no_input() -> Response:
    """The ``<Redirect>`` after a ``<Gather>`` that timed out."""
    p = VoiceParams.from_request(request)
    turn = services().driver.feed(p.call_sid, E.NoInput(at=_time()), expect_node=request.args.get("node"),
                                  turn=_turn(), key=request_key())
    return xml_response(render_turn(turn))


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


def _fallback(exc: Exception) -> Response:
    """The safety net: apologise and hand the caller to a person with what is known."""
    p = VoiceParams.from_request()
    return xml_response(render_turn(services().driver.fallback(p.call_sid, p.caller, None, repr(exc))))


install_error_handler(bp, _fallback)
