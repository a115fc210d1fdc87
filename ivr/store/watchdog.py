"""A client-side deadline for PostgreSQL connections.

libpq's own limits do not cover a server that stops answering on an open
connection while its host still acknowledges packets (a frozen or
overloaded server process, a stuck proxy): ``statement_timeout`` is
enforced by the server that has stopped, ``tcp_user_timeout`` and
keepalives only notice a silent host.  psycopg then waits for ever and the
webhook with it.  The :class:`Watchdog` puts a deadline on every checkout
of a pooled connection: when one is held past its deadline, it shuts the
connection's socket down, the blocked call fails at once with a
disconnection error, and SQLAlchemy discards that connection.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any, Optional

log = logging.getLogger(__name__)


class Watchdog:
    """Cuts database connections held longer than ``limit`` seconds.

    Args:
        limit: seconds a connection may stay checked out (the store timeout plus a margin,
            so that the server's own ``statement_timeout`` normally answers first).
        what: the database, as named in the log.
    """

    def __init__(self, limit: float, what: str) -> None:
        self.limit = limit
        self.what = what
        self._armed: dict[int, tuple[float, Any]] = {}
        self._cut_ids: set[int] = set()
        self._cond = threading.Condition()
        self._thread: Optional[threading.Thread] = None
        self._stopping = False

    def arm(self, dbapi_conn: Any) -> None:
        """The connection is in use from now: cut it if it is still in use after ``limit`` seconds."""
        with self._cond:
            self._armed[id(dbapi_conn)] = (time.monotonic() + self.limit, dbapi_conn)
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="ivr-db-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()

    def disarm(self, dbapi_conn: Any) -> None:
        """The connection went back to the pool (or was closed) in time."""
        with self._cond:
            self._armed.pop(id(dbapi_conn), None)

    def was_cut(self, dbapi_conn: Any) -> bool:
        """Whether this watchdog cut the connection (once: the answer is forgotten)."""
        with self._cond:
            if id(dbapi_conn) in self._cut_ids:
                self._cut_ids.discard(id(dbapi_conn))
                return True
            return False

    def close(self) -> None:
        """Stop the watchdog thread (it starts again on the next :meth:`arm`)."""
        with self._cond:
            self._stopping = True
            self._armed.clear()
            self._cut_ids.clear()
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=1.0)

    def _run(self) -> None:
        with self._cond:
            while not self._stopping:
                now = time.monotonic()
                for key, (deadline, conn) in list(self._armed.items()):
                    if deadline <= now:
                        del self._armed[key]
                        if self._cut(conn):
                            self._cut_ids.add(key)
                wait = min((d for d, _ in self._armed.values()), default=now + 60.0) - now
                self._cond.wait(timeout=max(0.01, wait))

    def _cut(self, conn: Any) -> bool:
        if getattr(conn, "closed", False):
            return False
        try:
            fd = conn.fileno()
            # shutdown() acts on the socket behind every descriptor of it: the driver's wait wakes up
            # with end-of-file and raises, without this thread closing a descriptor it does not own.
            with socket.socket(fileno=os.dup(fd)) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        except (OSError, ValueError, AttributeError) as exc:  # already closed meanwhile
            log.debug("watchdog: could not cut a connection: %s", exc)
            return False
        log.error("%s did not answer within %g s on an open connection: the connection was cut",
                  self.what, self.limit)
        return True
