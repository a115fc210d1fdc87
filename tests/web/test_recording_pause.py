"""PCI: a recorded flow's recording pauses while the caller gives a secret, and resumes after.

Signed webhooks through the Flask test client; Twilio's REST API is a
recording fake (tests/handoff/fakes.py), so the order of recording requests
relative to the questions the caller hears is checked exactly.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from twilio.rest import Client

from ivr.web import parts
from tests.conftest import API_TOKEN, SignedClient, call_params
from tests.handoff.fakes import RecordingTwilioHttp

ACCOUNT = "AC" + "2" * 32
SID = "CA" + "7" * 32

FLOW = """\
flow: pay
start: main
settings: {record: true, speech: false}
nodes:
  main:
    menu:
      prompt: Press 1 to pay a bill.
      options:
        - {key: "1", goto: account}
  account:
    ask:
      slot: account
      prompt: Enter your account number.
      input: digits
      min_length: 6
      max_length: 6
    next: card
  card:
    ask:
      slot: card
      prompt: Enter your card number, then press hash.
      input: digits
      min_length: 12
      max_length: 19
      sensitive: true
    next: zip
  zip:
    ask:
      slot: zip
      prompt: Enter your billing zip code.
      input: digits
      min_length: 5
      max_length: 5
    next: person
  person:
    transfer:
      queue: general
      reason: payment
"""


def _answer(fail: set[str]):
    def answer(method: str, url: str, data: dict) -> tuple[int, dict]:
        status = data.get("Status", "start")
        if status in fail:
            return 400, {"code": 21220, "message": "Invalid call state", "status": 400}
        return 201 if status == "start" else 200, {"sid": "RE" + "1" * 32, "call_sid": SID, "status":
                                                   "in-progress" if status == "start" else status,
                                                   "account_sid": ACCOUNT}
    return answer


class Recorded:
    """An app with the pay flow, a public URL and a recording fake of Twilio's REST API."""

    def __init__(self, make_app: Any, flows_dir: Path, fail: set[str] = frozenset(), flow: str = FLOW) -> None:
        (flows_dir / "pay.yaml").write_text(flow)
        self.app = make_app(public_url="https://ivr.example.com",
                            extra={"twilio_account_sid": ACCOUNT, "prompt_background": False})
        self.http = RecordingTwilioHttp(_answer(set(fail)))
        parts(self.app).handoff._twilio_client = Client(ACCOUNT, "tok", http_client=self.http)
        self.twilio = SignedClient(self.app, base="https://ivr.example.com")
        self.log: list[str] = []   # what happened, in order: "heard: ..." and "rest: ..."
        self.seen = 0

    def _rest(self) -> None:
        for r in self.http.requests[self.seen:]:
            what = r["data"].get("Status") or "start"
            assert r["url"].startswith(f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls/{SID}/"
                                       f"Recordings"), r["url"]
            self.log.append(f"rest: {what}")
        self.seen = len(self.http.requests)

    def post(self, path: str, **params: str) -> ET.Element:
        resp = self.twilio.post(path, call_params(SID, **params))
        assert resp.status_code == 200, resp.data
        self._rest()
        root = ET.fromstring(resp.data)
        self.log += [f"heard: {el.text}" for el in root.iter("Say")]
        return root

    def action(self, root: ET.Element) -> str:
        gather = root.find("Gather")
        assert gather is not None, ET.tostring(root)
        return gather.get("action").removeprefix("https://ivr.example.com")

    def events(self) -> list[dict]:
        resp = self.twilio.get(f"/api/calls/{SID}/events", headers={"Authorization": f"Bearer {API_TOKEN}"})
        return resp.json["events"] if isinstance(resp.json, dict) else resp.json


@pytest.fixture
def rec(make_app, flows_dir) -> Recorded:
    return Recorded(make_app, flows_dir)


def test_recording_pauses_before_the_card_number_is_asked_and_resumes_after(rec: Recorded) -> None:
    root = rec.post("/voice?flow=pay")
    assert rec.log == ["heard: Press 1 to pay a bill."], "no recording before the call is answered"
    root = rec.post(rec.action(root), Digits="1")
    root = rec.post(rec.action(root), Digits="123456")
    root = rec.post(rec.action(root), Digits="4111111111111111")
    root = rec.post(rec.action(root), Digits="94107")
    assert rec.log == [
        "heard: Press 1 to pay a bill.",
        "rest: start",                      # the first answer: the call is in progress
        "heard: Enter your account number.",
        "rest: paused",                     # before the secret is even asked...
        "heard: Enter your card number, then press hash.",
        "rest: in-progress",                # ...and back on once it is in
        "heard: Enter your billing zip code.",
    ], rec.log
    start, pause, resume = rec.http.requests
    assert start["data"]["RecordingChannels"] == "dual"
    assert start["data"]["RecordingStatusCallback"] == "https://ivr.example.com/voice/recording"
    assert pause["url"].endswith("/Recordings/Twilio.CURRENT.json") and pause["data"]["PauseBehavior"] == "skip"
    assert root.find("Enqueue") is not None, "the agent leg is recorded: no pause left on"
    statuses = [e["data"]["status"] for e in rec.events() if e["kind"] == "recording"]
    assert statuses == ["recording", "paused", "recording"]


