"""Signed-webhook tests of the handoff: targets (golden TwiML), wait loop, callbacks, voicemail."""

from __future__ import annotations

import re

import json
import xml.etree.ElementTree as ET

import pytest

from ivr.web import parts

from tests.handoff.golden_util import assert_golden
from tests.handoff.helpers import Caller, api, make_app

PIN = "9876"


@pytest.fixture
def app(tmp_path):
    app, clock = make_app(tmp_path)
    app.clock = clock
    yield app
    parts(app).handoff.close()
    parts(app).services.close()


@pytest.fixture
def client(app):
    return app.test_client()


def lost_card(client, caller: Caller) -> str:
    caller.start()
    caller.press("main", "1")
    caller.press("cards_menu", "1")
    caller.press("account", "123456#")
    return caller.press("pin", PIN + "#")


# -- targets ---------------------------------------------------------------------

def test_sip_target_carries_context_id_and_key_fields_never_sensitive(client):
    body = lost_card(client, Caller(client))
    assert_golden("target_sip", body)
    uri = ET.fromstring(body).find("Dial/Sip").text
    headers = dict(p.split("=", 1) for p in uri.split("?", 1)[1].split("&"))
    assert headers["X-IVR-Context-Id"] == "CA" + "1" * 32
    assert headers["X-IVR-Account"] == "123456"
    assert headers["X-IVR-Reason"] == "lost_card"
    assert PIN not in body and "Pin" not in uri


def test_number_target_whispers_a_one_sentence_summary(client):
    caller = Caller(client)
    caller.start()
    body = caller.press("main", "2")
    assert_golden("target_number", body)
    number = ET.fromstring(body).find("Dial/Number")
    assert number.text == "+15550001111"
    whisper = caller.post(number.get("url").replace("&amp;", "&"))
    said = ET.fromstring(whisper).find("Say").text
    assert said.count(".") == 1 and said.startswith("First-time caller")
    assert "billing" in said


def test_queue_target_is_a_named_twilio_queue(client):
    caller = Caller(client)
    caller.start()
    body = caller.press("main", "3")
    assert_golden("target_queue", body)
    assert ET.fromstring(body).find("Enqueue").text == "sales-line"


def test_default_target_is_taskrouter_enqueue_with_task(client):
    caller = Caller(client)
    caller.start()
    body = caller.press("main", "0")
    assert_golden("target_default", body)
    task = json.loads(ET.fromstring(body).find("Enqueue/Task").text)
    assert task["queue"] == "general" and task["reason"] == "caller_request"
    assert task["agent_url"].startswith("/agent/calls/CA")


def test_taskrouter_target_with_workflow_and_rule_priority(client):
    first = Caller(client, "CA" + "a" * 32, caller="+15557770000")
    first.start()
    first.press("main", "3")
    second = Caller(client, "CA" + "b" * 32, caller="+15557770000")
    second.start()
    body = second.press("main", "0")
    assert_golden("target_taskrouter_priority", body)
    enq = ET.fromstring(body).find("Enqueue")
    assert enq.get("workflowSid") == "WW0123456789abcdef0123456789abcdef"
    assert enq.find("Task").get("priority") == "50"
    task = json.loads(enq.find("Task").text)
    assert task["routing"]["rule"] == "repeat-caller"
    assert [h["call_id"] for h in task["history"]] == ["CA" + "a" * 32]


def test_out_of_hours_goes_to_callback_with_reason(client):
    caller = Caller(client)
    caller.start()
    body = caller.press("main", "4")
    assert_golden("out_of_hours_callback", body)
    root = ET.fromstring(body)
    assert "closed" in root.find("Say").text
    assert root.find("Redirect").text == "/voice/queue/callback"
    ctx = api(client, "get", f"/api/calls/{caller.sid}/context").get_json()
    assert ctx["reason"] == "out_of_hours" and ctx["routing"]["open"] is False
    assert ctx["routing"]["mode"] == "callback"


def test_voicemail_node_records(client):
    caller = Caller(client)
    caller.start()
    body = caller.press("main", "5")
    assert ET.fromstring(body).find("Redirect").text == "/voice/queue/voicemail"
    record = caller.post("/voice/queue/voicemail")
    assert_golden("voicemail_record", record)
    assert ET.fromstring(record).find("Record").get("maxLength") == "60"


# -- the wait loop -------------------------------------------------------------------

def queued(client, sid="CA" + "c" * 32) -> Caller:
    caller = Caller(client, sid)
    caller.start()
    caller.press("main", "0")
    return caller


