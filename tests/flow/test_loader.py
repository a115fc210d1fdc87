"""Flow loading: one fixture per error class, each with one precise file:line error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ivr.errors import FlowError
from ivr.flow import load_flow, load_flow_text

BROKEN = Path(__file__).parent / "broken"
ROOT = Path(__file__).resolve().parents[2]

CASES = {
    "yaml_syntax.yaml": (5, "quoted"),
    "unquoted_hash.yaml": (8, 'quote it: key: "#"'),
    "unquoted_octal.yaml": (8, 'write key: "010"'),
    "alias.yaml": (5, "anchors"),
    "duplicate_node.yaml": (9, "duplicate key 'main'"),
    "unknown_target.yaml": (9, "did you mean 'bye'"),
    "unknown_kind.yaml": (5, "did you mean 'say'"),
    "wrong_type.yaml": (4, "valid integer"),
    "missing_start.yaml": (1, "missing required property 'start'"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_error_class_gives_one_precise_error(name: str) -> None:
    line, words = CASES[name]
    with pytest.raises(FlowError) as info:
        load_flow(BROKEN / name)
    problems = info.value.problems
    assert len(problems) == 1, [p.format() for p in problems]
    assert problems[0].line == line
    assert words in problems[0].message
    assert problems[0].format().startswith(f"{BROKEN / name}:{line}:")


@pytest.mark.parametrize("name", sorted(CASES))
def test_validate_cli_reports_file_line_and_exits_1(name: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "ivr", "validate", str(BROKEN / name)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 1
    lines = [l for l in proc.stdout.splitlines() if l.strip()]
    assert len(lines) == 1
    assert lines[0].startswith(f"{BROKEN / name}:{CASES[name][0]}:")


def test_every_fixture_is_covered() -> None:
    assert {p.name for p in BROKEN.glob("*.yaml")} == set(CASES)


def test_design_example_loads() -> None:
    lf = load_flow(ROOT / "flows" / "acme.yaml")
    flow = lf.flow
    assert flow.start == "welcome"
    assert flow.settings.retries == 2
    assert flow.nodes["main"].kind == "menu"
    assert [o.key for o in flow.nodes["main"].menu.options] == ["1", "2"]
    assert flow.nodes["cards"].transfer.queue == "cards"


def _flow(nodes: str, extra: str = "") -> str:
    return f"flow: t\nstart: main\n{extra}nodes:\n{nodes}"


def test_non_string_keys_refused() -> None:
    text = _flow("  main:\n    say: Hi.\n    next: bye\n  bye:\n    hangup: Bye.\n  yes:\n    hangup: x\n")
    with pytest.raises(FlowError) as info:
        load_flow_text(text, "f.yaml")
    assert 'quote it: "yes":' in str(info.value)


def test_unknown_property_suggests_the_right_one() -> None:
    text = _flow("  main:\n    menu:\n      promt: Press 1.\n      options:\n        - key: \"1\"\n          goto: bye\n"
                 "  bye:\n    hangup: Bye.\n")
    with pytest.raises(FlowError) as info:
        load_flow_text(text, "f.yaml")
    msgs = [p.message for p in info.value.problems]
    assert any("unknown property 'promt'" in m and "did you mean 'prompt'" in m for m in msgs), msgs


def test_unknown_queue_and_duplicate_menu_key_and_phrase() -> None:
    text = _flow(
        "  main:\n    menu:\n      prompt: Choose.\n      queue: nowhere\n      options:\n"
        "        - key: \"1\"\n          say: [balance]\n          goto: bye\n"
        "        - key: \"1\"\n          say: [Balance!]\n          goto: bye\n"
        "  bye:\n    hangup: Bye.\n", "queues:\n  general: {}\n")
    with pytest.raises(FlowError) as info:
        load_flow_text(text, "f.yaml")
    msgs = " | ".join(p.message for p in info.value.problems)
    assert "unknown queue 'nowhere'" in msgs
    assert 'key "1" is used by option 1' in msgs
    assert "phrase 'Balance!' also selects option 1" in msgs


def test_unreachable_node_is_an_error() -> None:
    text = _flow("  main:\n    say: Hi.\n    next: bye\n  bye:\n    hangup: Bye.\n  orphan:\n    hangup: x\n")
    with pytest.raises(FlowError) as info:
        load_flow_text(text, "f.yaml")
    (p,) = info.value.problems
    assert "'orphan' is unreachable" in p.message and p.line == 9


def test_agent_key_zero_is_reserved() -> None:
    text = _flow("  main:\n    menu:\n      prompt: P.\n      options:\n        - key: \"0\"\n          goto: bye\n"
                 "  bye:\n    hangup: Bye.\n")
    with pytest.raises(FlowError, match="reserved for reaching a person"):
        load_flow_text(text, "f.yaml")


def test_sensitive_slot_in_prompt_refused() -> None:
    text = _flow("  main:\n    ask:\n      slot: pin\n      prompt: PIN?\n      sensitive: true\n    next: said\n"
                 "  said:\n    say: You said {pin}.\n    next: bye\n  bye:\n    hangup: Bye.\n")
    with pytest.raises(FlowError, match="sensitive slot 'pin'"):
        load_flow_text(text, "f.yaml")


def test_two_kinds_in_one_node_refused() -> None:
    text = _flow("  main:\n    say: Hi.\n    hangup: Bye.\n")
    with pytest.raises(FlowError, match="has two kinds"):
        load_flow_text(text, "f.yaml")
