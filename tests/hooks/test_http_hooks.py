"""HTTP hooks declared in a flow: signed JSON requests, outcomes, failures."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import SignedClient, call_params

SECRET = "hook-secret"


class _Handler(BaseHTTPRequestHandler):
    received: list = []
    mode = "ok"

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        if self.mode == "slow":
            time.sleep(1.0)
        if self.mode == "error":
            self.send_response(500)
            self.end_headers()
            return
        data = json.loads(body)
        reply = {"outcome": "gold" if data["args"]["member"] == "42" else "basic", "tier": "Gold"}
        out = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hook_server() -> Iterator[str]:
    _Handler.received = []
    _Handler.mode = "ok"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


FLOW = """\
flow: members
start: member
hooks:
  tier:
    url: {url}
    timeout: 0.5
    secret_env: MEMBER_HOOK_SECRET
nodes:
  member:
    ask: {{slot: member, prompt: "Member number?", input: digits}}
    next: lookup
  lookup:
    action:
      hook: tier
      args: {{member: "{{member}}"}}
      outcomes: {{gold: gold}}
      default: basic
  gold:
    say: Welcome, {{tier}} member.
    next: bye
  basic:
    say: Welcome.
    next: bye
  bye:
    hangup: Goodbye.
"""


def _call(make_app, flows_dir: Path, url: str, member: str) -> ET.Element:
    (flows_dir / "members.yaml").write_text(FLOW.format(url=url))
    c = SignedClient(make_app())
    c.post("/voice?flow=members", call_params())
    resp = c.post("/voice/input?node=member", call_params(Digits=member + "#"))
    return ET.fromstring(resp.data)


def test_http_hook_signed_request_and_outcome(make_app, flows_dir, hook_server, monkeypatch) -> None:
    monkeypatch.setenv("MEMBER_HOOK_SECRET", SECRET)
    root = _call(make_app, flows_dir, hook_server, "42")
    assert [s.text for s in root.iter("Say")] == ["Welcome, Gold member.", "Goodbye."]
    headers, body = _Handler.received[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-IVR-Signature"] == expected
    payload = json.loads(body)
    assert payload["hook"] == "tier" and payload["args"] == {"member": "42"} and payload["flow"] == "members"


def test_http_hook_default_branch(make_app, flows_dir, hook_server) -> None:
    root = _call(make_app, flows_dir, hook_server, "7")
    assert [s.text for s in root.iter("Say")] == ["Welcome.", "Goodbye."]


@pytest.mark.parametrize("mode", ["slow", "error"])
def test_http_hook_failure_reaches_a_person(make_app, flows_dir, hook_server, mode) -> None:
    _Handler.mode = mode
    root = _call(make_app, flows_dir, hook_server, "42")
    task = json.loads(root.find("Enqueue/Task").text)
    assert task["reason"] == "hook_failed" and task["failed_node"] == "lookup"
    assert task["results"]["lookup"] == ("timeout" if mode == "slow" else "error")


def test_unregistered_hook_module_is_a_clear_config_error(make_app) -> None:
    from ivr.errors import ConfigError
    with pytest.raises(ConfigError, match="cannot be imported"):
        make_app(hooks="no_such_module_anywhere")