def test_wait_loop_announces_position_and_wait(client):
    caller = queued(client)
    body = caller.post("/voice/queue/wait", QueuePosition="3", AvgQueueTime="250", QueueTime="10",
                       CurrentQueueSize="5")
    assert_golden("wait_loop", body)
    root = ET.fromstring(body)
    said = " ".join(s.text for s in root.iter("Say"))
    assert "number 3 in line" in said and "about 5 minutes" in said
    assert root.find("Gather/Play") is not None
    assert [c.tag for c in root] == ["Gather", "Redirect"]
    nxt = caller.post("/voice/queue/wait", QueuePosition="1", AvgQueueTime="30")
    assert "next in line" in nxt and "less than a minute" in nxt


def test_agent_escape_in_the_loop_keeps_the_place(client):
    caller = queued(client)
    body = caller.post("/voice/queue/wait/input", Digits="0")
    assert "already in line" in body and "<Leave" not in body
    assert ET.fromstring(body).find("Redirect").text == "/voice/queue/wait"
    assert "<Leave" not in caller.post("/voice/queue/wait/input", Digits="7")


def test_leave_for_callback_with_caller_id(client, app):
    caller = queued(client)
    assert "<Leave />" in caller.post("/voice/queue/wait/input", Digits="1")
    done = caller.post("/voice/queue/done", QueueResult="leave", QueueTime="42")
    assert ET.fromstring(done).find("Redirect").text == "/voice/queue/callback"
    confirm = caller.post("/voice/queue/callback")
    assert_golden("callback_confirm", confirm)
    assert "5 5 5, 1 2 3, 0 0 0 0" in confirm
    window = caller.post("/voice/queue/callback/confirm", Digits="1")
    assert "When should we call you" in window
    bye = caller.post("/voice/queue/callback/window", Digits="3")
    # Today's afternoon while it lasts in the flow's time zone, else tomorrow's: both are the right promise.
    assert re.search(r"call you back on 5 5 5, 1 2 3, 0 0 0 0 in the afternoon (today|tomorrow)", bye), bye
    assert "<Hangup" in bye
    items = api(client, "get", "/api/callbacks").get_json()["callbacks"]
    assert len(items) == 1
    cb = items[0]
    assert cb["number"] == "+15551230000" and cb["window"] == "afternoon" and cb["status"] == "requested"
    assert cb["context"]["queue"] == "general" and cb["call_id"] == caller.sid
    events = api(client, "get", f"/api/calls/{caller.sid}/events").get_json()["events"]
    kinds = [e["kind"] for e in events]
    assert "queue_leave_requested" in kinds and "callback_requested" in kinds
    result = next(e for e in events if e["kind"] == "queue_result")
    assert result["data"]["result"] == "leave" and result["data"]["waited"] == 42


def test_leave_for_callback_with_a_typed_number(client):
    caller = queued(client)
    # The wait loop's <Gather> is keys only: words never arrive here (spoken choices: tests/web/test_queue_speech.py)
    assert "<Leave" not in caller.post("/voice/queue/wait/input", SpeechResult="please call me back")
    assert "<Leave />" in caller.post("/voice/queue/wait/input", Digits="1")
    caller.post("/voice/queue/done", QueueResult="leave")
    withheld = Caller(client, caller.sid, caller="anonymous")
    enter = withheld.post("/voice/queue/callback")
    assert "enter the number" in enter and 'finishOnKey="#"' in enter
    bad = withheld.post("/voice/queue/callback/typed", Digits="12")
    assert "not a full phone number" in bad
    readback = withheld.post("/voice/queue/callback/typed", Digits="2125550100")
    assert "2 1 2, 5 5 5, 0 1 0 0" in readback
    window = withheld.post("/voice/queue/callback/readback", Digits="1")
    assert "When should we call" in window
    bye = withheld.post("/voice/queue/callback/window", Digits="1")
    assert "as soon as a person is free" in bye
    cb = api(client, "get", "/api/callbacks?due=1").get_json()["callbacks"]
    assert [c["number"] for c in cb] == ["+12125550100"]


def test_leave_for_voicemail_records_and_stores(client):
    caller = queued(client)
    assert "<Leave />" in caller.post("/voice/queue/wait/input", Digits="2")
    done = caller.post("/voice/queue/done", QueueResult="leave")
    assert ET.fromstring(done).find("Redirect").text == "/voice/queue/voicemail"
    rec = caller.post("/voice/queue/voicemail")
    assert ET.fromstring(rec).find("Record").get("action") == "/voice/queue/voicemail/done"
    bye = caller.post("/voice/queue/voicemail/done", RecordingUrl="http://127.0.0.1:9/rec/RE1",
                      RecordingSid="RE" + "1" * 32, RecordingDuration="7")
    assert "message has been saved" in bye
    caller.post("/voice/queue/voicemail/recorded", RecordingUrl="http://127.0.0.1:9/rec/RE1",
                RecordingSid="RE" + "1" * 32, RecordingStatus="completed", RecordingDuration="7")
    items = api(client, "get", "/api/voicemails").get_json()["voicemails"]
    assert len(items) == 1 and items[0]["status"] == "new" and items[0]["duration"] == 7


