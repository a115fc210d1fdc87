"""``python -m ivr prompts build`` on real flows: format, reuse, pruning, durations in lint and simulate."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from ivr.flow.loader import flow_files, load_flow
from ivr.prompts.audio import ulaw_decode
from ivr.prompts.cache import PromptCache
from ivr.prompts.catalog import all_specs, flow_prompts
from ivr.prompts.spec import PromptSpec
from tests.conftest import FLOWS, DemoAudio, run_ivr


def wav_header(path: Path) -> tuple[int, int, int, int, bytes]:
    """(format tag, channels, sample rate, bits, data) of a WAV file, parsed by hand."""
    raw = path.read_bytes()
    assert raw[:4] == b"RIFF" and raw[8:12] == b"WAVE", path
    pos, fmt, data = 12, None, None
    while pos + 8 <= len(raw):
        cid, size = raw[pos:pos + 4], struct.unpack("<I", raw[pos + 4:pos + 8])[0]
        body = raw[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", body[:16])
        elif cid == b"data":
            data = body
        pos += 8 + size + (size & 1)
    assert fmt is not None and data is not None, path
    return fmt[0], fmt[1], fmt[2], fmt[5], data


def demo_flows():
    return [load_flow(f).flow for f in flow_files(FLOWS)]


def test_cold_build_renders_every_prompt(demo_audio: DemoAudio) -> None:
    assert demo_audio.cold.returncode == 0, demo_audio.cold.stderr
    n = len(all_specs(demo_flows()))
    assert f"{len(demo_flows())} flow(s), {n} prompts" in demo_audio.cold.stdout
    assert f"{n} rendered, 0 reused, 0 pruned" in demo_audio.cold.stdout
    cache = PromptCache(demo_audio.audio_dir)
    assert all(cache.lookup(s) is not None for s in all_specs(demo_flows()))


def test_rendered_files_are_telephone_audio(demo_audio: DemoAudio) -> None:
    wavs = sorted((demo_audio.audio_dir / "tts").glob("*.wav"))
    manifest = json.loads((demo_audio.audio_dir / "tts" / "manifest.json").read_text())
    assert len(wavs) == len(manifest) > 100
    for wav in wavs:
        tag, channels, rate, bits, data = wav_header(wav)
        assert (tag, channels, rate, bits) == (7, 1, 8000, 8), wav  # mu-law, mono, 8 kHz
        assert len(data) / 8000 == pytest.approx(manifest[wav.stem]["duration_s"], abs=0.001)
        assert len(data) > 800  # > 0.1 s
        pcm = ulaw_decode(data).astype(np.float64)
        assert np.sqrt(np.mean(pcm ** 2)) > 0.01, f"{wav} is silent"  # not silence
        ulaw = wav.with_suffix(".ulaw").read_bytes()  # media-stream twin: same audio, 20 ms frames
        assert len(ulaw) % 160 == 0 and ulaw[:len(data)] == data and set(ulaw[len(data):]) <= {0xFF}


def test_second_build_renders_nothing(demo_audio: DemoAudio, tmp_path: Path) -> None:
    audio = demo_audio.copy(tmp_path / "audio")
    before = {p.name: p.stat().st_mtime_ns for p in (audio / "tts").iterdir()}
    warm = run_ivr("prompts", "build", "--flows", str(FLOWS), "--no-progress", env={"IVR_AUDIO_DIR": str(audio)})
    assert warm.returncode == 0, warm.stderr
    assert " 0 rendered, " in warm.stdout and " 0 failed" in warm.stdout
    assert {p.name: p.stat().st_mtime_ns for p in (audio / "tts").iterdir()} == before


def test_json_report_and_prune(demo_audio: DemoAudio, tmp_path: Path) -> None:
    audio = demo_audio.copy(tmp_path / "audio")
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(FLOWS / "acme.yaml", flows)
    src = (FLOWS / "acme.yaml").read_text()
    (flows / "acme.yaml").write_text(src.replace("Welcome to Acme.", "Welcome to Acme, the test line."))
    old = PromptSpec("Welcome to Acme.")
    new = PromptSpec("Welcome to Acme, the test line.")
    keep = PromptCache(audio).lookup(PromptSpec("Say balance or cards. Or press 1 or 2."))
    out = run_ivr("prompts", "build", "--flows", str(flows), "--audio-dir", str(audio), "--prune", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["rendered"] == 1 and report["failed"] == 0 and report["flows"] == ["acme"]
    assert report["pruned"] > 100  # bank and banca prompts are no longer needed
    cache = PromptCache(audio)
    assert cache.lookup(new) is not None and cache.lookup(old) is None
    assert not (audio / "tts" / f"{old.key}.wav").exists() and keep is not None and keep.wav_path.exists()


def test_no_prune_while_a_flow_is_broken(demo_audio: DemoAudio, tmp_path: Path) -> None:
    audio = demo_audio.copy(tmp_path / "audio")
    flows = tmp_path / "flows"
    shutil.copytree(FLOWS, flows)
    (flows / "bank.yaml").write_text("flow: bank\nstart: [oops\n")
    out = run_ivr("prompts", "build", "--flows", str(flows), "--audio-dir", str(audio), "--prune", "--no-progress")
    assert out.returncode == 1 and "not pruning" in out.stderr
    bank_main = PromptSpec("Say balance, lost card, billing or opening hours. Or press 1, 2, 3 or 4.")
    assert PromptCache(audio).lookup(bank_main) is not None


def test_prompts_list(demo_audio: DemoAudio) -> None:
    out = run_ivr("prompts", "list", "--flows", str(FLOWS), "--audio-dir", str(demo_audio.audio_dir), "--json")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert {r["source"] for r in rows} == {"tts", "pieces"}
    balance = next(r for r in rows if r["flow"] == "bank" and r["node"] == "balance")
    assert balance["source"] == "pieces" and balance["duration_s"] > 0


LONG_MENU = """\
flow: slow
start: main
settings: {rate: 120}   # a slow voice makes a 17-word menu too long to play
queues: {general: {}}
nodes:
  main:
    menu:
      prompt: "For your balance, press 1. For cards, press 2. For loans, press 3. For savings, press 4."
      options:
        - {key: "1", goto: bye}
        - {key: "2", goto: bye}
        - {key: "3", goto: bye}
        - {key: "4", goto: short}
  short:
    menu:
      prompt: Press 1 to go on.
      options:
        - {key: "1", goto: main}
  bye:
    hangup: Goodbye.
