"""Shared fixtures: a clean environment per test, apps with signed clients."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
FLOWS = ROOT / "flows"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
API_TOKEN = "test-api-token"

pytest_plugins = ["ivr.testing.pytest_plugin"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts with no IVR_/TWILIO_ variables (hygiene, as Flask's tests do)."""
    for key in list(os.environ):
        if key.startswith(("IVR_", "TWILIO_")):
            monkeypatch.delenv(key, raising=False)
    yield


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    """A copy of the demo flows that a test may change."""
    d = tmp_path / "flows"
    shutil.copytree(FLOWS, d)
    return d


class SignedClient:
    """A Flask test client that signs requests like Twilio does."""

    def __init__(self, app: Any, token: str = AUTH_TOKEN, base: str = "http://localhost") -> None:
        self.client = app.test_client()
        self.validator = RequestValidator(token)
        self.base = base

    def post(self, path: str, data: dict[str, str], sign: bool = True, signature: str | None = None) -> Any:
        headers = {}
        if sign:
            headers["X-Twilio-Signature"] = signature or self.validator.compute_signature(self.base + path, data)
        return self.client.post(path, data=data, headers=headers)

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)


@pytest.fixture
def make_app(tmp_path: Path, flows_dir: Path):
    """Factory for apps on a temp instance dir with signatures and API token on."""
    created = []

    def make(**overrides: Any):
        from ivr.web import create_app
        cfg = {"flows_dir": str(flows_dir), "instance_dir": str(tmp_path / "instance"),
               "audio_dir": str(tmp_path / "audio"),
               "auth_token": AUTH_TOKEN, "api_token": API_TOKEN, "flow_check_interval": 0.0,
               "media_streams": False}  # keypad TwiML unless a test turns speech streams on
        cfg.update(overrides)
        app = create_app(cfg)
        created.append(app)
        return app

    yield make
    from ivr.web import parts
    for app in created:
        parts(app).services.close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def twilio(app) -> SignedClient:
    return SignedClient(app)


def call_params(sid: str = "CA00000000000000000000000000000001", **extra: str) -> dict[str, str]:
    return {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "From": "+15551230000", "To": "+15005550006",
            "CallStatus": "in-progress", "Direction": "inbound", **extra}


def run_ivr(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``python -m ivr ARGS`` in a subprocess, with a clean environment plus ``env``."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    return subprocess.run([sys.executable, "-m", "ivr", *args], cwd=cwd, env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=600)


@dataclass(frozen=True)
class DemoAudio:
    """The demo flows' prompts rendered once per session by ``prompts build``."""

    audio_dir: Path
    cold: subprocess.CompletedProcess
    cold_seconds: float

    def copy(self, dst: Path) -> Path:
        """A private copy a test may change."""
        shutil.copytree(self.audio_dir, dst)
        return dst


@pytest.fixture(scope="session")
def demo_audio(tmp_path_factory: pytest.TempPathFactory) -> DemoAudio:
    """``python -m ivr prompts build`` of flows/ into a session temp dir (never the repo's audio/)."""
    audio_dir = tmp_path_factory.mktemp("demo") / "audio"
    t0 = time.monotonic()
    cold = run_ivr("prompts", "build", "--flows", str(FLOWS), "--audio-dir", str(audio_dir), "--no-progress")
    return DemoAudio(audio_dir, cold, time.monotonic() - t0)