def test_a_secret_asked_first_is_never_recorded_the_recording_starts_after_it(make_app, flows_dir) -> None:
    account = FLOW[FLOW.index("  account:"):FLOW.index("  card:")]
    rec = Recorded(make_app, flows_dir, flow=FLOW.replace("goto: account", "goto: card").replace(account, ""))
    root = rec.post("/voice?flow=pay")
    root = rec.post(rec.action(root), Digits="1")
    root = rec.post(rec.action(root), Digits="4111111111111111")
    assert rec.log == ["heard: Press 1 to pay a bill.", "heard: Enter your card number, then press hash.",
                       "rest: start", "heard: Enter your billing zip code."], rec.log


def test_the_recording_status_callback_is_kept_with_the_call(rec: Recorded) -> None:
    root = rec.post("/voice?flow=pay")
    rec.post(rec.action(root), Digits="1")
    resp = rec.twilio.post("/voice/recording", call_params(
        SID, RecordingSid="RE" + "1" * 32, RecordingStatus="completed", RecordingDuration="42",
        RecordingChannels="2", RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE1"))
    assert resp.status_code == 200
    done = [e for e in rec.events() if e["kind"] == "recording_completed"]
    assert done and done[0]["data"]["seconds"] == 42 and done[0]["data"]["recording"] == "RE" + "1" * 32
    assert rec.twilio.post("/voice/recording", call_params(SID), sign=False).status_code == 403


def test_a_recording_that_cannot_be_paused_is_stopped_before_the_secret_is_asked(make_app, flows_dir) -> None:
    rec = Recorded(make_app, flows_dir, fail={"paused"})
    root = rec.post("/voice?flow=pay")
    root = rec.post(rec.action(root), Digits="1")
    root = rec.post(rec.action(root), Digits="123456")
    assert rec.log[3:] == ["rest: paused", "rest: stopped",
                           "heard: Enter your card number, then press hash."], rec.log
    root = rec.post(rec.action(root), Digits="4111111111111111")
    assert rec.log[-1] == "heard: Enter your billing zip code.", "a stopped recording is never restarted"
    assert [r["data"].get("Status") for r in rec.http.requests] == [None, "paused", "stopped"]


def test_when_the_recording_can_be_neither_paused_nor_stopped_the_caller_goes_to_a_person(make_app,
                                                                                          flows_dir) -> None:
    rec = Recorded(make_app, flows_dir, fail={"paused", "stopped"})
    root = rec.post("/voice?flow=pay")
    root = rec.post(rec.action(root), Digits="1")
    root = rec.post(rec.action(root), Digits="123456")
    assert root.find("Enqueue") is not None, ET.tostring(root)
    assert not any("card number" in line for line in rec.log), "the secret is never asked while recording"


def test_a_recording_that_cannot_start_leaves_the_call_unharmed(make_app, flows_dir) -> None:
    rec = Recorded(make_app, flows_dir, fail={"start"})
    root = rec.post("/voice?flow=pay")
    root = rec.post(rec.action(root), Digits="1")
    root = rec.post(rec.action(root), Digits="123456")
    assert rec.log[-1] == "heard: Enter your card number, then press hash."
    root = rec.post(rec.action(root), Digits="4111111111111111")
    assert rec.log[-1] == "heard: Enter your billing zip code."
    assert len(rec.http.requests) == 1, "nothing to pause or resume: no recording exists"
    assert [e["data"]["status"] for e in rec.events() if e["kind"] == "recording"] == ["failed"]


def test_flows_without_record_make_no_recording_requests(make_app) -> None:
    app = make_app(public_url="https://ivr.example.com", extra={"twilio_account_sid": ACCOUNT})
    http = RecordingTwilioHttp()
    parts(app).handoff._twilio_client = Client(ACCOUNT, "tok", http_client=http)
    twilio = SignedClient(app, base="https://ivr.example.com")
    root = ET.fromstring(twilio.post("/voice?flow=bank", call_params(SID)).data)
    action = root.find("Gather").get("action").removeprefix("https://ivr.example.com")
    twilio.post(action, call_params(SID, Digits="1"))
    assert http.requests == []


def test_over_the_media_stream_the_recording_pauses_for_the_card_number_too(make_app, flows_dir) -> None:
    """A speech call on ``<Connect><Stream>``: the driver's turns run from the socket, with the same pauses."""
    pytest.importorskip("flask_sock")
    from ivr.sim.media_client import MediaStreamClient
    from tests.web.test_media import WAIT, Live, start_call, turns, until

    (flows_dir / "pay.yaml").write_text(FLOW.replace("speech: false", "speech: true"))
    app = make_app(media_streams=True, secret_key="media-test-secret",
                   extra={"prompt_background": False, "twilio_account_sid": ACCOUNT})
    http = RecordingTwilioHttp(_answer(set()))
    parts(app).handoff._twilio_client = Client(ACCOUNT, "tok", http_client=http)
    live = Live(app)
    try:
        params = start_call(live, SID, flow="pay")
        with MediaStreamClient(live.url, speed=0, call_sid=SID, timeout=WAIT) as c:
            c.connect(params)
            assert c.wait_for(lambda: turns(c) >= 1, WAIT)
            c.send_dtmf("1")
            assert until(c, lambda: turns(c) >= 2)
            for d in "123456":
                c.send_dtmf(d)
            assert until(c, lambda: turns(c) >= 3)                  # the card number question is out...
            assert [r["data"].get("Status") for r in http.requests] == [None, "paused"]   # ...after the pause
            for d in "4111111111111111#":
                c.send_dtmf(d)
            assert until(c, lambda: turns(c) >= 4)
            assert [r["data"].get("Status") for r in http.requests] == [None, "paused", "in-progress"]
        state = parts(app).services.driver.state(SID)
        assert state.extra["recording"] == "recording" and "4111" not in state.model_dump_json()
    finally:
        live.close()
