"""Whole calls on the acme demo (a transfer, the wait loop, the agent hangs up, the post-call survey),
scripted into a database, then read back through ``report --json`` and ``coverage --json``.

What the scripts did is known exactly, so the report's counts, reasons, per-node figures, survey scores
(CSAT share of 4-5, NPS promoters minus detractors, a partial response) and first-contact resolution
across two calls of one caller are checked against it; coverage against the paths the calls took.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.cli.main import main

from .conftest import START, Calls, report_json

FLOWS = Path(__file__).resolve().parents[2] / "flows"
HOUR, DAY = 3600.0, 86400.0

SURVEYED = """\
flow: acme
caller: "{caller}"
steps:
  - press: "2"
  - expect: {{transfer: cards}}
  - hold: {{position: 1, average_wait: 30}}
  - agent: hangup
  - expect: {{node: rate, ended: false}}
  - press: "1"
  - press: "{csat}"
  - press: "{nps}#"
  - expect: {{ended: true, prompt_contains: Goodbye}}
"""
BALANCE = """\
flow: acme
caller: "{caller}"
steps:
  - press: "1"
  - expect: {{ended: true}}
"""
HANGS_UP_MID_SURVEY = """\
flow: acme
caller: "{caller}"
steps:
  - press: "2"
  - agent: hangup
  - press: "1"
  - press: "5"
  - hangup
"""
DECLINES = """\
flow: acme
caller: "{caller}"
steps:
  - press: "2"
  - agent: hangup
  - press: "2"
  - expect: {{ended: true}}
"""


@pytest.fixture
def acme(db_url: str, tmp_path: Path):
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(FLOWS / "acme.yaml", flows / "acme.yaml")
    c = Calls(db_url, flows, tmp_path / "instance")
    yield c, flows
    c.close()


def test_post_call_surveys_and_repeat_callers_in_the_report(acme, db_url: str) -> None:
    calls, _ = acme
    calls.run(SURVEYED.format(caller="+15550100001", csat=4, nps=9), at=START)
    calls.run(BALANCE.format(caller="+15550100001"), at=START + 2 * HOUR)      # the same caller, 2 h later
    calls.run(SURVEYED.format(caller="+15550100002", csat=2, nps=3), at=START + DAY)
    calls.run(HANGS_UP_MID_SURVEY.format(caller="+15550100003"), at=START + 2 * DAY)
    calls.run(DECLINES.format(caller="+15550100004"), at=START + 3 * DAY)
    (r,) = report_json(db_url, "--flow", "acme")
    assert (r["calls"], r["contained"], r["transferred"], r["abandoned"]) == (5, 1, 4, 0), \
        "a hang-up during a post-call survey is no abandonment: the call was transferred"
    assert r["transfer_reasons"] == {"lost_card": 4}
    assert r["nodes"]["cards"]["escalated"] == 4
    assert r["nodes"]["rate"]["entered"] == 3, "three callers agreed to the survey, one declined"
    survey = r["survey"]
    assert survey["responses"] == 3                       # two complete, one partial
    assert survey["csat"] == pytest.approx(2 / 3, abs=0.01)  # 4, 2, 5: two of three are 4 or 5
    assert survey["nps"] == 0                              # 9 and 3: one promoter, one detractor
    assert survey["ces"] is None
    assert r["fcr_24h"] == pytest.approx(4 / 5)           # the first call was followed by another within 24 h
    assert r["fcr_7d"] == pytest.approx(4 / 5)
    dist = calls.services.analytics.survey_distribution("acme")
    assert dist["csat"]["counts"] == {"2": 1, "4": 1, "5": 1} and dist["nps"]["counts"] == {"3": 1, "9": 1}
    assert dist["nps"]["unanswered"] == 0, "the caller who hung up was never asked the second question"


def test_coverage_of_those_calls_is_the_paths_they_took(acme, tmp_path: Path) -> None:
    _, flows = acme
    scripts = []
    for i, (text, values) in enumerate([(SURVEYED, {"csat": 4, "nps": 9}), (BALANCE, {}),
                                        (DECLINES, {})]):
        f = tmp_path / f"s{i}.yaml"
        f.write_text(textwrap.dedent(text.format(caller=f"+1555020000{i}", **values)))
        scripts.append(str(f))
    out = CliRunner().invoke(main, ["coverage", "--flows", str(flows), "--json", "--no-save", *scripts],
                             catch_exceptions=False)
    assert out.exit_code == 0, out.output
    (cov,) = json.loads(out.output)
    seen = set()
    for f in scripts:
        sim = CliRunner().invoke(main, ["simulate", "--flows", str(flows), "--json", f], catch_exceptions=False)
        seen |= set(json.loads(sim.output.splitlines()[0])["context"]["path"])
    assert set(cov["covered_nodes"]) == seen
    assert cov["nodes"]["covered"] == len(seen)
    assert {"rate", "cards", "balance", "bye"} <= seen
