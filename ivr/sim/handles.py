"""Ways to place a simulated call: in-process, or against a running server.

Both expose the same small interface (:class:`CallHandle`), so one call
script runs unchanged through the engine directly or through signed Twilio
webhooks over HTTP.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
import xml.etree.ElementTree as ET
from typing import Any, Callable, Optional, Protocol
from urllib.parse import urlencode, urljoin, urlsplit

from ..calls.driver import CallDriver, Turn
from ..engine import actions as A
from ..engine import events as E
from ..engine.engine import context_of
from ..errors import IvrError
from ..speech.synth import synthesize
from .media_client import MediaStreamClient


class SimulationError(IvrError):
    """Raised when a scripted call cannot be carried out (unknown flow, server unreachable...)."""


class CallHandle(Protocol):
    """A call a script drives."""

    heard: list[str]
    node: Optional[str]
    ended: bool
    transfer: Optional[str]
    prompt_seconds: float

    def set_time(self, at: float) -> None: ...
    entry: str
    def start(self) -> None: ...
    def press(self, keys: str) -> None: ...
    def say(self, text: str) -> None: ...
    def say_audio(self, path: str) -> None: ...
    def silence(self, seconds: float) -> None: ...
    def hangup(self) -> None: ...
    def context(self) -> Optional[dict[str, Any]]: ...
    def slots(self) -> dict[str, Any]: ...
    def path(self) -> list[str]: ...


class SimClock:
    """Simulated time: starts at the wall clock, moves only when the script says."""

    def __init__(self, start: Optional[float] = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


_counter = itertools.count(1)


def new_call_sid() -> str:
    """A CallSid-shaped id (CA + 32 hex)."""
    return "CA" + uuid.uuid4().hex


AudioRecognizer = Callable[..., Optional[E.SpeechRecognized]]
"""``(path, Listen, on_voiced_frame)``: a WAV file through VAD and ASR as recognised speech for a Listen (None:
nothing heard), its voiced frames given to ``on_voiced_frame`` as the voice tap gets them (ivr.sim.say_audio)."""

PromptSeconds = Callable[[A.Play], float]


class LocalCall:
    """A call run in-process through the call driver (same engine, hooks and store)."""

    def __init__(self, driver: CallDriver, flow_id: str, caller: str, called: str = "",
                 clock: Optional[SimClock] = None, audio: Optional[AudioRecognizer] = None,
                 prompt_seconds: Optional[PromptSeconds] = None) -> None:
        flow = driver.flows.get(flow_id)
        if flow is None:
            raise SimulationError(f"no flow '{flow_id}' is loaded (loaded: {', '.join(driver.flows.ids) or 'none'}); "
                                  "check the script's flow: and --flows")
        self.driver, self.flow, self.caller, self.called = driver, flow, caller, called
        self.entry = ""
        """The entry point's name the call comes in through (a script's ``entry:``), for routing."""
        self.call_id = new_call_sid()
        self.clock = clock or SimClock()
        self.audio = audio
        self._seconds = prompt_seconds
        self.heard: list[str] = []
        self.node: Optional[str] = None
        self.ended = False
        self.transfer: Optional[str] = None
        self.listen: Optional[A.Listen] = None
        self.prompt_seconds = 0.0
        self._context: Optional[dict[str, Any]] = None

    def _apply(self, turn: Turn) -> None:
        for a in turn.actions:
            if isinstance(a, A.Play):
                self.heard.append(a.text)
                secs = self._seconds(a) if self._seconds else len(a.text.split()) / 2.5
                self.prompt_seconds += secs
                self.clock.advance(secs)
        last = turn.last
        self.listen = last if isinstance(last, A.Listen) else None
        if turn.state is not None:
            self.node = turn.state.node
        if isinstance(last, A.Transfer):
            self.ended, self.transfer, self._context = True, last.queue, last.context
        elif isinstance(last, A.Hangup):
            self.ended = True

    def _feed(self, event: E.Event) -> None:
        if self.ended:
            raise SimulationError("the call has already ended")
        self._apply(self.driver.feed(self.call_id, event))

    def set_time(self, at: float) -> None:
        """Start the call at ``at`` (epoch seconds): the script's ``at:``."""
        self.clock.now = at

    def start(self) -> None:
        self._apply(self.driver.start(self.call_id, self.caller, self.called, self.flow, entry=self.entry))

    def press(self, keys: str) -> None:
        self.clock.advance(0.3 * len(keys))
        self._feed(E.DigitsReceived(keys, at=self.clock()))

    def say(self, text: str) -> None:
        self.clock.advance(1.0)
        if self.listen is not None and not self.listen.speech:
            # A keypad-only Gather cannot hear speech: exactly what a real call would do.
            self.clock.advance(self.listen.timeout)
            self._feed(E.NoInput(at=self.clock()))
            return
        self._feed(E.SpeechRecognized(text, 1.0, at=self.clock(), backend="text"))

    def say_audio(self, path: str) -> None:
        if self.audio is None:
            raise SimulationError("say_audio needs the speech layer (VAD + ASR), which is not available here")
        if self.listen is None:
            raise SimulationError("say_audio: the call is not listening")
        voiced: list[bytes] = []
        sensitive = self.listen.sensitive   # a PIN said aloud never reaches the voice authenticator
        result = self.audio(path, self.listen, None if sensitive else voiced.append)
        self.clock.advance(1.0)
        if voiced:
            self.driver.hear(self.call_id, b"".join(voiced))
        self._feed(result if result is not None else E.NoInput(at=self.clock()))
        if not self.ended:   # as on the line: a passive decision once enough speech was heard
            passive = self.driver.passive_auth(self.call_id)
            if passive is not None:
                self._apply(passive)

    def silence(self, seconds: float) -> None:
        timeout = self.listen.timeout if self.listen else 5.0
        self.clock.advance(max(seconds, timeout))
        self._feed(E.NoInput(at=self.clock()))

    def hangup(self) -> None:
        self.clock.advance(0.5)
        self._apply(self.driver.feed(self.call_id, E.CallerHungUp(at=self.clock())))
        self.ended = True

    def _state(self):
        return self.driver.state(self.call_id)

    def context(self) -> Optional[dict[str, Any]]:
        if self._context is not None:
            return self._context
        st = self._state()
        return context_of(st) if st else None

    def slots(self) -> dict[str, Any]:
        st = self._state()
        return st.masked_slots() if st else {}

    def path(self) -> list[str]:
        st = self._state()
        return list(st.path) if st else []


