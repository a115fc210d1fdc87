"""The queue, callback and voicemail dialogues keep every promise: a person on 0, bounded tries, keys only."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from ivr.web import parts

from tests.handoff.helpers import Caller, api, make_app

CLOSED_FLOW = """\
flow: nightdesk
start: main
settings: {speech: false, agent_queue: general}
queues:
  general:
    hours: {timezone: UTC, weekly: {mon: ["09:00-17:00"]}}
    out_of_hours: callback
nodes:
  main:
    menu:
      prompt: Press 1 for help.
      options:
        - {key: "1", goto: help}
  help:
    transfer: {queue: general, reason: help}
"""


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


def queued_then_left(client, choice: str) -> Caller:
    """A caller in the general queue who left it for a callback (1) or a message (2)."""
    caller = Caller(client)
    caller.start()
    caller.press("main", "0")
    assert "<Leave />" in caller.post("/voice/queue/wait/input", Digits=choice)
    caller.post("/voice/queue/done", QueueResult="leave")
    return caller


def gather_action(body: str) -> str:
    gather = ET.fromstring(body).find("Gather")
    assert gather is not None, body
    return gather.get("action")


def events(client, sid: str) -> list[dict]:
    return api(client, "get", f"/api/calls/{sid}/events").get_json()["events"]


def assert_back_to_a_person(body: str) -> None:
    root = ET.fromstring(body)
    assert "connecting you to a person" in root.find("Say").text
    task = json.loads(root.find("Enqueue/Task").text)  # the general queue's TaskRouter target, as at first
    assert task["queue"] == "general" and task["reason"] == "caller_request"
    assert task["call_id"] == "CA" + "1" * 32 and task["path"][0] == "main"


# -- 1. a person, always ------------------------------------------------------------

def _callback_confirm(caller: Caller) -> str:
    return gather_action(caller.post("/voice/queue/callback"))


def _callback_typed(caller: Caller) -> str:
    withheld = Caller(caller.client, caller.sid, caller="anonymous")
    return gather_action(withheld.post("/voice/queue/callback"))


def _callback_readback(caller: Caller) -> str:
    withheld = Caller(caller.client, caller.sid, caller="anonymous")
    return gather_action(withheld.post(gather_action(withheld.post("/voice/queue/callback")), Digits="2125550100"))


def _callback_window(caller: Caller) -> str:
    return gather_action(caller.post(_callback_confirm(caller), Digits="1"))


@pytest.mark.parametrize("question", [_callback_confirm, _callback_typed, _callback_readback, _callback_window])
def test_zero_at_every_callback_question_goes_back_to_a_person(client, question):
    caller = queued_then_left(client, "1")
    action = question(caller)
    body = caller.post(action, Digits="0")
    assert_back_to_a_person(body)
    asked = [e for e in events(client, caller.sid) if e["kind"] == "person_requested"]
    assert len(asked) == 1 and asked[0]["data"]["open"] is True
    assert asked[0]["data"]["step"] == action.split("/voice/queue", 1)[1].split("?")[0]
    assert api(client, "get", "/api/callbacks").get_json()["callbacks"] == []


def test_zero_ends_a_voicemail_and_goes_back_to_a_person_without_keeping_the_message(client):
    caller = queued_then_left(client, "2")
    record = ET.fromstring(caller.post("/voice/queue/voicemail")).find("Record")
    assert "0" in record.get("finishOnKey") and "#" in record.get("finishOnKey")
    rec = {"RecordingUrl": "http://127.0.0.1:9/rec/RE1", "RecordingSid": "RE" + "1" * 32, "RecordingDuration": "3"}
    assert_back_to_a_person(caller.post(record.get("action"), Digits="0", **rec))
    caller.post("/voice/queue/voicemail/recorded", RecordingStatus="completed", **rec)
    assert api(client, "get", "/api/voicemails").get_json()["voicemails"] == []
    assert any(e["kind"] == "person_requested" and e["data"]["step"] == "/voicemail/done"
               for e in events(client, caller.sid))


def test_zero_in_the_leave_menu_dials_the_person_again(client):
    caller = Caller(client)
    caller.start()
    caller.press("main", "2")  # a number target
    menu = caller.post("/voice/queue/dialed", DialCallStatus="no-answer")
    body = caller.post(gather_action(menu), Digits="0")
    root = ET.fromstring(body)
    assert "connecting you to a person" in root.find("Say").text
    assert root.find("Dial/Number").text == "+15550001111"


def test_out_of_hours_zero_says_closed_and_when_then_asks_again(tmp_path):
    flow = tmp_path / "nightdesk.yaml"
    flow.write_text(CLOSED_FLOW)
    app, _ = make_app(tmp_path, flow)  # the clock is a Wednesday noon: closed until Monday 9
    client = app.test_client()
    try:
        caller = Caller(client, flow="nightdesk")
        caller.start()
        assert "/voice/queue/callback" in caller.press("main", "1")
        action = gather_action(caller.post("/voice/queue/callback"))
        body = caller.post(action, Digits="0")
        root = ET.fromstring(body)
        said = [s.text for s in root.iter("Say")]
        assert said == ["Sorry, the team that can help is closed right now.", "They open at 9 AM on Monday."]
        assert root.find("Enqueue") is None and root.find("Dial") is None
        assert root.find("Redirect").text == "/voice/queue/callback?tries=1"  # the same question, same try
        again = caller.post(root.find("Redirect").text)
        assert "call you back on" in again
        asked = [e for e in events(client, caller.sid) if e["kind"] == "person_requested"]
        assert asked[0]["data"]["open"] is False
    finally:
        parts(app).handoff.close()
        parts(app).services.close()


def test_a_typed_number_starting_with_zero_is_a_number_not_the_escape(client):
    caller = queued_then_left(client, "1")
    withheld = Caller(client, caller.sid, caller="anonymous")
    body = withheld.post(gather_action(withheld.post("/voice/queue/callback")), Digits="00442071234567")
    assert "You entered" in body and "<Enqueue" not in body


# -- 2. bounded retries --------------------------------------------------------------

def follow_wrong_keys(caller: Caller, body: str, key: str, limit: int = 10) -> tuple[str, int]:
    """Press ``key`` at every question until none is asked; the last document and how many were asked."""
    asked = 0
    while ET.fromstring(body).find("Gather") is not None and asked < limit:
        asked += 1
        body = caller.post(gather_action(body), Digits=key)
    return body, asked


def test_wrong_keys_at_the_callback_confirm_end_in_a_message(client):
    caller = queued_then_left(client, "1")
    body, asked = follow_wrong_keys(caller, caller.post("/voice/queue/callback"), "7")
    assert asked == 2
    root = ET.fromstring(body)
    assert "take a message instead" in root.find("Say").text
    assert root.find("Redirect").text == "/voice/queue/voicemail"


def test_wrong_keys_at_the_window_end_in_the_first_window(client):
    caller = queued_then_left(client, "1")
    window = caller.post(_callback_confirm(caller), Digits="1")
    body, asked = follow_wrong_keys(caller, window, "9")
    assert asked == 3
    assert "call you back on 5 5 5, 1 2 3, 0 0 0 0 as soon as a person is free" in body
    (cb,) = api(client, "get", "/api/callbacks").get_json()["callbacks"]
    assert cb["window"] == "asap"


def test_a_number_refused_at_the_read_back_is_asked_for_three_times_at_most(client):
    caller = queued_then_left(client, "1")
    withheld = Caller(client, caller.sid, caller="anonymous")
    body = withheld.post("/voice/queue/callback")
    asked = 0
    while ET.fromstring(body).find("Gather") is not None and asked < 10:
        asked += 1
        typed = withheld.post(gather_action(body), Digits="2125550100")
        body = withheld.post(gather_action(typed), Digits="2")
    assert asked == 3 and "take a message instead" in body


# -- 3. keys only in the wait loop ----------------------------------------------------

def test_the_wait_loop_takes_keys_not_words(client):
    caller = Caller(client)
    caller.start()
    caller.press("main", "0")
    wait = ET.fromstring(caller.post("/voice/queue/wait", QueuePosition="2"))
    assert wait.find("Gather").get("input") == "dtmf"
    for words in ("please call me back", "leave a message"):
        assert "<Leave" not in caller.post("/voice/queue/wait/input", SpeechResult=words)
    assert "<Leave />" in caller.post("/voice/queue/wait/input", Digits="2")
