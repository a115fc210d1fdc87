"""PocketSphinx recogniser: the default that needs nothing but the wheel.

How it stays honest about out-of-grammar speech: a pure phrase grammar
(JSGF) forces every utterance onto some phrase, so "what's the weather
today" would come out as "representative". Instead each grammar is compiled
into a small statistical language model in which the grammar phrases are
strongly favoured but a few hundred everyday English words compete as
"garbage". Speech that fits a phrase decodes to it; anything else decodes to
filler words and is reported as no match. A second gate checks the acoustic
fit of the winning words (log-likelihood per frame relative to the best
senone), which rejects noise that happens to decode to a short phrase.

Decoders are not thread-safe, so they are pooled per grammar and reused.
Each grammar's decoder gets a pronunciation dictionary of only the words its
language model can produce: with the full 130k-word CMU dictionary, adding
the language model took 3-6 s per decoder (the search is initialised over
every dictionary word), inside C code that holds the GIL, so one build froze
every call of the process. With the small dictionary a build takes ~20 ms
and the decoded results are the same.

Two front-end details matter a lot on phone audio (measured with
``python -m ivr.bench.speech``):

* a faint noise floor (-60 dBFS) is mixed into the caller audio before
  decoding. Digital silence (exact zeros, as a mu-law line carries between
  words and as synthesised test audio has) gives the feature extraction
  log-of-zero energies that skew the utterance's cepstral mean; with the
  floor, clean-line accuracy rose by 20 points on some voices;
* the lattice best-path pass (``-bestpath``) is off: on these short grammars
  it often returned a partial phrase ("when are") instead of the phrase the
  Viterbi search ended in.

A recognised text is also accepted when it differs from a grammar phrase
only by a simple plural ("card" for "cards"), and reported as that phrase,
so it maps to the option the engine's matcher would choose.
"""

from __future__ import annotations

import logging
import math
import tempfile
import threading
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ivr.errors import SpeechError
from ivr.speech.asr.base import Hypothesis
from ivr.speech.asr.sphinx_lm import HESITATIONS, corpus
from ivr.speech.codec import PHONE_RATE, StreamResampler
from ivr.speech.grammar import SPOKEN_DIGITS, Grammar, normalize
from ivr.speech.models import MARKER, find_adapted

log = logging.getLogger(__name__)

_BUILD_LOCK = threading.Lock()
"""Serialises decoder builds process-wide (each takes ~20 ms with the per-grammar dictionary)."""

@dataclass(frozen=True)
class PocketSphinxTuning:
    """Knobs of the out-of-grammar rejection, tuned on synthetic voices.

    Attributes:
        phrase_weight: how many times more likely a grammar phrase is than one
            filler word in the compiled language model. Higher accepts more
            (and more false accepts).
        carrier_weight: copies of each phrase in each carrier frame ("press _",
            "i want to _") of the language model (:mod:`ivr.speech.asr.sphinx_lm`);
            0 leaves the frames out.
        min_frame_score: minimum mean log-likelihood per frame (natural log,
            relative to the best senone) of the recognised words.
        confidence_mid: frame score that maps to confidence 0.5.
        confidence_slope: steepness of the score -> confidence mapping.
        noise_floor_dbfs: level of the white noise floor mixed into the audio
            (RMS relative to full scale); None disables it.
        trim_lead_ms, trim_trail_ms: silence kept before the first and after
            the last 20 ms frame that WebRTC VAD calls speech; the rest is not
            decoded, which bounds the decision latency (-1 disables trimming).
        compound_phrases: each multi-word phrase is one token of the language
            model, heard whole or not at all.
        phrases_in_sentences: also accept a phrase said inside a longer sentence
            ("what is my balance"): the whole text goes to the engine's matcher.
        sentence_min_confidence: the confidence a sentence around a phrase needs
            (a bare phrase only needs ``min_frame_score``).
        sentence_max_words: longer decodes are not taken as an answer.
        phrase_context_margin: a grammar phrase is dropped from the text when it
            fits the audio this much worse (per frame) than the other words of
            the sentence (at least ``context_min_frames`` frames of them): the
            sentence was heard, the phrase was forced in (phrase-level confidence).

    Measured on the speech benchmark (telephone-adapted model): right answers
    score about -3 per frame (median), wrong ones and accepted negatives about
    -4.5, hence the confidence midpoint; below -6.5 nothing is accepted.
    """

    phrase_weight: int = 1000
    carrier_weight: int = 5
    min_frame_score: float = -6.5
    noise_floor_dbfs: float = -60.0
    trim_lead_ms: int = 150
    trim_trail_ms: int = 200
    confidence_mid: float = -4.5
    confidence_slope: float = 2.0
    compound_phrases: bool = True
    phrases_in_sentences: bool = True
    sentence_min_confidence: float = 0.3
    sentence_max_words: int = 8
    phrase_context_margin: float = 0.7
    context_min_frames: int = 40
    hesitation_weight: int = 300


