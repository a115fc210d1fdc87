"""``python -m ivr bench report`` stores real calls, then times the reports over them (JSON on stdout)."""

from __future__ import annotations

import json

from tests.conftest import run_ivr


def test_bench_report_prints_its_figures_as_json() -> None:
    out = run_ivr("bench", "report", "--calls", "200")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["calls"] == 200 and r["database"] == "sqlite"
    assert r["events"] > 200 * 4, "each call leaves its events: start, nodes, inputs, the end"
    assert 0 < r["containment"] < 1 and 0 < r["transferred"] < 200 and r["survey_responses"] > 0
    assert all(r[k] > 0 for k in ("report_s", "daily_s", "survey_distribution_s", "store_calls_per_s"))
