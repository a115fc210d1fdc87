"""The first spoken answer on a freshly started server is never lost (issue 9, item 1).

Reproduces the field report through the real ``/media`` websocket at
real-time pace, as Twilio streams it: the caller hears the greeting and the
menu, the menu's mark is echoed once it has played, silence flows
continuously, then the caller says an option phrase and keeps streaming
silence. The answer must move the call to the right node within a bounded
time (no warm-up wait before the call), and the key pressed next must act in
*that* node: a lost or late answer shows up as the key landing in the menu,
which routes to the wrong queue.

Each server is a fresh process, as after a deploy: the Twilio side runs in
the test process, so a server that stalls (a decoder build in C holding the
GIL) cannot stall the peer's clock, exactly as with the real Twilio.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import requests
from twilio.request_validator import RequestValidator

from ivr.sim.media_client import MediaStreamClient
from tests.conftest import API_TOKEN, AUTH_TOKEN as AUTH, ROOT, call_params

pytest.importorskip("flask_sock")

FLOW = """\
flow: voicefirst
start: welcome
settings:
  speech: true
  no_input_timeout: 5
  retries: 2
  agent_queue: general
queues:
  general: {}
  cards: {}
  billing: {}
nodes:
  welcome:
    say: Welcome to Acme.
    next: main
  main:
    menu:
      prompt: Say balance or lost card.
      options:
        - key: "1"
          say: [balance, my balance]
          goto: billing
        - key: "2"
          say: [cards, lost card]
          goto: cards
  billing:
    menu:
      prompt: Press 1 to hear it.
      options:
        - key: "1"
          goto: to_billing
  cards:
    menu:
      prompt: Press 1 to block it.
      options:
        - key: "1"
          goto: to_cards
  to_billing:
    transfer:
      queue: billing
      reason: balance
  to_cards:
    transfer:
      queue: cards
      reason: block_card
