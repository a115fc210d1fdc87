"""Real pyttsx3 renders in the worker, and a worker that hangs or crashes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ivr.errors import PromptError
from ivr.prompts import audio
from ivr.prompts.audio import read_frames, read_mulaw_wav, read_wav_info
from ivr.prompts.builder import BuildReport
from ivr.prompts.cache import PromptCache
from ivr.prompts.render import Renderer
from ivr.prompts.spec import PromptSpec

from .conftest import SESSION_SPECS
from .faults import broken_engine, faulty_engine

REPO = Path(__file__).resolve().parents[2]


def test_session_build_rendered_everything(built_audio: tuple[Path, BuildReport]) -> None:
    _, report = built_audio
    assert report.failures == ()
    assert (report.rendered, report.reused, report.failed) == (len(SESSION_SPECS), 0, 0)


@pytest.mark.parametrize("spec", SESSION_SPECS, ids=lambda s: s.text[:20])
def test_rendered_audio_is_telephone_format(built_audio: tuple[Path, BuildReport],
                                            spec: PromptSpec) -> None:
    audio_dir, _ = built_audio
    found = PromptCache(audio_dir).lookup(spec)
    assert found is not None
    info = read_wav_info(found.wav_path)
    assert (info.format_tag, info.sample_rate, info.channels, info.bits_per_sample) == (7, 8000, 1, 8)
    ulaw = read_mulaw_wav(found.wav_path)
    assert found.duration_s == pytest.approx(len(ulaw) / 8000)
    assert 0.5 < found.duration_s < 10
    pcm = audio.ulaw_decode(ulaw).astype(np.float32) / 32768
    assert audio.rms_dbfs(pcm) > -35, "rendered prompt is (nearly) silent"
    assert abs(audio.active_level_dbfs(pcm, 8000) - audio.TARGET_DBFS) < 3
    frames = read_frames(found.ulaw_path)
    assert frames and all(len(f) == 160 for f in frames)
    assert b"".join(frames)[: len(ulaw)] == ulaw
    assert list(found.frames()) == frames


def test_rate_is_applied_to_every_prompt() -> None:
    # Same words, alternating rates in one worker: every prompt must use its
    # own rate (pyttsx3's espeak driver used to drop queued rate changes).
    text = "Thank you for calling. Goodbye."
    rates = [260, 110] * 10
    with Renderer() as r:
        results = r.render_many([PromptSpec(text, rate=rate) for rate in rates])
    assert all(res.ok and res.audio for res in results)
    fast = [res.audio.duration_s for res in results if res.spec.rate == 260]  # type: ignore[union-attr]
    slow = [res.audio.duration_s for res in results if res.spec.rate == 110]  # type: ignore[union-attr]
    assert max(fast) * 1.5 < min(slow), (fast, slow)


def test_italian_and_mandarin_pick_their_voices(built_audio: tuple[Path, BuildReport]) -> None:
    audio_dir, _ = built_audio
    manifest = PromptCache(audio_dir).manifest()
    it = next(e for e in manifest.values() if e["language"] == "it-IT")
    assert it["voice_id"] == "roa/it"
    with Renderer() as r:
        res = r.render(PromptSpec("你好，欢迎。", "zh-CN"))
    assert res.ok and res.voice_id == "sit/cmn"


def test_progress_callback_and_order() -> None:
    seen: list[tuple[int, int, str]] = []
    specs = [PromptSpec("One."), PromptSpec("Two."), PromptSpec("hi", voice="no-such-voice")]
    with Renderer() as r:
        results = r.render_many(specs, lambda d, t, res: seen.append((d, t, res.spec.text)))
    assert [res.spec for res in results] == specs
    assert seen == [(1, 3, "One."), (2, 3, "Two."), (3, 3, "hi")]
    assert not results[2].ok and "no-such-voice" in (results[2].error or "")
    assert results[2].attempts == 1  # a config error is not retried on a new worker


def test_request_process_never_imports_pyttsx3(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from ivr.prompts import build, PromptSpec, PromptCache, Renderer\n"
        f"r = build([PromptSpec('Hello.')], {str(tmp_path)!r})\n"
        "assert r.rendered == 1, r\n"
        "assert 'pyttsx3' not in sys.modules, 'pyttsx3 leaked into the caller'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"  # nothing from pyttsx3 on our stdout either


def test_worker_hang_is_killed_and_worker_restarted() -> None:
    with Renderer(engine_factory=faulty_engine, timeout=1.0, retries=1) as r:
        assert r.render(PromptSpec("Before.")).ok
        first_pid = r.worker_pid
        hung = r.render(PromptSpec("HANG please."))
        assert not hung.ok and "timed out" in (hung.error or "")
        assert hung.attempts == 2 and hung.seconds < 6
        after = r.render(PromptSpec("After the hang."))
        assert after.ok, after.error
        assert r.worker_pid not in (None, first_pid)
        assert r.starts == 3  # the first, one for the retry, one after the hang


def test_transient_hang_succeeds_on_retry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_TEST_FAULT_DIR", str(tmp_path))
    with Renderer(engine_factory=faulty_engine, timeout=1.0, retries=1) as r:
        res = r.render(PromptSpec("HANGONCE then speak."))
    assert res.ok and res.attempts == 2


def test_worker_crash_is_survived() -> None:
    with Renderer(engine_factory=faulty_engine, timeout=5.0, retries=0) as r:
        crashed = r.render(PromptSpec("CRASH now."))
        assert not crashed.ok and "died" in (crashed.error or "")
        assert r.render(PromptSpec("Still here.")).ok


def test_engine_that_cannot_start_is_reported() -> None:
    with Renderer(engine_factory=broken_engine) as r:
        with pytest.raises(PromptError, match="no speech engine here"):
            r.start()
        res = r.render(PromptSpec("Hello."))
    assert not res.ok and "no speech engine here" in (res.error or "")


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_hung_worker_dies_with_its_parent() -> None:
    code = (
        "import sys\n"
        "from ivr.prompts.render import Renderer\n"
        "from ivr.prompts.spec import PromptSpec\n"
        "from tests.prompts.faults import faulty_engine\n"
        "r = Renderer(engine_factory=faulty_engine, timeout=120)\n"
        "r.start()\n"
        "print(r.worker_pid, flush=True)\n"
        "r.render(PromptSpec('HANG until killed.'))\n"
    )
    with subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                          text=True, env={**os.environ, "PYTHONPATH": str(REPO)}) as proc:
        try:
            assert proc.stdout is not None
            worker = int(proc.stdout.readline())
            assert _alive(worker)
            time.sleep(0.5)  # let it get stuck in runAndWait
        finally:
            proc.kill()
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker), "orphaned TTS worker kept running"
