"""One-time codes by SMS as the voice step-up: sent through Twilio's REST API (a recording fake),
typed in a sensitive ask, checked by any worker, bound to the call, the number and the time.

Signed webhooks through the Flask test client, with the call clock pinned.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from twilio.rest import Client

from ivr.web import parts
from tests.conftest import API_TOKEN, SignedClient, call_params
from tests.handoff.fakes import RecordingTwilioHttp

ACCOUNT = "AC" + "3" * 32
SID = "CA" + "8" * 32
FLOW = """\
flow: coded
start: send_code
settings: {speech: false, retries: 1}
queues:
  general: {}
  security: {}
nodes:
  send_code:
    action: {hook: otp.send, outcomes: {sent: code, failed: security}}
  code:
    ask:
      slot: code
      prompt: Please enter the six digit code we just sent you.
      input: digits
      min_length: 6
      max_length: 6
      sensitive: true
    next: check_code
  check_code:
    action:
      hook: otp.check
      args: {code: "{code}"}
      outcomes: {verified: welcome, rejected: security}
  welcome:
    branch:
      cases:
        - {when: {call: auth.method, equals: otp}, goto: thanks}
      default: security
  thanks:
    hangup: Thank you, you are verified. Goodbye.
  security:
    transfer: {queue: security, reason: auth_failed}
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_795_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def coded(make_app, flows_dir: Path):
    (flows_dir / "coded.yaml").write_text(FLOW)
    clock = Clock()
    app = make_app(sms_from="+15005550006", secret_key="otp-test-key", extra={"twilio_account_sid": ACCOUNT})
    svc = parts(app).services
    svc.driver.clock = clock
    http = RecordingTwilioHttp(lambda m, u, d: (201, {"sid": "SM" + "1" * 32, "status": "queued",
                                                       "account_sid": ACCOUNT, "to": d.get("To")}))
    svc.otp._client = lambda: Client(ACCOUNT, "tok", http_client=http)
    return SignedClient(app), http, clock, app


def _post(c: SignedClient, path: str, **params: str) -> ET.Element:
    resp = c.post(path, call_params(SID, **params))
    assert resp.status_code == 200, resp.data
    return ET.fromstring(resp.data)


def _sent_code(http: RecordingTwilioHttp) -> str:
    (msg,) = [r for r in http.requests if r["url"].endswith("/Messages.json")]
    assert msg["data"]["To"] == "+15551230000" and msg["data"]["From"] == "+15005550006"
    return re.search(r"\b(\d{6})\b", msg["data"]["Body"]).group(1)


def _context(c: SignedClient) -> dict:
    return c.get(f"/api/calls/{SID}/context", headers={"Authorization": f"Bearer {API_TOKEN}"}).json


def test_the_code_sent_by_sms_verifies_the_caller(coded) -> None:
    c, http, _, app = coded
    root = _post(c, "/voice?flow=coded")
    assert "six digit code" in " ".join(s.text for s in root.iter("Say"))
    code = _sent_code(http)
    root = _post(c, root.find("Gather").get("action"), Digits=code)
    assert "you are verified" in " ".join(s.text for s in root.iter("Say"))
    auth = _context(c)["auth"]
    assert auth["method"] == "otp" and auth["status"] == "verified"
    stored = json.dumps(parts(app).services.store.events(SID)) + json.dumps(_context(c))
    assert code not in stored, "the code is in no event, no context"


def test_a_wrong_code_is_rejected_and_the_caller_goes_to_security(coded) -> None:
    c, http, _, _ = coded
    root = _post(c, "/voice?flow=coded")
    code = _sent_code(http)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    root = _post(c, root.find("Gather").get("action"), Digits=wrong)
    ctx = _context(c)
    assert ctx["queue"] == "security" and ctx["auth"]["method"] == "otp" and ctx["auth"]["status"] == "rejected"


def test_a_code_is_good_for_five_to_ten_minutes(coded) -> None:
    c, http, clock, _ = coded
    root = _post(c, "/voice?flow=coded")
    code = _sent_code(http)
    clock.now += 11 * 60
    _post(c, root.find("Gather").get("action"), Digits=code)
    assert _context(c)["auth"]["status"] == "rejected"


def test_a_code_is_bound_to_its_call_and_number(coded) -> None:
    _, _, clock, app = coded
    codes = parts(app).services.otp
    step = int(clock.now // codes.ttl)
    here = codes.code(SID, "+15551230000", step)
    assert codes.code("CA" + "9" * 32, "+15551230000", step) != here
    assert codes.code(SID, "+15551239999", step) != here
    assert len(here) == 6 and here.isdigit()


def test_without_a_sender_or_a_number_the_flow_takes_its_other_way(make_app, flows_dir: Path) -> None:
    (flows_dir / "coded.yaml").write_text(FLOW)
    app = make_app(secret_key="otp-test-key")                           # no IVR_SMS_FROM
    c = SignedClient(app)
    root = _post(c, "/voice?flow=coded")
    assert root.find("Enqueue") is not None, ET.tostring(root)
    events = parts(app).services.store.events(SID)
    assert [e["data"]["outcome"] for e in events if e["kind"] == "hook"] == ["failed"]
