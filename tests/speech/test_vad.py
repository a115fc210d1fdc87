import random

import numpy as np
import pytest

from ivr.errors import SpeechError
from ivr.speech.synth import synthesize
from ivr.speech.vad import EndpointDetector, SpeechEnded, SpeechStarted, VadConfig


def feed_randomly(det, pcm, seed=0):
    rnd = random.Random(seed)
    events, i = [], 0
    while i < len(pcm):
        n = rnd.randint(1, 700) * 2
        events += det.feed(pcm[i:i + n])
        i += n
    return events + det.flush()


@pytest.mark.parametrize("voice,snr", [("flite:kal", None), ("flite:slt", 15), ("espeak:en-us+m3", 15)])
def test_start_and_end_roughly_right(voice, snr):
    pcm = synthesize("I would like to check my balance please", voice, snr_db=snr,
                     lead_ms=1000, trail_ms=1500)
    taps = []
    det = EndpointDetector(on_voiced_frame=taps.append)
    events = feed_randomly(det, pcm)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]
    start, end = events
    assert 800 <= start.at_ms <= 1500
    assert start.at_ms - 400 <= end.start_ms < start.at_ms   # pre-roll kept
    assert 2500 <= end.duration_ms <= 4000
    assert len(end.audio) == end.duration_ms * 16
    assert taps and all(len(f) == 320 for f in taps)
    assert det.voiced_frames == taps


def test_shorter_trailing_silence_ends_sooner():
    pcm = synthesize("opening hours", "flite:awb", lead_ms=500, trail_ms=1500)
    slow = EndpointDetector().feed(pcm)
    fast = EndpointDetector(VadConfig(end_silence_ms=200)).feed(pcm)
    assert slow[-1].end_ms - fast[-1].end_ms >= 300


def test_noise_only_gives_nothing():
    noise = (np.random.default_rng(1).standard_normal(8000 * 4) * 200).astype("<i2").tobytes()
    det = EndpointDetector()
    assert det.feed(noise) + det.flush() == []
    assert det.feed(b"\x00" * 32000) == []


def test_click_is_ignored_and_long_speech_is_cut():
    click = b"\x00\x00" * 4000 + (np.ones(240) * 20000).astype("<i2").tobytes() + b"\x00\x00" * 8000
    det = EndpointDetector()
    assert not [e for e in det.feed(click) + det.flush() if isinstance(e, SpeechEnded)]
    pcm = synthesize("one two three four five six seven eight nine ten", "flite:kal", lead_ms=400)
    events = EndpointDetector(VadConfig(max_utterance_ms=1500)).feed(pcm)
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert ended and ended[0].truncated and ended[0].duration_ms <= 1520


def test_bad_config_lists_problems():
    with pytest.raises(SpeechError, match="aggressiveness.*sample_rate|sample_rate.*aggressiveness"):
        VadConfig(aggressiveness=7, sample_rate=11025)


def test_a_pause_is_announced_once_before_the_end_and_only_when_asked_for():
    words = synthesize("lost card", "flite:kal", lead_ms=500)
    pcm = words + b"\x00\x00" * 8 * 100 + synthesize("please", "flite:kal") + b"\x00\x00" * 8 * 1500
    det = EndpointDetector(VadConfig(pause_ms=240))
    events = feed_randomly(det, pcm)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["SpeechStarted", "SpeechPaused", "SpeechPaused", "SpeechEnded"], kinds
    first, second, end = events[1], events[2], events[3]
    assert first.voiced_seq < second.voiced_seq              # the caller spoke again in between
    assert len(first.audio) < len(second.audio) < len(end.audio)
    assert end.audio.startswith(first.audio)                 # a pause sees the utterance so far, pre-roll included
    assert [type(e) for e in feed_randomly(EndpointDetector(), pcm)] == [SpeechStarted, SpeechEnded]


def test_voiced_seq_moves_only_while_the_caller_speaks():
    det = EndpointDetector(VadConfig(pause_ms=200))
    det.feed(synthesize("balance", "flite:awb", lead_ms=400) + b"\x00\x00" * 8 * 200)
    seq = det.voiced_seq
    assert seq > 0 and det.in_speech
    det.feed(b"\x00\x00" * 8 * 300)                        # silence: the count stands (an early result is valid)
    assert det.voiced_seq == seq
    det.feed(synthesize("card", "flite:awb"))                  # speaking again moves it
    assert det.voiced_seq > seq


def test_a_late_pause_follows_the_same_pause_once_it_lasts_long_enough():
    pcm = synthesize("balance", "flite:kal", lead_ms=500) + b"\x00\x00" * 8 * 1500
    det = EndpointDetector(VadConfig(pause_ms=240, late_pause_ms=400, end_silence_ms=600))
    events = feed_randomly(det, pcm)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["SpeechStarted", "SpeechPaused", "SpeechPaused", "SpeechEnded"], kinds
    short, late, end = events[1], events[2], events[3]
    assert short.voiced_seq == late.voiced_seq                # one pause, announced twice
    assert 240 <= short.silence_ms < 400 <= late.silence_ms < 600
    assert late.end_ms - short.end_ms == late.silence_ms - short.silence_ms
    assert end.audio.startswith(late.audio) and late.audio.startswith(short.audio)


@pytest.mark.parametrize("late", [0, 200, 240, 600, 900])
def test_a_late_pause_outside_the_short_pause_and_the_end_is_ignored(late):
    pcm = synthesize("balance", "flite:kal", lead_ms=500) + b"\x00\x00" * 8 * 1500
    det = EndpointDetector(VadConfig(pause_ms=240, late_pause_ms=late, end_silence_ms=600))
    assert [type(e).__name__ for e in feed_randomly(det, pcm)] == ["SpeechStarted", "SpeechPaused", "SpeechEnded"]


def test_speaking_again_re_arms_both_pauses():
    words = synthesize("lost card", "flite:kal", lead_ms=500)
    pcm = words + b"\x00\x00" * 8 * 450 + synthesize("please", "flite:kal") + b"\x00\x00" * 8 * 1500
    det = EndpointDetector(VadConfig(pause_ms=240, late_pause_ms=400, end_silence_ms=900))
    events = feed_randomly(det, pcm)
    pauses = [e for e in events if type(e).__name__ == "SpeechPaused"]
    assert [p.silence_ms >= 400 for p in pauses] == [False, True, False, True], [p.silence_ms for p in pauses]
    assert pauses[1].voiced_seq < pauses[2].voiced_seq
