"""Every utterance ends in exactly one engine event, in bounded time (issue 9, item 1), and health says when speech is ready.

Driven through the real ``/media`` websocket with silence streamed
throughout. The recogniser is wrapped to be stuck or slow: a stuck one must
give a no-match (re-prompt) within the recognition timeout and leave the
no-input timer running; a slow one must not let a key pressed meanwhile
overtake the spoken answer.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from ivr.speech.asr.base import Hypothesis
from ivr.sim.media_client import MediaStreamClient
from ivr.web import parts
from tests.web.test_media import Live, speak, start_call, task_of, connect_twiml, turns, until
from tests.web.test_media_first_call import FLOW

pytest.importorskip("flask_sock")

TIMEOUT_S = 1.0


class Wrapped:
    """A recogniser whose sessions wait on ``gate`` (or ``delay`` seconds) before the real answer.

    Only utterances longer than warm-up's 0.1 s of silence wait, so background warm-up is not held.
    """

    def __init__(self, real: Any, gate: threading.Event | None = None, delay: float = 0.0) -> None:
        self.real, self.gate, self.delay = real, gate, delay
        self.name, self.sample_rate = real.name, real.sample_rate

    def start(self, grammar: Any) -> Any:
        return _Session(self, self.real.start(grammar))


class _Session:
    def __init__(self, owner: Wrapped, inner: Any) -> None:
        self.owner, self.inner, self.bytes = owner, inner, 0

    def accept(self, pcm: bytes) -> None:
        self.bytes += len(pcm)
        self.inner.accept(pcm)

    def finish(self) -> Hypothesis:
        if self.bytes > 16000 * 2 // 10 * 2:
            if self.owner.gate is not None:
                self.owner.gate.wait(30)
            time.sleep(self.owner.delay)
        return self.inner.finish()


@pytest.fixture
def voicefirst(make_app, flows_dir: Path) -> Iterator[Live]:
    (flows_dir / "voicefirst.yaml").write_text(FLOW)
    app = make_app(media_streams=True, secret_key="media-test-secret",
                   extra={"prompt_background": False, "recognition_timeout_s": TIMEOUT_S})
    lv = Live(app)
    yield lv
    lv.close()


def wrap(live: Live, **kw: Any) -> Wrapped:
    rt = parts(live.app).media
    rt._recognizer = Wrapped(rt.recognizer, **kw)
    return rt._recognizer


def test_a_stuck_recogniser_is_a_no_match_and_the_no_input_timer_runs_again(voicefirst: Live) -> None:
    gate = threading.Event()
    wrap(voicefirst, gate=gate)
    sid = "CA" + "c" * 32
    params = start_call(voicefirst, sid, flow="voicefirst")
    try:
        with MediaStreamClient(voicefirst.url, speed=1.0, call_sid=sid, timeout=20) as c:
            c.connect(params)
            assert until(c, lambda: "turn-1" in c.received.echoed_marks, 20)
            c.send_pcm(speak("lost card"))
            spoke = time.monotonic()
            assert until(c, lambda: turns(c) >= 2, 5), "a recognition that never came back left the caller in silence"
            assert time.monotonic() - spoke <= 0.6 + TIMEOUT_S + 1.5      # end of speech + the bound + slack
            state = parts(voicefirst.app).services.driver.state(sid)
            assert state.no_match_count == 1 and state.node == "main"
            c.speed = 0                                               # the timer counts frames: no need to wait 5 s
            assert until(c, lambda: "turn-2" in c.received.echoed_marks, 20)
            assert until(c, lambda: turns(c) >= 3, 20), "the no-input timer runs after the timed-out recognition"
        state = parts(voicefirst.app).services.driver.state(sid)
        assert state.no_input_count == 1 and parts(voicefirst.app).media.timeouts == 1
    finally:
        gate.set()


def test_a_key_pressed_during_recognition_acts_after_the_spoken_answer(voicefirst: Live) -> None:
    wrap(voicefirst, delay=1.5)
    parts(voicefirst.app).media.recognition_timeout_s = 10.0   # slow, not stuck
    sid = "CA" + "d" * 32
    params = start_call(voicefirst, sid, flow="voicefirst")
    with MediaStreamClient(voicefirst.url, speed=1.0, call_sid=sid, timeout=20) as c:
        c.connect(params)
        assert until(c, lambda: "turn-1" in c.received.echoed_marks, 20)
        c.send_pcm(speak("lost card"))
        c.send_silence(1000)                              # past the end-of-speech silence: recognition is running
        c.send_dtmf("1")                                  # in "cards" this blocks the card; in "main" it is balance
        c.speed = 0
        assert until(c, lambda: c.closed, 20)
    ctx = task_of(connect_twiml(voicefirst, sid))
    assert ctx["path"] == ["welcome", "main", "cards", "to_cards"], ctx["path"]
    assert ctx["queue"] == "cards"


def test_health_reports_speech_readiness(make_app) -> None:
    app = make_app(media_streams=True, secret_key="s", extra={"prompt_background": False})
    client = app.test_client()
    deadline = time.monotonic() + 30
    body = client.get("/api/health").get_json()
    while not body["ready"] and time.monotonic() < deadline:
        time.sleep(0.05)
        body = client.get("/api/health").get_json()
    assert body["status"] == "ok" and "acme" in body["flows"]
    assert body["ready"] is True
    speech = body["speech"]
    assert speech["ready"] is True and speech["backend"] == "pocketsphinx" and speech["error"] is None
    assert speech["grammars_warm"] >= 2                   # acme's menu and the yes/no confirmation at least


def test_health_is_ready_without_speech_streams(make_app) -> None:
    body = make_app().test_client().get("/api/health").get_json()
    assert body["status"] == "ok" and body["ready"] is True and body["speech"] is None
