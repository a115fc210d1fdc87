"""Passive voice authentication over the real ``/media`` websocket, checked in the records and the packet.

A consenting caller enrols; on the next call the same voice is verified
while saying what they need (no extra prompt) and routed by ``auth.status``;
an impostor with the same caller ID is stepped up to the PIN and, failing
it, routed to the security team; a caller who declines has nothing stored; a
recording of an earlier call played back is flagged; ``DELETE`` erases the
voiceprint and the consent. The caller's audio is streamed at real-time pace,
with silence between turns, as Twilio does.
"""

from __future__ import annotations

import json
import os
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterator

import pytest

from ivr.bench.speakers import Voice, speak
from ivr.sim.media_client import MediaStreamClient
from ivr.web import parts
from tests.conftest import API_TOKEN, call_params
from tests.web.test_media import Live

ROOT = Path(__file__).resolve().parents[2]
CACHE = os.environ.get("IVR_SPEECH_CACHE") or str(ROOT / ".cache" / "speech")
WAIT = 60.0
BEARER = {"Authorization": f"Bearer {API_TOKEN}"}
KAL = Voice("kal", "flite", "kal")
SLT = Voice("slt", "flite", "slt")
RMS = Voice("rms", "flite", "rms")
ALICE, BOB = "+15551230000", "+15551230001"


