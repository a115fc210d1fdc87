"""Storage of call state and call records: SQL (SQLite, PostgreSQL) and Redis behind one protocol."""

from .base import Store
from .crypto import SecretBox
from .deadline import Breaker
from .factory import open_store
from .redis_store import RedisStore
from .sql import SqlStore

__all__ = ["Breaker", "RedisStore", "SecretBox", "SqlStore", "Store", "open_store"]
