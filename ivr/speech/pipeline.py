"""The audio path of one ``Listen``: VAD end-of-speech, then one recogniser session.

Both the live media stream and the simulator's ``say_audio`` run caller
audio through :class:`ListenPipeline`, so a scripted WAV is heard exactly as
a caller on the line would be.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path
from typing import Any, Callable, Optional

from ivr.speech.asr.base import Hypothesis, Recognizer
from ivr.speech.codec import PHONE_RATE, read_wav
from ivr.speech.grammar import SPOKEN_DIGITS, Grammar
from ivr.speech.vad import EndpointDetector, SpeechEnded, SpeechPaused, VadConfig, VadEvent

__all__ = ["MAX_HESITATIONS", "ListenPipeline", "grammar_for", "end_of_speech_ms", "complete_end_ms",
           "unsure_end_ms", "recognize_pcm", "recognize_wav"]

MAX_END_OF_SPEECH_MS = 3000
MIN_END_OF_SPEECH_MS = 200
MIN_COMPLETE_END_MS = 100

MAX_HESITATIONS = 2
"""Hesitations alone ("um") one turn listens on through, on the line and in ``say_audio``; the next
one is a no-match (the caller is re-prompted)."""


def grammar_for(listen: Any, language: str = "en-US") -> Optional[Grammar]:
    """What the recogniser listens for at a Listen.

    Menus and yes/no: the Listen's phrases (options, keys as words, agent
    words). Digit asks: any sequence of spoken digits (and the agent words).
    Free speech: no grammar.
    """
    if listen.mode == "digits":
        return Grammar(tuple(listen.phrases) + tuple(SPOKEN_DIGITS), language, digits=True)
    if listen.mode == "speech" or not listen.phrases:
        return None
    return Grammar(tuple(listen.phrases), language)


def end_of_speech_ms(listen: Any) -> int:
    """The Listen's trailing silence that ends a turn, kept within sane bounds."""
    ms = int(getattr(listen, "end_of_speech_ms", 0) or 600)
    return max(MIN_END_OF_SPEECH_MS, min(MAX_END_OF_SPEECH_MS, ms))


def complete_end_ms(listen: Any) -> int:
    """The shorter silence that ends a turn on a complete answer (0: never early).

    Only for closed grammars, and only when shorter than the full end-of-speech silence.
    """
    ms = int(getattr(listen, "complete_end_ms", 0) or 0)
    if ms <= 0 or getattr(listen, "mode", "") not in ("menu", "yesno") or not getattr(listen, "phrases", ()):
        return 0
    return max(MIN_COMPLETE_END_MS, ms) if ms < end_of_speech_ms(listen) else 0


def unsure_end_ms(listen: Any) -> int:
    """The silence that ends a turn on a whole phrase heard below the Listen's confidence (0: never early).

    Why a second, longer pause: the flow confirms such an answer ("Did you
    say balance?"), so ending on it costs little if it was right, while a
    caller who only paused mid-sentence is more likely to resume within it
    than within the short one. Only between the complete-answer pause and
    the full end-of-speech silence.
    """
    ms = int(getattr(listen, "unsure_end_ms", 0) or 0)
    complete = complete_end_ms(listen)
    return ms if complete and complete < ms < end_of_speech_ms(listen) else 0


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


