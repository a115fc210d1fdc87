"""The per-listen audio path shared by the media stream and the simulator's ``say_audio``."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ivr.engine.actions import Listen
from ivr.speech.asr.base import Hypothesis
from ivr.speech.pipeline import complete_end_ms, recognize_pcm, unsure_end_ms
from ivr.speech.synth import synthesize

MENU = Listen(node="main", mode="menu", timeout=5, speech=True, phrases=("balance", "lost card", "agent"),
              complete_end_ms=250)


class Scripted:
    """A recogniser that hears "balance" in short audio and ``long`` in longer audio; counts sessions."""

    name, sample_rate = "scripted", 8000

    def __init__(self, short: tuple[str, float], long: tuple[str, float] = ("lost card", 0.9),
                 short_below_s: float = 1.6) -> None:
        self.short, self.long, self.short_below_s = short, long, short_below_s
        self.sessions: list[float] = []

    def start(self, grammar: Any) -> Any:
        owner, buf = self, bytearray()

        class Session:
            def accept(self, pcm: bytes) -> None:
                buf.extend(pcm)

            def finish(self) -> Hypothesis:
                seconds = len(buf) / 16000
                owner.sessions.append(seconds)
                text, conf = owner.short if seconds < owner.short_below_s else owner.long
                if conf < 0.1:   # a whole phrase fitted too poorly: rejected (a no-match)
                    return Hypothesis("", conf, "scripted", rejected=text)
                return Hypothesis(text, conf, "scripted")
        return Session()


def utterance() -> bytes:
    return synthesize("balance", "flite:kal", lead_ms=300) + b"\x00\x00" * 8 * 200 + synthesize("lost card", "flite:kal")


def test_complete_end_only_for_closed_grammars_and_when_shorter() -> None:
    assert complete_end_ms(MENU) == 250
    assert complete_end_ms(Listen(node="n", mode="speech", timeout=5, speech=True, complete_end_ms=250)) == 0
    assert complete_end_ms(Listen(node="n", mode="digits", timeout=5, speech=True, phrases=("one",),
                                  complete_end_ms=250)) == 0
    assert complete_end_ms(Listen(node="n", mode="menu", timeout=5, speech=True, phrases=("a",),
                                  complete_end_ms=700, end_of_speech_ms=600)) == 0


def test_a_complete_confident_phrase_at_a_pause_is_the_answer() -> None:
    rec = Scripted(short=("balance", 0.9))
    hyp = recognize_pcm(utterance(), MENU, rec)
    assert hyp is not None and hyp.text == "balance" and len(rec.sessions) == 1


def test_a_partial_or_unsure_phrase_waits_for_the_whole_utterance() -> None:
    for short in (("balance", 0.3), ("balance please", 0.9), ("", 0.0)):
        rec = Scripted(short=short)
        hyp = recognize_pcm(utterance(), MENU, rec)
        assert hyp is not None and hyp.text == "lost card", short
        # The pause after "balance" was not enough; the pause after "lost card" was (a whole phrase).
        assert len(rec.sessions) == 2 and rec.sessions[-1] > rec.sessions[0], rec.sessions


def test_an_unsure_answer_silent_since_its_pause_is_decoded_once() -> None:
    rec = Scripted(short=("balance", 0.3), long=("lost card", 0.3), short_below_s=9)
    hyp = recognize_pcm(synthesize("balance", "flite:kal", lead_ms=300), MENU, rec)
    assert hyp is not None and hyp.text == "balance" and hyp.confidence == 0.3
    assert len(rec.sessions) == 1, "the end of speech reused the pause's recognition"


def test_without_a_short_pause_setting_only_the_end_of_speech_decides() -> None:
    rec = Scripted(short=("balance", 0.9))
    listen = Listen(node="main", mode="menu", timeout=5, speech=True, phrases=MENU.phrases)
    hyp = recognize_pcm(utterance(), listen, rec)
    assert hyp is not None and hyp.text == "lost card" and len(rec.sessions) == 1


UNSURE_AT_400 = dataclasses.replace(MENU, unsure_end_ms=400)


def test_the_late_pause_only_between_the_short_pause_and_the_full_silence() -> None:
    assert unsure_end_ms(UNSURE_AT_400) == 400
    assert unsure_end_ms(MENU) == 0
    assert unsure_end_ms(dataclasses.replace(UNSURE_AT_400, complete_end_ms=0)) == 0
    assert unsure_end_ms(dataclasses.replace(UNSURE_AT_400, unsure_end_ms=600)) == 0   # = end_of_speech_ms
    assert unsure_end_ms(dataclasses.replace(UNSURE_AT_400, unsure_end_ms=250)) == 0   # = the short pause
    assert unsure_end_ms(dataclasses.replace(UNSURE_AT_400, mode="speech")) == 0


def words_apart(gap_ms: int) -> bytes:
    """ "balance", ``gap_ms`` of silence after flite's own trailing silence is cut, then "lost card". """
    import numpy as np
    first = np.frombuffer(synthesize("balance", "flite:kal", lead_ms=300), dtype="<i2")
    last = int(np.nonzero(np.abs(first) > 300)[0][-1]) + 1
    return first[:last].tobytes() + b"\x00\x00" * 8 * gap_ms + synthesize("lost card", "flite:kal", lead_ms=0)


@pytest.mark.parametrize("gap_ms,heard", [(520, "balance"), (300, "lost card")])
def test_an_unsure_whole_phrase_ends_the_turn_at_the_late_pause(gap_ms: int, heard: str) -> None:
    # Silent past the late pause (400 ms) after an unsure "balance": the turn ended there and the flow
    # confirms it; a shorter pause is only a breath, and the caller's next words decide.
    rec = Scripted(short=("balance", 0.3), short_below_s=1.4)
    hyp = recognize_pcm(words_apart(gap_ms), UNSURE_AT_400, rec)
    assert hyp is not None and hyp.text == heard, (gap_ms, rec.sessions)
    if heard == "balance":
        assert len(rec.sessions) == 1, "the late pause reused the short pause's recognition"


def test_without_a_late_pause_an_unsure_phrase_waits_for_the_full_silence() -> None:
    rec = Scripted(short=("balance", 0.3), short_below_s=1.4)
    hyp = recognize_pcm(words_apart(520), MENU, rec)
    assert hyp is not None and hyp.text == "lost card"


@pytest.mark.parametrize("gap_ms,heard", [(520, ""), (300, "lost card")])
def test_a_rejected_whole_phrase_is_a_no_match_at_the_late_pause(gap_ms: int, heard: str) -> None:
    # Silent past the late pause after a "balance" the recogniser rejected: the no-match it would be
    # after the full silence anyway, given then; a shorter pause, and the caller's next words decide.
    rec = Scripted(short=("balance", 0.05), short_below_s=1.4)
    hyp = recognize_pcm(words_apart(gap_ms), UNSURE_AT_400, rec)
    assert hyp is not None and hyp.text == heard, (gap_ms, rec.sessions)
    if not heard:
        assert hyp.rejected == "balance" and len(rec.sessions) == 1


def test_a_rejected_partial_phrase_waits_for_the_full_silence() -> None:
    for rejected in ("balance please", "balance"):
        listen = UNSURE_AT_400 if rejected != "balance" else dataclasses.replace(UNSURE_AT_400, unsure_end_ms=0)
        rec = Scripted(short=(rejected, 0.05), short_below_s=1.4)
        hyp = recognize_pcm(words_apart(520), listen, rec)
        assert hyp is not None and hyp.text == "lost card", rejected
