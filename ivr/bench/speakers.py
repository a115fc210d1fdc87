"""Synthetic speaker sets for the voice-authentication tests and ``bench auth``.

No recordings of real callers ship with the project, so speakers are
synthesised: flite's voices (pitch and duration through ``--setf``) and
espeak-ng variants with pitch and rate changes, over the phone path (8 kHz,
mu-law) with line noise. Every file of a speaker says a different sentence.

Two disjoint sets of voices, and a third inside the authenticator:

- :data:`TUNING` picks the decision thresholds (never reported on);
- :data:`HELD_OUT` is what the figures in the README are measured on;
- ``ivr.auth.cohort.COHORT_VOICES`` normalises scores (a test checks that the
  three share no voice).

An all-synthetic set is itself a warning: synthetic voices are more alike
within a speaker (no mood, no cold, no distance to the microphone) and some
differ only by a pitch setting, so figures here say little about real callers.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ..auth.features import preprocess
from ..errors import SpeechError
from ..speech.codec import PHONE_RATE, phone_line, read_wav, write_wav
from ..speech.synth import add_noise, cache_dir, synthesize, write_cached

__all__ = ["Voice", "TUNING", "HELD_OUT", "SENTENCES", "VERIFY_S", "speak", "generate", "cut_at_speech", "voice_set"]

VERIFY_S = 3.0
"""Net speech in each generated verification file: the issue's budget, and what a passive verification waits for."""


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker.

    Attributes:
        name: directory name of the speaker in a generated set.
        engine: ``flite`` or ``espeak``.
        voice: flite voice (kal, awb, rms, slt) or espeak-ng ``lang+variant``.
        pitch: espeak ``-p`` (0-99) or flite's mean F0 in Hz; None keeps the voice's own.
        rate: espeak words per minute or flite duration stretch (1.0 = normal); None keeps it.
    """

    name: str
    engine: str
    voice: str
    pitch: float | None = None
    rate: float | None = None


def _v(name: str, spec: str, pitch: float | None = None, rate: float | None = None) -> Voice:
    engine, _, voice = spec.partition(":")
    return Voice(name, engine, voice, pitch, rate)


HELD_OUT: tuple[Voice, ...] = (
    _v("kal", "flite:kal"), _v("awb", "flite:awb"), _v("rms", "flite:rms"), _v("slt", "flite:slt"),
    _v("awb-low-slow", "flite:awb", 95, 1.15), _v("slt-high-fast", "flite:slt", 210, 0.9),
    _v("us-m1", "espeak:en-us+m1"), _v("gb-m3-p35", "espeak:en-gb+m3", 35),
    _v("us-f1", "espeak:en-us+f1"), _v("sc-f3-p60", "espeak:en-gb-scotland+f3", 60),
    _v("us-andy", "espeak:en-us+Andy"), _v("car-annie", "espeak:en-029+Annie"),
    _v("rp-klatt2", "espeak:en-gb-x-rp+klatt2"), _v("us-m5-p25-s150", "espeak:en-us+m5", 25, 150),
    _v("gb-f5-s190", "espeak:en-gb+f5", None, 190), _v("us-john", "espeak:en-us+john"),
)
"""Voices the reported figures are measured on."""

TUNING: tuple[Voice, ...] = (
    _v("t-us-m2", "espeak:en-us+m2"), _v("t-gb-m4-p30", "espeak:en-gb+m4", 30),
    _v("t-us-f2", "espeak:en-us+f2"), _v("t-gb-f4-p65", "espeak:en-gb+f4", 65),
    _v("t-us-klatt", "espeak:en-us+klatt"), _v("t-gb-klatt3", "espeak:en-gb+klatt3"),
    _v("t-us-alex-s150", "espeak:en-us+Alex", None, 150), _v("t-sc-alicia", "espeak:en-gb-scotland+Alicia"),
    _v("t-us-david", "espeak:en-us+david"), _v("t-car-ed-p40", "espeak:en-029+ed", 40),
    _v("t-rp-steph", "espeak:en-gb-x-rp+steph"), _v("t-us-zac-s185", "espeak:en-us+zac", None, 185),
)
"""Voices the decision thresholds were chosen on (never reported on)."""

SENTENCES: tuple[str, ...] = (
    "I would like to check the balance of my account",
    "my card was stolen yesterday near the train station",
    "can you tell me when my next payment is due",
    "I moved house last month and need to change my address",
    "there is a charge on my statement that I do not recognise",
    "please put me through to someone about a mortgage",
    "I want to order a new cheque book for my business",
    "the cash machine kept my card this morning",
    "how much interest did I earn on my savings this year",
    "I am calling because my online banking is locked",
    "could you send me a copy of last month's statement",
    "I need to increase the limit on my credit card",
    "my salary has not arrived and it usually comes on friday",
    "I would like to set up a standing order for my rent",
    "we are travelling to spain next week with our cards",
    "somebody called me pretending to be from the bank",
    "I forgot my pin and the card is blocked now",
    "is it possible to pay off my loan early",
    "my daughter needs a student account for university",
    "the app says my payment failed but the money left",
    "I want to close the joint account with my brother",
    "when does the branch on the high street open on saturday",
    "please cancel the direct debit to the gym",
    "I received a letter about a change to my overdraft",
    "can I move money between my two savings accounts",
    "my phone number changed so the codes do not arrive",
    "I would like to report a lost wallet with two cards",
    "how long does an international transfer take to arrive",
    "the shop charged me twice for the same jacket",
    "I need proof of my address for a new landlord",
    "what documents do I need to open an account",
    "my husband passed away and I need help with his account",
    "can you explain the fee on my last statement",
    "I am trying to make a large payment for a car",
    "my contactless payments stopped working this week",
    "I want to switch to paper statements again",
    "the interest rate on my loan seems too high",
    "please help me dispute a payment to an online shop",
    "I think my account has been hacked last night",
    "can you arrange a call back tomorrow after lunch",
    "I have a question about the insurance on my card",
    "my employer needs my account details for the payroll",
    "how do I add my wife to the account",
    "I would like to talk about my pension savings",
    "the letter says my card expires at the end of the month",
    "can you check whether the cheque has cleared yet",
    "I am abroad and my card was declined at the hotel",
    "please tell me the balance of the business account",
    "I lost my job and cannot make this month's payment",
    "what is the best savings account for my grandson",
    "I would like to change the name on my account",
    "the transfer to my landlord went to the wrong account",
    "my mother needs help getting into her online banking",
    "can you remove the late fee from my credit card",
    "I need a new card because mine is cracked",
    "where can I pay in coins near the city centre",
    "why was my application for a loan refused",
    "I want to freeze my card until I find my purse",
    "the direct debit for the electricity was taken twice",
    "I am calling about the fraud alert I received",
)
"""Caller-like sentences, about 3 s each; a speaker's files each say different ones."""


