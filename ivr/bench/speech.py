"""Accuracy benchmark for menu recognition on synthesised phone speech.

Measures what matters for an IVR menu: how often the caller's choice is
understood (menu accuracy), how often unrelated speech is wrongly taken as a
choice (false accepts), how fast (end of audio to result) and at what CPU
cost per utterance.

The set is generated at run time (:func:`ivr.speech.synth.synthesize` caches
the audio) from three independent axes, so a weak spot shows up as one bad
row instead of a lower average:

* voices: flite and espeak-ng voices, some at slow or fast speaking rates;
* phrasings: bare option phrases, phrases inside sentences and questions,
  requests for a person, keys said as numbers, unrelated sentences and
  sentences that share the menu's vocabulary without choosing anything;
* lines: clean, white noise, babble, the GSM full-rate codec, and 20 ms
  packets lost (silence, or the previous packet repeated).

Voices AND phrasings come in two disjoint halves: TUNING (parameters may be
chosen on them) and HELD-OUT (never looked at while tuning). The held-out
figure is the one to report. A third set, DEV, says the tuning half's
sentences in voices neither the tuning nor the model adaptation uses (nor the
held-out half): the tuning voices are the ones the phone-line model was
adapted on, so they cannot show whether a choice holds for a voice the model
never heard; DEV can, without looking at the held-out voices. Every label is what the engine's own matcher
makes of the sentence as written (a test checks it), so each error is a
recognition error, not a matcher disagreement.
"""

from __future__ import annotations

import json
import statistics
import time
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from ivr.bench.impair import drop_packets, gsm_full_rate
from ivr.engine import listen_at
from ivr.engine.matching import grammar_for_menu, match_menu
from ivr.flow.loader import load_flow
from ivr.flow.model import Menu, Option
from ivr.speech.asr import get_recognizer
from ivr.speech.asr.base import Recognizer
from ivr.speech.codec import PHONE_RATE, duration_ms, phone_line
from ivr.speech.grammar import Grammar
from ivr.speech.synth import synthesize

MatchFn = Callable[[str], "str | None"]

# -- the axes ------------------------------------------------------------------

TUNING_VOICES: tuple[str, ...] = (
    "flite:kal", "flite:awb", "flite:rms", "espeak:en-us+m3",
    "espeak:en-gb-x-rp+f1", "espeak:en-us-nyc+m5@190", "espeak:en+belinda@140",
)
"""Voices that parameters may be chosen on (all of them also feed the model adaptation).

``@N`` is the espeak speaking rate in words per minute (default 175)."""

HELDOUT_VOICES: tuple[str, ...] = (
    "flite:slt", "espeak:en+f2", "espeak:en-gb+m1", "espeak:en-us+f4@200", "espeak:en-gb-scotland+m2",
    "espeak:en-029+f3", "espeak:en-us+klatt2@150", "espeak:en-us+Mike", "espeak:en+steph@190",
    "espeak:en-gb-scotland+f5@140",
)
"""Voices never used for tuning nor for the model adaptation: report these."""

DEV_VOICES: tuple[str, ...] = (
    "espeak:en-gb-scotland+m4", "espeak:en-029+m6@160", "espeak:en-us+m6@190", "espeak:en-gb+klatt4",
    "espeak:en-gb-scotland+f1@150", "espeak:en-029+f4",
)
"""Voices for choosing what must generalise to unheard voices: not adapted on, not tuning, not
held-out (other speakers of the held-out half's accents among them), saying the tuning sentences."""


@dataclass(frozen=True)
class Line:
    """How the phone line degrades the caller's speech.

    Attributes:
        name: the condition's name in the report.
        noise: ``white`` or ``babble`` noise mixed in, or None.
        snr_db: its signal-to-noise ratio.
        codec: ``gsm`` for a GSM full-rate leg before the mu-law network, or None.
        loss: probability that a 20 ms packet is lost (0 = none).
        conceal: what plays instead of a lost packet: ``zero`` or ``repeat``.
    """

    name: str
    noise: str | None = None
    snr_db: float | None = None
    codec: str | None = None
    loss: float = 0.0
    conceal: str = "zero"

    def render(self, text: str, voice: str, seed: int) -> bytes:
        """The caller saying ``text`` in ``voice`` over this line, 8 kHz pcm16 as the IVR hears it."""
        name, rate = parse_voice(voice)
        kw: dict[str, Any] = dict(lead_ms=200, trail_ms=400, seed=seed, rate_wpm=rate)
        if self.codec == "gsm":
            pcm = phone_line(gsm_full_rate(synthesize(text, name, phone=False, **kw)))
        else:
            pcm = synthesize(text, name, snr_db=self.snr_db, noise=self.noise or "white", **kw)
        if self.loss:
            pcm = drop_packets(pcm, self.loss, seed, self.conceal)
        return pcm