"""


def test_lint_flags_slow_prompt_from_rendered_audio(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "slow.yaml").write_text(LONG_MENU)
    audio = tmp_path / "audio"
    env = {"IVR_AUDIO_DIR": str(audio), "IVR_FLOWS_DIR": str(flows)}
    before = run_ivr("lint", "--json", str(flows), env=env)
    assert "slow-prompt" not in before.stdout  # 17 words: not long, and no audio to time yet
    built = run_ivr("prompts", "build", "--no-progress", env=env)
    assert built.returncode == 0, built.stderr
    secs = PromptCache(audio).lookup(PromptSpec(
        "For your balance, press 1. For cards, press 2. For loans, press 3. For savings, press 4.", rate=120))
    assert secs is not None and secs.duration_s > 8
    after = json.loads(run_ivr("lint", "--json", str(flows), env=env).stdout)
    slow = [p for p in after if p["code"] == "slow-prompt"]
    assert len(slow) == 1 and "'main'" in slow[0]["message"] and f"{secs.duration_s:.1f} s" in slow[0]["message"]
    assert slow[0]["line"] == 8
    assert run_ivr("lint", str(FLOWS), env={"IVR_AUDIO_DIR": str(audio)}).returncode == 0


def test_simulate_reports_prompt_seconds_from_audio(demo_audio: DemoAudio) -> None:
    script = str(FLOWS.parent / "tests" / "calls" / "acme_lost_card.yaml")
    with_audio = run_ivr("simulate", "--json", script, env={"IVR_AUDIO_DIR": str(demo_audio.audio_dir)})
    without = run_ivr("simulate", "--json", script, env={"IVR_AUDIO_DIR": str(demo_audio.audio_dir) + "-none"})
    a, b = json.loads(with_audio.stdout), json.loads(without.stdout)
    assert a["passed"] and b["passed"]
    cache = PromptCache(demo_audio.audio_dir)
    expected = sum(cache.lookup(PromptSpec(t)).duration_s for t in a["prompts"])
    assert a["prompt_seconds"] == pytest.approx(expected, abs=0.01)
    assert b["prompt_seconds"] == pytest.approx(sum(len(t.split()) for t in b["prompts"]) / 2.5, abs=0.01)
    assert a["prompt_seconds"] != b["prompt_seconds"]


def test_italian_call_by_voice_hears_italian_audio(demo_audio: DemoAudio) -> None:
    """'operatore' reaches a person; every prompt of the call has Italian audio."""
    script = str(FLOWS.parent / "tests" / "calls" / "banca_operatore.yaml")
    out = run_ivr("simulate", "--json", script, env={"IVR_AUDIO_DIR": str(demo_audio.audio_dir)})
    result = json.loads(out.stdout)
    assert result["passed"], result["failures"]
    assert result["context"]["reason"] == "caller_request" and result["context"]["queue"] == "generale"
    banca = next(f for f in demo_flows() if f.flow == "banca")
    cache = PromptCache(demo_audio.audio_dir)
    for text in result["prompts"]:
        audio = cache.lookup(PromptSpec(text, "it-IT", banca.settings.voice, banca.settings.rate))
        assert audio is not None, text
        assert cache.manifest()[audio.key]["voice_id"].endswith("/it")
    assert any("operatore" in t for t in result["prompts"])
    assert result["prompt_seconds"] == pytest.approx(
        sum(cache.lookup(PromptSpec(t, "it-IT", "it", 160)).duration_s for t in result["prompts"]), abs=0.01)


def test_catalog_has_the_engines_system_texts() -> None:
    from ivr.engine.engine import TEXTS
    bank = next(f for f in demo_flows() if f.flow == "bank")
    texts = {(e.part, e.text) for e in flow_prompts(bank)}
    for key in ("agent", "escalate", "error"):
        assert ("escalate", TEXTS["en"][key]) in texts
    assert ("no_input", TEXTS["en"]["no_input"]) in texts  # account_number has no own no_input
    assert ("confirm", TEXTS["en"]["confirm"].replace("{phrase}", "lost card")) in texts
    assert ("say", "The balance of account {account} is {balance} dollars.") in texts


def test_every_prompt_the_calls_play_is_in_the_catalog(tmp_path: Path) -> None:
    """All call scripts, run through the engine: each Play is a catalog spec or assembled from catalog pieces."""
    import os

    from ivr.config import Config
    from ivr.prompts.resolve import assembled_of, spec_of
    from ivr.services import build_services
    from ivr.sim import LocalCall, load_script, run_script
    from ivr.sim.handles import SimClock

    keys = {s.key for s in all_specs(demo_flows())}
    plays = []
    config = Config.from_env(flows_dir=str(FLOWS), instance_dir=str(tmp_path), flow_check_interval=3600.0,
                             secret_key=os.urandom(16).hex())
    services, clock = build_services(config, clock=(clock := SimClock())), clock
    try:
        for script in sorted((FLOWS.parent / "tests" / "calls").glob("*.yaml")):
            s = load_script(script)
            result = run_script(s, lambda s: LocalCall(services.driver, s.flow, s.caller, s.called, clock=clock,
                                                       prompt_seconds=lambda p: plays.append(p) or 1.0,
                                                       services=services))
            assert result.passed, (script, result.failures)
    finally:
        services.close()
    assert len(plays) > 50
    for play in plays:
        assert play.flow and play.language
        if play.template:
            pieces = assembled_of(play)
            assert pieces is not None and {p.key for p in pieces.specs} <= keys, play
            assert "pin" not in dict(play.values)
        else:
            assert spec_of(play).key in keys, play
