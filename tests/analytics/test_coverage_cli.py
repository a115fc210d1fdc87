"""``python -m ivr coverage``: call scripts run as ``simulate`` runs them, coverage per flow, --json, --min, files."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from ivr.analytics.coverage import flow_edges, load_saved
from ivr.flow import load_flow

from tests.analytics.test_coverage import TINY
from tests.conftest import API_TOKEN, AUTH_TOKEN, ROOT, run_ivr

CALLS = ROOT / "tests" / "calls"
SCRIPTS = {
    "news.yaml": 'flow: tiny\nsteps:\n  - press: "1"\n  - expect: {ended: true}\n',
    "number_agent.yaml": 'flow: tiny\nsteps:\n  - press: "2"\n  - press: "0"\n  - expect: {transfer: general}\n',
}


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, Path]:
    """A flows directory with the tiny flow, and a directory of two scripts over it."""
    flows, calls = tmp_path / "flows", tmp_path / "calls"
    flows.mkdir()
    calls.mkdir()
    (flows / "tiny.yaml").write_text(TINY)
    for name, text in SCRIPTS.items():
        (calls / name).write_text(text)
    return flows, calls


def coverage(*args: str, tmp: Path):
    return run_ivr("coverage", *args, env={"IVR_INSTANCE_DIR": str(tmp / "instance")})


def test_json_is_exactly_what_the_calls_took(tiny, tmp_path: Path) -> None:
    flows, calls = tiny
    proc = coverage("--flows", str(flows), "--json", str(calls), tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert isinstance(out, list) and [r["flow"] for r in out] == ["tiny"]
    r = out[0]
    assert r["nodes"] == {"covered": 5, "total": 6, "missing": ["desk"], "percent": 83.3}
    assert r["edges"] == {"covered": 4, "total": 6, "missing": [["main", "desk"], ["number", "news"]],
                          "percent": 66.7}
    assert r["covered_nodes"] == ["hello", "main", "news", "number", "bye"]
    assert r["escalations"] == [{"node": "number", "reason": "caller_request", "calls": 1}]
    assert r["calls"] == 2 and sorted(Path(s).name for s in r["scripts"]) == sorted(SCRIPTS)
    saved = load_saved(tmp_path / "instance" / "coverage", "tiny")   # default: <instance>/coverage
    assert saved["nodes"] == r["nodes"] and saved["edges"] == r["edges"] and saved["saved_at"] > 0


def test_table_names_what_is_missing(tiny, tmp_path: Path) -> None:
    flows, calls = tiny
    proc = coverage("--flows", str(flows), "--save", str(tmp_path / "cov"), str(calls), tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = next(line for line in proc.stdout.splitlines() if "tiny" in line)
    assert "5/6 (83%)" in row and "4/6 (67%)" in row and "desk" in row
    assert "main -> desk" in proc.stdout and "number -> news" in proc.stdout
    assert "2 scripts: 2 passed, 0 failed" in proc.stdout
    assert (tmp_path / "cov" / "tiny.json").is_file() and not (tmp_path / "instance" / "coverage").exists()


def test_min_fails_below_the_threshold_and_says_which(tiny, tmp_path: Path) -> None:
    flows, calls = tiny
    proc = coverage("--flows", str(flows), "--json", "--no-save", "--min", "70", str(calls), tmp=tmp_path)
    assert proc.returncode == 1
    assert "flow 'tiny' edges 66.7% (4/6)" in proc.stderr and "nodes" not in proc.stderr
    assert json.loads(proc.stdout)[0]["edges"]["covered"] == 4   # still reported
    assert coverage("--flows", str(flows), "--no-save", "--min", "66", str(calls), tmp=tmp_path).returncode == 0
    (calls / "number_ok.yaml").write_text('flow: tiny\nsteps:\n  - press: "2"\n  - press: "123#"\n'
                                          '  - expect: {ended: true}\n')
    (calls / "desk.yaml").write_text('flow: tiny\nsteps:\n  - press: "3"\n  - expect: {transfer: general}\n')
    proc = coverage("--flows", str(flows), "--json", "--no-save", "--min", "100", str(calls), tmp=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["edges"]["missing"] == []


def test_a_failing_script_fails_the_run_but_coverage_is_still_printed(tiny, tmp_path: Path) -> None:
    flows, calls = tiny
    (calls / "wrong.yaml").write_text('flow: tiny\nsteps:\n  - press: "3"\n  - expect: {transfer: cards}\n')
    proc = coverage("--flows", str(flows), "--json", "--no-save", str(calls), tmp=tmp_path)
    assert proc.returncode == 1
    assert "FAIL" in proc.stderr and "wrong.yaml" in proc.stderr and "expected a transfer to 'cards'" in proc.stderr
    out = json.loads(proc.stdout)
    assert out[0]["calls"] == 3 and "desk" in out[0]["covered_nodes"]   # the path it took still counts


def test_bad_usage_exits_2(tiny, tmp_path: Path) -> None:
    flows, calls = tiny
    assert coverage("--flows", str(flows), tmp=tmp_path).returncode == 2                     # no scripts
    assert coverage("--flows", str(flows), "--min", "120", str(calls), tmp=tmp_path).returncode == 2
    proc = coverage("--flows", str(flows), str(tmp_path / "empty_dir_does_not_exist_as_dir"), tmp=tmp_path)
    assert proc.returncode == 1   # a script file that is not there is a failed script, as in simulate
    empty = tmp_path / "none"
    empty.mkdir()
    proc = coverage("--flows", str(flows), str(empty), tmp=tmp_path)
    assert proc.returncode == 2 and "no call scripts" in proc.stderr
    proc = coverage("--flows", str(tmp_path / "nope"), str(calls), tmp=tmp_path)
    assert proc.returncode == 2 and "--flows" in proc.stderr


def test_the_repository_call_scripts(tmp_path: Path) -> None:
    """Over tests/calls: coverage agrees with the paths simulate reports for the same scripts."""
    proc = coverage("--json", "--no-save", str(CALLS), tmp=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = {r["flow"]: r for r in json.loads(proc.stdout)}
    sim = run_ivr("simulate", "--json", str(CALLS))
    assert sim.returncode == 0, sim.stdout + sim.stderr
    runs = [json.loads(line) for line in sim.stdout.splitlines()]
    assert set(report) == {r["flow"] for r in runs}
    for flow_id, r in report.items():
        flow = load_flow(ROOT / "flows" / f"{flow_id}.yaml").flow
        paths = [run["context"]["path"] for run in runs if run["flow"] == flow_id]
        visited = {n for p in paths for n in p}
        steps = {pair for p in paths for pair in zip(p, p[1:])}
        declared = flow_edges(flow)
        assert r["calls"] == len(paths)
        assert r["covered_nodes"] == [n for n in flow.nodes if n in visited]
        assert r["nodes"]["missing"] == [n for n in flow.nodes if n not in visited]
        assert r["covered_edges"] == [list(e) for e in declared if e in steps]
        assert r["edges"]["missing"] == [list(e) for e in declared if e not in steps]
        assert r["edges"]["total"] == len(declared)
    # The demo lines have a script through every node and every declared edge.
    for flow_id in ("acme", "bank"):
        assert report[flow_id]["nodes"]["missing"] == [] and report[flow_id]["edges"]["missing"] == []
    reasons = {e["reason"] for r in report.values() for e in r["escalations"]}
    assert reasons == {"caller_request", "retries_exhausted"}


def test_against_a_running_server_coverage_is_the_same_as_in_process(tmp_path: Path) -> None:
    """``--server``: the same scripts over signed webhooks cover exactly what they cover in-process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))},
           "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "IVR_API_TOKEN": API_TOKEN, "IVR_FLOWS_DIR": str(ROOT / "flows"),
           "IVR_INSTANCE_DIR": str(tmp_path / "server"), "IVR_AUDIO_DIR": str(tmp_path / "audio"),
           "IVR_MEDIA_STREAMS": "0"}
    server = subprocess.Popen([sys.executable, "-m", "ivr", "serve", "--port", str(port), "--streams", "0"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    scripts = [str(CALLS / n) for n in ("acme_lost_card.yaml", "bank_balance.yaml", "bank_no_input_escalates.yaml",
                                        "bank_hangup_mid_flow.yaml")]
    try:
        for _ in range(300):
            try:
                if requests.get(url + "/api/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        remote = run_ivr("coverage", "--server", url, "--json", "--no-save", *scripts,
                         env={"TWILIO_AUTH_TOKEN": AUTH_TOKEN, "IVR_API_TOKEN": API_TOKEN})
    finally:
        server.terminate()
        server.wait(timeout=20)
    local = coverage("--json", "--no-save", *scripts, tmp=tmp_path)
    assert remote.returncode == 0 and local.returncode == 0, remote.stdout + remote.stderr + local.stderr
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    bank = next(r for r in json.loads(local.stdout) if r["flow"] == "bank")
    assert bank["escalations"] == [{"node": "main", "reason": "retries_exhausted", "calls": 1}]