"""

ANSWER_WITHIN_S = 4.0
"""From the end of the caller's phrase to the next prompt's audio: end-of-speech silence plus recognition."""


def speak(text: str, voice: str) -> bytes:
    from ivr.speech.synth import synthesize
    return synthesize(text, voice, lead_ms=200, trail_ms=100)


class SilenceStreamer:
    """Twilio never stops sending: 20 ms of silence whenever the caller is not talking."""

    def __init__(self, client: MediaStreamClient) -> None:
        self.client = client
        self.paused = threading.Event()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="silence", daemon=True)

    def _run(self) -> None:
        while not self.stopped.is_set() and not self.client.closed:
            if self.paused.is_set():
                time.sleep(0.005)
                continue
            try:
                self.client.send_silence(20)
            except Exception:  # noqa: BLE001 - the server closed the socket: the call is over
                return

    def __enter__(self) -> "SilenceStreamer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join(5)


class ServerProcess:
    """A freshly started server in its own process (its own GIL, as in production), plus signed webhooks."""

    def __init__(self, flows_dir: Path, tmp: Path, asr_processes: int = 0) -> None:
        (flows_dir / "voicefirst.yaml").write_text(FLOW)
        config = {"flows_dir": str(flows_dir), "instance_dir": str(tmp / "instance"),
                  "audio_dir": str(tmp / "audio"), "auth_token": AUTH, "api_token": API_TOKEN,
                  "media_streams": True, "secret_key": "media-test-secret", "asr_processes": asr_processes,
                  "flow_check_interval": 0.0, "extra": {"prompt_background": False}}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
        env["PYTHONPATH"] = str(ROOT)
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.web.live_server", json.dumps(config)],
                                     cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        assert line.startswith("PORT "), f"the server did not start: {line!r}"
        self.base = f"http://127.0.0.1:{int(line.split()[1])}"
        self.url = self.base.replace("http://", "ws://") + "/media"
        self.validator = RequestValidator(AUTH)

    def post(self, path: str, data: dict[str, str]) -> ET.Element:
        sig = self.validator.compute_signature(self.base + path, data)
        resp = requests.post(self.base + path, data=data, headers={"X-Twilio-Signature": sig}, timeout=30)
        assert resp.status_code == 200, resp.text
        return ET.fromstring(resp.content)

    def health(self) -> dict[str, Any]:
        return requests.get(self.base + "/api/health", timeout=10).json()

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout:
            self.proc.stdout.close()


def spoken_then_key(server: ServerProcess, sid: str, phrase: str, voice: str) -> tuple[ET.Element, float]:
    """One call: speak ``phrase`` after the menu played, press 1 in the node it leads to.

    Returns the ``/voice/connect`` TwiML and the seconds from the end of the
    phrase to the first audio of the next prompt.
    """
    stream = server.post("/voice?flow=voicefirst", call_params(sid)).find("./Connect/Stream")
    assert stream is not None
    params = {p.get("name"): p.get("value") for p in stream.iter("Parameter")}
    pcm = speak(phrase, voice)
    with MediaStreamClient(server.url, speed=1.0, call_sid=sid, timeout=30) as c:
        c.connect(params)
        with SilenceStreamer(c) as silence:
            assert c.wait_for(lambda: "turn-1" in c.received.echoed_marks, 30), "the menu played out"
            time.sleep(0.5)
            silence.paused.set()
            time.sleep(0.03)
            c.send_pcm(pcm)
            spoke = time.monotonic()
            before = len(c.received.audio)
            silence.paused.clear()
            replied = c.wait_for(lambda: len(c.received.audio) > before, ANSWER_WITHIN_S)
            gap = time.monotonic() - spoke
            # A caller who hears dead air presses a key; it must not land in the menu they already answered.
            c.wait_for(lambda: "turn-2" in c.received.echoed_marks, 30)
            c.send_dtmf("1")
            assert c.wait_closed(15), "the transfer closes the stream"
    assert replied, f"no reply within {ANSWER_WITHIN_S} s of the spoken answer"
    return server.post("/voice/connect", call_params(sid)), gap


def task_of(root: ET.Element) -> dict[str, Any]:
    el = root.find("./Enqueue/Task")
    assert el is not None, ET.tostring(root)
    return json.loads(el.text)


CHOICES = (("lost card", "flite:kal", "cards"), ("my balance", "flite:slt", "billing"),
           ("lost card", "flite:awb", "cards"), ("balance", "flite:rms", "billing"),
           ("cards", "flite:kal", "cards"), ("my balance", "flite:awb", "billing"))
"""(phrase, voice, queue) of the calls, taken in turn."""


def check_call(live: ServerProcess, sid: str, choice: tuple[str, str, str]) -> float:
    """One spoken-then-keyed call; asserts it reached the right node and queue; returns the reply gap."""
    phrase, voice, queue = choice
    root, gap = spoken_then_key(live, sid, phrase, voice)
    ctx = task_of(root)
    assert ctx["queue"] == queue, (sid, phrase, ctx["path"])
    said = [t for t in ctx["transcript"] if t.get("text")]
    assert said and said[0]["text"] == phrase and said[0]["node"] == "main", (sid, ctx["transcript"])
    assert ctx["path"] == ["welcome", "main", queue, "to_" + queue], (sid, ctx["path"])
    return gap


def test_first_calls_of_fresh_servers_then_twenty_more_five_at_a_time(flows_dir: Path, tmp_path: Path) -> None:
    """Issue 9's done-when: 3 fresh servers, each one's first call at once, then 20 calls 5 at a time.

    Every call speaks its menu choice and then presses a key: the key must
    act in the node the spoken answer led to, and ``/voice/connect`` must
    close with that node's ``<Enqueue>``.
    """
    from concurrent.futures import ThreadPoolExecutor

    servers: list[ServerProcess] = []
    try:
        with ThreadPoolExecutor(3) as boot:
            dirs = []
            for k in range(3):
                d = flows_dir.parent / f"flows{k}"
                d.mkdir()
                dirs.append(d)
            # The first decodes in its web process (create_app's default); the others in a decoding
            # process of their own, as `serve` runs by default (ivr.speech.asr.process_pool).
            servers = list(boot.map(lambda k: ServerProcess(dirs[k], tmp_path / f"s{k}", asr_processes=min(k, 1)),
                                    range(3)))
        with ThreadPoolExecutor(3) as first:      # no warm-up wait: the first call the moment it answers HTTP
            list(first.map(lambda k: check_call(servers[k], "CA" + f"{k:x}" * 32, CHOICES[k]), range(3)))
        with ThreadPoolExecutor(5) as pool:
            gaps = list(pool.map(lambda i: check_call(servers[i % 3], "CA" + f"{0xabc000 + i:032x}",
                                                      CHOICES[i % len(CHOICES)]), range(20)))
        assert len(gaps) == 20
        for live in servers:
            assert live.health()["speech"]["ready"] is True
    finally:
        for live in servers:
            live.close()
