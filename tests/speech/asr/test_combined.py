"""The combined recogniser: a second opinion only when the first is unsure, and how the two are merged."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ivr.errors import SpeechError
from ivr.speech.asr.base import Hypothesis
from ivr.speech.asr.combined import CombinedRecognizer, CombinedTuning, framed, phrases_in
from ivr.speech.grammar import Grammar, digits_grammar

MENU = Grammar(("balance", "my balance", "lost card", "agent", "one"), "en-US")


@dataclass
class Fake:
    """A recogniser that answers a fixed hypothesis and records the audio and grammars it got."""

    answer: Hypothesis
    name: str = "fake"
    sample_rate: int = 8000
    heard: list = field(default_factory=list)

    def start(self, grammar):
        fake = self

        class Session:
            def __init__(self):
                self.audio = bytearray()

            def accept(self, pcm):
                self.audio.extend(pcm)

            def finish(self):
                fake.heard.append((grammar, bytes(self.audio)))
                return fake.answer

        return Session()


def run(first: Hypothesis, second: Hypothesis, grammar=MENU, tuning=None):
    a, b = Fake(first, "one"), Fake(second, "two")
    s = CombinedRecognizer(a, b, tuning).start(grammar)
    s.accept(b"\x01\x00" * 80)
    s.accept(b"\x02\x00" * 80)
    return s.finish(), a, b


def test_a_sure_bare_phrase_never_pays_for_the_second_recogniser():
    h, _, second = run(Hypothesis("my balance", 0.9, "one"), Hypothesis("agent", 0.9, "two"))
    assert h.text == "my balance" and not second.heard


def test_a_sentence_is_checked_even_when_sure_and_the_second_hears_the_same_audio():
    h, first, second = run(Hypothesis("i lost my card", 0.95, "one"), Hypothesis("", 0.0, "two"))
    assert second.heard and second.heard[0][1] == first.heard[0][1] == b"\x01\x00" * 80 + b"\x02\x00" * 80
    assert h.text == "i lost my card" and h.confidence < 0.5         # kept, but the flow confirms it


def test_agreement_keeps_the_grammar_spelling_and_the_higher_confidence():
    h, _, _ = run(Hypothesis("my balance please", 0.4, "one"), Hypothesis("my balance please", 0.8, "two"))
    assert (h.text, h.confidence) == ("my balance please", 0.8) and "agree" in h.raw
    h, _, _ = run(Hypothesis("press one", 0.3, "one"), Hypothesis("press one press one", 0.6, "two"))
    assert h.text == "press one"


def test_on_agreement_the_reading_with_a_callers_frame_wins():
    # Both heard "one"; the words around it decide whether the engine takes it as key 1.
    h, _, _ = run(Hypothesis("can one", 0.3, "one"), Hypothesis("press one", 0.6, "two"))
    assert h.text == "press one" and "agree" in h.raw
    h, _, _ = run(Hypothesis("press one", 0.3, "one"), Hypothesis("grant one", 0.6, "two"))
    assert h.text == "press one"
    h, _, _ = run(Hypothesis("i have a balance", 0.3, "one"), Hypothesis("balance", 0.6, "two"))
    assert h.text == "balance"
    # Neither is framed: the first recogniser's reading stays.
    h, _, _ = run(Hypothesis("can one", 0.3, "one"), Hypothesis("grant one", 0.6, "two"))
    assert h.text == "can one"


def test_framed_is_a_phrase_alone_or_in_a_carrier_frame():
    assert framed("balance", MENU) and framed("Press one.", MENU) and framed("my balance please", MENU)
    assert not framed("grant one", MENU) and not framed("tell me a joke", MENU) and not framed("", MENU)


def test_when_they_disagree_the_second_decides():
    h, _, _ = run(Hypothesis("", 0.1, "one"), Hypothesis("lost card", 0.7, "two"))
    assert (h.text, h.confidence) == ("lost card", 0.7)
    h, _, _ = run(Hypothesis("agent", 0.6, "one"), Hypothesis("balance", 0.6, "two"))
    assert h.text == "balance"


def test_no_match_stays_no_match_without_asking_when_configured():
    h, _, second = run(Hypothesis("", 0.1, "one"), Hypothesis("balance", 0.9, "two"),
                       tuning=CombinedTuning(ask_on_no_match=False))
    assert h.text == "" and not second.heard


def test_a_hesitation_is_no_answer_and_the_second_recogniser_is_not_asked_to_find_one():
    # Asked about a hum, Whisper's phrase scoring forces the shortest phrase onto it ("hmm" -> "one").
    h, _, second = run(Hypothesis("", 0.0, "one", "hmm (hesitation)", hesitation=True), Hypothesis("one", 0.97, "two"))
    assert h.text == "" and h.hesitation and not second.heard
    h, _, second = run(Hypothesis("", 0.0, "one", "(-99/frame)"), Hypothesis("one", 0.97, "two"))
    assert h.text == "one" and second.heard                      # a plain no-match still gets a second opinion


def test_a_hesitation_the_second_recogniser_heard_is_no_answer():
    # pocketsphinx decoded a hum as everyday words; Whisper wrote "Um.": the caller only hesitated.
    um = Hypothesis("", 0.0, "two", "Um. (hesitation)", hesitation=True)
    h, _, second = run(Hypothesis("", 0.1, "one", "also (-2.77/frame)"), um)
    assert second.heard and h.text == "" and h.hesitation
    # A phrase the first heard is not thrown away on the second's "uh, uh": it is confirmed.
    h, _, _ = run(Hypothesis("balance", 0.3, "one"), um)
    assert h.text == "balance" and h.confidence < 0.5 and not h.hesitation


def test_open_questions_go_to_the_second_recogniser_and_digits_to_the_first():
    h, first, second = run(Hypothesis("one", 0.9, "one"), Hypothesis("i moved house", 0.8, "two"), grammar=None)
    assert h.text == "i moved house" and not first.heard
    h, first, second = run(Hypothesis("four two", 0.2, "one"), Hypothesis("42", 0.9, "two"), grammar=digits_grammar())
    assert h.text == "four two" and not second.heard


def test_a_session_is_single_use():
    s = CombinedRecognizer(Fake(Hypothesis("", 0, "a")), Fake(Hypothesis("", 0, "b"))).start(MENU)
    s.finish()
    with pytest.raises(SpeechError):
        s.finish()
    with pytest.raises(SpeechError):
        s.accept(b"\x00\x00")


def test_phrases_in_folds_plurals_and_respects_word_boundaries():
    assert phrases_in("I lost my cards, balance?", Grammar(("lost card", "balance", "bal"))) == {"balance"}
    assert phrases_in("lost cards", Grammar(("lost card",))) == {"lost card"}


def test_held_out_keys_both_recognisers_heard_reach_their_option() -> None:
    """Through the real pocketsphinx+whisper on the benchmark's held-out audio: each was a no-match before
    ("can one" for "press one", "i have a seven" for "seven") although Whisper had heard the key right."""
    from ivr.bench import speech as bench
    from ivr.speech.asr import get_recognizer

    cases = {c.text: c for c in bench.BANK_HELDOUT if c.kind == "key"}
    trials = [bench.Trial("banking_7_options", cases["press one"], "flite:slt", "clean"),
              bench.Trial("banking_7_options", cases["seven"], "espeak:en-us+Mike", "babble_12db")]
    report = bench.run("heldout", get_recognizer("pocketsphinx+whisper"), trial_list=trials)
    assert report["accuracy"] == 1.0, report["errors"]
