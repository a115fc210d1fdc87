"""Speech calls over Twilio Media Streams, end to end through a real websocket.

The app runs on a threaded werkzeug server on 127.0.0.1; the Twilio side is
played by :class:`ivr.sim.media_client.MediaStreamClient`; webhooks go
through the signed Flask test client. Every wait has a timeout.
"""

from __future__ import annotations

import json
import threading
import time
import xml.etree.ElementTree as ET
from typing import Any, Iterator

import pytest
import websocket
from werkzeug.serving import make_server

from ivr.sim.media_client import MediaStreamClient
from ivr.web import parts
from tests.conftest import AUTH_TOKEN as AUTH, SignedClient, call_params

pytest.importorskip("flask_sock")

WAIT = 20.0


class Live:
    """An app served on a real port, plus a signed client for its webhooks."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"ws://127.0.0.1:{self.server.server_port}/media"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.twilio = SignedClient(app)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def live(make_app) -> Iterator[Live]:
    app = make_app(media_streams=True, secret_key="media-test-secret", extra={"prompt_background": False})
    lv = Live(app)
    yield lv
    lv.close()


def start_call(live: Live, sid: str, flow: str = "acme") -> dict[str, str]:
    root = ET.fromstring(live.twilio.post(f"/voice?flow={flow}", call_params(sid)).data)
    stream = root.find("./Connect/Stream")
    assert stream is not None, ET.tostring(root)
    return {p.get("name"): p.get("value") for p in stream.iter("Parameter")}


def speak(text: str, voice: str = "flite:kal") -> bytes:
    from ivr.speech.synth import synthesize
    return synthesize(text, voice, lead_ms=200, trail_ms=100)


def turns(client: MediaStreamClient) -> int:
    return sum(1 for m in client.received.marks if m.startswith("turn-"))


def until(client: MediaStreamClient, pred, seconds: float = WAIT) -> bool:
    """Stream silence (Twilio never stops sending) until ``pred()`` or timeout.

    The server may close the socket between the look at ``closed`` and the next send (the call
    ended): that send failing is the end of the stream, not an error of the test.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pred() or client.closed:
            return bool(pred())
        try:
            client.send_silence(100)
        except (OSError, websocket.WebSocketException):
            client.wait_closed(2)
            return bool(pred())
        time.sleep(0.005)
    return bool(pred())


def connect_twiml(live: Live, sid: str) -> ET.Element:
    resp = live.twilio.post("/voice/connect", call_params(sid))
    assert resp.status_code == 200
    return ET.fromstring(resp.data)


def task_of(root: ET.Element) -> dict:
    el = root.find("./Enqueue/Task")
    assert el is not None, ET.tostring(root)
    return json.loads(el.text)


# -- TwiML ----------------------------------------------------------------------

def test_speech_flow_answers_connect_stream(make_app) -> None:
    app = make_app(media_streams=True, public_url="https://ivr.example.com", secret_key="s")
    client = SignedClient(app, base="https://ivr.example.com")
    sid = "CA" + "a" * 32
    root = ET.fromstring(client.post("/voice?flow=acme", call_params(sid)).data)
    connect = root.find("Connect")
    assert connect is not None and connect.get("action") == "/voice/connect"
    stream = connect.find("Stream")
    assert stream.get("url") == "wss://ivr.example.com/media"          # wss, no query string
    params = {p.get("name"): p.get("value") for p in stream.iter("Parameter")}
    assert params["call_sid"] == sid and len(params["token"]) >= 32
    state = parts(app).services.driver.state(sid)
    assert state is not None and state.node == "main"                  # the call started at /voice
    # Keypad flows keep plain TwiML; so does everything without media streams on.
    assert ET.fromstring(client.post("/voice?flow=support", call_params("CA" + "b" * 32)).data).find("Gather") is not None


def test_media_streams_off_keeps_keypad_twiml(twilio) -> None:
    root = ET.fromstring(twilio.post("/voice?flow=acme", call_params()).data)
    assert root.find("Gather") is not None and root.find("Connect") is None


def test_ws_scheme_only_for_plain_http(make_app) -> None:
    app = make_app(media_streams=True, public_url="http://127.0.0.1:5000", secret_key="s")
    client = SignedClient(app, base="http://127.0.0.1:5000")
    root = ET.fromstring(client.post("/voice?flow=acme", call_params()).data)
    assert root.find("./Connect/Stream").get("url") == "ws://127.0.0.1:5000/media"


def test_connect_action_must_be_signed(live: Live) -> None:
    assert live.twilio.post("/voice/connect", call_params(), sign=False).status_code == 403


# -- the dialogue over the stream ---------------------------------------------------

