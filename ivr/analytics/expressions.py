"""Portable SQL pieces over the store's ``calls`` and ``call_events`` tables (SQLite and PostgreSQL).

Event data is a JSON column: SQLAlchemy renders ``data["x"].as_string()``
as ``JSON_EXTRACT`` on SQLite and ``->>`` on PostgreSQL, so fields are read in
SQL on both.  Two things differ between the two databases and are handled here:

* Booleans: SQLite's ``JSON_EXTRACT`` answers 1/0 for true/false and
  PostgreSQL's ``->>`` the text ``true``/``false``; ``as_boolean()`` is used
  only as a condition (``CASE WHEN ...``), where both mean the same.
* The UTC day of an epoch time has no common function: :class:`utc_day`
  compiles to ``strftime`` on SQLite and ``to_char(to_timestamp(...))`` on
  PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, String, and_, case, func
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from ..store.sql import call_events

ev = call_events.c


def field(name: str, data: Any = ev.data) -> ColumnElement[str]:
    """A text field of an event's data (NULL when absent or JSON null); ``data``: an aliased table's column."""
    return data[name].as_string()


def flag(name: str, data: Any = ev.data) -> ColumnElement[bool]:
    """A boolean field of an event's data, for use as a condition only (see the module docstring)."""
    return data[name].as_boolean()


def number(name: str, data: Any = ev.data) -> ColumnElement[int]:
    """An integer field of an event's data: read it only where the event kind guarantees a number."""
    return data[name].as_integer()


def count_if(condition: Any) -> ColumnElement[int]:
    """``SUM(CASE WHEN condition THEN 1 ELSE 0 END)``: how many rows of the group satisfy it."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def any_of(condition: Any) -> ColumnElement[int]:
    """1 when any row of the group satisfies ``condition``, else 0."""
    return func.coalesce(func.max(case((condition, 1), else_=0)), 0)


def event_is(kind: str, *conditions: Any) -> ColumnElement[bool]:
    """The event is of ``kind`` (and satisfies ``conditions``)."""
    return and_(ev.kind == kind, *conditions) if conditions else ev.kind == kind


class utc_day(FunctionElement):
    """``YYYY-MM-DD`` of an epoch-seconds column, in UTC."""

    type = String()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"strftime('%Y-%m-%d', {compiler.process(element.clauses, **kw)}, 'unixepoch')"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"to_char(to_timestamp({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


@compiles(utc_day)
def _utc_day_other(element: utc_day, compiler: Any, **kw: Any) -> str:
    raise CompileError(f"reports by day support SQLite and PostgreSQL, not {compiler.dialect.name}; "
                       "point IVR_DATABASE_URL at one of them")


def half(n: Any) -> ColumnElement[int]:
    """``n // 2`` as integer division in both databases (for the median's middle rows)."""
    return (n // 2).cast(Integer)
