"""Recording fakes: a Twilio REST HTTP client, a local HTTP server, a recogniser."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

from twilio.http import HttpClient
from twilio.http.response import Response


class RecordingTwilioHttp(HttpClient):
    """Records every REST request and answers with canned responses (twilio-python's holodeck idea)."""

    def __init__(self, answer: Optional[Callable[[str, str, dict], tuple[int, dict]]] = None) -> None:
        import logging
        super().__init__(logging.getLogger("tests.twilio-fake"), False)
        self.requests: list[dict[str, Any]] = []
        self.answer = answer or self.default_answer
        self._n = 0

    def default_answer(self, method: str, url: str, data: dict) -> tuple[int, dict]:
        self._n += 1
        sid = "CA" + f"{self._n:032d}"
        return 201, {"sid": sid, "status": "queued", "to": data.get("To"), "from": data.get("From"),
                     "account_sid": "AC" + "0" * 32}

    def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        self.requests.append({"method": method, "url": url, "params": dict(params or {}),
                              "data": dict(data or {}), "auth": auth})
        status, body = self.answer(method, url, dict(data or {}))
        return Response(status, json.dumps(body))


class LocalServer:
    """A tiny HTTP server in a thread; ``routes`` maps paths to (status, headers, body); POSTs are recorded."""

    def __init__(self, routes: Optional[dict[str, tuple[int, dict, bytes]]] = None) -> None:
        self.routes = routes or {}
        self.posts: list[dict[str, Any]] = []
        self.gets: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):
                outer.gets.append(self.path)
                status, headers, body = outer.routes.get(self.path.split("?")[0], (404, {}, b"not found"))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                outer.posts.append({"path": self.path, "headers": dict(self.headers), "body": self.rfile.read(n)})
                self.send_response(204)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "LocalServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class FakeHypothesis:
    def __init__(self, text: str, confidence: float, backend: str) -> None:
        self.text, self.confidence, self.backend = text, confidence, backend


class FakeRecognizer:
    """Counts the audio it was fed and answers a fixed sentence."""

    def __init__(self, text: str = "please call me back about my card") -> None:
        self.text = text
        self.fed = 0
        self.grammars: list[Any] = []

    def start(self, grammar=None):
        self.grammars.append(grammar)
        outer = self

        class Session:
            def accept(self, pcm: bytes) -> None:
                outer.fed += len(pcm)

            def finish(self):
                return FakeHypothesis(outer.text, 0.8, "fake")

        return Session()
