"""Shared helpers for handoff tests: apps with a fixed clock, signed Twilio webhooks."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Optional

from twilio.request_validator import RequestValidator

from ivr.config import Config
from ivr.services import build_services
from ivr.web import create_app

TOKEN = "twilio-test-token"
API_TOKEN = "api-test-token"
T0 = 1772625600.0  # Wednesday 2026-03-04 12:00 UTC
CALLS_DIR = Path(__file__).resolve().parent.parent / "calls" / "handoff"
HELPDESK = CALLS_DIR / "flows" / "helpdesk.yaml"


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_app(tmp_path: Path, flow_file: Path = HELPDESK, clock: Optional[Clock] = None,
             **extra: Any) -> tuple[Any, Clock]:
    flows = tmp_path / "flows"
    flows.mkdir(exist_ok=True)
    shutil.copy(flow_file, flows / flow_file.name)
    clock = clock or Clock()
    config = Config.from_env({}, flows_dir=str(flows), instance_dir=str(tmp_path / "instance"),
                             audio_dir=str(tmp_path / "audio"), auth_token=TOKEN,
                             api_token=API_TOKEN, secret_key="secret-key", flow_check_interval=3600.0,
                             extra={"voicemail_transcribe": "off", **extra})
    services = build_services(config, clock=clock)
    app = create_app(config, services=services)
    return app, clock


def sign(path: str, params: dict[str, str]) -> str:
    return RequestValidator(TOKEN).compute_signature("http://localhost" + path, params)


class Caller:
    """Drives a call through signed webhooks, like Twilio would."""

    def __init__(self, client: Any, call_sid: str = "CA" + "1" * 32, caller: str = "+15551230000",
                 flow: str = "helpdesk") -> None:
        self.client, self.sid, self.caller, self.flow = client, call_sid, caller, flow

    def post(self, path: str, status: int = 200, **params: str) -> str:
        data = {"CallSid": self.sid, "From": self.caller, "To": "+15550000000", "AccountSid": "AC" + "0" * 32,
                "CallStatus": "in-progress", **params}
        resp = self.client.post(path, data=data, headers={"X-Twilio-Signature": sign(path, data)})
        assert resp.status_code == status, (path, resp.status_code, resp.get_data(as_text=True))
        return resp.get_data(as_text=True)

    def start(self) -> str:
        return self.post(f"/voice?flow={self.flow}")

    def press(self, node: str, digits: str) -> str:
        return self.post(f"/voice/input?node={node}", Digits=digits)


def api(client: Any, method: str, path: str, **kw: Any) -> Any:
    return getattr(client, method)(path, headers={"Authorization": f"Bearer {API_TOKEN}"}, **kw)
