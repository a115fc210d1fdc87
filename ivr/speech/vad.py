"""End-of-speech detection on the caller's audio, for barge-in and turn taking.

The media stream delivers audio in whatever chunk sizes the network gives
us; webrtcvad judges exactly 10/20/30 ms frames. :class:`EndpointDetector`
re-frames to 20 ms and runs a small state machine that turns per-frame
voiced/unvoiced decisions into two events: the caller started talking (stop
the prompt: barge-in) and the caller finished an utterance (recognise it).

The detector is pure: it keeps no clock. Time is the number of frames fed,
so tests are deterministic and a transport can replay audio at any speed.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Callable, Union

import webrtcvad

from ivr.errors import SpeechError

FRAME_MS = 20
"""Length of one analysis frame; Twilio's media messages are also 20 ms."""


@dataclass(frozen=True)
class SpeechStarted:
    """The caller began speaking: stop prompt playback (barge-in).

    Attributes:
        at_ms: stream time of the first voiced frame of the utterance.
    """

    at_ms: int


@dataclass(frozen=True)
class SpeechEnded:
    """The caller finished an utterance.

    Attributes:
        audio: pcm16 of the utterance, including the pre-roll before the first
            voiced frame and the trailing silence that ended it.
        duration_ms: length of ``audio``.
        start_ms: stream time at which ``audio`` begins.
        end_ms: stream time at which the trailing silence ended it.
        truncated: True when cut at ``max_utterance_ms`` rather than by silence.
    """

    audio: bytes
    duration_ms: int
    start_ms: int = 0
    end_ms: int = 0
    truncated: bool = False


@dataclass(frozen=True)
class SpeechPaused:
    """The caller has been silent for ``pause_ms`` inside an utterance that has not ended yet.

    The transport may recognise ``audio`` at once and end the turn early when
    what was heard is already a complete, confident answer (like VoiceXML's
    ``completetimeout`` against ``incompletetimeout``); if the caller speaks
    again, ``voiced_seq`` no longer matches :attr:`EndpointDetector.voiced_seq`
    and the early result is stale.

    A detector with a ``late_pause_ms`` emits a second one, with the same
    ``voiced_seq``, when the same pause reaches that length: a complete but
    unsure answer may end the turn there (see :mod:`ivr.speech.pipeline`).

    Attributes:
        audio: pcm16 of the utterance so far (pre-roll included).
        voiced_seq: the detector's count of voiced frames when the pause began.
        end_ms: stream time of the pause decision.
        silence_ms: how long the caller had been silent when it was emitted.
    """

    audio: bytes
    voiced_seq: int
    end_ms: int = 0
    silence_ms: int = 0


VadEvent = Union[SpeechStarted, SpeechPaused, SpeechEnded]


