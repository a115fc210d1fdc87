"""Flow coverage from call paths: nodes, declared edges, agent exits, and the files the report page reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivr.analytics.coverage import escalation_of, flow_coverage, flow_edges, load_saved, save
from ivr.flow import load_flow
from ivr.flow.loader import load_flow_text

ROOT = Path(__file__).resolve().parents[2]

TINY = """\
flow: tiny
start: hello
settings:
  speech: false
  retries: 0
nodes:
  hello:
    say: Hello.
    next: main
  main:
    menu:
      prompt: Press 1 for news, 2 for your number, 3 for the desk.
      options:
        - {key: "1", goto: news}
        - {key: "2", goto: number}
        - {key: "3", goto: desk}
        - {key: "4", goto: news}
  news:
    say: No news today.
    next: bye
  number:
    ask:
      slot: num
      prompt: Enter your number, then press hash.
      input: digits
      min_length: 3
      max_length: 6
      next: news
  desk:
    transfer: {queue: general, reason: desk}
  bye:
    hangup: Goodbye.
"""


@pytest.fixture
def tiny():
    return load_flow_text(TINY, "tiny.yaml").flow


def test_edges_are_the_declared_transitions_once_each_in_flow_order(tiny) -> None:
    assert flow_edges(tiny) == [("hello", "main"), ("main", "news"), ("main", "number"), ("main", "desk"),
                                ("news", "bye"), ("number", "news")]   # keys 1 and 4 both lead to news: one edge


def test_nodes_and_edges_covered_by_paths(tiny) -> None:
    result = flow_coverage(tiny, [["hello", "main", "news", "bye"], ["hello", "main", "number"]],
                           [("number", "caller_request")])
    assert result["flow"] == "tiny" and result["calls"] == 2
    assert result["nodes"] == {"covered": 5, "total": 6, "missing": ["desk"], "percent": 83.3}
    assert result["edges"] == {"covered": 4, "total": 6, "missing": [["main", "desk"], ["number", "news"]],
                               "percent": 66.7}
    assert result["covered_nodes"] == ["hello", "main", "news", "number", "bye"]
    assert result["covered_edges"] == [["hello", "main"], ["main", "news"], ["main", "number"], ["news", "bye"]]
    assert result["agent_exits"] == {"covered": 1, "total": 2, "missing": ["main"], "percent": 50.0}
    assert result["escalations"] == [{"node": "number", "reason": "caller_request", "calls": 1}]
    json.dumps(result)   # the --json and saved shape is plain JSON


def test_a_jump_that_is_no_declared_edge_covers_nodes_only(tiny) -> None:
    """A post-call survey after a transfer, or a node a flow edit removed, is no edge of the graph."""
    result = flow_coverage(tiny, [["hello", "desk", "gone", "bye"]])
    assert result["covered_nodes"] == ["hello", "desk", "bye"]
    assert result["covered_edges"] == [] and result["edges"]["covered"] == 0


def test_repeated_nodes_and_no_calls(tiny) -> None:
    looped = flow_coverage(tiny, [["hello", "main", "main", "number", "news", "bye"]])
    assert ["number", "news"] in looped["covered_edges"] and looped["nodes"]["missing"] == ["desk"]
    empty = flow_coverage(tiny, [])
    assert empty["nodes"]["covered"] == 0 and empty["nodes"]["missing"] == list(tiny.nodes)
    assert empty["edges"]["percent"] == 0.0 and empty["escalations"] == []


def test_escalation_node_from_the_context_packet() -> None:
    assert escalation_of({"reason": "retries_exhausted", "failed_node": "billing", "path": ["main", "billing"]}) \
        == ("billing", "retries_exhausted")
    asked = {"reason": "caller_request", "failed_node": None, "path": ["main", "account", "survey"],
             "transcript": [{"node": "main", "outcome": "match"}, {"node": "account", "outcome": "agent"},
                            {"node": "survey", "outcome": "match"}]}
    assert escalation_of(asked) == ("account", "caller_request")
    assert escalation_of({"reason": "caller_request", "path": ["main"], "transcript": []}) == \
        ("main", "caller_request")
    for other in ({"reason": "lost_card", "path": ["cards"]}, {"reason": None, "path": ["bye"]}):
        assert escalation_of(other) is None   # a transfer node's own reason, or no transfer: not an implicit exit


def test_saved_coverage_is_read_back_per_flow(tmp_path: Path, tiny) -> None:
    result = flow_coverage(tiny, [["hello", "main", "news", "bye"]])
    path = save(result, tmp_path / "coverage")
    assert path == tmp_path / "coverage" / "tiny.json"
    assert load_saved(tmp_path / "coverage", "tiny") == result
    assert load_saved(tmp_path / "coverage", "acme") is None
    assert load_saved(tmp_path / "nowhere", "tiny") is None
    (tmp_path / "coverage" / "tiny.json").write_text("{not json")
    assert load_saved(tmp_path / "coverage", "tiny") is None   # a broken file is no coverage, not a crash
    assert load_saved(tmp_path / "coverage", "../tiny") is None
    with pytest.raises(ValueError):
        save({**result, "flow": "../../etc"}, tmp_path)
    assert sorted(p.name for p in (tmp_path / "coverage").iterdir()) == ["tiny.json"]   # no temp files left


def test_demo_flow_graph_edges_include_branches_and_hook_outcomes() -> None:
    bank = load_flow(ROOT / "flows" / "bank.yaml").flow
    edges = flow_edges(bank)
    kinds = {bank.nodes[a].kind for a, _ in edges}
    assert {"say", "menu", "ask", "branch", "action"} <= kinds
    assert len(edges) == len(set(edges))
