"""The simulator through its CLI: local runs, JSON output, failures, and --server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

from ivr.flow import load_flow

ROOT = Path(__file__).resolve().parents[2]
CALLS = ROOT / "tests" / "calls"
AUTH = "server-test-token"
API = "server-api-token"


def ivr(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ivr", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_all_call_scripts_pass_and_cover_every_demo_node() -> None:
    proc = ivr("simulate", "--json", str(CALLS))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert all(r["passed"] for r in results) and len(results) >= 10
    for flow_id in ("acme", "bank"):
        flow = load_flow(ROOT / "flows" / f"{flow_id}.yaml").flow
        visited = {n for r in results if r["flow"] == flow_id for n in r["context"]["path"]}
        missing = set(flow.nodes) - visited
        assert not missing, f"{flow_id}: no script visits {sorted(missing)}"
    reasons = {r["context"]["reason"] for r in results}
    assert {"retries_exhausted", "caller_request", "lost_card"} <= reasons


def test_json_output_shape_for_design_example() -> None:
    proc = ivr("simulate", "--json", str(CALLS / "acme_lost_card.yaml"))
    assert proc.returncode == 0
    out = json.loads(proc.stdout)
    assert out["passed"] is True and out["failures"] == []
    ctx = out["context"]
    for key in ("call_id", "caller", "flow", "language", "path", "slots", "transcript", "reason", "failed_node",
                "auth", "history", "queue", "timings"):
        assert key in ctx
    assert ctx["caller"] == "+15551230000" and ctx["queue"] == "cards"


def test_failing_script_says_what_was_expected_and_what_happened(tmp_path: Path) -> None:
    script = tmp_path / "wrong.yaml"
    script.write_text("flow: acme\nsteps:\n  - press: \"1\"\n  - expect: {transfer: cards, prompt_contains: Welcome}\n")
    proc = ivr("simulate", str(script))
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout
    assert f"{script}:4:5: expected a transfer to 'cards'; the call ended without a transfer" in proc.stdout
    assert "expected a prompt containing 'Welcome'; heard: Your balance is 42 dollars." in proc.stdout
    proc = ivr("simulate", "--json", str(script))
    out = json.loads(proc.stdout)
    assert out["passed"] is False and len(out["failures"]) == 2


def test_at_pins_the_time_of_day_for_hours_and_hooks(tmp_path: Path) -> None:
    """The same keys reach the billing desk on a Monday and its voicemail on a Sunday."""
    results = {}
    for day, at in (("monday", "2026-11-30T15:00:00Z"), ("sunday", "2026-11-29T15:00:00-05:00")):
        script = tmp_path / f"{day}.yaml"
        script.write_text(f'flow: support\nat: "{at}"\nsteps:\n  - press: "2"\n')
        proc = ivr("simulate", "--json", str(script))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        results[day] = json.loads(proc.stdout)["context"]
    assert results["monday"]["routing"]["open"] is True and results["monday"]["reason"] != "out_of_hours"
    assert results["sunday"]["routing"]["open"] is False and results["sunday"]["reason"] == "out_of_hours"
    assert results["sunday"]["timings"]["started_at"].startswith("2026-11-29T20:00:")


def test_at_without_offset_or_not_a_time_is_a_precise_error(tmp_path: Path) -> None:
    script = tmp_path / "at.yaml"
    for value, message in (('"2026-11-30 10:00"', "has no UTC offset"), ('"monday"', "is not an ISO 8601 date-time"),
                           ("5", "quote the time")):
        script.write_text(f"flow: support\nat: {value}\nsteps:\n  - press: \"2\"\n")
        proc = ivr("simulate", str(script))
        assert proc.returncode == 1 and f"{script}:2:5: at: " in proc.stdout and message in proc.stdout, proc.stdout


def test_bad_script_is_a_precise_error(tmp_path: Path) -> None:
    script = tmp_path / "bad.yaml"
    script.write_text("flow: acme\nsteps:\n  - press: 12\n  - dance: yes\n")
    proc = ivr("simulate", str(script))
    assert proc.returncode == 1
    assert f"{script}:3:12: step 1: quote the keys" in proc.stdout
    assert f"{script}:4:5: step 2: unknown step 'dance'" in proc.stdout


def test_unknown_flow_in_script(tmp_path: Path) -> None:
    script = tmp_path / "nf.yaml"
    script.write_text("flow: nope\nsteps:\n  - press: \"1\"\n")
    proc = ivr("simulate", str(script))
    assert proc.returncode == 1 and "no flow 'nope' is loaded" in proc.stdout


def test_pytest_fixture_runs_scripts(run_call) -> None:
    result = run_call(CALLS / "acme_lost_card.yaml", flows=ROOT / "flows")
    assert result.passed, result.failures
    result = run_call("flow: acme\nsteps:\n  - press: \"1\"\n  - expect: {ended: false}\n", flows=ROOT / "flows")
    assert not result.passed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_audio) -> Iterator[str]:
    port = _free_port()
    inst = tmp_path_factory.mktemp("server")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))},
           "TWILIO_AUTH_TOKEN": AUTH, "IVR_API_TOKEN": API, "IVR_FLOWS_DIR": str(ROOT / "flows"),
           "IVR_INSTANCE_DIR": str(inst), "IVR_AUDIO_DIR": str(demo_audio.audio_dir),
           "IVR_MEDIA_STREAMS": "0"}  # the keypad webhook path; tests/speech covers streams against serve
    proc = subprocess.Popen([sys.executable, "-m", "ivr", "serve", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(url + "/api/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start: " + proc.stdout.read1().decode(errors="replace"))
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_design_example_against_running_server(server: str) -> None:
    proc = ivr("simulate", "--server", server, "--json", str(CALLS / "acme_lost_card.yaml"),
               env={"TWILIO_AUTH_TOKEN": AUTH, "IVR_API_TOKEN": API})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout)
    assert out["passed"] and out["context"]["reason"] == "lost_card"


def test_keypad_scripts_against_running_server(server: str) -> None:
    """Prompts play as rendered audio (assembled from pieces for the balance) and still match as text."""
    scripts = [CALLS / n for n in ("bank_balance.yaml", "bank_no_input_escalates.yaml", "bank_hangup_mid_flow.yaml",
                                   "acme_lost_card.yaml")]
    proc = ivr("simulate", "--server", server, *map(str, scripts), env={"TWILIO_AUTH_TOKEN": AUTH, "IVR_API_TOKEN": API})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed, 0 failed" in proc.stdout


def test_wait_loop_and_post_call_survey_against_running_server(server: str) -> None:
    """hold: and agent: hangup over signed webhooks: the wait loop, a callback, and the post-call survey."""
    scripts = [CALLS / n for n in ("acme_hold_callback.yaml", "acme_post_call_survey.yaml",
                                   "bank_post_call_survey.yaml", "secure_post_call_survey.yaml")]
    proc = ivr("simulate", "--server", server, "--json", *map(str, scripts),
               env={"TWILIO_AUTH_TOKEN": AUTH, "IVR_API_TOKEN": API})
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert proc.returncode == 0, "\n".join(f for r in results for f in r["failures"]) + proc.stderr
    survey = results[1]
    assert survey["context"]["path"][-2:] == ["rate", "bye"] and survey["context"]["queue"] == "cards"


def test_script_pinned_to_a_time_is_refused_against_a_server(server: str) -> None:
    proc = ivr("simulate", "--server", server, str(CALLS / "support_lost_card.yaml"),
               env={"TWILIO_AUTH_TOKEN": AUTH, "IVR_API_TOKEN": API})
    assert proc.returncode == 1 and "only the in-process simulator can honour" in proc.stdout


def test_server_refuses_unsigned_simulation(server: str) -> None:
    proc = ivr("simulate", "--server", server, str(CALLS / "acme_lost_card.yaml"), env={"TWILIO_AUTH_TOKEN": "wrong"})
    assert proc.returncode == 1 and "403" in proc.stdout


def test_serve_refuses_to_start_without_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    proc = subprocess.run([sys.executable, "-m", "ivr", "serve", "--port", str(_free_port())], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "TWILIO_AUTH_TOKEN" in proc.stderr and "IVR_DEV=1" in proc.stderr


def test_running_server_plays_rendered_audio(server: str) -> None:
    from twilio.request_validator import RequestValidator

    params = {"CallSid": "CA" + "d" * 32, "From": "+15550001111", "To": "+15005550006"}
    url = server + "/voice?flow=bank"
    sig = RequestValidator(AUTH).compute_signature(url, params)
    body = requests.post(url, data=params, headers={"X-Twilio-Signature": sig}, timeout=10).text
    assert "<Play>" in body and "/audio/" in body and "<Say" not in body
