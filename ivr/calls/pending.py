"""Turns that run on while the caller hears a holding message.

A keypad webhook must answer before Twilio gives up (15 s), and a caller
should not hear silence while a slow hook works.  So the web layer runs each
turn here, in a bounded pool, and waits only a short budget for it: if the
turn is not done, the webhook answers with a holding phrase and a
``<Redirect>``, and the redirected request waits on the *same* turn (found by
call id) for another short budget.  The driver still saves the turn and its
answer as usual, so a request that finds no turn here (another worker
process, a restart) reads the saved answer instead.

While a turn of a call is in flight, no ``<Gather>`` of that call is open, so
any other input webhook for the call is a Twilio retry: it waits on the
running turn rather than applying its input a second time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Callable, Optional

from ..flow.model import Flow
from .driver import Turn

log = logging.getLogger(__name__)

HOLD_AFTER = 2.5
"""Seconds a keypad webhook waits for its turn before answering with a holding message (``IVR_HOLD_AFTER``)."""
MAX_RUNNING = 32
"""Turns that may run at once in one process; more wait in the pool's queue (and hold, then reach a person)."""
KEEP_DONE = 1024
"""Finished turns kept for late redirects and retries before the oldest are forgotten (the store has them too)."""


@dataclass
class Pending:
    """One turn running (or run) in the background.

    Attributes:
        call_id: the call.
        turn: the call state's version when the input arrived (the turn's answer makes it ``turn + 1``).
        future: the driver's :class:`Turn`, when done.
        started: ``time.monotonic()`` when the turn was submitted.
        flow: the call's flow when the submitter knew it (the first turn, before any state is saved),
            so a holding message can be spoken in its language.
    """

    call_id: str
    turn: Optional[int]
    future: Future = field(repr=False)
    started: float = 0.0
    flow: Optional[Flow] = None

    def wait(self, seconds: float) -> Optional[Turn]:
        """The turn if it is done within ``seconds``, else None (it keeps running)."""
        try:
            return self.future.result(timeout=max(0.0, seconds))
        except FutureTimeout:
            return None

    def age(self) -> float:
        """Seconds since the turn was submitted."""
        return time.monotonic() - self.started


class PendingTurns:
    """The in-flight (and recently finished) background turns of one process, by call id.

    Args:
        max_running: worker threads; bounded so slow hooks cannot multiply threads.
        keep_done: finished turns remembered for redirects and retries.
    """

    def __init__(self, max_running: int = MAX_RUNNING, keep_done: int = KEEP_DONE) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_running, thread_name_prefix="ivr-turn")
        self._lock = threading.Lock()
        self._turns: OrderedDict[str, Pending] = OrderedDict()
        self.keep_done = keep_done

    def submit(self, call_id: str, turn: Optional[int], run: Callable[[], Turn],
               flow: Optional[Flow] = None) -> Pending:
        """Run ``run`` for ``call_id`` in the background, unless a turn of that call is still running.

        A running turn of the same call is returned instead: the request is a
        retry of the one that started it (see the module docstring).
        """
        with self._lock:
            current = self._turns.get(call_id)
            if current is not None and not current.future.done():
                log.info("call %s: a turn is still running; this request waits on it", call_id)
                return current
            pending = Pending(call_id, turn, self._pool.submit(run), time.monotonic(), flow)
            self._turns[call_id] = pending
            self._turns.move_to_end(call_id)
            self._forget_old()
            return pending

    def get(self, call_id: str) -> Optional[Pending]:
        """The call's latest background turn here, running or done (None: none known to this process)."""
        with self._lock:
            return self._turns.get(call_id)

    def give_up(self, pending: Pending) -> None:
        """The caller was sent to a person instead: a turn still queued never starts."""
        pending.future.cancel()

    def running(self) -> int:
        """Turns not done yet (for health)."""
        with self._lock:
            return sum(1 for p in self._turns.values() if not p.future.done())

    def _forget_old(self) -> None:
        while len(self._turns) > self.keep_done:
            oldest = next(iter(self._turns))
            if not self._turns[oldest].future.done():
                break
            del self._turns[oldest]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
