"""Hostile frames on a live ``/media`` websocket (issue 8, finding 7), end to end.

The Twilio side is :class:`MediaStreamClient` plus raw frames; the server is
the app on a real port. What must hold: a bad frame is skipped (logged once)
and the call goes on, a frame that cannot go on closes the socket with a
close code and the caller still reaches a person, no thread dies with an
unhandled exception, and the server keeps answering ``/api/health``.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, Iterator

import pytest
import requests
import websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.sim.media_client import MediaStreamClient
from tests.speech.test_mediastreams_hostile import CLOSING, MEDIA, SKIPPED, START
from tests.web.test_media import WAIT, Live, connect_twiml, start_call, task_of, turns, until

pytest.importorskip("flask_sock")


class HostileClient(MediaStreamClient):
    """Twilio's side, able to send frames Twilio never would."""

    def send_raw(self, frame: str | bytes) -> None:
        assert self._ws is not None
        with self._send_lock:
            if isinstance(frame, bytes):
                self._ws.send_binary(frame)
            else:
                self._ws.send(frame)


@pytest.fixture
def live(make_app) -> Iterator[Live]:
    app = make_app(media_streams=True, secret_key="media-test-secret", extra={"prompt_background": False})
    lv = Live(app)
    yield lv
    lv.close()


@pytest.fixture
def thread_crashes() -> Iterator[list[Any]]:
    """Unhandled exceptions in any thread (a crashed session thread fails the test)."""
    crashes: list[Any] = []
    previous = threading.excepthook
    threading.excepthook = crashes.append
    yield crashes
    threading.excepthook = previous


def _health(live: Live) -> bool:
    return requests.get(f"http://127.0.0.1:{live.server.server_port}/api/health", timeout=2).ok


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_hostile_frames_mid_call_are_skipped_logged_once_and_the_call_goes_on(
        live: Live, caplog: pytest.LogCaptureFixture, thread_crashes: list[Any]) -> None:
    caplog.set_level(logging.DEBUG, logger="ivr.web.media")
    sid = "CA" + "d1" * 16
    params = start_call(live, sid)
    with HostileClient(live.url, speed=0, call_sid=sid, timeout=WAIT) as c:
        c.connect(params)
        assert c.wait_for(lambda: turns(c) >= 1, WAIT)
        for frame in SKIPPED.values():
            c.send_raw(frame)
        assert not c.closed and _health(live)
        c.send_dtmf("1")
        assert until(c, lambda: c.closed)                # balance, then goodbye: the call ends as usual
        assert turns(c) == 2
    assert connect_twiml(live, sid).find("Hangup") is not None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and sid in r.getMessage()]
    assert sum("skipped a media stream frame" in w for w in warnings) == 1, warnings
    assert any(f"skipped {len(SKIPPED)} malformed media stream frames in all" in w for w in warnings), warnings
    assert not _errors(caplog) and not thread_crashes


def test_oversized_frame_closes_the_stream_and_the_caller_reaches_a_person(
        live: Live, caplog: pytest.LogCaptureFixture, thread_crashes: list[Any]) -> None:
    sid = "CA" + "d2" * 16
    params = start_call(live, sid)
    with HostileClient(live.url, speed=0, call_sid=sid, timeout=WAIT) as c:
        c.connect(params)
        assert c.wait_for(lambda: turns(c) >= 1, WAIT)
        c.send_raw("[" * 100_000)
        assert c.wait_closed(5)
    assert _health(live)
    ctx = task_of(connect_twiml(live, sid))              # Twilio's action webhook: a person, with the context
    assert ctx["path"][:2] == ["welcome", "main"]
    assert not _errors(caplog) and not thread_crashes


def _close_code(live: Live, frames: list[str | bytes]) -> int:
    """Send raw frames on a fresh socket; the close code the server answers with."""
    ws = websocket.create_connection(live.url, timeout=5)
    try:
        for frame in frames:
            ws.send_binary(frame) if isinstance(frame, bytes) else ws.send(frame)
        while True:
            opcode, data = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return int.from_bytes(data[:2], "big")
    finally:
        ws.close()


@pytest.mark.parametrize("name", ["start at 16 kHz", "start with a NUL in callSid", "start without ids",
                                  "100,000 brackets"])
def test_a_start_that_cannot_begin_closes_the_socket_with_its_code(
        live: Live, name: str, thread_crashes: list[Any]) -> None:
    sid = "CA" + "d3" * 16
    params = start_call(live, sid)
    frame, _, code = CLOSING[name]
    if isinstance(frame, str) and frame.startswith("{"):
        msg = json.loads(frame)
        if msg["start"].get("callSid") == "CA1":               # a valid token, so only the flaw refuses it
            msg["start"].update(callSid=sid, customParameters=params)
        frame = json.dumps(msg)
    skipped = list(SKIPPED.values())[:5]                       # junk before start is skipped, not fatal
    assert _close_code(live, ['{"event": "connected"}', *skipped, frame]) == code
    assert _health(live) and not thread_crashes


_hostile = st.one_of(
    st.sampled_from(list(SKIPPED.values()) + [CLOSING["start at 16 kHz"][0], CLOSING["100,000 brackets"][0]]),
    st.text(max_size=64), st.binary(max_size=64),
    st.sampled_from([json.dumps(MEDIA), json.dumps(START)]).flatmap(
        lambda s: st.tuples(st.integers(0, len(s)), st.text(max_size=6)).map(
            lambda cut: s[:cut[0]] + cut[1] + s[cut[0] + 1:])))
_calls = iter(range(10 ** 6))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=st.lists(_hostile, min_size=1, max_size=6))
def test_fuzzed_frames_on_a_live_call_never_crash_the_session_or_the_server(
        live: Live, caplog: pytest.LogCaptureFixture, thread_crashes: list[Any], frames: list[str | bytes]) -> None:
    sid = "CA" + f"{0xF022 + next(_calls):032x}"
    params = start_call(live, sid)
    with HostileClient(live.url, speed=0, call_sid=sid, timeout=WAIT) as c:
        c.connect(params)
        assert c.wait_for(lambda: turns(c) >= 1, WAIT)
        for frame in frames:
            if c.closed:
                break
            try:
                c.send_raw(frame)
            except (websocket.WebSocketException, OSError):
                break                                          # the server closed on a fatal frame
        if not c.closed:
            c.send_dtmf("0")                                   # the agent key: the call must still react
            assert until(c, lambda: c.closed)
    assert _health(live)
    root = connect_twiml(live, sid)
    assert root.find("./Enqueue/Task") is not None or root.find("Hangup") is not None
    assert not [e for e in _errors(caplog) if "media session failed" in e] and not thread_crashes
