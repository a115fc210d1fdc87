"""Fuzz the flow loader: whatever the text, it loads or raises FlowError with positions, fast.

Three sources of input: arbitrary text, YAML assembled from hostile pieces
(aliases, tags, deep nesting, odd scalars), and mutations of the demo flow
``flows/acme.yaml`` and of its parsed structure.  Any exception other than :class:`~ivr.errors.FlowError`
is a bug a designer's typo could trigger on a live server.  Each test runs
150 examples (``IVR_FUZZ_EXAMPLES=3000`` for a longer hunt).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ivr.errors import FlowError
from ivr.flow import load_flow_text

ACME = (Path(__file__).resolve().parents[2] / "flows" / "acme.yaml").read_text()
FILE = "fuzz.yaml"
FUZZ = settings(max_examples=int(os.environ.get("IVR_FUZZ_EXAMPLES", 150)), deadline=None, suppress_health_check=[HealthCheck.too_slow])

HOSTILE_PIECES = [
    "[", "]", "{", "}", "- ", ": ", ", ", "? ", "\n", "\n  ", "\n    ", "\t", "#", "&a ", "*a", "<<: ", "!!python/object:os.system ",
    "!!binary ", "!!set ", "!!omap ", "!!timestamp ", "!!float ", "!!int ", "|\n  ", ">-\n  ", "'", '"', "\\",
    "\x00", "\ufeff", "\uffff", "\ud7ff", "\x85", "\u2028", "%YAML 1.1\n", "---\n", "...\n", "2026-13-45", "1e400",
    "-.inf", ".nan", "0x1F", "0o17", "010", "yes", "on", "~", "null", "9" * 5000, "x" * 12_000, "[" * 300, "{a: " * 60,
    "- " * 80, "flow: ", "start: ", "nodes:", "key: ", "goto: ", "say: ", "menu:", "options:", "retries: ",
    "settings:", "routing:", "when:", "numbers:", "queues:", "pattern: '(a+)+$'",
]


def assert_loads_or_reports(text: str) -> None:
    start = time.perf_counter()
    try:
        load_flow_text(text, FILE)
    except FlowError as exc:
        assert exc.problems, "a FlowError must say what is wrong"
        for p in exc.problems:
            assert p.file == FILE and p.line >= 1 and p.col >= 1 and p.message, p.format()
            assert p.format().startswith(f"{FILE}:{p.line}:{p.col}: ")
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"loading {len(text)} characters took {elapsed:.2f} s"


@FUZZ
@given(st.text(max_size=2000))
def test_arbitrary_text_loads_or_is_a_flow_error(text: str) -> None:
    assert_loads_or_reports(text)


@FUZZ
@given(st.lists(st.sampled_from(HOSTILE_PIECES) | st.text(max_size=8), max_size=60).map("".join))
@example("!!float ")  # found by this test: IndexError inside PyYAML; tags are now refused
@example("a: !!timestamp x")  # AttributeError inside PyYAML
@example("settings: {retries: 2026-13-45}")  # ValueError: month must be in 1..12
@example("a: \x00")  # ReaderError raised before parsing
def test_hostile_yaml_loads_or_is_a_flow_error(text: str) -> None:
    assert_loads_or_reports(text)


_edit = st.tuples(st.sampled_from(["delete", "insert", "duplicate", "replace"]),
                  st.integers(0, len(ACME)), st.integers(0, 80),
                  st.sampled_from(HOSTILE_PIECES) | st.text(max_size=6))


def _mutate(text: str, edits: list[tuple[str, int, int, str]]) -> str:
    for op, at, size, piece in edits:
        at = min(at, len(text))
        if op == "delete":
            text = text[:at] + text[at + size:]
        elif op == "insert":
            text = text[:at] + piece + text[at:]
        elif op == "duplicate":
            text = text[:at] + text[at:at + size] + text[at:]
        else:
            text = text[:at] + piece + text[at + len(piece):]
    return text


@FUZZ
@given(st.lists(_edit, min_size=1, max_size=4))
def test_mutations_of_the_demo_flow_load_or_are_flow_errors(edits: list[tuple[str, int, int, str]]) -> None:
    assert_loads_or_reports(_mutate(ACME, edits))


_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats() | st.sampled_from(HOSTILE_PIECES)
    | st.text(max_size=12) | st.sampled_from(["welcome", "main", "balance", "cards", "bye", "general", "1", "0",
                                                       "csat", "ces", "nps", "yesno"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["say", "next", "menu", "prompt", "options", "key", "goto", "transfer", "queue", "ask",
                         "slot", "input", "branch", "cases", "when", "default", "action", "hook", "hangup",
                         "no_input", "no_match", "retries", "pattern", "min_length", "max_length", "sensitive",
                         "survey", "questions", "kind", "id", "authenticate", "outcomes", "voicemail", "callback",
                         "routing", "called", "entry", "hours", "weekly", "holidays", "target", "fields"])
        | st.text(max_size=6), inner, max_size=4),
    max_leaves=12)


def _replace(data: Any, path: list[int], value: Any) -> Any:
    """``data`` with the subtree chosen by ``path`` (indices into keys/items, modulo) set to ``value``."""
    if not path or not isinstance(data, (dict, list)) or not data:
        return value
    if isinstance(data, dict):
        key = list(data)[path[0] % len(data)]
        return {**data, key: _replace(data[key], path[1:], value)}
    i = path[0] % len(data)
    return [*data[:i], _replace(data[i], path[1:], value), *data[i + 1:]]


@FUZZ
@given(st.lists(st.tuples(st.lists(st.integers(0, 50), max_size=7), _values), min_size=1, max_size=3))
@example([([5, 1, 0], None)])  # found by this test: "menu:" with nothing under it crashed cross_check
def test_well_formed_yaml_with_wrong_values_loads_or_is_a_flow_error(changes: list[tuple[list[int], Any]]) -> None:
    data = yaml.safe_load(ACME)
    for path, value in changes:
        data = _replace(data, path, value)
    assert_loads_or_reports(yaml.safe_dump(data, allow_unicode=True))


def test_the_unmutated_demo_flow_loads() -> None:  # the mutation test starts from a valid flow
    assert load_flow_text(ACME, FILE).flow.flow == "acme"
