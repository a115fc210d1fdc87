"""A cohort of other voices for score normalisation, built once and cached under ``models/``.

A raw cosine between two GE2E embeddings means different things for
different voices: some voices sit in a crowded part of the space and score
high against everybody. Normalising against a cohort measures how a
voiceprint and a test utterance each score against people who are certainly
someone else, and reports how far the pair's cosine stands out from that
(:class:`Cohort` has the rules). The cohort is synthesised here (espeak-ng variants, none of them used by the
benchmark's tuning or held-out voices), embedded once, and stored as a small
``.npy`` file (about 120 KB) under the models directory, so start-up after
the first costs a file read; ``make models`` builds it ahead of time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..speech.models import default_models_dir
from ..speech.synth import synthesize
from .encoder import SpeakerEncoder

__all__ = ["Cohort", "COHORT_VOICES", "cohort_path", "build_cohort", "load_cohort"]

log = logging.getLogger(__name__)

_VARIANTS = ("Andrea", "AnxiousAndy", "Denis", "Gene", "Gene2", "Hugo", "Jacky", "Lee", "Marco", "Mario",
             "Michael", "Mike", "RicishayMax", "Storm", "adam", "anika", "announcer", "antonio", "aunty",
             "belinda", "benjamin", "boris", "caleb", "edward", "edward2", "grandma", "grandpa",
             "gustave", "iven", "iven2", "iven3", "iven4", "kaukovalta", "klatt4", "klatt5", "klatt6", "m6", "m7",
             "m8", "marcelo", "max", "michel", "miguel", "norbert", "pablo", "pedro", "quincy", "rob", "robert",
             "sandro", "shelby", "steph2", "steph3", "travis", "victor", "linda", "paul")
_LANGS = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-gb-x-rp")
_RATES = (None, 150, 190)
COHORT_VOICES: tuple[tuple[str, Optional[int]], ...] = tuple(
    (f"espeak:{_LANGS[i % len(_LANGS)]}+{v}", _RATES[i % len(_RATES)]) for i, v in enumerate(_VARIANTS))
"""``(voice, words per minute)`` of each cohort speaker (disjoint from the benchmark's voices)."""

_TEXTS = (
    "good morning I am ringing about the parcel that never arrived",
    "the engineer was supposed to come between eight and twelve",
    "I would rather speak to somebody about my renewal",
    "we booked two tickets for the concert in october",
    "the heating stopped working after the storm last week",
    "could you read me the reference number once more",
)
_VERSION = 1


def cohort_path(models_dir: Optional[str | Path] = None) -> Path:
    """Where the cohort is cached: ``<models>/voice-cohort-v<version>-<key>.npy``."""
    key = hashlib.sha256(json.dumps([_VERSION, COHORT_VOICES, _TEXTS]).encode()).hexdigest()[:10]
    return Path(models_dir or default_models_dir()) / f"voice-cohort-v{_VERSION}-{key}.npy"


def build_cohort(encoder: SpeakerEncoder, per_voice: int = 2,
                 voices: Sequence[tuple[str, Optional[int]]] = COHORT_VOICES) -> np.ndarray:
    """Embed ``per_voice`` utterances of every cohort voice over the phone path: ``(n, 256)`` float32."""
    out = []
    for i, (voice, wpm) in enumerate(voices):
        for j in range(per_voice):
            text = _TEXTS[(i + j) % len(_TEXTS)]
            pcm = synthesize(text, voice, snr_db=25, lead_ms=200, trail_ms=200, seed=i * 10 + j, rate_wpm=wpm)
            out.append(encoder.embed(pcm)[0])
    return np.asarray(out, dtype=np.float32)


def load_cohort(encoder: SpeakerEncoder, models_dir: Optional[str | Path] = None) -> np.ndarray:
    """The cached cohort embeddings, built (about 15 s, needs espeak-ng) and saved on first use."""
    path = cohort_path(models_dir)
    if path.exists():
        return np.load(path)
    log.info("building the voice-authentication cohort (%d voices) into %s", len(COHORT_VOICES), path)
    emb = build_cohort(encoder)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, emb)
    os.replace(tmp, path)
    return emb


class Cohort:
    """Normalises raw cosines against a fixed cohort of embeddings.

    Two rules, chosen by ``mode``:

    - ``as-norm``: adaptive symmetric normalisation, ``((c - mu_e) / sd_e + (c - mu_t) / sd_t) / 2`` over the
      ``top_k`` closest cohort scores of each side;
    - ``mean`` (the default, chosen on the tuning voices): ``c - weight * (mu_e + mu_t)``, the same cohort means
      without dividing by the spread. On synthetic voices the cohort's spread is tiny and noisy for voices
      whose synthesiser family is in the cohort, and dividing by it cost accuracy (see the README).

    Args:
        embeddings: ``(n, d)`` unit vectors of other voices.
        mode: ``mean``, ``as-norm`` or ``none`` (raw cosine).
        top_k: how many of the closest cohort scores form each side's statistics (None: all).
        weight: the ``mean`` rule's weight.
    """

    def __init__(self, embeddings: np.ndarray, mode: str = "mean", top_k: Optional[int] = None,
                 weight: float = 0.2) -> None:
        if mode not in ("mean", "as-norm", "none"):
            raise ValueError(f"unknown score normalisation {mode!r}; use mean, as-norm or none")
        self.embeddings = np.asarray(embeddings, dtype=np.float32)
        self.mode = mode
        self.top_k = len(self.embeddings) if top_k is None else max(2, min(top_k, len(self.embeddings)))
        self.weight = weight

    def stats(self, emb: np.ndarray) -> tuple[float, float]:
        """Mean and spread of an embedding's ``top_k`` highest cohort cosines."""
        scores = self.embeddings @ np.asarray(emb, dtype=np.float32)
        top = np.partition(scores, len(scores) - self.top_k)[-self.top_k:]
        return float(top.mean()), max(float(top.std()), 1e-3)

    def normalise(self, cosine: float, enrol_stats: tuple[float, float], test_stats: tuple[float, float]) -> float:
        """The normalised score of a cosine given both sides' cohort statistics."""
        (me, se), (mt, st) = enrol_stats, test_stats
        if self.mode == "as-norm":
            return 0.5 * ((cosine - me) / se + (cosine - mt) / st)
        if self.mode == "mean":
            return cosine - self.weight * (me + mt)
        return cosine


def main() -> None:
    """Build the cohort ahead of time (``make models`` runs it), so the first start-up does not."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = cohort_path()
    emb = load_cohort(SpeakerEncoder.shared())
    print(f"voice-authentication cohort: {len(emb)} embeddings of {len(COHORT_VOICES)} voices in {path}")
