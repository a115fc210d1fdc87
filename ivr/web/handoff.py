"""Handoff webhooks (``/voice/queue/...``), the callbacks/voicemails API and the agent page.

* The transfer renderer registered as ``ivr.transfer_twiml`` turns a
  :class:`~ivr.engine.actions.Transfer` into the queue's target TwiML.
* ``/voice/queue/wait`` is the ``<Enqueue waitUrl>``: position, expected
  wait, hold audio, and keys (or "callback") to leave; ``/voice/queue/done``
  is the ``<Enqueue action>``: bridged, left, hung up, failed.
* Callback and voicemail dialogues, the number whisper, outbound callbacks.
* ``/api/callbacks``, ``/api/voicemails`` (bearer) and ``/agent/calls/<sid>``
  (bearer or a signed link).

Whatever fails, a caller gets valid TwiML that keeps them with a person:
in the wait loop, hold music; elsewhere, an apology and a queue.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any, Optional

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, render_template_string, request

from ..engine import actions as A
from ..engine.context import build_context, iso
from ..engine.matching import wants_agent
from ..engine.state import CallState
from ..flow.model import Flow, Queue
from ..flow.phrases import contains_phrase, normalize
from ..handoff import callbacks as cbs
from ..engine.hours import local_time, spoken_opening
from ..handoff.links import link_valid
from ..handoff.service import Handoff
from ..engine.summary import reason_text, summary
from . import handoff_twiml as HT
from . import twiml
from .api import BadQuery, bad_query, bearer_required, query_int, token_ok
from .twilio_request import install_error_handler, twilio_signed
from .twilio_request import params as twilio_params

log = logging.getLogger(__name__)

voice_bp = Blueprint("handoff_voice", __name__, url_prefix="/voice/queue")
api_bp = Blueprint("handoff_api", __name__, url_prefix="/api")
api_bp.register_error_handler(BadQuery, bad_query)
agent_bp = Blueprint("agent", __name__, url_prefix="/agent")

QUIET_PATHS = ("/voice/queue/voicemail/recorded", "/voice/queue/callback/status", "/voice/queue/whisper")


def init_app(app: Flask, **kwargs: Any) -> Handoff:
    """Build the handoff service for an app and register its blueprints and transfer renderer."""
    handoff = Handoff(app.extensions["ivr"], **kwargs)
    app.extensions["ivr.handoff"] = handoff
    app.extensions["ivr.transfer_twiml"] = render_transfer
    app.register_blueprint(voice_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(agent_bp)
    return handoff


def _h() -> Handoff:
    return current_app.extensions["ivr.handoff"]


def _svc() -> Any:
    return current_app.extensions["ivr"]


def _xml(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/xml")


def _now() -> float:
    return _svc().driver.clock()


# -- transfer rendering ---------------------------------------------------------

def render_transfer(resp: Any, transfer: A.Transfer) -> None:
    """``ivr.transfer_twiml``: the queue's target, with the agent page link in the task."""
    import os

    svc = _svc()
    flow = svc.flows.get(transfer.context.get("flow") or "")
    spec = flow.queues.get(transfer.queue) if flow else None
    call_id = transfer.context.get("call_id") or ""
    kind = spec.target.type if spec and spec.target else "taskrouter"
    if (call_id and flow is not None and flow.settings.speech and transfer.mode not in ("voicemail", "callback")
            and kind in ("taskrouter", "queue")):
        from . import queue_speech
        if queue_speech.available():
            queue_speech.add_stream(resp, call_id)  # our recogniser hears "callback" while they wait
    HT.render_target(resp, transfer, spec, agent_url=_h().agent_url(call_id, _transferred_at(transfer))
                     if call_id else None,
                     workflow_sid=os.environ.get("IVR_TWILIO_WORKFLOW_SID"))


def _transferred_at(transfer: A.Transfer) -> Optional[float]:
    """The transfer's own time (from its context), so a retried webhook renders the same link."""
    stamp = (transfer.context.get("timings") or {}).get("transferred_at")
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() if stamp else None
    except (AttributeError, ValueError):
        return None


# -- call lookups --------------------------------------------------------------

