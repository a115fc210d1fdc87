"""The capacity benchmark's simulated callers (:mod:`ivr.bench.callers`) against the real ``serve``.

They replace a thread-per-call Twilio client that took as much CPU as the server it measured; these
check they still behave like Twilio where the figures depend on it: the real websocket protocol,
real-time pacing with silence between words, marks echoed once their audio has "played", ``clear``
honoured (the callers barge in while the greeting plays), and the gap timed from the last word.
"""

from __future__ import annotations

import os
import threading
from typing import Iterator

import pytest

from ivr.bench.callers import CallPlan, run_level, spread_plans
from ivr.bench.stream import Server, _trailing_silence_s
from ivr.speech.synth import synthesize


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("callers"))
    yield srv
    srv.close()


def test_a_level_of_callers_each_gets_its_reply_in_one_loop(server: Server) -> None:
    clips = [synthesize("balance", v, lead_ms=100, trail_ms=0) for v in ("flite:kal", "flite:slt", "flite:awb")]
    timed = [(pcm, _trailing_silence_s(pcm)) for pcm in clips]
    server.stats(reset=True)
    before = threading.active_count()
    peak = [before]
    done = threading.Event()

    def sample() -> None:  # the peak while the calls run, not the count once they are over
        while not done.wait(0.01):
            peak[0] = max(peak[0], threading.active_count())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        outs = run_level(server.base, spread_plans(timed, 6, 7_000, spread_s=2.0, seed=1))
    finally:
        done.set()
        sampler.join()
    # The sampler, plus at most asyncio's default executor (name lookups: min(32, CPUs + 4) threads);
    # a thread-per-call client would need 3 per call (18 for these 6).
    assert peak[0] <= before + 1 + min(32, (os.cpu_count() or 1) + 4), f"callers are coroutines, not threads per call: peak {peak[0]}, before {before}"
    assert [o["ok"] for o in outs] == [True] * 6, outs
    assert all(o["gap_ms"] is not None and 0 < o["gap_ms"] < 3000 for o in outs), outs
    st = server.stats()
    assert st["total"] >= 6 and st["reply_gap_ms"]["n"] >= 6, st
    assert st["early_ends"] >= 1, st


def test_a_caller_that_never_speaks_hears_the_no_input_prompt(server: Server) -> None:
    # The no-input timer starts only when the menu's mark comes back: the caller echoes marks once the
    # audio queued before them has played, as Twilio does, so saying nothing is answered by a re-prompt.
    import time
    silence = b"\x00\x00" * 8000
    plan = CallPlan(8_000, silence, trailing_s=1.0, hold_until=time.monotonic() + 1, reply_within=20.0)
    out = run_level(server.base, [plan])[0]
    assert out["ok"] and out["seconds"] > 5, out   # turn 2: the no-input re-prompt, once the menu played and 5 s passed


def test_the_latency_bench_plays_calls_one_at_a_time_with_the_same_callers(server: Server) -> None:
    from ivr.bench.stream import latency

    out = latency(server, calls=2)
    for kind in ("phrase", "sentence"):
        row = out[kind]
        assert row["answered"] == row["calls"] == 1, out
        assert row["caller_gap_ms_p50"] is not None and 0 < row["caller_gap_ms_p50"] < 3000, out
        assert row["reply_gap_ms_p50"] is not None, out
