"""The survey node in the pure engine: each question kind by keys and by voice, re-asks, events."""

from __future__ import annotations

from typing import Any

import pytest

from ivr.engine import (CallStarted, CallerHungUp, DigitsReceived, Hangup, Listen, NoInput, Play, RecordEvent,
                        SpeechRecognized, Transfer, listen_at, listens, step)
from ivr.engine.engine import reprompt
from ivr.engine.survey import score_of
from ivr.flow import load_flow_text

FLOW = """\
flow: fb
start: rate
language: {language}
nodes:
  rate:
    survey:
      questions:
        - {{id: csat, kind: csat, prompt: "Rate us from 1 to 5."}}
        - {{id: effort, kind: ces, prompt: "How easy was it, from 1 to 7?"}}
        - {{id: nps, kind: nps, prompt: "Would you recommend us, from 0 to 10?"}}
        - {{id: solved, kind: yesno, prompt: "Did we solve it?"}}
      next: bye
{extra}  bye:
    hangup: Goodbye.
"""


def flow_of(language: str = "en-US", extra: str = "") -> Any:
    return load_flow_text(FLOW.format(language=language, extra=extra), "fb.yaml").flow


def run(flow: Any, *events: Any) -> tuple[Any, list[Any], list[RecordEvent]]:
    """The call's final state, every action of every step, and the recorded events."""
    state, actions = None, []
    for ev in (CallStarted("CA1", "+1555", "+1666", at=1000.0), *events):
        state, out = step(flow, state, ev)
        actions += out
    return state, actions, [a for a in actions if isinstance(a, RecordEvent)]


def answers(events: list[RecordEvent]) -> list[tuple[str, Any, str]]:
    return [(e.data["question"], e.data["value"], e.data["channel"]) for e in events if e.kind == "survey_answer"]


def spoken(actions: list[Any]) -> list[str]:
    return [a.text for a in actions if isinstance(a, Play)]


def keys(k: str) -> DigitsReceived:
    return DigitsReceived(k, at=1001.0)


def said(words: str, confidence: float = 0.9) -> SpeechRecognized:
    return SpeechRecognized(words, confidence, at=1001.0)


def test_every_kind_by_keys_records_the_exact_events() -> None:
    state, actions, events = run(flow_of(), keys("4"), keys("7"), keys("10"), keys("2"))
    assert answers(events) == [("csat", 4, "dtmf"), ("effort", 7, "dtmf"), ("nps", 10, "dtmf"),
                               ("solved", False, "dtmf")]
    started = next(e for e in events if e.kind == "survey_started")
    assert started.node == "rate" and started.data == {"post_call": False,
                                                       "questions": ["csat", "effort", "nps", "solved"]}
    first = next(e for e in events if e.kind == "survey_answer")
    assert first.data == {"question": "csat", "kind": "csat", "value": 4, "channel": "dtmf", "post_call": False}
    completed = [e for e in events if e.kind == "survey_completed"]
    assert [(e.node, e.data) for e in completed] == [("rate", {"answered": 4, "post_call": False})]
    assert spoken(actions)[-2:] == ["Thank you for your feedback.", "Goodbye."]
    assert isinstance(actions[-1], Hangup) and state.path == ["rate", "bye"]


def test_every_kind_by_voice() -> None:
    _, _, events = run(flow_of(), said("a four"), said("seven"), said("nine out of ten"), said("yes it was"))
    assert answers(events) == [("csat", 4, "speech"), ("effort", 7, "speech"), ("nps", 9, "speech"),
                               ("solved", True, "speech")]


@pytest.mark.parametrize("words, value", [("four", 4), ("ten", 10), ("a nine", 9), ("nine out of ten", 9),
                                          ("9", 9), ("I'd say 8/10", 8), ("zero", 0), ("four or five", None),
                                          ("hello", None)])
def test_spoken_scores_in_english(words: str, value: Any) -> None:
    assert score_of(words, "en-US") == value


def test_nps_keys_end_with_pound_or_the_timeout_and_zero_is_a_score() -> None:
    for entry in ("0", "0#", "9#"):
        _, _, events = run(flow_of(), keys("5"), keys("5"), keys(entry))
        assert answers(events)[-1] == ("nps", int(entry.rstrip("#")), "dtmf")
    state, actions, _ = run(flow_of(), keys("5"), keys("5"), keys("0"))
    assert state.waiting == "survey" and not any(isinstance(a, Transfer) for a in actions)


def test_zero_and_agent_words_escalate_from_rating_questions() -> None:
    state, actions, events = run(flow_of(), keys("0"))
    assert isinstance(actions[-1], Transfer) and actions[-1].reason == "caller_request"
    assert state.reason == "caller_request" and answers(events) == []
    state, actions, _ = run(flow_of(), keys("3"), keys("3"), said("let me talk to an agent"))
    assert isinstance(actions[-1], Transfer) and actions[-1].reason == "caller_request"   # agent words, also in nps
    state, actions, _ = run(flow_of(), keys("3"), keys("3"), keys("3"), keys("0"))
    assert isinstance(actions[-1], Transfer)   # yes/no question: key 0 is the escape again


def test_out_of_range_says_the_range_then_asks_again_then_moves_on() -> None:
    state, actions, events = run(flow_of(), keys("9"))
    assert spoken(actions)[-2:] == ["Sorry, please answer with a number from 1 to 5.", "Rate us from 1 to 5."]
    assert state.waiting == "survey" and state.survey_question == 0 and answers(events) == []
    state, actions, events = run(flow_of(), keys("9"), said("eleven"))
    assert answers(events) == [("csat", None, "none")]
    assert spoken(actions)[-1] == "How easy was it, from 1 to 7?" and state.survey_question == 1
    _, actions, _ = run(flow_of(), keys("1"), keys("1"), keys("11"))
    assert "Sorry, please answer with a number from 0 to 10." in spoken(actions)
    _, actions, _ = run(flow_of(), keys("1"), keys("1"), keys("1"), keys("3"))
    assert "Sorry, please press 1 or say yes, or press 2 or say no." in spoken(actions)