class CallView:
    """The caller's state, flow and queue for a handoff webhook (any may be missing)."""

    def __init__(self) -> None:
        self.params = twilio_params()
        self.call_sid = self.params.get("CallSid", "")
        self.state: Optional[CallState] = _svc().driver.state(self.call_sid) if self.call_sid else None
        self.flow: Optional[Flow] = _svc().flows.get(self.state.flow) if self.state else None
        self.queue_name = (self.state.queue if self.state else None) or "general"
        self.spec: Optional[Queue] = self.flow.queues.get(self.queue_name) if self.flow else None
        self.language = self.state.language if self.state else "en-US"

    @property
    def data(self) -> dict[str, Any]:
        if self.state is None:
            return {}
        return self.state.extra.setdefault("handoff", {})

    def save(self, kind: Optional[str] = None, **event: Any) -> None:
        if self.state is None:
            return
        now = _now()
        self.state.updated_at = max(self.state.updated_at, now)
        events = [A.RecordEvent(kind, self.state.node, now, event)] if kind else []
        _svc().store.save(self.state, events)

    def context(self) -> dict[str, Any]:
        if self.state is None:
            return {}
        return build_context(self.state, self.state.updated_at)

    def int_param(self, name: str) -> Optional[int]:
        try:
            return int(self.params[name])
        except (KeyError, ValueError):
            return None


# -- the wait loop ---------------------------------------------------------------

@voice_bp.post("/wait")
@twilio_signed
def wait() -> Response:
    """``<Enqueue waitUrl>``: announce position and expected wait, offer to leave, play hold audio."""
    v = CallView()
    position, avg = v.int_param("QueuePosition"), v.int_param("AvgQueueTime")
    if v.state is not None and "entered_at" not in v.data:
        v.data.update(entered_at=_now(), first_position=position)
        v.save("queue_entered", queue=v.queue_name, position=position, avg_queue_time=avg)
    # Keys here; spoken choices are heard on the call's own queue stream (ivr.web.queue_speech), never by
    # Twilio's cloud speech. ``ivr.queue_speech`` only adds "or say callback" to the prompt.
    return _xml(HT.wait_loop(position, avg, v.spec, speech=current_app.extensions.get("ivr.queue_speech", False),
                             language=v.language))


def _choice(digits: Optional[str], speech: Optional[str], language: str, extra_agent: tuple = ()) -> Optional[str]:
    if digits:
        return {"1": "callback", "2": "voicemail", "0": "agent"}.get(digits[:1])
    if speech:
        if wants_agent(speech, language, extra_agent):
            return "agent"
        text = normalize(speech)
        if any(contains_phrase(text, normalize(w)) for w in HT.CALLBACK_WORDS):
            return "callback"
        if any(contains_phrase(text, normalize(w)) for w in HT.VOICEMAIL_WORDS):
            return "voicemail"
    return None


@voice_bp.post("/wait/input")
@twilio_signed
def wait_input() -> Response:
    """A key (or words) while waiting: 1/"callback" or 2/"message" leave the queue; 0/"agent" stays."""
    v = CallView()
    extra = tuple(v.flow.settings.agent_words) if v.flow else ()
    choice = _choice(v.params.get("Digits"), v.params.get("SpeechResult"), v.language, extra)
    spec = v.spec
    if choice == "callback" and (spec is None or spec.offer_callback) or \
            choice == "voicemail" and (spec is None or spec.offer_voicemail):
        v.data["leave"] = choice
        v.save("queue_leave_requested", queue=v.queue_name, choice=choice)
        return _xml(HT.leave_queue())
    if choice == "agent":
        return _xml(HT.still_waiting(v.language, "You are already in line for a person. "
                                                 "Please stay on the line; we will be with you shortly."))
    return _xml(HT.still_waiting(v.language))


@voice_bp.post("/done")
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
        return _xml(HT.redirect(target))
    if result == "bridged":
        return _xml(HT.goodbye("Thank you for calling. Goodbye.", v.language))
    if result in ("hangup", "redirected", "bridging-in-progress"):
        return _xml(HT.empty())
    return _xml(HT.leave_menu("Sorry, we cannot hold your place in line right now.", v.spec, v.language))


