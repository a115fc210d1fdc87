"""Redis for live call state, SQL for records (the scaled configuration).

Every turn reads and writes the state; Redis answers that from memory and
expires abandoned states by itself.  Events, context packets and history
still go to the SQL store so they outlive Redis.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Optional, Sequence

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..engine.actions import RecordEvent
from ..engine.state import CallState
from ..errors import StoreConflict, StoreError, StoreUnavailable
from .crypto import SecretBox
from .deadline import DEFAULT_TIMEOUT, Breaker
from .sql import SqlStore

STATE_TTL = 6 * 3600

# Compare-and-set of one call's hash, atomic in Redis.  ARGV: expected version, the version an
# absent key counts as ('' = unknown: answer 'absent' so the caller can look it up in the records),
# new version, state JSON, sealed secrets, TTL.
_CAS = """
local cur = redis.call('HGET', KEYS[1], 'version')
if not cur then
  if ARGV[2] == '' then return 'absent' end
  cur = ARGV[2]
end
if tonumber(cur) ~= tonumber(ARGV[1]) then return 'conflict' end
redis.call('HSET', KEYS[1], 'state', ARGV[4], 'secrets', ARGV[5], 'version', ARGV[3])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return 'ok'
"""


class RedisStore:
    """Live state in Redis (``ivr:call:<id>``: fields ``state``, ``secrets``, ``version``), records in ``records``.

    Args:
        url: ``IVR_REDIS_URL``.
        records: the SQL store that keeps events, context packets and history.
        box: encrypts sensitive values at rest.
        prefix: key prefix (tests use their own).
        timeout: seconds a Redis command may take (``IVR_STORE_TIMEOUT``); commands that time out
            are not retried, so the deadline holds.
    """

    def __init__(self, url: str, records: SqlStore, box: SecretBox, prefix: str = "ivr:",
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.records = records
        self.box = box
        self.prefix = prefix
        self.timeout = timeout
        self.breaker = Breaker("Redis (IVR_REDIS_URL)", cooldown=timeout)
        try:
            # One retry, on a broken connection only (a pooled connection from before a Redis restart);
            # redis-py's default retries timeouts too, which would multiply the deadline.
            self.redis = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                              retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)))
            self.redis.ping()
        except redis.RedisError as exc:
            raise StoreUnavailable(f"cannot reach Redis at IVR_REDIS_URL within {timeout:g} s: {exc}; "
                                   f"start Redis or unset IVR_REDIS_URL") from exc
        self._cas = self.redis.register_script(_CAS)

    def _key(self, call_id: str) -> str:
        return f"{self.prefix}call:{call_id}"

    @contextmanager
    def _call(self, doing: str) -> Iterator[None]:
        """One Redis call: fail fast while the breaker is open; map redis errors to StoreError."""
        self.breaker.check()
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            reason = f"{exc.__class__.__name__}: {exc}"
            self.breaker.trip(reason)
            raise StoreUnavailable(f"could not {doing}: Redis did not answer within {self.timeout:g} s ({reason}); "
                                   f"check that Redis at IVR_REDIS_URL is up and reachable; IVR_STORE_TIMEOUT "
                                   f"is the deadline") from exc
        except redis.RedisError as exc:
            raise StoreError(f"could not {doing} in Redis: {exc.__class__.__name__}: {exc}") from exc
        else:
            self.breaker.succeeded()

    def load_state(self, call_id: str) -> Optional[CallState]:
        with self._call(f"load call {call_id}"):
            raw = self.redis.hmget(self._key(call_id), "state", "secrets", "version")
        if raw[0] is None:
            return self.records.load_state(call_id)
        state = CallState.model_validate_json(raw[0])
        if raw[2] is not None:
            state.version = int(raw[2])
        if raw[1]:
            state.secrets = self.box.open(raw[1] if isinstance(raw[1], str) else raw[1].decode())
        return state

    def save(self, state: CallState, events: Sequence[RecordEvent] = (),
             expected_version: Optional[int] = None) -> None:
        """Live state to Redis (compare-and-set when ``expected_version`` is given), then the records.

        The Redis write decides a conflict, before anything is written; the
        records copy follows unconditionally.  If Redis has no state for the
        call (expired, or Redis was emptied) the records' version counts, so
        a call survives a Redis restart.
        """
        key = self._key(state.call_id)
        sealed = self.box.seal(state.secrets) if state.secrets else ""
        body = state.model_dump_json(exclude={"secrets"})
        doing = f"save call {state.call_id}"
        with self._call(doing):
            if expected_version is None:
                pipe = self.redis.pipeline()
                pipe.hset(key, mapping={"state": body, "secrets": sealed, "version": state.version})
                pipe.expire(key, STATE_TTL)
                pipe.execute()
            else:
                args = [expected_version, "", state.version, body, sealed, STATE_TTL]
                answer = self._cas(keys=[key], args=args)
                if answer in (b"absent", "absent"):
                    args[1] = self.records.stored_version(state.call_id)
                    answer = self._cas(keys=[key], args=args)
                if answer not in (b"ok", "ok"):  # bytes, or str with ?decode_responses=true
                    raise StoreConflict(f"call {state.call_id} was saved by another turn meanwhile (its stored "
                                        f"version is no longer {expected_version}); nothing was written: reload "
                                        f"the state and answer from it")
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
