"""The running parts of one IVR deployment, built once from a Config.

Shared by the web app, the simulator and the console so that they all run
calls the same way (same flows, store, hooks and driver).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from .calls.driver import CallDriver
from .config import Config
from .errors import Problem
from .flow.loader import LoadedFlow
from .flow.registry import FlowSet
from .flow.validate import cross_check
from .hooks import HookRegistry
from .hooks import demo as demo_hooks
from .store import Store, open_store


@dataclass
class Services:
    """Flows, store, hooks and the call driver of one deployment."""

    config: Config
    flows: FlowSet
    store: Store
    hooks: HookRegistry
    driver: CallDriver
    on_close: list[Callable[[], None]] = field(default_factory=list)
    """Shutdown steps of optional layers (e.g. the background prompt renderer), run first."""

    def close(self) -> None:
        while self.on_close:
            self.on_close.pop()()
        self.flows.close()
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
    driver = CallDriver(flows, store, hooks, clock=clock or time.time)
    return Services(config, flows, store, hooks, driver)
