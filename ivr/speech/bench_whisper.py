"""Whisper beside pocketsphinx on the speech benchmark: accuracy, false accepts, latency, CPU.

The lead wires :func:`side_by_side` into ``python -m ivr bench speech``; run
alone with ``python -m ivr.speech.bench_whisper [--set heldout|tuning]
[--threads 1,2]`` it prints the same dict as JSON.

Both recognisers hear the same synthesised cases through
:func:`ivr.speech.bench_stream.accuracy` (acme's menu and the 7-option
banking menu, held-out voices by default). CPU per utterance is measured
around each session (``time.process_time`` covers CTranslate2's OpenMP
threads too); the benchmark runs one utterance at a time, so nothing else
of the process is counted.
"""

from __future__ import annotations

import json
import time
from typing import Any, Optional, Sequence

from ivr.speech.asr.base import Hypothesis, Recognizer
from ivr.speech.bench import HELDOUT_VOICES, NOISE_LEVELS, TUNING_VOICES
from ivr.speech.grammar import Grammar


class CpuMeter:
    """A recogniser wrapper that adds up the process CPU time spent in its sessions."""

    def __init__(self, inner: Recognizer) -> None:
        self.inner = inner
        self.name = inner.name
        self.sample_rate = inner.sample_rate
        self.cpu_s = 0.0
        self.utterances = 0

    def start(self, grammar: Optional[Grammar]) -> "_MeteredSession":
        """Start the inner session, timing its start-up too."""
        c0 = time.process_time()
        session = self.inner.start(grammar)
        self.cpu_s += time.process_time() - c0
        return _MeteredSession(self, session)

    @property
    def cpu_ms_per_utterance(self) -> float:
        """Mean CPU milliseconds per finished utterance."""
        return 1000 * self.cpu_s / self.utterances if self.utterances else 0.0


class _MeteredSession:
    def __init__(self, meter: CpuMeter, inner: Any) -> None:
        self._meter = meter
        self._inner = inner

    def accept(self, pcm16_at_8k: bytes) -> None:
        c0 = time.process_time()
        self._inner.accept(pcm16_at_8k)
        self._meter.cpu_s += time.process_time() - c0

    def finish(self) -> Hypothesis:
        c0 = time.process_time()
        hyp = self._inner.finish()
        self._meter.cpu_s += time.process_time() - c0
        self._meter.utterances += 1
        return hyp


def _summary(res: dict[str, Any], meter: CpuMeter) -> dict[str, Any]:
    menus = res["menus"]
    lat50 = max(m["latency_ms_p50"] for m in menus.values())
    lat95 = max(m["latency_ms_p95"] for m in menus.values())
    return {"accuracy": res["accuracy"], "false_accept": res["false_accept"],
            "confirmed": {k: m["confirmed"] for k, m in menus.items()},
            "latency_ms_p50": round(lat50, 1), "latency_ms_p95": round(lat95, 1),
            "cpu_ms_per_utterance": round(meter.cpu_ms_per_utterance, 1),
            "positives": res["positives"], "negatives": res["negatives"],
            "menus": {k: {"accuracy": m["accuracy"], "false_accept": m["false_accept"],
                          "errors_sample": m["errors_sample"]} for k, m in menus.items()}}


def side_by_side(voices: Sequence[str] = HELDOUT_VOICES,
                 noise: Sequence[Optional[float]] = NOISE_LEVELS,
                 whisper_threads: Sequence[int] = (1, 2), with_pocketsphinx: bool = True,
                 whisper_model: Optional[str] = None, whisper_tuning: Any = None) -> dict[str, Any]:
    """The benchmark menus with pocketsphinx and with Whisper at each thread count.

    Returns:
        ``{"voices", "noise_snr_db", "pocketsphinx": {...}, "whisper": {"threads_1": {...}, ...}}``,
        each with ``accuracy``, ``false_accept``, ``latency_ms_p50``/``p95`` (the
        slower of the two menus), ``cpu_ms_per_utterance``, counts and an error sample.
        Latency is end of audio to hypothesis; Whisper does all its work then.
    """
    from ivr.speech.asr import get_recognizer
    from ivr.speech.asr.whisper_backend import WhisperRecognizer
    from ivr.speech.bench_stream import accuracy

    voices, noise = tuple(voices), tuple(noise)
    out: dict[str, Any] = {"voices": list(voices), "noise_snr_db": list(noise)}
    if with_pocketsphinx:
        meter = CpuMeter(get_recognizer("pocketsphinx"))
        ps = _summary(accuracy(voices, noise, meter), meter)
        ps["model"] = getattr(meter.inner, "model", "")
        out["pocketsphinx"] = ps
    out["whisper"] = {}
    for threads in whisper_threads:
        rec = WhisperRecognizer(whisper_model, threads=threads, workers=1, tuning=whisper_tuning)
        rec.transcribe(b"\x00\x00" * 8000)  # first call allocates CTranslate2's buffers: not a caller's cost
        meter = CpuMeter(rec)
        w = _summary(accuracy(voices, noise, meter), meter)
        w["model"] = rec.model_path
        out["whisper"][f"threads_{threads}"] = w
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
    from ivr.engine.matching import match_menu  # noqa: F401 - same import cost for every config
    from ivr.speech.asr.whisper_backend import WhisperRecognizer, WhisperTuning
    from ivr.speech.bench import benchmark_menu
    from ivr.speech.synth import synthesize

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

    from ivr.speech.asr.whisper_backend import WhisperTuning

    ap = argparse.ArgumentParser(description="Whisper vs pocketsphinx on the menu benchmark (JSON)")
    ap.add_argument("--set", choices=("heldout", "tuning"), default="heldout")
    ap.add_argument("--threads", default="1,2", help="Whisper thread counts, comma-separated")
    ap.add_argument("--no-pocketsphinx", action="store_true")
    ap.add_argument("--voices", default="", help="comma-separated voices instead of --set")
    ap.add_argument("--clean-only", action="store_true", help="clean line only (quick iterations)")
    ap.add_argument("--full-window", action="store_true", help="Whisper's 30 s encoder window (for comparison)")
    ap.add_argument("--window-cost", action="store_true", help="only time the encoder windows (30 s vs 10 s)")
    args = ap.parse_args(argv)
    if args.window_cost:
        print(json.dumps(window_cost(threads=tuple(int(t) for t in args.threads.split(",") if t)), indent=1))
        return
    voices = tuple(v for v in args.voices.split(",") if v) or (
        HELDOUT_VOICES if args.set == "heldout" else TUNING_VOICES)
    res = side_by_side(voices, (None,) if args.clean_only else NOISE_LEVELS,
                       tuple(int(t) for t in args.threads.split(",") if t),
                       with_pocketsphinx=not args.no_pocketsphinx,
                       whisper_tuning=WhisperTuning(window_pad_ms=None) if args.full_window else None)
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    _main()
