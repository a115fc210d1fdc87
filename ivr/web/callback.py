"""The callback dialogue (``/voice/queue/callback...``) and the outbound call that keeps its promise.

A caller who would rather not wait confirms or types the number to call,
picks a window, and hangs up with a promise in words ("tomorrow morning").
When the dialer calls them back, ``/callback/connect`` queues the customer
for a person with the first call's story (a new call whose history is the
first one), and ``/callback/status`` completes the callback or puts it back
for a retry.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from flask import Blueprint, Response, request

from ..engine import actions as A
from ..engine.context import build_context, history_entry, iso
from ..engine import texts
from ..engine.hours import local_time, spoken_day, spoken_opening
from ..engine.routing import Route
from ..engine.state import CallState
from ..flow.model import Flow
from ..handoff import callbacks as cbs
from ..handoff.dialer import Dialer
from . import handoff_twiml as HT
from . import app_state
from .call_view import CallView, now, on_error, tries
from .escape import escapable
from .transfer import render_transfer
from .twilio_request import install_error_handler, twilio_signed, xml_response
from .twilio_request import params as twilio_params

bp = Blueprint("handoff_callback", __name__, url_prefix="/voice/queue")


CONFIRM_TRIES = 2
"""Times the caller ID is offered (silence or a wrong key each count); then a message instead."""
ENTER_TRIES = 3
"""Times a number is asked for (silence, a short number or a "no" at the read-back each count)."""
WINDOW_TRIES = 3
"""Wrong keys at the window question before the first window (as soon as possible) is taken, as after silence."""


@bp.post("/callback")
@twilio_signed
@escapable("/callback")
def callback_start() -> Response:
    """Offer the number the caller called from (twice at most; then a message instead)."""
    v = CallView()
    n = tries()
    if n > CONFIRM_TRIES:
        return _message_instead(v)
    caller = cbs.usable_caller_id(v.caller_id())
    if caller is None:
        return xml_response(HT.callback_enter(v.speaker))
    return xml_response(HT.callback_confirm(caller, v.speaker, n))


@bp.post("/callback/confirm")
@twilio_signed
@escapable("/callback")
def callback_confirm() -> Response:
    """1 keeps the caller ID as the number to call; 2 (or no usable caller ID) asks for another.

    A wrong key counts as a try, like silence: after :data:`CONFIRM_TRIES` the caller leaves a message.
    """
    v = CallView()
    key = (v.params.get("Digits") or "")[:1]
    caller = cbs.usable_caller_id(v.caller_id())
    if key == "1" and caller:
        return _number_chosen(v, caller)
    if key == "2" or caller is None:
        return xml_response(HT.callback_enter(v.speaker))
    n = tries() + 1
    if n > CONFIRM_TRIES:
        return _message_instead(v)
    return xml_response(HT.callback_confirm(caller, v.speaker, n))


@bp.post("/callback/enter")
@twilio_signed
@escapable("/callback/enter")
def callback_enter() -> Response:
    """Ask for the number again (three times at most; then a message instead)."""
    v = CallView()
    n = tries()
    if n > ENTER_TRIES:
        return _message_instead(v)
    return xml_response(HT.callback_enter(v.speaker, n))


@bp.post("/callback/typed")
@twilio_signed
@escapable("/callback/enter")
def callback_typed() -> Response:
    """A typed number: read it back, or ask again when it is not a full phone number (bounded by tries)."""
    v = CallView()
    number = cbs.normalize_number(v.params.get("Digits", ""), v.state.caller if v.state else "")
    if number is None:
        n = tries() + 1
        if n > ENTER_TRIES:
            return _message_instead(v)
        return xml_response(HT.callback_enter(v.speaker, n, "callback_not_full"))
    v.data["callback_typed"] = number
    v.save()
    return xml_response(HT.callback_readback(number, v.speaker, tries()))


@bp.post("/callback/readback")
@twilio_signed
@escapable("/callback/enter")
def callback_readback() -> Response:
    """1 keeps the typed number; anything else asks for it again (a try more)."""
    v = CallView()
    key = (v.params.get("Digits") or "")[:1]
    typed = v.data.get("callback_typed")
    if key == "1" and typed:
        return _number_chosen(v, typed)
    n = tries() + 1
    if n > ENTER_TRIES:
        return _message_instead(v)
    return xml_response(HT.callback_enter(v.speaker, n))


def _message_instead(v: CallView) -> Response:
    """Too many tries at the number: the caller leaves a message instead."""
    return xml_response(HT.redirect("/voicemail", v.speaker, "callback_message_instead"))


def _number_chosen(v: CallView, number: str) -> Response:
    v.data["callback_number"] = number
    v.save()
    return xml_response(HT.callback_window(v.speaker))


def when_words(window: cbs.Window, due: float, now_: float, hours: Any, language: str = "en-US") -> str:
    """The promise in words: "as soon as a person is free", "in the morning tomorrow"... in the flow's language."""
    if window.start is None:
        if due <= now_ + 60:
            return texts.fill(language, "when_free")
        if hours is not None:
            return texts.fill(language, "when_open",
                              opening=spoken_opening(local_time(hours, due), now_, language))
        return texts.fill(language, "when_soon")
    tz_due = local_time(hours, due) if hours is not None else datetime.fromtimestamp(due, tz=timezone.utc)
    return texts.fill(language, "when_window", window=texts.fill(language, f"window_{window.name}"),
                      day=spoken_day(tz_due, now_, language))


