"""The ``hold:`` and ``agent: hangup`` script steps: parsing, precise errors, and in-process runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivr.errors import FlowError
from ivr.sim import parse_script
from ivr.sim.script import Hold

from tests.sim.test_simulate import ivr


def _problems(text: str) -> list[str]:
    with pytest.raises(FlowError) as info:
        parse_script(text, "s.yaml")
    return [p.format() for p in info.value.problems]


def test_hold_and_agent_steps_parse() -> None:
    script = parse_script("flow: acme\nsteps:\n  - hold: {position: 3, average_wait: 120}\n  - hold:\n"
                          "  - agent: hangup\n", "s.yaml")
    assert [(s.kind, s.value) for s in script.steps] == [("hold", Hold(3, 120)), ("hold", Hold(1, 0)),
                                                         ("agent", "hangup")]


@pytest.mark.parametrize("step, where, words", [
    ("hold: 3", "s.yaml:3:11:", "hold takes a mapping: hold: {position: 2, average_wait: 90}"),
    ("hold: {positon: 2}", "s.yaml:3:12:", "unknown key 'positon'; use position"),
    ("hold: {position: 0}", "s.yaml:3:22:", "position takes a whole number of at least 1 (got 0)"),
    ("hold: {average_wait: fast}", "s.yaml:3:26:", "average_wait takes a whole number of at least 0"),
    ("agent: leaves", "s.yaml:3:12:", "agent takes hangup (the person ends their leg of the call): agent: hangup"),
])
def test_bad_steps_are_precise_errors(step: str, where: str, words: str) -> None:
    problems = _problems(f"flow: acme\nsteps:\n  - {step}\n")
    assert len(problems) == 1 and problems[0].startswith(where) and words in problems[0], problems


def _run(tmp_path: Path, steps: str) -> dict:
    script = tmp_path / "s.yaml"
    script.write_text("flow: acme\ncaller: \"+15551239999\"\nsteps:\n" + steps)
    proc = ivr("simulate", "--json", str(script))
    return json.loads(proc.stdout.splitlines()[0])


def test_hold_before_any_transfer_says_what_is_wrong(tmp_path: Path) -> None:
    out = _run(tmp_path, "  - hold: {position: 1}\n")
    assert not out["passed"]
    assert out["failures"][0].endswith("s.yaml:4:5: hold: the call has not been transferred to a person yet")


def test_steps_after_the_transfer_need_hold_or_agent(tmp_path: Path) -> None:
    out = _run(tmp_path, "  - press: \"2\"\n  - press: \"1\"\n")
    assert not out["passed"] and "cannot press: the call has already ended" in out["failures"][0]


def test_agent_hangup_twice_says_the_caller_is_not_with_a_person(tmp_path: Path) -> None:
    out = _run(tmp_path, "  - press: \"2\"\n  - agent: hangup\n  - press: \"2\"\n  - agent: hangup\n")
    assert not out["passed"]
    assert "agent: hangup: the caller is not with a person" in out["failures"][0], out["failures"]


def test_wait_loop_silence_plays_the_loop_again(tmp_path: Path) -> None:
    out = _run(tmp_path, "  - press: \"2\"\n  - hold: {position: 4, average_wait: 300}\n  - silence: 10\n"
                         "  - expect: {prompt_contains: [number 4 in line, about 5 minutes], ended: false}\n"
                         "  - press: \"2\"\n  - expect: {prompt_contains: leave your message after the tone}\n"
                         "  - say: my card was stolen in Rome please call me\n"
                         "  - expect: {ended: true, events: [{kind: queue_result, data: {result: leave}}, "
                         "{kind: voicemail, data: {queue: cards}}]}\n")
    assert out["passed"], out["failures"]