def test_hangup_in_the_queue_is_recorded_as_abandoned(client):
    caller = queued(client)
    caller.post("/voice/queue/wait", QueuePosition="2", AvgQueueTime="60")
    body = caller.post("/voice/queue/done", QueueResult="hangup", QueueTime="95")
    assert ET.fromstring(body).tag == "Response" and len(ET.fromstring(body)) == 0
    events = api(client, "get", f"/api/calls/{caller.sid}/events").get_json()["events"]
    entered = next(e for e in events if e["kind"] == "queue_entered")
    assert entered["data"]["position"] == 2
    result = next(e for e in events if e["kind"] == "queue_result")
    assert result["data"]["abandoned"] is True and result["data"]["waited"] == 95


def test_bridged_and_failed_queue_results(client):
    caller = queued(client)
    assert "Goodbye" in caller.post("/voice/queue/done", QueueResult="bridged", QueueTime="30")
    full = caller.post("/voice/queue/done", QueueResult="queue-full")
    root = ET.fromstring(full)
    assert [c.tag for c in root] == ["Gather", "Redirect"]
    assert "call you back" in full


def test_unanswered_number_offers_callback_or_message(client):
    caller = Caller(client)
    caller.start()
    caller.press("main", "2")
    body = caller.post("/voice/queue/dialed", DialCallStatus="no-answer")
    assert "nobody could take your call" in body
    assert ET.fromstring(body).find("Redirect").text == "/voice/queue/voicemail"
    assert "/voice/queue/callback" in caller.post("/voice/queue/leave", Digits="1")


# -- safety ---------------------------------------------------------------------------

def test_unsigned_and_badly_signed_requests_are_refused(client):
    assert client.post("/voice/queue/wait", data={"CallSid": "CA1"}).status_code == 403
    resp = client.post("/voice/queue/wait", data={"CallSid": "CA1"}, headers={"X-Twilio-Signature": "bad"})
    assert resp.status_code == 403


def test_wait_loop_failure_keeps_music_playing(client, app, monkeypatch):
    caller = queued(client)
    monkeypatch.setattr(parts(app).services.driver, "state", lambda sid: 1 / 0)
    body = caller.post("/voice/queue/wait", QueuePosition="1")
    root = ET.fromstring(body)
    assert [c.tag for c in root] == ["Play", "Redirect"]
    other = caller.post("/voice/queue/callback")
    assert ET.fromstring(other).find("Enqueue") is not None


def test_unknown_call_in_wait_loop_still_valid(client):
    body = Caller(client, "CA" + "f" * 32).post("/voice/queue/wait", QueuePosition="4", AvgQueueTime="0")
    assert "number 4 in line" in body and "expected wait" not in body


# -- API ------------------------------------------------------------------------------

def test_callbacks_api_claim_and_complete(client):
    caller = queued(client)
    caller.post("/voice/queue/wait/input", Digits="1")
    caller.post("/voice/queue/done", QueueResult="leave")
    caller.post("/voice/queue/callback/confirm", Digits="1")
    caller.post("/voice/queue/callback/window", Digits="1")
    assert client.get("/api/callbacks").status_code == 401
    cb = api(client, "get", "/api/callbacks?status=requested").get_json()["callbacks"][0]
    assert api(client, "post", f"/api/callbacks/{cb['id']}/claim", json={}).status_code == 400
    mine = api(client, "post", f"/api/callbacks/{cb['id']}/claim", json={"agent": "ann"})
    assert mine.status_code == 200 and mine.get_json()["status"] == "claimed"
    theirs = api(client, "post", f"/api/callbacks/{cb['id']}/claim", json={"agent": "bob"})
    assert theirs.status_code == 409 and "ann" in theirs.get_json()["hint"]
    bob_done = api(client, "post", f"/api/callbacks/{cb['id']}/complete", json={"agent": "bob"})
    assert bob_done.status_code == 409
    done = api(client, "post", f"/api/callbacks/{cb['id']}/complete",
               json={"agent": "ann", "outcome": "resolved", "note": "card blocked"})
    assert done.status_code == 200 and done.get_json()["status"] == "completed"
    assert api(client, "get", "/api/callbacks/nope").status_code == 404
    handoff = api(client, "get", f"/api/calls/{caller.sid}/handoff").get_json()
    assert handoff["callbacks"][0]["outcome"] == "resolved"
    assert handoff["context"]["call_id"] == caller.sid


def test_sensitive_values_never_leave(client, app):
    caller = Caller(client)
    lost_card(client, caller)
    page = api(client, "get", f"/agent/calls/{caller.sid}").get_data(as_text=True)
    ctx = api(client, "get", f"/api/calls/{caller.sid}/context").get_data(as_text=True)
    handoff = api(client, "get", f"/api/calls/{caller.sid}/handoff").get_data(as_text=True)
    for text in (page, ctx, handoff):
        assert PIN not in text
    assert "****" in page
