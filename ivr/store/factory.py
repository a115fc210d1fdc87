"""Which store a deployment gets: one decision, made from the configuration."""

from __future__ import annotations

from ..config import Config
from .base import Store
from .crypto import SecretBox
from .redis_store import RedisStore
from .sql import SqlStore


def open_store(config: Config) -> Store:
    """The store a configuration asks for (SQL, plus Redis for live state when IVR_REDIS_URL is set)."""
    box = SecretBox(config.secret_key or config.auth_token)
    records = SqlStore(config.db_url, box, timeout=config.store_timeout)
    if config.redis_url:
        return RedisStore(config.redis_url, records, box, timeout=config.store_timeout)
    return records