def test_spoken_choice_transfers_with_transcript(live: Live) -> None:
    sid = "CA" + "1" * 32
    params = start_call(live, sid)
    tap = parts(live.app).voice_tap
    with tap.subscribe(sid) as sub, MediaStreamClient(live.url, speed=0, call_sid=sid, timeout=WAIT) as c:
        c.connect(params)
        assert c.wait_for(lambda: turns(c) >= 1, WAIT)
        assert len(c.received.audio) > 8000                      # the welcome and menu prompts were played
        c.send_pcm(speak("lost card"))
        assert until(c, lambda: c.closed), "the transfer closes the stream"
        assert len(sub.drain()) >= 320 * 10                       # the tap heard the caller's voiced frames
        assert tap.recent(sid)
    ctx = task_of(connect_twiml(live, sid))
    assert ctx["queue"] == "cards" and ctx["reason"] == "lost_card"
    said = [t for t in ctx["transcript"] if t.get("text")]
    assert said and said[0]["text"] == "lost card" and 0 < said[0]["confidence"] <= 1


def test_key_over_the_stream(live: Live) -> None:
    sid = "CA" + "2" * 32
    params = start_call(live, sid)
    with MediaStreamClient(live.url, speed=0, call_sid=sid, timeout=WAIT) as c:
        c.connect(params)
        assert c.wait_for(lambda: turns(c) >= 1, WAIT)
        c.send_dtmf("1")
        assert until(c, lambda: c.closed)                          # balance, then goodbye: the call ends
        assert turns(c) == 2
    root = connect_twiml(live, sid)
    assert root.find("Hangup") is not None
    state = parts(live.app).services.driver.state(sid)
    assert state.path[-2:] == ["balance", "bye"]


def test_escalation_by_voice(live: Live) -> None:
    sid = "CA" + "3" * 32
    params = start_call(live, sid)
    with MediaStreamClient(live.url, speed=0, call_sid=sid, timeout=WAIT) as c:
        c.connect(params)
        assert c.wait_for(lambda: turns(c) >= 1, WAIT)
        c.send_pcm(speak("representative", "flite:slt"))
        assert until(c, lambda: c.closed)
    ctx = task_of(connect_twiml(live, sid))
    assert ctx["reason"] == "caller_request" and ctx["queue"] == "general"


def test_barge_in_sends_clear(live: Live) -> None:
    sid = "CA" + "4" * 32
    params = start_call(live, sid)
    # Real-time playback: the prompts take seconds to "play", so the caller talks over them.
    with MediaStreamClient(live.url, speed=1.0, call_sid=sid, timeout=WAIT) as c:
        c.connect(params)
        assert c.wait_for_audio(1, WAIT)
        # Talk at real-time pace too: a faster pace would also "play" the prompts at once, echo
        # their marks, and leave nothing to interrupt.
        c.send_pcm(speak("lost card"))
        assert c.wait_for(lambda: c.received.clears >= 1, 5), "speech during a prompt clears it"
        c.speed = 0  # the rest of the call as fast as it goes; the server counts frames, not seconds
        assert until(c, lambda: c.closed)
    assert task_of(connect_twiml(live, sid))["reason"] == "lost_card"


class HeldMarks(MediaStreamClient):
    """A client whose "playback" never finishes until released: marks stay pending."""

    hold = True

    def _echo_mark_locked(self, name: str) -> None:
        if self.hold:
            self.held = getattr(self, "held", []) + [name]
            return
        super()._echo_mark_locked(name)


def test_no_input_timer_starts_when_the_mark_returns(live: Live) -> None:
    sid = "CA" + "5" * 32
    params = start_call(live, sid)
    with HeldMarks(live.url, speed=0, call_sid=sid, timeout=WAIT) as c:
        c.connect(params)
        assert c.wait_for(lambda: "turn-1" in c.received.marks, WAIT)
        c.send_silence(8000)                         # 8 s of silence while the prompt is still playing
        time.sleep(0.3)
        assert turns(c) == 1, "no re-prompt before the prompt's mark came back"
        with c._cond:
            c.hold = False
            for name in c.held:
                c._echo_mark_locked(name)
        c.send_silence(4000)                         # 4 s after the mark: still within the 5 s timeout
        time.sleep(0.3)
        assert turns(c) == 1
        assert until(c, lambda: turns(c) >= 2, WAIT)   # then the no-input re-prompt
    state = parts(live.app).services.driver.state(sid)
    assert state.no_input_count == 1 and state.node == "main"


def test_bad_token_closes_the_socket(live: Live) -> None:
    sid = "CA" + "6" * 32
    params = start_call(live, sid)
    with MediaStreamClient(live.url, speed=0, call_sid=sid, timeout=5) as c:
        c.connect({**params, "token": "0" * 40})
        assert c.wait_closed(5)
        assert not c.received.audio
    other = "CA" + "7" * 32                           # a valid token for another call
    with MediaStreamClient(live.url, speed=0, call_sid=other, timeout=5) as c:
        c.connect({**params, "call_sid": other})
        assert c.wait_closed(5)
    assert parts(live.app).media.refused == 2


