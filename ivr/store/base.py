"""The store protocol: where call state and call records live.

Live call state (read and written on every turn) and records (call events,
context packets, history) have different needs, so the scaled
configuration keeps state in Redis and records in PostgreSQL; the default
keeps both in one SQLite file.
"""

from __future__ import annotations

from typing import Any, Optional, Protocol, Sequence

from ..engine.actions import RecordEvent
from ..engine.state import CallState


class Store(Protocol):
    """What transports and pages need from storage."""

    def load_state(self, call_id: str) -> Optional[CallState]:
        """The call's state, or None for an unknown call."""

    def save(self, state: CallState, events: Sequence[RecordEvent] = ()) -> None:
        """Persist the state and append call events, atomically where the backend allows."""

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
