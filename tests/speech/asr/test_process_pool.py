"""Decoding in a worker process: the same answers as in-line, and a dead worker costs one utterance only."""

from __future__ import annotations

import os
import signal
from typing import Iterator

import pytest

from ivr.bench.speech import benchmark_menu
from ivr.errors import SpeechError
from ivr.speech.asr import get_recognizer
from ivr.speech.asr.process_pool import ProcessRecognizer
from ivr.speech.synth import synthesize

SAYINGS = ("balance", "I want to pay my bill", "tell me a joke", "report fraud", "get me an operator")


@pytest.fixture(scope="module")
def pooled() -> Iterator[ProcessRecognizer]:
    rec = ProcessRecognizer("pocketsphinx")
    yield rec
    rec.close()


def _hear(rec, grammar, pcm):  # type: ignore[no-untyped-def]
    s = rec.start(grammar)
    s.accept(pcm)
    return s.finish()


def test_the_worker_process_hears_what_the_web_process_would(pooled: ProcessRecognizer) -> None:
    grammar, _ = benchmark_menu()
    inline = get_recognizer("pocketsphinx")
    clips = [synthesize(t, v) for t in SAYINGS for v in ("flite:slt", "espeak:en-gb+m1")]
    assert (pooled.name, pooled.sample_rate, pooled.model) == (inline.name, inline.sample_rate, inline.model)
    forward = [_hear(pooled, grammar, c) for c in clips]
    backward = [_hear(pooled, grammar, c) for c in reversed(clips)][::-1]
    assert forward == backward == [_hear(inline, grammar, c) for c in clips]
    assert any(h.text for h in forward) and any(not h.text for h in forward)


def test_a_killed_worker_costs_one_utterance_then_a_new_one_answers(pooled: ProcessRecognizer) -> None:
    grammar, _ = benchmark_menu()
    pcm = synthesize("report fraud", "flite:slt")
    assert _hear(pooled, grammar, pcm).text == "report fraud"
    restarts = pooled.restarts
    pool = pooled._current()
    for proc in list(pool._processes.values()):  # type: ignore[union-attr]
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(5)
    with pytest.raises(SpeechError, match="worker process failed"):
        _hear(pooled, grammar, pcm)
    assert pooled.restarts == restarts + 1
    assert _hear(pooled, grammar, pcm).text == "report fraud"


def test_a_backend_that_cannot_load_says_why_at_start() -> None:
    with pytest.raises(SpeechError, match="valid names"):
        ProcessRecognizer("no-such-backend")


def test_a_forked_server_worker_gets_its_own_process_warm_for_the_grammars_heard(pooled: ProcessRecognizer) -> None:
    grammar, _ = benchmark_menu()
    pcm = synthesize("lost card", "espeak:en-gb+m1")
    before = _hear(pooled, grammar, pcm)
    parents = pooled._current()
    pooled._pid = -1                 # as seen from a process forked after the pool started
    try:
        pooled.after_fork()
        assert pooled._current() is not parents
        assert _hear(pooled, grammar, pcm) == before
    finally:
        parents.shutdown(wait=True)


ORPHAN_SCRIPT = """
import sys, threading, time
from ivr.bench.speech import benchmark_menu
from ivr.speech.asr.process_pool import ProcessRecognizer
rec = ProcessRecognizer("pocketsphinx")
print(" ".join(str(p) for p in rec._current()._processes), flush=True)
grammar, _ = benchmark_menu()
threading.Thread(target=lambda: [rec.warm(grammar) for _ in range(50)], daemon=True).start()
time.sleep(60)
"""


def test_a_worker_process_ends_with_its_parent_however_the_parent_died() -> None:
    """A server killed while it warms must not leave a decoder holding its stdout (a supervisor would hang)."""
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-c", ORPHAN_SCRIPT], stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(p) for p in proc.stdout.readline().split()]  # type: ignore[union-attr]
        assert workers
        time.sleep(0.5)   # the worker is busy with the warm-up queue
        proc.kill()
        # The pipe closes only once every process holding it (the worker included) has exited.
        assert proc.communicate(timeout=10)[0] == ""
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in workers)
    finally:
        proc.kill()


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its new parent to reap it counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
