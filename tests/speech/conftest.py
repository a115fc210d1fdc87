"""Shared fixtures: synthesis cache location and a pocketsphinx recogniser per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True, scope="session")
def _speech_cache() -> None:
    os.environ.setdefault("IVR_SPEECH_CACHE", str(ROOT / ".cache" / "speech"))


@pytest.fixture(scope="session")
def sphinx():
    from ivr.speech.asr.pocketsphinx_backend import PocketSphinxRecognizer
    return PocketSphinxRecognizer()
