"""A Twilio-side Media Streams client, for driving our websocket in tests.

It plays Twilio's part of a bidirectional ``<Connect><Stream>``: sends
``connected`` and ``start``, streams caller audio as 20 ms mu-law ``media``
frames, sends ``dtmf`` and ``stop``, and records what the server sends back.
Like Twilio, it "plays" the server's audio at the chosen pace and echoes
each ``mark`` only when the audio queued before it has played out; a
``clear`` drops unplayed audio and returns the pending marks at once.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import websocket

from ivr.speech.codec import PHONE_RATE, pcm16_to_ulaw, read_wav, ulaw_to_pcm16

FRAME_BYTES = 160
"""One 20 ms frame of 8 kHz mu-law."""


@dataclass
class Received:
    """What the server sent, in arrival order per kind.

    Attributes:
        audio: every outbound ``media`` payload received, as mu-law bytes.
        played: mu-law bytes that had "played" (not dropped by ``clear``).
        marks: names of ``mark`` messages received from the server.
        echoed_marks: names of marks echoed back, in the order echoed.
        clears: number of ``clear`` messages.
        messages: every decoded message, for anything else.
    """

    audio: bytearray = field(default_factory=bytearray)
    played: bytearray = field(default_factory=bytearray)
    marks: list[str] = field(default_factory=list)
    echoed_marks: list[str] = field(default_factory=list)
    clears: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)


class MediaStreamClient:
    """Connects to ``ws://host:port/media`` and behaves like Twilio.

    Args:
        url: the websocket URL of the server.
        speed: pace factor; 1.0 is real time, 2.0 twice as fast, 0 as fast
            as possible (for both sending and "playing out").
        timeout: seconds for connecting and for each wait.
        stream_sid: the stream id to announce.
        call_sid: the call id to announce.

    Use as a context manager so the socket and thread always close.
    """

    def __init__(self, url: str, *, speed: float = 1.0, timeout: float = 10.0,
                 stream_sid: str = "MZ00000000000000000000000000000000",
                 call_sid: str = "CA00000000000000000000000000000000",
                 account_sid: str = "AC00000000000000000000000000000000") -> None:
        self.url = url
        self.speed = speed
        self.timeout = timeout
        self.stream_sid = stream_sid
        self.call_sid = call_sid
        self.account_sid = account_sid
        self.received = Received()
        self._ws: websocket.WebSocket | None = None
        self._seq = 0
        self._chunk = 0
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        # Playback queue: items are ("audio", nbytes) or ("mark", name).
        self._queue: list[tuple[str, Any]] = []
        self._closed = False
        self._reader: threading.Thread | None = None
        self._player: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------

    def connect(self, custom_parameters: Mapping[str, str] | None = None,
                tracks: tuple[str, ...] = ("inbound",)) -> "MediaStreamClient":
        """Open the socket, send ``connected`` and ``start``, start the threads."""
        self._ws = websocket.create_connection(self.url, timeout=self.timeout)
        self._reader = threading.Thread(target=self._read_loop, name="media-client-read",
                                        daemon=True)
        self._player = threading.Thread(target=self._play_loop, name="media-client-play",
                                        daemon=True)
        self._reader.start()
        self._player.start()
        self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        self._send({
            "event": "start", "sequenceNumber": self._next_seq(),
            "start": {
                "accountSid": self.account_sid, "streamSid": self.stream_sid,
                "callSid": self.call_sid, "tracks": list(tracks),
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": PHONE_RATE,
                                "channels": 1},
                "customParameters": dict(custom_parameters or {}),
            },
            "streamSid": self.stream_sid,
        })
        return self

    def close(self) -> None:
        """Close the socket and join the threads (idempotent)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._ws is not None:
            try:
                self._ws.close(timeout=1)
            except Exception:  # noqa: BLE001 - closing a dead socket is fine
                pass
        for t in (self._reader, self._player):
            if t is not None and t is not threading.current_thread():
                t.join(timeout=self.timeout)

    def __enter__(self) -> "MediaStreamClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- caller side -----------------------------------------------------

    def send_pcm(self, pcm: bytes) -> None:
        """Stream 8 kHz pcm16 as 20 ms mu-law ``media`` frames at the pace setting."""
        self.send_ulaw(pcm16_to_ulaw(pcm))

    def send_wav(self, path: str | Path) -> None:
        """Stream a WAV file (any rate/width) as the caller's voice."""
        self.send_pcm(read_wav(path, PHONE_RATE))

    def send_silence(self, ms: int) -> None:
        """Stream ``ms`` of silence (mu-law 0xFF)."""
        self.send_ulaw(b"\xff" * (PHONE_RATE * ms // 1000))

    def send_ulaw(self, ulaw: bytes) -> None:
        """Stream raw mu-law in 160-byte frames, padding the last one with silence."""
        start = time.monotonic()
        for i in range(0, len(ulaw), FRAME_BYTES):
            frame = ulaw[i:i + FRAME_BYTES].ljust(FRAME_BYTES, b"\xff")
            self._chunk += 1
            self._send({
                "event": "media", "sequenceNumber": self._next_seq(),
                "media": {"track": "inbound", "chunk": str(self._chunk),
                          "timestamp": str((self._chunk - 1) * 20),
                          "payload": base64.b64encode(frame).decode("ascii")},
                "streamSid": self.stream_sid,
            })
            if self.speed > 0:
                due = start + (i // FRAME_BYTES + 1) * 0.02 / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)

    def send_dtmf(self, digit: str) -> None:
        """Send one keypress as Twilio does on bidirectional streams."""
        self._send({"event": "dtmf", "streamSid": self.stream_sid,
                    "sequenceNumber": self._next_seq(),
                    "dtmf": {"track": "inbound_track", "digit": digit}})

    def send_stop(self) -> None:
        """Send ``stop`` (the caller hung up)."""
        self._send({"event": "stop", "sequenceNumber": self._next_seq(),
                    "stop": {"accountSid": self.account_sid, "callSid": self.call_sid},
                    "streamSid": self.stream_sid})

    # -- waiting ---------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once the server closed the stream (or :meth:`close` was called)."""
        with self._cond:
            return self._closed

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Block until the server closes the stream; False on timeout."""
        return self._wait(lambda: self._closed, timeout)

    def wait_for(self, pred: Any, timeout: float | None = None) -> bool:
        """Block until ``pred()`` holds (checked under the client's lock); False on timeout."""
        return self._wait(pred, timeout)

    def wait_for_mark(self, name: str, timeout: float | None = None) -> bool:
        """Block until mark ``name`` has been echoed (played out); False on timeout."""
        return self._wait(lambda: name in self.received.echoed_marks, timeout)

    def wait_for_audio(self, nbytes: int = 1, timeout: float | None = None) -> bool:
        """Block until at least ``nbytes`` of server audio arrived; False on timeout."""
        return self._wait(lambda: len(self.received.audio) >= nbytes, timeout)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until everything queued has played; False on timeout."""
        return self._wait(lambda: not self._queue, timeout)

    def played_pcm(self) -> bytes:
        """The server audio that played out, as pcm16."""
        with self._cond:
            return ulaw_to_pcm16(bytes(self.received.played))

    # -- internals -------------------------------------------------------

    def _wait(self, pred: Any, timeout: float | None) -> bool:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return bool(pred())
                self._cond.wait(min(left, 0.05))
            return True

    def _next_seq(self) -> str:
        self._seq += 1
        return str(self._seq)

    def _send(self, msg: dict[str, Any]) -> None:
        if self._ws is None:
            raise RuntimeError("call connect() first")
        with self._send_lock:
            self._ws.send(json.dumps(msg))

    def _read_loop(self) -> None:
        assert self._ws is not None
        self._ws.settimeout(0.2)
        while True:
            with self._cond:
                if self._closed:
                    return
            try:
                text = self._ws.recv()
            except websocket.WebSocketTimeoutException:
                continue
            except (websocket.WebSocketException, OSError):
                # Closed, or bytes after the close frame (werkzeug's dev server writes its
                # HTTP response line once a websocket handler returns): the stream is over.
                with self._cond:
                    self._closed = True
                    self._cond.notify_all()
                return
            if not text:
                continue
            try:
                msg = json.loads(text)
            except ValueError:
                continue
            self._on_message(msg)

    def _on_message(self, msg: dict[str, Any]) -> None:
        event = msg.get("event")
        with self._cond:
            self.received.messages.append(msg)
            if event == "media":
                audio = base64.b64decode(msg["media"]["payload"])
                self.received.audio.extend(audio)
                self._queue.append(("audio", audio))
            elif event == "mark":
                name = str(msg["mark"]["name"])
                self.received.marks.append(name)
                self._queue.append(("mark", name))
            elif event == "clear":
                self.received.clears += 1
                pending = [v for k, v in self._queue if k == "mark"]
                self._queue.clear()
                for name in pending:
                    self._echo_mark_locked(name)
            self._cond.notify_all()

    def _echo_mark_locked(self, name: str) -> None:
        self.received.echoed_marks.append(name)
        try:
            self._send({"event": "mark", "sequenceNumber": self._next_seq(),
                        "streamSid": self.stream_sid, "mark": {"name": name}})
        except (websocket.WebSocketException, OSError):
            pass

    def _play_loop(self) -> None:
        """Consume the playback queue at the pace setting, echoing marks in order."""
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait(0.05)
                if self._closed:
                    return
                kind, value = self._queue[0]
                if kind == "mark":
                    self._queue.pop(0)
                    self._echo_mark_locked(value)
                    self._cond.notify_all()
                    continue
                # Play one 20 ms frame of the head audio item.
                frame, rest = value[:FRAME_BYTES], value[FRAME_BYTES:]
                if rest:
                    self._queue[0] = ("audio", rest)
                else:
                    self._queue.pop(0)
                self.received.played.extend(frame)
                self._cond.notify_all()
            if self.speed > 0:
                time.sleep(len(frame) / PHONE_RATE / self.speed)