FIRST_PASS = PocketSphinxTuning(phrase_context_margin=math.inf, sentence_min_confidence=0.05)
"""The tuning of pocketsphinx as the first pass of :mod:`ivr.speech.asr.combined`: it hands over
every sentence holding a phrase, however unsure, because the second recogniser checks all of them
(measured on the tuning set: 92.7% -> 95.7% right, no false accept more; the extra answers are
confirmed with the caller)."""


class PocketSphinxRecognizer:
    """Grammar-constrained recogniser on the en-us model shipped in the wheel.

    Args:
        tuning: rejection knobs (defaults are the tuned values).
        model_dir: directory holding ``en-us/`` and ``cmudict-en-us.dict``;
            defaults to the model in the pocketsphinx wheel.
    """

    name = "pocketsphinx"
    sample_rate = 16000

    def __init__(self, tuning: PocketSphinxTuning | None = None,
                 model_dir: str | None = None, acoustic_model: str | None = None) -> None:
        import pocketsphinx

        self.tuning = tuning or PocketSphinxTuning()
        self._ps = pocketsphinx
        self._model_dir = Path(model_dir or Path(pocketsphinx.get_model_path()) / "en-us")
        adapted = None if model_dir or acoustic_model else find_adapted()
        self._hmm = Path(acoustic_model) if acoustic_model else (adapted or self._model_dir / "en-us")
        if not (self._hmm / "means").is_file():
            raise SpeechError(f"{self._hmm} is not a pocketsphinx acoustic model (no 'means' file); "
                              "unset IVR_PS_MODEL or rebuild it with: python -m ivr models adapt")
        self.model = ("telephone-adapted" if (self._hmm / MARKER).is_file()
                      else "stock" if self._hmm.resolve() == (self._model_dir / "en-us").resolve() else "custom")
        """Which acoustic model decodes: ``telephone-adapted`` (see :mod:`ivr.speech.asr.adapt`),
        ``stock`` (the wheel's 16 kHz model) or ``custom`` (``IVR_PS_MODEL``)."""
        if self.model == "stock":
            log.info("pocketsphinx uses the stock 16 kHz model; `python -m ivr models adapt` builds the "
                     "telephone-adapted one, which hears phone callers far better")
        self._lock = threading.Lock()
        self._idle: dict[tuple, list[Any]] = defaultdict(list)
        self._lm_files: dict[tuple, str] = {}
        self._dict_files: dict[tuple, str] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="ivr-ps-")

    # -- public -----------------------------------------------------------

    def start(self, grammar: Grammar | None) -> "PocketSphinxSession":
        """Take a pooled decoder for ``grammar`` (building one if none is idle)."""
        if grammar is not None and not grammar.language.lower().startswith("en"):
            raise SpeechError(
                f"pocketsphinx has only an English model; grammar language is "
                f"{grammar.language!r}: use the vosk backend with a model for it")
        key = self._key(grammar)
        decoder = self._acquire(key, grammar)
        return PocketSphinxSession(self, key, decoder, grammar)

    def check_grammar(self, grammar: Grammar) -> list[str]:
        """Return grammar words missing from the pronunciation dictionary."""
        words = dictionary_words(self._model_dir / "cmudict-en-us.dict")
        return [w for w in grammar.words() if w not in words]

    def warm(self, grammar: Grammar | None) -> None:
        """Build one decoder for ``grammar`` now, off the call path."""
        key = self._key(grammar)
        self._release(key, self._acquire(key, grammar))

    # -- pool -------------------------------------------------------------

    @staticmethod
    def _key(grammar: Grammar | None) -> tuple:
        return grammar.key if grammar is not None else ("<free>",)

    def _acquire(self, key: tuple, grammar: Grammar | None) -> Any:
        with self._lock:
            idle = self._idle[key]
            if idle:
                return idle.pop()
        return self._build(key, grammar)

    def _release(self, key: tuple, decoder: Any) -> None:
        with self._lock:
            self._idle[key].append(decoder)

    def _build(self, key: tuple, grammar: Grammar | None) -> Any:
        # pocketsphinx is not safe to build decoders in concurrently (shared logging and model
        # loading state); one lock for the whole process, whichever app or runtime asks.
        with _BUILD_LOCK:
            return self._build_locked(key, grammar)

    def _build_locked(self, key: tuple, grammar: Grammar | None) -> Any:
        ps = self._ps
        # A grammar decoder gets a dictionary of its own words only: pocketsphinx builds its
        # search tree over the whole dictionary while holding the GIL, which took 1-3 s with
        # the 134,000-word cmudict and froze every call and webhook of the process meanwhile.
        # The language model limits what can be heard to its own words either way.
        full = self._model_dir / "cmudict-en-us.dict"
        dictionary = str(full) if grammar is None else self._dict_file(key, grammar)
        config = ps.Config(hmm=str(self._hmm), dict=dictionary, lm=None, loglevel="FATAL", bestpath=False)
        decoder = ps.Decoder(config)
        if grammar is None:
            decoder.add_lm_file("free", str(self._model_dir / "en-us.lm.bin"))
            decoder.activate_search("free")
            return decoder
        missing = [w for w in grammar.words() if decoder.lookup_word(w) is None]
        if missing:
            raise SpeechError(
                f"pocketsphinx does not know how to pronounce {missing}; "
                "reword the phrases with dictionary words")
        if self.tuning.compound_phrases and not grammar.digits:
            self._add_compounds(decoder, grammar)
        decoder.add_lm_file("g", self._lm_file(key, grammar))
        decoder.activate_search("g")
        return decoder

    @staticmethod
    def _add_compounds(decoder: Any, grammar: Grammar) -> None:
        """Each multi-word phrase becomes one dictionary word (``lost_card``), so the language
        model can only hear it whole: no "opening a" from "opening hours"."""
        compounds = [p for p in grammar.phrases if " " in p]
        for i, phrase in enumerate(compounds):
            phones = " ".join(decoder.lookup_word(w) for w in phrase.split())
            decoder.add_word(phrase.replace(" ", "_"), phones, i == len(compounds) - 1)

    def _cached_file(self, cache: dict[tuple, str], key: tuple, suffix: str, write: Callable[[Any], None]) -> str:
        """A file made once per grammar key in this recogniser's temporary directory (thread-safe)."""
        with self._lock:
            path = cache.get(key)
            if path:
                return path
        path = str(Path(self._tmp.name) / f"g{abs(hash(key))}{suffix}")
        with open(path, "w", encoding="utf-8") as fh:
            write(fh)
        with self._lock:
            cache[key] = path
        return path

    def _dict_file(self, key: tuple, grammar: Grammar) -> str:
        """A pronunciation dictionary with only the words ``grammar``'s language model holds.

        Why: the decoder initialises its search over every dictionary word, which
        with the full dictionary costs seconds per decoder (see the module notes).
        """
        def write(fh: Any) -> None:
            words = {w for line in self._corpus(grammar) for w in line.split() if "_" not in w}
            words |= set(grammar.words())
            prons = dictionary_entries(self._model_dir / "cmudict-en-us.dict")
            fh.writelines(line for w in sorted(words) for line in prons.get(w, ()))
        return self._cached_file(self._dict_files, key, ".dict", write)

    def _lm_file(self, key: tuple, grammar: Grammar) -> str:
        def write(fh: Any) -> None:
            from pocketsphinx.lm import ArpaBoLM  # the optional engine, loaded with the first grammar

            lm = ArpaBoLM(text="\n".join(self._corpus(grammar)) + "\n", add_start=True)
            lm.compute()
            lm.write(fh)
        return self._cached_file(self._lm_files, key, ".arpa", write)

    def _corpus(self, grammar: Grammar) -> list[str]:
        t = self.tuning
        return corpus(grammar, t.phrase_weight, t.carrier_weight, t.compound_phrases, t.hesitation_weight)


