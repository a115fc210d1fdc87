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
    _analytics: Optional[Analytics] = field(default=None, repr=False)

    @property
    def analytics(self) -> Analytics:
        """Reports over this deployment's call records (built on first use: most processes never report)."""
        if self._analytics is None:
            engine = _sql_engine(self.store)
            if engine is None:
                raise ConfigError("reports need the call records in SQL, and this store has none: "
                                  "set IVR_DATABASE_URL (SQLite or PostgreSQL)")
            self._analytics = analytics_for(engine)
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


def make_hooks(config: Config) -> HookRegistry:
    """The hook registry: demo hooks (unless disabled) plus IVR_HOOKS modules."""
    hooks = HookRegistry(secrets=config.environ)
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

    hooks = make_hooks(config)
    flows = FlowSet(config.flows_dir, validator=hook_validator(hooks), check_interval=config.flow_check_interval)
    store = store or open_store(config)
    driver = CallDriver(flows, store, hooks, clock=clock or time.time,
                        turn_deadline=config.turn_deadline or TURN_DEADLINE)
    driver.voice_auth = make_voice_auth(config, driver.clock, _sql_engine(store))
    return Services(config, flows, store, hooks, driver)


def _sql_engine(store: Store) -> Any:
    """The records' SQL engine (voiceprints live beside the call records), or None."""
    engine = getattr(store, "engine", None)
    return engine if engine is not None else getattr(getattr(store, "records", None), "engine", None)


def analytics_for(engine: Any) -> Analytics:
    """Analytics over the records' database.

    SQLite: the store's own engine (readers never wait for the writer in WAL
    mode, and an in-memory database exists only on that engine).  PostgreSQL:
    a small engine of its own on the same URL, because the store's engine is
    built for webhooks: a watchdog cuts any connection held longer than
    ``IVR_STORE_TIMEOUT`` (seconds), which a report over months of calls may need.
    """
    if engine.dialect.name == "sqlite":
        return Analytics(engine)
    return Analytics.from_url(engine.url.render_as_string(hide_password=False))


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
