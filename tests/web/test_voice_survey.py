"""A survey over Twilio's keypad webhooks: signed requests in, TwiML gathers out, events stored."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conftest import API_TOKEN, SignedClient, call_params

FEEDBACK = Path(__file__).resolve().parents[1] / "calls" / "survey" / "flows" / "feedback.yaml"


def gather_of(resp) -> ET.Element:
    assert resp.status_code == 200, resp.data
    root = ET.fromstring(resp.data)
    children = list(root)
    gather = root.find("Gather")
    assert gather is not None, resp.data
    assert children[children.index(gather) + 1].tag == "Redirect"  # no input never falls into silence
    return gather


def test_keypad_survey_gathers_the_right_digits_and_stores_every_answer(make_app, flows_dir: Path) -> None:
    shutil.copy(FEEDBACK, flows_dir / "feedback.yaml")
    twilio = SignedClient(make_app())
    gather = gather_of(twilio.post("/voice?flow=feedback", call_params()))
    gather = gather_of(twilio.post(gather.get("action"), call_params(Digits="1")))
    # csat: one key, answered at once
    assert (gather.get("input"), gather.get("numDigits"), gather.get("finishOnKey")) == ("dtmf", "1", "#")
    assert "How satisfied are you" in "".join(s.text for s in gather.findall("Say"))
    gather = gather_of(twilio.post(gather.get("action"), call_params(Digits="4")))
    assert gather.get("numDigits") == "1"                                  # ces
    gather = gather_of(twilio.post(gather.get("action"), call_params(Digits="6")))
    # nps: up to two keys ended by # (or the gather timeout)
    assert (gather.get("numDigits"), gather.get("finishOnKey")) == ("2", "#")
    assert "recommend" in "".join(s.text for s in gather.findall("Say"))
    gather = gather_of(twilio.post(gather.get("action"), call_params(Digits="10")))
    assert gather.get("numDigits") == "1"                                  # yesno
    resp = twilio.post(gather.get("action"), call_params(Digits="2"))
    root = ET.fromstring(resp.data)
    assert [s.text for s in root.findall("Say")] == ["Thank you for your feedback.",
                                                     "Thank you for calling. Goodbye."]
    assert root.find("Hangup") is not None

    sid = call_params()["CallSid"]
    events = twilio.get(f"/api/calls/{sid}/events", headers={"Authorization": f"Bearer {API_TOKEN}"}).get_json()
    survey = [(e["kind"], e["node"], e["data"]) for e in events["events"] if e["kind"].startswith("survey_")]
    assert survey == [
        ("survey_started", "rate", {"post_call": False, "questions": ["csat", "effort", "nps", "solved"]}),
        ("survey_answer", "rate", {"question": "csat", "kind": "csat", "value": 4, "channel": "dtmf",
                                   "post_call": False}),
        ("survey_answer", "rate", {"question": "effort", "kind": "ces", "value": 6, "channel": "dtmf",
                                   "post_call": False}),
        ("survey_answer", "rate", {"question": "nps", "kind": "nps", "value": 10, "channel": "dtmf",
                                   "post_call": False}),
        ("survey_answer", "rate", {"question": "solved", "kind": "yesno", "value": False, "channel": "dtmf",
                                   "post_call": False}),
        ("survey_completed", "rate", {"answered": 4, "post_call": False}),
    ]


def redirect_of(resp) -> str:
    return ET.fromstring(resp.data).find("Redirect").text


def test_a_silent_question_is_asked_again_once_then_left_unanswered(make_app, flows_dir: Path) -> None:
    shutil.copy(FEEDBACK, flows_dir / "feedback.yaml")
    twilio = SignedClient(make_app())
    gather = gather_of(twilio.post("/voice?flow=feedback", call_params()))
    resp = twilio.post(gather.get("action"), call_params(Digits="1"))
    resp = twilio.post(redirect_of(resp), call_params())              # silence: the <Redirect> after the Gather
    assert [s.text for s in gather_of(resp).findall("Say")] == ["Sorry, I didn't hear anything.",
                                                               "How satisfied are you? Press 1 to 5."]
    resp = twilio.post(redirect_of(resp), call_params())              # silence again: unanswered, next question
    gather = gather_of(resp)
    assert [s.text for s in gather.findall("Say")] == ["How easy was it? Press 1 for very hard to 7 for very easy."]
    sid = call_params()["CallSid"]
    events = twilio.get(f"/api/calls/{sid}/events", headers={"Authorization": f"Bearer {API_TOKEN}"}).get_json()
    answers = [e["data"] for e in events["events"] if e["kind"] == "survey_answer"]
    assert answers == [{"question": "csat", "kind": "csat", "value": None, "channel": "none", "post_call": False}]