class PocketSphinxSession:
    """One utterance on a pooled decoder: decodes while audio streams in."""

    def __init__(self, owner: PocketSphinxRecognizer, key: tuple, decoder: Any,
                 grammar: Grammar | None) -> None:
        self._owner = owner
        self._key = key
        self._decoder = decoder
        self._grammar = grammar
        self._resampler = StreamResampler(PHONE_RATE, owner.sample_rate)
        self._buf = bytearray()
        self._voiced: list[bool] = []
        self._pending = b""
        self._vad = _webrtc_vad()
        self._rng = np.random.default_rng(0)
        self._done = False

    def accept(self, pcm16_at_8k: bytes) -> None:
        """Buffer upsampled audio; decoding runs in :meth:`finish`.

        The model's cepstral mean normalisation is computed over the whole
        utterance (``-cmn batch``), which is markedly more accurate on phone
        audio than the live estimate; pocketsphinx decodes a 2 s utterance
        in a few tens of milliseconds, so end-of-speech latency stays low.
        """
        if self._done:
            raise SpeechError("recognition session already finished")
        pcm16_at_8k = add_noise_floor(pcm16_at_8k, self._owner.tuning.noise_floor_dbfs, self._rng)
        self._buf.extend(self._resampler.process(pcm16_at_8k))
        if self._vad is not None:
            data = self._pending + pcm16_at_8k
            n = _VAD_FRAME_BYTES
            k = len(data) // n * n
            self._voiced += [self._vad.is_speech(data[i:i + n], PHONE_RATE) for i in range(0, k, n)]
            self._pending = data[k:]

    def finish(self) -> Hypothesis:
        """Decode, apply the out-of-grammar gates, and return the decoder to the pool."""
        if self._done:
            raise SpeechError("recognition session already finished")
        self._done = True
        self._buf.extend(self._resampler.flush())
        audio = self._trimmed()
        d = self._decoder
        try:
            # Every utterance starts from the front end's initial state (noise estimate of
            # -remove_noise, cepstral mean), not from what this pooled decoder heard before:
            # the same audio gives the same answer in any order, on any decoder (0.1 ms).
            d.reinit_feat()
            d.start_utt()
            if audio:
                d.process_raw(audio, no_search=False, full_utt=True)
            d.end_utt()
            words = _words(d)
        finally:
            self._owner._release(self._key, d)
        return judge(words, self._grammar, self._owner.tuning)

    def _trimmed(self) -> bytes:
        """The upsampled audio without long silences before and after the speech."""
        t = self._owner.tuning
        voiced = [i for i, v in enumerate(self._voiced) if v]
        if not voiced or t.trim_lead_ms < 0 or t.trim_trail_ms < 0:
            return bytes(self._buf)
        per_ms = self._owner.sample_rate // 1000 * 2
        start = max(0, voiced[0] * _VAD_FRAME_MS - t.trim_lead_ms) * per_ms
        end = ((voiced[-1] + 1) * _VAD_FRAME_MS + t.trim_trail_ms) * per_ms
        return bytes(self._buf[start:end])