LINES: dict[str, Line] = {line.name: line for line in (
    Line("clean"),
    Line("white_15db", noise="white", snr_db=15.0),
    Line("babble_12db", noise="babble", snr_db=12.0),
    Line("gsm", codec="gsm"),
    Line("loss_4pct_zero", loss=0.04, conceal="zero"),
    Line("loss_4pct_repeat", loss=0.04, conceal="repeat"),
)}
"""The line conditions: SNRs of a noisy street or office, a 2G leg, a lossy RTP path."""

NOISY_LINES: tuple[str, ...] = tuple(n for n in LINES if n != "clean")


def parse_voice(spec: str) -> tuple[str, int | None]:
    """``"espeak:en-us+f4@200"`` -> ``("espeak:en-us+f4", 200)``; no ``@`` -> default rate."""
    name, _, rate = spec.partition("@")
    return name, int(rate) if rate else None


@dataclass(frozen=True)
class Case:
    """One thing a caller says, and what it should select.

    Attributes:
        text: the sentence.
        want: the option key, ``"agent"``, or None (must select nothing).
        kind: ``bare``, ``sentence``, ``question``, ``agent``, ``key``,
            ``negative``, ``near_negative`` (shares the menu's words) or
            ``hesitation`` (a caller thinking aloud: "hmm", "uh let me think").
    """

    text: str
    want: str | None
    kind: str


def _cases(kind: str, rows: Iterable[tuple[str, str | None]]) -> tuple[Case, ...]:
    return tuple(Case(text, want, kind) for text, want in rows)


HESITATIONS_TUNING: tuple[Case, ...] = _cases("hesitation", [
    ("hmm", None), ("um", None), ("mm hmm", None), ("hmm let me see", None), ("uh let me think", None),
    ("ah", None), ("er", None)])
"""What callers say while they think, at any menu (tuning half): it must select nothing."""

HESITATIONS_HELDOUT: tuple[Case, ...] = _cases("hesitation", [
    ("hmm hmm", None), ("erm", None), ("um well", None), ("give me a moment", None), ("uh hold on", None),
    ("hmm okay", None), ("oh um", None)])
"""The held-out half's hesitations."""


# -- the banking menu ------------------------------------------------------------
#
# One realistic menu (the bank demo's options plus three more), listened to
# with the grammar the engine builds for it (option phrases, keys as words,
# agent words). A hypothesis counts as right when the ENGINE's matcher maps
# it to the option the caller meant, since that is what a caller experiences
# ("card" for "cards" is not an error when both select the same option).

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

BANK_TUNING: tuple[Case, ...] = (
    _cases("bare", [("balance", "1"), ("check my balance", "1"), ("lost card", "2"), ("cards", "2"),
                    ("stolen card", "2"), ("billing", "3"), ("pay my bill", "3"), ("opening hours", "4"),
                    ("when are you open", "4"), ("transfer money", "5"), ("mortgage", "6"),
                    ("report fraud", "7")])
    + _cases("sentence", [("I'd like to check my balance please", "1"), ("mortgage please", "6"), ("I think I lost my card yesterday", "2"),
                          ("I want to pay my bill", "3"), ("I need to transfer money to my son", "5"),
                          ("I'm calling about my mortgage", "6"), ("I want to report fraud on my account", "7")])
    + _cases("question", [("can you tell me my balance", "1"), ("what are your opening hours", "4"),
                          ("can I pay my bill by phone", "3"), ("how do I transfer money abroad", "5"),
                          ("what rate do you charge on a mortgage", "6")])
    + _cases("agent", [("representative", "agent"), ("agent", "agent"), ("speak to someone", "agent"),
                       ("I want to speak to an agent please", "agent"), ("can I talk to somebody", "agent"),
                       ("get me an operator", "agent")])
    + _cases("key", [("one", "1"), ("two", "2"), ("number three", "3"), ("five", "5"), ("press six", "6"),
                     ("option seven", "7")])
    + _cases("negative", [("good morning", None), ("can you hear me", None), ("hello is anybody there", None),
                          ("tell me a joke", None), ("what's the weather today", None),
                          ("the quick brown fox jumps over the lazy dog", None),
                          ("I need to change my address", None), ("thank you goodbye", None),
                          ("um I'm not sure", None), ("how do I reset my password", None),
                          ("hold on a second", None), ("where is the nearest station", None)])
    + _cases("near_negative", [("my account number is on the letter", None), ("I lost my keys at the park", None),
                               ("the weather report said rain", None), ("we paid for the tickets in cash", None),
                               ("the shop opens early on sundays", None)])
    + HESITATIONS_TUNING
)
"""Banking-menu sentences that parameters may be tuned on."""

