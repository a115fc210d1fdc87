"""``python -m ivr bench auth``: speaker verification accuracy, speed and replay flags of the embedded engine.

``DIR/<speaker>/<n>.wav`` (any rate; files sorted by name): the first N
files of each speaker enrol it (joined, as a call's speech would be), every
other file is verified against every enrolled speaker. Each file is embedded
once and scored against every voiceprint; the genuine trials also go
through the full ``verify`` (store, replay check, audit), which is what the
decision latency and the false replay flags are measured on. Replays are
simulated per speaker: a 3 s stretch of its enrolment audio, shifted by
1-7 ms, quieter, with line noise, through mu-law again.

``line`` plays the verification files through a worse leg than the one
the caller enrolled on (enrolment audio is used as it is): ``gsm`` (a
mobile codec, GSM 06.10) or ``loss`` (3 % of 20 ms packets lost, the gaps
concealed by repetition), as when a caller enrolled from a landline calls
back from a mobile.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ..auth import Cohort, Consent, EmbeddedVoiceAuthenticator, SpeakerEncoder, VoiceprintStore, load_cohort
from ..auth.pitch import pitch_level
from ..speech.codec import PHONE_RATE, phone_line, read_wav
from ..store.sql import make_engine
from .impair import drop_packets, gsm_full_rate
from .speakers import HELD_OUT, TUNING, Voice

__all__ = ["run", "error_rates", "LINES"]

LINES: dict[str, Callable[[bytes, int], bytes]] = {
    "mulaw": lambda pcm, seed: pcm,
    "gsm": lambda pcm, seed: phone_line(gsm_full_rate(pcm)),
    "loss": lambda pcm, seed: drop_packets(pcm, 0.03, seed, conceal="repeat"),
}
"""What the verification audio goes through on top of the files' own mu-law line."""


def error_rates(genuine: Sequence[float], impostor: Sequence[float]) -> dict[str, float]:
    """EER, FAR at 5 % FRR, FRR at 1 % FAR, and the scores at 1 % FAR / 1 % FRR (for choosing thresholds)."""
    g = np.sort(np.asarray(genuine, float))
    i = np.sort(np.asarray(impostor, float))
    ths = np.unique(np.concatenate([g, i]))
    frr = np.searchsorted(g, ths, side="left") / len(g)          # genuine below the threshold
    far = 1 - np.searchsorted(i, ths, side="left") / len(i)      # impostors at or above it
    k = int(np.argmin(np.abs(frr - far)))
    eer = float((frr[k] + far[k]) / 2)
    ok5 = frr <= 0.05
    far5 = float(far[ok5].min()) if ok5.any() else 1.0
    ok1 = far <= 0.01
    frr1 = float(frr[ok1].min()) if ok1.any() else 1.0
    return {"eer": round(eer, 4), "far_at_frr_5": round(far5, 4), "frr_at_far_1": round(frr1, 4),
            "score_at_far_1": round(float(ths[ok1][0]), 4) if ok1.any() else None,
            "score_at_frr_1": round(float(np.quantile(g, 0.01)), 4)}


def _family(v: Voice) -> str:
    """The synthesiser voice a speaker is a variant of (flite voice, or espeak language)."""
    return f"flite:{v.voice}" if v.engine == "flite" else f"espeak:{v.voice.split('+')[0]}"


