"""Named hooks that ``action`` nodes run, and how they are run.

Flow YAML can only *name* a hook; the deployment decides what each name
does by registering a Python callable (or the flow declares an HTTP hook
under ``hooks:``).  Designers therefore cannot make the server import or
call arbitrary code.

A hook receives a :class:`HookCall` and returns an outcome string, a dict
with an ``outcome`` key and data (the data become slots), or a
:class:`HookReply`.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Union

from ..engine.events import HookCompleted, HookFailed
from ..errors import ConfigError, HookError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HookCall:
    """What a hook is told: its arguments and who is calling (no sensitive values but args)."""

    name: str
    args: dict[str, Any]
    call_id: str
    caller: str
    flow: str
    node: str
    at: float = 0.0
    """When the hook runs, by the call's clock (epoch seconds): a hook that depends on the
    time reads this, not the wall clock, so simulated calls can pin the time."""


@dataclass(frozen=True)
class HookReply:
    """A hook's answer: an outcome to branch on, and data that become slots."""

    outcome: str
    data: dict[str, Any] = field(default_factory=dict)


HookFn = Callable[[HookCall], Union[str, dict, HookReply]]


def _reply(value: Any) -> HookReply:
    if isinstance(value, HookReply):
        return value
    if isinstance(value, str):
        return HookReply(value)
    if isinstance(value, dict):
        data = dict(value)
        outcome = data.pop("outcome", None)
        if not isinstance(outcome, str):
            raise HookError("a hook returning a dict must include 'outcome': '<text>'")
        return HookReply(outcome, data)
    if value is True or value is None:
        return HookReply("ok")
    if value is False:
        return HookReply("failed")
    raise HookError(f"a hook must return an outcome string, a dict with 'outcome' or HookReply, not {type(value).__name__}")


