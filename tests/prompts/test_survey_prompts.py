"""`prompts build` renders every phrase a survey can speak, as the engine speaks it."""

from __future__ import annotations

from pathlib import Path

from ivr.engine import CallStarted, DigitsReceived, NoInput, Play, step
from ivr.flow import load_flow
from ivr.prompts.catalog import flow_prompts

FEEDBACK = Path(__file__).resolve().parents[1] / "calls" / "survey" / "flows" / "feedback.yaml"


def test_every_survey_phrase_the_engine_plays_is_in_the_catalogue() -> None:
    flow = load_flow(FEEDBACK).flow
    catalogued = {(e.node, e.text) for e in flow_prompts(flow)}
    state, played = None, []
    for ev in (CallStarted("CA1", at=1.0), DigitsReceived("1", at=2.0), DigitsReceived("9", at=3.0),
               NoInput(at=4.0), NoInput(at=5.0), NoInput(at=6.0), DigitsReceived("11", at=7.0),
               DigitsReceived("5", at=8.0), DigitsReceived("3", at=9.0), DigitsReceived("1", at=10.0)):
        state, actions = step(flow, state, ev)
        played += [(a.node, a.text) for a in actions if isinstance(a, Play)]
    survey = [p for p in played if p[0] == "rate"]
    assert len(survey) >= 10 and ("rate", "Thank you for your feedback.") in survey
    assert [p for p in played if p not in catalogued] == []
