"""The generated accuracy set (ivr.bench.speech): honest splits, every condition present, right labels."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from ivr.bench import speech as bench
from ivr.speech.asr.adapt import ADAPT_VOICES, read_sentences
from ivr.bench.impair import drop_packets, gsm_full_rate

KINDS = {"bare", "sentence", "question", "agent", "key", "negative", "near_negative", "hesitation"}


def _names(voices):
    return {bench.parse_voice(v)[0] for v in voices}


def test_voice_splits_are_disjoint_and_held_out_voices_never_feed_the_adaptation():
    assert not _names(bench.TUNING_VOICES) & _names(bench.HELDOUT_VOICES)
    assert not _names(bench.HELDOUT_VOICES) & set(ADAPT_VOICES)


def test_dev_voices_are_unheard_by_the_adaptation_and_apart_from_both_halves():
    dev = _names(bench.DEV_VOICES)
    assert dev and not dev & (_names(bench.TUNING_VOICES) | _names(bench.HELDOUT_VOICES) | set(ADAPT_VOICES))
    ts = bench.trials("dev")
    assert {t.voice for t in ts} == set(bench.DEV_VOICES)
    tuning_sentences = {t.case.text for t in bench.trials("tuning")}
    assert {t.case.text for t in ts} == tuning_sentences        # the tuning sentences, in unheard voices


@pytest.mark.parametrize("menu", list(bench.MENUS))
def test_sentence_splits_are_disjoint_and_unseen_by_the_adaptation(menu):
    _, tuning, heldout = bench.MENUS[menu]
    held = {c.text.lower() for c in heldout}
    assert not {c.text.lower() for c in tuning} & held
    assert not set(read_sentences()) & held


@pytest.mark.parametrize("menu", list(bench.MENUS))
def test_every_label_is_what_the_engine_matcher_makes_of_the_sentence(menu):
    """So every benchmark error is the recogniser's, not a disagreement with the matcher."""
    make, tuning, heldout = bench.MENUS[menu]
    _, match = make()
    wrong = [(c.text, c.want, match(c.text)) for c in tuning + heldout if match(c.text) != c.want]
    assert not wrong


def test_held_out_split_has_every_line_kind_and_voice_for_the_banking_menu():
    ts = [t for t in bench.trials("heldout") if t.menu == "banking_7_options"]
    assert {t.line for t in ts} == set(bench.LINES)
    assert {t.case.kind for t in ts} == KINDS
    assert {t.voice for t in ts} == set(bench.HELDOUT_VOICES)
    per_line_kind = Counter((t.line, t.case.kind) for t in ts)
    assert all(per_line_kind[(line, kind)] > 0 for line in bench.LINES for kind in KINDS)
    assert any(bench.parse_voice(v)[1] for v in bench.HELDOUT_VOICES)      # speaking rates vary too


def test_quick_subset_is_a_subset():
    full = set(bench.trials("heldout"))
    quick = bench.trials("heldout", quick=True)
    assert quick and set(quick) < full and len(quick) < len(full) // 4


def test_trial_seeds_are_stable_across_processes():
    t = bench.Trial("acme", bench.Case("balance", "balance", "bare"), "flite:slt", "gsm")
    assert t.seed == 818016808            # crc32, not the per-process salted hash()


def test_packet_loss_drops_whole_packets_deterministically():
    pcm = (np.arange(8000 * 2) % 200 + 1).astype("<i2").tobytes()
    a = drop_packets(pcm, 0.2, seed=3)
    assert a == drop_packets(pcm, 0.2, seed=3) and a != pcm
    x = np.frombuffer(a, "<i2").reshape(-1, 160)
    zeroed = (x == 0).all(axis=1)
    assert 0.1 < zeroed.mean() < 0.3
    r = np.frombuffer(drop_packets(pcm, 0.2, seed=3, conceal="repeat"), "<i2").reshape(-1, 160)
    k = int(np.flatnonzero(zeroed[1:])[0]) + 1
    assert (r[k] == r[k - 1]).all()


def test_gsm_codec_keeps_length_and_changes_the_waveform():
    t = np.arange(8000) / 8000
    pcm = (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()
    out = gsm_full_rate(pcm)
    assert len(out) == len(pcm) and out != pcm
    y = np.frombuffer(out, "<i2").astype(float)
    assert np.corrcoef(y[400:7600], np.frombuffer(pcm, "<i2")[400:7600])[0, 1] > 0.8   # still the same tone