@voice_bp.post("/dialed")
@twilio_signed
def dialed() -> Response:
    """``<Dial action>`` of SIP and number targets: nobody answered means a callback or a message."""
    v = CallView()
    status = v.params.get("DialCallStatus", "")
    v.save("dial_result", queue=v.queue_name, status=status, duration=v.int_param("DialCallDuration"))
    if status in ("completed", "answered"):
        return _xml(HT.goodbye("Thank you for calling. Goodbye.", v.language))
    return _xml(HT.leave_menu("Sorry, nobody could take your call right now.", v.spec, v.language))


@voice_bp.post("/leave")
@twilio_signed
def leave() -> Response:
    v = CallView()
    key = (v.params.get("Digits") or "")[:1]
    if key == "1" and (v.spec is None or v.spec.offer_callback):
        return _xml(HT.redirect("/callback"))
    if key == "2":
        return _xml(HT.redirect("/voicemail"))
    return _xml(HT.leave_menu("Sorry, I didn't catch that.", v.spec, v.language))


@voice_bp.post("/whisper")
@twilio_signed
def whisper() -> Response:
    """Spoken to the agent who answered a number target, before the caller is connected."""
    call_id = request.args.get("call", "")
    ctx = _svc().store.context(call_id) if call_id else None
    if not ctx:
        return _xml(HT.whisper("Incoming call from the IVR."))
    return _xml(HT.whisper(ctx.get("summary") or summary(ctx), ctx.get("language") or "en-US"))


# -- callback dialogue -----------------------------------------------------------

def _tries() -> int:
    try:
        return max(1, int(request.args.get("tries", "1")))
    except ValueError:
        return 1


@voice_bp.post("/callback")
@twilio_signed
def callback_start() -> Response:
    v = CallView()
    tries = _tries()
    if tries > 2:
        return _xml(HT.redirect("/voicemail", "Let's take a message instead.", v.language))
    caller = cbs.usable_caller_id(v.params.get("From", "") or (v.state.caller if v.state else ""))
    if caller is None:
        return _xml(HT.callback_enter(v.language))
    return _xml(HT.callback_confirm(caller, v.language, tries))


@voice_bp.post("/callback/confirm")
@twilio_signed
def callback_confirm() -> Response:
    v = CallView()
    key = (v.params.get("Digits") or "")[:1]
    caller = cbs.usable_caller_id(v.params.get("From", "") or (v.state.caller if v.state else ""))
    if key == "1" and caller:
        v.data["callback_number"] = caller
        v.save()
        return _xml(HT.callback_window(v.language))
    if key == "2" or caller is None:
        return _xml(HT.callback_enter(v.language))
    return _xml(HT.callback_confirm(caller, v.language, _tries()))


@voice_bp.post("/callback/enter")
@twilio_signed
def callback_enter() -> Response:
    v = CallView()
    tries = _tries()
    if tries > 3:
        return _xml(HT.redirect("/voicemail", "Let's take a message instead.", v.language))
    return _xml(HT.callback_enter(v.language, tries))


@voice_bp.post("/callback/typed")
@twilio_signed
def callback_typed() -> Response:
    v = CallView()
    number = cbs.normalize_number(v.params.get("Digits", ""), v.state.caller if v.state else "")
    if number is None:
        return _xml(HT.callback_enter(v.language, 2, "Sorry, that is not a full phone number."))
    v.data["callback_typed"] = number
    v.save()
    return _xml(HT.callback_readback(number, v.language))


@voice_bp.post("/callback/readback")
@twilio_signed
def callback_readback() -> Response:
    v = CallView()
    key = (v.params.get("Digits") or "")[:1]
    typed = v.data.get("callback_typed")
    if key == "1" and typed:
        v.data["callback_number"] = typed
        v.save()
        return _xml(HT.callback_window(v.language))
    return _xml(HT.callback_enter(v.language))


def _when_words(window: cbs.Window, due: float, now: float, hours: Any) -> str:
    if window.start is None:
        if due <= now + 60:
            return "as soon as a person is free"
        if hours is not None:
            return "when we open, " + spoken_opening(local_time(hours, due), now)
        return "as soon as we can"
    tz_due = local_time(hours, due) if hours is not None else datetime.fromtimestamp(due, tz=timezone.utc)
    tz_now = local_time(hours, now) if hours is not None else datetime.fromtimestamp(now, tz=timezone.utc)
    delta = (tz_due.date() - tz_now.date()).days
    day = "today" if delta == 0 else "tomorrow" if delta == 1 else f"on {tz_due.strftime('%A')}"
    return f"{window.spoken.split(',')[0]} {day}" if window.name != "asap" else window.spoken


