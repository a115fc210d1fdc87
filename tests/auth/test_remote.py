"""The HTTP vendor engine against a small local server: signed JSON, timeouts give inconclusive."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from ivr.auth import AuthError, HttpVoiceAuthenticator, NotEnrolled, sign_body

SECRET = "vendor-secret"


class Vendor:
    """Records requests; answers by ``self.reply[op]`` = (status, body) after ``self.delay`` seconds."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict, str]] = []
        self.reply: dict[str, tuple[int, object]] = {}
        self.delay = 0.0


@pytest.fixture
def vendor() -> Iterator[tuple[Vendor, str]]:
    state = Vendor()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            op = self.path.strip("/")
            state.requests.append((op, json.loads(body), self.headers.get("X-IVR-Signature", "")))
            time.sleep(state.delay)
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            status, reply = (401, {"error": "bad signature"}) if self.headers.get("X-IVR-Signature") != expected \
                else state.reply.get(op, (500, {"error": "no reply configured"}))
            data = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_verify_sends_signed_json_with_base64_audio(vendor) -> None:
    state, url = vendor
    state.reply["verify"] = (200, {"score": 0.91, "decision": "verified", "net_speech_s": 3.1})
    auth = HttpVoiceAuthenticator(url, SECRET, timeout=2)
    v = auth.verify("+1555", b"\x01\x00" * 800)
    assert (v.score, v.decision, v.net_speech_s, v.engine, v.replay) == (0.91, "verified", 3.1, "http", False)
    op, payload, signature = state.requests[0]
    assert op == "verify" and payload["subject"] == "+1555" and payload["rate"] == 8000
    assert base64.b64decode(payload["audio"]) == b"\x01\x00" * 800
    assert signature == sign_body(SECRET, json.dumps(payload).encode())



def test_timeout_is_inconclusive_not_an_exception(vendor) -> None:
    state, url = vendor
    state.reply["verify"] = (200, {"score": 0.99, "decision": "verified"})
    state.delay = 1.0
    t = time.perf_counter()
    v = HttpVoiceAuthenticator(url, SECRET, timeout=0.2).verify("+1555", b"\x00\x00" * 100)
    assert time.perf_counter() - t < 0.9
    assert v.decision == "inconclusive" and v.score == 0.0 and v.engine == "http"


@pytest.mark.parametrize("reply", [(500, {"error": "boom"}), (200, "not json"), (200, {"decision": "maybe"}),
                                   (200, {"score": 1.0})])
def test_vendor_errors_are_inconclusive(vendor, reply) -> None:
    state, url = vendor
    state.reply["verify"] = reply
    assert HttpVoiceAuthenticator(url, SECRET).verify("+1555", b"\x00\x00").decision == "inconclusive"


def test_wrong_secret_is_inconclusive(vendor) -> None:
    state, url = vendor
    state.reply["verify"] = (200, {"score": 0.9, "decision": "verified"})
    assert HttpVoiceAuthenticator(url, "wrong").verify("+1555", b"\x00\x00").decision == "inconclusive"


def test_refused_connection_is_inconclusive() -> None:
    assert HttpVoiceAuthenticator("http://127.0.0.1:9", SECRET, 0.5).verify("x", b"").decision == "inconclusive"


def test_not_enrolled_and_replay(vendor) -> None:
    state, url = vendor
    auth = HttpVoiceAuthenticator(url, SECRET)
    state.reply["verify"] = (404, {"error": "unknown subject"})
    with pytest.raises(NotEnrolled):
        auth.verify("+1555", b"\x00\x00")
    state.reply["verify"] = (200, {"score": 0.95, "decision": "verified", "replay": True})
    v = auth.verify("+1555", b"\x00\x00")
    assert v.replay and v.decision == "rejected"


def test_enroll_delete_status(vendor) -> None:
    state, url = vendor
    auth = HttpVoiceAuthenticator(url, SECRET)
    state.reply["enroll"] = (200, {"net_speech_s": 12.0, "enrolled_at": 100.0})
    assert auth.enroll("+1555", b"\x00\x00").net_speech_s == 12.0
    state.reply["status"] = (200, {"enrolled": False})
    assert auth.enrolled("+1555") is None
    state.reply["delete"] = (200, {"deleted": True})
    assert auth.delete("+1555") is True
    state.reply["delete"] = (500, {})
    with pytest.raises(AuthError, match="vendor"):
        auth.delete("+1555")


def test_signature_known_answer() -> None:
    """Our own vector (the scheme ivr.hooks uses for HTTP hooks), so a vendor adapter can check its code."""
    assert sign_body(SECRET, b'{"subject": "+1555"}') == \
        "sha256=de8d058f4b25e8110b0af12df3b9f5d817d28bf64d72e8fa2a9899be5f171394"
