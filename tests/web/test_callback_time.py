"""A callback at a day and time the caller chooses: keys, speech ("tomorrow at ten"), read-back, change of mind.

Signed webhooks through the Flask test client at a fixed time (Wednesday
2026-03-04 12:00 UTC = 12:00 in London); the team calls back Monday to Friday,
9 to 5, London time. The spoken answer is a real recording: synthesised
speech served as Twilio's RecordingUrl by a local server, heard by the
bundled offline recogniser.
"""

from __future__ import annotations

import io
import wave
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ivr.web import parts
from tests.handoff.fakes import LocalServer
from tests.handoff.helpers import Caller, api, make_app

FLOW = """\
flow: later
start: main
settings: {speech: false}
queues:
  general:
    hours:
      timezone: Europe/London
      weekly: {mon: ["09:00-17:00"], tue: ["09:00-17:00"], wed: ["09:00-17:00"], thu: ["09:00-17:00"],
               fri: ["09:00-17:00"]}
nodes:
  main:
    menu:
      prompt: Press 1 and we will call you back.
      options:
        - {key: "1", goto: later}
  later:
    callback: {queue: general}
"""
SID = "CA" + "e" * 32


def _app(tmp_path: Path, speech: bool = False):
    flow = tmp_path / "later.yaml"
    flow.write_text(FLOW.replace("speech: false", f"speech: {str(speech).lower()}"))
    app, clock = make_app(tmp_path, flow)
    return app, clock


@pytest.fixture
def keypad(tmp_path):
    app, _ = _app(tmp_path)
    yield app
    parts(app).handoff.close()
    parts(app).services.close()


def said(body: str) -> str:
    return " ".join(s.text or "" for s in ET.fromstring(body).iter("Say"))


def to_window(app) -> Caller:
    caller = Caller(app.test_client(), SID, flow="later")
    caller.start()
    caller.press("main", "1")
    assert "use this number" in caller.post("/voice/queue/callback")
    window = caller.post("/voice/queue/callback/confirm", Digits="1")
    assert "To choose a day and time, press 5." in said(window)
    return caller


def callbacks(app) -> list[dict]:
    return api(app.test_client(), "get", "/api/callbacks").get_json()["callbacks"]


def london(ts: float) -> str:
    from zoneinfo import ZoneInfo
    return datetime.fromtimestamp(ts, tz=timezone.utc).astimezone(ZoneInfo("Europe/London")).strftime("%a %H:%M")


def test_keys_choose_a_day_and_time_read_back_and_confirmed(keypad) -> None:
    caller = to_window(keypad)
    days = said(caller.post("/voice/queue/callback/window", Digits="5"))
    # Wednesday noon: today still has open hours, then the next open days (the weekend is skipped)
    assert days.startswith("Which day should we call you?")
    assert "For today, press 1. For tomorrow, press 2. For Friday, press 3. For Monday, press 4." in days
    ask = said(caller.post("/voice/queue/callback/day", Digits="2"))
    assert "At what time tomorrow?" in ask
    back = said(caller.post("/voice/queue/callback/time", Digits="1030#"))
    assert back == "We will call you at 10:30 AM tomorrow. Press 1 to confirm, or 2 to choose another time."
    assert not callbacks(keypad), "nothing is stored before the caller confirms"
    bye = caller.post("/voice/queue/callback/chosen", Digits="1")
    assert "We will call you back on 5 5 5, 1 2 3, 0 0 0 0 at 10:30 AM tomorrow. Goodbye." in said(bye)
    assert "<Hangup" in bye
    (cb,) = callbacks(keypad)
    assert cb["window"] == "chosen" and london(cb["due_at"]) == "Thu 10:30"
    assert cb["window_end"] - cb["due_at"] == 30 * 60


def test_a_bare_hour_is_read_as_the_one_the_team_is_open(keypad) -> None:
    caller = to_window(keypad)
    caller.post("/voice/queue/callback/window", Digits="5")
    caller.post("/voice/queue/callback/day", Digits="3")                     # Friday
    back = said(caller.post("/voice/queue/callback/time", Digits="2#"))       # "2": 2 PM, not 2 AM
    assert "at 2 PM on Friday" in back
    caller.post("/voice/queue/callback/chosen", Digits="1")
    assert london(callbacks(keypad)[0]["due_at"]) == "Fri 14:00"


def test_a_closed_or_passed_time_says_why_and_asks_again(keypad) -> None:
    caller = to_window(keypad)
    caller.post("/voice/queue/callback/window", Digits="5")
    caller.post("/voice/queue/callback/day", Digits="2")
    closed = said(caller.post("/voice/queue/callback/time", Digits="1900#"))
    assert "Sorry, we can't call you then. Tomorrow we call between 9 AM and 5 PM." in closed
    assert "At what time tomorrow?" in closed
    caller.post("/voice/queue/callback/chosen", Digits="2")  # not asked yet: goes nowhere harmful
    caller.post("/voice/queue/callback/window", Digits="5")
    caller.post("/voice/queue/callback/day", Digits="1")                      # today, it is noon
    past = said(caller.post("/voice/queue/callback/time", Digits="1000#"))
    assert "too soon or has passed" in past or "can't call you then" in past
    assert not callbacks(keypad)


def test_a_change_of_mind_at_the_read_back_asks_when_again(keypad) -> None:
    caller = to_window(keypad)
    caller.post("/voice/queue/callback/window", Digits="5")
    caller.post("/voice/queue/callback/day", Digits="2")
    caller.post("/voice/queue/callback/time", Digits="1030#")
    again = said(caller.post("/voice/queue/callback/chosen", Digits="2"))
    assert "When should we call you?" in again and "press 5" in again
    bye = said(caller.post("/voice/queue/callback/window", Digits="2"))     # the morning window instead
    assert "in the morning" in bye
    (cb,) = callbacks(keypad)
    assert cb["window"] == "morning"
    kinds = [e["kind"] for e in api(keypad.test_client(), "get", f"/api/calls/{SID}/events").get_json()["events"]]
    assert kinds.count("callback_time_chosen") == 1 and "callback_time_changed" in kinds


