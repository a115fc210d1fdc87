"""Dialing due callbacks through Twilio's REST API.

Each due callback is claimed (status ``dialing``) before the call is placed,
so two dialers never call a customer twice.  When the customer answers,
Twilio fetches ``/voice/queue/callback/connect`` (which queues them for a
person with the original call's context); the call's status callback
completes the request, or puts it back for a retry when nobody answered.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Optional
from urllib.parse import quote

log = logging.getLogger(__name__)

ANSWERED = {"completed", "in-progress", "answered"}
NOT_REACHED = {"busy", "no-answer", "failed", "canceled"}


class Dialer:
    """Places due callbacks.

    Args:
        records: the handoff records.
        client: a ``twilio.rest.Client`` (tests pass one whose http_client is a recording fake).
        from_number: caller ID for callbacks (a Twilio number of the account).
        base_url: the public base URL Twilio calls back.
        retry_minutes / max_attempts: when and how often to try again after no answer.
    """

    def __init__(self, records: Any, client: Any, from_number: str, base_url: str,
                 clock: Callable[[], float] = time.time, retry_minutes: float = 15, max_attempts: int = 3) -> None:
        self.records, self.client, self.from_number = records, client, from_number
        self.base_url = base_url.rstrip("/")
        self.clock, self.retry_minutes, self.max_attempts = clock, retry_minutes, max_attempts

    def _url(self, path: str, rid: str) -> str:
        return f"{self.base_url}/voice/queue/callback/{path}?id={quote(rid, safe='')}"

    def dial_due(self, limit: int = 10, queue: Optional[str] = None) -> list[dict[str, Any]]:
        """Dial every due callback (up to ``limit``); one result per attempt."""
        from twilio.base.exceptions import TwilioException

        now = self.clock()
        out: list[dict[str, Any]] = []
        for cb in self.records.due_callbacks(now, queue=queue, limit=limit):
            claimed = self.records.claim("callback", cb["id"], "dialer", now, status="dialing")
            if claimed is None:
                continue  # another dialer or an agent took it
            try:
                call = self.client.calls.create(
                    to=cb["number"], from_=self.from_number, url=self._url("connect", cb["id"]), method="POST",
                    status_callback=self._url("status", cb["id"]), status_callback_method="POST",
                    status_callback_event=["completed"], timeout=25)
            except TwilioException as exc:
                log.warning("callback %s: dial failed: %s", cb["id"], exc)
                self._not_reached(claimed, f"dial failed: {type(exc).__name__}", now)
                out.append({"id": cb["id"], "status": "error", "error": str(exc)[:200]})
                continue
            self.records.set_dial_sid(cb["id"], call.sid, now)
            out.append({"id": cb["id"], "status": "dialing", "call_sid": call.sid, "to": cb["number"]})
        return out

    def _not_reached(self, cb: dict[str, Any], note: str, now: float) -> None:
        if (cb.get("attempts") or 0) >= self.max_attempts:
            self.records.complete("callback", cb["id"], now, outcome="not_reached", note=note, status="failed")
        else:
            self.records.release(cb["id"], now, now + self.retry_minutes * 60, note=note)

    def on_status(self, rid: str, call_status: str, answered_by_person: bool = True) -> Optional[dict]:
        """The outbound call ended: complete the request, or retry it later."""
        now = self.clock()
        cb = self.records.get("callback", rid)
        if cb is None or cb["status"] not in ("dialing", "claimed"):
            return cb
        if call_status in ANSWERED and answered_by_person:
            return self.records.complete("callback", rid, now, outcome="answered")
        self._not_reached(cb, f"call {call_status}", now)
        return self.records.get("callback", rid)
