"""Accuracy benchmark for menu recognition on synthesised phone speech.

Measures what matters for an IVR menu: how often the caller's choice is
understood (menu accuracy), how often unrelated speech is wrongly taken as a
choice (false accepts), and how fast (real-time factor, decision latency).
"""

from __future__ import annotations

import time
from typing import Callable, Iterable, Sequence

from ivr.speech.asr.base import Recognizer
from ivr.speech.codec import PHONE_RATE, duration_ms
from ivr.speech.grammar import Grammar
from ivr.speech.synth import synthesize

MatchFn = Callable[[str], "str | None"]


def accuracy_benchmark(voices: Sequence[str], noise_levels: Sequence[float | None],
                       phrasings: dict[str, Sequence[str]], negatives: Iterable[str],
                       match: MatchFn, recognizer: Recognizer | None = None,
                       grammar: Grammar | None = None, chunk_ms: int = 20) -> dict:
    """Run every phrasing and negative through synthesis, the recogniser and ``match``.

    Args:
        voices: synthesiser voices (see :mod:`ivr.speech.synth`).
        noise_levels: SNRs in dB (None = clean line).
        phrasings: option id -> phrases a caller may say for it.
        negatives: unrelated sentences that must not select any option.
        match: the engine's phrase matcher: recognised text -> option id or None.
        recognizer: backend to test (default: pocketsphinx).
        grammar: grammar to listen with (default: all phrasings).
        chunk_ms: feed audio in chunks of this size, as a media stream would.

    Returns:
        ``accuracy``, ``false_accept``, ``rtf``, ``latency_ms_p50``/``p95``
        (time from the end of audio to the result), counts, and ``errors``.
    """
    if recognizer is None:
        from ivr.speech.asr import get_recognizer
        recognizer = get_recognizer("pocketsphinx")
    if grammar is None:
        grammar = Grammar(tuple(p for ps in phrasings.values() for p in ps))
    negatives = list(negatives)
    cases = [(text, option) for option, texts in phrasings.items() for text in texts]
    cases += [(text, None) for text in negatives]
    right = wrong_accept = npos = nneg = 0
    busy = 0.0
    audio_ms = 0
    latencies: list[float] = []
    errors: list[dict] = []
    step = PHONE_RATE * chunk_ms // 1000 * 2
    for voice in voices:
        for snr in noise_levels:
            for i, (text, option) in enumerate(cases):
                pcm = synthesize(text, voice, snr_db=snr, lead_ms=200, trail_ms=400, seed=i)
                audio_ms += duration_ms(pcm)
                t0 = time.perf_counter()
                session = recognizer.start(grammar)
                for k in range(0, len(pcm), step):
                    session.accept(pcm[k:k + step])
                t1 = time.perf_counter()
                hyp = session.finish()
                t2 = time.perf_counter()
                busy += t2 - t0
                latencies.append((t2 - t1) * 1000)
                got = match(hyp.text) if hyp.text else None
                if option is None:
                    nneg += 1
                    if got is not None:
                        wrong_accept += 1
                        errors.append({"voice": voice, "snr": snr, "said": text,
                                       "heard": hyp.raw, "got": got})
                else:
                    npos += 1
                    if got == option:
                        right += 1
                    else:
                        errors.append({"voice": voice, "snr": snr, "said": text,
                                       "heard": hyp.raw, "got": got})
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0  # noqa: E731
    return {
        "accuracy": right / npos if npos else 0.0,
        "false_accept": wrong_accept / nneg if nneg else 0.0,
        "rtf": busy / (audio_ms / 1000) if audio_ms else 0.0,
        "latency_ms_p50": pick(0.5),
        "latency_ms_p95": pick(0.95),
        "positives": npos,
        "negatives": nneg,
        "errors": errors,
    }
