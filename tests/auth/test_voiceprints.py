"""Voiceprint store on SQLite and PostgreSQL: sealed at rest, consent first, audit without audio, expiry."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from sqlalchemy import select

from ivr.auth import AuthError, NoStableKey, VoiceprintStore
from ivr.auth.voiceprints import voice_audit, voice_consents, voice_fingerprints, voiceprints

from .conftest import Clock, consent

EMB = (np.arange(256, dtype=np.float32) / 256).astype(np.float32)


def test_embedding_is_encrypted_at_rest(store: VoiceprintStore, db) -> None:
    store.record_consent("+1555", consent())
    store.save("+1555", "embedded", EMB, 12.5)
    with db.connect() as conn:
        raw = conn.execute(select(voiceprints.c.embedding)).scalar_one()
    assert raw.startswith("gAAAA")                       # a Fernet token
    for probe in ("[", ",", "0.00390625", str(EMB[1])):
        assert probe not in raw
    with pytest.raises(ValueError):
        json.loads(raw)
    np.testing.assert_array_equal(store.load("+1555").embedding, EMB)
    # another key reads nothing (and says nothing about the caller's voice)
    other = VoiceprintStore(db, "a-different-key", clock=store.clock)
    assert other.load("+1555") is None


def test_no_stable_key_refuses_to_store(db) -> None:
    s = VoiceprintStore(db, None)
    s.record_consent("+1555", consent())
    with pytest.raises(NoStableKey, match="IVR_SECRET_KEY"):
        s.save("+1555", "embedded", EMB, 10)
    assert s.load("+1555") is None


def test_consent_is_required_and_recorded_exactly(store: VoiceprintStore) -> None:
    with pytest.raises(AuthError, match="no consent"):
        store.save("+1555", "embedded", EMB, 10)
    store.record_consent("+1555", consent(at=1234.5))
    got = store.consent("+1555")
    assert got == consent(at=1234.5)
    assert got.wording == "May we keep a voiceprint to recognise you next time?"
    assert (got.flow, got.flow_version, got.channel, got.call_id) == ("acme", "v3", "dtmf", "CA1")


def test_audit_rows_hold_no_audio_and_survive_delete(store: VoiceprintStore, db) -> None:
    store.record_consent("+1555", consent())
    store.save("+1555", "embedded", EMB, 10)
    store.add_fingerprint("+1555", b"\x01\x02" * 200)
    store.audit("+1555", 0.71, "verified", "embedded", False, 2.6, "CA9")
    assert [(r.score, r.decision, r.call_id) for r in store.audit_trail("+1555")] == [(0.71, "verified", "CA9")]
    assert {c.name for c in voice_audit.columns} == {"id", "subject", "at", "score", "decision", "engine", "replay",
                                                     "net_speech_s", "call_id"}
    assert store.delete("+1555") is True
    with db.connect() as conn:
        assert conn.execute(select(voiceprints)).all() == []
        assert conn.execute(select(voice_consents)).all() == []
        assert conn.execute(select(voice_fingerprints)).all() == []
    assert len(store.audit_trail("+1555")) == 1
    assert store.delete("+1555") is False


def test_expiry_after_inactivity(store: VoiceprintStore, clock: Clock) -> None:
    store.record_consent("+1555", consent())
    store.save("+1555", "embedded", EMB, 10)
    store.record_consent("+1666", consent())
    store.save("+1666", "embedded", EMB, 10)
    clock.now += 29 * 86400
    store.touch("+1555")                                  # used: its 30 days start again
    clock.now += 2 * 86400
    assert store.load("+1555") is not None
    assert store.purge_expired() == 1                     # +1666 unused for 31 days
    assert store.load("+1666") is None and store.consent("+1666") is None
    clock.now += 31 * 86400
    assert store.load("+1555") is None                    # expired is not used, and is purged on sight
    assert store.consent("+1555") is None


def test_fingerprints_are_sealed_and_bounded(store: VoiceprintStore, db) -> None:
    for i in range(25):
        store.add_fingerprint("+1555", bytes([i]) * 64)
    kept = store.fingerprints("+1555")
    assert len(kept) == 20 and kept[0] == bytes([24]) * 64
    with db.connect() as conn:
        assert all(r[0].startswith("gAAAA") for r in conn.execute(select(voice_fingerprints.c.data)))




def test_pitch_level_is_sealed_with_the_embedding(store: VoiceprintStore, db) -> None:
    store.record_consent("+1555", consent())
    store.save("+1555", "embedded", EMB, 12.5, pitch=7.125)
    with db.connect() as conn:
        raw = conn.execute(select(voiceprints.c.embedding)).scalar_one()
    assert "7.125" not in raw and "pitch" not in raw
    assert store.load("+1555").pitch == 7.125


def test_voiceprint_stored_before_pitch_levels_still_loads(store: VoiceprintStore, db) -> None:
    """A voiceprint sealed by an earlier release (embedding only) is used, with no pitch level."""
    store.record_consent("+1555", consent())
    store.save("+1555", "embedded", EMB, 12.5, pitch=3.0)
    old = store._box.seal({"b": base64.b64encode(EMB.tobytes()).decode()})    # the earlier sealed form
    with db.begin() as conn:
        conn.execute(voiceprints.update().values(embedding=old))
    vp = store.load("+1555")
    assert vp is not None and vp.pitch is None
    np.testing.assert_array_equal(vp.embedding, EMB)
