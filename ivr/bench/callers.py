"""Many simulated Twilio callers in one asyncio loop: the load side of the capacity benchmark.

Why not one :class:`~ivr.sim.media_client.MediaStreamClient` per call: that
client keeps three threads per call (sender, reader, player) that wake every
20 ms. At 40 calls on the benchmark's 2 cores it used as much CPU as the
server it was measuring (0.48 cores against 0.49 while every call streamed
silence), so the benchmark measured a box half taken by its own callers.
Twilio's media servers are not on the IVR's machine. Here every call is a
coroutine in one event loop over the ``websockets`` client (its masking is
compiled), frames are pre-encoded, and playback is a clock instead of a
thread: a ``mark`` is echoed when the audio queued before it would have
finished playing, and a ``clear`` echoes the pending marks at once, as
Twilio does.

A caller behaves like :func:`ivr.bench.stream.one_call`: it waits for the
greeting, streams silence, says its clip at real-time pace, keeps streaming
silence (Twilio never stops), and records the gap from its last word to the
first audio of the reply.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Optional

from ivr.speech.codec import PHONE_RATE, pcm16_to_ulaw

FRAME_BYTES = 160
"""20 ms of 8 kHz mu-law, Twilio's frame."""
FRAME_S = 0.02


@dataclass
class CallPlan:
    """One simulated caller.

    Attributes:
        index: makes the CallSid and caller number.
        pcm: what the caller says (8 kHz pcm16).
        trailing_s: silence at the end of ``pcm`` (the gap is timed from the last word).
        arrive_after: seconds after the level starts before the call is placed.
        speak_after: seconds of silence after the greeting began before speaking.
        hold_until: keep streaming silence until this ``time.monotonic()``.
        reply_within: seconds after the last word to wait for the reply's turn.
    """

    index: int
    pcm: bytes
    trailing_s: float = 0.0
    arrive_after: float = 0.0
    speak_after: float = 0.0
    hold_until: float = 0.0
    reply_within: float = 8.0


@dataclass
class _Line:
    """One call's websocket side: what it received and its playback clock."""

    ws: Any
    stream_sid: str
    audio_bytes: int = 0
    marks: list[str] = field(default_factory=list)
    play_until: float = 0.0
    pending: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    """Marks not yet echoed (their audio is still "playing"), by name."""
    closed: bool = False
    seq: int = 0


def _frames(ulaw: bytes) -> list[str]:
    """Base64 payloads of 20 ms frames (the last padded with silence)."""
    return [base64.b64encode(ulaw[i:i + FRAME_BYTES].ljust(FRAME_BYTES, b"\xff")).decode("ascii")
            for i in range(0, len(ulaw), FRAME_BYTES)]


SILENCE = _frames(b"\xff" * FRAME_BYTES)[0]


