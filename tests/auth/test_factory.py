"""Choosing the engine from settings; missing pieces fail at start-up with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.auth import AuthConfigError, EmbeddedVoiceAuthenticator, HttpVoiceAuthenticator, make_authenticator
from ivr.auth.cohort import COHORT_VOICES
from ivr.bench.speakers import HELD_OUT, TUNING
from ivr.config import Config
from ivr.errors import ConfigError
from ivr.store.sql import make_engine


def test_settings_from_env() -> None:
    cfg = Config.from_env({"IVR_VOICE_AUTH": "http", "IVR_VOICE_AUTH_URL": "https://v.example/api/",
                           "IVR_VOICE_AUTH_SECRET": "s", "IVR_VOICE_AUTH_TIMEOUT": "1.5",
                           "IVR_VOICEPRINT_TTL_DAYS": "90"})
    assert (cfg.voice_auth, cfg.voice_auth_url, cfg.voice_auth_secret, cfg.voice_auth_timeout,
            cfg.voiceprint_ttl_days) == ("http", "https://v.example/api", "s", 1.5, 90)
    assert Config.from_env({}).voice_auth == "embedded" and Config.from_env({}).voiceprint_ttl_days == 365
    with pytest.raises(ConfigError, match="IVR_VOICE_AUTH='vosk' is not one of embedded, http, off"):
        Config.from_env({"IVR_VOICE_AUTH": "vosk"})
    with pytest.raises(ConfigError, match="IVR_VOICEPRINT_TTL_DAYS"):
        Config.from_env({"IVR_VOICEPRINT_TTL_DAYS": "-3"})


def test_off_http_embedded(tmp_path: Path) -> None:
    assert make_authenticator(Config.from_env({"IVR_VOICE_AUTH": "off"})) is None
    with pytest.raises(AuthConfigError, match="IVR_VOICE_AUTH_URL and IVR_VOICE_AUTH_SECRET"):
        make_authenticator(Config.from_env({"IVR_VOICE_AUTH": "http"}))
    http = make_authenticator(Config.from_env({"IVR_VOICE_AUTH": "http", "IVR_VOICE_AUTH_URL": "http://x",
                                               "IVR_VOICE_AUTH_SECRET": "s"}))
    assert isinstance(http, HttpVoiceAuthenticator)
    emb = make_authenticator(Config.from_env({"IVR_SECRET_KEY": "k", "IVR_VOICEPRINT_TTL_DAYS": "7"}),
                             make_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}"))
    assert isinstance(emb, EmbeddedVoiceAuthenticator)
    assert emb.store.ttl_s == 7 * 86400 and emb.store.secret_key == "k"


def test_embedded_without_weights_fails_at_start_up(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from importlib import metadata

    from ivr.auth.encoder import SpeakerEncoder

    def gone(name: str):
        raise metadata.PackageNotFoundError(name)
    monkeypatch.setattr(metadata, "distribution", gone)
    monkeypatch.setattr(SpeakerEncoder, "_shared", None)
    with pytest.raises(AuthConfigError, match=r"pip install --no-deps Resemblyzer==0\.1\.4"):
        make_authenticator(Config.from_env({}), make_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}"))


def test_embedded_without_the_pitch_tracker_fails_at_start_up(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    from ivr.auth import pitch

    monkeypatch.setattr(pitch, "parselmouth", None)
    with pytest.raises(AuthConfigError, match=r"pip install 'praat-parselmouth>=0\.4\.3,<0\.5'"):
        make_authenticator(Config.from_env({}), make_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}"))


def test_tuning_held_out_and_cohort_voices_are_disjoint() -> None:
    def key(engine: str, voice: str, pitch, rate) -> tuple:
        return (engine, voice.split("+")[-1].lower() if engine == "espeak" else voice)
    held = {key(v.engine, v.voice, v.pitch, v.rate) for v in HELD_OUT}
    tuning = {key(v.engine, v.voice, v.pitch, v.rate) for v in TUNING}
    cohort = {key("espeak", v.split(":", 1)[1], None, None) for v, _ in COHORT_VOICES}
    assert not (held & tuning) and not (held & cohort) and not (tuning & cohort)
    assert len({v.name for v in HELD_OUT + TUNING}) == len(HELD_OUT) + len(TUNING)
