"""Voice webhooks for keypad calls (``POST /voice`` and ``/voice/...``).

Each webhook turns Twilio's request into one engine event, lets the call
driver run the turn, and renders the resulting actions as TwiML.  Whatever
goes wrong, the answer is valid TwiML that apologises and hands the caller
to a person.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Optional

from flask import Blueprint, Response, current_app, request

from ..calls.driver import Turn
from ..engine import events as E
from ..flow.model import Flow
from ..services import Services
from . import twiml
from .twilio_request import HANGUP_STATUSES, VoiceParams, install_error_handler, request_key, twilio_signed

log = logging.getLogger(__name__)

bp = Blueprint("voice", __name__, url_prefix="/voice")


def services() -> Services:
    return current_app.extensions["ivr"]


def xml(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/xml")


def render_turn(turn: Turn) -> str:
    """TwiML for a turn, using the app's prompt audio and handoff renderers when present."""
    ext = current_app.extensions
    flow = turn.flow

    def workflow_sid(queue: str) -> Optional[str]:
        q = flow.queues.get(queue) if flow else None
        return (q.workflow_sid if q else None) or os.environ.get("IVR_TWILIO_WORKFLOW_SID")

    return twiml.render(turn.actions, prompt_url=ext.get("ivr.prompt_url"), base=bp.url_prefix,
                        workflow_sid=workflow_sid, transfer=ext.get("ivr.transfer_twiml"),
                        turn=turn.state.version if turn.state is not None else None)


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
        return xml(twiml.apology("general"))
    start_hook = current_app.extensions.get("ivr.start_call")
    if start_hook is not None:  # the speech transport may take over the call
        body = start_hook(flow, p)
        if body is not None:
            return xml(body)
    turn = svc.driver.start(p.call_sid, p.caller, p.called, flow, key=request_key())
    return xml(render_turn(turn))


@bp.post("/input")
@twilio_signed
def gathered() -> Response:
    """Keys from a ``<Gather>``."""
    p = VoiceParams.from_request(request)
    event = E.DigitsReceived(p.digits or "", at=_time()) if p.digits else E.NoInput(at=_time())
    turn = services().driver.feed(p.call_sid, event, expect_node=request.args.get("node"), turn=_turn(),
                                  key=request_key())
    return xml(render_turn(turn))


@bp.post("/noinput")
@twilio_signed
def no_input() -> Response:
    """The ``<Redirect>`` after a ``<Gather>`` that timed out."""
    p = VoiceParams.from_request(request)
    turn = services().driver.feed(p.call_sid, E.NoInput(at=_time()), expect_node=request.args.get("node"),
                                  turn=_turn(), key=request_key())
    return xml(render_turn(turn))


@bp.post("/status")
@twilio_signed
def status() -> Response:
    """Call status callback: a hang-up mid-flow is an abandonment at that node."""
    p = VoiceParams.from_request(request)
    if p.call_status in HANGUP_STATUSES and p.call_sid:
        state = services().driver.state(p.call_sid)
        if state is not None:
            services().driver.feed(p.call_sid, E.CallerHungUp(at=_time()))
    return xml(str(twiml.VoiceResponse()))


def _fallback(exc: Exception) -> Response:
    """The safety net: apologise and hand the caller to a person with what is known."""
    p = VoiceParams.from_request()
    return xml(render_turn(services().driver.fallback(p.call_sid, p.caller, None, repr(exc))))


install_error_handler(bp, _fallback)
