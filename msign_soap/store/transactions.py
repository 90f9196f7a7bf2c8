"""Write transactions that do not deadlock on SQLite."""

from __future__ import annotations

from typing import Any

import peewee as pw

__all__ = ["write_transaction"]


def write_transaction(db: pw.Database) -> Any:
    """A transaction that will write.

    On SQLite it takes the write lock at BEGIN (``BEGIN IMMEDIATE``): two
    deferred transactions that each read first and write later deadlock, and
    SQLite then fails one at once instead of waiting out the busy timeout.
    """
    if isinstance(db, pw.SqliteDatabase):
        return db.atomic(lock_type="IMMEDIATE")
    return db.atomic()
