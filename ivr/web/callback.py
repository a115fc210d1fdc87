"""The callback dialogue (``/voice/queue/callback...``) and the outbound call that keeps its promise.

A caller who would rather not wait confirms or types the number to call,
picks a window, and hangs up with a promise in words ("tomorrow morning").
When the dialer calls them back, ``/callback/connect`` queues the customer
for a person with the first call's story (a new call whose history is the
first one), and ``/callback/status`` completes the callback or puts it back
for a retry.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timezone
from typing import Any, Optional

from flask import Blueprint, Response, request

from ..engine import actions as A
from ..engine import texts
from ..engine.context import build_context, history_entry, iso
from ..engine.hours import local_time, open_ranges, spoken_clock, spoken_day, spoken_opening
from ..engine.matching import wants_agent
from ..engine.routing import Route
from ..engine.state import CallState
from ..flow.model import Flow
from ..handoff import callback_time as ct
from ..handoff import callbacks as cbs
from ..handoff.dialer import Dialer
from . import app_state
from . import handoff_twiml as HT
from .call_view import CallView, now, on_error, tries
from .escape import escapable, to_person
from .transfer import render_transfer
from .twilio_request import install_error_handler
from .twilio_request import params as twilio_params
from .twilio_request import twilio_signed, xml_response

log = logging.getLogger(__name__)

bp = Blueprint("handoff_callback", __name__, url_prefix="/voice/queue")


CONFIRM_TRIES = 2
"""Times the caller ID is offered (silence or a wrong key each count); then a message instead."""
ENTER_TRIES = 3
"""Times a number is asked for (silence, a short number or a "no" at the read-back each count)."""
WINDOW_TRIES = 3
"""Wrong keys at the window question before the first window (as soon as possible) is taken, as after silence."""
CHOOSE_KEY = "5"
"""At the window question: choose a day and time instead of a part of the day."""
WHEN_TRIES = 2
"""Spoken tries at a day and time before the keypad takes over."""
TIME_TRIES = 3
"""Tries at the day or the time on the keypad (wrong keys, silence, a closed or past time) before the
window question again, so a caller who cannot find a time still leaves with a promise."""


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
    if key == CHOOSE_KEY:
        return _ask_when(v)
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
    return _promise(v, number, due, end, window.name, when_words(window, due, at, hours, v.language))


def _promise(v: CallView, number: str, due: float, end: Optional[float], window: str,
             when: Optional[str] = None) -> Response:
    """Store the callback request, tell the CRM, and say when we will call."""
    at = now()
    handoff = app_state.handoff()
    record = handoff.records.add_callback(call_id=v.call_sid, number=number, at=at, due_at=due,
                                          window=window, window_end=end, **v.record_fields())
    v.data["callback_id"] = record["id"]
    v.save("callback_requested", queue=v.queue_name, callback=record["id"], window=window, due_at=iso(due))
    handoff.on_record("callback", record)
    if when is None:
        when = spoken_opening(ct.local_now(_hours(v), due), at, v.language)
    return xml_response(HT.callback_promise(number, when, v.speaker))


# -- a day and time of the caller's choosing ------------------------------------------

def _hears_speech(v: CallView) -> bool:
    """Spoken times for speech flows in English (the language the time parser reads)."""
    return bool(v.flow and v.flow.settings.speech and v.language.lower().startswith("en"))


def _ask_when(v: CallView, tries_: int = 1, reason_key: Optional[str] = None) -> Response:
    if _hears_speech(v):
        return xml_response(HT.callback_say_when(v.speaker, tries_, [HT.phrase(reason_key)] if reason_key else []))
    return _ask_day(v, 1, reason_key)


def _hours(v: CallView) -> Any:
    return v.spec.hours if v.spec else None


def _day_words(v: CallView, days: list[date], at: float) -> list[str]:
    """"today", "tomorrow", "on Friday": a day as the time question says it."""
    tz = ct.local_now(_hours(v), at).tzinfo
    return [spoken_day(datetime(d.year, d.month, d.day, 12, tzinfo=tz), at, v.language) for d in days]


def _day_names(v: CallView, days: list[date], at: float) -> list[str]:
    """"today", "tomorrow", "Friday": a day as the day menu names it."""
    today = ct.local_now(_hours(v), at).date()
    return [texts.fill(v.language, "today" if d == today else "tomorrow" if (d - today).days == 1
                       else f"weekday_{d.weekday()}") for d in days]


def _ask_day(v: CallView, tries_: int, reason_key: Optional[str] = None) -> Response:
    at = now()
    days = ct.day_choices(_hours(v), at)
    if not days:   # no open time in the next weeks: the window question's as-soon-as-possible still works
        return xml_response(HT.callback_window(v.speaker, 1))
    v.data["callback_days"] = [d.isoformat() for d in days]
    v.save()
    return xml_response(HT.callback_days(_day_names(v, days, at), v.speaker, tries_, reason_key))


def _back_to_windows(v: CallView) -> Response:
    """Too many tries at a day and time: the parts of the day again (the caller still gets a promise)."""
    return xml_response(HT.callback_window(v.speaker, 1, "callback_time_unclear"))


def _chosen(v: CallView, result: ct.Resolved) -> Response:
    assert result.when is not None
    v.data["callback_at"] = result.when.timestamp()
    v.save("callback_time_chosen", queue=v.queue_name, due_at=iso(result.when.timestamp()))
    return xml_response(HT.callback_chosen(spoken_opening(result.when, now(), v.language), v.speaker))


def _clock(minutes: int, language: str) -> str:
    """Minutes after midnight (``24:00`` ends a day) as the flow's language says the time."""
    return spoken_clock(minutes // 60 % 24, minutes % 60, language)


def _why_not(v: CallView, result: ct.Resolved, at: float) -> list[HT.Phrase]:
    """What to say about a time that does not fit: too soon or passed; or closed, with that day's hours."""
    if result.problem == "past":
        return [HT.phrase("callback_time_past")]
    out = [HT.phrase("callback_time_closed")]
    hours, day = _hours(v), result.day
    ranges = open_ranges(hours, day) if hours is not None and day is not None else []
    if ranges:
        out.append(HT.phrase("callback_open_between", day=_day_words(v, [day], at)[0].capitalize(),
                             start=_clock(ranges[0][0], v.language), end=_clock(ranges[-1][1], v.language)))
    return out


@bp.post("/callback/spoken")
@twilio_signed
@escapable("/callback/window")
def callback_spoken() -> Response:
    """The recorded "tomorrow at ten": heard offline, read back for confirmation; ``*`` or unclear: the keypad."""
    v = CallView()
    if not v.data.get("callback_number"):
        return xml_response(HT.redirect("/callback"))
    if v.params.get("Digits") == "*":
        return _ask_day(v, 1)
    url = v.params.get("RecordingUrl")
    heard = ""
    if url and not request.args.get("silent"):
        try:
            heard = app_state.handoff().hear_when(url)
        except Exception as exc:  # noqa: BLE001 - the keypad still works
            log.warning("call %s: the spoken callback time could not be heard: %s", v.call_sid, exc)
            return _ask_day(v, 1, "callback_time_unclear")
    at = now()
    extra = tuple(v.flow.settings.agent_words) if v.flow else ()
    if heard and wants_agent(heard, v.language, extra):   # "just put me through to a person"
        return to_person(v, HT._q("/callback/window"))
    chosen = ct.parse_spoken(heard, ct.local_now(_hours(v), at).date())
    v.save("callback_time_heard", understood=chosen is not None, chars=len(heard))
    if chosen is not None:
        result = ct.resolve(chosen, _hours(v), at)
        if result.when is not None:
            return _chosen(v, result)
        reasons = _why_not(v, result, at)
    else:
        reasons = [HT.phrase("callback_time_unclear")]
    n = tries() + (0 if request.args.get("silent") else 1)
    if n > WHEN_TRIES:
        return _ask_day(v, 1, reasons[0].key)
    return xml_response(HT.callback_say_when(v.speaker, n, reasons))


@bp.post("/callback/day")
@twilio_signed
@escapable("/callback/day")
def callback_day() -> Response:
    """The day's key (1 = the first day offered); a wrong key or silence asks again, then the windows."""
    v = CallView()
    days = v.data.get("callback_days") or []
    key = (v.params.get("Digits") or "")[:1]
    if key.isdigit() and 1 <= int(key) <= len(days):
        v.data["callback_day"] = days[int(key) - 1]
        v.save()
        return _ask_time(v, 1)
    n = tries() + (1 if key else 0)
    if n > TIME_TRIES:
        return _back_to_windows(v)
    return _ask_day(v, n, "no_match" if key else None)


def _ask_time(v: CallView, tries_: int, reasons: list[HT.Phrase] | None = None) -> Response:
    day = date.fromisoformat(v.data["callback_day"])
    words = _day_words(v, [day], now())[0]
    return xml_response(HT.callback_time(words, v.speaker, tries_, reasons or []))


@bp.post("/callback/time")
@twilio_signed
@escapable("/callback/time")
def callback_time_keys() -> Response:
    """Hours and minutes typed (``1030``): checked against the queue's hours that day, then read back."""
    v = CallView()
    if not v.data.get("callback_day"):
        return _ask_day(v, 1)
    typed = ct.time_from_keys(v.params.get("Digits") or "")
    at = now()
    if typed is not None:
        result = ct.resolve(ct.Chosen(date.fromisoformat(v.data["callback_day"]), *typed), _hours(v), at)
        if result.when is not None:
            return _chosen(v, result)
        reasons = _why_not(v, result, at)
    else:
        reasons = [HT.phrase("no_match")] if v.params.get("Digits") else []
    n = tries() + (1 if v.params.get("Digits") else 0)
    if n > TIME_TRIES:
        return _back_to_windows(v)
    return _ask_time(v, n, reasons)


@bp.post("/callback/chosen")
@twilio_signed
@escapable("/callback/chosen")
def callback_chosen() -> Response:
    """1 keeps the time read back and stores the callback; 2 (a change of mind) asks when again."""
    v = CallView()
    number, due = v.data.get("callback_number"), v.data.get("callback_at")
    if not number or due is None:
        return xml_response(HT.redirect("/callback"))
    key = (v.params.get("Digits") or "")[:1]
    if key == "1":
        return _promise(v, number, float(due), float(due) + ct.SLOT_S, "chosen")
    if key == "2":
        v.data.pop("callback_at", None)
        v.save("callback_time_changed", queue=v.queue_name)
        return xml_response(HT.callback_window(v.speaker, 1))
    n = tries() + 1
    if n > CONFIRM_TRIES:   # silence twice at the read-back: the time stands as read
        return _promise(v, number, float(due), float(due) + ct.SLOT_S, "chosen")
    when = spoken_opening(ct.local_now(_hours(v), float(due)), now(), v.language)
    return xml_response(HT.callback_chosen(when, v.speaker, n))


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