BANK_HELDOUT: tuple[Case, ...] = (
    _cases("bare", [("my balance", "1"), ("account balance", "1"), ("lost my card", "2"), ("card was stolen", "2"),
                    ("bill", "3"), ("statement", "3"), ("fees", "3"), ("hours", "4"), ("branch hours", "4"),
                    ("transfers", "5"), ("loans", "6"), ("fraud", "7")])
    + _cases("sentence", [("yes I would like my account balance", "1"), ("my card was stolen last night", "2"),
                          ("I got my statement and it looks wrong", "3"), ("I'm calling to report fraud", "7"),
                          ("I need some help with my mortgage", "6"), ("I would like to make a few transfers", "5"),
                          ("the fees on my account are too high", "3"), ("I just want to check my balance", "1")])
    + _cases("question", [("what's my balance", "1"), ("could you check my balance for me", "1"),
                          ("what are the branch hours on saturday", "4"), ("when are you open tomorrow", "4"),
                          ("why is my bill so high this month", "3"), ("can I make transfers online", "5"),
                          ("do you offer loans for students", "6"), ("how do I report fraud on my card", "7")])
    + _cases("agent", [("operator", "agent"), ("customer service", "agent"),
                       ("can I talk to a real person", "agent"), ("let me speak to a human please", "agent"),
                       ("I need to talk to someone now", "agent"),
                       ("just put me through to a representative", "agent")])
    + _cases("key", [("four", "4"), ("press one", "1"), ("number five", "5"), ("option two", "2"),
                     ("six please", "6"), ("seven", "7")])
    + _cases("negative", [("I'd like to order a large pizza", None), ("my neighbour's dog keeps barking at night", None),
                          ("could you repeat the question", None), ("the train was late again this morning", None),
                          ("I'm just checking something", None), ("sorry wrong number", None),
                          ("what is your postal address", None), ("do you sell car insurance", None),
                          ("my mother is in hospital", None), ("please wait a moment", None),
                          ("is it going to snow", None), ("goodbye", None)])
    + _cases("near_negative", [("the report is due next week", None), ("I lost my umbrella on the bus", None),
                               ("the door was left open all night", None), ("we paid cash at the counter", None),
                               ("my cardigan is in the wash", None), ("open the window please", None)])
    + HESITATIONS_HELDOUT
)
"""Banking-menu sentences never used for tuning."""


def benchmark_menu() -> tuple[Grammar, MatchFn]:
    """The banking menu as the engine sees it, with its grammar and a matcher.

    Returns:
        ``(grammar, match)`` where ``match(text)`` is the option key, ``"agent"``
        or None, as decided by :func:`ivr.engine.matching.match_menu`.
    """
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


# -- acme's main menu (the grammar a live call of the demo flow listens with) -------

ACME_TUNING: tuple[Case, ...] = (
    _cases("bare", [("balance", "balance"), ("my balance", "balance"), ("cards", "cards"), ("lost card", "cards")])
    + _cases("sentence", [("what is my balance", "balance"), ("I lost my card", "cards")])
    + _cases("agent", [("agent", "agent"), ("representative", "agent"), ("operator", "agent"),
                       ("a person", "agent")])
    + _cases("key", [("one", "balance"), ("two", "cards")])
    + _cases("negative", [("what's the weather like today", None), ("I want to order a pizza", None),
                          ("the dog barked at the mailman", None), ("hello is anybody there", None),
                          ("can you hear me", None), ("nothing thanks", None)])
    + HESITATIONS_TUNING
)
"""acme sentences that parameters may be tuned on."""

