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
from ..services import Services
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
    def hold(self, position: int, average_wait: int) -> None: ...
    def agent_hangup(self) -> None: ...
    def events(self) -> list[dict[str, Any]]: ...
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
                 prompt_seconds: Optional[PromptSeconds] = None, services: Optional[Services] = None) -> None:
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
        self.services = services
        """The driver's services: ``hold:`` and ``agent:`` run through the webhooks on them (:mod:`.inprocess`)."""
        self._web: Optional[RemoteCall] = None
        self._web_app: Any = None

    # -- the webhook leg: the queue, its dialogues and the post-call survey ------------------
    def _leg(self, step: str) -> "RemoteCall":
        """The call as Twilio's requests to the in-process app, from the transfer's TwiML on."""
        if self._web is not None:
            return self._web
        if self.services is None:
            raise SimulationError(f"{step}: this simulator has no web app to play the queue and the agent leg "
                                  "(LocalCall needs services=)")
        if self.transfer is None and not self._context:
            raise SimulationError(f"{step}: the call has not been transferred to a person yet")
        from .inprocess import TestClientSession, public_base, turn_twiml, webhook_app

        app = webhook_app(self.services)
        cfg = self.services.config
        leg = RemoteCall(public_base(self.services), self.flow.flow, self.caller, self.called,
                         auth_token=cfg.auth_token, api_token=cfg.api_token, session=TestClientSession(app))
        leg.call_id, leg.heard, leg.transfer, leg._context = self.call_id, self.heard, self.transfer, self._context
        leg._apply(turn_twiml(app, self.driver.answer(self.call_id)), quiet=True)   # where the transfer went
        self._web, self._web_app = leg, app
        return leg

    def _web_step(self, fn: Callable[["RemoteCall"], None], step: str, seconds: float = 1.0) -> None:
        leg = self._leg(step)
        before = leg.prompt_seconds
        self.clock.advance(seconds)
        fn(leg)
        self.clock.advance(leg.prompt_seconds - before)
        self.prompt_seconds += leg.prompt_seconds - before
        st = self._state()
        self.node, self.ended, self.transfer = (st.node if st else leg.node), leg.ended, leg.transfer
        self._context = None   # the live state says more now than the transfer's packet

    def hold(self, position: int, average_wait: int) -> None:
        self._web_step(lambda leg: leg.hold(position, average_wait), "hold")

    def agent_hangup(self) -> None:
        self._web_step(lambda leg: leg.agent_hangup(), "agent: hangup", seconds=60.0)

    def events(self) -> list[dict[str, Any]]:
        return list(self.driver.store.events(self.call_id))

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
        if self._web is not None:
            self._web_step(lambda leg: leg.press(keys), "press", 0.3 * len(keys))
            return
        self.clock.advance(0.3 * len(keys))
        self._feed(E.DigitsReceived(keys, at=self.clock()))

    def say(self, text: str) -> None:
        if self._web is not None:
            self._web_step(lambda leg: self._say_on_leg(leg, text), "say")
            return
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

    def _say_on_leg(self, leg: "RemoteCall", text: str) -> None:
        """Words on the webhook leg: a self-service turn (the survey) hears them as a media stream would;
        the queue's keypad dialogues cannot (the <Gather> times out, as on a phone)."""
        if leg._gather and urlsplit(leg._gather).path.endswith("/voice/input"):
            from .inprocess import turn_twiml
            turn = self.driver.feed(self.call_id, E.SpeechRecognized(text, 1.0, at=self.clock(), backend="text"))
            leg._apply(turn_twiml(self._web_app, turn))
            return
        leg.say(text)

    def silence(self, seconds: float) -> None:
        if self._web is not None:
            self._web_step(lambda leg: leg.silence(seconds), "silence", max(seconds, 5.0))
            return
        timeout = self.listen.timeout if self.listen else 5.0
        self.clock.advance(max(seconds, timeout))
        self._feed(E.NoInput(at=self.clock()))

    def hangup(self) -> None:
        if self._web is not None:
            self._web_step(lambda leg: leg.hangup(), "hangup", 0.5)
            self.ended = True
            return
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
                 speed: float = 0.0, voice: str = "flite:kal", base_dir: Optional[str] = None,
                 session: Any = None) -> None:
        import requests
        from twilio.request_validator import RequestValidator

        self.server = server.rstrip("/") + "/"
        self.flow_id, self.caller, self.called = flow_id, caller, called
        self.entry = ""
        """Sent as ``?entry=NAME`` on the first webhook, as a web page's call button or a tracking number would."""
        self.call_id = new_call_sid()
        if session is None:
            session = requests.Session()
            # One connection per webhook, as Twilio makes them; gunicorn may drop kept-alive ones.
            session.headers["Connection"] = "close"
        self.session = session
        """``requests.Session``-like: ``post``, ``get``, ``close`` (an in-process app's test client, see
        :class:`ivr.sim.inprocess.TestClientSession`)."""
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
        # The handoff, as Twilio follows it: the <Enqueue>'s URLs, the <Dial> action, a <Record> action.
        self._enqueue: Optional[dict[str, Optional[str]]] = None
        self._dial_action: Optional[str] = None
        self._record_action: Optional[str] = None
        self._queue_params: dict[str, str] = {}
        self._handoff = False
        """After hold: or agent: the simulator follows every <Redirect> at once, as Twilio does."""

    def _params(self, **extra: str) -> dict[str, str]:
        return {"CallSid": self.call_id, "AccountSid": "AC" + "0" * 32, "From": self.caller, "To": self.called,
                "Direction": "inbound", "CallStatus": "in-progress", **extra}

    def _post(self, url: str, params: dict[str, str]) -> str:
        import requests

        full = urljoin(self.server, url.lstrip("/"))
        if self._queue_params and urlsplit(full).path.endswith("/queue/wait"):
            params = {**params, **self._queue_params}   # Twilio posts the queue's figures to each waitUrl
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

    def _apply(self, body: str, quiet: bool = False, hops: int = 0) -> None:
        """Follow one TwiML document as Twilio would; ``quiet``: its prompts were heard already."""
        try:
            root = ET.fromstring(body)
        except ET.ParseError as exc:
            raise SimulationError(f"the server answered invalid TwiML: {exc}") from exc
        self._gather = self._redirect = self._record_action = None
        first = len(self.heard)
        played = left = hung_up = False
        for el in root.iter():
            if quiet and el.tag in ("Say", "Play"):
                continue
            if el.tag == "Say":
                self.heard.append((el.text or "").strip())
                self.prompt_seconds += len((el.text or "").split()) / 2.5
            elif el.tag == "Play":
                if el.text and "/audio/" not in el.text:
                    continue   # hold music, not a prompt
                self.heard.append(self._play_text(el.text or ""))
                played = True
            elif el.tag == "Leave":
                left = True
            elif el.tag == "Record":
                self._record_action = el.get("action")
                break   # what follows plays only if nothing was recorded (see silence)
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
                hung_up = hung_up or el.tag == "Hangup"
                if el.tag == "Dial":
                    self._dial_action, self._enqueue = el.get("action"), None
            elif el.tag == "Enqueue":
                self._enqueue, self._dial_action = {"action": el.get("action"), "wait": el.get("waitUrl")}, None
                if el.find("Task") is None:
                    self.transfer = (el.text or "").strip() or None
                    self.ended = True
            elif el.tag == "Connect":
                self._connect_action = el.get("action")
            elif el.tag == "Stream":
                self._open_stream(el.get("url") or "", {p.get("name"): p.get("value") for p in el.iter("Parameter")})
                return
        info = self._refresh_node()
        if played and info and info.get("prompts") and not self._handoff:
            # Prompts with slot values play as several pieces; the server says what they were as text.
            self.heard[first:] = list(info["prompts"])
        if not self._handoff:
            return
        if hung_up:
            self._enqueue = self._dial_action = None
        elif left and self._enqueue is not None:   # <Leave>: Twilio requests the <Enqueue action>
            action, self._enqueue, self._queue_params = self._enqueue.get("action"), None, {}
            self._follow(action or "/voice/queue/done", hops, QueueResult="leave", QueueTime="0")
        elif self._redirect and not self._gather and not self._record_action:
            self._follow(self._redirect, hops)

    def _follow(self, url: str, hops: int, **params: str) -> None:
        """Request the next document at once (a <Redirect>, an action), as Twilio does; bounded."""
        if hops >= 20:
            raise SimulationError(f"the server redirected 20 times in a row (last to {url}) without asking "
                                  "the caller anything")
        self._apply(self._post(url, self._params(**params)), hops=hops + 1)

    # -- after the transfer: the queue's wait loop and the person's leg ------------------------
    def hold(self, position: int, average_wait: int) -> None:
        """One turn of the ``<Enqueue waitUrl>``: Twilio's QueuePosition and AvgQueueTime."""
        if self._enqueue is None:
            raise SimulationError("hold: the call is not waiting in a queue; hold: follows a transfer to a "
                                  "person's queue (an <Enqueue>), before agent: hangup")
        self._handoff, self.ended = True, False
        self._queue_params = {"QueuePosition": str(position), "AvgQueueTime": str(average_wait),
                              "CurrentQueueSize": str(max(position, 1)), "QueueTime": "0"}
        self._apply(self._post(self._enqueue.get("wait") or "/voice/queue/wait", self._params()))

    def agent_hangup(self) -> None:
        """The person hangs up with the caller still on the line: Twilio's ``<Enqueue>``/``<Dial>`` action."""
        if self._dial_action:
            url, params = self._dial_action, {"DialCallStatus": "completed", "DialCallDuration": "60"}
        elif self._enqueue is not None:
            url = self._enqueue.get("action") or "/voice/queue/done"
            params = {"QueueResult": "bridged", "QueueTime": self._queue_params.get("AvgQueueTime", "0")}
        else:
            raise SimulationError("agent: hangup: the caller is not with a person; it follows a transfer to an "
                                  "agent queue (not voicemail or a callback), or a hold: in its queue")
        self._enqueue = self._dial_action = None
        self._queue_params = {}
        self._handoff, self.ended = True, False
        self._apply(self._post(url, self._params(**params)))

    def _record_done(self, digits: Optional[str], seconds: float) -> None:
        """The ``<Record>`` ended (a key, or silence after the message): Twilio requests its action."""
        params = {"RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}/Recordings/RE"
                                  f"{uuid.uuid4().hex}", "RecordingDuration": str(max(1, int(round(seconds))))}
        params["RecordingSid"] = params["RecordingUrl"].rsplit("/", 1)[1]
        if digits:
            params["Digits"] = digits
        self._apply(self._post(self._record_action or "/voice/queue/voicemail/done", self._params(**params)))

    def events(self) -> list[dict[str, Any]]:
        """The call's recorded events (the server's ``/api/calls/<sid>/events``)."""
        return list((self._api(f"api/calls/{self.call_id}/events") or {}).get("events") or [])

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
        if self._record_action:
            self._record_done(keys, 0)
            return
        if not self._gather:
            raise SimulationError("press: the call is not listening for keys")
        self._apply(self._post(self._gather, self._params(Digits=keys)))

    def say(self, text: str) -> None:
        if self.stream is not None:
            pcm = synthesize(text, self.voice, lead_ms=200, trail_ms=200)
            self._stream_send(lambda: self.stream.send_pcm(pcm))
            return
        if self._record_action:   # a message spoken into the <Record>, ended by the silence after it
            self._record_done(None, len(text.split()) / 2.5)
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
        if self._record_action:   # nothing recorded: Twilio skips the action and goes on in the document
            self._record_action = None
            if not self.ended:
                self.ended = True
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
