"""Where voiceprints, consent and the verification audit trail are kept (SQLite or PostgreSQL).

Privacy is built in, not left to the caller of this module:

- a voiceprint's embedding and pitch level (and its replay fingerprints) are sealed with
  ``IVR_SECRET_KEY`` (:class:`ivr.store.crypto.SecretBox`, Fernet) before they
  reach the database, and nothing is stored without a stable key: a
  voiceprint sealed with a per-process key could never be read again;
- a voiceprint cannot be stored without a consent row (who, when, the exact
  wording, the flow and its version, the channel);
- every verification leaves an audit row (who, when, score, decision,
  engine, replay, net speech) and never any audio;
- voiceprints unused for ``ttl_days`` are not used and are purged;
- :meth:`VoiceprintStore.delete` removes voiceprint, fingerprints and
  consent; the audit rows stay, holding no biometric data.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
from sqlalchemy import Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text, delete, insert, select, \
    update
from sqlalchemy.engine import Engine

from ..store.crypto import SecretBox
from .base import Consent, Enrollment
from .errors import AuthError, NoStableKey

__all__ = ["VoiceprintStore", "StoredVoiceprint", "AuditRow", "metadata"]

metadata = MetaData()

voiceprints = Table(
    "voiceprints", metadata,
    Column("subject", String(128), primary_key=True),
    Column("engine", String(32), nullable=False),
    Column("embedding", Text, nullable=False),          # Fernet token: sealed {"v": [floats]}
    Column("net_speech_s", Float, nullable=False),
    Column("enrolled_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=False),
)

voice_fingerprints = Table(
    "voice_fingerprints", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", String(128), nullable=False, index=True),
    Column("at", Float, nullable=False),
    Column("data", Text, nullable=False),               # Fernet token: sealed replay-hash bits
)

voice_consents = Table(
    "voice_consents", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", String(128), nullable=False, index=True),
    Column("given_at", Float, nullable=False),
    Column("wording", Text, nullable=False),
    Column("flow", String(128), nullable=False),
    Column("flow_version", String(64), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("call_id", String(64)),
)

voice_audit = Table(
    "voice_verifications", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subject", String(128), nullable=False),
    Column("at", Float, nullable=False),
    Column("score", Float, nullable=False),
    Column("decision", String(16), nullable=False),
    Column("engine", String(32), nullable=False),
    Column("replay", Boolean, nullable=False, default=False),
    Column("net_speech_s", Float, nullable=False),
    Column("call_id", String(64)),
    Index("ix_voice_verifications_subject_at", "subject", "at"),
)

MAX_FINGERPRINTS = 20
"""Recent utterances per subject whose replay fingerprints are kept (enrolment and verifications)."""


@dataclass(frozen=True)
class StoredVoiceprint:
    """A decrypted voiceprint, for the engine that built it."""

    subject: str
    engine: str
    embedding: np.ndarray
    net_speech_s: float
    enrolled_at: float
    last_used_at: float
    pitch: Optional[float] = None
    """The voice's pitch level (:mod:`ivr.auth.pitch`); None for voiceprints stored before it was kept."""

    def enrollment(self) -> Enrollment:
        return Enrollment(self.subject, self.net_speech_s, self.engine, self.enrolled_at)


@dataclass(frozen=True)
class AuditRow:
    """One verification as audited (no audio, no embedding)."""

    subject: str
    at: float
    score: float
    decision: str
    engine: str
    replay: bool
    net_speech_s: float
    call_id: Optional[str]