class RemoteCall:
    """A call placed against a running server with correctly signed Twilio webhooks."""

    def __init__(self, server: str, flow_id: str, caller: str, called: str = "",
                 auth_token: Optional[str] = None, api_token: Optional[str] = None, timeout: float = 10.0,
                 speed: float = 0.0, voice: str = "flite:kal", base_dir: Optional[str] = None) -> None:
        import requests
        from twilio.request_validator import RequestValidator

        self.server = server.rstrip("/") + "/"
        self.flow_id, self.caller, self.called = flow_id, caller, called
        self.entry = ""
        """Sent as ``?entry=NAME`` on the first webhook, as a web page's call button or a tracking number would."""
        self.call_id = new_call_sid()
        self.session = requests.Session()
        # One connection per webhook, as Twilio makes them; gunicorn may drop kept-alive ones.
        self.session.headers["Connection"] = "close"
        self.validator = RequestValidator(auth_token) if auth_token else None
        self.api_token = api_token
        self.timeout = timeout
        self.heard: list[str] = []
        self.node: Optional[str] = None
        self.ended = False
        self.transfer: Optional[str] = None
        self.prompt_seconds = 0.0
        self._gather: Optional[str] = None
        self._redirect: Optional[str] = None
        self._context: Optional[dict[str, Any]] = None
        self.speed = speed
        """Pace of a media stream: 0 as fast as possible, 1.0 real time (the server counts frames)."""
        self.voice = voice
        self.base_dir = base_dir
        self.stream: Any = None
        self._connect_action: Optional[str] = None
        self._turns = 0

    def _params(self, **extra: str) -> dict[str, str]:
        return {"CallSid": self.call_id, "AccountSid": "AC" + "0" * 32, "From": self.caller, "To": self.called,
                "Direction": "inbound", "CallStatus": "in-progress", **extra}

    def _post(self, url: str, params: dict[str, str]) -> str:
        import requests

        full = urljoin(self.server, url)
        headers = {}
        if self.validator is not None:
            headers["X-Twilio-Signature"] = self.validator.compute_signature(full, params)
        try:
            try:
                resp = self.session.post(full, data=params, headers=headers, timeout=self.timeout)
            except requests.ConnectionError:
                # A kept-alive connection the server dropped (gunicorn does after a websocket
                # ends): Twilio would retry the webhook, so do we, on a fresh connection.
                self.session.close()
                resp = self.session.post(full, data=params, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SimulationError(f"server {self.server} did not answer: {exc}") from exc
        if resp.status_code != 200:
            raise SimulationError(f"POST {url} answered {resp.status_code}: {resp.text[:200]}")
        return resp.text

    def _apply(self, body: str) -> None:
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise SimulationError(f"the server answered invalid TwiML: {exc}") from exc
        self._gather = self._redirect = None
        first = len(self.heard)
        played = False
        for el in root.iter():
            if el.tag == "Say":
                self.heard.append((el.text or "").strip())
                self.prompt_seconds += len((el.text or "").split()) / 2.5
            elif el.tag == "Play":
                self.heard.append(self._play_text(el.text or ""))
                played = True
            elif el.tag == "Gather":
                self._gather = el.get("action")
            elif el.tag == "Redirect":
                self._redirect = el.text
            elif el.tag == "Task":
                ctx = json.loads(el.text or "{}")
                self._context = ctx
                self.transfer = ctx.get("queue")
                self.ended = True
            elif el.tag in ("Hangup", "Dial"):
                self.ended = True
            elif el.tag == "Enqueue" and el.find("Task") is None:
                self.transfer = (el.text or "").strip() or None
                self.ended = True
            elif el.tag == "Connect":
                self._connect_action = el.get("action")
            elif el.tag == "Stream":
                self._open_stream(el.get("url") or "", {p.get("name"): p.get("value") for p in el.iter("Parameter")})
                return
        info = self._refresh_node()
        if played and info and info.get("prompts"):
            # Prompts with slot values play as several pieces; the server says what they were as text.
            self.heard[first:] = list(info["prompts"])

    def _play_text(self, url: str) -> str:
        """The text of a played prompt, from the server's prompt manifest (if it serves one)."""
        try:
            resp = self.session.get(urljoin(self.server, url) + ".json", timeout=self.timeout)
            if resp.status_code == 200:
                info = resp.json()
                self.prompt_seconds += float(info.get("duration_s", 0))
                return str(info.get("text", url))
        except Exception:
            pass
        return url

    def _api(self, path: str) -> Optional[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.api_token}"} if self.api_token else {}
        resp = self.session.get(urljoin(self.server, path.lstrip("/")), headers=headers, timeout=self.timeout)
        return resp.json() if resp.status_code == 200 else None

    def _refresh_node(self) -> Optional[dict[str, Any]]:
        info = self._api(f"api/calls/{self.call_id}")
        if info is not None:
            self.node = info.get("node")
        return info

    # -- speech calls over a media stream ------------------------------------------
    def _open_stream(self, url: str, parameters: dict[str, Any]) -> None:
        """``<Connect><Stream>``: play Twilio's part with the test media client."""
        # The server names its public host; a simulator reaches it where it was told to.
        server = urlsplit(self.server)
        scheme = "wss" if server.scheme == "https" else "ws"
        ws_url = f"{scheme}://{server.netloc}{urlsplit(url).path or '/media'}"
        self.stream = MediaStreamClient(ws_url, speed=self.speed, timeout=self.timeout, call_sid=self.call_id)
        try:
            self.stream.connect({k: str(v) for k, v in parameters.items()})
        except Exception as exc:
            raise SimulationError(f"could not open the media stream {ws_url}: {exc}") from exc
        self._turns = 0
        self._await_turn(send_silence=False)

    def _turn_marks(self) -> int:
        return sum(1 for m in self.stream.received.marks if m.startswith("turn-"))

    def _await_turn(self, send_silence: bool = True, max_audio_s: float = 300.0) -> None:
        """Wait for the server's next turn (its closing mark) or the end of the stream.

        Twilio streams continuously, and the server's timers count frames, so
        silence keeps flowing while we wait (fast, in 100 ms chunks).
        """
        stream = self.stream
        deadline = time.monotonic() + max(self.timeout, 30.0)
        sent = 0.0
        while True:
            if self._turn_marks() > self._turns or stream.closed:
                break
            if time.monotonic() > deadline or sent > max_audio_s:
                raise SimulationError("the server did not answer over the media stream")
            if send_silence:
                try:
                    stream.send_silence(100)
                except Exception:
                    stream.wait_closed(1.0)
                    continue
                sent += 0.1
                if self.speed == 0:
                    # "As fast as possible" is ten times real time while waiting: a server busy
                    # for a moment must not see seconds of line time pass that never did.
                    stream.wait_for(lambda: self._turn_marks() > self._turns or stream._closed, 0.01)
            else:
                stream.wait_for(lambda: self._turn_marks() > self._turns or stream._closed, 0.05)
        self._turns = self._turn_marks()
        stream.wait_idle(self.timeout)
        info = self._refresh_node()
        if info and info.get("prompts"):
            self.heard.extend(info["prompts"])
        if info and info.get("ended"):
            stream.wait_closed(self.timeout)
        if stream.closed:
            self._after_stream()

    def _after_stream(self) -> None:
        """The stream closed: Twilio posts the ``<Connect action>`` and follows its TwiML."""
        stream, self.stream = self.stream, None
        stream.close()
        self._apply(self._post((self._connect_action or "/voice/connect").lstrip("/"), self._params()))

    def _stream_send(self, fn: Callable[[], None]) -> None:
        if self.stream is None or self.stream.closed:
            raise SimulationError("the call is not listening")
        fn()
        self._await_turn()

    def set_time(self, at: float) -> None:
        """A server keeps its own clock: a script pinned to a time cannot run against it."""
        raise SimulationError("the script sets at: (a start time), which only the in-process simulator can "
                              "honour; a server runs on its own clock. Run it without --server, or drop at:")

    def start(self) -> None:
        query = urlencode({"flow": self.flow_id, **({"entry": self.entry} if self.entry else {})})
        self._apply(self._post(f"voice?{query}", self._params()))

    def press(self, keys: str) -> None:
        if self.stream is not None:
            def keys_out() -> None:
                for k in keys:
                    self.stream.send_dtmf(k)
                    self.stream.send_silence(100)
            self._stream_send(keys_out)
            return
        if not self._gather:
            raise SimulationError("press: the call is not listening for keys")
        self._apply(self._post(self._gather, self._params(Digits=keys)))

    def say(self, text: str) -> None:
        if self.stream is not None:
            pcm = synthesize(text, self.voice, lead_ms=200, trail_ms=200)
            self._stream_send(lambda: self.stream.send_pcm(pcm))
            return
        # Keypad calls over TwiML cannot hear speech: the Gather times out, as on a real phone.
        self.silence(0)

    def say_audio(self, path: str) -> None:
        if self.stream is not None:
            from pathlib import Path
            p = Path(path)
            if not p.is_absolute() and self.base_dir:
                p = Path(self.base_dir) / p
            if not p.is_file():
                raise SimulationError(f"say_audio: no such file {p}")
            self._stream_send(lambda: self.stream.send_wav(p))
            return
        self.silence(0)

    def silence(self, seconds: float) -> None:
        if self.stream is not None:
            self._stream_send(lambda: self.stream.send_silence(int(seconds * 1000)))
            return
        if not self._redirect:
            raise SimulationError("silence: the call is not listening")
        self._apply(self._post(self._redirect, self._params()))

    def hangup(self) -> None:
        if self.stream is not None:
            stream, self.stream = self.stream, None
            try:
                stream.send_stop()
            finally:
                stream.close()
        self._post("voice/status", self._params(CallStatus="completed"))
        self.ended = True

    def context(self) -> Optional[dict[str, Any]]:
        ctx = self._api(f"api/calls/{self.call_id}/context")
        return ctx if ctx is not None else self._context

    def slots(self) -> dict[str, Any]:
        ctx = self.context() or {}
        return ctx.get("slots", {})

    def path(self) -> list[str]:
        ctx = self.context() or {}
        return ctx.get("path", [])