class Caller:
    """Plays one :class:`CallPlan` against ``base`` (the server's http URL)."""

    def __init__(self, base: str, plan: CallPlan, timeout: float = 20.0) -> None:
        self.base = base
        self.plan = plan
        self.timeout = timeout
        self.sid = "CA" + f"{plan.index:032x}"[-32:]
        self.stream_sid = "MZ" + f"{plan.index:032x}"[-32:]
        self.chunk = 0
        self.line: Optional[_Line] = None

    async def run(self) -> dict[str, Any]:
        """The call; returns ``ok`` (the reply's turn came), ``gap_ms`` and ``seconds``."""
        import websockets

        plan = self.plan
        await asyncio.sleep(plan.arrive_after)
        t0 = time.monotonic()
        params = await asyncio.to_thread(self._voice_webhook)
        out: dict[str, Any] = {"ok": False}
        url = self.base.replace("http", "ws", 1) + "/media"
        async with websockets.connect(url, open_timeout=self.timeout, max_size=2 ** 20, compression=None) as ws:
            line = self.line = _Line(ws, self.stream_sid)
            reader = asyncio.create_task(self._read(line))
            try:
                await self._send(line, {"event": "connected", "protocol": "Call", "version": "1.0.0"})
                await self._send(line, {"event": "start", "sequenceNumber": self._seq(line), "streamSid": self.stream_sid,
                                        "start": {"accountSid": "AC" + "0" * 32, "streamSid": self.stream_sid,
                                                  "callSid": self.sid, "tracks": ["inbound"],
                                                  "mediaFormat": {"encoding": "audio/x-mulaw",
                                                                  "sampleRate": PHONE_RATE, "channels": 1},
                                                  "customParameters": params}})
                if not await self._until(lambda: line.audio_bytes > 0, self.timeout):
                    return out
                speech = _frames(pcm16_to_ulaw(plan.pcm))
                clock = time.monotonic()
                clock = await self._stream(line, [SILENCE] * int((0.4 + plan.speak_after) / FRAME_S), clock)
                words = max(1, len(speech) - int(plan.trailing_s / FRAME_S))
                clock = await self._stream(line, speech[:words], clock)
                sent_at, heard = time.monotonic(), line.audio_bytes   # the caller's last word went out
                clock = await self._stream(line, speech[words:], clock)
                gap: Optional[float] = None
                deadline = sent_at + plan.reply_within
                while time.monotonic() < deadline and not line.closed:
                    if gap is None and line.audio_bytes > heard:
                        gap = time.monotonic() - sent_at
                    if any(m.startswith("turn-2") for m in line.marks):
                        break
                    clock = await self._stream(line, [SILENCE], clock)
                out.update(ok=any(m.startswith("turn-2") for m in line.marks),
                           seconds=round(time.monotonic() - t0, 2),
                           gap_ms=round(gap * 1000, 1) if gap is not None else None)
                while time.monotonic() < plan.hold_until and not line.closed:
                    clock = await self._stream(line, [SILENCE] * 10, clock)
                if not line.closed:
                    await self._send(line, {"event": "stop", "sequenceNumber": self._seq(line),
                                            "streamSid": self.stream_sid,
                                            "stop": {"accountSid": "AC" + "0" * 32, "callSid": self.sid}})
            except Exception as exc:  # noqa: BLE001 - the server may end the call (goodbye) while we stream
                if not line.closed and not out.get("ok"):
                    out["error"] = f"{type(exc).__name__}: {exc}"[:120]
            finally:
                line.closed = True
                for h in line.pending.values():
                    h.cancel()
                reader.cancel()
        return out

    # -- webhook -----------------------------------------------------------------

    def _voice_webhook(self) -> dict[str, str]:
        import requests
        body = requests.post(self.base + "/voice?flow=acme",
                             data={"CallSid": self.sid, "From": "+1555000%04d" % (self.plan.index % 10000),
                                   "To": "+15550001111"}, timeout=self.timeout).text
        return {p.get("name") or "": p.get("value") or "" for p in ET.fromstring(body).iter("Parameter")}

    # -- sending -------------------------------------------------------------------

    @staticmethod
    def _seq(line: _Line) -> str:
        line.seq += 1
        return str(line.seq)

    async def _send(self, line: _Line, msg: dict[str, Any]) -> None:
        await line.ws.send(json.dumps(msg))

    async def _stream(self, line: _Line, payloads: list[str], clock: float) -> float:
        """Send frames at real-time pace from ``clock`` (absolute pacing: no drift); the next frame's time."""
        for payload in payloads:
            if line.closed:
                break
            self.chunk += 1
            line.seq += 1
            # The same JSON as Twilio's media message, built without json.dumps (2,000 a second at 40 calls).
            await line.ws.send('{"event":"media","sequenceNumber":"%d","media":{"track":"inbound","chunk":"%d",'
                               '"timestamp":"%d","payload":"%s"},"streamSid":"%s"}'
                               % (line.seq, self.chunk, (self.chunk - 1) * 20, payload, self.stream_sid))
            clock += FRAME_S
            delay = clock - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        return clock

    # -- receiving -----------------------------------------------------------------

    async def _read(self, line: _Line) -> None:
        loop = asyncio.get_running_loop()
        try:
            async for text in line.ws:
                msg = json.loads(text)
                event = msg.get("event")
                now = loop.time()
                if event == "media":
                    n = len(base64.b64decode(msg["media"]["payload"]))
                    line.audio_bytes += n
                    line.play_until = max(line.play_until, now) + n / PHONE_RATE
                elif event == "mark":
                    name = str(msg["mark"]["name"])
                    line.marks.append(name)
                    line.pending[name] = loop.call_at(max(line.play_until, now), self._echo, line, name)
                elif event == "clear":
                    # Unplayed audio is dropped and its marks come back at once.
                    line.play_until = now
                    for name, handle in list(line.pending.items()):
                        handle.cancel()
                        self._echo(line, name)
        except Exception:  # noqa: BLE001 - closed by the server: the call is over
            pass
        finally:
            line.closed = True

    def _echo(self, line: _Line, name: str) -> None:
        line.pending.pop(name, None)
        if line.closed:
            return
        line.seq += 1
        msg = json.dumps({"event": "mark", "sequenceNumber": str(line.seq), "streamSid": self.stream_sid,
                          "mark": {"name": name}})
        asyncio.ensure_future(self._safe_send(line, msg))

    @staticmethod
    async def _safe_send(line: _Line, text: str) -> None:
        try:
            await line.ws.send(text)
        except Exception:  # noqa: BLE001
            line.closed = True

    async def _until(self, pred: Any, timeout: float) -> bool:
        """Stream silence (Twilio never stops) until ``pred()`` or the timeout."""
        clock = time.monotonic()
        deadline = clock + timeout
        line = self.line
        assert line is not None
        while not pred():
            if time.monotonic() > deadline or line.closed:
                return bool(pred())
            clock = await self._stream(line, [SILENCE], clock)
        return True


def run_level(base: str, plans: list[CallPlan], timeout: float = 20.0) -> list[dict[str, Any]]:
    """Play every plan at once in one event loop; one result per plan (a failed call is a result)."""
    async def one(plan: CallPlan) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(Caller(base, plan, timeout).run(), timeout + 60)
        except Exception as exc:  # noqa: BLE001
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:120]}

    async def main() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(one(p) for p in plans)))

    return asyncio.run(main())


def spread_plans(clips: list[tuple[bytes, float]], level: int, first_index: int, spread_s: float,
                 seed: Optional[int] = None) -> list[CallPlan]:
    """``level`` callers arriving over a second, each speaking once at a random moment within ``spread_s``."""
    rnd = random.Random(seed)
    hold = time.monotonic() + spread_s + 7.0
    return [CallPlan(first_index + k, clips[k % len(clips)][0], clips[k % len(clips)][1],
                     arrive_after=rnd.random(), speak_after=rnd.random() * spread_s, hold_until=hold)
            for k in range(level)]