@pytest.fixture
def live(make_app, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    monkeypatch.setenv("IVR_SPEECH_CACHE", CACHE)
    monkeypatch.setenv("IVR_MODELS_DIR", str(ROOT / "models"))
    app = make_app(media_streams=True, secret_key="voice-auth-secret-0123", voice_auth="embedded",
                   voice_auth_explicit=True, extra={"prompt_background": False})
    lv = Live(app)
    yield lv
    lv.close()


def say(voice: Voice, words: str) -> bytes:
    return b"\x00\x00" * 1600 + speak(voice, words, snr_db=30, seed=len(words)) + b"\x00\x00" * 1600


class Call:
    """One streamed call of the secure flow: Twilio's side at real-time pace, the call's state to check."""

    def __init__(self, live: Live, sid: str, caller: str) -> None:
        self.live, self.sid = live, sid
        root = ET.fromstring(live.twilio.post("/voice?flow=secure", call_params(sid, From=caller)).data)
        stream = root.find("./Connect/Stream")
        assert stream is not None, ET.tostring(root)
        self.params = {p.get("name"): p.get("value") for p in stream.iter("Parameter")}
        self.client = MediaStreamClient(live.url, speed=1.0, call_sid=sid, timeout=WAIT)

    def __enter__(self) -> "Call":
        self.client.__enter__()
        self.client.connect(self.params)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.client.__exit__(*exc)

    def state(self) -> Any:
        return parts(self.live.app).services.driver.state(self.sid)

    def listening_at(self, node: str, seconds: float = WAIT) -> bool:
        """Stream silence until the call listens at ``node`` with its prompt played out."""
        c = self.client
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not c.closed:
            st = self.state()
            marks = [m for m in c.received.marks if m.startswith("turn-")]
            if st is not None and st.node == node and st.waiting and marks and marks[-1] in c.received.echoed_marks:
                return True
            c.send_silence(100)
        return False

    def ended(self, seconds: float = WAIT) -> bool:
        """Stream silence until the server ends the stream (the call left the IVR)."""
        c = self.client
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not c.closed:
            try:
                c.send_silence(100)
            except OSError:     # the server closed the socket between our check and the send
                return True
        return c.closed

    def keys(self, digits: str) -> None:
        for d in digits:
            self.client.send_dtmf(d)
            self.client.send_silence(100)


def task(live: Live, sid: str) -> dict:
    root = ET.fromstring(live.twilio.post("/voice/connect", call_params(sid)).data)
    el = root.find("./Enqueue/Task")
    assert el is not None, ET.tostring(root)
    return json.loads(el.text)


def events(live: Live, sid: str) -> list[dict]:
    return live.app.test_client().get(f"/api/calls/{sid}/events", headers=BEARER).json["events"]


def test_voice_authentication_journeys_over_the_media_stream(live: Live) -> None:
    api = live.app.test_client()
    auth = parts(live.app).services.driver.voice_auth.authenticator
    payment = say(KAL, "yes hello, I would like to make a payment please")

    # 1. A consenting caller enrols: consent, a few sentences, a voiceprint.
    with Call(live, "CA" + "a1" * 16, ALICE) as call:
        assert call.listening_at("main")
        call.client.send_pcm(say(KAL, "I would like to check the balance of my account please"))
        assert call.listening_at("offer")                      # not enrolled yet: asked for consent
        call.keys("1")
        assert call.listening_at("offer")                      # consent given: "tell me in a sentence or two"
        call.client.send_pcm(say(KAL, "I moved house last month and I need to change my address. There is also "
                                      "a charge on my statement that I do not recognise, from a shop I have "
                                      "never visited."))
        assert call.listening_at("pin")
        call.keys("4321")
        assert call.ended()
    shown = api.get(f"/api/voiceprints/{ALICE}", headers=BEARER)
    assert shown.status_code == 200, [e for e in events(live, "CA" + "a1" * 16) if e["kind"] in ("enroll", "consent")]
    body = shown.json
    assert body["engine"] == "embedded" and body["net_speech_s"] >= 8 and body["enrolled_at"]
    assert body["consent"]["wording"].startswith("May we keep a voiceprint") and body["consent"]["flow"] == "secure"
    assert body["consent"]["channel"] == "dtmf" and body["consent"]["given_at"]
    assert api.get(f"/api/voiceprints/{ALICE}").status_code == 401             # bearer token required

    # 2. The next call: verified while saying what they need, no extra prompt; routed by auth.status.
    sid = "CA" + "a2" * 16
    with Call(live, sid, ALICE) as call:
        assert call.listening_at("main")
        call.client.send_pcm(payment)
        assert call.ended()
        st = call.state()
    assert st.auth["method"] == "voice" and st.auth["status"] == "verified", st.auth
    assert st.path[-3:] == ["verified", "by_voice", "bye"] and "pin" not in st.path
    ctx = api.get(f"/api/calls/{sid}/context", headers=BEARER).json
    assert ctx["auth"]["status"] == "verified" and ctx["auth"]["score"] is not None and ctx["auth"]["net_speech_s"] > 1
    assert not any(e["kind"] == "auth" and "audio" in json.dumps(e) for e in events(live, sid))

    # 3. An impostor with the same caller ID: stepped up to the PIN, and without it, the security team.
    sid = "CA" + "a3" * 16
    with Call(live, sid, ALICE) as call:
        assert call.listening_at("main")
        call.client.send_pcm(say(SLT, "I would like to check the balance of my account please"))
        assert call.listening_at("pin")
        assert call.state().auth["status"] in ("rejected", "inconclusive")
        call.keys("1111")
        assert call.ended()
    packet = task(live, sid)
    assert packet["queue"] == "security" and packet["reason"] == "auth_failed"
    assert packet["auth"]["method"] == "pin" and packet["auth"]["status"] == "rejected"
    assert "1111" not in json.dumps(packet)                                      # the PIN was sensitive

    # 4. A recording of call 2 played back: flagged, not verified.
    sid = "CA" + "a4" * 16
    with Call(live, sid, ALICE) as call:
        assert call.listening_at("main")
        call.client.send_pcm(payment)
        assert call.listening_at("pin")
        st = call.state()
    assert st.auth["status"] == "rejected" and st.auth.get("replay") is True, st.auth

    # 5. A caller who declines: nothing is stored. Their PIN, said aloud, never reaches the voice tap (PCI).
    sid = "CA" + "a5" * 16
    tap = parts(live.app).voice_tap
    with Call(live, sid, BOB) as call:
        assert call.listening_at("main")
        call.client.send_pcm(say(RMS, "I would like to check the balance of my account please"))
        assert call.listening_at("offer")
        call.keys("2")
        assert call.listening_at("pin")
        with tap.subscribe(sid) as sub:
            call.client.send_pcm(say(RMS, "one two three four"))
            assert call.ended()
            assert sub.drain() == b"" and tap.recent(sid) == b""
    ctx = api.get(f"/api/calls/{sid}/context", headers=BEARER).json
    assert ctx["auth"]["method"] == "pin" and ctx["auth"]["status"] == "verified"     # his spoken PIN was right
    assert "1234" not in json.dumps(ctx) and "one two three four" not in json.dumps(ctx)
    assert api.get(f"/api/voiceprints/{BOB}", headers=BEARER).status_code == 404
    assert auth.store.consent(BOB) is None and auth.store.load(BOB) is None

    # 6. DELETE erases the voiceprint and the consent; the audit trail stays, with no audio.
    assert api.delete(f"/api/voiceprints/{ALICE}", headers=BEARER).status_code == 204
    assert api.get(f"/api/voiceprints/{ALICE}", headers=BEARER).status_code == 404
    assert api.delete(f"/api/voiceprints/{ALICE}", headers=BEARER).status_code == 404
    assert auth.store.consent(ALICE) is None and auth.enrolled(ALICE) is None
    assert [r.decision for r in auth.store.audit_trail(ALICE)][:3] == ["verified", "rejected", "rejected"]
    assert parts(live.app).services.driver.voice_auth.held_s() == 0.0           # no raw audio kept
