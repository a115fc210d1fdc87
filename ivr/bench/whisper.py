"""Whisper beside pocketsphinx (and their combination) on the speech benchmark: accuracy, false accepts,
latency, CPU.

The lead wires :func:`side_by_side` into ``python -m ivr bench speech``; run
alone with ``python -m ivr.bench.whisper [--set heldout|tuning]
[--quick] [--threads 1,2]`` it prints the same dict as JSON.

Every recogniser hears the same generated set (:func:`ivr.bench.speech.run`:
acme's menu and the 7-option banking menu; voices, line conditions and
phrasing kinds, reported per condition). CPU per utterance is measured
around each session (``time.process_time`` covers CTranslate2's OpenMP
threads too); the benchmark runs one utterance at a time, so nothing else
of the process is counted.
"""

from __future__ import annotations

import json
import time
from typing import Any, Optional, Sequence

from ivr.bench.speech import HELDOUT_VOICES, benchmark_menu, run
from ivr.speech.asr import get_recognizer
from ivr.speech.asr.combined import CombinedRecognizer
from ivr.speech.asr.pocketsphinx_backend import FIRST_PASS, PocketSphinxRecognizer
from ivr.speech.asr.whisper_backend import SECOND_PASS, WhisperRecognizer, WhisperTuning
from ivr.speech.synth import synthesize

SUMMARY_KEYS = ("accuracy", "false_accept", "confirmed", "negatives_confirmed", "latency_ms_p50",
                "latency_ms_p95", "cpu_ms_per_utterance_mean", "cpu_ms_per_utterance_p95", "positives", "negatives")


def _summary(res: dict[str, Any], errors: int = 12) -> dict[str, Any]:
    out = {k: res[k] for k in SUMMARY_KEYS}
    for axis in ("by_line", "by_kind", "by_menu"):
        out[axis] = {k: {"accuracy": v["accuracy"], "false_accept": v["false_accept"]} for k, v in res[axis].items()}
    out["errors_total"] = len(res["errors"])
    out["errors_sample"] = res["errors"][:errors]
    return out


def side_by_side(split: str = "heldout", quick: bool = False, whisper_threads: Sequence[int] = (1, 2),
                 with_pocketsphinx: bool = True, with_combined: bool = True,
                 whisper_model: Optional[str] = None, whisper_tuning: Any = None) -> dict[str, Any]:
    """The benchmark set with pocketsphinx, with Whisper at each thread count, and with the combination.

    Returns:
        ``{"split", "quick", "pocketsphinx": {...}, "whisper": {"threads_1": {...}, ...},
        "pocketsphinx+whisper": {...}}``, each with ``accuracy``, ``false_accept``,
        ``latency_ms_p50``/``p95`` (end of audio to hypothesis), CPU per utterance,
        per line / phrasing kind / menu figures and an error sample. The
        combination uses Whisper at the first thread count.
    """
    from dataclasses import replace

    out: dict[str, Any] = {"split": split, "quick": quick}
    sphinx = get_recognizer("pocketsphinx")
    if with_pocketsphinx:
        out["pocketsphinx"] = _summary(run(split, sphinx, quick))
        out["pocketsphinx"]["model"] = getattr(sphinx, "model", "")
    out["whisper"] = {}
    first: Any = None
    for threads in whisper_threads:
        rec = WhisperRecognizer(whisper_model, threads=threads, workers=1, tuning=whisper_tuning)
        rec.transcribe(b"\x00\x00" * 8000)  # first call allocates CTranslate2's buffers: not a caller's cost
        first = first or rec
        w = _summary(run(split, rec, quick))
        w["model"] = rec.model_path
        out["whisper"][f"threads_{threads}"] = w
    if with_combined and first is not None:
        second = WhisperRecognizer(whisper_model, threads=first.threads, workers=1,
                                   tuning=replace(whisper_tuning or SECOND_PASS, prompt_phrases=True))
        combined = CombinedRecognizer(PocketSphinxRecognizer(FIRST_PASS), second)
        out["pocketsphinx+whisper"] = _summary(run(split, combined, quick))
    return out


WINDOW_TEXTS: tuple[str, ...] = ("balance", "lost card", "I would like to pay my bill", "representative",
                                 "when are you open", "what's the weather today", "two", "speak to someone")
"""Short answers, a sentence and a negative: the utterance lengths a menu hears (0.5-2.5 s)."""


def window_cost(voices: Sequence[str] = HELDOUT_VOICES[:2], texts: Sequence[str] = WINDOW_TEXTS,
                threads: Sequence[int] = (1, 2), windows_ms: Sequence[Optional[int]] = (None, 10000)
                ) -> dict[str, Any]:
    """Wall and CPU milliseconds per menu decision for each encoder window and thread count.

    ``None`` is Whisper's native 30 s window. ``same_decisions`` says how many
    decisions (text) equal those of the 30 s window: the shorter window must
    not change what callers get.
    """
    grammar, _ = benchmark_menu()
    audio = [synthesize(t, v, lead_ms=200, trail_ms=400) for v in voices for t in texts]
    out: dict[str, Any] = {"utterances": len(audio), "results": []}
    reference: dict[int, list[str]] = {}
    for n in threads:
        for window in windows_ms:
            rec = WhisperRecognizer(threads=n, workers=1, tuning=WhisperTuning(window_pad_ms=None) if window is None
                                    else WhisperTuning(window_min_ms=window))
            rec.transcribe(b"\x00\x00" * 8000)
            walls, cpus, texts_out = [], [], []
            for pcm in audio:
                w0, c0 = time.perf_counter(), time.process_time()
                texts_out.append(rec.decide(pcm, grammar).text)
                walls.append(1000 * (time.perf_counter() - w0))
                cpus.append(1000 * (time.process_time() - c0))
            walls.sort()
            ref = reference.setdefault(n, texts_out)
            out["results"].append({"threads": n, "window_ms": window or 30000,
                                   "ms_p50": round(walls[len(walls) // 2], 1),
                                   "ms_max": round(walls[-1], 1),
                                   "cpu_ms_mean": round(sum(cpus) / len(cpus), 1),
                                   "same_decisions": sum(a == b for a, b in zip(ref, texts_out))})
    return out


def _main(argv: Optional[Sequence[str]] = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="Whisper vs pocketsphinx vs both on the menu benchmark (JSON)")
    ap.add_argument("--set", choices=("heldout", "tuning"), default="heldout")
    ap.add_argument("--quick", action="store_true", help="the benchmark's quick subset")
    ap.add_argument("--threads", default="1,2", help="Whisper thread counts, comma-separated")
    ap.add_argument("--no-pocketsphinx", action="store_true")
    ap.add_argument("--no-combined", action="store_true")
    ap.add_argument("--full-window", action="store_true", help="Whisper's 30 s encoder window (for comparison)")
    ap.add_argument("--window-cost", action="store_true", help="only time the encoder windows (30 s vs 10 s)")
    args = ap.parse_args(argv)
    if args.window_cost:
        print(json.dumps(window_cost(threads=tuple(int(t) for t in args.threads.split(",") if t)), indent=1))
        return
    res = side_by_side(args.set, args.quick, tuple(int(t) for t in args.threads.split(",") if t),
                       with_pocketsphinx=not args.no_pocketsphinx, with_combined=not args.no_combined,
                       whisper_tuning=WhisperTuning(window_pad_ms=None) if args.full_window else None)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    _main()
