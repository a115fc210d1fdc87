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
    """The recogniser as a deployment runs it: with the telephone-adapted model ``make test`` builds."""
    from ivr.speech.asr.pocketsphinx_backend import PocketSphinxRecognizer
    rec = PocketSphinxRecognizer()
    assert rec.model == "telephone-adapted", (
        "models/en-us-telephone is missing: build it with `python -m ivr models adapt` (make test does)")
    return rec
