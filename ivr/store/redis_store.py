"""Redis for live call state, SQL for records (the scaled configuration).

Every turn reads and writes the state; Redis answers that from memory and
expires abandoned states by itself.  Events, context packets and history
still go to the SQL store so they outlive Redis.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import redis

from ..engine.actions import RecordEvent
from ..engine.state import CallState
from ..errors import StoreError
from .crypto import SecretBox
from .sql import SqlStore

STATE_TTL = 6 * 3600


class RedisStore:
    """Live state in Redis (``ivr:call:<id>``), records in ``records``."""

    def __init__(self, url: str, records: SqlStore, box: SecretBox, prefix: str = "ivr:") -> None:
        self.records = records
        self.box = box
        self.prefix = prefix
        try:
            self.redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            self.redis.ping()
        except redis.RedisError as exc:
            raise StoreError(f"cannot reach Redis at IVR_REDIS_URL: {exc}; start Redis or unset IVR_REDIS_URL") from exc

    def _key(self, call_id: str) -> str:
        return f"{self.prefix}call:{call_id}"

    def load_state(self, call_id: str) -> Optional[CallState]:
        try:
            raw = self.redis.hmget(self._key(call_id), "state", "secrets")
        except redis.RedisError as exc:
            raise StoreError(f"Redis read failed: {exc}") from exc
        if raw[0] is None:
            return self.records.load_state(call_id)
        state = CallState.model_validate_json(raw[0])
        if raw[1]:
            state.secrets = self.box.open(raw[1].decode())
        return state

    def save(self, state: CallState, events: Sequence[RecordEvent] = ()) -> None:
        mapping = {"state": state.model_dump_json(exclude={"secrets"}),
                   "secrets": self.box.seal(state.secrets) if state.secrets else ""}
        try:
            pipe = self.redis.pipeline()
            pipe.hset(self._key(state.call_id), mapping=mapping)
            pipe.expire(self._key(state.call_id), STATE_TTL)
            pipe.execute()
        except redis.RedisError as exc:
            raise StoreError(f"Redis write failed: {exc}") from exc
        # Records: the SQL store keeps the public state (no secrets) and the events.
        public = state.model_copy(update={"secrets": {}})
        self.records.save(public, events)

    def context(self, call_id: str) -> Optional[dict[str, Any]]:
        return self.records.context(call_id)

    def history(self, caller: str, exclude: str = "", limit: int = 5) -> list[dict[str, Any]]:
        return self.records.history(caller, exclude, limit)

    def events(self, call_id: str) -> list[dict[str, Any]]:
        return self.records.events(call_id)

    def calls(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.records.calls(limit)

    def close(self) -> None:
        self.redis.close()
        self.records.close()
