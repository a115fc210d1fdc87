"""Two recognisers on one utterance: a fast grammar recogniser, and a second opinion when it is unsure.

Why: pocketsphinx with the menu's grammar decides most answers in a few tens
of milliseconds, but it is weak exactly where a caller is hardest to hear
(babble behind the caller, a long sentence, an accent it never heard), and
there it usually knows it: no match, or a low phrase-level confidence.
Whisper tiny.en hears such speech far better but costs ten times the CPU.
So every utterance goes to the first recogniser, and only the uncertain ones
are also decoded by the second, on the same audio:

* the first is sure (a grammar phrase alone at ``sure_above`` or more), or
  heard only a hesitation ("hmm"): its answer stands; the second never runs
  (asked about a hum, Whisper's phrase scoring picks a short phrase: "two");
* the second heard only a hesitation (it wrote "Um.") and the first no
  phrase: no answer either;
* otherwise the second decides; when both heard the same grammar phrases the
  answer is as sure as the surer of the two (and its words are those of the
  reading that is a phrase alone or in a caller's frame, "press one" over
  "can one"), when only the second heard
  something its answer and confidence are taken, and when the second hears
  nothing the first one's (unsure) answer stands, so the flow confirms it.

Both recognisers are deterministic on the same audio, so the combination is
too. The second recogniser is any :class:`~ivr.speech.asr.base.Recognizer`
(Whisper in practice, vosk where a model is installed).
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.errors import SpeechError
from ivr.speech.asr.base import Hypothesis, RecognitionSession, Recognizer
from ivr.speech.asr.sphinx_lm import CARRIERS
from ivr.speech.grammar import Grammar, normalize


@dataclass(frozen=True)
class CombinedTuning:
    """When the second recogniser is asked.

    Attributes:
        sure_above: a first-pass match at this confidence or more is final.
        sure_only_bare: ...but only when it is a grammar phrase alone. Measured on
            the tuning set: bare phrases at 0.7 or more were never wrong, while
            a tenth of unrelated sentences decoded to a sentence holding a
            phrase with a high confidence (the garbage model is not perfect).
        ask_on_no_match: also ask the second recogniser when the first heard
            no grammar phrase at all (the usual case in babble noise).
        unconfirmed: the confidence of a first answer the second recogniser did
            not hear; below the flow's ``settings.confidence`` (0.5 by default)
            the flow asks "Did you say ...?" instead of acting on it.
    """

    sure_above: float = 0.7
    sure_only_bare: bool = True
    ask_on_no_match: bool = True
    unconfirmed: float = 0.4


class CombinedRecognizer:
    """``first`` on every utterance, ``second`` on the uncertain ones (see the module notes)."""

    def __init__(self, first: Recognizer, second: Recognizer, tuning: CombinedTuning | None = None) -> None:
        self.first = first
        self.second = second
        self.tuning = tuning or CombinedTuning()
        self.name = f"{first.name}+{second.name}"
        self.sample_rate = first.sample_rate

    def start(self, grammar: Grammar | None) -> "CombinedSession":
        """Start the first recogniser's session; the second one only starts if it is needed."""
        if grammar is None or grammar.digits:
            # Open questions and digit strings: one recogniser (the second is the open-vocabulary one).
            return CombinedSession(self, grammar, None if grammar is None else self.first.start(grammar),
                                   self.second.start(grammar) if grammar is None else None)
        return CombinedSession(self, grammar, self.first.start(grammar), None)

    def is_sure(self, h: Hypothesis, grammar: Grammar) -> bool:
        """Whether the first recogniser's answer stands without a second opinion."""
        t = self.tuning
        if not h.text or h.confidence < t.sure_above:
            return False
        return not t.sure_only_bare or h.text in grammar.phrases

    def warm(self, grammar: Grammar | None) -> None:
        """Build what the first recogniser needs for ``grammar`` off the call path."""
        warm = getattr(self.first, "warm", None)
        if warm is not None:
            warm(grammar)