@dataclass(frozen=True)
class VadConfig:
    """Tuning of the end-of-speech detector.

    Attributes:
        sample_rate: 8000 for phone audio (webrtcvad also takes 16000, 32000).
        aggressiveness: webrtcvad mode 0 (keeps most audio) .. 3 (drops the
            most non-speech); 2 suits phone lines with some noise.
        start_ms: voiced audio needed within the start window before the
            caller counts as speaking; filters clicks and pops.
        start_window_ms: the window over which ``start_ms`` is counted.
        end_silence_ms: trailing silence that ends an utterance. Shorter is
            snappier, longer lets callers pause between words.
        preroll_ms: audio kept from before the start decision so word onsets
            (weak consonants) reach the recogniser.
        min_speech_ms: utterances with less voiced audio than this are dropped
            (coughs, line clicks) without a ``SpeechEnded``.
        max_utterance_ms: force an end after this long (a caller talking over
            a TV must not keep the turn open forever).
        warmup_ms: at the start of the stream webrtcvad's noise model has not
            adapted yet and calls steady line noise speech; no utterance can
            start during this time (the pre-roll still keeps its audio).
        pause_ms: trailing silence after which a ``SpeechPaused`` is emitted
            (once per pause) so the transport can end the turn early on a
            complete answer; 0 (the default) emits none. Ignored unless it
            is shorter than ``end_silence_ms``.
        late_pause_ms: a second ``SpeechPaused`` when the same pause lasts
            this long (0: none); ignored unless between ``pause_ms`` and
            ``end_silence_ms``.
    """

    sample_rate: int = 8000
    aggressiveness: int = 2
    start_ms: int = 100
    start_window_ms: int = 200
    end_silence_ms: int = 600
    preroll_ms: int = 300
    min_speech_ms: int = 200
    max_utterance_ms: int = 15000
    warmup_ms: int = 300
    pause_ms: int = 0
    late_pause_ms: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.sample_rate not in (8000, 16000, 32000, 48000):
            problems.append(f"sample_rate {self.sample_rate} (use 8000, 16000, 32000 or 48000)")
        if self.aggressiveness not in (0, 1, 2, 3):
            problems.append(f"aggressiveness {self.aggressiveness} (use 0..3)")
        for name in ("start_ms", "start_window_ms", "end_silence_ms", "preroll_ms",
                     "min_speech_ms", "max_utterance_ms", "warmup_ms", "pause_ms", "late_pause_ms"):
            if getattr(self, name) < 0:
                problems.append(f"{name} {getattr(self, name)} (must be >= 0)")
        if self.start_ms > self.start_window_ms:
            problems.append("start_ms must not exceed start_window_ms")
        if problems:
            raise SpeechError("bad VAD configuration: " + "; ".join(problems))