ACME_HELDOUT: tuple[Case, ...] = (
    _cases("sentence", [("tell me the balance please", "balance"), ("I need a new card", "cards")])
    + _cases("question", [("can you check my balance", "balance"), ("where is my lost card", "cards")])
    + _cases("agent", [("I want an agent", "agent"), ("connect me to a person please", "agent"),
                       ("human", "agent")])
    + _cases("key", [("press one", "balance"), ("option two", "cards")])
    + _cases("negative", [("I'd like to book a table", None), ("no thanks I'm fine", None),
                          ("the bus was late", None), ("is this the right place", None),
                          ("good afternoon", None)])
    + HESITATIONS_HELDOUT
)
"""acme sentences never used for tuning."""


def acme_menu() -> tuple[Grammar, MatchFn]:
    """acme's main menu with exactly the grammar a live call listens with (agent words included)."""
    from pathlib import Path

    flow = load_flow(Path(__file__).resolve().parents[2] / "flows" / "acme.yaml").flow
    menu = flow.nodes["main"].menu

    def match(text: str) -> str | None:
        m = match_menu(menu, text, flow.language, flow.settings.agent_words)
        if m.kind == "agent":
            return "agent"
        if m.kind == "option":
            return menu.options[m.index].goto
        return None

    return Grammar(tuple(listen_at(flow, "main").phrases), flow.language), match


MENUS: dict[str, tuple[Callable[[], tuple[Grammar, MatchFn]], tuple[Case, ...], tuple[Case, ...]]] = {
    "banking_7_options": (benchmark_menu, BANK_TUNING, BANK_HELDOUT),
    "acme": (acme_menu, ACME_TUNING, ACME_HELDOUT),
}
"""Menu name -> (grammar and matcher, tuning cases, held-out cases)."""

SPLITS: dict[str, tuple[tuple[str, ...], int]] = {"tuning": (TUNING_VOICES, 1), "dev": (DEV_VOICES, 1),
                                                  "heldout": (HELDOUT_VOICES, 2)}
"""Split -> (voices, index of its cases in :data:`MENUS` entries)."""


# -- trials ------------------------------------------------------------------------

@dataclass(frozen=True)
class Trial:
    """One synthesised utterance of the benchmark."""

    menu: str
    case: Case
    voice: str
    line: str

    @property
    def seed(self) -> int:
        """Stable per trial (not Python's salted ``hash``), so runs are reproducible."""
        return zlib.crc32(f"{self.menu}|{self.case.text}|{self.voice}|{self.line}".encode())


def trials(split: str, quick: bool = False, menus: Sequence[str] = tuple(MENUS)) -> list[Trial]:
    """Every trial of a split: each (voice, sentence) on the clean line and on one noisy line.

    The noisy line rotates with the voice and sentence, so each line condition
    hears every voice and every phrasing kind while the run stays a few
    minutes long. ``quick``: three voices and every third sentence.
    """
    voices, which = SPLITS[split]
    if quick:
        voices = voices[:3]
    out: list[Trial] = []
    for menu in menus:
        cases = MENUS[menu][which]
        for i, voice in enumerate(voices):
            for j, case in enumerate(cases):
                if quick and j % 3:
                    continue
                out.append(Trial(menu, case, voice, "clean"))
                out.append(Trial(menu, case, voice, NOISY_LINES[(i + j) % len(NOISY_LINES)]))
    return out


def recognise(recognizer: Recognizer, grammar: Grammar, pcm: bytes, chunk_ms: int = 20) -> tuple[Any, float, float]:
    """Feed ``pcm`` in media-stream-sized chunks; returns (hypothesis, end-of-audio->result ms, CPU ms)."""
    step = PHONE_RATE * chunk_ms // 1000 * 2
    c0 = time.process_time()
    session = recognizer.start(grammar)
    for k in range(0, len(pcm), step):
        session.accept(pcm[k:k + step])
    t1 = time.perf_counter()
    hyp = session.finish()
    t2 = time.perf_counter()
    return hyp, (t2 - t1) * 1000, (time.process_time() - c0) * 1000