class ListenPipeline:
    """VAD and recognition for one Listen.

    Args:
        listen: the engine's :class:`~ivr.engine.actions.Listen`.
        recognizer: the process's recogniser.
        language: the flow's language (for the grammar).
        detector: a call's detector to reuse (its noise model stays adapted);
            it is reset and given the Listen's end-of-speech silence.
        on_voiced_frame: tap for voiced frames (used when a detector is made here).

    Not thread-safe: :meth:`feed` from the media loop; :meth:`recognize` may
    run in a worker once the utterance ended.
    """

    def __init__(self, listen: Any, recognizer: Recognizer, language: str = "en-US",
                 detector: Optional[EndpointDetector] = None,
                 on_voiced_frame: Optional[Callable[[bytes], None]] = None,
                 start_lock: Optional[Any] = None) -> None:
        self.listen = listen
        self.start_lock = start_lock or contextlib.nullcontext()
        """Held around ``recognizer.start``: building a decoder concurrently is not safe in every backend."""
        self.recognizer = recognizer
        self.grammar = grammar_for(listen, language)
        eos = end_of_speech_ms(listen)
        self.complete_ms = complete_end_ms(listen) if self.grammar is not None else 0
        self.unsure_ms = unsure_end_ms(listen) if self.complete_ms else 0
        if detector is None:
            detector = EndpointDetector(VadConfig(end_silence_ms=eos, pause_ms=self.complete_ms,
                                                  late_pause_ms=self.unsure_ms),
                                        on_voiced_frame=on_voiced_frame)
        else:
            detector.reset()
            detector.config = dataclasses.replace(detector.config, end_silence_ms=eos, pause_ms=self.complete_ms,
                                                  late_pause_ms=self.unsure_ms)
        self.detector = detector
        self.ended: Optional[SpeechEnded] = None
        self.ended_at: Optional[float] = None
        """perf_counter() when the VAD decided the caller had finished (latency measurements)."""
        self.last_voiced_at: Optional[float] = None
        """perf_counter() when the last voiced frame arrived: where the caller's wait for a reply begins."""
        self.session_used = False
        self.speculations = 0
        self._phrases = frozenset(_norm(p) for p in getattr(listen, "phrases", ()))

    @property
    def in_speech(self) -> bool:
        return self.detector.in_speech

    def feed(self, pcm: bytes) -> list[VadEvent]:
        """Caller audio (8 kHz pcm16); returns the VAD events; the first end is kept."""
        seq = self.detector.voiced_seq
        events = self.detector.feed(pcm)
        now = time.perf_counter()
        if self.detector.voiced_seq != seq:
            self.last_voiced_at = now
        for ev in events:
            if isinstance(ev, SpeechEnded) and self.ended is None:
                self.ended, self.ended_at = ev, now
        return events

    def flush(self) -> list[VadEvent]:
        events = self.detector.flush()
        for ev in events:
            if isinstance(ev, SpeechEnded) and self.ended is None:
                self.ended, self.ended_at = ev, time.perf_counter()
        return events

    def still_paused(self, paused: SpeechPaused) -> bool:
        """True while the caller has said nothing since ``paused`` (its early result still stands)."""
        return self.detector.voiced_seq == paused.voiced_seq

    def end_early(self, paused: SpeechPaused) -> None:
        """Close the utterance at ``paused``: its early result is the turn's answer."""
        self.detector.reset()
        if self.ended is None:
            self.ended = SpeechEnded(audio=paused.audio, duration_ms=len(paused.audio) * 1000 // (PHONE_RATE * 2),
                                     end_ms=paused.end_ms)
            self.ended_at = time.perf_counter()

    def is_complete(self, hyp: Optional[Hypothesis], silence_ms: int = 0) -> bool:
        """Whether an early result may end the turn after ``silence_ms`` of pause.

        Exactly one of the Listen's phrases: confidently, at the short pause;
        below the Listen's confidence, once the pause reached
        :attr:`unsure_ms` (the flow will confirm it); and one the recogniser
        rejected (``Hypothesis.rejected``) at that pause too, as the no-match
        it would still be after the full silence if the caller says no more.
        Anything less (a partial phrase, a sentence) waits for the full
        end-of-speech silence: the caller may still be talking.
        """
        if hyp is None:
            return False
        phrase = hyp.text or hyp.rejected
        if not phrase or _norm(phrase) not in self._phrases:
            return False
        return (bool(hyp.text) and self.is_sure(hyp)) or (bool(self.unsure_ms) and silence_ms >= self.unsure_ms)

    def is_sure(self, hyp: Optional[Hypothesis]) -> bool:
        """Whether the engine acts on ``hyp`` without confirming it (at or above the Listen's confidence)."""
        return hyp is not None and hyp.confidence >= float(getattr(self.listen, "confidence", 0.5) or 0.0)

    def speculate(self, paused: SpeechPaused) -> Hypothesis:
        """Recognise the utterance so far, at a pause (does not use up the Listen's final session)."""
        self.speculations += 1
        return self._decode(paused.audio)

    def recognize(self, ended: Optional[SpeechEnded] = None) -> Hypothesis:
        """Run the utterance through this Listen's one recogniser session."""
        ended = ended or self.ended
        if ended is None:
            raise ValueError("no utterance has ended yet")
        if self.session_used:
            raise RuntimeError("one recogniser session per listen: it was already used")
        self.session_used = True
        return self._decode(ended.audio)

    def _decode(self, audio: bytes) -> Hypothesis:
        with self.start_lock:
            session = self.recognizer.start(self.grammar)
        step = PHONE_RATE * 20 // 1000 * 2 * 10
        for i in range(0, len(audio), step):
            session.accept(audio[i:i + step])
        return session.finish()

    def warm(self, decoders: int = 1) -> None:
        """Build ``decoders`` recogniser decoders for this grammar now (the first per grammar is slow).

        Sessions are held open together so a pooling backend builds one each.
        """
        sessions = []
        for _ in range(max(1, decoders)):
            with self.start_lock:
                sessions.append(self.recognizer.start(self.grammar))
        for session in sessions:
            session.accept(b"\x00\x00" * (PHONE_RATE // 10))
            session.finish()


def recognize_pcm(pcm: bytes, listen: Any, recognizer: Recognizer, language: str = "en-US",
                  on_voiced_frame: Optional[Callable[[bytes], None]] = None) -> Optional[Hypothesis]:
    """A whole recording through the live path (20 ms frames, VAD, one session); None: no speech.

    As on the line, a hesitation alone ("um") is no answer and the Listen goes
    on: the recording's next utterance answers, up to :data:`MAX_HESITATIONS`
    of them (the next one is the no-match); nothing after them is no speech.
    """
    start = 0
    for _ in range(MAX_HESITATIONS):
        hyp, used = _utterance(pcm[start:], listen, recognizer, language, on_voiced_frame)
        if hyp is None or not hyp.hesitation:
            return hyp
        start += used
        if start >= len(pcm):
            return None
    return _utterance(pcm[start:], listen, recognizer, language, on_voiced_frame)[0]


def _utterance(pcm: bytes, listen: Any, recognizer: Recognizer, language: str,
               on_voiced_frame: Optional[Callable[[bytes], None]]) -> tuple[Optional[Hypothesis], int]:
    """The first utterance of ``pcm`` and how many of its bytes the turn heard until it ended."""
    pipe = ListenPipeline(listen, recognizer, language, on_voiced_frame=on_voiced_frame)
    frame = PHONE_RATE * 20 // 1000 * 2
    tail = b"\x00\x00" * (PHONE_RATE * (end_of_speech_ms(listen) + 200) // 1000)
    audio = pcm + tail
    early: Optional[tuple[SpeechPaused, Hypothesis]] = None
    used = len(pcm)
    for i in range(0, len(audio), frame):
        for ev in pipe.feed(audio[i:i + frame]):
            if isinstance(ev, SpeechPaused):
                # As on the line: a complete, confident phrase at the pause ends the turn there, an
                # unsure one at the late pause; the pause's one recognition serves both.
                if early is not None and early[0].voiced_seq == ev.voiced_seq:
                    hyp = early[1]
                else:
                    hyp = pipe.speculate(ev)
                    early = (ev, hyp)
                if pipe.is_complete(hyp, ev.silence_ms):
                    pipe.end_early(ev)
                    return hyp, min(len(pcm), i + frame)
        if pipe.ended is not None:
            used = min(len(pcm), i + frame)
            break
    if pipe.ended is not None and early is not None and pipe.still_paused(early[0]):
        return early[1], used  # silent since the pause: its recognition is the answer, as on the line
    if pipe.ended is None:
        pipe.flush()
    if pipe.ended is None:
        return None, used
    return pipe.recognize(), used


def recognize_wav(path: str | Path, listen: Any, recognizer: Recognizer, language: str = "en-US",
                  on_voiced_frame: Optional[Callable[[bytes], None]] = None) -> Optional[Hypothesis]:
    """:func:`recognize_pcm` of a WAV file (any rate; resampled to 8 kHz); voiced frames as the tap gets them."""
    return recognize_pcm(read_wav(path, PHONE_RATE), listen, recognizer, language, on_voiced_frame)