@bp.post("/callback/window")
@twilio_signed
@escapable("/callback/window")
def callback_window() -> Response:
    """The window's key: store the callback request, tell the CRM, and say when we will call.

    Wrong keys count as tries (carried in the question's URLs); after :data:`WINDOW_TRIES` the first
    window is taken, as after two silences, so the caller still leaves with a promise.
    """
    v = CallView()
    number = v.data.get("callback_number")
    if not number:
        return xml_response(HT.redirect("/callback"))
    key = (v.params.get("Digits") or request.args.get("default") or "")[:1]
    window = cbs.window_for_key(key)
    if window is None and key:
        n = tries() + 1
        if n <= WINDOW_TRIES:
            return xml_response(HT.callback_window(v.speaker, n))
        window = cbs.WINDOWS[0]
    if window is None:
        return xml_response(HT.callback_window(v.speaker, tries()))
    at = now()
    hours = v.spec.hours if v.spec else None
    due, end = cbs.due_window(window, hours, at)
    handoff = app_state.handoff()
    record = handoff.records.add_callback(call_id=v.call_sid, number=number, at=at, due_at=due,
                                          window=window.name, window_end=end, **v.record_fields())
    v.data["callback_id"] = record["id"]
    v.save("callback_requested", queue=v.queue_name, callback=record["id"], window=window.name, due_at=iso(due))
    handoff.on_record("callback", record)
    return xml_response(HT.callback_promise(number, when_words(window, due, at, hours, v.language), v.speaker))


def callback_call(record: dict[str, Any], call_sid: str, at: float, flow: Optional[Flow]) -> CallState:
    """The state of an answered callback: a new call, already transferred, whose history is the first call.

    The first call's path, slots, transcript and authentication travel along
    (nobody repeats themselves); its routing is the callback's own queue.
    """
    original = record.get("context") or {}
    st = CallState(call_id=call_sid, flow=record["flow"], caller=record["number"],
                   language=original.get("language") or (flow.language if flow else "en-US"), started_at=at,
                   updated_at=at, path=list(original.get("path") or []), slots=dict(original.get("slots") or {}),
                   transcript=list(original.get("transcript") or []), auth=dict(original.get("auth") or {}),
                   history=[history_entry({**original, "outcome": "callback_requested"})] if original else [],
                   queue=record["queue"], reason="callback",
                   routing=Route(queue=record["queue"], requested=record["queue"], rule="callback",
                                 mode="agent").as_dict(),
                   ended=True, end_reason="transferred", transferred_at=at)
    st.extra["handoff"] = {"callback_of": record["call_id"], "callback_id": record["id"]}
    return st


@bp.post("/callback/connect")
@twilio_signed
def callback_connect() -> Response:
    """An outbound callback was answered: queue the customer for a person with the first call's story."""
    rid = request.args.get("id", "")
    record = app_state.handoff().records.get("callback", rid)
    if record is None:
        return xml_response(HT.goodbye(HT.Speaker(), "callback_gone"))
    svc, at = app_state.services(), now()
    flow = svc.flows.get(record["flow"])
    st = callback_call({**record, "id": rid}, twilio_params()["CallSid"], at, flow)
    svc.store.save(st, [A.RecordEvent("callback_answered", None, at, {"callback": rid})])
    s = flow.settings if flow else None
    sp = HT.Speaker(st.language, record["flow"], s.voice if s else None, s.rate if s else None,
                    app_state.parts().prompt_url)
    resp = HT.callback_connect(sp)
    render_transfer(resp, A.Transfer(record["queue"], "callback", build_context(st, at)))
    return xml_response(str(resp))


@bp.post("/callback/status")
@twilio_signed
def callback_status() -> Response:
    """Status callback of an outbound callback: complete it, or put it back for a retry."""
    rid = request.args.get("id", "")
    status = twilio_params().get("CallStatus", "")
    answered_by = twilio_params().get("AnsweredBy", "human")
    Dialer(app_state.handoff().records, None, "", "", clock=app_state.services().driver.clock).on_status(
        rid, status, answered_by_person=not answered_by.startswith("machine"))
    return xml_response(HT.empty())


install_error_handler(bp, on_error)
