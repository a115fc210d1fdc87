"""Call scripts for handoff, run through the command line as testers run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CALLS = ROOT / "tests" / "calls" / "handoff"
ORDER = ["route_by_path.yaml", "history_1_first_call.yaml", "history_2_second_call.yaml", "out_of_hours.yaml",
         "voicemail_node.yaml"]


def simulate(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    return subprocess.run([sys.executable, "-m", "ivr", "simulate", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_handoff_call_scripts_pass_and_second_call_carries_the_first():
    proc = simulate("--flows", str(CALLS / "flows"), "--json", *[str(CALLS / f) for f in ORDER])
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [r["passed"] for r in results] == [True] * len(ORDER)
    first, second = results[1]["context"], results[2]["context"]
    assert first["history"] == []
    assert second["history"][0]["call_id"] == first["call_id"]
    assert second["history"][0]["queue"] == "general"
    assert second["summary"].startswith("Repeat caller (1 earlier call)")
    assert results[0]["context"]["routing"] == {"queue": "cards", "requested": "general", "rule": "cards-path",
                                               "mode": "agent", "open": True, "opens_at": None, "priority": None}


def test_design_example_still_simulates():
    script = CALLS / "flows" / ".." / "route_by_path.yaml"
    assert script.exists()
    acme = ROOT / "tests" / "handoff" / "acme_cards.yaml"
    proc = simulate("--flows", str(ROOT / "flows"), str(acme))
    assert proc.returncode == 0, proc.stdout + proc.stderr
