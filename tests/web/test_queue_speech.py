"""Saying "call me back" while waiting in an agent queue, heard offline on a one-way stream.

A speech call transferred to a queue gets ``<Start><Stream purpose=queue>``
before ``<Enqueue>``; the media client plays Twilio; the Twilio REST API is
a recording fake; webhooks go through the signed Flask test client.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Iterator

import pytest
from twilio.rest import Client

from ivr.sim.media_client import MediaStreamClient
from ivr.web import parts
from tests.conftest import SignedClient, call_params
from tests.handoff.fakes import RecordingTwilioHttp
from tests.web.test_media import WAIT, Live, connect_twiml, speak, start_call, turns, until

pytest.importorskip("flask_sock")

ACCOUNT = "AC" + "1" * 32


class QueueLive(Live):
    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.http = RecordingTwilioHttp()
        parts(app).handoff._twilio_client = Client(ACCOUNT, "tok", http_client=self.http)

    def updates(self) -> list[dict]:
        return [r for r in self.http.requests if r["method"] == "POST" and "/Calls/" in r["url"]]


@pytest.fixture
def qlive(make_app) -> Iterator[QueueLive]:
    app = make_app(media_streams=True, secret_key="media-test-secret", queue_speech=True,
                   extra={"prompt_background": False, "twilio_account_sid": ACCOUNT})
    lv = QueueLive(app)
    yield lv
    lv.close()


def to_queue(live: Live, sid: str) -> ET.Element:
    """A speech call that says "lost card" and is transferred to the cards queue."""
    params = start_call(live, sid)
    with MediaStreamClient(live.url, speed=0, call_sid=sid, timeout=WAIT) as c:
        c.connect(params)
        assert c.wait_for(lambda: turns(c) >= 1, WAIT)
        c.send_pcm(speak("lost card"))
        assert until(c, lambda: c.closed), "the transfer closes the stream"
    return connect_twiml(live, sid)


def queue_stream(root: ET.Element) -> dict[str, str]:
    children = [el.tag for el in root]
    assert "Start" in children and "Enqueue" in children, ET.tostring(root)
    assert children.index("Start") < children.index("Enqueue")
    stream = root.find("./Start/Stream")
    assert stream is not None and stream.get("track") == "inbound_track"
    assert stream.get("url", "").endswith("/media")
    return {p.get("name"): p.get("value") for p in stream.iter("Parameter")}


def say_in_queue(live: QueueLive, params: dict[str, str], sid: str, words: str, until_update: bool) -> MediaStreamClient:
    c = MediaStreamClient(live.url, speed=0, call_sid=sid, timeout=WAIT)
    c.__enter__()
    try:
        c.connect(params)
        c.send_silence(400)
        c.send_pcm(speak(words))
        until(c, lambda: bool(live.updates()) or c.closed, WAIT if until_update else 4.0)
    finally:
        c.__exit__(None, None, None)
    return c


def test_saying_call_me_back_moves_the_caller_to_the_callback_dialogue(qlive: QueueLive) -> None:
    assert parts(qlive.app).queue_speech is True
    sid = "CA" + "7" * 32
    params = queue_stream(to_queue(qlive, sid))
    assert params["purpose"] == "queue" and params["call_sid"] == sid and params["token"]

    # The wait prompt offers the spoken choice, yet the Gather takes keys only (no cloud speech).
    wait = ET.fromstring(qlive.twilio.post("/voice/queue/wait", call_params(sid, QueuePosition="2")).data)
    gather = wait.find("./Gather")
    assert gather.get("input") == "dtmf" and gather.get("hints") is None
    assert "say callback" in ET.tostring(wait, encoding="unicode")

    c = say_in_queue(qlive, params, sid, "call me back", until_update=True)
    assert len(c.received.audio) == 0 and not c.received.marks  # nothing is ever sent back
    ups = qlive.updates()
    assert len(ups) == 1, qlive.http.requests
    assert ups[0]["url"].endswith(f"/Accounts/{ACCOUNT}/Calls/{sid}.json")
    url = ups[0]["data"]["Url"]
    assert url.endswith("/voice/queue/callback") and ups[0]["data"]["Method"] == "POST"
    state = parts(qlive.app).services.driver.state(sid)
    assert state.extra["handoff"]["leave"] == "callback"

    # Twilio fetches that URL: the callback dialogue, as after pressing 1.
    path = "/voice/queue/callback"
    root = ET.fromstring(qlive.twilio.post(path, call_params(sid)).data)
    g = root.find("./Gather")
    assert g is not None and g.get("action") == "/voice/queue/callback/confirm?tries=1", ET.tostring(root)
    assert "call you back on" in ET.tostring(root, encoding="unicode")


def test_unrelated_speech_leaves_the_caller_in_line(qlive: QueueLive) -> None:
    sid = "CA" + "8" * 32
    params = queue_stream(to_queue(qlive, sid))
    say_in_queue(qlive, params, sid, "what's the weather", until_update=False)
    assert qlive.updates() == []
    assert "leave" not in (parts(qlive.app).services.driver.state(sid).extra.get("handoff") or {})


def test_queue_stream_with_a_bad_token_is_closed(qlive: QueueLive) -> None:
    sid = "CA" + "9" * 32
    params = queue_stream(to_queue(qlive, sid))
    with MediaStreamClient(qlive.url, speed=0, call_sid=sid, timeout=WAIT) as c:
        c.connect({**params, "token": "0" * 40})
        assert c.wait_closed(WAIT)
    assert qlive.updates() == []


def test_without_an_account_sid_the_queue_takes_keys_only(make_app) -> None:
    app = make_app(media_streams=True, secret_key="media-test-secret", queue_speech=True,
                   extra={"prompt_background": False})
    assert parts(app).queue_speech is False
    lv = Live(app)
    try:
        sid = "CA" + "6" * 32
        root = to_queue(lv, sid)
        assert root.find("./Enqueue") is not None and root.find("./Start") is None, ET.tostring(root)
        wait = lv.twilio.post("/voice/queue/wait", call_params(sid, QueuePosition="1")).data.decode()
        assert "say callback" not in wait and "press 1" in wait
    finally:
        lv.close()


def test_keypad_twiml_unchanged_with_streams_off(make_app) -> None:
    app = make_app(extra={"twilio_account_sid": ACCOUNT})
    assert parts(app).queue_speech is False
    wait = SignedClient(app).post("/voice/queue/wait", call_params()).data.decode()
    assert "say callback" not in wait


def test_rest_failure_keeps_the_caller_in_line(qlive: QueueLive) -> None:
    qlive.http.answer = lambda method, url, data: (500, {"code": 20500, "message": "boom", "status": 500})
    sid = "CA" + "5" * 32
    params = queue_stream(to_queue(qlive, sid))
    say_in_queue(qlive, params, sid, "call me back", until_update=True)
    assert len(qlive.updates()) == 1                        # it tried once
    assert "leave" not in parts(qlive.app).services.driver.state(sid).extra.get("handoff", {})


def test_queue_speech_is_opt_in(make_app) -> None:
    app = make_app(media_streams=True, secret_key="s", extra={"prompt_background": False,
                                                              "twilio_account_sid": ACCOUNT})
    assert parts(app).queue_speech is False
