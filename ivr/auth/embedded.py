"""The embedded engine: GE2E embeddings and pitch, cohort-normalised scores, replay fingerprints, an SQL store.

Needs nothing but the weights file of the Resemblyzer wheel (``pip install
--no-deps Resemblyzer==0.1.4``), numpy, soxr and webrtcvad: no torch, no
network. The score is the cohort-normalised cosine of the two embeddings,
less :data:`PITCH_WEIGHT` for every semitone by which the two pitch levels
(:mod:`ivr.auth.pitch`) differ beyond :data:`PITCH_TOLERANCE_ST`, at most
:data:`PITCH_MAX_PENALTY`: the embedding hears timbre, the pitch level
hears how high the voice is, and an impostor must match both. The decision rule:

- less than ``min_verify_s`` of net speech: ``inconclusive`` (the flow asks for more or steps up);
- the audio matches a fingerprint of an earlier utterance of the subject: ``rejected``, ``replay=True``;
- score at or above ``verify_threshold``: ``verified``; below ``reject_threshold``: ``rejected``;
  between: ``inconclusive``.

The thresholds were chosen on the benchmark's tuning voices
(``python -m ivr bench auth --generate tuning``), never on the voices the
README reports on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from .base import Consent, Enrollment, Verdict
from .cohort import Cohort, load_cohort
from .encoder import SpeakerEncoder
from .errors import AuthError, NotEnrolled, TooLittleSpeech
from .features import HOP, preprocess
from .pitch import pitch_level, require_pitch_tracker
from .replay import REPLAY_BER, fingerprint, pack, replay_distance, unpack
from .voiceprints import VoiceprintStore

__all__ = ["EmbeddedVoiceAuthenticator", "VERIFY_THRESHOLD", "REJECT_THRESHOLD", "PITCH_TOLERANCE_ST",
           "PITCH_WEIGHT", "PITCH_MAX_PENALTY"]

VERIFY_THRESHOLD = 0.62
"""Score at or above which a caller is verified (tuning voices: no impostor trial, 94 % of genuine ones)."""
REJECT_THRESHOLD = 0.57
"""Score below which a caller is rejected (tuning voices: no genuine trial, about 98 % of impostor ones)."""
PITCH_TOLERANCE_ST = 1.0
"""Semitones the pitch levels may differ by at no cost (a person's day-to-day drift; chosen on the tuning voices)."""
PITCH_WEIGHT = 0.1
"""Score lost per semitone of pitch difference beyond the tolerance (chosen on the tuning voices)."""
PITCH_MAX_PENALTY = 0.08
"""The most a pitch difference can cost. A caller whose voice is higher or lower than usual (a cold, a
shout) but whose timbre matches drops to ``inconclusive`` and is stepped up, rather than being rejected on
pitch alone; on the tuning voices any cap from 0.08 up gave the same error rate."""


class EmbeddedVoiceAuthenticator:
    """Voice authentication on this server.

    Args:
        store: where voiceprints, consent and the audit trail live.
        encoder: the speaker encoder (default: one shared per process).
        cohort: score normalisation (default: the cached cohort under ``models_dir``, built on first use).
        models_dir: where the cohort is cached (default ``IVR_MODELS_DIR`` or ``models/``).
        min_enroll_s: net speech an enrolment needs.
        min_verify_s: net speech below which a verification is ``inconclusive``.
        verify_threshold, reject_threshold: the decision thresholds (see the module docstring).
        replay_ber: fingerprint bit error rate under which audio counts as a replay.
        pitch_tolerance_st, pitch_weight, pitch_max_penalty: how pitch levels count (see the module
            docstring); a weight of 0 scores the embeddings alone.
    """

    name = "embedded"

    def __init__(self, store: VoiceprintStore, encoder: Optional[SpeakerEncoder] = None,
                 cohort: Optional[Cohort] = None, models_dir: Optional[str | Path] = None,
                 min_enroll_s: float = 6.0, min_verify_s: float = 1.5,
                 verify_threshold: float = VERIFY_THRESHOLD, reject_threshold: float = REJECT_THRESHOLD,
                 replay_ber: float = REPLAY_BER, pitch_tolerance_st: float = PITCH_TOLERANCE_ST,
                 pitch_weight: float = PITCH_WEIGHT, pitch_max_penalty: float = PITCH_MAX_PENALTY) -> None:
        require_pitch_tracker()
        if reject_threshold > verify_threshold:
            raise AuthError(f"reject_threshold {reject_threshold} is above verify_threshold {verify_threshold}")
        self.store = store
        self.encoder = encoder or SpeakerEncoder.shared()
        self.cohort = cohort or Cohort(load_cohort(self.encoder, models_dir))
        self.min_enroll_s = min_enroll_s
        self.min_verify_s = min_verify_s
        self.verify_threshold = verify_threshold
        self.reject_threshold = reject_threshold
        self.replay_ber = replay_ber
        self.pitch_tolerance_st = pitch_tolerance_st
        self.pitch_weight = pitch_weight
        self.pitch_max_penalty = pitch_max_penalty

    def record_consent(self, subject: str, consent: Consent) -> None:
        """Record the caller's consent; :meth:`enroll` refuses without one."""
        self.store.record_consent(subject, consent)

    def embed(self, audio: bytes) -> tuple[np.ndarray, float]:
        """Embedding and net speech of 8 kHz pcm16 audio (exposed for the benchmark)."""
        wav, net = preprocess(audio)
        if len(wav) < HOP * 10:
            return np.zeros(256, np.float32), net
        return self.encoder.embed_wav(wav), net

    def enroll(self, subject: str, audio: bytes) -> Enrollment:
        """Build (or replace) the subject's voiceprint from ``audio`` (8 kHz pcm16; several utterances may
        be joined).

        Raises:
            NoStableKey: ``IVR_SECRET_KEY`` is not set; nothing is stored.
            AuthError: no consent recorded for the subject, or less than ``min_enroll_s`` of net speech.
        """
        self.store._require_key()
        emb, net = self.embed(audio)
        if net < self.min_enroll_s:
            raise TooLittleSpeech(subject, net, self.min_enroll_s)
        enrollment = self.store.save(subject, self.name, emb, net, pitch_level(audio))
        self.store.add_fingerprint(subject, pack(fingerprint(audio)))
        return enrollment

    def score(self, voiceprint: np.ndarray, emb: np.ndarray, voiceprint_pitch: Optional[float] = None,
              pitch: Optional[float] = None) -> float:
        """The score of a test utterance against a voiceprint: normalised cosine, less the pitch penalty."""
        cosine = float(np.dot(voiceprint, emb))
        score = self.cohort.normalise(cosine, self.cohort.stats(voiceprint), self.cohort.stats(emb))
        return score - self.pitch_penalty(voiceprint_pitch, pitch)

    def pitch_penalty(self, voiceprint_pitch: Optional[float], pitch: Optional[float]) -> float:
        """What a pitch difference costs; nothing when either level is unknown (too few voiced frames)."""
        if voiceprint_pitch is None or pitch is None:
            return 0.0
        excess = max(0.0, abs(voiceprint_pitch - pitch) - self.pitch_tolerance_st)
        return min(self.pitch_max_penalty, self.pitch_weight * excess)

    def decide(self, score: float, net_speech_s: float, replay: bool) -> str:
        """The decision rule of the module docstring."""
        if net_speech_s < self.min_verify_s:
            return "inconclusive"
        if replay:
            return "rejected"
        if score >= self.verify_threshold:
            return "verified"
        return "rejected" if score < self.reject_threshold else "inconclusive"

    def is_replay(self, subject: str, fp: np.ndarray) -> bool:
        """Does this utterance line up with one the subject's voiceprint has heard before?"""
        return any(replay_distance(fp, unpack(old)) < self.replay_ber for old in self.store.fingerprints(subject))

    def verify(self, subject: str, audio: bytes, call_id: Optional[str] = None) -> Verdict:
        """Score ``audio`` against the subject's voiceprint, decide, audit.

        Raises:
            NotEnrolled: no usable voiceprint (never enrolled, deleted, expired, or sealed with another key).
        """
        vp = self.store.load(subject, self.name)
        if vp is None:
            raise NotEnrolled(subject)
        emb, net = self.embed(audio)
        fp = fingerprint(audio)
        replay = self.is_replay(subject, fp) if len(fp) else False
        score = round(self.score(vp.embedding, emb, vp.pitch, pitch_level(audio)), 4) if net > 0 else 0.0
        decision = self.decide(score, net, replay)
        self.store.touch(subject)
        if not replay and len(fp):
            self.store.add_fingerprint(subject, pack(fp))
        self.store.audit(subject, score, decision, self.name, replay, net, call_id)
        return Verdict(score=score, decision=decision, net_speech_s=round(net, 2), replay=replay,  # type: ignore[arg-type]
                       engine=self.name)

    def delete(self, subject: str) -> bool:
        """Remove voiceprint, fingerprints and consent (audit rows stay, without biometric data)."""
        return self.store.delete(subject)

    def enrolled(self, subject: str) -> Optional[Enrollment]:
        """The subject's usable voiceprint, or None."""
        vp = self.store.load(subject, self.name)
        return vp.enrollment() if vp else None
