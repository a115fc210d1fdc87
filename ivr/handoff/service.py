"""The handoff parts of one deployment, built once next to the core services.

Settings come from the :class:`~ivr.config.Config` (which read them from the
environment once), each overridable by a ``Config.extra`` key (tests):

=============================  ========================  ==============================================
environment                    ``extra`` key             meaning
=============================  ========================  ==============================================
``IVR_CRM_WEBHOOK_URL``        ``crm_webhook_url``       POST the context packet here on every handoff
``IVR_CRM_WEBHOOK_SECRET``     ``crm_webhook_secret``    HMAC-SHA256 key for ``X-IVR-Signature``
``IVR_CRM_HISTORY_URL``        ``crm_history_url``       CRM endpoint for caller history (else: the store)
``IVR_VOICEMAIL_TRANSCRIBE``   ``voicemail_transcribe``  ``background`` (default), ``inline`` or ``off``
``TWILIO_ACCOUNT_SID``         ``twilio_account_sid``    for recording downloads and dialing callbacks
``IVR_CALLBACK_FROM``          ``callback_from``         caller ID of dialed callbacks (E.164)
``IVR_AGENT_LINK_TTL``         ``agent_link_ttl``        seconds a signed agent-page link stays valid
=============================  ========================  ==============================================
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..config import Config
from ..engine import actions as A
from ..engine.state import CallState
from ..errors import ConfigError
from .crm import CrmWebhook, CustomerDirectory, HttpDirectory, StoreDirectory
from .dialer import Dialer
from .links import DEFAULT_TTL_S, agent_path
from .records import HandoffRecords
from .recording import CallRecorder
from .transcribe import Recognizer, Transcriber, fetch_recording, recognize_pcm, wav_to_pcm8k

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HandoffSettings:
    """Handoff configuration (see the module docstring)."""

    crm_webhook_url: Optional[str] = None
    crm_webhook_secret: Optional[str] = None
    crm_history_url: Optional[str] = None
    transcribe: str = "background"
    account_sid: Optional[str] = None
    callback_from: Optional[str] = None
    agent_link_ttl: int = DEFAULT_TTL_S
    table_prefix: str = ""

    @classmethod
    def from_config(cls, config: Config) -> "HandoffSettings":
        """The settings of ``config``, each overridden by its ``config.extra`` key when present."""
        x = dict(config.extra or {})

        def get(key: str, default: Any = None) -> Any:
            value = getattr(config, key)
            return x.get(key, default if value is None else value)

        mode = str(get("voicemail_transcribe", "background"))
        if mode not in ("background", "inline", "off"):
            raise ConfigError(f"IVR_VOICEMAIL_TRANSCRIBE={mode!r}: use background, inline or off")
        return cls(crm_webhook_url=get("crm_webhook_url"), crm_webhook_secret=get("crm_webhook_secret"),
                   crm_history_url=get("crm_history_url"), transcribe=mode,
                   account_sid=get("twilio_account_sid"), callback_from=get("callback_from"),
                   agent_link_ttl=int(get("agent_link_ttl", DEFAULT_TTL_S)),
                   table_prefix=str(x.get("handoff_table_prefix", "")))


def _store_engine(store: Any) -> Any:
    for candidate in (store, getattr(store, "records", None)):
        engine = getattr(candidate, "engine", None)
        if engine is not None:
            return engine
    return None


class Handoff:
    """Records, CRM, transcription and dialing for one deployment.

    Args:
        services: the core :class:`~ivr.services.Services`.
        settings: handoff settings (default: from the config and environment).
        recognizer / fetch: voicemail transcription parts (tests inject them).
        twilio_client: REST client for dialing callbacks (tests pass one with a recording fake).
        directory: a CRM history source (default: HTTP CRM when configured, else the store).
    """

    def __init__(self, services: Any, settings: Optional[HandoffSettings] = None,
                 recognizer: Optional[Recognizer] = None, fetch: Optional[Callable[[str], bytes]] = None,
                 twilio_client: Any = None, directory: Optional[CustomerDirectory] = None) -> None:
        self.services = services
        self.config: Config = services.config
        self.settings = settings or HandoffSettings.from_config(services.config)
        self.clock = services.driver.clock
        engine = _store_engine(services.store) or self.config.db_url
        self.records = HandoffRecords(engine, prefix=self.settings.table_prefix)
        store_dir = StoreDirectory(services.store)
        if directory is None and self.settings.crm_history_url:
            directory = HttpDirectory(self.settings.crm_history_url, self.settings.crm_webhook_secret, store_dir)
        self.directory: CustomerDirectory = directory or store_dir
        services.driver.directory = self.directory
        self.webhook: Optional[CrmWebhook] = None
        if self.settings.crm_webhook_url:
            self.webhook = CrmWebhook(self.settings.crm_webhook_url, self.settings.crm_webhook_secret,
                                      clock=self.clock)
        services.driver.transfer_listeners.append(self.on_transfer)
        auth = (self.settings.account_sid, self.config.auth_token) \
            if self.settings.account_sid and self.config.auth_token else None
        self.transcriber = Transcriber(self.records, recognizer=recognizer,
                                       fetch=fetch or (lambda url: fetch_recording(url, auth=auth)),
                                       clock=self.clock)
        self._twilio_client = twilio_client
        self._when_lock = threading.Lock()
        self._when_recognizer: Optional[tuple[Any, Any]] = None
        status_url = f"{self.config.public_url}/voice/recording" if self.config.public_url else None
        services.driver.recorder = CallRecorder(self.twilio_client, status_url)

    # -- links ----------------------------------------------------------------
    @property
    def link_secret(self) -> Optional[str]:
        return self.config.api_token or self.config.secret_key

    def agent_url(self, call_id: str, issued_at: Optional[float] = None) -> str:
        """The agent page of a call, signed, absolute when the public URL is known.

        Args:
            issued_at: when the link's lifetime starts (the transfer's time, so the
                same transfer always renders the same link); default now.
        """
        issued = self.clock() if issued_at is None else issued_at
        path = agent_path(call_id, self.link_secret, issued, self.settings.agent_link_ttl)
        return (self.config.public_url or "") + path

    # -- events ---------------------------------------------------------------
    def on_transfer(self, state: CallState, transfer: A.Transfer) -> None:
        """Every handoff: tell the CRM at once (in the background)."""
        if self.webhook is None:
            return
        self.webhook.send("handoff", {"call_id": state.call_id, "queue": transfer.queue, "mode": transfer.mode,
                                      "reason": transfer.reason, "agent_url": self.agent_url(state.call_id),
                                      "context": transfer.context})

    def on_record(self, kind: str, record: dict[str, Any]) -> None:
        """A callback request or voicemail was stored: tell the CRM."""
        if self.webhook is None:
            return
        self.webhook.send(f"{kind}.created", {"call_id": record.get("call_id"), kind: record,
                                              "agent_url": self.agent_url(record.get("call_id") or "")})

    def voicemail_recorded(self, voicemail_id: str) -> None:
        """A recording is ready: transcribe it as configured."""
        if self.settings.transcribe == "inline":
            self.transcriber.transcribe(voicemail_id)
        elif self.settings.transcribe == "background":
            self.transcriber.submit(voicemail_id)

    # -- a spoken callback time ------------------------------------------------
    def hear_when(self, recording_url: str) -> str:
        """What the caller said in the "when should we call you" recording (empty when nothing was heard).

        Open-vocabulary Whisper (the bundled tiny.en) hears dates and times far better than a phrase
        grammar ("tomorrow at two in the afternoon"); without it, the configured recogniser with the
        day-and-time phrases. Raises :class:`~ivr.errors.SpeechError` when the audio cannot be had.
        """
        pcm = wav_to_pcm8k(self.transcriber.fetch(recording_url))
        with self._when_lock:
            if self._when_recognizer is None:
                self._when_recognizer = self._build_when_recognizer()
            recognizer, grammar = self._when_recognizer
        return recognize_pcm(recognizer, pcm, grammar).text

    def _build_when_recognizer(self) -> tuple[Any, Any]:
        from ..speech.asr import get_recognizer
        from ..speech.grammar import Grammar
        from .callback_time import spoken_phrases
        try:
            return get_recognizer("whisper", None, self.config.whisper_model, self.config.whisper_threads), None
        except Exception as exc:  # noqa: BLE001 - any recogniser will do, a grammar keeps it honest
            log.warning("spoken callback times use %s with a phrase grammar: Whisper is unavailable (%s)",
                        self.config.asr_backend or "the default recogniser", exc)
            rec = get_recognizer(self.config.asr_backend, self.config.vosk_model, self.config.whisper_model,
                                 self.config.whisper_threads)
            return rec, Grammar(spoken_phrases())

    # -- dialing --------------------------------------------------------------
    def twilio_client(self) -> Any:
        if self._twilio_client is None:
            if not (self.settings.account_sid and self.config.auth_token):
                raise ConfigError("the Twilio REST API (dialing callbacks, recording calls) needs "
                                  "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
            from twilio.rest import Client
            self._twilio_client = Client(self.settings.account_sid, self.config.auth_token)
        return self._twilio_client

    def dialer(self) -> Any:

        if not self.settings.callback_from:
            raise ConfigError("dialing callbacks needs IVR_CALLBACK_FROM (a Twilio number, E.164)")
        if not self.config.public_url:
            raise ConfigError("dialing callbacks needs IVR_PUBLIC_URL (Twilio fetches the callback's TwiML there)")
        return Dialer(self.records, self.twilio_client(), self.settings.callback_from, self.config.public_url,
                      clock=self.clock)

    def close(self) -> None:
        if self.webhook is not None:
            self.webhook.close()
        self.transcriber.close()
