"""The menu language model's corpus (ivr.speech.asr.sphinx_lm): callers' carrier words, an honest garbage model."""

from __future__ import annotations

from ivr.bench import speech as bench
from ivr.speech.asr.pocketsphinx_backend import PocketSphinxTuning, Word, judge
from ivr.speech.asr.sphinx_lm import CARRIERS, EVERYDAY_SENTENCES, HESITATION_SENTENCES, HESITATIONS, corpus
from ivr.speech.grammar import Grammar, digits_grammar

MENU = Grammar(("balance", "lost card", "agent"), "en-US")


def test_phrases_come_alone_and_inside_carrier_frames():
    lines = corpus(MENU, phrase_weight=10, carrier_weight=2, compound=True)
    assert lines.count("lost_card") == 10
    assert lines.count("press lost_card") == 2 and lines.count("i want to balance") == 2
    assert "lost" not in lines                               # grammar words are not garbage


def test_garbage_sentences_never_hold_a_phrase():
    g = Grammar(("hello", "good morning"), "en-US")
    lines = set(corpus(g, phrase_weight=1, carrier_weight=0, compound=True))
    assert "good morning" not in lines and "hello is anybody there" not in lines
    assert "can you hear me" in lines


def _frames_of(sentence: str, phrases: tuple[str, ...]) -> set[str]:
    return {f for f in CARRIERS for p in phrases if f.replace("_", p) == sentence}


def test_no_held_out_sentence_fed_the_language_model():
    """Held-out means unseen: the corpus holds no held-out sentence, except where a carrier frame
    learnt from a TUNING sentence ("press six" -> "press _") happens to give it ("press one")."""
    from ivr.speech.grammar import normalize

    menus = [(make()[0], tuning, heldout) for make, tuning, heldout in bench.MENUS.values()]
    learnt = set().union(*(_frames_of(normalize(c.text), g.phrases) for g, tuning, _ in menus for c in tuning))
    for grammar, _, heldout in menus:
        lines = {line.replace("_", " ") for line in corpus(grammar, 1, 1, compound=True)} - set(grammar.phrases)
        for case in heldout:
            said = normalize(case.text)
            if said in lines:
                assert _frames_of(said, grammar.phrases) <= learnt, case.text
    for s in EVERYDAY_SENTENCES + HESITATION_SENTENCES:
        assert not any(f" {normalize(c.text)} " in f" {s} " for _, _, held in bench.MENUS.values() for c in held), s


def test_digit_grammar_keeps_its_digit_loop():
    lines = corpus(digits_grammar(), phrase_weight=10, carrier_weight=5, compound=True)
    assert "one two" in lines and not any(line.startswith("press ") for line in lines)


def test_a_phrase_that_fits_much_worse_than_its_sentence_is_dropped():
    """ "I lost my keys at the park" decoded as "i lost_my_card have the park": the phrase is the bad fit."""
    g = Grammar(("lost my card", "agent"), "en-US")
    t = PocketSphinxTuning(phrase_context_margin=1.0)
    near = [Word("i", 20, -2.9), Word("lost_my_card", 89, -4.5), Word("have", 17, -2.4), Word("the", 11, -2.1),
            Word("park", 31, -2.4)]
    said = [Word("i", 21, -3.0), Word("think", 37, -2.9), Word("lost_my_card", 83, -2.4), Word("yes", 28, -2.6)]
    assert judge(near, g, t).text == ""
    assert judge(said, g, t).text == "i think lost my card yes"


def test_hesitations_are_as_likely_as_a_phrase_alone_and_never_a_grammar_word():
    lines = corpus(MENU, phrase_weight=10, carrier_weight=0, compound=True, hesitation_weight=10)
    assert lines.count("hmm") == 10 + 1 and lines.count("hmm let me see") == 10   # (+1: among the filler words)
    assert corpus(MENU, 10, 0, True).count("hmm") == 1          # off: one filler word among many
    g = Grammar(("um", "balance"), "en-US")                     # a flow that really offers "um"
    assert corpus(g, 10, 0, True, hesitation_weight=10).count("um") == 10   # as the phrase, not more


def test_hesitations_are_dropped_from_the_text():
    t = PocketSphinxTuning(hesitation_weight=100)
    g = Grammar(("balance", "agent"), "en-US")
    assert judge([Word("um", 20, -3.0), Word("balance", 40, -3.0)], g, t).text == "balance"
    heard = judge([Word("hmm", 30, -2.0)], g, t)
    assert heard.text == "" and heard.hesitation and "hmm" in heard.raw
    assert judge([Word("mm", 10, -2.0), Word("hmm", 30, -2.0)], g, t).confidence == 0.0
    assert set(HESITATIONS) <= set(corpus(g, 1, 0, True, hesitation_weight=1))


def test_a_whole_phrase_below_the_score_floor_is_rejected_and_says_which():
    t = PocketSphinxTuning()
    g = Grammar(("balance", "lost card"), "en-US")
    poor = judge([Word("balance", 40, t.min_frame_score - 0.5)], g, t)
    assert poor.text == "" and poor.rejected == "balance"
    assert judge([Word("balance", 40, t.min_frame_score + 0.5)], g, t).rejected == ""
    # A sentence that fits badly is no whole phrase: nothing says the caller has finished.
    sentence = judge([Word("i", 20, -7.0), Word("want", 20, -7.0), Word("balance", 40, -7.2)], g, t)
    assert sentence.text == "" and sentence.rejected == ""
