"""``python -m ivr report``: the tables people read, CSV, usage errors, and a database with no calls."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.conftest import run_ivr

from .conftest import Calls, report
from .test_report import AGENT, CONTAINED, HANGUP_AT_ORDER, ORDER


def _some_calls(calls: Calls) -> None:
    for script in (CONTAINED, ORDER, AGENT, HANGUP_AT_ORDER):
        calls.run(script)


def test_tables_show_the_flow_its_numbers_funnel_and_reasons(shop_flows, sqlite_url, tmp_path) -> None:
    calls = Calls(sqlite_url, shop_flows, tmp_path / "instance")
    try:
        _some_calls(calls)
    finally:
        calls.close()
    result = report(sqlite_url)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Calls by flow" in out
    summary = next(line for line in out.splitlines() if line.startswith("│ shop"))
    assert [c.strip() for c in summary.strip("│").split("│")][:7] == ["shop", "4", "1", "2", "1", "0", "25 %"]
    assert "shop: where callers went" in out
    order = next(line for line in out.splitlines() if "order_number" in line)
    assert [c.strip() for c in order.strip("│").split("│")] == ["order_number", "2", "1", "1", "0", "0", "0"]
    assert "shop: why callers transferred" in out and "order_enquiry" in out and "caller_request" in out
    assert "Survey: no responses" in out


def test_csv_is_one_row_per_flow_with_flat_columns(shop_flows, sqlite_url, tmp_path) -> None:
    calls = Calls(sqlite_url, shop_flows, tmp_path / "instance")
    try:
        _some_calls(calls)
    finally:
        calls.close()
    result = report(sqlite_url, "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 1
    row = rows[0]
    assert (row["flow"], row["calls"], row["contained"], row["transferred"], row["abandoned"]) == \
        ("shop", "4", "1", "2", "1")
    assert row["containment"] == "0.25" and row["csat"] == ""
    assert row["transfer_reason:order_enquiry"] == "1" and row["transfer_reason:caller_request"] == "1"
    assert row["abandoned_at:order_number"] == "1"


def test_bad_usage_exits_2_and_says_the_format(sqlite_url) -> None:
    result = report(sqlite_url, "--since", "last tuesday")
    assert result.exit_code == 2
    assert "ISO 8601" in result.output and "2026-11-30T10:00:00+00:00" in result.output
    result = report(sqlite_url, "--json", "--csv")
    assert result.exit_code == 2 and "not both" in result.output
    result = report(sqlite_url, "--since", "2026-11-30", "--until", "2026-11-01")
    assert result.exit_code == 2 and "--until must be after --since" in result.output


def test_a_new_database_has_nothing_to_report(sqlite_url) -> None:
    assert json.loads(report(sqlite_url, "--json").output) == []
    result = report(sqlite_url)
    assert result.exit_code == 0 and "No calls recorded" in result.output


def test_an_unreachable_database_is_a_failure_with_the_fix(tmp_path) -> None:
    proc = run_ivr("report", env={"IVR_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert proc.returncode == 1
    assert "cannot read the call records at IVR_DATABASE_URL" in proc.stderr


def test_no_slot_value_reaches_a_report(sqlite_url, tmp_path) -> None:
    """A balance call with an account number and a PIN: neither appears in any output of the report."""
    root = Path(__file__).resolve().parents[2]
    calls = Calls(sqlite_url, root / "flows", tmp_path / "instance")
    try:
        calls.run((root / "tests" / "calls" / "bank_balance.yaml").read_text())
        distribution = calls.services.analytics.survey_distribution("bank")
    finally:
        calls.close()
    outputs = [report(sqlite_url, *args).output for args in ((), ("--json",), ("--csv",))]
    assert json.loads(outputs[1])[0]["contained"] == 1
    for out in outputs + [json.dumps(distribution)]:
        assert "2468" not in out and "12345678" not in out and "1,204.50" not in out