class HookRegistry:
    """The hooks one deployment offers to its flows.

    Args:
        max_workers: hooks that may run at once.
        secrets: where an HTTP hook's ``secret_env`` is looked up: the environment as the
            :class:`~ivr.config.Config` read it at start-up (``config.environ``), never
            ``os.environ`` during a call. Empty: HTTP hooks are sent unsigned.
    """

    def __init__(self, max_workers: int = 16, secrets: Optional[Mapping[str, str]] = None) -> None:
        self._hooks: dict[str, HookFn] = {}
        self.secrets: Mapping[str, str] = dict(secrets or {})
        self.max_workers = max_workers
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="ivr-hook")
        self._lock = threading.Lock()
        self._abandoned = 0

    @property
    def abandoned(self) -> int:
        """Hook threads still held by hooks that timed out (Python cannot stop a running thread).

        The pool is bounded (``max_workers``), so a hook that never returns holds one
        of its threads, never a new one: while every thread is held, later hooks wait
        in the pool's queue, time out and are cancelled there, and their callers reach
        a person. This count (logged on every timeout, shown by ``GET /api/health``)
        says when a back end is eating the pool.
        """
        with self._lock:
            return self._abandoned

    def _abandon(self, future: Any) -> int:
        """Count a timed-out hook's thread until its function returns at last; the count now."""
        if future.cancel():  # still queued: it will never run, so it holds nothing
            return self.abandoned
        with self._lock:
            self._abandoned += 1

        def released(_: Any) -> None:
            with self._lock:
                self._abandoned -= 1
        future.add_done_callback(released)
        return self.abandoned

    def register(self, name: str, fn: Optional[HookFn] = None) -> Any:
        """Register ``fn`` under ``name``; usable as a decorator: ``@registry.register("x")``."""
        def deco(f: HookFn) -> HookFn:
            if name in self._hooks:
                raise ConfigError(f"hook {name!r} is registered twice")
            self._hooks[name] = f
            return f
        return deco(fn) if fn is not None else deco

    def names(self) -> list[str]:
        return sorted(self._hooks)

    def __contains__(self, name: str) -> bool:
        return name in self._hooks

    def load_modules(self, modules: str) -> None:
        """Import deployment modules (comma-separated) and call their ``register(registry)``."""
        for mod_name in [m.strip() for m in modules.split(",") if m.strip()]:
            try:
                mod = importlib.import_module(mod_name)
            except ImportError as exc:
                raise ConfigError(f"IVR_HOOKS names module {mod_name!r}, which cannot be imported: {exc}") from exc
            register = getattr(mod, "register", None)
            if not callable(register):
                raise ConfigError(f"hook module {mod_name!r} needs a function register(registry)")
            register(self)

    def run(self, call: HookCall, timeout: float, http: Optional[dict] = None,
            clock: Callable[[], float] = time.time) -> HookCompleted | HookFailed:
        """Run a hook with a timeout; never raises (failures become HookFailed).

        Args:
            timeout: seconds to wait; the driver passes the smaller of the hook's own
                timeout and what is left of the turn's deadline. Zero or less: the hook
                is not started and counts as timed out.
        """
        started = time.perf_counter()

        def ms() -> float:
            return (time.perf_counter() - started) * 1000

        if call.name in self._hooks:
            fn: Callable[[], Any] = lambda: self._hooks[call.name](call)
        elif http is not None:
            fn = lambda: _http_hook(call, http, self.secrets)
        else:
            return HookFailed(f"hook {call.name!r} is not registered", at=clock(), ms=0.0)
        if timeout <= 0:
            log.warning("hook %s not started: the turn's deadline has passed (call %s)", call.name, call.call_id)
            return HookFailed("timeout", timed_out=True, at=clock(), ms=0.0)
        future = self._pool.submit(fn)
        try:
            reply = _reply(future.result(timeout=timeout))
        except FutureTimeout:
            held = self._abandon(future)
            log.warning("hook %s timed out after %.1fs (call %s); %d of %d hook threads held by timed-out hooks",
                        call.name, timeout, call.call_id, held, self.max_workers)
            return HookFailed("timeout", timed_out=True, at=clock(), ms=ms())
        except Exception as exc:  # a failing hook must send the caller to a person, not crash the call
            if _is_timeout(exc):
                log.warning("hook %s timed out (call %s)", call.name, call.call_id)
                return HookFailed("timeout", timed_out=True, at=clock(), ms=ms())
            log.warning("hook %s failed (call %s): %s", call.name, call.call_id, type(exc).__name__)
            return HookFailed(f"{type(exc).__name__}: {exc}", at=clock(), ms=ms())
        return HookCompleted(reply.outcome, dict(reply.data), at=clock(), ms=ms())

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _is_timeout(exc: BaseException) -> bool:
    """Whether an exception means the hook's back end was too slow (HTTP or socket timeouts)."""
    try:
        import requests
        if isinstance(exc, requests.Timeout):
            return True
    except ImportError:  # pragma: no cover
        pass
    return isinstance(exc, TimeoutError)


def sign_body(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of a request body, sent as ``X-IVR-Signature: sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _http_hook(call: HookCall, spec: dict, secrets: Mapping[str, str]) -> Any:
    """Call an HTTP hook: JSON ``{hook, args, call_id, caller, flow, node}`` in, hook reply JSON out.

    Signed when the hook's ``secret_env`` names a variable set in ``secrets``.
    """
    import requests

    body = json.dumps({"hook": call.name, "args": call.args, "call_id": call.call_id,
                       "caller": call.caller, "flow": call.flow, "node": call.node}).encode()
    headers = {"Content-Type": "application/json"}
    secret_env = spec.get("secret_env")
    secret = secrets.get(secret_env) if secret_env else None
    if secret:
        headers["X-IVR-Signature"] = sign_body(secret, body)
    if spec.get("method", "POST") == "GET":
        resp = requests.get(spec["url"], params={"hook": call.name, **{k: str(v) for k, v in call.args.items()}},
                            timeout=spec.get("timeout", 3))
    else:
        resp = requests.post(spec["url"], data=body, headers=headers, timeout=spec.get("timeout", 3))
    resp.raise_for_status()
    return resp.json()
