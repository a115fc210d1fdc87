"""Dialing due callbacks through the Twilio REST client, against a recording fake of the REST API."""

from __future__ import annotations

import json

from twilio.rest import Client

from ivr.handoff.dialer import Dialer
from ivr.handoff.records import HandoffRecords
from ivr.web import parts
from tests.handoff.fakes import RecordingTwilioHttp
from tests.handoff.helpers import Caller, make_app


def _records(tmp_path):
    return HandoffRecords(f"sqlite:///{tmp_path / 'r.sqlite3'}")


def test_dials_due_callbacks_once(tmp_path):
    recs = _records(tmp_path)
    due = recs.add_callback(call_id="CA1", number="+15551230000", at=0, due_at=100, queue="cards")
    recs.add_callback(call_id="CA2", number="+15551239999", at=0, due_at=10_000)
    http = RecordingTwilioHttp()
    client = Client("AC" + "0" * 32, "token", http_client=http)
    dialer = Dialer(recs, client, "+15550009999", "https://ivr.example.com/", clock=lambda: 200.0)
    results = dialer.dial_due()
    assert [r["to"] for r in results] == ["+15551230000"]
    assert len(http.requests) == 1
    req = http.requests[0]
    assert req["method"] == "POST" and req["url"].endswith("/Accounts/AC" + "0" * 32 + "/Calls.json")
    assert req["data"]["To"] == "+15551230000" and req["data"]["From"] == "+15550009999"
    assert req["data"]["Url"] == f"https://ivr.example.com/voice/queue/callback/connect?id={due['id']}"
    assert req["data"]["StatusCallback"].endswith(f"/voice/queue/callback/status?id={due['id']}")
    got = recs.get("callback", due["id"])
    assert got["status"] == "dialing" and got["dial_sid"] == results[0]["call_sid"] and got["attempts"] == 1
    assert dialer.dial_due() == []  # claimed: never dialed twice


def test_no_answer_retries_then_fails(tmp_path):
    recs = _records(tmp_path)
    cb = recs.add_callback(call_id="CA1", number="+15551230000", at=0, due_at=0)
    now = [0.0]
    dialer = Dialer(recs, Client("AC" + "0" * 32, "t", http_client=RecordingTwilioHttp()), "+15550009999",
                    "https://x", clock=lambda: now[0], retry_minutes=15, max_attempts=2)
    dialer.dial_due()
    after = dialer.on_status(cb["id"], "no-answer")
    assert after["status"] == "requested" and after["due_at"] == 900.0
    now[0] = 1000.0
    dialer.dial_due()
    assert dialer.on_status(cb["id"], "busy")["status"] == "failed"


def test_rest_error_puts_the_callback_back(tmp_path):
    recs = _records(tmp_path)
    cb = recs.add_callback(call_id="CA1", number="+15551230000", at=0, due_at=0)
    http = RecordingTwilioHttp(lambda m, u, d: (400, {"code": 21211, "message": "Invalid 'To' Phone Number",
                                                      "status": 400}))
    dialer = Dialer(recs, Client("AC" + "0" * 32, "t", http_client=http), "+15550009999", "https://x",
                    clock=lambda: 5.0)
    assert dialer.dial_due()[0]["status"] == "error"
    assert recs.get("callback", cb["id"])["status"] == "requested"


def test_answered_callback_is_queued_with_the_first_call_story(tmp_path):
    app, clock = make_app(tmp_path)
    try:
        client = app.test_client()
        caller = Caller(client)
        caller.start()
        caller.press("main", "0")
        caller.post("/voice/queue/wait/input", Digits="1")
        caller.post("/voice/queue/done", QueueResult="leave")
        caller.post("/voice/queue/callback/confirm", Digits="1")
        caller.post("/voice/queue/callback/window", Digits="1")
        h = parts(app).handoff
        cb = h.records.due_callbacks(clock.now)[0]
        h.records.claim("callback", cb["id"], "dialer", clock.now, status="dialing")
        out = Caller(client, "CA" + "9" * 32, caller="+15550009999")
        body = out.post(f"/voice/queue/callback/connect?id={cb['id']}")
        assert "call back you asked for" in body and "<Enqueue" in body
        task = json.loads(body.split("<Task>")[1].split("</Task>")[0].replace("&quot;", '"'))
        assert task["reason"] == "callback" and task["history"][0]["call_id"] == caller.sid
        out.post(f"/voice/queue/callback/status?id={cb['id']}", CallStatus="completed")
        assert h.records.get("callback", cb["id"])["status"] == "completed"
    finally:
        parts(app).handoff.close()
        parts(app).services.close()
