"""A tiny W3C WebDriver client for headless Chromium (chromedriver), so page tests need no extra package."""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import tempfile
import time
from typing import Any

import requests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Chromium:
    """Headless Chromium driven through chromedriver's WebDriver HTTP API."""

    def __init__(self) -> None:
        chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
        if not chromium or not driver:
            raise RuntimeError("chromium and chromedriver are needed: apt-get install chromium chromium-driver")
        self.profile = tempfile.mkdtemp(prefix="ivr-chrome-")
        self.port = _free_port()
        self.proc = subprocess.Popen([driver, f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        self.http = requests.Session()
        for _ in range(100):
            try:
                if self.http.get(self.base + "/status", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.05)
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", f"--user-data-dir={self.profile}"]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"binary": chromium, "args": args}}}}
        try:
            resp = self._call("post", "/session", caps)
        except Exception:
            self.close()
            raise
        self.session = resp["sessionId"]

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        r = getattr(self.http, method)(self.base + path, json=body, timeout=60)
        data = r.json()
        if r.status_code >= 400:
            raise RuntimeError(f"webdriver {path}: {data}")
        return data["value"]

    def get(self, url: str) -> None:
        self._call("post", f"/session/{self.session}/url", {"url": url})

    def js(self, script: str, *args: Any) -> Any:
        return self._call("post", f"/session/{self.session}/execute/sync", {"script": script, "args": list(args)})

    def screenshot(self) -> bytes:
        """The viewport as PNG bytes."""
        return base64.b64decode(self._call("get", f"/session/{self.session}/screenshot"))

    def full_screenshot(self) -> bytes:
        """The whole page as PNG bytes: the window is resized to the document first (headless has no limit)."""
        for _ in range(3):  # the window includes the browser's frame: grow until the viewport holds the page
            need = self.js("return [document.documentElement.scrollWidth, document.documentElement.scrollHeight,"
                           " window.innerWidth, window.innerHeight, window.outerWidth, window.outerHeight]")
            width, height, inner_w, inner_h, outer_w, outer_h = (int(v) for v in need)
            if inner_h >= height and inner_w >= width:
                break
            self.window_size(max(width, inner_w) + outer_w - inner_w, height + outer_h - inner_h)
        return self.screenshot()

    def window_size(self, width: int, height: int) -> None:
        self._call("post", f"/session/{self.session}/window/rect", {"width": width, "height": height})

    def browser_log(self) -> list[dict]:
        return self._call("post", f"/session/{self.session}/se/log", {"type": "browser"})

    def close(self) -> None:
        try:
            if getattr(self, "session", None):
                self.http.delete(f"{self.base}/session/{self.session}", timeout=10)
        finally:
            self.proc.terminate()
            self.proc.wait(10)
            self.http.close()
            shutil.rmtree(self.profile, ignore_errors=True)
