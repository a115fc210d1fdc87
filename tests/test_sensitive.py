"""A canary card number entered in a sensitive ask appears nowhere."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from ivr.web import parts
from tests.conftest import API_TOKEN, SignedClient, call_params

CANARY = "9731864205318642"

CARD_FLOW = """\
flow: cardcheck
start: card
settings: {agent_queue: general}
nodes:
  card:
    ask:
      slot: card_number
      prompt: Enter your 16 digit card number, then press hash.
      input: digits
      min_length: 16
      max_length: 16
      sensitive: true
    next: verify
  verify:
    action:
      hook: verify_card
      args: {card: "{card_number}"}
      outcomes: {ok: done}
  done:
    say: Thanks, your card is verified.
    next: more
  more:
    menu:
      prompt: Press 1 to hear that again.
      options:
        - {key: "1", goto: done}
"""


HOOK_MODULE = """
SEEN = {}

def verify(call):
    SEEN["card"] = call.args["card"]
    return "ok"

def register(registry):
    registry.register("verify_card", verify)
"""


def test_canary_card_number_appears_nowhere(make_app, flows_dir: Path, tmp_path: Path, caplog,
                                            monkeypatch) -> None:
    (flows_dir / "cardcheck.yaml").write_text(CARD_FLOW)
    (tmp_path / "canary_hooks.py").write_text(HOOK_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import canary_hooks

    seen = canary_hooks.SEEN
    app = make_app(hooks="canary_hooks")
    c = SignedClient(app)
    caplog.set_level(logging.DEBUG)
    bodies = [c.post("/voice?flow=cardcheck", call_params()).data]
    bodies.append(c.post("/voice/input?node=card", call_params(Digits=CANARY + "#")).data)
    bodies.append(c.post("/voice/input?node=more", call_params(Digits="0")).data)
    assert seen["card"] == CANARY  # the hook that needs it got it
    ctx = c.get(f"/api/calls/{call_params()['CallSid']}/context", headers={"Authorization": f"Bearer {API_TOKEN}"})
    events = c.get(f"/api/calls/{call_params()['CallSid']}/events", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert ctx.json["slots"]["card_number"] == "****"
    for blob in [*bodies, ctx.data, events.data, caplog.text.encode()]:
        assert CANARY.encode() not in blob
    parts(app).services.store.close()
    for f in (tmp_path / "instance").iterdir():
        assert CANARY.encode() not in f.read_bytes(), f


def test_canary_never_in_simulator_output(flows_dir: Path, tmp_path: Path) -> None:
    (flows_dir / "cardcheck.yaml").write_text(CARD_FLOW.replace("hook: verify_card", "hook: bank.branch_hours")
                                              .replace("outcomes: {ok: done}", "default: done"))
    script = tmp_path / "card.yaml"
    script.write_text(f'flow: cardcheck\nsteps:\n  - press: "{CANARY}#"\n  - expect: {{prompt_contains: verified}}\n'
                      f'  - press: "0"\n  - expect: {{transfer: general, context: {{slots: {{card_number: "****"}}}}}}\n')
    root = Path(__file__).resolve().parent.parent
    for extra in ([], ["--json"]):
        proc = subprocess.run([sys.executable, "-m", "ivr", "-v", "simulate", "--flows", str(flows_dir), *extra,
                               str(script)], capture_output=True, text=True, cwd=root)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert CANARY not in proc.stdout and CANARY not in proc.stderr
    out = json.loads(proc.stdout)
    assert out["passed"] and out["context"]["slots"]["card_number"] == "****"