@voice_bp.post("/callback/window")
@twilio_signed
def callback_window() -> Response:
    v = CallView()
    number = v.data.get("callback_number")
    if not number:
        return _xml(HT.redirect("/callback"))
    key = (v.params.get("Digits") or request.args.get("default") or "")[:1]
    window = cbs.window_for_key(key)
    if window is None:
        return _xml(HT.callback_window(v.language, _tries()))
    now = _now()
    hours = v.spec.hours if v.spec else None
    due, end = cbs.due_window(window, hours, now)
    record = _h().records.add_callback(
        call_id=v.call_sid, number=number, at=now, due_at=due, window=window.name, window_end=end,
        flow=v.state.flow if v.state else "", queue=v.queue_name, caller=v.state.caller if v.state else "",
        reason=v.state.reason if v.state else None, context=v.context() or None)
    v.data["callback_id"] = record["id"]
    v.save("callback_requested", queue=v.queue_name, callback=record["id"], window=window.name, due_at=iso(due))
    _h().on_record("callback", record)
    words = (f"Thank you. We will call you back on {cbs.spoken_number(number)} "
             f"{_when_words(window, due, now, hours)}. Goodbye.")
    return _xml(HT.goodbye(words, v.language))


@voice_bp.post("/callback/connect")
@twilio_signed
def callback_connect() -> Response:
    """An outbound callback was answered: queue the customer for a person with the first call's story."""
    rid = request.args.get("id", "")
    record = _h().records.get("callback", rid)
    if record is None:
        return _xml(HT.goodbye("Sorry, this call back is no longer needed. Goodbye."))
    svc, now = _svc(), _now()
    original = record.get("context") or {}
    call_sid = twilio_params()["CallSid"]
    flow = svc.flows.get(record["flow"])
    st = CallState(call_id=call_sid, flow=record["flow"], caller=record["number"],
                   language=original.get("language") or (flow.language if flow else "en-US"), started_at=now,
                   updated_at=now, path=list(original.get("path") or []), slots=dict(original.get("slots") or {}),
                   transcript=list(original.get("transcript") or []), auth=dict(original.get("auth") or {}),
                   history=[h for h in [original] if h], queue=record["queue"], reason="callback",
                   routing={"queue": record["queue"], "requested": record["queue"], "rule": "callback",
                            "mode": "agent", "open": True, "opens_at": None, "priority": None},
                   ended=True, end_reason="transferred", transferred_at=now)
    st.history = [{"call_id": original.get("call_id"), "flow": original.get("flow"),
                   "started_at": (original.get("timings") or {}).get("started_at"), "path": original.get("path"),
                   "reason": original.get("reason"), "queue": original.get("queue"),
                   "outcome": "callback_requested"}] if original else []
    st.extra["handoff"] = {"callback_of": record["call_id"], "callback_id": rid}
    svc.store.save(st, [A.RecordEvent("callback_answered", None, now, {"callback": rid})])
    resp = HT.callback_connect("Hello, this is the call back you asked for. Please hold while we connect you "
                               "to a person.", st.language)
    transfer = A.Transfer(record["queue"], "callback", build_context(st, now))
    render_transfer(resp, transfer)
    return _xml(str(resp))


@voice_bp.post("/callback/status")
@twilio_signed
def callback_status() -> Response:
    """Status callback of an outbound callback: complete it, or put it back for a retry."""
    from ..handoff.dialer import Dialer

    rid = request.args.get("id", "")
    status = twilio_params().get("CallStatus", "")
    answered_by = twilio_params().get("AnsweredBy", "human")
    Dialer(_h().records, None, "", "", clock=_svc().driver.clock).on_status(
        rid, status, answered_by_person=not answered_by.startswith("machine"))
    return _xml(HT.empty())


# -- voicemail --------------------------------------------------------------------

@voice_bp.post("/voicemail")
@twilio_signed
def voicemail() -> Response:
    v = CallView()
    node = v.flow.nodes.get(v.state.node or "") if v.flow and v.state else None
    max_seconds = node.voicemail.max_seconds if node is not None and node.voicemail is not None else 120
    return _xml(HT.voicemail(max_seconds, v.language))


