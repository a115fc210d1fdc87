"""The agent queue's webhooks (``/voice/queue/...``): the wait loop and how a caller leaves it.

* ``/wait`` is the ``<Enqueue waitUrl>``: position, expected wait, hold
  audio, and the keys that leave the queue; ``/wait/input`` takes those keys.
* ``/done`` is the ``<Enqueue action>``: bridged, left, hung up, failed.
* ``/dialed`` is the ``<Dial action>`` of SIP and number targets; ``/leave``
  is the callback-or-message menu after a failed connection; ``/whisper`` is
  what the agent of a number target hears before the caller is connected.

Callers stay in control here (DESIGN.md): 1 or "callback" asks for a call
back, 2 or "message" leaves a message, 0 or "agent" keeps their place.
:func:`leave_choice` is that rule, shared with the spoken-choice listener
(:mod:`ivr.web.queue_speech`).
"""

from __future__ import annotations

from typing import Optional, Sequence

from flask import Blueprint, Response, request

from ..engine.matching import wants_agent
from ..engine.summary import summary
from ..flow.phrases import contains_phrase, normalize
from . import handoff_twiml as HT
from . import app_state
from .call_view import CallView, now, on_error
from .twilio_request import install_error_handler, twilio_signed, xml_response

bp = Blueprint("handoff_voice", __name__, url_prefix="/voice/queue")

LEAVE_KEYS = {"1": "callback", "2": "voicemail", "0": "agent"}


def leave_choice(digits: Optional[str], speech: Optional[str], language: str,
                 extra_agent: Sequence[str] = ()) -> Optional[str]:
    """What a waiting caller chose: ``callback``, ``voicemail``, ``agent`` (stay in line) or None.

    Args:
        digits: keys pressed (the first one counts).
        speech: words heard (the agent words first, so "agent" is never taken for a leave phrase).
        language: the call's language, for the agent words.
        extra_agent: the flow's own agent words.
    """
    if digits:
        return LEAVE_KEYS.get(digits[:1])
    if speech:
        if wants_agent(speech, language, tuple(extra_agent)):
            return "agent"
        text = normalize(speech)
        if any(contains_phrase(text, normalize(w)) for w in HT.CALLBACK_WORDS):
            return "callback"
        if any(contains_phrase(text, normalize(w)) for w in HT.VOICEMAIL_WORDS):
            return "voicemail"
    return None


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
                                     language=v.language))


@bp.post("/wait/input")
@twilio_signed
def wait_input() -> Response:
    """A key (or words) while waiting: 1/"callback" or 2/"message" leave the queue; 0/"agent" stays."""
    v = CallView()
    extra = tuple(v.flow.settings.agent_words) if v.flow else ()
    choice = leave_choice(v.params.get("Digits"), v.params.get("SpeechResult"), v.language, extra)
    spec = v.spec
    if choice == "callback" and (spec is None or spec.offer_callback) or \
            choice == "voicemail" and (spec is None or spec.offer_voicemail):
        v.data["leave"] = choice
        v.save("queue_leave_requested", queue=v.queue_name, choice=choice)
        return xml_response(HT.leave_queue())
    if choice == "agent":
        return xml_response(HT.still_waiting(v.language, "You are already in line for a person. "
                                                         "Please stay on the line; we will be with you shortly."))
    return xml_response(HT.still_waiting(v.language))


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
        return xml_response(HT.goodbye("Thank you for calling. Goodbye.", v.language))
    if result in ("hangup", "redirected", "bridging-in-progress"):
        return xml_response(HT.empty())
    return xml_response(HT.leave_menu("Sorry, we cannot hold your place in line right now.", v.spec, v.language))


@bp.post("/dialed")
@twilio_signed
def dialed() -> Response:
    """``<Dial action>`` of SIP and number targets: nobody answered means a callback or a message."""
    v = CallView()
    status = v.params.get("DialCallStatus", "")
    v.save("dial_result", queue=v.queue_name, status=status, duration=v.int_param("DialCallDuration"))
    if status in ("completed", "answered"):
        return xml_response(HT.goodbye("Thank you for calling. Goodbye.", v.language))
    return xml_response(HT.leave_menu("Sorry, nobody could take your call right now.", v.spec, v.language))


@bp.post("/leave")
@twilio_signed
def leave() -> Response:
    """The leave menu's key: 1 a callback (when the queue offers it), 2 a message, else the menu again."""
    v = CallView()
    key = (v.params.get("Digits") or "")[:1]
    if key == "1" and (v.spec is None or v.spec.offer_callback):
        return xml_response(HT.redirect("/callback"))
    if key == "2":
        return xml_response(HT.redirect("/voicemail"))
    return xml_response(HT.leave_menu("Sorry, I didn't catch that.", v.spec, v.language))


@bp.post("/whisper")
@twilio_signed
def whisper() -> Response:
    """Spoken to the agent who answered a number target, before the caller is connected."""
    call_id = request.args.get("call", "")
    ctx = app_state.services().store.context(call_id) if call_id else None
    if not ctx:
        return xml_response(HT.whisper("Incoming call from the IVR."))
    return xml_response(HT.whisper(ctx.get("summary") or summary(ctx), ctx.get("language") or "en-US"))


install_error_handler(bp, on_error)
