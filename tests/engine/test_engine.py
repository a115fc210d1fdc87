"""Event-sequence tests of the pure engine: events in, actions out."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.engine import (CallStarted, CallerHungUp, DigitsReceived, HookCompleted, HookFailed, Listen, NoInput, Play,
                        RecordEvent, RunHook, SpeechRecognized, Transfer, step)
from ivr.engine import Hangup
from ivr.flow import load_flow, load_flow_text

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def acme():
    return load_flow(ROOT / "flows" / "acme.yaml").flow


@pytest.fixture(scope="module")
def bank():
    return load_flow(ROOT / "flows" / "bank.yaml").flow


def run(flow, *events):
    state, out = None, []
    t = 1000.0
    for ev in (CallStarted("CA1", "+1555", "+1666", at=t), *events):
        state, actions = step(flow, state, ev)
        out.append([a for a in actions if not isinstance(a, RecordEvent)])
    return state, out


def texts(actions):
    return [a.text for a in actions if isinstance(a, Play)]


def test_start_plays_welcome_then_listens_at_menu(acme) -> None:
    state, (first,) = run(acme)
    assert texts(first) == ["Welcome to Acme.", "Say balance or cards. Or press 1 or 2."]
    listen = first[-1]
    assert isinstance(listen, Listen) and listen.node == "main" and listen.keys == ("1", "2", "0")
    assert "balance" in listen.phrases and "representative" in listen.phrases and "two" in listen.phrases
    assert state.path == ["welcome", "main"]


def test_key_selects_transfer_with_context(acme) -> None:
    state, (_, second) = run(acme, DigitsReceived("2", at=1003))
    transfer = second[-1]
    assert isinstance(transfer, Transfer) and transfer.queue == "cards" and transfer.reason == "lost_card"
    ctx = transfer.context
    assert ctx["path"] == ["welcome", "main", "cards"] and ctx["reason"] == "lost_card"
    assert ctx["transcript"][0]["keys"] == "2" and ctx["transcript"][0]["node"] == "main"
    assert ctx["timings"]["self_service_seconds"] == 3.0
    assert state.ended


def test_phrase_inside_sentence_selects_option(acme) -> None:
    _, (_, second) = run(acme, SpeechRecognized("um I think I lost my card yesterday", 0.9))
    # "lost card" is not a contiguous phrase here, but "card" folds from "cards"
    assert isinstance(second[-1], Transfer) and second[-1].queue == "cards"


def test_balance_path_hangs_up_with_goodbye(acme) -> None:
    _, (_, second) = run(acme, SpeechRecognized("what's my balance please", 0.9))
    assert texts(second) == ["Your balance is 42 dollars.", "Thank you for calling. Goodbye."]
    assert isinstance(second[-1], Hangup)


@pytest.mark.parametrize("event", [DigitsReceived("0"), SpeechRecognized("representative"),
                                   SpeechRecognized("can I talk to a person"), SpeechRecognized("Operator!")])
def test_global_escape_from_menu(acme, event) -> None:
    state, (_, second) = run(acme, event)
    t = second[-1]
    assert isinstance(t, Transfer) and t.reason == "caller_request" and t.queue == "general"
    assert state.failed_node is None


def test_retry_ladder_distinct_reprompts_then_escalation(acme) -> None:
    state, outs = run(acme, NoInput(), DigitsReceived("7"), NoInput())
    assert texts(outs[1])[0].startswith("Sorry, I didn't hear")
    assert texts(outs[2])[0].startswith("Sorry, I didn't catch")
    t = outs[3][-1]
    assert isinstance(t, Transfer) and t.reason == "retries_exhausted"
    assert t.context["failed_node"] == "main" and t.queue == "general"


LADDER = """flow: l
start: m
settings: {retries: 3}
nodes:
  m:
    menu:
      prompt: Say sales or press 1.
      no_input: ["Sorry, I didn't hear you.", "You can press 1 for sales, or 0 for a person."]
      no_match: Sorry, that is not an option.
      options:
        - {key: "1", say: [sales], goto: b}
  b:
    hangup: B.
