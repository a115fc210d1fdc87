"""Real calls for the report page tests: signed webhooks through the app, at times a test chooses.

The caller follows the TwiML it is given (the ``<Gather action>`` for keys, the
``<Redirect>`` for silence), as Twilio does, so a test names what the caller
does, not the webhook URLs.
"""

from __future__ import annotations

import html
import random
import re
import zlib
from typing import Any, Optional

from tests.handoff.helpers import Caller, Clock

DAY = 86400.0


class ScriptedCall(Caller):
    """One call that answers each prompt from the last TwiML; with a clock, each answer takes ``turn_s``."""

    clock: Optional[Clock] = None
    turn_s = 6.0

    def post(self, path: str, status: int = 200, **params: str) -> str:
        if self.clock is not None and path.startswith("/voice/input"):
            self.clock.now += self.turn_s
        return super().post(path, status, **params)

    def begin(self) -> "ScriptedCall":
        self.twiml = self.start()
        return self

    def _url(self, pattern: str) -> str:
        found = re.search(pattern, self.twiml)
        assert found, f"no {pattern!r} in {self.twiml}"
        return html.unescape(found.group(1))

    def keys(self, digits: str) -> "ScriptedCall":
        self.twiml = self.post(self._url(r'<Gather action="([^"]+)"'), Digits=digits)
        return self

    def silence(self) -> "ScriptedCall":
        self.twiml = self.post(self._url(r"<Redirect[^>]*>([^<]+)</Redirect>"))
        return self

    def agent_then_survey(self, *answers: str) -> "ScriptedCall":
        """An agent takes the call (Twilio's ``<Enqueue action>``, bridged); with answers, the caller agrees to
        the post-call survey and gives them, else declines it."""
        self.twiml = self.post("/voice/queue/done", QueueResult="bridged", QueueTime="45")
        self.keys("1" if answers else "2")
        for a in answers:
            self.keys(a)
        return self

    def hang_up(self, seconds: int = 40) -> None:
        self.post("/voice/status", CallStatus="completed", CallDuration=str(seconds))


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def png_colours(data: bytes, step: int = 7) -> dict[tuple[int, ...], int]:
    """How often each colour occurs in every ``step``-th pixel of every ``step``-th row (8-bit RGB/RGBA PNG)."""
    width, height = png_size(data)
    depth, ctype, interlace = data[24], data[25], data[28]
    assert depth == 8 and ctype in (2, 6) and interlace == 0, "only plain 8-bit RGB(A) PNGs"
    bpp = 4 if ctype == 6 else 3
    pos, idat = 8, b""
    while pos < len(data):
        n = int.from_bytes(data[pos:pos + 4], "big")
        if data[pos + 4:pos + 8] == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    raw, stride = zlib.decompress(idat), width * bpp
    prev, counts = bytearray(stride), {}
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        if y % step == 0:
            for x in range(0, width, step):
                px = tuple(line[x * bpp:x * bpp + 3])
                counts[px] = counts.get(px, 0) + 1
        prev = line
    return counts


def demo_mix(client: Any, clock: Clock, days: int = 30, seed: int = 13) -> dict[str, int]:
    """A realistic month on the bank demo flow: balance checks, lost cards, billing, hours, people asking for
    a person, callers who give up, post-call surveys, between 08:00 and 18:00 UTC of the last ``days`` days
    (today included); returns how many calls of each kind were made."""
    rng = random.Random(seed)
    start = (clock.now // DAY - (days - 1)) * DAY  # midnight UTC, ``days`` days ago including today
    made: dict[str, int] = {}
    kinds = [("balance", 30), ("lost_card", 14), ("statement", 10), ("billing_agent", 8), ("hours", 10),
             ("agent", 9), ("abandon_menu", 8), ("abandon_account", 5), ("wrong_account", 4), ("no_input", 4)]
    n = 0
    for day in range(days):
        for _ in range(rng.randint(1, 7) + (3 if day % 7 < 5 else 0)):
            kind = rng.choices([k for k, _ in kinds], weights=[w for _, w in kinds])[0]
            clock.now = start + day * DAY + rng.uniform(8, 18) * 3600
            n += 1
            caller = f"+1555{rng.randint(0, 60):07d}"
            call = ScriptedCall(client, f"CA{n:032d}", caller=caller, flow="bank")
            call.clock, call.turn_s = clock, rng.uniform(4, 12)
            call.begin()
            if kind == "balance":
                call.keys("1").keys("12345678#").keys("2468#").keys("2")
            elif kind == "lost_card":
                call.keys("2")
            elif kind == "statement":
                call.keys("3").keys("1").keys("2")
            elif kind == "billing_agent":
                call.keys("3").keys("2")
            elif kind == "hours":
                call.keys("4").keys(rng.choice("12"))
            elif kind == "agent":
                call.keys("0")
            elif kind == "abandon_account":
                call.keys("1")
            elif kind == "wrong_account":
                call.keys("1").keys("99999999#").keys("1111#").keys("9").keys("2")
            elif kind == "no_input":
                call.silence().keys("1").keys("12345678#").keys("2468#").keys("2")
            if kind in ("lost_card", "billing_agent", "agent", "wrong_account") and rng.random() < 0.6:
                happy = (rng.choice("45"), rng.choice("567"), rng.choice(["8#", "9#", "10"]))
                unhappy = (rng.choice("123"), rng.choice("234"), f"{rng.randint(0, 6)}#")
                answers = (happy if rng.random() < 0.7 else unhappy) if rng.random() < 0.7 else ()
                call.agent_then_survey(*answers)
            clock.now += rng.uniform(20, 240)
            call.hang_up()
            made[kind] = made.get(kind, 0) + 1
    return made
