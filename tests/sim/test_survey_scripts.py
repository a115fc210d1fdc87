"""Call scripts that run an in-flow survey, through `python -m ivr simulate --json`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SURVEY = ROOT / "tests" / "calls" / "survey"


def test_survey_call_scripts_pass() -> None:
    proc = subprocess.run([sys.executable, "-m", "ivr", "simulate", "--json", "--flows", str(SURVEY / "flows"),
                           str(SURVEY)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {Path(r["script"]).stem if "script" in r else i: r
               for i, r in enumerate(json.loads(line) for line in proc.stdout.splitlines())}
    assert len(results) == 3 and all(r["passed"] for r in results.values()), results
    by_path = {tuple(r["context"]["path"]): r["context"] for r in results.values()}
    done = by_path[("welcome", "main", "rate", "bye")]
    assert done["reason"] is None
    escaped = by_path[("welcome", "main", "rate")]
    assert escaped["reason"] == "caller_request" and escaped["transcript"][-1]["keys"] == "0"


def test_a_failing_survey_expectation_is_reported(tmp_path: Path) -> None:
    script = tmp_path / "wrong.yaml"
    script.write_text('flow: feedback\nsteps:\n  - press: "1"\n  - press: "9"\n'
                      '  - expect: {prompt_contains: How easy was it}\n')
    proc = subprocess.run([sys.executable, "-m", "ivr", "simulate", "--flows", str(SURVEY / "flows"), str(script)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 1 and "number from 1 to 5" in proc.stdout
