"""The running parts of one IVR deployment, built once from a Config.

Shared by the web app, the simulator and the console so that they all run
calls the same way (same flows, store, hooks and driver).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .analytics import Analytics
from .auth import AuthConfigError, make_authenticator
from .calls.driver import TURN_DEADLINE, CallDriver
from .calls.pending import PendingTurns
from .calls.voice_auth import VoiceAuth
from .config import Config
from .errors import ConfigError, Problem
from .flow.loader import LoadedFlow
from .flow.registry import FlowSet
from .flow.validate import cross_check
from .hooks import HookRegistry
from .hooks import demo as demo_hooks
from .hooks import otp as otp_hooks
from .hooks.otp import OneTimeCodes, one_time_codes
from .prompts.durations import play_seconds
from .store import Store, open_store

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Flows, store, hooks and the call driver of one deployment."""

    config: Config
    flows: FlowSet
    store: Store
    hooks: HookRegistry
    driver: CallDriver
    pending: PendingTurns = field(default_factory=PendingTurns)
    """Keypad turns running on while the caller hears a holding message (:mod:`ivr.calls.pending`)."""
    on_close: list[Callable[[], None]] = field(default_factory=list)
    """Shutdown steps of optional layers (e.g. the background prompt renderer), run first."""
    otp: Optional[OneTimeCodes] = None
    """The built-in one-time codes behind ``otp.send``/``otp.check`` (tests give it a fake Twilio client)."""
    _analytics: Optional[Analytics] = field(default=None, repr=False)

    @property
    def analytics(self) -> Analytics:
        """Reports over this deployment's call records (built on first use: most processes never report)."""
        if self._analytics is None:
            records = getattr(self.store, "records", self.store)  # the Redis store keeps its records in SQL
            engine, url = getattr(records, "engine", None), getattr(records, "url", None)
            if engine is None or url is None:
                raise ConfigError("reports need the call records in SQL, and this store has none: "
                                  "set IVR_DATABASE_URL (SQLite or PostgreSQL)")
            self._analytics = analytics_for(engine, url)
            if self._analytics.engine is not engine:
                self.on_close.append(self._analytics.close)
        return self._analytics

    def close(self) -> None:
        while self.on_close:
            self.on_close.pop()()
        self.flows.close()
        self.pending.close()
        self.hooks.close()
        self.store.close()


def make_hooks(config: Config, codes: Optional[OneTimeCodes] = None) -> HookRegistry:
    """The hook registry: the built-in one-time codes (``otp.send``, ``otp.check``), demo hooks (unless
    disabled) plus IVR_HOOKS modules."""
    hooks = HookRegistry(secrets=config.environ)
    otp_hooks.register(hooks, codes or one_time_codes(config))
    if config.demo_hooks:
        demo_hooks.register(hooks)
    if config.hooks:
        hooks.load_modules(config.hooks)
    return hooks


def hook_validator(hooks: HookRegistry) -> Callable[[LoadedFlow], list[Problem]]:
    """Flow check: every action names a registered hook or one of the flow's HTTP hooks."""
    return lambda lf: cross_check(lf, known_hooks=hooks.names())


def build_services(config: Config, store: Optional[Store] = None,
                   clock: Optional[Callable[[], float]] = None) -> Services:
    """Build every part; raises ConfigError/StoreError with the fix when one cannot start."""
    import time

    codes = one_time_codes(config)
    hooks = make_hooks(config, codes)
    flows = FlowSet(config.flows_dir, validator=hook_validator(hooks), check_interval=config.flow_check_interval)
    store = store or open_store(config)
    driver = CallDriver(flows, store, hooks, clock=clock or time.time,
                        turn_deadline=config.turn_deadline or TURN_DEADLINE)
    driver.voice_auth = make_voice_auth(config, driver.clock, _sql_engine(store))
    driver.prompt_seconds = play_seconds(config)
    return Services(config, flows, store, hooks, driver, otp=codes)


def _sql_engine(store: Store) -> Any:
    """The records' SQL engine (voiceprints live beside the call records), or None."""
    engine = getattr(store, "engine", None)
    return engine if engine is not None else getattr(getattr(store, "records", None), "engine", None)


def analytics_for(engine: Any, url: str) -> Analytics:
    """Analytics over the records' database (``engine`` and the ``url`` the store was opened with).

    SQLite: the store's own engine (readers never wait for the writer in WAL
    mode, and an in-memory database exists only on that engine).  PostgreSQL:
    a small engine of its own on the same URL, because the store's engine is
    built for webhooks: a watchdog cuts any connection held longer than
    ``IVR_STORE_TIMEOUT`` (seconds), which a report over months of calls may need.
    The URL, not ``engine.url``: the store moves ``options`` (e.g. a search_path)
    from the URL into its connect arguments.
    """
    if engine.dialect.name == "sqlite":
        return Analytics(engine)
    return Analytics.from_url(url)


def make_voice_auth(config: Config, clock: Callable[[], float], engine: Any = None) -> Optional[VoiceAuth]:
    """The calls' voice authentication, or None when it is off.

    ``IVR_VOICE_AUTH`` set: that engine or a start-up error with the fix.
    Unset: the embedded engine when its weights are installed, else off (with a
    warning naming the install command), so a keypad-only deployment needs nothing.
    """
    try:
        authenticator = make_authenticator(config, engine)
    except AuthConfigError as exc:
        if config.voice_auth_explicit:
            raise
        log.warning("voice authentication is off: %s", exc)
        return None
    if authenticator is None:
        return None
    store = getattr(authenticator, "store", None)
    if store is not None:  # voiceprints unused for IVR_VOICEPRINT_TTL_DAYS go at every start-up
        purged = store.purge_expired()
        if purged:
            log.info("voice authentication: %d expired voiceprint(s) deleted", purged)
    return VoiceAuth(authenticator, clock=clock)
