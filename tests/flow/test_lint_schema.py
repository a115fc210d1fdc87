"""Design lint and the JSON Schema, through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ivr", *args], capture_output=True, text=True, cwd=cwd)


BAD_DESIGN = """\
flow: noisy
start: main
nodes:
  main:
    menu:
      prompt: Welcome to our very long menu where we list every single thing we could possibly do for you today so please listen carefully as our options have changed.
      options:
        - {key: "1", say: [card], goto: a}
        - {key: "2", say: [lost card], goto: a}
        - {key: "3", say: [talk to an agent], goto: a}
        - {key: "4", say: [four], goto: a}
        - {key: "5", say: [five], goto: a}
        - {key: "6", say: [six], goto: a}
  a:
    say: Thanks.
"""


def test_lint_finds_design_problems_json(tmp_path: Path) -> None:
    f = tmp_path / "noisy.yaml"
    f.write_text(BAD_DESIGN)
    proc = run("lint", "--json", str(f))
    assert proc.returncode == 1, proc.stderr
    findings = json.loads(proc.stdout)
    codes = {x["code"] for x in findings}
    assert {"long-prompt", "too-many-options", "colliding-phrases", "shadows-agent", "dead-end",
            "no-person"} <= codes
    shadow = next(x for x in findings if x["code"] == "shadows-agent")
    assert shadow["severity"] == "error" and shadow["line"] == 10


HURTS_CALLERS = """\
flow: hurts
start: a
settings: {retries: 0}
nodes:
  a:
    say: Hello.
    next: b
  b:
    branch:
      cases:
        - {when: {slot: x, exists: true}, goto: m}
        - {when: {slot: y, exists: true}, goto: m2}
      default: a
  m:
    ask:
      slot: x
      prompt: Enter x.
  m2:
    menu:
      prompt: Press 1.
      retries: 1
      options:
        - {key: "1", goto: quiet}
  quiet:
    hangup: ""
"""


def test_lint_finds_what_hurts_callers_that_validate_allows(tmp_path: Path) -> None:
    """An ask with no next, retries 0, a loop with no input, and a silent hang-up: each found, each placed."""
    f = tmp_path / "hurts.yaml"
    f.write_text(HURTS_CALLERS)
    assert run("validate", str(f)).returncode == 0      # it can run...
    proc = run("lint", "--json", str(f))                 # ...but it hurts callers
    assert proc.returncode == 1, proc.stderr
    findings = {x["code"]: x for x in json.loads(proc.stdout)}
    assert findings["ask-no-next"]["severity"] == "error" and findings["ask-no-next"]["line"] == 16
    loop = findings["input-free-loop"]
    assert loop["severity"] == "error" and "a -> b -> a" in loop["message"] and loop["line"] == 5
    assert findings["no-retries"]["severity"] == "warning" and findings["no-retries"]["line"] == 3
    assert "'m2'" not in json.dumps([x for x in json.loads(proc.stdout) if x["code"] == "no-retries"])
    assert findings["no-goodbye"]["line"] == 24


def test_lint_loop_through_a_menu_is_fine(tmp_path: Path) -> None:
    f = tmp_path / "ok.yaml"
    f.write_text("flow: ok\nstart: a\nnodes:\n  a:\n    say: Hi.\n    next: m\n  m:\n    menu:\n"
                 "      prompt: Press 1 to hear it again.\n      options:\n        - {key: \"1\", goto: a}\n")
    codes = {x["code"] for x in json.loads(run("lint", "--json", str(f)).stdout)}
    assert "input-free-loop" not in codes and "ask-no-next" not in codes


def test_lint_demo_flows_have_no_errors() -> None:
    proc = run("lint", "flows")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_schema_validates_demo_flows_and_rejects_bad_ones() -> None:
    proc = run("schema")
    assert proc.returncode == 0
    schema = json.loads(proc.stdout)
    for f in (ROOT / "flows").glob("*.yaml"):
        jsonschema.validate(yaml.safe_load(f.read_text()), schema)
    bad = yaml.safe_load("flow: x\nstart: a\nnodes:\n  a:\n    say: hi\n    hangup: bye\n")
    try:
        jsonschema.validate(bad, schema)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("a node with two kinds must not validate")


SURVEY_FLOW = """\
flow: x
start: a
nodes:
  a:
    survey:
      questions:
        - {id: csat, kind: csat, prompt: How satisfied are you? Press 1 to 5.}
      next: b
  b:
    hangup: Goodbye.
"""


def test_schema_and_validate_both_accept_a_survey_node(tmp_path: Path) -> None:
    """survey was a reserved kind: now the schema (and so an editor) and validate both take it."""
    schema = json.loads(run("schema").stdout)
    jsonschema.validate(yaml.safe_load(SURVEY_FLOW.replace("? Press", ". Press")), schema)
    bad = yaml.safe_load(SURVEY_FLOW.replace("kind: csat", "kind: stars").replace("? Press", ". Press"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    f = tmp_path / "x.yaml"
    f.write_text(SURVEY_FLOW)
    proc = run("validate", str(f))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_schema_and_validate_agree_on_reserved_kinds(monkeypatch: pytest.MonkeyPatch) -> None:
    """A kind listed as reserved is refused by validate and by the schema alike (the mechanism stays)."""
    from ivr.errors import FlowError
    from ivr.flow import load_flow_text, model
    from ivr.flow.schema import flow_schema

    monkeypatch.setattr(model, "RESERVED_KINDS", ("survey",))
    schema = flow_schema()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(yaml.safe_load(SURVEY_FLOW.replace("? Press", ". Press")), schema)
    with pytest.raises(FlowError, match="reserved"):
        load_flow_text(SURVEY_FLOW, "x.yaml")


def test_usage_error_exits_2() -> None:
    assert run("validate").returncode == 2
    assert run("no-such-command").returncode == 2
