"""Configuration from the environment (see the README, "Configuration").

One frozen object built once per app; tests pass overrides instead of
mutating ``os.environ``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping, Optional

from .errors import ConfigError


def is_env_name(key: str) -> bool:
    """Whether a settings key names an environment variable of ours (``IVR_*``, ``TWILIO_*``)."""
    return key.startswith(("IVR_", "TWILIO_"))


def _flag(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _seconds(value: Optional[str], name: str, default: float) -> float:
    """A positive number of seconds from the environment, or a ConfigError that says what is allowed."""
    if value is None or not value.strip():
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= 60:  # also false for NaN
        raise ConfigError(f"{name}={value!r} is not a number of seconds between 0 and 60; "
                          f"set it to e.g. {default:g}, or unset it for the default ({default:g} s)")
    return seconds


def _count(value: Optional[str], name: str, zero: bool = False) -> Optional[int]:
    """A positive (or, with ``zero``, non-negative) whole number from the environment (None when unset),
    or a ConfigError with the fix."""
    if value is None or not value.strip():
        return None
    if not value.strip().isdigit() or int(value) < (0 if zero else 1):
        kind = "whole number (0 or more)" if zero else "positive whole number"
        raise ConfigError(f"{name}={value!r} is not a {kind}; set it to e.g. 2, or unset it")
    return int(value)


def _choice(value: Optional[str], name: str, allowed: tuple[str, ...], default: str) -> str:
    """One of ``allowed`` from the environment (``default`` when unset), or a ConfigError listing them."""
    if value is None or not value.strip():
        return default
    v = value.strip().lower()
    if v not in allowed:
        raise ConfigError(f"{name}={value!r} is not one of {', '.join(allowed)}; unset it for {default}")
    return v


def _whole(value: Optional[str], name: str) -> Optional[int]:
    """A whole number from the environment (None when unset), or a ConfigError with the fix."""
    if value is None or not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a whole number of seconds; set it to e.g. 3600, "
                          "or unset it for the default") from None


@dataclass(frozen=True)
class Config:
    """Settings of one running IVR.

    Attributes:
        auth_token: ``TWILIO_AUTH_TOKEN``; webhook signatures are checked when set.
        dev: ``IVR_DEV=1`` allows running without an auth token (no signature checks).
        public_url: ``IVR_PUBLIC_URL``, the base URL Twilio calls (signatures are computed on it).
        flows_dir, database_url, redis_url, asr_backend, vosk_model, audio_dir, api_token,
        default_flow: ``IVR_DEFAULT_FLOW``, the flow for calls no ``?flow=`` or ``numbers:`` selects.
        whisper_model: ``IVR_WHISPER_MODEL``, the Whisper backend's model: a CTranslate2 directory or a
            name that ``models download`` fetched (``small.en``); unset, the bundled tiny.en.
        whisper_threads: ``IVR_WHISPER_THREADS``, OpenMP threads per Whisper decode (default min(2, CPUs)).
        asr_processes: ``IVR_ASR_PROCESSES``, worker processes that decode speech (0: in the web process,
            the library default; ``serve`` defaults to 1, see :mod:`ivr.speech.asr.process_pool`).
        secret_key: ``IVR_SECRET_KEY``; encrypts sensitive values held between turns.
        hooks: ``IVR_HOOKS``, comma-separated modules with ``register(registry)``.
        store_timeout: ``IVR_STORE_TIMEOUT`` (seconds, default 2): the deadline of every store call.
            A webhook turn makes up to about three store calls and Twilio gives up after 15 s,
            so a store that does not answer must fail fast enough for the caller to hear the
            apology and reach a person well before that.
        turn_deadline: ``IVR_TURN_DEADLINE`` (seconds; unset: the driver's ``TURN_DEADLINE``, 8): what all
            hooks of one turn may take together, well under the 15 s after which Twilio gives up on
            a webhook; a hook still running then counts as timed out and the caller reaches a person.
        hold_after: ``IVR_HOLD_AFTER`` (seconds; unset: ``HOLD_AFTER`` of :mod:`ivr.calls.pending`, 2.5):
            how long a keypad webhook waits for a slow turn before the caller hears a holding phrase
            and Twilio is redirected to wait for the rest (``/voice/pending``).
        twilio_workflow_sid: ``IVR_TWILIO_WORKFLOW_SID``, the TaskRouter workflow of an ``<Enqueue>``
            whose queue names none.
        twilio_account_sid: ``TWILIO_ACCOUNT_SID``, for recording downloads, dialing callbacks and
            moving a caller out of a queue.
        crm_webhook_url, crm_webhook_secret, crm_history_url: ``IVR_CRM_WEBHOOK_URL`` (POST the context
            packet on every handoff), ``IVR_CRM_WEBHOOK_SECRET`` (its HMAC key), ``IVR_CRM_HISTORY_URL``
            (caller history; else the store).
        voicemail_transcribe: ``IVR_VOICEMAIL_TRANSCRIBE``: ``background`` (default), ``inline`` or ``off``
            (checked where the handoff is built).
        callback_from: ``IVR_CALLBACK_FROM``, the caller ID of dialed callbacks (E.164).
        agent_link_ttl: ``IVR_AGENT_LINK_TTL``, seconds a signed agent-page link stays valid (unset: the
            handoff's default).
        environ: the environment the settings were read from, kept for the values a flow names itself
            (an HTTP hook's ``secret_env``), so nothing reads ``os.environ`` while a call runs. Never
            printed (``repr``) nor compared.
    """

    auth_token: Optional[str] = None
    dev: bool = False
    public_url: Optional[str] = None
    flows_dir: str = "flows"
    database_url: Optional[str] = None
    redis_url: Optional[str] = None
    asr_backend: Optional[str] = None
    vosk_model: Optional[str] = None
    whisper_model: Optional[str] = None
    whisper_threads: Optional[int] = None
    asr_processes: Optional[int] = None
    audio_dir: str = "audio"
    api_token: Optional[str] = None
    default_flow: Optional[str] = None
    secret_key: Optional[str] = None
    hooks: str = ""
    queue_speech: bool = False
    demo_hooks: bool = True
    instance_dir: str = "instance"
    flow_check_interval: float = 1.0
    store_timeout: float = 2.0
    turn_deadline: Optional[float] = None
    hold_after: Optional[float] = None
    media_streams: Optional[bool] = None
    """``IVR_MEDIA_STREAMS=1``: speech flows run over Twilio Media Streams (``<Connect><Stream>``);
    unset or 0: every flow answers keypad TwiML (``<Gather input="dtmf">``)."""
    twilio_workflow_sid: Optional[str] = None
    twilio_account_sid: Optional[str] = None
    crm_webhook_url: Optional[str] = None
    crm_webhook_secret: Optional[str] = None
    crm_history_url: Optional[str] = None
    voicemail_transcribe: str = "background"
    callback_from: Optional[str] = None
    sms_from: Optional[str] = None
    metrics_token: Optional[str] = None
    """``IVR_METRICS_TOKEN``: when set, ``GET /metrics`` needs it as a bearer token (else it is open)."""
    """``IVR_SMS_FROM``: the Twilio number (E.164) or Messaging Service SID one-time codes are sent from."""
    agent_link_ttl: Optional[int] = None
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    voice_auth: str = "embedded"
    """``IVR_VOICE_AUTH``: ``embedded`` (GE2E on this server, the default), ``http`` (a vendor) or ``off``."""
    voice_auth_url: Optional[str] = None
    """``IVR_VOICE_AUTH_URL``: the vendor adapter's base URL (``http`` engine)."""
    voice_auth_secret: Optional[str] = None
    """``IVR_VOICE_AUTH_SECRET``: HMAC key of the vendor requests' ``X-IVR-Signature``."""
    voice_auth_timeout: float = 2.0
    """``IVR_VOICE_AUTH_TIMEOUT`` (seconds): a vendor slower than this gives an inconclusive verdict."""
    voiceprint_ttl_days: int = 365
    """``IVR_VOICEPRINT_TTL_DAYS``: a voiceprint unused this long expires (is not used, and is purged)."""
    voice_auth_explicit: bool = False
    """``IVR_VOICE_AUTH`` was set: a missing engine then stops start-up instead of turning voice auth off."""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None, **overrides: Any) -> "Config":
        """Read the environment (``os.environ`` by default), then apply overrides.

        The environment is read here, once: the running app never looks at ``os.environ``.
        """
        e: dict[str, str] = dict(os.environ if env is None else env)
        cfg = cls(
            auth_token=e.get("TWILIO_AUTH_TOKEN") or None,
            dev=_flag(e.get("IVR_DEV")),
            public_url=(e.get("IVR_PUBLIC_URL") or "").rstrip("/") or None,
            flows_dir=e.get("IVR_FLOWS_DIR") or "flows",
            database_url=e.get("IVR_DATABASE_URL") or None,
            redis_url=e.get("IVR_REDIS_URL") or None,
            asr_backend=e.get("IVR_ASR_BACKEND") or None,
            vosk_model=e.get("IVR_VOSK_MODEL") or None,
            whisper_model=e.get("IVR_WHISPER_MODEL") or None,
            whisper_threads=_count(e.get("IVR_WHISPER_THREADS"), "IVR_WHISPER_THREADS"),
            asr_processes=_count(e.get("IVR_ASR_PROCESSES"), "IVR_ASR_PROCESSES", zero=True),
            audio_dir=e.get("IVR_AUDIO_DIR") or "audio",
            api_token=e.get("IVR_API_TOKEN") or None,
            default_flow=e.get("IVR_DEFAULT_FLOW") or None,
            secret_key=e.get("IVR_SECRET_KEY") or None,
            hooks=e.get("IVR_HOOKS") or "",
            queue_speech=_flag(e.get("IVR_QUEUE_SPEECH")),
            demo_hooks=not _flag(e.get("IVR_NO_DEMO_HOOKS")),
            instance_dir=e.get("IVR_INSTANCE_DIR") or "instance",
            media_streams=_flag(e["IVR_MEDIA_STREAMS"]) if (e.get("IVR_MEDIA_STREAMS") or "").strip() else None,
            store_timeout=_seconds(e.get("IVR_STORE_TIMEOUT"), "IVR_STORE_TIMEOUT", 2.0),
            turn_deadline=(_seconds(e["IVR_TURN_DEADLINE"], "IVR_TURN_DEADLINE", 8.0)
                           if (e.get("IVR_TURN_DEADLINE") or "").strip() else None),
            hold_after=(_seconds(e["IVR_HOLD_AFTER"], "IVR_HOLD_AFTER", 2.5)
                        if (e.get("IVR_HOLD_AFTER") or "").strip() else None),
            twilio_workflow_sid=e.get("IVR_TWILIO_WORKFLOW_SID") or None,
            twilio_account_sid=e.get("TWILIO_ACCOUNT_SID") or None,
            crm_webhook_url=e.get("IVR_CRM_WEBHOOK_URL") or None,
            crm_webhook_secret=e.get("IVR_CRM_WEBHOOK_SECRET") or None,
            crm_history_url=e.get("IVR_CRM_HISTORY_URL") or None,
            voicemail_transcribe=e.get("IVR_VOICEMAIL_TRANSCRIBE") or "background",
            callback_from=e.get("IVR_CALLBACK_FROM") or None,
            sms_from=e.get("IVR_SMS_FROM") or None,
            metrics_token=e.get("IVR_METRICS_TOKEN") or None,
            agent_link_ttl=_whole(e.get("IVR_AGENT_LINK_TTL"), "IVR_AGENT_LINK_TTL"),
            environ=e,
            voice_auth=_choice(e.get("IVR_VOICE_AUTH"), "IVR_VOICE_AUTH", ("embedded", "http", "off"), "embedded"),
            voice_auth_explicit=bool((e.get("IVR_VOICE_AUTH") or "").strip()),
            voice_auth_url=(e.get("IVR_VOICE_AUTH_URL") or "").rstrip("/") or None,
            voice_auth_secret=e.get("IVR_VOICE_AUTH_SECRET") or None,
            voice_auth_timeout=_seconds(e.get("IVR_VOICE_AUTH_TIMEOUT"), "IVR_VOICE_AUTH_TIMEOUT", 2.0),
            voiceprint_ttl_days=_count(e.get("IVR_VOICEPRINT_TTL_DAYS"), "IVR_VOICEPRINT_TTL_DAYS") or 365,
        )
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(known)}")
        return replace(cfg, **overrides)

    @classmethod
    def from_settings(cls, settings: Optional[Mapping[str, Any]] = None,
                      env: Optional[Mapping[str, str]] = None) -> "Config":
        """The environment with ``settings`` on top, as a test or an embedding app passes them.

        Args:
            settings: keys are environment names (``TWILIO_AUTH_TOKEN``, ``IVR_FLOWS_DIR``...;
                None clears one) or Config fields (``flows_dir``...).
            env: the environment (``os.environ`` by default).
        """
        merged: dict[str, str] = dict(os.environ if env is None else env)
        fields_: dict[str, Any] = {}
        for key, value in dict(settings or {}).items():
            if is_env_name(key):
                merged[key] = "" if value is None else str(value)
            else:
                fields_[key] = value
        return cls.from_env(merged, **fields_)

    def secret(self, name: Optional[str]) -> Optional[str]:
        """The value of environment variable ``name`` as read at start-up (None: unset or empty)."""
        return (self.environ.get(name) or None) if name else None

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL: ``IVR_DATABASE_URL`` or a SQLite file under ``instance/``."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgres://"):
                url = "postgresql://" + url[len("postgres://"):]
            if url.startswith("postgresql://"):
                url = "postgresql+psycopg://" + url[len("postgresql://"):]
            return url
        Path(self.instance_dir).mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{Path(self.instance_dir).resolve() / 'ivr.sqlite3'}"

    def check_for_server(self) -> None:
        """Refuse to serve real calls unsigned: raise with the fix."""
        if not self.auth_token and not self.dev:
            raise ConfigError("TWILIO_AUTH_TOKEN is not set, so Twilio's webhook signatures cannot be checked. "
                              "Set TWILIO_AUTH_TOKEN (Twilio console > Account > API keys & tokens), "
                              "or IVR_DEV=1 for local development without signature checks.")