class CombinedSession:
    """One utterance: fed to the first recogniser as it streams, kept for the second."""

    def __init__(self, owner: CombinedRecognizer, grammar: Grammar | None,
                 first: RecognitionSession | None, only: RecognitionSession | None) -> None:
        self._owner = owner
        self._grammar = grammar
        self._first = first
        self._only = only
        self._audio = bytearray()
        self._done = False

    def accept(self, pcm16_at_8k: bytes) -> None:
        """Feed 8 kHz pcm16 to the first recogniser and keep it for a second opinion."""
        if self._done:
            raise SpeechError("recognition session already finished")
        if self._only is not None:
            self._only.accept(pcm16_at_8k)
            return
        if self._first is not None:
            self._first.accept(pcm16_at_8k)
        self._audio.extend(pcm16_at_8k)

    def finish(self) -> Hypothesis:
        """The first answer if it is sure, else the combination with the second (module notes)."""
        if self._done:
            raise SpeechError("recognition session already finished")
        self._done = True
        if self._only is not None:
            return self._only.finish()
        assert self._first is not None
        h1 = self._first.finish()
        g = self._grammar
        t = self._owner.tuning
        if g is None or g.digits or self._owner.is_sure(h1, g) or h1.hesitation \
                or (not h1.text and not t.ask_on_no_match):
            return h1
        s2 = self._owner.second.start(g)
        s2.accept(bytes(self._audio))
        h2 = s2.finish()
        return combine(h1, h2, g, self._owner.name, t.unconfirmed)


def combine(h1: Hypothesis, h2: Hypothesis, grammar: Grammar, name: str, unconfirmed: float = 0.4) -> Hypothesis:
    """The decision once both recognisers have spoken (see the module notes)."""
    raw = f"[1] {h1.raw} [2] {h2.raw}"
    if h2.hesitation and not h1.text:
        # Neither heard a phrase and the second heard a hesitation: no answer (the caller is
        # thinking; a streamed call listens on). A phrase the first heard is kept and confirmed,
        # as when the second hears nothing (below).
        return Hypothesis("", 0.0, name, raw, hesitation=True)
    if not h2.text:
        # The second recogniser heard no grammar phrase: the first one's answer stays, but is
        # confirmed with the caller rather than acted on (unrelated speech often decodes to a
        # sentence with a phrase in it, which the second recogniser does not hear).
        return Hypothesis(h1.text, min(h1.confidence, unconfirmed), name, raw, rejected=h1.rejected)
    if h1.text and phrases_in(h1.text, grammar) == phrases_in(h2.text, grammar):
        # Same phrases: the words around them decide whether the engine takes the answer, and
        # each recogniser gets different ones wrong ("can one" / "press one", "press one" /
        # "grant one"). The reading that is a phrase alone, or in a frame callers wrap a phrase
        # in, wins; otherwise the first recogniser's, which spells the grammar's words.
        text = next((t for t in (h1.text, h2.text) if framed(t, grammar)), h1.text)
        return Hypothesis(text, max(h1.confidence, h2.confidence), name, raw + " (agree)")
    return Hypothesis(h2.text, h2.confidence, name, raw)


def framed(text: str, grammar: Grammar) -> bool:
    """Whether ``text`` is one grammar phrase, alone or in a carrier frame ("press _", "_ please")."""
    t = normalize(text)
    return any(t == p or any(t == c.replace("_", p) for c in CARRIERS) for p in phrases_in(t, grammar))


def phrases_in(text: str, grammar: Grammar) -> frozenset[str]:
    """The grammar phrases that occur in ``text`` on word boundaries (plurals folded)."""
    t = f" {_fold(normalize(text))} "
    return frozenset(p for p in grammar.phrases if f" {_fold(p)} " in t)


def _fold(text: str) -> str:
    # The engine's plural folding (ivr.engine.matching.fold), so "cards" equals "card".
    return " ".join(w[:-1] if len(w) >= 4 and w.endswith("s") and not w.endswith(("ss", "us", "is"))
                    else w for w in text.split())
