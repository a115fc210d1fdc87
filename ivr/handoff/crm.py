"""The customer directory (a caller's earlier calls) and the outbound CRM webhook.

* :class:`CustomerDirectory` is the protocol the call driver asks for a
  caller's ``history`` when a call starts; :class:`StoreDirectory`, the
  default, reads our own store, so history works with nothing installed.
  :class:`HttpDirectory` asks a CRM over HTTP and falls back to the store.
* :class:`CrmWebhook` POSTs the context packet to a CRM the moment a caller
  is handed over, signed with HMAC-SHA256 (``X-IVR-Signature: t=<unix>,v1=<hex>``
  over ``"<t>.<body>"``), in the background so the caller never waits for it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Optional, Protocol

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-IVR-Signature"
EVENT_HEADER = "X-IVR-Event"
TOLERANCE_S = 300


class CustomerDirectory(Protocol):
    """Where a caller's earlier calls come from."""

    def history(self, caller: str, exclude: str = "", limit: int = 5) -> list[dict[str, Any]]:
        """Summaries of the caller's earlier calls, newest first (``started_at`` as ISO 8601)."""


class StoreDirectory:
    """History from our own call records (the default)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def history(self, caller: str, exclude: str = "", limit: int = 5) -> list[dict[str, Any]]:
        return self.store.history(caller, exclude=exclude, limit=limit)


class HttpDirectory:
    """History from a CRM: ``GET <url>?caller=...`` answering ``{"history": [...]}`` (signed request).

    Falls back to ``fallback`` (normally the store) when the CRM fails or is slow,
    so a CRM outage never delays or breaks a call.
    """

    def __init__(self, url: str, secret: Optional[str], fallback: CustomerDirectory, timeout: float = 1.5) -> None:
        import requests

        self.url, self.secret, self.fallback, self.timeout = url, secret, fallback, timeout
        self.session = requests.Session()

    def history(self, caller: str, exclude: str = "", limit: int = 5) -> list[dict[str, Any]]:
        headers = {}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, caller.encode())
        try:
            resp = self.session.get(self.url, params={"caller": caller, "limit": limit}, headers=headers,
                                    timeout=self.timeout)
            resp.raise_for_status()
            items = resp.json().get("history", [])
            return [h for h in items if isinstance(h, dict) and h.get("call_id") != exclude][:limit]
        except Exception as exc:  # any CRM trouble: our own records instead
            log.warning("CRM history lookup failed (%s); using the store", type(exc).__name__)
            return self.fallback.history(caller, exclude=exclude, limit=limit)


def sign(secret: str, body: bytes, at: Optional[int] = None) -> str:
    """The signature header value for ``body``: ``t=<unix>,v1=<hex hmac-sha256("<t>." + body)>``."""
    t = int(time.time() if at is None else at)
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: str, header: Optional[str], body: bytes, now: Optional[float] = None,
           tolerance: float = TOLERANCE_S) -> bool:
    """Whether a signature header is valid for ``body`` and fresh (receivers use this)."""
    if not header:
        return False
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        t = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance:
        return False
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, given)


class CrmWebhook:
    """Sends handoff events to a CRM URL in the background.

    Args:
        url: where to POST.
        secret: HMAC key; without one the request is sent unsigned (and a warning logged once).
        timeout: seconds per attempt; one retry after a failure.
    """

    def __init__(self, url: str, secret: Optional[str], timeout: float = 3.0,
                 clock: Callable[[], float] = time.time) -> None:
        import requests

        self.url, self.secret, self.timeout, self.clock = url, secret, timeout, clock
        self.session = requests.Session()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="crm-webhook")
        self._pending: list[Future] = []
        self.sent = 0
        self.failed = 0
        if not secret:
            log.warning("IVR_CRM_WEBHOOK_SECRET is not set: CRM webhooks are sent unsigned")

    def body(self, event: str, payload: dict[str, Any]) -> bytes:
        return json.dumps({"event": event, **payload}, separators=(",", ":"), ensure_ascii=False).encode()

    def send(self, event: str, payload: dict[str, Any]) -> Future:
        """Queue a POST; returns its future (tests wait on it, calls never do)."""
        body = self.body(event, payload)
        fut = self._pool.submit(self._post, event, body)
        self._pending = [f for f in self._pending if not f.done()] + [fut]
        return fut

    def _post(self, event: str, body: bytes) -> bool:
        headers = {"Content-Type": "application/json", EVENT_HEADER: event}
        for attempt in (1, 2):
            if self.secret:
                headers[SIGNATURE_HEADER] = sign(self.secret, body, int(self.clock()))
            try:
                resp = self.session.post(self.url, data=body, headers=headers, timeout=self.timeout)
                if resp.status_code < 300:
                    self.sent += 1
                    return True
                log.warning("CRM webhook answered %s (attempt %d)", resp.status_code, attempt)
            except Exception as exc:
                log.warning("CRM webhook failed: %s (attempt %d)", type(exc).__name__, attempt)
            time.sleep(0.2 * attempt)
        self.failed += 1
        return False

    def flush(self, timeout: float = 10.0) -> None:
        """Wait for queued deliveries (tests, shutdown)."""
        for f in list(self._pending):
            f.result(timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.session.close()
