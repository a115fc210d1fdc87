"""`python -m ivr callbacks` and `python -m ivr voicemails`, through the CLI on a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from ivr.config import Config
from ivr.handoff.service import Handoff
from ivr.services import build_services

ROOT = Path(__file__).resolve().parents[2]


def ivr(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env.update(IVR_INSTANCE_DIR=str(tmp), IVR_FLOWS_DIR=str(ROOT / "flows"), IVR_SECRET_KEY="cli")
    return subprocess.run([sys.executable, "-m", "ivr", *args], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)


def test_callbacks_and_voicemails_listed(tmp_path: Path) -> None:
    services = build_services(Config.from_env({}, flows_dir=str(ROOT / "flows"), instance_dir=str(tmp_path),
                                              secret_key="cli"))
    h = Handoff(services)
    now = time.time()
    due = h.records.add_callback(call_id="CA1", number="+15550001111", at=now - 60, due_at=now - 30,
                                 queue="cards", caller="+15550001111")
    h.records.add_callback(call_id="CA2", number="+15550002222", at=now, due_at=now + 3600, queue="billing")
    h.records.add_voicemail(call_id="CA3", at=now, queue="general", caller="+15550003333")
    h.close()
    services.close()

    proc = ivr(tmp_path, "callbacks", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [c["id"] for c in json.loads(proc.stdout)] == [due["id"]]  # only the one that is due
    proc = ivr(tmp_path, "callbacks", "--all")
    assert proc.returncode == 0 and "+15550001111" in proc.stdout and "+15550002222" in proc.stdout
    proc = ivr(tmp_path, "callbacks", "dial", "--dry-run")
    assert proc.returncode == 0 and "would dial +15550001111" in proc.stdout and "+15550002222" not in proc.stdout
    proc = ivr(tmp_path, "voicemails", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)[0]["caller"] == "+15550003333"
