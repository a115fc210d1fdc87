"""The survey node in flow files: loading, precise errors, lint, graph and schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from ivr.errors import FlowError
from ivr.flow import graph, load_flow_text
from ivr.flow.lint import lint
from ivr.flow.schema import flow_schema

ROOT = Path(__file__).resolve().parents[2]

# DESIGN.md's example, word for word: the "?" inside {...} is text, as YAML 1.2 reads it.
DESIGN_EXAMPLE = """\
flow: rate
start: rate
nodes:
  rate:
    survey:
      questions:
        - {id: csat, kind: csat, prompt: How satisfied are you? Press 1 to 5.}
        - {id: nps, kind: nps, prompt: How likely are you to recommend us? Press 0 to 10.}
      next: bye
  bye:
    hangup: Thank you. Goodbye.
"""


def _errors(text: str) -> list[str]:
    with pytest.raises(FlowError) as info:
        load_flow_text(text, "s.yaml")
    return [p.format() for p in info.value.problems]


def test_design_example_loads_with_questions_in_order() -> None:
    flow = load_flow_text(DESIGN_EXAMPLE, "s.yaml").flow
    node = flow.nodes["rate"]
    assert node.kind == "survey"
    assert [(q.id, q.kind) for q in node.survey.questions] == [("csat", "csat"), ("nps", "nps")]
    assert node.survey.questions[0].prompt == "How satisfied are you? Press 1 to 5."
    assert (node.survey.questions[1].low, node.survey.questions[1].high) == (0, 10)
    assert node.survey.retries == 1
    assert node.next_node == "bye"


def test_survey_next_is_an_edge_of_the_graph() -> None:
    flow = load_flow_text(DESIGN_EXAMPLE, "s.yaml").flow
    assert list(graph.targets(flow.nodes["rate"])) == [(("survey", "next"), "bye")]
    assert graph.reachable(flow) == {"rate", "bye"}
    assert "rate" in graph.person_reachable(flow)  # agent words work in a survey


def test_next_beside_the_survey_is_accepted_but_not_twice() -> None:
    beside = DESIGN_EXAMPLE.replace("      next: bye\n", "    next: bye\n")
    assert load_flow_text(beside, "s.yaml").flow.nodes["rate"].next_node == "bye"
    twice = DESIGN_EXAMPLE.replace("      next: bye\n", "      next: bye\n    next: bye\n")
    assert _errors(twice) == ["s.yaml:9:7: node 'rate': 'next' given twice; keep one"]


@pytest.mark.parametrize("edit, expected", [
    (("kind: csat,", "kind: stars,"),
     "s.yaml:7:28: nodes.rate.survey.questions.0.kind: unknown question kind 'stars'; use csat (1-5), ces (1-7), "
     "nps (0-10) or yesno"),
    (("id: nps,", "id: csat,"),
     "s.yaml:8:16: node 'rate': question id 'csat' is used by question 1 already; give each question its own id"),
    (("      next: bye\n", ""),
     "s.yaml:5:5: node 'rate': a survey needs next: under survey:"),
    (("next: bye", "next: byee"),
     "s.yaml:9:13: node 'rate': target 'byee' is not a node of this flow; did you mean 'bye'?"),
    (("      next: bye\n", "      next: bye\n      retry: 2\n"),
     "s.yaml:10:7: unknown property 'retry' in nodes.rate.survey; did you mean 'retries'?"),
])
def test_each_survey_mistake_is_one_error_at_its_line_and_column(edit: tuple[str, str], expected: str) -> None:
    errors = _errors(DESIGN_EXAMPLE.replace(*edit))
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected), errors


def test_empty_questions_say_how_to_write_one() -> None:
    text = DESIGN_EXAMPLE.replace(DESIGN_EXAMPLE[DESIGN_EXAMPLE.index("      questions:"):
                                                 DESIGN_EXAMPLE.index("      next:")], "      questions: []\n")
    errors = _errors(text)
    assert len(errors) == 1 and errors[0].startswith("s.yaml:6:18: nodes.rate.survey.questions: a survey needs at "
                                                     "least one question"), errors


def test_validate_cli_reports_survey_errors_as_file_line_col(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(DESIGN_EXAMPLE.replace("kind: nps,", "kind: net,"))
    proc = subprocess.run([sys.executable, "-m", "ivr", "validate", str(f)], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 1
    assert proc.stdout.startswith(f"{f}:8:27: ") and "unknown question kind 'net'" in proc.stdout


def test_survey_retries_and_reprompt_ladders() -> None:
    text = DESIGN_EXAMPLE.replace("      next: bye\n", "      next: bye\n      retries: 0\n"
                                  "      no_match: [Please use the keypad., \"Numbers only, please.\"]\n")
    survey = load_flow_text(text, "s.yaml").flow.nodes["rate"].survey
    assert survey.retries == 0
    assert survey.reprompt("no_match", 3) == "Numbers only, please."
    assert "retries" in _errors(DESIGN_EXAMPLE.replace("      next: bye\n", "      next: bye\n      retries: 9\n"))[0]


def test_survey_prompts_may_not_read_sensitive_slots() -> None:
    text = """\
flow: s
start: pin
nodes:
  pin:
    ask: {slot: pin, prompt: Your PIN., sensitive: true, next: rate}
  rate:
    survey:
      questions:
        - {id: q, kind: yesno, prompt: "Was {pin} right?"}
      next: bye
  bye:
    hangup: Goodbye.
"""
    errors = _errors(text)
    assert len(errors) == 1 and "sensitive slot 'pin'" in errors[0]


def test_lint_warns_on_a_long_survey_and_finds_no_dead_end() -> None:
    qs = "".join(f"        - {{id: q{i}, kind: yesno, prompt: Question {i}. Press 1 or 2.}}\n" for i in range(7))
    text = DESIGN_EXAMPLE.replace(DESIGN_EXAMPLE[DESIGN_EXAMPLE.index("        - {id: csat"):
                                                 DESIGN_EXAMPLE.index("      next:")], qs)
    codes = [p.code for p in lint(load_flow_text(text, "s.yaml"))]
    assert codes == ["long-survey"]
    assert lint(load_flow_text(DESIGN_EXAMPLE, "s.yaml")) == []


def test_schema_accepts_surveys_and_refuses_unknown_question_kinds() -> None:
    schema = json.loads(json.dumps(flow_schema()))
    data = yaml.safe_load(DESIGN_EXAMPLE.replace("?", "."))
    jsonschema.validate(data, schema)
    data["nodes"]["rate"]["survey"]["questions"][0]["kind"] = "stars"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)
