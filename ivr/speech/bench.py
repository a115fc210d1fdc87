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
                       grammar: Grammar | None = None, chunk_ms: int = 20,
                       confirm_below: float = 0.5) -> dict:
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
        confirm_below: the flow's confidence threshold (settings.confidence):
            a result below it is confirmed with the caller, not acted on.

    Returns:
        ``accuracy`` (positives heard as the right option, acted on or confirmed),
        ``confirmed`` (share of those that needed a "Did you say...?"),
        ``false_accept`` (negatives acted on as an option without asking),
        ``negatives_confirmed`` (negatives that led to a confirmation question),
        ``rtf``, ``latency_ms_p50``/``p95`` (end of audio to result), counts, ``errors``.
    """
    if recognizer is None:
        from ivr.speech.asr import get_recognizer
        recognizer = get_recognizer("pocketsphinx")
    if grammar is None:
        grammar = Grammar(tuple(p for ps in phrasings.values() for p in ps))
    negatives = list(negatives)
    cases = [(text, option) for option, texts in phrasings.items() for text in texts]
    cases += [(text, None) for text in negatives]
    right = wrong_accept = npos = nneg = right_confirmed = neg_confirmed = 0
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
                sure = hyp.confidence >= confirm_below
                if option is None:
                    nneg += 1
                    if got is not None and sure:
                        wrong_accept += 1
                        errors.append({"voice": voice, "snr": snr, "said": text,
                                       "heard": hyp.raw, "got": got})
                    elif got is not None:
                        neg_confirmed += 1
                else:
                    npos += 1
                    if got == option:
                        right += 1
                        right_confirmed += not sure
                    else:
                        errors.append({"voice": voice, "snr": snr, "said": text,
                                       "heard": hyp.raw, "got": got})
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0  # noqa: E731
    return {
        "accuracy": right / npos if npos else 0.0,
        "confirmed": right_confirmed / right if right else 0.0,
        "false_accept": wrong_accept / nneg if nneg else 0.0,
        "negatives_confirmed": neg_confirmed / nneg if nneg else 0.0,
        "rtf": busy / (audio_ms / 1000) if audio_ms else 0.0,
        "latency_ms_p50": pick(0.5),
        "latency_ms_p95": pick(0.95),
        "positives": npos,
        "negatives": nneg,
        "errors": errors,
    }


# -- the standard menu benchmark -----------------------------------------------
#
# One realistic menu (the bank demo's options plus three more), listened to
# with the grammar the engine builds for it (option phrases, keys as words,
# agent words). A hypothesis counts as right when the ENGINE's matcher maps
# it to the option the caller meant, since that is what a caller experiences
# ("card" for "cards" is not an error when both select the same option).

TUNING_VOICES: tuple[str, ...] = ("flite:kal", "flite:awb", "flite:rms", "espeak:en-us+m3")
"""Voices that parameters may be chosen on."""

HELDOUT_VOICES: tuple[str, ...] = ("flite:slt", "espeak:en+f2", "espeak:en-gb+m1", "espeak:en-us+f4",
                                   "espeak:en-gb-scotland+m2", "espeak:en-029+f3")
"""Voices never used for tuning: report these."""

NOISE_LEVELS: tuple[float | None, ...] = (None, 15.0)
"""Clean line and 15 dB white noise."""

MENU_OPTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("1", ("balance", "my balance", "account balance", "check my balance")),
    ("2", ("lost card", "stolen card", "lost my card", "card was stolen", "cards")),
    ("3", ("billing", "bill", "pay my bill", "statement", "fees")),
    ("4", ("opening hours", "hours", "when are you open", "branch hours")),
    ("5", ("transfer money", "transfers")),
    ("6", ("mortgage", "loans")),
    ("7", ("report fraud", "fraud")),
)
"""Key and phrases of each option of the benchmark menu."""

MENU_PHRASINGS: dict[str, tuple[str, ...]] = {
    "1": ("balance", "check my balance", "one"),
    "2": ("lost card", "cards", "stolen card", "two"),
    "3": ("billing", "pay my bill", "three"),
    "4": ("opening hours", "when are you open"),
    "5": ("transfer money", "five"),
    "6": ("mortgage", "six"),
    "7": ("report fraud", "seven"),
    "agent": ("representative", "agent", "speak to someone"),
}
"""What callers say, by the option it should select ("agent" = ask for a person)."""

MENU_NEGATIVES: tuple[str, ...] = (
    "good morning", "can you hear me", "hello is anybody there", "tell me a joke",
    "what's the weather today", "the quick brown fox jumps over the lazy dog",
    "I need to change my address", "thank you goodbye", "um I'm not sure",
    "how do I reset my password", "my internet is not working", "hold on a second",
    "what time is it", "where is the nearest station",
)
"""Unrelated sentences that must select nothing."""


def benchmark_menu():
    """The benchmark menu as the engine sees it, with its grammar and a matcher.

    Returns:
        ``(grammar, match)`` where ``match(text)`` is the option key, ``"agent"``
        or None, as decided by :func:`ivr.engine.matching.match_menu`.
    """
    from ivr.engine.matching import grammar_for_menu, match_menu
    from ivr.flow.model import Menu, Option

    menu = Menu(prompt="Say what you need.",
                options=[Option(key=k, say=list(ps), goto="x") for k, ps in MENU_OPTIONS])
    grammar = Grammar(grammar_for_menu(menu, "en-US"), "en-US")

    def match(text: str) -> str | None:
        m = match_menu(menu, text, "en-US")
        if m.kind == "agent":
            return "agent"
        if m.kind == "option":
            return menu.options[m.index].key
        return None

    return grammar, match


def run_menu_benchmark(voices: Sequence[str], recognizer: Recognizer | None = None,
                       noise_levels: Sequence[float | None] = NOISE_LEVELS,
                       phrasings: dict[str, Sequence[str]] | None = None,
                       negatives: Iterable[str] | None = None) -> dict:
    """:func:`accuracy_benchmark` on the standard menu, with per-voice results."""
    grammar, match = benchmark_menu()
    phrasings = phrasings or MENU_PHRASINGS
    negatives = list(negatives if negatives is not None else MENU_NEGATIVES)
    total = accuracy_benchmark(voices, noise_levels, phrasings, negatives, match,
                               recognizer=recognizer, grammar=grammar)
    total["per_voice"] = {}
    for v in voices:
        errs = [e for e in total["errors"] if e["voice"] == v]
        nn = len(negatives) * len(noise_levels)
        npos = sum(len(t) for t in phrasings.values()) * len(noise_levels)
        fa = sum(1 for e in errs if e["said"] in negatives)
        miss = len(errs) - fa
        total["per_voice"][v] = {"accuracy": 1 - miss / npos, "false_accept": fa / nn}
    return total


def _main(argv: Sequence[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="menu recognition benchmark (pocketsphinx)")
    ap.add_argument("--set", choices=("tuning", "heldout", "all"), default="all")
    ap.add_argument("--errors", action="store_true", help="list every error")
    args = ap.parse_args(argv)
    sets = {"tuning": TUNING_VOICES, "heldout": HELDOUT_VOICES}
    for name, voices in sets.items():
        if args.set not in (name, "all"):
            continue
        r = run_menu_benchmark(voices)
        print(f"{name}: accuracy {r['accuracy']:.1%} ({r['confirmed']:.0%} confirmed)  "
              f"false accepts {r['false_accept']:.1%} (+{r['negatives_confirmed']:.1%} asked)  "
              f"rtf {r['rtf']:.3f}  latency p50 {r['latency_ms_p50']:.0f} ms  "
              f"p95 {r['latency_ms_p95']:.0f} ms  ({r['positives']} pos, {r['negatives']} neg)")
        for v, pv in r["per_voice"].items():
            print(f"  {v:28s} accuracy {pv['accuracy']:.1%}  false accepts {pv['false_accept']:.1%}")
        if args.errors:
            for e in r["errors"]:
                print("   ", e)


if __name__ == "__main__":
    _main()