def test_wrong_keys_are_bounded_and_the_windows_come_back(keypad) -> None:
    caller = to_window(keypad)
    caller.post("/voice/queue/callback/window", Digits="5")
    body = caller.post("/voice/queue/callback/day", Digits="9")
    action = ET.fromstring(body).find("Gather").get("action")
    assert "tries=2" in action
    for n in (2, 3):
        body = caller.post(f"/voice/queue/callback/day?tries={n}", Digits="9")
    assert "When should we call you?" in said(body), "after three wrong days, the parts of the day again"


def test_zero_reaches_a_person_from_the_day_and_time_questions(keypad) -> None:
    caller = to_window(keypad)
    caller.post("/voice/queue/callback/window", Digits="5")
    for path in ("/voice/queue/callback/day", "/voice/queue/callback/time", "/voice/queue/callback/chosen"):
        body = caller.post(path, Digits="0")
        assert "<Enqueue" in body, (path, body)


# -- speech ------------------------------------------------------------------------------

def _wav(text: str, voice: str) -> bytes:
    from ivr.speech.synth import synthesize
    pcm = synthesize(text, voice, lead_ms=300, trail_ms=400)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm)
    return buf.getvalue()


@pytest.fixture(scope="module")
def recordings():
    """Twilio's recording store: each "caller" said one sentence (held-out voices, phone-line audio)."""
    said_ = {"/RE1.wav": _wav("tomorrow at ten", "flite:kal"),
             "/RE2.wav": _wav("friday at two thirty please", "flite:slt"),
             "/RE3.wav": _wav("the weather is lovely", "flite:awb"),
             "/RE4.wav": _wav("saturday at eleven", "flite:rms"),
             "/RE5.wav": _wav("I want to speak to an agent", "flite:kal")}
    with LocalServer({k: (200, {"Content-Type": "audio/wav"}, v) for k, v in said_.items()}) as srv:
        yield f"http://127.0.0.1:{srv.httpd.server_port}"


@pytest.fixture
def spoken(tmp_path):
    app, _ = _app(tmp_path, speech=True)
    yield app
    parts(app).handoff.close()
    parts(app).services.close()


def test_a_spoken_day_and_time_is_heard_offline_and_read_back(spoken, recordings) -> None:
    caller = to_window(spoken)
    root = ET.fromstring(caller.post("/voice/queue/callback/window", Digits="5"))
    assert "tomorrow at ten" in said(ET.tostring(root, encoding="unicode"))
    record = root.find("Record")
    assert record is not None and "*" in record.get("finishOnKey") and "0" in record.get("finishOnKey")
    assert [c.tag for c in root][-1] == "Redirect", "silence falls through to a redirect, never a hang-up"
    back = said(caller.post("/voice/queue/callback/spoken", RecordingUrl=f"{recordings}/RE1"))
    assert back == "We will call you at 10 AM tomorrow. Press 1 to confirm, or 2 to choose another time."
    caller.post("/voice/queue/callback/chosen", Digits="1")
    assert london(callbacks(spoken)[0]["due_at"]) == "Thu 10:00"


def test_a_spoken_time_inside_a_sentence(spoken, recordings) -> None:
    caller = to_window(spoken)
    caller.post("/voice/queue/callback/window", Digits="5")
    back = said(caller.post("/voice/queue/callback/spoken", RecordingUrl=f"{recordings}/RE2"))
    assert "at 2:30 PM on Friday" in back, "2:30 is PM: the team is closed at 2:30 AM"


def test_unclear_speech_asks_again_then_the_keypad_takes_over(spoken, recordings) -> None:
    caller = to_window(spoken)
    caller.post("/voice/queue/callback/window", Digits="5")
    again = said(caller.post("/voice/queue/callback/spoken", RecordingUrl=f"{recordings}/RE3"))
    assert again.startswith("Sorry, I didn't catch a day and time.") and "After the tone" in again
    keys = said(caller.post("/voice/queue/callback/spoken?tries=2", RecordingUrl=f"{recordings}/RE3"))
    assert "Which day should we call you?" in keys


def test_a_spoken_closed_day_says_so_and_star_goes_to_the_keypad(spoken, recordings) -> None:
    caller = to_window(spoken)
    caller.post("/voice/queue/callback/window", Digits="5")
    closed = said(caller.post("/voice/queue/callback/spoken", RecordingUrl=f"{recordings}/RE4"))
    assert "Sorry, we can't call you then." in closed and "After the tone" in closed
    keys = said(caller.post("/voice/queue/callback/spoken", Digits="*", RecordingUrl=f"{recordings}/RE4"))
    assert "Which day should we call you?" in keys


def test_silence_at_the_spoken_question_is_counted(spoken) -> None:
    caller = to_window(spoken)
    caller.post("/voice/queue/callback/window", Digits="5")
    first = said(caller.post("/voice/queue/callback/spoken?tries=2&silent=1"))
    assert "After the tone" in first
    keys = said(caller.post("/voice/queue/callback/spoken?tries=3&silent=1"))
    assert "Which day should we call you?" in keys


def test_asking_for_a_person_at_the_spoken_question_reaches_one(spoken, recordings) -> None:
    caller = to_window(spoken)
    caller.post("/voice/queue/callback/window", Digits="5")
    body = caller.post("/voice/queue/callback/spoken", RecordingUrl=f"{recordings}/RE5")
    assert "<Enqueue" in body, body
