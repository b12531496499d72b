"""A cursor for the hand-written statements of the assignment feed's hot path (claim, submit, their reads).

It binds parameters on the server and prepares each statement on first use (psycopg's
`prepare=True`), so the connection parses and plans it once instead of on every request. Measured on the
next + submit cycle (docs/benchmarks.md, "Assignment"): PostgreSQL's CPU per cycle fell by about 40%, and the
server-side binding's parameters, dumped in C, cost less Python than Django's default client-side binding.
Only these statements take this path: the rest of Django keeps its default cursor, whose behaviour the
ORM's queries were written and tested against.

Errors are Django's (an IntegrityError is `django.db.IntegrityError`), a broken transaction is refused as
Django's own cursor refuses it, and statements are recorded where Django records queries (DEBUG, tests).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections


class PreparedCursor:
    # The connection wrapper itself, looked up once: each attribute read through django.db.connection goes
    # through its proxy and a context-local lookup, about a hundred times per next + submit cycle.
    def __init__(self, raw: Any, db: Any) -> None:
        self._raw = raw
        self._db = db

    def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> None:
        db = self._db
        db.validate_no_broken_transaction()
        started = time.monotonic()
        with db.wrap_database_errors:
            self._raw.execute(sql, params, prepare=True)
        if db.queries_logged:
            db.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})

    def fetchone(self) -> Any:
        with self._db.wrap_database_errors:
            return self._raw.fetchone()

    def fetchall(self) -> list[Any]:
        with self._db.wrap_database_errors:
            return list(self._raw.fetchall())


@contextmanager
def prepared_cursor() -> Iterator[Any]:
    """A cursor on Django's connection (and in its transaction, if one is open)."""
    db = connections[DEFAULT_DB_ALIAS]
    db.ensure_connection()
    with db.wrap_database_errors:
        raw = psycopg.Cursor(db.connection)
    try:
        yield PreparedCursor(raw, db)
    finally:
        raw.close()
