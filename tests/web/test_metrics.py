"""``GET /metrics``: Prometheus text counted from signed webhook calls, behind the bearer token, and its
totals across the workers of ``serve --workers 2``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from twilio.request_validator import RequestValidator

from tests.conftest import API_TOKEN, AUTH_TOKEN, ROOT, SignedClient, call_params
from tests.web.test_voice import task, twiml

BEARER = {"Authorization": f"Bearer {API_TOKEN}"}


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a Prometheus text, by name and labels."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def scrape(client) -> tuple[str, dict]:
    resp = client.get("/metrics", headers=BEARER)
    assert resp.status_code == 200, resp.data
    assert resp.mimetype == "text/plain"
    text = resp.get_data(as_text=True)
    return text, samples(text)


def sid(n: int) -> str:
    return f"CA{n:032d}"


def test_calls_outcomes_transfers_abandonment_and_recognition_are_counted(app, twilio: SignedClient) -> None:
    # 1: key 2 -> the cards transfer (lost_card).
    root = twiml(twilio.post("/voice?flow=acme", call_params(sid(1))))
    action = root.find("Gather").get("action")
    assert task(twiml(twilio.post(action, call_params(sid(1), Digits="2"))))["reason"] == "lost_card"
    twilio.post(action, call_params(sid(1), Digits="2"))           # Twilio retries the Gather: nothing new
    # 2: key 1 -> balance -> goodbye: contained.
    root = twiml(twilio.post("/voice?flow=acme", call_params(sid(2))))
    twiml(twilio.post(root.find("Gather").get("action"), call_params(sid(2), Digits="1")))
    # 3: a wrong key, then the caller hangs up at the menu: abandoned at main.
    root = twiml(twilio.post("/voice?flow=acme", call_params(sid(3))))
    twiml(twilio.post(root.find("Gather").get("action"), call_params(sid(3), Digits="9")))
    assert twilio.post("/voice/status", call_params(sid(3), CallStatus="completed")).status_code == 200
    # 4: silence three times: retries exhausted, to a person.
    root = twiml(twilio.post("/voice?flow=acme", call_params(sid(4))))
    for _ in range(3):
        root = twiml(twilio.post(root.find("Redirect").text, call_params(sid(4))))
    assert task(root)["reason"] == "retries_exhausted"
    # 5: key 0 on the bank line: the caller asks for a person.
    root = twiml(twilio.post("/voice?flow=bank", call_params(sid(5))))
    assert task(twiml(twilio.post(root.find("Gather").get("action"),
                                  call_params(sid(5), Digits="0"))))["reason"] == "caller_request"

    text, m = scrape(twilio.client)
    assert value(m, "ivr_calls_started_total", flow="acme") == 4
    assert value(m, "ivr_calls_started_total", flow="bank") == 1
    assert value(m, "ivr_calls_ended_total", flow="acme", outcome="transferred") == 2
    assert value(m, "ivr_calls_ended_total", flow="acme", outcome="contained") == 1
    assert value(m, "ivr_calls_ended_total", flow="acme", outcome="abandoned") == 1
    assert value(m, "ivr_calls_ended_total", flow="bank", outcome="transferred") == 1
    assert value(m, "ivr_transfers_total", flow="acme", reason="lost_card", mode="agent") == 1
    assert value(m, "ivr_transfers_total", flow="acme", reason="retries_exhausted", mode="agent") == 1
    assert value(m, "ivr_transfers_total", flow="bank", reason="caller_request", mode="agent") == 1
    assert value(m, "ivr_abandoned_total", flow="acme", node="main") == 1
    assert value(m, "ivr_recognitions_total", flow="acme", input="dtmf", outcome="match") == 2
    assert value(m, "ivr_recognitions_total", flow="acme", input="dtmf", outcome="no_match") == 1
    assert value(m, "ivr_recognitions_total", flow="acme", input="none", outcome="no_input") == 3
    assert value(m, "ivr_recognitions_total", flow="bank", input="dtmf", outcome="agent") == 1
    # Every webhook is timed by its route; the scrape and API calls are not webhooks.
    assert value(m, "ivr_webhook_duration_seconds_count", endpoint="/voice", method="POST") == 5
    assert value(m, "ivr_webhook_duration_seconds_count", endpoint="/voice/input", method="POST") == 5
    assert value(m, "ivr_webhook_duration_seconds_count", endpoint="/voice/noinput", method="POST") == 3
    assert value(m, "ivr_webhook_duration_seconds_count", endpoint="/voice/status", method="POST") == 1
    assert not any(labels and dict(labels).get("endpoint") == "/metrics" for _, labels in m)
    # Nothing that identifies a caller or a call reaches the metrics.
    assert "+1555" not in text and "CA000" not in text and "CallSid" not in text


def test_a_rejected_webhook_is_timed_but_counts_no_call(twilio: SignedClient) -> None:
    assert twilio.post("/voice?flow=acme", call_params(sid(7)), sign=False).status_code == 403
    _, m = scrape(twilio.client)
    assert value(m, "ivr_calls_started_total", flow="acme") == 0
    assert value(m, "ivr_webhook_duration_seconds_count", endpoint="/voice", method="POST") == 1


def test_metrics_are_open_unless_a_metrics_token_is_set(make_app) -> None:
    """Scrapers read /metrics without the API token (no caller data in it); IVR_METRICS_TOKEN closes it."""
    assert make_app().test_client().get("/metrics").status_code == 200
    closed = make_app(metrics_token="scrape-secret").test_client()
    assert closed.get("/metrics").status_code == 401
    assert closed.get("/metrics", headers=BEARER).status_code == 401, "the API token is not the metrics token"
    resp = closed.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert resp.status_code == 401 and "IVR_METRICS_TOKEN" in resp.json["hint"]
    ok = closed.get("/metrics", headers={"Authorization": "Bearer scrape-secret"})
    assert ok.status_code == 200 and "ivr_calls_started_total" in ok.get_data(as_text=True)


# -- several workers -------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``python -m ivr serve --workers 2`` on the demo flows (keypad TwiML); its URL and instance dir."""
    port = _free_port()
    inst = tmp_path / "instance"
    stale = inst / "metrics" / "counter_1.db"     # a previous run's totals must not be added to this one's
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"\0" * 16)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_", "PROMETHEUS_"))},
           "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "IVR_API_TOKEN": API_TOKEN, "IVR_FLOWS_DIR": str(ROOT / "flows"),
           "IVR_INSTANCE_DIR": str(inst), "IVR_AUDIO_DIR": str(tmp_path / "audio"), "IVR_MEDIA_STREAMS": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "ivr", "serve", "--port", str(port), "--workers", "2",
                             "--streams", "0"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(url + "/api/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            proc.kill()
            raise RuntimeError("server did not start: " + proc.communicate()[0].decode(errors="replace"))
        yield url, inst
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _call(url: str, n: int) -> None:
    """One call to the acme flow over its own connection: key 2, the cards transfer."""
    validator = RequestValidator(AUTH_TOKEN)
    params = call_params(sid(100 + n))
    first = url + "/voice?flow=acme"
    with requests.Session() as s:
        r = s.post(first, data=params, headers={"X-Twilio-Signature": validator.compute_signature(first, params),
                                                "Connection": "close"}, timeout=15)
        assert r.status_code == 200 and "<Gather" in r.text, r.text
    nxt = url + "/voice/input?node=main&turn=1"
    params = {**params, "Digits": "2"}
    with requests.Session() as s:
        r = s.post(nxt, data=params, headers={"X-Twilio-Signature": validator.compute_signature(nxt, params),
                                              "Connection": "close"}, timeout=15)
        assert r.status_code == 200 and "<Enqueue" in r.text, r.text


def test_totals_are_the_sum_over_workers(two_workers: tuple[str, Path]) -> None:
    url, inst = two_workers
    files = inst / "metrics"
    assert not (files / "counter_1.db").exists()
    calls = 0
    with ThreadPoolExecutor(4) as pool:
        while calls < 80:
            list(pool.map(lambda n: _call(url, n), range(calls, calls + 8)))
            calls += 8
            if len({p.name for p in files.glob("counter_*.db")}) >= 2:
                break
    workers = {p.name for p in files.glob("counter_*.db")}
    assert len(workers) == 2, f"the calls reached only {workers} after {calls} calls"
    for _ in range(6):     # each scrape is answered by either worker: every one has the server's totals
        resp = requests.get(url + "/metrics", headers={**BEARER, "Connection": "close"}, timeout=10)
        assert resp.status_code == 200
        m = samples(resp.text)
        assert value(m, "ivr_calls_started_total", flow="acme") == calls
        assert value(m, "ivr_calls_ended_total", flow="acme", outcome="transferred") == calls
        assert value(m, "ivr_transfers_total", flow="acme", reason="lost_card", mode="agent") == calls
        assert value(m, "ivr_recognitions_total", flow="acme", input="dtmf", outcome="match") == calls
        assert value(m, "ivr_webhook_duration_seconds_count", endpoint="/voice", method="POST") == calls
    assert requests.get(url + "/metrics", timeout=10).status_code == 200   # open: no token needed by scrapers
