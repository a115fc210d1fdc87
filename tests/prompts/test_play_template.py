"""The engine hands the prompt layer a template and non-sensitive values, never secrets."""

from __future__ import annotations

from ivr.engine import actions as A
from ivr.engine import events as E
from ivr.engine.engine import step
from ivr.flow.model import Flow

FLOW = Flow.model_validate({
    "flow": "t", "start": "acct", "language": "it-IT", "settings": {"voice": "it", "rate": 150},
    "nodes": {
        "acct": {"ask": {"slot": "account", "prompt": "Conto?", "input": "digits"}, "next": "pin"},
        "pin": {"ask": {"slot": "pin", "prompt": "PIN?", "input": "digits", "sensitive": True}, "next": "done"},
        # Validation refuses reading a sensitive slot out; the engine must hold even if one slips through.
        "done": {"say": "Conto {account}, pin {pin}, saldo {balance:money:EUR}.", "next": "bye"},
        "bye": {"hangup": "Arrivederci."},
    },
})


def test_play_carries_template_values_and_voice_but_no_secret() -> None:
    st, actions = step(FLOW, None, E.CallStarted("CA1", "+39", "", 0.0))
    first = next(a for a in actions if isinstance(a, A.Play))
    assert isinstance(first, A.Play) and first.template is None and first.values == ()
    assert (first.flow, first.voice, first.rate, first.language) == ("t", "it", 150, "it-IT")
    st, _ = step(FLOW, st, E.DigitsReceived("1234#", at=1.0))
    st, actions = step(FLOW, st, E.DigitsReceived("9876#", at=2.0))
    done = next(a for a in actions if isinstance(a, A.Play) and a.node == "done")
    assert done.template == "Conto {account}, pin {pin}, saldo {balance:money:EUR}."
    assert dict(done.values) == {"account": "1234"}
    assert "9876" not in repr(done)
    assert done.text == "Conto 1234, pin , saldo ."


def test_new_play_fields_do_not_change_equality() -> None:
    a = A.Play("Hi.", "n", "say", "en-US", True)
    b = A.Play("Hi.", "n", "say", "en-US", True, flow="x", voice="v", rate=120, template="Hi.", values=(("a", 1),))
    assert a == b
