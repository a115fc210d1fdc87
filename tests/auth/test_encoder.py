"""The numpy GE2E encoder equals resemblyzer's (stored reference numbers).

The numbers were computed by resemblyzer itself on torch 2.13.0 (CPU); to check
against it live where torch is installed: ``python -m tests.auth.check_resemblyzer``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ivr.auth import AuthConfigError, AuthError, SpeakerEncoder, find_weights
from ivr.auth.weights import load_checkpoint
from ivr.bench.speakers import Voice, speak

REFERENCE = json.loads((Path(__file__).parent / "reference_embeddings.json").read_text())


def _audio(case: dict) -> bytes:
    engine, _, voice = case["voice"].partition(":")
    return speak(Voice("ref", engine, voice), case["text"], snr_db=None)


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=lambda c: c["voice"])
def test_embedding_matches_resemblyzer_reference(case: dict, encoder: SpeakerEncoder) -> None:
    emb, net = encoder.embed(_audio(case))
    assert abs(float(np.linalg.norm(emb)) - 1) < 1e-5
    for dim, value in case["dims"].items():
        assert emb[int(dim)] == pytest.approx(value, abs=2e-4)
    assert net == pytest.approx(case["net_speech_s"], abs=0.05)


def test_different_voices_are_further_apart_than_one_voice(encoder: SpeakerEncoder) -> None:
    kal, slt = Voice("kal", "flite", "kal"), Voice("slt", "flite", "slt")
    a = encoder.embed(speak(kal, "my card was stolen yesterday near the train station"))[0]
    b = encoder.embed(speak(kal, "can you tell me when my next payment is due"))[0]
    c = encoder.embed(speak(slt, "can you tell me when my next payment is due"))[0]
    assert float(a @ b) > float(a @ c) + 0.1


def test_missing_weights_say_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match=r"pip install --no-deps Resemblyzer==0\.1\.4"):
        find_weights(tmp_path / "nothing.pt")
    from importlib import metadata

    def gone(name: str):
        raise metadata.PackageNotFoundError(name)
    monkeypatch.setattr(metadata, "distribution", gone)
    with pytest.raises(AuthConfigError, match=r"pip install --no-deps Resemblyzer==0\.1\.4"):
        find_weights()


def test_checkpoint_reader_refuses_code(tmp_path: Path) -> None:
    import pickle
    bad = tmp_path / "bad.pt"
    with bad.open("wb") as f:
        for obj in (0x1950A86A20F9469CFC6C, 1001, {}):
            pickle.dump(obj, f)
        pickle.dump(print, f)  # a global a weights file has no business naming
    with pytest.raises(AuthError, match="builtins.print"):
        load_checkpoint(bad)
