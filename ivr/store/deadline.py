"""Deadlines for store calls: fail fast once the store has failed to answer.

Every store call already has a client-side deadline (SQLite busy timeout,
PostgreSQL connect/statement/TCP timeouts, Redis socket timeouts; see
``IVR_STORE_TIMEOUT``).  That bounds one call, but a webhook turn that hits
it makes more calls on its way to a person: the driver's fallback loads the
state again and saves the transfer.  Each would wait a full timeout too, and
so would every other caller's turn in the meantime.  A :class:`Breaker`
remembers the failure: for ``cooldown`` seconds after a store call ran out
of time, calls raise :class:`~ivr.errors.StoreUnavailable` at once, so the
caller hears the apology after one timeout, not three.

After the cooldown the breaker closes by itself and the next calls try the
store again (no half-open probe: a trial costs at most one timeout, which a
turn's budget allows).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Optional

from ..errors import StoreUnavailable

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 2.0
"""Seconds; ``IVR_STORE_TIMEOUT``'s default (a turn's ~3 store calls stay well under Twilio's 15 s)."""


class Breaker:
    """Fails calls to one store at once for a while after it ran out of time.

    Args:
        what: the store, as named in messages (``SQLite database /x/ivr.sqlite3``).
        cooldown: seconds to fail fast after a failure (default: the store timeout, at least 1 s;
            long enough to cover the rest of the turn that failed).
        clock: monotonic seconds (tests pass a fake).
    """

    def __init__(self, what: str, cooldown: float = DEFAULT_TIMEOUT,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what = what
        self.cooldown = max(1.0, cooldown)
        self.clock = clock
        self._open_until = 0.0
        self._reason: Optional[str] = None
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self.clock() < self._open_until

    def check(self) -> None:
        """Raise StoreUnavailable at once while the breaker is open."""
        if self._reason is None:
            return
        if self.is_open:
            raise StoreUnavailable(f"{self.what} failed less than {self.cooldown:g} s ago ({self._reason}); "
                                   f"failing fast until it has had time to recover")

    def trip(self, reason: str) -> None:
        """Record a failure: fail fast for ``cooldown`` seconds, and log it once per outage."""
        with self._lock:
            first = self._reason is None
            self._reason = reason
            self._open_until = self.clock() + self.cooldown
        if first:
            log.error("%s unavailable: %s; store calls fail at once for %g s, then try again",
                      self.what, reason, self.cooldown)

    def succeeded(self) -> None:
        """Record a call that worked: the next failure is a new outage (and is logged again)."""
        if self._reason is not None:
            with self._lock:
                if self._reason is not None and not self.is_open:
                    log.warning("%s answers again", self.what)
                    self._reason = None