def _store_voicemail(v: CallView) -> Optional[dict[str, Any]]:
    url = v.params.get("RecordingUrl")
    if not url:
        return None
    try:
        duration = float(v.params.get("RecordingDuration", "") or 0)
    except ValueError:
        duration = None
    records = _h().records
    sid = v.params.get("RecordingSid")
    existing = records.find_voicemail(sid) if sid else None
    if existing:
        records.set_recording(existing["id"], _now(), url, sid, duration)
        return records.get("voicemail", existing["id"])
    record = records.add_voicemail(
        call_id=v.call_sid, at=_now(), recording_url=url, recording_sid=sid, duration=duration,
        flow=v.state.flow if v.state else "", queue=v.queue_name, caller=v.state.caller if v.state else "",
        reason=v.state.reason if v.state else None, context=v.context() or None)
    v.data["voicemail_id"] = record["id"]
    v.save("voicemail", queue=v.queue_name, voicemail=record["id"], seconds=duration)
    _h().on_record("voicemail", record)
    return record


@voice_bp.post("/voicemail/done")
@twilio_signed
def voicemail_done() -> Response:
    """``<Record action>``: keep the message and say goodbye."""
    v = CallView()
    record = _store_voicemail(v)
    if record is None:
        return _xml(HT.goodbye("We did not get a message. Goodbye.", v.language))
    return _xml(HT.goodbye("Thank you. Your message has been saved, and the right person will get back to "
                           "you. Goodbye.", v.language))


@voice_bp.post("/voicemail/recorded")
@twilio_signed
def voicemail_recorded() -> Response:
    """Recording status callback: the audio is ready to fetch, so transcribe it now."""
    v = CallView()
    if v.params.get("RecordingStatus", "completed") != "completed":
        return _xml(HT.empty())
    record = _store_voicemail(v)
    if record is not None:
        _h().voicemail_recorded(record["id"])
    return _xml(HT.empty())


def _on_error(exc: Exception) -> Response:
    """Never silence: the wait loop keeps music playing; other steps reach a person."""
    if request.path.startswith("/voice/queue/wait"):
        return _xml(HT.hold_music_only())
    if request.path.startswith(QUIET_PATHS):
        return _xml(HT.empty())
    return _xml(twiml.apology("general"))


install_error_handler(voice_bp, _on_error)


# -- JSON API -----------------------------------------------------------------------

def _kind(plural: str) -> str:
    if plural not in ("callbacks", "voicemails"):
        abort(404)
    return plural[:-1]


@api_bp.get("/<any(callbacks, voicemails):plural>")
@bearer_required
def list_records(plural: str) -> Any:
    """``?status=requested,claimed&queue=cards&due=1&limit=100``"""
    kind = _kind(plural)
    limit = query_int("limit", 100)
    due = request.args.get("due") in ("1", "true") and kind == "callback"
    items = _h().records.list(kind, status=request.args.get("status") or ("requested" if due else None),
                              queue=request.args.get("queue"), due_before=_now() if due else None, limit=limit)
    return jsonify({plural: items})


@api_bp.get("/<any(callbacks, voicemails):plural>/<rid>")
@bearer_required
def get_record(plural: str, rid: str) -> Any:
    item = _h().records.get(_kind(plural), rid)
    if item is None:
        return jsonify(error="not_found", hint=f"no {plural[:-1]} {rid}"), 404
    return jsonify(item)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else dict(request.form)


def _not_done(records: Any, kind: str, rid: str) -> Any:
    """Why a claim or completion did not happen: 404 (no such record) or 409 (someone else has it)."""
    current = records.get(kind, rid)
    if current is None:
        return jsonify(error="not_found", hint=f"no {kind} {rid}"), 404
    by = f" by {current['claimed_by']}" if current.get("claimed_by") else ""
    return jsonify(error="conflict", hint=f"{kind} is {current['status']}{by}", item=current), 409


@api_bp.post("/<any(callbacks, voicemails):plural>/<rid>/claim")
@bearer_required
def claim_record(plural: str, rid: str) -> Any:
    kind = _kind(plural)
    agent = str(_body().get("agent") or "").strip()
    if not agent:
        return jsonify(error="bad_request", hint='send {"agent": "<your name or id>"}'), 400
    records = _h().records
    item = records.claim(kind, rid, agent, _now())
    return jsonify(item) if item is not None else _not_done(records, kind, rid)


