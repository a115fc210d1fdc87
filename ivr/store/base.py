"""The store protocol: where call state and call records live.

Live call state (read and written on every turn) and records (call events,
context packets, history) have different needs, so the scaled
configuration keeps state in Redis and records in PostgreSQL; the default
keeps both in one SQLite file.

Deadlines: every call of every store is bounded by ``IVR_STORE_TIMEOUT``
(default 2 s) and raises :class:`~ivr.errors.StoreUnavailable` when the store
does not answer in time, is gone, or failed moments ago (a circuit breaker
makes the rest of a failing turn fail at once); Twilio's 15 s webhook
deadline must leave time for the apology and a person.  Other failures raise
:class:`~ivr.errors.StoreError`.

Serialised turns: a call's turns are serialised by compare-and-set on
:attr:`CallState.version` in the store itself (not a process lock), so the
rule holds across workers and hosts.  A turn loads the state at version N,
sets ``state.version = N + 1`` and saves with ``expected_version=N``; if
another turn saved first the save raises :class:`~ivr.errors.StoreConflict`
and writes nothing.
"""

from __future__ import annotations

from typing import Any, Optional, Protocol, Sequence

from ..engine.actions import RecordEvent
from ..engine.state import CallState


class Store(Protocol):
    """What transports and pages need from storage."""

    def load_state(self, call_id: str) -> Optional[CallState]:
        """The call's state (with the stored ``version``), or None for an unknown call."""

    def save(self, state: CallState, events: Sequence[RecordEvent] = (),
             expected_version: Optional[int] = None) -> None:
        """Persist the state and append call events.

        Args:
            state: the state to store; its ``version`` becomes the stored version.
            events: call events appended with it (in the same transaction).
            expected_version: None: write unconditionally (fallback transfers, records).
                Otherwise write only if the stored version equals it (an unknown call
                counts as version 0), atomically with the events.

        Raises:
            StoreConflict: the stored version differs; nothing (state or events) was written.
            StoreUnavailable: the store did not answer within its deadline, or is gone.
        """

    def context(self, call_id: str) -> Optional[dict[str, Any]]:
        """The call's context packet (as handed to a person), or None."""

    def history(self, caller: str, exclude: str = "", limit: int = 5) -> list[dict[str, Any]]:
        """Summaries of this caller's earlier calls, newest first."""

    def events(self, call_id: str) -> list[dict[str, Any]]:
        """The call's events in order."""

    def calls(self, limit: int = 50) -> list[dict[str, Any]]:
        """Recent calls, newest first (summaries)."""

    def close(self) -> None:
        """Release connections."""
