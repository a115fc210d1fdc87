"""The agent queue's webhooks (``/voice/queue/...``): the wait loop and how a caller leaves it.

* ``/wait`` is the ``<Enqueue waitUrl>``: position, expected wait, hold
  audio, and the keys that leave the queue; ``/wait/input`` takes those keys.
* ``/done`` is the ``<Enqueue action>``: bridged, left, hung up, failed.
  Bridged (and a completed ``/dialed``) means the person hung up with the caller still there: the
  engine then offers the flow's post-call survey (``settings.survey``) or says goodbye.
* ``/dialed`` is the ``<Dial action>`` of SIP and number targets; ``/leave``
  is the callback-or-message menu after a failed connection; ``/whisper`` is
  what the agent of a number target hears before the caller is connected.

Callers stay in control here (DESIGN.md): 1 or "callback" asks for a call
back, 2 or "message" leaves a message, 0 or "agent" keeps their place.
:func:`leave_choice` is that rule (:mod:`ivr.web.queue_choice`), shared with
the spoken-choice listener (:mod:`ivr.web.queue_speech`). Out of the line, in
the leave menu, 0 goes back to a person (:mod:`ivr.web.escape`).
"""

from __future__ import annotations

from typing import Optional

from flask import Blueprint, Response, request

from ..engine import events as E
from ..engine.summary import summary
from . import handoff_twiml as HT
from . import app_state
from .call_view import CallView, now, on_error
from .escape import escapable
from .queue_choice import LEAVE_KEYS, leave_choice
from .twilio_request import install_error_handler, request_key, twilio_signed, xml_response
from .voice import render_turn

__all__ = ["LEAVE_KEYS", "bp", "leave_choice"]

bp = Blueprint("handoff_voice", __name__, url_prefix="/voice/queue")


@bp.post("/wait")
@twilio_signed
def wait() -> Response:
    """``<Enqueue waitUrl>``: announce position and expected wait, offer to leave, play hold audio."""
    v = CallView()
    position, avg = v.int_param("QueuePosition"), v.int_param("AvgQueueTime")
    if v.state is not None and "entered_at" not in v.data:
        v.data.update(entered_at=now(), first_position=position)
        v.save("queue_entered", queue=v.queue_name, position=position, avg_queue_time=avg)
    # Keys here; spoken choices are heard on the call's own queue stream (ivr.web.queue_speech), never by
    # Twilio's cloud speech. ``queue_speech`` only adds "or say callback" to the prompt.
    return xml_response(HT.wait_loop(position, avg, v.spec, speech=app_state.parts().queue_speech,
                                     sp=v.speaker))


@bp.post("/wait/input")
@twilio_signed
def wait_input() -> Response:
    """A key while waiting: 1 (a call back) or 2 (a message) leave the queue; 0 (a person) keeps the place.

    Keys only: the wait loop's ``<Gather>`` is DTMF, so Twilio never sends words here; spoken choices
    are heard on the call's queue stream (:mod:`ivr.web.queue_speech`) and lead to the same places.
    """
    v = CallView()
    choice = leave_choice(v.params.get("Digits"), None, v.language)
    spec = v.spec
    if choice == "callback" and (spec is None or spec.offer_callback) or \
            choice == "voicemail" and (spec is None or spec.offer_voicemail):
        v.data["leave"] = choice
        v.save("queue_leave_requested", queue=v.queue_name, choice=choice)
        return xml_response(HT.leave_queue())
    if choice == "agent":
        return xml_response(HT.still_waiting(v.speaker, "already_in_line"))
    return xml_response(HT.still_waiting())


@bp.post("/done")
@twilio_signed
def done() -> Response:
    """``<Enqueue action>``: the caller left the queue (bridged, left, hung up, or it failed)."""
    v = CallView()
    result = v.params.get("QueueResult", "")
    waited = v.int_param("QueueTime")
    v.data.update(queue_result=result, queue_time=waited)
    v.save("queue_result", queue=v.queue_name, result=result, waited=waited,
           abandoned=result == "hangup", choice=v.data.get("leave"))
    if result == "leave":
        target = "/callback" if v.data.get("leave") == "callback" else "/voicemail"
        return xml_response(HT.redirect(target))
    if result == "bridged":
        talked = None
        if v.state is not None and v.state.transferred_at is not None and waited is not None:
            talked = max(0, int(now() - v.state.transferred_at - waited))
        return _agent_leg_ended(v, result, talked)
    if result in ("hangup", "redirected", "bridging-in-progress"):
        return xml_response(HT.empty())
    return xml_response(HT.leave_menu("queue_failed", v.spec, v.speaker))


@bp.post("/dialed")
@twilio_signed
def dialed() -> Response:
    """``<Dial action>`` of SIP and number targets: nobody answered means a callback or a message."""
    v = CallView()
    status = v.params.get("DialCallStatus", "")
    v.save("dial_result", queue=v.queue_name, status=status, duration=v.int_param("DialCallDuration"))
    if status in ("completed", "answered"):
        return _agent_leg_ended(v, status, v.int_param("DialCallDuration"))
    return xml_response(HT.leave_menu("nobody_answered", v.spec, v.speaker))


def _agent_leg_ended(v: CallView, status: str, seconds: Optional[int]) -> Response:
    """The person hung up and the caller is still there: the engine offers the post-call survey, or says goodbye.

    The answer is ordinary turn TwiML (``<Gather action="/voice/input...">``), so the offer and the survey's
    questions are answered at the self-service webhooks.
    """
    if v.state is None:  # a call we do not know: just the goodbye
        return xml_response(HT.goodbye(v.speaker, "goodbye"))
    event = E.AgentLegEnded(v.call_sid, at=now(), status=status, seconds=seconds)
    return xml_response(render_turn(app_state.services().driver.feed(v.call_sid, event, key=request_key())))


@bp.post("/leave")
@twilio_signed
@escapable("/leave")
def leave() -> Response:
    """The leave menu's key: 1 a callback (when the queue offers it), 2 a message, 0 a person, else the menu again.

    Without ``Digits`` (a redirect, never the menu's ``<Gather>``, which sends none when empty) it asks
    the menu without an apology.
    """
    v = CallView()
    if "Digits" not in v.params:
        return xml_response(HT.leave_menu(None, v.spec, v.speaker))
    key = (v.params.get("Digits") or "")[:1]
    if key == "1" and (v.spec is None or v.spec.offer_callback):
        return xml_response(HT.redirect("/callback"))
    if key == "2":
        return xml_response(HT.redirect("/voicemail"))
    return xml_response(HT.leave_menu("no_match", v.spec, v.speaker))


@bp.post("/whisper")
@twilio_signed
def whisper() -> Response:
    """Spoken to the agent who answered a number target, before the caller is connected."""
    call_id = request.args.get("call", "")
    ctx = app_state.services().store.context(call_id) if call_id else None
    if not ctx:
        return xml_response(HT.whisper_unknown(HT.Speaker()))
    return xml_response(HT.whisper(ctx.get("summary") or summary(ctx)))


install_error_handler(bp, on_error)