def test_silence_never_traps_or_escalates_the_caller() -> None:
    silence = [NoInput(at=1001.0)] * 8
    state, actions, events = run(flow_of(), *silence)
    assert answers(events) == [(q, None, "none") for q in ("csat", "effort", "nps", "solved")]
    assert [e.data for e in events if e.kind == "survey_completed"] == [{"answered": 0, "post_call": False}]
    assert not any(isinstance(a, Transfer) for a in actions) and isinstance(actions[-1], Hangup)
    assert spoken(actions)[1:3] == ["Sorry, I didn't hear anything.", "Rate us from 1 to 5."]


def test_own_re_ask_texts_and_retries_zero() -> None:
    extra_flow = FLOW.replace("      next: bye\n", "      next: bye\n      retries: 0\n")
    flow = load_flow_text(extra_flow.format(language="en-US", extra=""), "fb.yaml").flow
    _, _, events = run(flow, keys("9"))
    assert answers(events) == [("csat", None, "none")]
    own = FLOW.replace("      next: bye\n", "      next: bye\n      no_match: Just one number, please.\n")
    flow = load_flow_text(own.format(language="en-US", extra=""), "fb.yaml").flow
    _, actions, _ = run(flow, keys("9"))
    assert spoken(actions)[-2:] == ["Just one number, please.", "Rate us from 1 to 5."]


def test_unsure_speech_is_asked_again_not_guessed() -> None:
    state, _, events = run(flow_of(), said("four", confidence=0.2))
    assert answers(events) == [] and state.survey_question == 0 and state.no_match_count == 1


def test_hangup_mid_survey_leaves_the_answers_given_so_far() -> None:
    state, _, events = run(flow_of(), keys("5"), said("six"), CallerHungUp(at=1010.0))
    assert answers(events) == [("csat", 5, "dtmf"), ("effort", 6, "speech")]
    assert not any(e.kind == "survey_completed" for e in events)
    ended = [e for e in events if e.kind == "call_ended"][-1]
    assert ended.data["abandoned"] is True and ended.data["waiting"] == "survey"
    assert state.end_reason == "caller_hangup"


def test_post_call_flag_on_the_state_marks_the_events() -> None:
    """The post-call survey sets state.post_call before it enters the survey: every event then says so."""
    state, _ = step(flow_of(), None, CallStarted("CA1", at=1.0))
    state, actions = step(flow_of(), state.model_copy(update={"post_call": True}), keys("5"))
    events = [a for a in actions if isinstance(a, RecordEvent) and a.kind == "survey_answer"]
    assert events[0].data["post_call"] is True


def test_italian_and_chinese_number_words() -> None:
    _, _, events = run(flow_of("it-IT"), said("un quattro"), said("sette"), said("nove su dieci"), said("sì"))
    assert answers(events) == [("csat", 4, "speech"), ("effort", 7, "speech"), ("nps", 9, "speech"),
                               ("solved", True, "speech")]
    _, actions, events = run(flow_of("zh-CN"), said("五分"), said("六"), said("十分之九"), said("不是"))
    assert answers(events) == [("csat", 5, "speech"), ("effort", 6, "speech"), ("nps", 9, "speech"),
                               ("solved", False, "speech")]
    assert "感谢您的反馈。" in spoken(actions)
    _, actions, _ = run(flow_of("it-IT"), said("dieci"))
    assert "Mi scusi, risponda con un numero da 1 a 5." in spoken(actions)


def test_listen_rules_give_the_grammar_and_the_keys_of_each_question() -> None:
    flow = flow_of()
    csat = listen_at(flow, "rate")
    assert isinstance(csat, Listen) and csat.mode == "menu" and csat.max_digits == 1
    assert csat.keys == ("1", "2", "3", "4", "5", "0")
    assert {"one", "five", "a four", "four out of five", "agent"} <= set(csat.phrases) and "six" not in csat.phrases
    nps = listen_at(flow, "rate", question="nps")
    assert (nps.mode, nps.max_digits, nps.finish_on_key, nps.keys) == ("score", 2, "#", ())
    assert {"zero", "ten", "nine out of ten"} <= set(nps.phrases)
    yesno = listen_at(flow, "rate", question="solved")
    assert yesno.mode == "yesno" and {"yes", "no"} <= set(yesno.phrases)
    assert "sì" in listen_at(flow_of("it-IT"), "rate", question="solved").phrases
    assert "九" in listen_at(flow_of("zh-CN"), "rate", question="nps").phrases
    assert [listen.mode for listen in listens(flow)] == ["menu", "menu", "score", "yesno"]
    with pytest.raises(ValueError, match="no question 'x'"):
        listen_at(flow, "rate", question="x")


def test_listen_of_the_running_call_follows_the_question_and_reprompt_repeats_it() -> None:
    state, _, _ = run(flow_of(), keys("4"), keys("3"))
    assert listen_at(flow_of(), "rate", state=state).mode == "score"
    again = reprompt(flow_of(), state, 1002.0)
    assert [a.text for a in again if isinstance(a, Play)] == ["Would you recommend us, from 0 to 10?"]
    assert isinstance(again[-1], Listen) and again[-1].mode == "score"
