"""Shared pieces of the voice-authentication tests: synthetic callers, stores on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ivr.auth import Consent, EmbeddedVoiceAuthenticator, SpeakerEncoder, VoiceprintStore
from ivr.bench.speakers import SENTENCES, Voice, speak
from ivr.store.sql import make_engine
from tests.store.test_store_contract import _pg_schema

KEY = "auth-test-key-0123456789"
ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
CACHE = os.environ.get("IVR_SPEECH_CACHE") or str(ROOT / ".cache" / "speech")
"""Read before the suite's per-test environment reset removes it."""

KAL = Voice("kal", "flite", "kal")
SLT = Voice("slt", "flite", "slt")
M1 = Voice("us-m1", "espeak", "en-us+m1")


def say(voice: Voice, *indexes: int, seed: int = 0) -> bytes:
    """Sentences of SENTENCES spoken by ``voice`` over the phone path, joined."""
    return b"".join(speak(voice, SENTENCES[i], snr_db=25, seed=seed + i) for i in indexes)


def consent(at: float = 1000.0) -> Consent:
    return Consent("May we keep a voiceprint to recognise you next time?", "acme", "v3", "dtmf", at, "CA1")


class Clock:
    """A settable clock for expiry."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _speech_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite's environment reset drops IVR_ variables: keep the synthesis cache and the models directory
    (where the cohort is cached)."""
    monkeypatch.setenv("IVR_SPEECH_CACHE", CACHE)
    monkeypatch.setenv("IVR_MODELS_DIR", str(MODELS))


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path: Path):
    """An SQLAlchemy engine on SQLite or on a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'auth.sqlite3'}")
        yield eng
        eng.dispose()
    else:
        gen = _pg_schema()
        eng = make_engine(next(gen))
        yield eng
        eng.dispose()
        next(gen, None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db, clock: Clock) -> VoiceprintStore:
    return VoiceprintStore(db, KEY, ttl_days=30, clock=clock)


@pytest.fixture(scope="session")
def encoder() -> SpeakerEncoder:
    return SpeakerEncoder.shared()


@pytest.fixture
def auth(store: VoiceprintStore, encoder: SpeakerEncoder) -> EmbeddedVoiceAuthenticator:
    return EmbeddedVoiceAuthenticator(store, encoder, models_dir=MODELS)


@pytest.fixture
def enrolled(auth: EmbeddedVoiceAuthenticator) -> EmbeddedVoiceAuthenticator:
    """``+1555kal`` enrolled with kal's voice (5 sentences, about 13 s)."""
    auth.record_consent("+1555kal", consent(time.time()))
    auth.enroll("+1555kal", say(KAL, 0, 1, 2, 3, 4))
    return auth