@dataclass(frozen=True)
class Word:
    """One decoded word (a multi-word phrase is one token, ``lost_card``) and its acoustic fit.

    ``score`` is the mean log-likelihood per frame relative to the best senone
    (see :func:`_words`): near 0 fits the audio, far below is a forced fit.
    """

    token: str
    frames: int
    score: float


def judge(words: list[Word], grammar: Grammar | None, t: PocketSphinxTuning) -> Hypothesis:
    """Turn the decoded words into a hypothesis: the grammar phrases heard, or no match.

    Phrase-level confidence: each grammar phrase among the words must fit the
    audio not much worse than the ordinary words around it
    (``phrase_context_margin``); a phrase that fails is dropped from the text. That is what keeps "I lost my keys" from
    selecting "lost my card", and a badly fitting "person" inserted into a
    sentence from sending the caller to an agent. The confidence is that of
    the phrases kept, not of the whole sentence.
    """
    if t.hesitation_weight and grammar is not None and not grammar.digits and words:
        # A hesitation is not part of an answer ("um balance" is the phrase alone) nor one by itself.
        own = set(grammar.words())
        content = [w for w in words if w.token not in HESITATIONS or w.token in own]
        if not content:
            said = " ".join(w.token for w in words)
            return Hypothesis("", 0.0, "pocketsphinx", f"{said} (hesitation)", hesitation=True)
        words = content
    tokens = [w.token for w in words]
    frames = sum(w.frames for w in words)
    score = sum(w.score * w.frames for w in words) / frames if frames else -99.0
    conf = _confidence(score, t)
    text = normalize(" ".join(tokens).replace("_", " "))
    raw = f"{text} ({score:.2f}/frame)"
    if not text:
        return Hypothesis("", 0.0, "pocketsphinx", raw)
    if grammar is not None and grammar.digits:
        if not all(w in SPOKEN_DIGITS for w in text.split()):
            return Hypothesis("", min(conf, 0.1), "pocketsphinx", raw)
    elif grammar is not None:
        folded = {_fold(p) for p in grammar.phrases}
        is_phrase = [_fold(w.token.replace("_", " ")) in folded for w in words]
        ctx = [w for w, ph in zip(words, is_phrase) if not ph]
        ctx_frames = sum(w.frames for w in ctx)
        ctx_score = sum(w.score * w.frames for w in ctx) / ctx_frames if ctx_frames else None
        kept: list[Word] = []
        phrases: list[Word] = []
        for w, ph in zip(words, is_phrase):
            if ph and ctx_score is not None and ctx_frames >= t.context_min_frames \
                    and w.score < ctx_score - t.phrase_context_margin:
                raw += f" -{w.token}({w.score:.2f})"
                continue
            kept.append(w)
            if ph:
                phrases.append(w)
        if not phrases:
            return Hypothesis("", min(conf, 0.1), "pocketsphinx", raw)
        pframes = sum(w.frames for w in phrases)
        conf = _confidence(sum(w.score * w.frames for w in phrases) / pframes, t)
        text = normalize(" ".join(w.token for w in kept).replace("_", " "))
        if text not in grammar.phrases:
            snapped = _snap_plural(text, grammar.phrases)
            if snapped:
                text = snapped
            elif not (t.phrases_in_sentences and conf >= t.sentence_min_confidence
                      and len(kept) <= t.sentence_max_words):
                return Hypothesis("", min(conf, 0.1), "pocketsphinx", raw)
    if score < t.min_frame_score:
        whole = grammar is not None and not grammar.digits and text in grammar.phrases
        return Hypothesis("", conf, "pocketsphinx", raw, rejected=text if whole else "")
    return Hypothesis(text, conf, "pocketsphinx", raw)


