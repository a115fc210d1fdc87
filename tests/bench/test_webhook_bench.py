"""``python -m ivr bench webhook`` end to end, small: it must keep producing its figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_webhook_bench_prints_both_servers_figures() -> None:
    proc = subprocess.run([sys.executable, "-m", "ivr", "bench", "webhook", "--calls", "12", "--concurrency", "3"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300, env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for side in ("ivr", "bare"):
        figures = out[side]
        assert figures["calls"] == 12 and figures["requests"] == 60 and figures["errors"] == 0, figures
        assert figures["calls_per_s"] > 0 and 0 < figures["p50_ms"] <= figures["p99_ms"]
    assert out["server"]["prompts"] == "rendered" and 0 < out["throughput_ratio"]