def run(split: str = "heldout", recognizer: Recognizer | None = None, quick: bool = False,
        menus: Sequence[str] = tuple(MENUS), confirm_below: float = 0.5,
        trial_list: Sequence[Trial] | None = None) -> dict[str, Any]:
    """Recognise every trial and score it with the engine's matcher.

    Args:
        split: ``tuning`` or ``heldout``.
        recognizer: backend to test (default: pocketsphinx).
        quick: the small subset (see :func:`trials`).
        menus: which benchmark menus.
        confirm_below: the flow's confidence threshold (settings.confidence):
            a result below it is confirmed with the caller, not acted on.
        trial_list: explicit trials instead of the split's (regression tests).

    Returns:
        Totals (``accuracy``: positives heard as the right option, acted on or
        confirmed; ``false_accept``: negatives acted on as an option without
        asking; ``negatives_confirmed``; latency and CPU per utterance), the
        same per line, phrasing kind, voice and menu, and every error.
    """
    if recognizer is None:
        recognizer = get_recognizer("pocketsphinx")
    todo = list(trial_list) if trial_list is not None else trials(split, quick, menus)
    built = {m: MENUS[m][0]() for m in dict.fromkeys(t.menu for t in todo)}
    rows: list[dict[str, Any]] = []
    audio_ms = 0
    for t in todo:
        grammar, match = built[t.menu]
        pcm = LINES[t.line].render(t.case.text, t.voice, t.seed)
        audio_ms += duration_ms(pcm)
        hyp, latency, cpu = recognise(recognizer, grammar, pcm)
        got = match(hyp.text) if hyp.text else None
        sure = hyp.confidence >= confirm_below
        rows.append({"menu": t.menu, "voice": t.voice, "line": t.line, "kind": t.case.kind,
                     "said": t.case.text, "want": t.case.want, "got": got, "sure": sure,
                     "heard": hyp.raw, "latency_ms": latency, "cpu_ms": cpu})
    report: dict[str, Any] = {"split": split, "quick": quick,
                              "backend": getattr(recognizer, "name", type(recognizer).__name__),
                              "voices": list(dict.fromkeys(t.voice for t in todo)),
                              **_score(rows)}
    report["rtf"] = round(sum(r["cpu_ms"] for r in rows) / audio_ms, 4) if audio_ms else 0.0
    for axis in ("line", "kind", "voice", "menu"):
        groups: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            groups.setdefault(r[axis], []).append(r)
        report[f"by_{axis}"] = {k: _score(v, brief=True) for k, v in groups.items()}
    report["errors"] = [{k: r[k] for k in ("menu", "voice", "line", "kind", "said", "want", "got", "heard")}
                        for r in rows if _wrong(r)]
    return report


def _wrong(r: dict[str, Any]) -> bool:
    if r["want"] is None:
        return r["got"] is not None and r["sure"]
    return r["got"] != r["want"]


def _score(rows: list[dict[str, Any]], brief: bool = False) -> dict[str, Any]:
    pos = [r for r in rows if r["want"] is not None]
    neg = [r for r in rows if r["want"] is None]
    right = [r for r in pos if r["got"] == r["want"]]
    out: dict[str, Any] = {
        "accuracy": round(len(right) / len(pos), 4) if pos else None,
        "false_accept": round(sum(1 for r in neg if _wrong(r)) / len(neg), 4) if neg else None,
        "positives": len(pos), "negatives": len(neg),
    }
    if brief:
        return out
    lat = sorted(r["latency_ms"] for r in rows)
    cpu = sorted(r["cpu_ms"] for r in rows)
    pick = lambda xs, q: round(xs[min(len(xs) - 1, int(q * len(xs)))], 1) if xs else 0.0  # noqa: E731
    out.update({
        "confirmed": round(sum(1 for r in right if not r["sure"]) / len(right), 4) if right else 0.0,
        "negatives_confirmed": round(sum(1 for r in neg if r["got"] is not None and not r["sure"]) / len(neg), 4)
        if neg else 0.0,
        "latency_ms_p50": pick(lat, 0.5), "latency_ms_p95": pick(lat, 0.95),
        "cpu_ms_per_utterance_mean": round(statistics.fmean(cpu), 1) if cpu else 0.0,
        "cpu_ms_per_utterance_p95": pick(cpu, 0.95),
    })
    return out


def _main(argv: Sequence[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="menu recognition benchmark; prints JSON")
    ap.add_argument("--set", choices=tuple(SPLITS), default="heldout")
    ap.add_argument("--quick", action="store_true", help="3 voices, every third sentence")
    ap.add_argument("--backend", default=None, help="IVR_ASR_BACKEND name (default: pocketsphinx)")
    ap.add_argument("--menu", action="append", choices=tuple(MENUS), help="only this menu (repeatable)")
    ap.add_argument("--no-errors", action="store_true", help="leave the error list out")
    args = ap.parse_args(argv)

    r = run(args.set, get_recognizer(args.backend or "pocketsphinx"), args.quick, args.menu or tuple(MENUS))
    if args.no_errors:
        r.pop("errors")
    print(json.dumps(r, indent=1))


if __name__ == "__main__":
    _main()
