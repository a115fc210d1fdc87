"""Shared fixtures: one real render of a small prompt set for the whole session."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ivr.prompts.builder import BuildReport, build
from ivr.prompts.spec import PromptSpec

#: Prompts rendered once per test session, for format checks and reuse checks.
SESSION_SPECS = [
    PromptSpec("Welcome to Acme."),
    PromptSpec("Say balance or cards. Or press 1 or 2."),
    PromptSpec("Benvenuto in Acme. Premi uno per il saldo.", "it-IT"),
    PromptSpec("Thank you for calling. Goodbye.", rate=140),
]


@pytest.fixture(scope="session")
def built_audio(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildReport]:
    """An audio directory with SESSION_SPECS rendered by the real worker."""
    audio_dir = tmp_path_factory.mktemp("audio")
    report = build(SESSION_SPECS, audio_dir)
    return audio_dir, report


def synth_wav(path: Path, text: str, *, rate: int = 44100, channels: int = 2,
              voice: str = "en-us+f3") -> Path:
    """A recording made with espeak-ng, resampled by sox (like a studio file)."""
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        pytest.skip("espeak-ng and sox are needed to make test recordings")
    raw = path.with_suffix(".raw.wav")
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True,
                   capture_output=True)
    subprocess.run(["sox", str(raw), "-r", str(rate), "-c", str(channels), str(path)],
                   check=True, capture_output=True)
    raw.unlink()
    return path