@api_bp.post("/<any(callbacks, voicemails):plural>/<rid>/complete")
@bearer_required
def complete_record(plural: str, rid: str) -> Any:
    kind = _kind(plural)
    body = _body()
    outcome = str(body.get("outcome") or "completed")[:64]
    note = body.get("note")
    records = _h().records
    item = records.complete(kind, rid, _now(), outcome=outcome, note=str(note)[:2000] if note else None,
                            by=str(body.get("agent") or "") or None)
    return jsonify(item) if item is not None else _not_done(records, kind, rid)


@api_bp.get("/calls/<call_sid>/handoff")
@bearer_required
def call_handoff(call_sid: str) -> Any:
    """Everything an agent desktop needs about one call: context, callbacks, voicemails, page link."""
    ctx = _svc().store.context(call_sid)
    if ctx is None:
        return jsonify(error="not_found", hint=f"no call {call_sid}"), 404
    return jsonify(context=ctx, agent_url=_h().agent_url(call_sid), **_h().records.for_call(call_sid))


# -- agent page ------------------------------------------------------------------------

def _agent_allowed(call_sid: str) -> bool:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer ") and token_ok(header[7:].strip()):
        return True
    if link_valid(_h().link_secret, call_sid, request.args.get("exp"), request.args.get("sig"), _now()):
        return True
    cfg = _svc().config
    return not cfg.api_token and not cfg.secret_key and cfg.dev


