"""Hostile flow files are refused fast, through ``python -m ivr validate``, never with a traceback.

Each limit of :mod:`ivr.flow.limits` has a test through the CLI that says
which limit the file broke and how to fix it, as ``file:line:col: message``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli import main
from ivr.errors import FlowError
from ivr.flow import limits, load_flow, load_flow_text
from ivr.flow.yaml_source import parse_yaml

ROOT = Path(__file__).resolve().parents[2]


def validate_subprocess(*paths: Path) -> subprocess.CompletedProcess:
    """The real command line, in its own interpreter (a RecursionError or hang would show)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    return subprocess.run([sys.executable, "-m", "ivr", "validate", *map(str, paths)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def validate(path: Path) -> tuple[int, list[str]]:
    """``ivr validate PATH`` in-process: exit code and the problem lines; any exception fails the test."""
    result = CliRunner().invoke(main, ["validate", str(path)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, [line for line in result.stdout.splitlines() if line.strip()]


def flow_with_nodes(n: int, say: str = "Hello.") -> str:
    """A valid flow of ``n`` say nodes in a chain (the last hangs up)."""
    body = "".join(f"  n{i}:\n    say: {say}\n    next: n{i + 1}\n" for i in range(n - 1))
    return f"flow: big\nstart: n0\nnodes:\n{body}  n{n - 1}:\n    hangup: Bye.\n"


def menu_flow(options: int, phrases: int = 1) -> str:
    """A flow whose one menu has ``options`` options of ``phrases`` phrases each (keys 1-9, then speech only)."""
    opts = "".join(
        (f"        - key: \"{i}\"\n" if i <= 9 else "        - goto: bye\n")
        + f"          say: [{', '.join(f'word{i}x{j}' for j in range(phrases))}]\n"
        + ("          goto: bye\n" if i <= 9 else "") for i in range(1, options + 1))
    return (f"flow: menus\nstart: main\nnodes:\n  main:\n    menu:\n      prompt: Choose.\n"
            f"      options:\n{opts}  bye:\n    hangup: Bye.\n")


def test_a_50_mb_flow_is_refused_before_reading_in_well_under_100_ms(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    chunk = flow_with_nodes(2000).encode()
    with big.open("wb") as fh:
        while fh.tell() < 50 * 1024 * 1024:
            fh.write(chunk)
        fh.truncate(50 * 1024 * 1024)
    start = time.perf_counter()
    with pytest.raises(FlowError) as info:
        load_flow(big)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.1, f"refusing a 50 MB file took {elapsed * 1000:.0f} ms"
    (problem,) = info.value.problems
    assert (problem.line, problem.col) == (1, 1)
    assert "50.0 MiB" in problem.message and "at most 1.0 MiB" in problem.message and "split" in problem.message

    proc = validate_subprocess(big)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stdout.strip() == problem.format()
    big.unlink()


DEEP = {  # how each style nests ``levels`` deep, and where the first level over the limit starts
    "flow lists": (lambda n: "flow: deep\nstart: a\nnodes:\n  a:\n    say: " + "[" * n + "]" * n + "\n",
                   (5, 10 + limits.MAX_DEPTH - 3)),
    "flow mappings": (lambda n: "{a: " * n + "1" + "}" * n + "\n", (1, 1 + 4 * limits.MAX_DEPTH)),
    "block lists": (lambda n: "- " * n + "x\n", (1, 1 + 2 * limits.MAX_DEPTH)),
    "block mappings": (lambda n: "".join(" " * i + f"k{i}:\n" for i in range(min(n, 1000))),
                       (limits.MAX_DEPTH + 1, limits.MAX_DEPTH + 1)),
}


@pytest.mark.parametrize("levels", [400, 100_000])
@pytest.mark.parametrize("style", sorted(DEEP))
def test_deep_nesting_is_a_clear_error_never_a_recursion_error(tmp_path: Path, levels: int, style: str) -> None:
    make, (line_no, col) = DEEP[style]
    deep = tmp_path / "deep.yaml"
    deep.write_text(make(levels))
    start = time.perf_counter()
    if levels > 1000:  # the real command: a RecursionError would print a traceback
        proc = validate_subprocess(deep)
        assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stdout + proc.stderr
        code, lines = proc.returncode, proc.stdout.splitlines()
    else:  # in-process: any exception fails the test
        code, lines = validate(deep)
    elapsed = time.perf_counter() - start
    assert code == 1
    assert lines == [
        f"{deep}:{line_no}:{col}: YAML nested more than {limits.MAX_DEPTH} levels deep; a flow needs about 10: "
        "look for an unclosed [ or {, or flatten the structure"]
    assert elapsed < 10, f"validate took {elapsed:.1f} s"


def test_nesting_up_to_the_limit_still_parses() -> None:
    depth = limits.MAX_DEPTH
    doc = parse_yaml("[" * depth + "]" * depth, "ok.yaml")
    assert isinstance(doc.data, list)
    with pytest.raises(FlowError, match="nested more than"):
        parse_yaml("[" * (depth + 1) + "]" * (depth + 1), "deep.yaml")


def test_a_flow_with_too_many_nodes_is_refused_and_one_at_the_limit_loads(tmp_path: Path) -> None:
    ok = tmp_path / "ok.yaml"
    ok.write_text(flow_with_nodes(limits.MAX_NODES))
    assert validate(ok) == (0, [])

    over = tmp_path / "over.yaml"
    over.write_text(flow_with_nodes(limits.MAX_NODES + 1))
    code, lines = validate(over)
    assert code == 1
    assert lines == [f"{over}:3:1: the flow has {limits.MAX_NODES + 1} nodes; a flow may have at most "
                     f"{limits.MAX_NODES}: split it into several flows, each reached by its own number "
                     "(numbers:) or entry point (?entry=NAME)"]


def test_a_mapping_with_too_many_entries_is_refused_while_composing(tmp_path: Path) -> None:
    wide = tmp_path / "wide.yaml"
    wide.write_text(flow_with_nodes(limits.MAX_ITEMS + 1))
    code, lines = validate(wide)
    assert code == 1
    (line,) = lines
    assert line.startswith(f"{wide}:{3 + 3 * limits.MAX_ITEMS + 1}:3: a mapping with more than 1,000 entries")


def test_a_list_with_too_many_entries_is_refused(tmp_path: Path) -> None:
    numbers = "".join(f"  - \"+1555{i:07d}\"\n" for i in range(limits.MAX_ITEMS + 1))
    f = tmp_path / "numbers.yaml"
    f.write_text(flow_with_nodes(2) + "numbers:\n" + numbers)
    code, lines = validate(f)
    assert code == 1
    assert lines[0].startswith(f"{f}:{9 + limits.MAX_ITEMS + 1}:5: a list with more than 1,000 entries")


def test_a_menu_with_too_many_options_is_refused(tmp_path: Path) -> None:
    ok = tmp_path / "ok.yaml"
    ok.write_text(menu_flow(limits.MAX_MENU_OPTIONS))
    assert validate(ok) == (0, [])
    over = tmp_path / "over.yaml"
    over.write_text(menu_flow(limits.MAX_MENU_OPTIONS + 1))
    code, lines = validate(over)
    assert code == 1
    (line,) = lines
    first_extra = 8 + 3 * 9 + 2 * (limits.MAX_MENU_OPTIONS - 9)  # options 10 and up have no key line
    assert line == (f"{over}:{first_extra}:11: node 'main': 25 options; a menu may have at most 24 "
                    "(callers remember about five): split it into sub-menus")


def test_an_option_with_too_many_phrases_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "phrases.yaml"
    f.write_text(menu_flow(1, phrases=limits.MAX_PHRASES + 1))
    code, lines = validate(f)
    assert code == 1
    (line,) = lines
    assert line.startswith(f"{f}:9:") and f"option 1: {limits.MAX_PHRASES + 1} phrases; an option may have at most {limits.MAX_PHRASES}" in line


def test_an_overlong_text_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "long.yaml"
    f.write_text(flow_with_nodes(2, say="x" * (limits.MAX_TEXT_CHARS + 1)))
    code, lines = validate(f)
    assert code == 1
    assert lines == [f"{f}:5:10: a text of 10,001 characters; a flow text may have at most 10,000: "
                     "shorten it or split it over several nodes"]


def test_a_fifo_in_the_flows_directory_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    code, lines = validate(fifo)  # reading it would block forever
    assert code == 1
    assert lines == [f"{fifo}:1:1: not a regular file (a directory, device or pipe); a flow is a YAML text "
                     "file: move it out of the flows directory"]


@pytest.mark.parametrize(("value", "words"), [
    ("2026-13-45", "cannot read '2026-13-45' as timestamp (month must be in 1..12); quote it"),
    ("9" * 5000, "as int (Exceeds the limit (4300 digits)"),
])
def test_values_yaml_cannot_build_are_flow_errors(value: str, words: str) -> None:
    with pytest.raises(FlowError) as info:
        load_flow_text(flow_with_nodes(2) + f"settings:\n  retries: {value}\n", "v.yaml")
    (problem,) = info.value.problems
    assert (problem.line, problem.col) == (10, 12) and words in problem.message


def test_a_nul_character_is_a_flow_error_at_its_position() -> None:
    with pytest.raises(FlowError) as info:
        load_flow_text("flow: x\nstart: a\x00\n", "nul.yaml")
    (problem,) = info.value.problems
    assert (problem.line, problem.col) == (2, 9)
    assert "U+0000 is not allowed" in problem.message