def test_drop_mid_dialogue_then_action_reaches_a_person(live: Live) -> None:
    sid = "CA" + "8" * 32
    params = start_call(live, sid)
    c = MediaStreamClient(live.url, speed=0, call_sid=sid, timeout=WAIT)
    c.connect(params)
    assert c.wait_for(lambda: turns(c) >= 1, WAIT)
    c.close()                                         # no stop: the socket just went
    svc = parts(live.app).services
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not svc.driver.state(sid).ended:
        time.sleep(0.05)
    assert svc.driver.state(sid).ended                # CallerHungUp recorded
    ctx = task_of(connect_twiml(live, sid))           # ...yet Twilio says the caller is there
    assert ctx["path"][:2] == ["welcome", "main"]


def test_stop_records_hangup(live: Live) -> None:
    sid = "CA" + "9" * 32
    params = start_call(live, sid)
    with MediaStreamClient(live.url, speed=0, call_sid=sid, timeout=WAIT) as c:
        c.connect(params)
        assert c.wait_for(lambda: turns(c) >= 1, WAIT)
        c.send_stop()
        assert c.wait_closed(5)
    state = parts(live.app).services.driver.state(sid)
    assert state.ended and state.end_reason == "caller_hangup"


def test_media_streams_on_by_default_for_speech_flows(tmp_path, flows_dir) -> None:
    from ivr.web import create_app

    app = create_app({"flows_dir": str(flows_dir), "instance_dir": str(tmp_path / "i"), "auth_token": AUTH,
                      "audio_dir": str(tmp_path / "a"), "public_url": "https://ivr.example.com"})
    try:
        client = SignedClient(app, base="https://ivr.example.com")
        root = ET.fromstring(client.post("/voice?flow=acme", call_params()).data)
        assert root.find("./Connect/Stream").get("url") == "wss://ivr.example.com/media"
    finally:
        parts(app).services.close()


STUCK_FLOW = """\
flow: stuck
start: main
settings: {speech: true}
nodes:
  main:
    menu:
      prompt: Press 1 to check.
      options:
        - key: "1"
          goto: lookup
  lookup:
    action: {hook: stuck, timeout: 30, outcomes: {ok: bye}}
  bye:
    hangup: Goodbye.
"""


def test_slow_hook_over_the_stream_reaches_a_person_within_the_deadline(make_app, flows_dir) -> None:
    """The stream plays audio, not TwiML: the turn deadline alone ends a stuck hook, then a person."""
    release = threading.Event()
    app = make_app(media_streams=True, secret_key="media-test-secret", extra={"prompt_background": False},
                   turn_deadline=1.5)
    parts(app).services.hooks.register("stuck", lambda call: release.wait(60) and "ok")
    (flows_dir / "stuck.yaml").write_text(STUCK_FLOW)
    live = Live(app)
    try:
        sid = "CA" + "c" * 32
        params = start_call(live, sid, flow="stuck")
        with MediaStreamClient(live.url, speed=0, call_sid=sid, timeout=WAIT) as c:
            c.connect(params)
            assert c.wait_for(lambda: turns(c) >= 1, WAIT)
            t0 = time.monotonic()
            c.send_dtmf("1")
            assert c.wait_closed(10)                           # the stream ends for the transfer...
            assert time.monotonic() - t0 < 1.5 + 2.0           # ...within the turn deadline
        ctx = task_of(connect_twiml(live, sid))
        assert ctx["reason"] == "hook_failed" and ctx["results"]["lookup"] == "timeout"
    finally:
        release.set()
        live.close()


SLOW_FLOW = STUCK_FLOW.replace("flow: stuck", "flow: slow").replace("hook: stuck, timeout: 30", "hook: slow, timeout: 6")


def test_a_slow_hook_over_the_stream_plays_the_holding_phrase_instead_of_silence(make_app, flows_dir) -> None:
    """A turn still running after IVR_HOLD_AFTER: "One moment, please." on the stream, then the answer."""
    app = make_app(media_streams=True, secret_key="media-test-secret", extra={"prompt_background": False},
                   hold_after=0.5)
    parts(app).services.hooks.register("slow", lambda call: time.sleep(1.8) or "ok")
    (flows_dir / "slow.yaml").write_text(SLOW_FLOW)
    live = Live(app)
    try:
        sid = "CA" + "d" * 32
        params = start_call(live, sid, flow="slow")
        with MediaStreamClient(live.url, speed=0, call_sid=sid, timeout=WAIT) as c:
            c.connect(params)
            assert c.wait_for(lambda: turns(c) >= 1, WAIT)
            before = len(c.received.audio)
            t0 = time.monotonic()
            c.send_dtmf("1")
            assert c.wait_for(lambda: len(c.received.audio) > before, 1.5), "silence while the hook ran"
            heard_at = time.monotonic() - t0
            assert 0.4 < heard_at < 1.3 and turns(c) == 1, "the phrase comes while the hook still runs"
            time.sleep(0.4)                                      # the whole phrase is sent at once
            hold_bytes = len(c.received.audio) - before
            assert turns(c) == 1 and until(c, lambda: c.closed)                    # the hook's answer: goodbye, the call ends
            assert turns(c) == 2
        assert hold_bytes >= 8000 * 0.5, "a spoken phrase, not a click"
        assert parts(app).media.stats()["holds"] == 1
        assert connect_twiml(live, sid).find("Hangup") is not None
    finally:
        live.close()
