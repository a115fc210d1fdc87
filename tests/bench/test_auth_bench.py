"""``python -m ivr bench auth`` on a tiny generated speaker set: the contract's JSON keys with sane values."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr.bench import auth as auth_bench
from ivr.bench.speakers import HELD_OUT, generate
from ivr.cli.main import main as cli

ROOT = Path(__file__).resolve().parents[2]
CACHE = os.environ.get("IVR_SPEECH_CACHE") or str(ROOT / ".cache" / "speech")
KEYS = {"engine", "eer", "far_at_frr_5", "frr_at_far_1", "genuine_trials", "impostor_trials", "enroll_speech_s",
        "verify_speech_s", "ms_per_audio_s"}


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_SPEECH_CACHE", CACHE)
    monkeypatch.setenv("IVR_MODELS_DIR", str(ROOT / "models"))


def test_bench_auth_prints_the_contract(tmp_path: Path) -> None:
    voices = [v for v in HELD_OUT if v.name in ("kal", "slt", "us-m1")]
    generate(tmp_path, voices, enroll_files=2, verify_files=2)
    (tmp_path / "empty").mkdir()                          # a speaker with too few files is left out
    res = CliRunner().invoke(cli, ["bench", "auth", "--speakers", str(tmp_path), "--enroll", "2"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert KEYS <= set(out)
    assert out["engine"] == "embedded"
    assert (out["genuine_trials"], out["impostor_trials"]) == (6, 12)
    assert 0 <= out["eer"] <= 0.2 and 0 <= out["far_at_frr_5"] <= 1 and 0 <= out["frr_at_far_1"] <= 1
    assert 5 < out["enroll_speech_s"] < 12 and 2.5 < out["verify_speech_s"] <= 3.0      # the 3 s budget
    assert 1 < out["ms_per_audio_s"] < 500
    assert out["false_replay_flags"] == 0 and out["replays_flagged"] == 1.0 and out["replays_verified"] == 0
    assert out["line"] == "mulaw"
    # the same files with the verification audio through a mobile codec: other audio, so other scores
    res = CliRunner().invoke(cli, ["bench", "auth", "--speakers", str(tmp_path), "--enroll", "2", "--line", "gsm"])
    assert res.exit_code == 0, res.output
    gsm = json.loads(res.output)
    assert gsm["line"] == "gsm" and gsm["genuine_trials"] == 6
    assert gsm["score_at_frr_1"] != out["score_at_frr_1"]


def test_bench_auth_bad_usage(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["bench", "auth", "--speakers", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "--generate" in res.output
    res = CliRunner().invoke(cli, ["bench", "auth", "--speakers", str(tmp_path)])
    assert res.exit_code == 2 and "at least two speaker directories" in res.output
    res = CliRunner().invoke(cli, ["bench", "auth", "--speakers", str(tmp_path), "--line", "carrier-pigeon"])
    assert res.exit_code == 2 and "'gsm'" in res.output


def test_error_rates_known_answers() -> None:
    r = auth_bench.error_rates([0.9, 0.8, 0.7, 0.6], [0.1, 0.2, 0.3, 0.65])
    assert r["eer"] == 0.25 and r["frr_at_far_1"] == 0.25 and r["far_at_frr_5"] == 0.25
    perfect = auth_bench.error_rates([0.9, 0.8], [0.1, 0.2])
    assert perfect["eer"] == 0 and perfect["far_at_frr_5"] == 0 and perfect["frr_at_far_1"] == 0
