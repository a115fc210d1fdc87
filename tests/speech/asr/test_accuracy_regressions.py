"""Held-out utterances that the accuracy work fixed, one small sample per weakness (issue 9, item 4).

Each (sentence, voice) pair is from the benchmark's HELD-OUT half (voices and
sentences never tuned on) and was misheard before: pocketsphinx's language
model knew only bare phrases and single filler words, so the words around a
phrase were decoded as more phrases ("can night opening hours person" for
"can I talk to a real person") and any sentence longer than four words was
refused. They pass now because the model holds callers' carrier frames and
whole sentences go to the engine's matcher.
"""

from __future__ import annotations

import pytest

from ivr.bench import speech as bench
from ivr.speech.synth import synthesize

CASES = [
    # an agent request inside a sentence
    ("can I talk to a real person", "agent", "espeak:en-gb+m1"),
    ("can I talk to a real person", "agent", "espeak:en-us+Mike"),
    ("let me speak to a human please", "agent", "flite:slt"),
    ("let me speak to a human please", "agent", "espeak:en-gb+m1"),
    # a key said with a carrier word
    ("number five", "5", "flite:slt"),
    ("number five", "5", "espeak:en+f2"),
    ("option two", "2", "espeak:en-gb+m1"),
    # ("option two", espeak:en-us+Mike) passed only with the dithered resampler's noise: with the same
    # samples every time it is a no-match (re-prompted), so it is no longer listed.
    # an option phrase inside a sentence
    ("I just want to check my balance", "1", "flite:slt"),
    ("I just want to check my balance", "1", "espeak:en-us+Mike"),
    # a question holding an option phrase (was a false escalation: "agent check my balance one")
    ("could you check my balance for me", "1", "flite:slt"),
    ("could you check my balance for me", "1", "espeak:en-gb+m1"),
    ("why is my bill so high this month", "3", "espeak:en+f2"),
]


@pytest.fixture(scope="module")
def menu():
    return bench.benchmark_menu()


@pytest.mark.parametrize("text,want,voice", CASES)
def test_held_out_utterance_is_understood(sphinx, menu, text, want, voice):
    """Understood as the benchmark counts it: acted on, or confirmed with the caller."""
    grammar, match = menu
    hyp, _, _ = bench.recognise(sphinx, grammar, synthesize(text, voice, lead_ms=200, trail_ms=400))
    assert match(hyp.text) == want, hyp.raw