def _confidence(score: float, t: PocketSphinxTuning) -> float:
    return 1.0 / (1.0 + math.exp(-(score - t.confidence_mid) * t.confidence_slope))


@lru_cache(maxsize=4)
def dictionary_words(path: Path) -> frozenset[str]:
    """The words a pronunciation dictionary knows (alternates like ``read(2)`` folded in), read once."""
    with open(path, encoding="utf-8") as fh:
        return frozenset(line.split(" ", 1)[0].split("(")[0] for line in fh)


@lru_cache(maxsize=4)
def dictionary_entries(path: Path) -> dict[str, tuple[str, ...]]:
    """Each word's dictionary lines (alternates like ``read(2)`` under ``read``), read once per process."""
    entries: dict[str, list[str]] = defaultdict(list)
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                entries[line.split(" ", 1)[0].split("(")[0]].append(line if line.endswith("\n") else line + "\n")
    return {w: tuple(v) for w, v in entries.items()}


def add_noise_floor(pcm16: bytes, dbfs: float | None, rng: np.random.Generator) -> bytes:
    """Mix white noise at ``dbfs`` (RMS re full scale) into pcm16; unchanged when ``dbfs`` is None.

    Shared with the model adaptation (:mod:`ivr.speech.asr.adapt`), which must
    see the audio exactly as the live front end hands it to the decoder.
    """
    if dbfs is None or not pcm16:
        return pcm16
    x = np.frombuffer(pcm16[:len(pcm16) // 2 * 2], dtype="<i2")
    y = x + rng.standard_normal(len(x)) * (32768.0 * 10 ** (dbfs / 20))
    return np.clip(np.rint(y), -32768, 32767).astype("<i2").tobytes()


_VAD_FRAME_MS = 20
_VAD_FRAME_BYTES = PHONE_RATE * _VAD_FRAME_MS // 1000 * 2


def _webrtc_vad() -> Any:
    try:
        import webrtcvad
    except ImportError:  # trimming is an optimisation; decode everything without it
        return None
    return webrtcvad.Vad(2)


def _fold(text: str) -> str:
    # Same simple plural folding as the engine's phrase matcher.
    return " ".join(w[:-1] if len(w) >= 4 and w.endswith("s") and not w.endswith(("ss", "us", "is"))
                    else w for w in text.split())


def _snap_plural(text: str, phrases: tuple[str, ...]) -> str:
    """The grammar phrase ``text`` equals up to simple plurals, else ``""``."""
    folded = _fold(text)
    hits = [p for p in phrases if _fold(p) == folded]
    return hits[0] if len(hits) == 1 else ""


_SENSCR_SCALE = float(1 << 10)


def _words(decoder: Any) -> list[Word]:
    """The decoded words with their mean log-likelihood per frame (best-senone relative).

    pocketsphinx normalises each frame's acoustic score by the best senone
    of that frame, so a word that fits the audio scores near 0 per frame and
    a forced fit scores far below. Filler and silence segments are left out;
    alternate pronunciations (``to(3)``) are reported as the word. The
    bindings report ``exp`` of the decoder's score, which pocketsphinx keeps
    right-shifted by ``SENSCR_SHIFT`` (10 bits); undo both to get nats.
    """
    out: list[Word] = []
    for seg in decoder.seg() or ():
        word = seg.word
        if word.startswith("<") or word.startswith("[") or word == "</s>":
            continue
        n = seg.end_frame - seg.start_frame + 1
        if n <= 0:
            continue
        total = math.log(seg.ascore) * _SENSCR_SCALE if seg.ascore > 0 else -12.0 * n
        out.append(Word(word.split("(")[0], n, total / n))
    return out
