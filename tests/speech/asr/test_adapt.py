"""Telephone adaptation of the pocketsphinx model: the build, its CLI, and what the recogniser does with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ivr.errors import SpeechError
from ivr.speech.asr import adapt as A
from ivr.speech.asr.pocketsphinx_backend import PocketSphinxRecognizer
from ivr.speech.codec import write_wav
from ivr.speech.grammar import Grammar
from ivr.speech.synth import synthesize

ROOT = Path(__file__).resolve().parents[3]
SMALL = dict(voices=("flite:kal", "espeak:en-us+m3"), snrs=(None,),
             sentences=A.read_sentences()[:12])


def ivr(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ivr", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=600)


def recognise(rec: PocketSphinxRecognizer, pcm: bytes, grammar: Grammar):
    s = rec.start(grammar)
    for i in range(0, len(pcm), 320):
        s.accept(pcm[i:i + 320])
    return s.finish()


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models") / A.ADAPTED_NAME
    info = A.adapt(out, **SMALL)
    assert info["rebuilt"] and info["utterances"] == 24
    return out


def test_sendump_expands_to_normalised_mixture_weights(tmp_path: Path) -> None:
    shape = A.write_mixture_weights(A.stock_model_dir() / "sendump", tmp_path / "mixw")
    assert shape == (5126, 3, 128)
    raw = (tmp_path / "mixw").read_bytes()
    start = raw.index(b"endhdr\n") + len("endhdr\n") + 4 + 16
    weights = np.frombuffer(raw[start:], dtype="<f4").reshape(shape)
    assert np.allclose(weights.sum(axis=2), 1.0, atol=1e-3) and (weights >= 0).all()


def test_adapted_model_moves_only_the_means_and_is_used(small_model: Path) -> None:
    stock = A.stock_model_dir()
    assert (small_model / "means").read_bytes() != (stock / "means").read_bytes()
    for same in ("variances", "sendump", "mdef", "transition_matrices", "feat.params"):
        assert (small_model / same).read_bytes() == (stock / same).read_bytes(), same
    info = json.loads((small_model / A.MARKER).read_text())
    assert info["voices"] == list(SMALL["voices"]) and info["sentences"] == 12
    rec = PocketSphinxRecognizer(acoustic_model=str(small_model))
    assert rec.model == "telephone-adapted"
    hyp = recognise(rec, synthesize("opening hours", "flite:kal", lead_ms=200, trail_ms=400),
                    Grammar(("balance", "opening hours", "lost card", "agent")))
    assert hyp.text == "opening hours", hyp.raw


def test_unchanged_inputs_do_not_rebuild(small_model: Path) -> None:
    stamp = (small_model / "means").stat().st_mtime_ns
    assert A.adapt(small_model, **SMALL)["rebuilt"] is False
    assert (small_model / "means").stat().st_mtime_ns == stamp


def test_recogniser_finds_the_adapted_model_by_configuration(small_model: Path, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("IVR_PS_MODEL", raising=False)
    monkeypatch.setenv("IVR_MODELS_DIR", str(small_model.parent))
    assert PocketSphinxRecognizer().model == "telephone-adapted"
    monkeypatch.setenv("IVR_MODELS_DIR", str(tmp_path))        # nothing built there: the stock model
    assert PocketSphinxRecognizer().model == "stock"
    monkeypatch.setenv("IVR_PS_MODEL", str(tmp_path))          # configured, but not a model
    with pytest.raises(SpeechError, match="IVR_PS_MODEL"):
        PocketSphinxRecognizer()


def test_nothing_to_adapt_on_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpeechError, match="nothing to adapt on"):
        A.adapt(tmp_path / "m", voices=(), snrs=(None,))


def test_words_outside_the_dictionary_are_refused_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(SpeechError, match="zorblax"):
        A.adapt(tmp_path / "m", voices=("flite:kal",), snrs=(None,), sentences=["the zorblax is open"])
    assert not (tmp_path / "m").exists()


def test_cli_adapts_on_a_lines_own_recordings(tmp_path: Path) -> None:
    data = tmp_path / "recordings"
    data.mkdir()
    for i, text in enumerate(A.read_sentences()[20:28]):
        write_wav(data / f"call{i}.wav", synthesize(text, "flite:rms", lead_ms=200, trail_ms=200))
        (data / f"call{i}.txt").write_text(text.capitalize() + ".\n")
    proc = ivr("models", "adapt", "--dest", str(tmp_path / "models"), "--data", str(data), "--no-synthetic",
               "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["rebuilt"] and out["recordings"] == 8 and out["utterances"] == 8 and out["voices"] == []
    assert (tmp_path / "models" / A.ADAPTED_NAME / "means").is_file()
    again = ivr("models", "adapt", "--dest", str(tmp_path / "models"), "--data", str(data), "--no-synthetic")
    assert again.returncode == 0 and "up to date" in again.stdout


def test_cli_says_how_to_fix_bad_input(tmp_path: Path) -> None:
    proc = ivr("models", "adapt", "--dest", str(tmp_path), "--no-synthetic")
    assert proc.returncode == 2 and "--data" in proc.stderr
    data = tmp_path / "recordings"
    data.mkdir()
    write_wav(data / "a.wav", synthesize("hello", "flite:kal"))
    proc = ivr("models", "adapt", "--dest", str(tmp_path / "m"), "--data", str(data), "--no-synthetic")
    assert proc.returncode == 1 and "a.txt" in proc.stderr