class VoiceprintStore:
    """Voiceprints, consent and the audit trail in SQL.

    Args:
        engine: an SQLAlchemy engine (``ivr.store.sql.make_engine(config.db_url)``); tables are created.
        secret_key: ``IVR_SECRET_KEY``. None: reading finds nothing and storing refuses (:class:`NoStableKey`).
        ttl_days: a voiceprint unused this long is expired (not used, purged).
        clock: UNIX time, replaceable in tests.
    """

    def __init__(self, engine: Engine, secret_key: Optional[str], ttl_days: float = 365,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.secret_key = secret_key
        self._box = SecretBox(secret_key) if secret_key else None
        self.ttl_s = ttl_days * 86400.0
        self.clock = clock
        metadata.create_all(engine)

    # -- sealing ---------------------------------------------------------------------------------

    def _require_key(self) -> SecretBox:
        if self._box is None:
            raise NoStableKey("refusing to store a voiceprint without IVR_SECRET_KEY: voiceprints are encrypted "
                              "at rest and one sealed with a per-process key could never be read after a restart. "
                              "Set IVR_SECRET_KEY to a long random secret (e.g. the output of "
                              "'python -c \"import secrets; print(secrets.token_urlsafe(32))\"') and keep it stable.")
        return self._box

    def _seal(self, data: bytes, **extra: Any) -> str:
        return self._require_key().seal({"b": base64.b64encode(data).decode(), **extra})

    def _open_value(self, token: str) -> Optional[dict[str, Any]]:
        if self._box is None:
            return None
        value = self._box.open(token)
        return value if isinstance(value, dict) and "b" in value else None

    def _open(self, token: str) -> Optional[bytes]:
        value = self._open_value(token)
        return base64.b64decode(value["b"]) if value else None

    # -- consent ---------------------------------------------------------------------------------

    def record_consent(self, subject: str, consent: Consent) -> None:
        """Record that ``subject`` consented (kept until :meth:`delete`)."""
        with self.engine.begin() as conn:
            conn.execute(insert(voice_consents).values(
                subject=subject, given_at=consent.given_at, wording=consent.wording, flow=consent.flow,
                flow_version=consent.flow_version, channel=consent.channel, call_id=consent.call_id))

    def consent(self, subject: str) -> Optional[Consent]:
        """The subject's latest consent, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(voice_consents).where(voice_consents.c.subject == subject)
                               .order_by(voice_consents.c.given_at.desc(), voice_consents.c.id.desc())
                               .limit(1)).mappings().first()
        if row is None:
            return None
        return Consent(row["wording"], row["flow"], row["flow_version"], row["channel"], row["given_at"],
                       row["call_id"])

    # -- voiceprints -----------------------------------------------------------------------------

    def save(self, subject: str, engine_name: str, embedding: np.ndarray, net_speech_s: float,
             pitch: Optional[float] = None) -> Enrollment:
        """Store (or replace) the subject's voiceprint, sealed: the embedding and, when known, the pitch level
        (both are biometric, so both are inside the sealed token).

        Raises:
            NoStableKey: no ``IVR_SECRET_KEY``.
            AuthError: the subject has not consented.
        """
        extra = {} if pitch is None else {"pitch": float(pitch)}
        token = self._seal(np.asarray(embedding, dtype="<f4").tobytes(), **extra)
        if self.consent(subject) is None:
            raise AuthError(f"no consent recorded for {subject!r}: record the caller's consent "
                            "(VoiceAuthenticator.record_consent) before enrolling")
        now = self.clock()
        values = dict(engine=engine_name, embedding=token, net_speech_s=float(net_speech_s), enrolled_at=now,
                      last_used_at=now)
        with self.engine.begin() as conn:
            conn.execute(delete(voiceprints).where(voiceprints.c.subject == subject))
            conn.execute(insert(voiceprints).values(subject=subject, **values))
        return Enrollment(subject, float(net_speech_s), engine_name, now)

    def load(self, subject: str, engine_name: Optional[str] = None) -> Optional[StoredVoiceprint]:
        """The subject's usable voiceprint: None if missing, of another engine, unreadable or expired
        (an expired one is purged here)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(voiceprints).where(voiceprints.c.subject == subject)).mappings().first()
        if row is None or (engine_name and row["engine"] != engine_name):
            return None
        if row["last_used_at"] < self.clock() - self.ttl_s:
            self.delete(subject)
            return None
        value = self._open_value(row["embedding"])
        if value is None:
            return None
        raw = base64.b64decode(value["b"])
        pitch = value.get("pitch")
        return StoredVoiceprint(subject, row["engine"], np.frombuffer(raw, dtype="<f4").copy(),
                                row["net_speech_s"], row["enrolled_at"], row["last_used_at"],
                                None if pitch is None else float(pitch))

    def touch(self, subject: str) -> None:
        """The voiceprint was used now: its inactivity clock restarts."""
        with self.engine.begin() as conn:
            conn.execute(update(voiceprints).where(voiceprints.c.subject == subject)
                         .values(last_used_at=self.clock()))

    def delete(self, subject: str) -> bool:
        """Remove voiceprint, fingerprints and consent; True if a voiceprint or consent existed."""
        with self.engine.begin() as conn:
            n = conn.execute(delete(voiceprints).where(voiceprints.c.subject == subject)).rowcount
            conn.execute(delete(voice_fingerprints).where(voice_fingerprints.c.subject == subject))
            n += conn.execute(delete(voice_consents).where(voice_consents.c.subject == subject)).rowcount
        return n > 0

    def purge_expired(self) -> int:
        """Delete every voiceprint unused for ``ttl_days`` (with its consent); returns how many."""
        cutoff = self.clock() - self.ttl_s
        with self.engine.connect() as conn:
            subjects = [r[0] for r in conn.execute(select(voiceprints.c.subject)
                                                   .where(voiceprints.c.last_used_at < cutoff))]
        for s in subjects:
            self.delete(s)
        return len(subjects)

    # -- replay fingerprints ---------------------------------------------------------------------

    def add_fingerprint(self, subject: str, data: bytes) -> None:
        """Keep a sealed replay fingerprint of one utterance; only the newest :data:`MAX_FINGERPRINTS` stay."""
        token = self._seal(data)
        with self.engine.begin() as conn:
            conn.execute(insert(voice_fingerprints).values(subject=subject, at=self.clock(), data=token))
            ids = [r[0] for r in conn.execute(select(voice_fingerprints.c.id)
                                              .where(voice_fingerprints.c.subject == subject)
                                              .order_by(voice_fingerprints.c.id.desc()))]
            if len(ids) > MAX_FINGERPRINTS:
                conn.execute(delete(voice_fingerprints).where(voice_fingerprints.c.id.in_(ids[MAX_FINGERPRINTS:])))

    def fingerprints(self, subject: str) -> list[bytes]:
        """The subject's kept fingerprints, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(voice_fingerprints.c.data).where(voice_fingerprints.c.subject == subject)
                                .order_by(voice_fingerprints.c.id.desc())).all()
        out = [self._open(r[0]) for r in rows]
        return [b for b in out if b]

    # -- audit -----------------------------------------------------------------------------------

    def audit(self, subject: str, score: float, decision: str, engine_name: str, replay: bool,
              net_speech_s: float, call_id: Optional[str] = None) -> None:
        """Append one verification to the audit trail (no audio, no embedding)."""
        with self.engine.begin() as conn:
            conn.execute(insert(voice_audit).values(
                subject=subject, at=self.clock(), score=float(score), decision=decision, engine=engine_name,
                replay=bool(replay), net_speech_s=float(net_speech_s), call_id=call_id))

    def audit_trail(self, subject: str) -> list[AuditRow]:
        """Every audited verification of ``subject``, oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(voice_audit).where(voice_audit.c.subject == subject)
                                .order_by(voice_audit.c.id)).mappings().all()
        return [AuditRow(r["subject"], r["at"], r["score"], r["decision"], r["engine"], bool(r["replay"]),
                         r["net_speech_s"], r["call_id"]) for r in rows]