"""


def test_retry_ladder_escalates_one_text_per_attempt_and_the_last_repeats() -> None:
    flow = load_flow_text(LADDER, "l.yaml").flow
    _, outs = run(flow, NoInput(), DigitsReceived("7"), NoInput(), NoInput())
    assert texts(outs[1]) == ["Sorry, I didn't hear you."]
    assert texts(outs[2]) == ["Sorry, that is not an option."]
    assert texts(outs[3]) == ["You can press 1 for sales, or 0 for a person."]   # second no-input: second text
    assert isinstance(outs[4][-1], Transfer) and outs[4][-1].reason == "retries_exhausted"


def test_retry_ladder_last_text_repeats() -> None:
    flow = load_flow_text(LADDER.replace("retries: 3", "retries: 4"), "l.yaml").flow
    _, outs = run(flow, NoInput(), NoInput(), NoInput())
    assert texts(outs[3]) == ["You can press 1 for sales, or 0 for a person."]


def test_retries_setting_is_honoured() -> None:
    flow = load_flow_text("flow: r\nstart: m\nsettings: {retries: 0}\nnodes:\n  m:\n    menu:\n"
                          "      prompt: P.\n      options:\n        - {key: \"1\", goto: b}\n  b:\n    hangup: B.\n",
                          "r.yaml").flow
    _, outs = run(flow, NoInput())
    assert isinstance(outs[1][-1], Transfer) and outs[1][-1].reason == "retries_exhausted"


def test_low_confidence_asks_to_confirm(acme) -> None:
    state, outs = run(acme, SpeechRecognized("cards", 0.3))
    assert "Did you say cards?" in texts(outs[1])[0]
    assert isinstance(outs[1][-1], Listen) and outs[1][-1].mode == "yesno"
    state, actions = step(acme, state, SpeechRecognized("yes", 0.9))
    assert isinstance(actions[-1], Transfer) and actions[-1].queue == "cards"


def test_sensitive_ask_masks_everywhere_and_hook_gets_value(bank) -> None:
    state, outs = run(bank, DigitsReceived("1"), DigitsReceived("12345678#"), DigitsReceived("9876#"))
    # The hook step: balance lookup gets the account (not sensitive).
    hook = outs[-1][-1]
    assert isinstance(hook, RunHook) and hook.args == {"account": "12345678"}
    assert state.secrets == {"pin": "9876"}
    assert state.masked_slots()["pin"] == "****"
    assert "9876" not in str(state.transcript)
    state, actions = step(bank, state, HookCompleted("ok", {"balance": "42.00"}))
    assert "balance of account 12345678 is 42.00 dollars" in " ".join(texts(actions))
    # Every event emitted in the whole call masks the PIN.
    _, all_actions = step(bank, state, DigitsReceived("0"))
    assert "9876" not in repr(all_actions)
    assert all_actions[-1].context["slots"]["pin"] == "****"


def test_ask_validation_min_length(bank) -> None:
    state, outs = run(bank, DigitsReceived("1"), DigitsReceived("123#"))
    assert "didn't look like an 8 digit" in texts(outs[2])[0]
    assert state.node == "account_number"


def test_ask_accepts_spoken_digits(bank) -> None:
    state, outs = run(bank, DigitsReceived("1"), SpeechRecognized("one two three four five six seven eight", 0.9))
    assert state.slots["account"] == "12345678"


def test_hook_failure_escalates_with_failed_node(bank) -> None:
    state, outs = run(bank, DigitsReceived("1"), DigitsReceived("12345678#"), DigitsReceived("1111#"),
                      HookFailed("timeout", timed_out=True))
    t = outs[-1][-1]
    assert isinstance(t, Transfer) and t.reason == "hook_failed" and t.context["failed_node"] == "balance_lookup"
    assert state.results["balance_lookup"] == "timeout"


def test_hook_failure_with_on_failure_continues(bank) -> None:
    state, outs = run(bank, DigitsReceived("4"), HookFailed("boom"))
    assert texts(outs[-1])[0].startswith("Our branches are open 9 to 5")


def test_branch_on_slots() -> None:
    flow = load_flow_text("""
flow: b
start: ask
nodes:
  ask:
    ask: {slot: amount, prompt: "Amount?", input: digits}
    next: route
  route:
    branch:
      cases:
        - when: {slot: amount, gt: 100}
          goto: big
        - when: {slot: amount, in: ["7", "8"]}
          goto: lucky
      default: small
  big: {hangup: Big.}
  lucky: {hangup: Lucky.}
  small: {hangup: Small.}
""", "b.yaml").flow
    for digits, expected in (("500#", "Big."), ("7#", "Lucky."), ("5#", "Small.")):
        _, outs = run(flow, DigitsReceived(digits))
        assert texts(outs[-1]) == [expected]


def test_caller_hangup_mid_flow_is_abandonment(acme) -> None:
    state, _ = run(acme)
    state, actions = step(acme, state, CallerHungUp(at=1010))
    ended = [a for a in actions if isinstance(a, RecordEvent) and a.kind == "call_ended"]
    assert ended and ended[0].data["abandoned"] is True and ended[0].node == "main"
    assert state.end_reason == "caller_hangup"


def test_engine_does_not_mutate_input_state(acme) -> None:
    state, _ = run(acme)
    before = state.model_dump()
    step(acme, state, DigitsReceived("1"))
    assert state.model_dump() == before


def test_events_describe_the_call(acme) -> None:
    state, actions = step(acme, None, CallStarted("CA1", "+1", at=1.0))
    kinds = [a.kind for a in actions if isinstance(a, RecordEvent)]
    assert kinds == ["call_started", "node_entered", "node_entered"]
    _, actions = step(acme, state, DigitsReceived("9", at=2.0))
    inp = next(a for a in actions if isinstance(a, RecordEvent) and a.kind == "input")
    assert inp.data == {"input": "dtmf", "outcome": "no_match", "keys": "9"}


def test_loop_without_input_escalates() -> None:
    flow = load_flow_text("flow: l\nstart: a\nnodes:\n  a: {say: A., next: b}\n  b: {say: B., next: a}\n",
                          "l.yaml").flow
    _, outs = run(flow)
    assert isinstance(outs[0][-1], Transfer) and outs[0][-1].reason == "flow_error"
