"""Builds render only what is missing; pruning; recorded overrides win."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ivr.prompts.audio import read_wav_info
from ivr.prompts.builder import BuildReport, build
from ivr.prompts.cache import PromptCache
from ivr.prompts.render import Renderer
from ivr.prompts.spec import PromptSpec

from .conftest import SESSION_SPECS, synth_wav


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_second_build_renders_nothing(built_audio: tuple[Path, BuildReport], tmp_path: Path) -> None:
    audio_dir = copy_tree(built_audio[0], tmp_path / "audio")
    before = {p.name: p.stat().st_mtime_ns for p in (audio_dir / "tts").iterdir()}
    report = build(SESSION_SPECS + SESSION_SPECS[:1], audio_dir)  # duplicates are fine
    assert (report.rendered, report.reused, report.failed) == (0, len(SESSION_SPECS), 0)
    after = {p.name: p.stat().st_mtime_ns for p in (audio_dir / "tts").iterdir()}
    assert after == before  # not even the manifest was rewritten


def test_changed_settings_render_anew(built_audio: tuple[Path, BuildReport], tmp_path: Path) -> None:
    audio_dir = copy_tree(built_audio[0], tmp_path / "audio")
    base = SESSION_SPECS[0]
    changed = [PromptSpec(base.text, base.language, "gmw/en-us-nyc"),
               PromptSpec(base.text, base.language, rate=120),
               PromptSpec(base.text + " Hello.", base.language)]
    report = build(SESSION_SPECS + changed, audio_dir)
    assert (report.rendered, report.reused) == (3, len(SESSION_SPECS))
    cache = PromptCache(audio_dir)
    assert all(cache.lookup(s) is not None for s in SESSION_SPECS + changed)


def test_manifest_records_each_prompt(built_audio: tuple[Path, BuildReport]) -> None:
    manifest = json.loads((built_audio[0] / "tts" / "manifest.json").read_text())
    assert set(manifest) == {s.key for s in SESSION_SPECS}
    entry = manifest[SESSION_SPECS[3].key]
    assert entry["text"] == SESSION_SPECS[3].text and entry["rate"] == 140
    assert entry["language"] == "en-US" and entry["voice"] is None
    assert entry["duration_s"] > 0.5 and entry["rendered_at"].endswith("+00:00")
    assert entry["voice_id"] == "gmw/en-us"


def test_etag_is_a_content_hash(built_audio: tuple[Path, BuildReport]) -> None:
    import hashlib
    a = PromptCache(built_audio[0]).lookup(SESSION_SPECS[0])
    assert a is not None and a.relpath == f"tts/{SESSION_SPECS[0].key}.wav"
    assert a.etag == hashlib.sha256(a.wav_path.read_bytes()).hexdigest()[:24]


def test_missing_file_means_not_rendered(built_audio: tuple[Path, BuildReport], tmp_path: Path) -> None:
    audio_dir = copy_tree(built_audio[0], tmp_path / "audio")
    cache = PromptCache(audio_dir)
    cache.paths(SESSION_SPECS[1].key)[1].unlink()
    assert cache.lookup(SESSION_SPECS[1]) is None
    assert build(SESSION_SPECS, audio_dir).rendered == 1


def test_prune_removes_stale_files_only(built_audio: tuple[Path, BuildReport], tmp_path: Path) -> None:
    audio_dir = copy_tree(built_audio[0], tmp_path / "audio")
    keep, stale = SESSION_SPECS[:2], SESSION_SPECS[2:]
    (audio_dir / "tts" / "notes.txt").write_text("mine")
    (audio_dir / "README.md").write_text("mine")
    rec = synth_wav(audio_dir / "recorded" / "acme" / "welcome.wav", "Welcome.", rate=8000, channels=1)
    report = build(keep, audio_dir, prune=True)
    assert (report.rendered, report.reused, report.pruned) == (0, 2, 2)
    names = {p.name for p in (audio_dir / "tts").iterdir()}
    for s in keep:
        assert {f"{s.key}.wav", f"{s.key}.ulaw"} <= names
    for s in stale:
        assert not {f"{s.key}.wav", f"{s.key}.ulaw"} & names
    assert "notes.txt" in names and (audio_dir / "README.md").exists() and rec.exists()
    assert set(json.loads((audio_dir / "tts" / "manifest.json").read_text())) == {s.key for s in keep}
    assert PromptCache(audio_dir).prune({s.key for s in keep}) == []


def test_build_with_progress_bar(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = build([PromptSpec("Press one."), PromptSpec("Press two.")], tmp_path, progress=True)
    assert report.rendered == 2 and report.ok
    assert "2/2" in capsys.readouterr().out


def test_failed_prompt_is_reported_not_fatal(tmp_path: Path) -> None:
    specs = [PromptSpec("Good."), PromptSpec("Bad.", voice="no-such-voice")]
    report = build(specs, tmp_path)
    assert (report.rendered, report.failed) == (1, 1) and not report.ok
    assert "no-such-voice" in report.failures[0].error
    assert "1 failed" in report.summary()


def test_build_reuses_a_given_renderer(tmp_path: Path) -> None:
    with Renderer() as r:
        build([PromptSpec("A.")], tmp_path / "a", renderer=r)
        build([PromptSpec("B.")], tmp_path / "b", renderer=r)
        assert r.starts == 1


# -- recorded overrides ---------------------------------------------------------

def test_recording_is_converted_and_preferred(built_audio: tuple[Path, BuildReport], tmp_path: Path) -> None:
    audio_dir = copy_tree(built_audio[0], tmp_path / "audio")
    spec = SESSION_SPECS[0]
    src = synth_wav(audio_dir / "recorded" / "acme" / "welcome.wav", "Welcome to Acme, recorded.",
                    rate=44100, channels=2)
    assert read_wav_info(src).sample_rate == 44100 and read_wav_info(src).channels == 2
    cache = PromptCache(audio_dir)
    got = cache.resolve(spec, "acme", "welcome")
    assert got is not None and got.source == "recorded"
    assert got.wav_path == audio_dir / "recorded" / ".converted" / "acme" / "welcome.wav"
    assert got.relpath == "recorded/.converted/acme/welcome.wav"
    info = read_wav_info(got.wav_path)
    assert (info.format_tag, info.sample_rate, info.channels) == (7, 8000, 1)
    assert got.ulaw_path.stat().st_size % 160 == 0 and got.duration_s > 0.5
    # Other nodes, and the same prompt without a node, still get TTS.
    tts = cache.resolve(spec, "acme", "main")
    assert tts is not None and tts.source == "tts"
    assert cache.resolve(spec).source == "tts"  # type: ignore[union-attr]
    assert (audio_dir / "recorded" / ".converted" / ".gitignore").read_text() == "*\n"


def test_recording_conversion_is_cached_by_mtime_size_and_hash(tmp_path: Path) -> None:
    src = synth_wav(tmp_path / "recorded" / "acme" / "bye.wav", "Goodbye.", rate=16000, channels=1)
    cache = PromptCache(tmp_path)
    first = cache.lookup_recorded("acme", "bye")
    assert first is not None
    stamp = first.wav_path.stat().st_mtime_ns
    assert cache.lookup_recorded("acme", "bye").etag == first.etag  # type: ignore[union-attr]
    assert first.wav_path.stat().st_mtime_ns == stamp  # not reconverted
    os.utime(src, ns=(stamp + 10**9, stamp + 10**9))  # touched, same content
    assert cache.lookup_recorded("acme", "bye").etag == first.etag  # type: ignore[union-attr]
    assert first.wav_path.stat().st_mtime_ns == stamp  # hash matched: still not reconverted
    synth_wav(src, "A different goodbye, much longer than before.", rate=16000, channels=1)
    again = cache.lookup_recorded("acme", "bye")
    assert again is not None and again.etag != first.etag and again.duration_s > first.duration_s


@pytest.mark.skipif(not shutil.which("sox"), reason="sox not installed")
def test_flac_recording_and_wav_preference(tmp_path: Path) -> None:
    wav = synth_wav(tmp_path / "x.wav", "Main menu.", rate=48000, channels=1)
    folder = tmp_path / "recorded" / "acme"
    folder.mkdir(parents=True)
    subprocess.run(["sox", str(wav), str(folder / "main.flac")], check=True)
    cache = PromptCache(tmp_path)
    flac = cache.lookup_recorded("acme", "main")
    assert flac is not None and flac.source == "recorded"
    shutil.copy(wav, folder / "main.wav")
    assert cache.find_recorded("acme", "main") == folder / "main.wav"
    assert cache.lookup_recorded("acme", "main") is not None


def test_bad_recording_falls_back_to_tts(built_audio: tuple[Path, BuildReport], tmp_path: Path) -> None:
    audio_dir = copy_tree(built_audio[0], tmp_path / "audio")
    (audio_dir / "recorded" / "acme").mkdir(parents=True)
    (audio_dir / "recorded" / "acme" / "welcome.wav").write_bytes(b"RIFF....WAVEjunk")
    cache = PromptCache(audio_dir)
    got = cache.resolve(SESSION_SPECS[0], "acme", "welcome")
    assert got is not None and got.source == "tts"
    report = build(SESSION_SPECS, audio_dir)
    assert report.failed == 1 and report.failures[0].key == "recorded:acme/welcome"


def test_build_converts_recordings_and_prunes_orphans(tmp_path: Path) -> None:
    src = synth_wav(tmp_path / "recorded" / "acme" / "bye.wav", "Bye.", rate=22050, channels=1)
    report = build([], tmp_path)
    assert report.recorded == 1 and report.ok
    converted = tmp_path / "recorded" / ".converted" / "acme" / "bye.wav"
    assert converted.exists()
    src.unlink()
    assert build([], tmp_path, prune=True).pruned == 1
    assert not converted.exists()


@pytest.mark.parametrize("flow,node", [("../etc", "x"), ("acme", "../../x"), ("acme", ".hidden")])
def test_recorded_names_cannot_escape(tmp_path: Path, flow: str, node: str) -> None:
    assert PromptCache(tmp_path).lookup_recorded(flow, node) is None