class EndpointDetector:
    """Turn a stream of pcm16 chunks into speech start/end events.

    Every ``SpeechEnded`` follows a ``SpeechStarted``; a ``SpeechStarted``
    whose utterance turns out shorter than ``min_speech_ms`` (a cough) gets
    no ``SpeechEnded``, and the next one simply starts again.

    Not thread-safe: one detector per call, fed from the call's media loop.

    Args:
        config: tuning; defaults suit 8 kHz phone audio.
        on_voiced_frame: optional tap called with each 20 ms frame judged
            voiced inside an utterance (for passive voice authentication).
    """

    def __init__(self, config: VadConfig | None = None,
                 on_voiced_frame: Callable[[bytes], None] | None = None) -> None:
        self.config = config or VadConfig()
        self._vad = webrtcvad.Vad(self.config.aggressiveness)
        self._frame_bytes = self.config.sample_rate * FRAME_MS // 1000 * 2
        self._tap = on_voiced_frame
        self._buf = bytearray()
        self._frames = 0
        self._preroll: collections.deque[bytes] = collections.deque(
            maxlen=max(1, self.config.preroll_ms // FRAME_MS))
        self._window: collections.deque[bool] = collections.deque(
            maxlen=max(1, self.config.start_window_ms // FRAME_MS))
        self._in_speech = False
        self._utt = bytearray()
        self._utt_start = 0
        self._voiced_ms = 0
        self._silence_ms = 0
        self._voiced_frames: list[bytes] = []
        self._voiced_seq = 0
        self._paused = False
        self._late_paused = False

    @property
    def voiced_seq(self) -> int:
        """Voiced frames seen inside utterances so far: changes whenever the caller speaks."""
        return self._voiced_seq

    @property
    def in_speech(self) -> bool:
        """True between ``SpeechStarted`` and the matching ``SpeechEnded``."""
        return self._in_speech

    @property
    def time_ms(self) -> int:
        """Stream time: audio consumed so far, in ms."""
        return self._frames * FRAME_MS

    @property
    def voiced_frames(self) -> list[bytes]:
        """Voiced 20 ms frames of the current (or last ended) utterance."""
        return list(self._voiced_frames)

    def feed(self, pcm: bytes) -> list[VadEvent]:
        """Add audio of any length; return the events it completes, in order."""
        self._buf.extend(pcm)
        events: list[VadEvent] = []
        fb = self._frame_bytes
        while len(self._buf) >= fb:
            frame = bytes(self._buf[:fb])
            del self._buf[:fb]
            event = self._frame(frame)
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[VadEvent]:
        """End of stream: close an utterance in progress (if long enough)."""
        if self._in_speech:
            ev = self._end(truncated=False)
            return [ev] if ev is not None else []
        return []

    def reset(self) -> None:
        """Forget any utterance in progress (e.g. when a new prompt starts)."""
        self._in_speech = False
        self._utt.clear()
        self._window.clear()
        self._preroll.clear()
        self._voiced_ms = self._silence_ms = 0
        self._paused = self._late_paused = False

    def _frame(self, frame: bytes) -> VadEvent | None:
        cfg = self.config
        voiced = self._vad.is_speech(frame, cfg.sample_rate)
        self._frames += 1
        now = self.time_ms
        if not self._in_speech:
            self._preroll.append(frame)
            self._window.append(voiced)
            if (now > cfg.warmup_ms
                    and sum(self._window) * FRAME_MS >= max(cfg.start_ms, FRAME_MS)):
                return self._start(now)
            return None
        self._utt.extend(frame)
        if voiced:
            self._voiced_ms += FRAME_MS
            self._voiced_seq += 1
            self._silence_ms = 0
            self._paused = self._late_paused = False
            self._voiced_frames.append(frame)
            if self._tap:
                self._tap(frame)
        else:
            self._silence_ms += FRAME_MS
        if self._silence_ms >= cfg.end_silence_ms:
            return self._end(truncated=False)
        if (cfg.pause_ms and not self._paused and self._silence_ms >= cfg.pause_ms
                and self._voiced_ms >= cfg.min_speech_ms):
            self._paused = True
            return SpeechPaused(audio=bytes(self._utt), voiced_seq=self._voiced_seq, end_ms=now,
                                silence_ms=self._silence_ms)
        if (self._paused and not self._late_paused and cfg.pause_ms < cfg.late_pause_ms < cfg.end_silence_ms
                and self._silence_ms >= cfg.late_pause_ms):
            self._late_paused = True
            return SpeechPaused(audio=bytes(self._utt), voiced_seq=self._voiced_seq, end_ms=now,
                                silence_ms=self._silence_ms)
        if now - self._utt_start >= cfg.max_utterance_ms:
            return self._end(truncated=True)
        return None

    def _start(self, now: int) -> SpeechStarted:
        # The utterance begins with the pre-roll, which holds the voiced
        # window frames plus some audio before them.
        preroll = list(self._preroll)
        window = list(self._window)[-len(preroll):]
        recent = preroll[-len(window):]
        self._in_speech = True
        self._utt = bytearray(b"".join(preroll))
        self._utt_start = now - len(preroll) * FRAME_MS
        self._voiced_frames = [f for f, v in zip(recent, window) if v]
        self._voiced_ms = len(self._voiced_frames) * FRAME_MS
        self._voiced_seq += len(self._voiced_frames)
        self._silence_ms = 0
        self._paused = self._late_paused = False
        if self._tap:
            for f in self._voiced_frames:
                self._tap(f)
        first = window.index(True)
        onset = now - (len(window) - first) * FRAME_MS
        self._preroll.clear()
        self._window.clear()
        return SpeechStarted(at_ms=onset)

    def _end(self, truncated: bool) -> SpeechEnded | None:
        audio = bytes(self._utt)
        voiced_ms = self._voiced_ms
        start = self._utt_start
        self._in_speech = False
        self._utt = bytearray()
        self._voiced_ms = self._silence_ms = 0
        self._paused = self._late_paused = False
        if voiced_ms < self.config.min_speech_ms:
            return None
        dur = len(audio) * 1000 // (self.config.sample_rate * 2)
        return SpeechEnded(audio=audio, duration_ms=dur, start_ms=start,
                           end_ms=self.time_ms, truncated=truncated)