def speak(voice: Voice, text: str, *, snr_db: float | None = 25.0, seed: int = 0) -> bytes:
    """One utterance of ``voice`` as heard over a phone line: 8 kHz pcm16, mu-law, noise.

    Plain voices go through :func:`ivr.speech.synth.synthesize` (its cache);
    pitch and rate changes need synthesiser options it does not take, so
    those are rendered here and cached in the same directory.
    """
    if voice.pitch is None and voice.rate is None:
        return synthesize(text, f"{voice.engine}:{voice.voice}", snr_db=snr_db, lead_ms=200, trail_ms=300, seed=seed)
    if voice.engine == "espeak" and voice.pitch is None:
        return synthesize(text, f"espeak:{voice.voice}", snr_db=snr_db, lead_ms=200, trail_ms=300, seed=seed,
                          rate_wpm=int(voice.rate))
    key = json.dumps(["speakers-1", voice.engine, voice.voice, voice.pitch, voice.rate, text, snr_db, seed])
    path = cache_dir() / f"spk-{hashlib.sha256(key.encode()).hexdigest()[:24]}.pcm"
    if path.exists():
        return path.read_bytes()
    pcm = _render(voice, text)
    if snr_db is not None:
        pcm = add_noise(pcm, snr_db, "white", seed)
    pcm = b"\x00\x00" * (PHONE_RATE // 5) + pcm + b"\x00\x00" * (PHONE_RATE * 3 // 10)
    pcm = phone_line(pcm)
    write_cached(path, pcm)
    return pcm


def _render(voice: Voice, text: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        if voice.engine == "flite":
            cmd = ["flite", "-voice", voice.voice]
            if voice.pitch is not None:
                cmd += ["--setf", f"int_f0_target_mean={voice.pitch:g}"]
            if voice.rate is not None:
                cmd += ["--setf", f"duration_stretch={voice.rate:g}"]
            cmd += ["-t", text, "-o", str(out)]
        elif voice.engine == "espeak":
            cmd = ["espeak-ng", "-v", voice.voice, "-w", str(out)]
            if voice.pitch is not None:
                cmd += ["-p", str(int(voice.pitch))]
            if voice.rate is not None:
                cmd += ["-s", str(int(voice.rate))]
            cmd.append(text)
        else:
            raise SpeechError(f"unknown synthesiser {voice.engine!r}; use flite or espeak")
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        except FileNotFoundError as exc:
            raise SpeechError(f"{cmd[0]} is not installed; install it with 'apt-get install {cmd[0]}'") from exc
        if proc.returncode != 0 or not out.exists():
            raise SpeechError(f"{' '.join(cmd[:3])} failed: {proc.stderr.strip()[:300]}")
        return read_wav(out, PHONE_RATE)


def voice_set(name: str) -> tuple[Voice, ...]:
    """``held-out`` or ``tuning``."""
    sets = {"held-out": HELD_OUT, "tuning": TUNING}
    if name not in sets:
        raise SpeechError(f"unknown speaker set {name!r}; use one of {sorted(sets)}")
    return sets[name]


def generate(out_dir: str | Path, voices: Sequence[Voice] = HELD_OUT, *, enroll_files: int = 3,
             verify_files: int = 10, enroll_sentences: int = 2, snr_db: Iterable[float] = (30, 20, 25),
             verify_s: float | None = VERIFY_S) -> Path:
    """Write ``DIR/<speaker>/<nn>.wav`` for ``bench auth``.

    The first ``enroll_files`` of each speaker but the last say
    ``enroll_sentences`` sentences each, the last one (about 13 s of net
    speech for three files). Each of the rest is what a passive
    verification hears: the caller's words up to ``verify_s`` seconds of net
    speech (two sentences, cut there; no two files repeat words, which the
    replay check would flag; None: one whole sentence, about 2.5 s). Sentences rotate per speaker so that no
    two files of a speaker, and few of the same index across speakers, say
    the same words; noise levels cycle through ``snr_db``.

    Returns:
        ``out_dir``.
    """
    out = Path(out_dir)
    levels = tuple(snr_db)
    n = len(SENTENCES)
    for s, voice in enumerate(voices):
        d = out / voice.name
        d.mkdir(parents=True, exist_ok=True)
        k = (s * 7) % n
        for f in range(enroll_files + verify_files):
            count = enroll_sentences if f < enroll_files - 1 else 1
            if f >= enroll_files and verify_s is not None:
                count = 2
            parts = []
            for _ in range(count):
                parts.append(speak(voice, SENTENCES[k % n], snr_db=levels[f % len(levels)], seed=s * 100 + f))
                k += 1
            pcm = b"".join(parts)
            if f >= enroll_files and verify_s is not None:
                pcm = cut_at_speech(pcm, verify_s)
            write_wav(d / f"{f:02d}.wav", pcm)
    return out


def cut_at_speech(pcm: bytes, seconds: float) -> bytes:
    """The longest start of ``pcm`` (8 kHz pcm16) holding at most ``seconds`` of net speech, as the
    authenticator counts it, with a 10 ms fade and 0.3 s of silence after the cut (measured with them:
    the authenticator's volume normalisation hears the whole file)."""
    if preprocess(pcm)[1] <= seconds:
        return pcm

    def cut(steps: int) -> bytes:
        x = np.frombuffer(pcm[:steps * 160], dtype="<i2").astype(np.float64)
        n = min(80, len(x))
        x[len(x) - n:] *= np.linspace(1.0, 0.0, n)
        return x.astype("<i2").tobytes() + b"\x00\x00" * (PHONE_RATE * 3 // 10)

    lo, hi = 0, len(pcm) // 160                   # in 10 ms steps
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if preprocess(cut(mid))[1] <= seconds:
            lo = mid
        else:
            hi = mid
    return cut(lo)
