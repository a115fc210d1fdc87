"""A survey answered by voice over a Twilio Media Stream, at real-time pace, with silence streamed between.

The caller says "rate", then "four", "seven", "nine", "yes" (phone-line synthetic speech); each answer
is recognised with the question's own grammar and stored as a survey answer. The nps question also
takes two keys ended by ``#`` over the stream.

Measured while writing this (not hidden here, reported with the speech accuracy issue): pocketsphinx
hears a bare "six" from these voices at confidence ~0.1 (so it is asked again) and once as "eight";
the words used below are ones it hears; the survey's re-ask and "unanswered" paths are tested in
tests/engine/test_survey.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ivr.sim.media_client import MediaStreamClient
from ivr.web import parts
from tests.web.test_media import WAIT, Live, speak, start_call, turns, until

pytest.importorskip("flask_sock")

FEEDBACK = Path(__file__).resolve().parents[1] / "calls" / "survey" / "flows" / "feedback.yaml"


@pytest.fixture
def live(make_app, flows_dir) -> Live:
    shutil.copy(FEEDBACK, flows_dir / "feedback.yaml")
    app = make_app(media_streams=True, secret_key="media-test-secret", extra={"prompt_background": False})
    lv = Live(app)
    yield lv
    lv.close()


def _answers(live: Live, sid: str) -> dict:
    events = parts(live.app).services.store.events(sid)
    return {e["data"]["question"]: (e["data"]["value"], e["data"]["channel"]) for e in events
            if e["kind"] == "survey_answer"}


def test_a_survey_answered_by_voice_over_the_stream(live: Live) -> None:
    sid = "CA" + "5" * 32
    params = start_call(live, sid, flow="feedback")
    with MediaStreamClient(live.url, speed=1.0, call_sid=sid, timeout=WAIT) as c:
        c.connect(params)
        assert until(c, lambda: turns(c) >= 1)
        for n, said in enumerate(("rate", "four", "seven", "nine", "yes"), start=2):
            c.send_silence(300)
            c.send_pcm(speak(said))
            assert until(c, lambda: turns(c) >= n), f"no answer after {said!r}"
        assert until(c, lambda: c.closed), "thanks and goodbye, then the call ends"
    assert _answers(live, sid) == {"csat": (4, "speech"), "effort": (7, "speech"), "nps": (9, "speech"),
                                   "solved": (True, "speech")}


def test_nps_by_two_keys_over_the_stream(live: Live) -> None:
    sid = "CA" + "6" * 32
    params = start_call(live, sid, flow="feedback")
    with MediaStreamClient(live.url, speed=0, call_sid=sid, timeout=WAIT) as c:
        c.connect(params)
        assert until(c, lambda: turns(c) >= 1)
        for n, keys in enumerate(("1", "5", "7", "10#", "2"), start=2):
            for k in keys:
                c.send_dtmf(k)
            assert until(c, lambda: turns(c) >= n), f"no answer after {keys!r}"
    assert _answers(live, sid) == {"csat": (5, "dtmf"), "effort": (7, "dtmf"), "nps": (10, "dtmf"),
                                   "solved": (False, "dtmf")}
