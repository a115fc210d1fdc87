"""The post-call survey in the pure engine: the agent leg ends, one yes/no offer, then the survey or goodbye."""

from __future__ import annotations

import pytest

from ivr.engine import (AgentLegEnded, CallStarted, CallerHungUp, DigitsReceived, Hangup, Listen, NoInput, Play,
                        RecordEvent, SpeechRecognized, Transfer, step)
from ivr.engine.engine import listens
from ivr.errors import FlowError
from ivr.flow import load_flow_text

FLOW = """\
flow: shop
start: main
language: {language}
settings:
  survey: rate
{offer}queues:
  general: {{}}
  messages: {{}}
nodes:
  main:
    menu:
      prompt: Press 1 for a person, 2 for a message.
      options:
        - {{key: "1", goto: person}}
        - {{key: "2", goto: message}}
{linked}  person:
    transfer: {{queue: general, reason: help}}
  message:
    voicemail: {{queue: messages}}
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


def flow_of(language: str = "en-US", offer: str = "", survey: bool = True, linked: bool = False):
    """The shop flow; ``linked``: its menu also leads to the survey (an in-flow survey, option 3)."""
    text = FLOW.format(language=language, offer=f"  survey_offer: {offer}\n" if offer else "",
                       linked='        - {key: "3", goto: rate}\n' if linked else "")
    if not survey:
        text = text.replace("  survey: rate\n", "  retries: 2\n")
    return load_flow_text(text, "shop.yaml").flow


def to_agent(flow, key: str = "1"):
    """A call that reached a person (key 1) or voicemail (key 2); the state after the transfer."""
    state, _ = step(flow, None, CallStarted("CA1", "+15551230000", at=1000.0))
    state, actions = step(flow, state, DigitsReceived(key, at=1002.0))
    assert isinstance(actions[-1], Transfer)
    return state


def leg_ended(flow, state, at: float = 1300.0):
    return step(flow, state, AgentLegEnded("CA1", at=at, status="bridged", seconds=240))


def events(actions, kind: str) -> list[RecordEvent]:
    return [a for a in actions if isinstance(a, RecordEvent) and a.kind == kind]


def said(actions) -> list[str]:
    return [a.text for a in actions if isinstance(a, Play)]


def test_agent_leg_end_reopens_the_call_for_one_yes_no_offer() -> None:
    flow = flow_of()
    state, actions = leg_ended(flow, to_agent(flow))
    assert events(actions, "agent_leg_ended")[0].data == {"status": "bridged", "seconds": 240}
    assert events(actions, "agent_leg_ended")[0].node is None
    assert said(actions) == ["Would you answer a short survey about your call? Press 1 or say yes. "
                             "Press 2 or say no."]
    listen = actions[-1]
    assert isinstance(listen, Listen) and listen.node == "rate" and listen.mode == "yesno"
    assert listen.keys == ("1", "2") and "yes" in listen.phrases and "no" in listen.phrases
    assert not state.ended and state.node == "rate" and state.waiting == "survey_offer"
    assert state.end_reason == "transferred"   # still a transferred call


def test_yes_by_key_runs_the_survey_as_post_call() -> None:
    flow = flow_of()
    state, _ = leg_ended(flow, to_agent(flow))
    state, actions = step(flow, state, DigitsReceived("1", at=1305.0))
    assert events(actions, "survey_offer")[0].data == {"agreed": True, "channel": "dtmf"}
    assert events(actions, "survey_offer")[0].node == "rate"
    assert "How satisfied are you? Press 1 to 5." in said(actions)
    started = events(actions, "survey_started")
    assert started and started[0].data["post_call"] is True
    state, actions = step(flow, state, DigitsReceived("4", at=1310.0))
    answer = events(actions, "survey_answer")[0].data
    assert answer["value"] == 4 and answer["post_call"] is True and answer["channel"] == "dtmf"
    assert events(actions, "survey_completed")[0].data == {"answered": 1, "post_call": True}
    assert isinstance(actions[-1], Hangup) and state.ended and "rate" in state.path and state.path[-1] == "bye"


def test_yes_by_speech_in_the_flows_language() -> None:
    flow = flow_of(language="it-IT")
    state, actions = leg_ended(flow, to_agent(flow))
    assert said(actions)[0].startswith("Vuole rispondere a un breve sondaggio")
    assert "sì" in actions[-1].phrases
    state, actions = step(flow, state, SpeechRecognized("sì grazie", 0.9, at=1305.0))
    assert events(actions, "survey_offer")[0].data == {"agreed": True, "channel": "speech"}
    assert events(actions, "survey_started")


@pytest.mark.parametrize("answer, channel", [(DigitsReceived("2", at=1305.0), "dtmf"),
                                             (SpeechRecognized("no thanks", 0.9, at=1305.0), "speech"),
                                             (NoInput(at=1305.0), "none"),
                                             (DigitsReceived("7", at=1305.0), "dtmf")])
def test_no_silence_or_another_key_is_goodbye_without_a_survey(answer, channel) -> None:
    flow = flow_of()
    state, _ = leg_ended(flow, to_agent(flow))
    state, actions = step(flow, state, answer)
    assert events(actions, "survey_offer")[0].data == {"agreed": False, "channel": channel}
    assert not events(actions, "survey_started")
    assert said(actions) == ["Thank you for calling. Goodbye."]
    assert isinstance(actions[-1], Hangup) and state.ended


def test_the_flows_own_offer_wording() -> None:
    flow = flow_of(offer="Two quick questions about your call? Press 1 for yes, 2 for no.")
    _, actions = leg_ended(flow, to_agent(flow))
    assert said(actions) == ["Two quick questions about your call? Press 1 for yes, 2 for no."]


def test_no_survey_configured_is_goodbye_as_before() -> None:
    flow = flow_of(survey=False, linked=True)
    state, actions = leg_ended(flow, to_agent(flow))
    assert events(actions, "agent_leg_ended") and not events(actions, "survey_offer")
    assert said(actions) == ["Thank you for calling. Goodbye."] and isinstance(actions[-1], Hangup)
    assert state.ended and state.end_reason == "transferred"


def test_voicemail_is_no_agent_call_so_no_offer() -> None:
    flow = flow_of()
    state, actions = leg_ended(flow, to_agent(flow, key="2"))
    assert not events(actions, "survey_offer") and isinstance(actions[-1], Hangup)


def test_the_leg_reported_twice_offers_once() -> None:
    flow = flow_of()
    state, _ = leg_ended(flow, to_agent(flow))
    state, _ = step(flow, state, DigitsReceived("2", at=1305.0))
    state, actions = leg_ended(flow, state, at=1306.0)
    assert not events(actions, "agent_leg_ended") and not events(actions, "survey_offer")


def test_caller_gone_before_the_report_hears_nothing() -> None:
    flow = flow_of()
    state = to_agent(flow)
    state, _ = step(flow, state, CallerHungUp(at=1290.0))
    state, actions = leg_ended(flow, state)
    assert events(actions, "agent_leg_ended") and not [a for a in actions if not isinstance(a, RecordEvent)]
    assert state.ended


def test_hanging_up_during_the_offer_is_no_abandonment() -> None:
    flow = flow_of()
    state, _ = leg_ended(flow, to_agent(flow))
    state, actions = step(flow, state, CallerHungUp(at=1302.0))
    ended = events(actions, "call_ended")[0].data
    assert ended["abandoned"] is False and ended["post_call"] is True and state.ended


def test_the_offer_is_warmed_with_the_other_listens() -> None:
    assert any(isinstance(x, Listen) and x.node == "rate" and x.keys == ("1", "2") for x in listens(flow_of()))


def test_settings_survey_must_name_a_survey_node() -> None:
    with pytest.raises(FlowError) as info:
        load_flow_text(FLOW.format(language="en-US", offer="", linked="").replace("survey: rate", "survey: bye"),
                       "shop.yaml")
    msg = [p.format() for p in info.value.problems]
    assert any(m.startswith("shop.yaml:5:11:") and "'bye' is a hangup node, not a survey node" in m
               and "name one of: rate" in m for m in msg), msg
    with pytest.raises(FlowError) as info:
        load_flow_text(FLOW.format(language="en-US", offer="", linked="").replace("survey: rate", "survey: rat"),
                       "shop.yaml")
    msg = [p.format() for p in info.value.problems]
    assert any("settings.survey 'rat' is not a node of this flow; did you mean 'rate'?" in m for m in msg), msg


def test_the_settings_survey_is_a_root_of_the_graph() -> None:
    """Only settings.survey leads to the survey node: it is reachable; without it, it is not."""
    flow_of()  # loads: no "unreachable" error
    with pytest.raises(FlowError) as info:
        flow_of(survey=False)
    assert any("node 'rate' is unreachable" in p.message and "settings.survey" in p.message
               for p in info.value.problems)
