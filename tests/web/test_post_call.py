"""The post-call survey over signed webhooks: the agent leg ends (<Enqueue>/<Dial> action), offer, survey."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ivr.web import parts

from tests.handoff.helpers import Caller, make_app

FLOW = """\
flow: shop
start: main
settings:
  speech: false
  survey: rate
queues:
  general: {}
  desk:
    target: {type: number, number: "+15550001111"}
nodes:
  main:
    menu:
      prompt: Press 1 for a person, 2 for the desk.
      options:
        - {key: "1", goto: person}
        - {key: "2", goto: desk}
  person:
    transfer: {queue: general, reason: help}
  desk:
    transfer: {queue: desk, reason: desk}
  rate:
    survey:
      questions:
        - id: csat
          kind: csat
          prompt: How satisfied are you? Press 1 to 5.
      next: bye
  bye:
    hangup: Thank you. Goodbye.
"""


@pytest.fixture
def client(tmp_path: Path):
    flow_file = tmp_path / "shop.yaml"
    flow_file.write_text(FLOW)
    app, _ = make_app(tmp_path, flow_file)
    yield app.test_client()
    parts(app).handoff.close()
    parts(app).services.close()


def kinds(client, sid: str) -> list[dict]:
    return parts(client.application).services.store.events(sid)


def gather(body: str) -> ET.Element:
    root = ET.fromstring(body)
    found = root.find("Gather")
    assert found is not None, body
    assert root[-1].tag == "Redirect", body   # every <Gather> has its fallback
    return found


def test_queue_bridged_offers_the_survey_then_runs_it(client) -> None:
    caller = Caller(client, flow="shop")
    caller.start()
    assert "<Enqueue" in caller.press("main", "1")
    offer = caller.post("/voice/queue/done", QueueResult="bridged", QueueTime="30")
    g = gather(offer)
    assert g.get("action").startswith("/voice/input?node=rate&turn=") and g.get("numDigits") == "1"
    assert "short survey" in offer
    question = caller.post(g.get("action"), Digits="1")
    assert "How satisfied are you?" in question
    action = gather(question).get("action")
    assert action.startswith("/voice/input?node=rate")
    bye = caller.post(action, Digits="4")
    assert "Thank you. Goodbye." in bye and ET.fromstring(bye)[-1].tag == "Hangup"
    ev = kinds(client, caller.sid)
    names = [e["kind"] for e in ev]
    assert names.index("transfer") < names.index("queue_result") < names.index("agent_leg_ended") \
        < names.index("survey_offer") < names.index("survey_answer")
    leg = next(e for e in ev if e["kind"] == "agent_leg_ended")
    assert leg["data"]["status"] == "bridged" and leg["node"] is None
    assert next(e for e in ev if e["kind"] == "survey_offer")["data"] == {"agreed": True, "channel": "dtmf"}
    answer = next(e for e in ev if e["kind"] == "survey_answer")["data"]
    assert answer["question"] == "csat" and answer["value"] == 4 and answer["post_call"] is True


def test_dial_completed_offers_the_survey_and_2_says_goodbye(client) -> None:
    caller = Caller(client, flow="shop")
    caller.start()
    assert "<Dial" in caller.press("main", "2")
    offer = caller.post("/voice/queue/dialed", DialCallStatus="completed", DialCallDuration="95")
    bye = caller.post(gather(offer).get("action"), Digits="2")
    assert "Goodbye" in bye and ET.fromstring(bye)[-1].tag == "Hangup"
    ev = kinds(client, caller.sid)
    leg = next(e for e in ev if e["kind"] == "agent_leg_ended")
    assert leg["data"] == {"status": "completed", "seconds": 95}
    assert next(e for e in ev if e["kind"] == "survey_offer")["data"] == {"agreed": False, "channel": "dtmf"}
    assert not [e for e in ev if e["kind"] == "survey_started"]


def test_silence_after_the_offer_is_goodbye(client) -> None:
    caller = Caller(client, flow="shop")
    caller.start()
    caller.press("main", "1")
    offer = caller.post("/voice/queue/done", QueueResult="bridged", QueueTime="5")
    redirect = ET.fromstring(offer)[-1].text
    bye = caller.post(redirect)
    assert "Goodbye" in bye and ET.fromstring(bye)[-1].tag == "Hangup"
    offered = [e for e in kinds(client, caller.sid) if e["kind"] == "survey_offer"]
    assert offered[0]["data"] == {"agreed": False, "channel": "none"}


def test_hangup_mid_survey_keeps_the_offer_and_is_no_abandonment(client) -> None:
    caller = Caller(client, flow="shop")
    caller.start()
    caller.press("main", "1")
    offer = caller.post("/voice/queue/done", QueueResult="bridged", QueueTime="5")
    caller.post(gather(offer).get("action"), Digits="1")
    caller.post("/voice/status", CallStatus="completed")
    ev = kinds(client, caller.sid)
    ended = [e for e in ev if e["kind"] == "call_ended"][-1]["data"]
    assert ended["abandoned"] is False and ended.get("post_call") is True
    assert [e["kind"] for e in ev if e["kind"].startswith("survey_")] == ["survey_offer", "survey_started"]


def test_a_retried_done_webhook_gets_the_same_offer(client) -> None:
    caller = Caller(client, flow="shop")
    caller.start()
    caller.press("main", "1")
    first = caller.post("/voice/queue/done", QueueResult="bridged", QueueTime="5")
    again = caller.post("/voice/queue/done", QueueResult="bridged", QueueTime="5")
    assert "short survey" in first
    assert [e["kind"] for e in kinds(client, caller.sid)].count("agent_leg_ended") == 1
    assert "<Hangup" in again or "short survey" in again