def _replay_of(pcm: bytes, rng: np.random.Generator) -> bytes:
    """A replay of 3 s of ``pcm``: shifted 1-7 ms, 3 dB quieter, with line noise, through mu-law again."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    shift = int(rng.integers(8, 57))
    start = min(len(x) // 4, max(0, len(x) - 3 * PHONE_RATE - shift)) + shift
    x = x[start:start + 3 * PHONE_RATE] * 0.7 + rng.normal(0, 40, min(3 * PHONE_RATE, len(x) - start))
    return phone_line(np.clip(x, -32768, 32767).astype("<i2").tobytes())


def run(speakers: str | Path, enroll: int = 3, norm: str = "mean", voices: Optional[Sequence[Voice]] = None,
        models_dir: Optional[str | Path] = None, line: str = "mulaw") -> dict[str, Any]:
    """Measure the embedded engine on a speaker directory; returns the JSON object of ``bench auth``."""
    if line not in LINES:
        raise ValueError(f"unknown line {line!r}; use one of {', '.join(LINES)}")
    root = Path(speakers)
    files = {d.name: sorted(d.glob("*.wav")) for d in sorted(root.iterdir()) if d.is_dir()}
    files = {s: f for s, f in files.items() if len(f) > enroll}
    if len(files) < 2:
        raise ValueError(f"{root}: need at least two speaker directories with more than {enroll} .wav files")
    encoder = SpeakerEncoder.shared()
    cohort = Cohort(load_cohort(encoder, models_dir), mode=norm)
    with tempfile.TemporaryDirectory() as tmp:
        store = VoiceprintStore(make_engine(f"sqlite:///{tmp}/bench.sqlite3"), "bench-auth-key")
        auth = EmbeddedVoiceAuthenticator(store, encoder, cohort)
        out = _measure(auth, files, enroll, voices, LINES[line])
        out["line"] = line
        return out


def _measure(auth: EmbeddedVoiceAuthenticator, files: dict[str, list[Path]], enroll: int,
             voices: Optional[Sequence[Voice]], impair: Callable[[bytes, int], bytes]) -> dict[str, Any]:
    consent = Consent("bench", "bench", "0", "bench", time.time())
    enrol_net, models, stats, enrol_audio, pitches = {}, {}, {}, {}, {}
    embed_s = audio_s = 0.0
    for s, fs in files.items():
        auth.record_consent(s, consent)
        pcm = b"".join(read_wav(f) for f in fs[:enroll])
        enrol_audio[s] = pcm
        t = time.perf_counter()
        enr = auth.enroll(s, pcm)
        embed_s += time.perf_counter() - t
        audio_s += len(pcm) / 2 / PHONE_RATE
        enrol_net[s] = enr.net_speech_s
        vp = auth.store.load(s)
        assert vp is not None
        models[s], pitches[s] = vp.embedding, vp.pitch
        stats[s] = auth.cohort.stats(models[s])
    genuine, impostor, raw_g, raw_i, nets, latency = [], [], [], [], [], []
    timbre_g: list[float] = []
    timbre_i: list[float] = []
    decisions = {"verified": 0, "rejected": 0, "inconclusive": 0}
    impostor_verified = false_replays = 0
    family_scores: dict[bool, list[float]] = {True: [], False: []}
    fam = {v.name: _family(v) for v in voices or ()}
    for t_spk, fs in files.items():
        for n, f in enumerate(fs[enroll:]):
            pcm = impair(read_wav(f), n)
            t0 = time.perf_counter()
            emb, net = auth.embed(pcm)
            level = pitch_level(pcm)
            embed_s += time.perf_counter() - t0
            audio_s += len(pcm) / 2 / PHONE_RATE
            nets.append(net)
            ts = auth.cohort.stats(emb)
            for s in files:
                cos = float(models[s] @ emb)
                timbre = auth.cohort.normalise(cos, stats[s], ts)
                score = timbre - auth.pitch_penalty(pitches[s], level)
                if s == t_spk:
                    genuine.append(score)
                    raw_g.append(cos)
                    timbre_g.append(timbre)
                else:
                    impostor.append(score)
                    raw_i.append(cos)
                    timbre_i.append(timbre)
                    impostor_verified += auth.decide(score, net, False) == "verified"
                    if s in fam and t_spk in fam:
                        family_scores[fam[s] == fam[t_spk]].append(cos)
            t0 = time.perf_counter()
            verdict = auth.verify(t_spk, pcm)
            latency.append((time.perf_counter() - t0) * 1000)
            decisions[verdict.decision] += 1
            false_replays += verdict.replay
    rng = np.random.default_rng(7)
    replays_flagged = replays_verified = 0
    for s in files:
        v = auth.verify(s, _replay_of(enrol_audio[s], rng))
        replays_flagged += v.replay
        replays_verified += v.decision == "verified"
    rates = error_rates(genuine, impostor)
    raw = error_rates(raw_g, raw_i)
    n_gen = len(genuine)
    out: dict[str, Any] = {
        "engine": auth.name,
        "eer": rates["eer"], "far_at_frr_5": rates["far_at_frr_5"], "frr_at_far_1": rates["frr_at_far_1"],
        "genuine_trials": n_gen, "impostor_trials": len(impostor),
        "enroll_speech_s": round(statistics.mean(enrol_net.values()), 2),
        "verify_speech_s": round(statistics.mean(nets), 2),
        "ms_per_audio_s": round(1000 * embed_s / audio_s, 1),
        "speakers": len(files),
        "normalisation": auth.cohort.mode,
        "eer_raw_cosine": raw["eer"],
        "eer_without_pitch": error_rates(timbre_g, timbre_i)["eer"],
        "pitch": {"tolerance_st": auth.pitch_tolerance_st, "weight": auth.pitch_weight,
                  "max_penalty": auth.pitch_max_penalty},
        "score_at_far_1": rates["score_at_far_1"], "score_at_frr_1": rates["score_at_frr_1"],
        "thresholds": {"verify": auth.verify_threshold, "reject": auth.reject_threshold},
        "genuine_decisions": {k: round(v / n_gen, 4) for k, v in decisions.items()},
        "impostor_verified_rate": round(impostor_verified / max(1, len(impostor)), 4),
        "decision_ms_p50": round(statistics.median(latency), 1),
        "decision_ms_p95": round(float(np.percentile(latency, 95)), 1),
        "false_replay_flags": round(false_replays / n_gen, 4),
        "replays_flagged": round(replays_flagged / len(files), 4),
        "replays_verified": round(replays_verified / len(files), 4),
    }
    if family_scores[True] and family_scores[False]:
        out["impostor_cosine_same_synth_voice"] = round(statistics.mean(family_scores[True]), 3)
        out["impostor_cosine_other_synth_voice"] = round(statistics.mean(family_scores[False]), 3)
        out["genuine_cosine"] = round(statistics.mean(raw_g), 3)
    return out


def voices_of(name: Optional[str]) -> Optional[Sequence[Voice]]:
    """The generated set's voices by name (``held-out``, ``tuning``), for the same-voice measurement."""
    return {"held-out": HELD_OUT, "tuning": TUNING}.get(name or "")