AGENT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><link rel="icon" href="data:,">
<title>Caller {{ ctx.caller or "unknown" }} · {{ ctx.queue or "" }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;background:#f5f6f8;color:#1c1e21}
header{background:#1f3a5f;color:#fff;padding:1rem 1.5rem}
header h1{margin:0;font-size:1.4rem} header p{margin:.3rem 0 0;font-size:1.05rem}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(20rem,1fr));gap:1rem;padding:1rem 1.5rem}
section{background:#fff;border-radius:6px;padding:.8rem 1rem;box-shadow:0 1px 2px #0002}
h2{font-size:1rem;margin:.2rem 0 .6rem;color:#1f3a5f} dl{display:grid;grid-template-columns:auto 1fr;gap:.2rem .8rem;margin:0}
dt{color:#555} dd{margin:0} .badge{display:inline-block;padding:.05rem .5rem;border-radius:1rem;font-size:.85rem;background:#ddd}
.verified{background:#c8efd0} .failed{background:#f7c9c9} .masked{color:#888;font-family:monospace}
ol.path{display:flex;flex-wrap:wrap;gap:.3rem;list-style:none;padding:0;margin:0}
ol.path li{background:#e8eef7;border-radius:3px;padding:.05rem .4rem} ol.path li.failed{background:#f7c9c9}
table{border-collapse:collapse;width:100%} td,th{text-align:left;padding:.2rem .4rem;border-bottom:1px solid #eee;font-size:.92rem}
</style></head><body>
<header>
 <h1 id="caller">{{ ctx.caller or "Unknown caller" }}</h1>
 <p id="summary">{{ ctx.summary }}</p>
</header>
<main>
<section id="why"><h2>Why they are here</h2><dl>
 <dt>Reason</dt><dd id="reason" data-code="{{ ctx.reason or '' }}">{{ reason_words }}</dd>
 <dt>Queue</dt><dd id="queue">{{ ctx.queue or "" }}</dd>
 <dt>Routing rule</dt><dd id="rule">{{ routing.rule or "(none: the flow's queue)" }}</dd>
 {% if ctx.failed_node %}<dt>Stuck at</dt><dd id="failed-node">{{ ctx.failed_node }}</dd>{% endif %}
 <dt>Verified</dt><dd><span id="auth" class="badge {{ auth_status }}">{{ auth_status }}</span>
   {% if ctx.auth.method %}({{ ctx.auth.method }}){% endif %}</dd>
 <dt>Flow</dt><dd>{{ ctx.flow }} ({{ ctx.language }})</dd>
 <dt>Started</dt><dd><time id="started" datetime="{{ ctx.timings.started_at or '' }}">{{ ctx.timings.started_at or "" }}</time></dd>
 <dt>In self-service</dt><dd id="self-service">{{ ctx.timings.self_service_seconds }} s, {{ ctx.timings.turns }} turns</dd>
 {% if waited is not none %}<dt>Waited in queue</dt><dd id="waited">{{ waited }} s</dd>{% endif %}
 <dt>Context id</dt><dd><code id="context-id">{{ ctx.call_id }}</code></dd>
</dl></section>
<section id="journey"><h2>Where they went</h2>
 <ol class="path" id="path">{% for node in ctx.path %}<li{% if node == ctx.failed_node %} class="failed"{% endif %}>{{ node }}</li>{% endfor %}</ol>
 <h2 style="margin-top:1rem">What they entered</h2>
 <table id="slots">{% for name, value in ctx.slots.items() %}<tr><th>{{ name }}</th>
  <td{% if value == "****" %} class="masked" title="sensitive: never shown"{% endif %}>{{ value }}</td></tr>
 {% else %}<tr><td>Nothing.</td></tr>{% endfor %}</table>
</section>
<section id="said"><h2>What they said and pressed</h2>
 <table id="transcript">{% for t in ctx.transcript %}<tr><td><time datetime="{{ t.time }}">{{ t.time }}</time></td>
  <td>{{ t.node }}</td><td class="said">{{ t.get("text") if t.get("text") is not none else (t.get("keys") or "") }}</td><td>{{ t.outcome or "" }}</td></tr>
 {% else %}<tr><td>No input.</td></tr>{% endfor %}</table>
</section>
<section id="history-box"><h2>Earlier calls (<span id="history-count">{{ ctx.history|length }}</span>)</h2>
 <ul id="history">{% for h in ctx.history %}<li><time datetime="{{ h.started_at or '' }}">{{ h.started_at }}</time>:
  {{ h.reason or h.outcome or "no transfer" }}{% if h.queue %} → {{ h.queue }}{% endif %}
  <small>({{ (h.path or [])|join(" › ") }})</small></li>{% else %}<li>First call.</li>{% endfor %}</ul>
</section>
{% if records.callbacks or records.voicemails %}<section id="follow-up"><h2>Follow-up</h2><ul>
 {% for c in records.callbacks %}<li class="callback">Callback to {{ c.number }}, {{ c.window }}: <b>{{ c.status }}</b></li>{% endfor %}
 {% for m in records.voicemails %}<li class="voicemail">Voicemail ({{ m.duration or 0 }} s): <b>{{ m.status }}</b>
   {% if m.transcript %}<q>{{ m.transcript }}</q>{% endif %}</li>{% endfor %}
</ul></section>{% endif %}
</main>
<script>
// Times as the agent's local clock and "x min ago", so nobody converts UTC in their head.
(function () {
  var now = Date.now();
  document.querySelectorAll("time[datetime]").forEach(function (el) {
    var t = Date.parse(el.getAttribute("datetime"));
    if (isNaN(t)) { return; }
    var mins = Math.round((now - t) / 60000);
    var ago = mins < 1 ? "just now" : mins < 90 ? mins + " min ago" : Math.round(mins / 60) + " h ago";
    el.textContent = new Date(t).toLocaleString() + " (" + ago + ")";
    el.dataset.rendered = "1";
  });
  document.body.dataset.ready = "1";
})();
</script>
</body></html>"""


@agent_bp.get("/calls/<call_sid>")
def agent_call(call_sid: str) -> Any:
    """The caller's story at a glance, for the agent who takes the call."""
    if not _agent_allowed(call_sid):
        return Response("Unauthorized: open the signed link from the task, or send the bearer token.\n",
                        status=401, mimetype="text/plain", headers={"WWW-Authenticate": "Bearer"})
    ctx = _svc().store.context(call_sid)
    if ctx is None:
        abort(404)
    state = _svc().driver.state(call_sid)
    waited = ((state.extra.get("handoff") or {}).get("queue_time") if state else None)
    auth_status = (ctx.get("auth") or {}).get("status") or "none"
    html = render_template_string(AGENT_PAGE, ctx=ctx, routing=ctx.get("routing") or {}, auth_status=auth_status,
                                  reason_words=reason_text(ctx.get("reason")), waited=waited,
                                  records=_h().records.for_call(call_sid))
    resp = Response(html, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Frame-Options"] = "SAMEORIGIN"
    return resp
