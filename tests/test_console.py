"""The interactive console (`python -m ivr call FLOW`), driven through stdin."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def call(flow: str, typed: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ivr", "call", flow], input=typed, capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


def test_console_call_to_transfer() -> None:
    proc = call("acme", "\nI lost my card\n")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "IVR: Welcome to Acme." in out
    assert "Sorry, I didn't hear anything." in out  # the empty line was silence
    assert "Transferred to queue 'cards'" in out and "reason: lost_card" in out


def test_console_keys_and_goodbye() -> None:
    proc = call("flows/acme.yaml", "1\n")
    assert "Your balance is 42 dollars." in proc.stdout and "Call ended." in proc.stdout


def test_console_unknown_flow() -> None:
    proc = call("nope", "")
    assert proc.returncode == 1 and "no flow 'nope'" in proc.stdout
