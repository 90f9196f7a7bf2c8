"""Write transactions that do not deadlock on SQLite, and PostgreSQL's advisory locks."""

from __future__ import annotations

from typing import Any, TypeVar

import peewee as pw

__all__ = ["advisory_lock", "locking", "write_transaction"]

Query = TypeVar("Query", bound=pw.SelectBase)


def write_transaction(db: pw.Database) -> Any:
    """A transaction that will write.

    On SQLite it takes the write lock at BEGIN (``BEGIN IMMEDIATE``): two
    deferred transactions that each read first and write later deadlock, and
    SQLite then fails one at once instead of waiting out the busy timeout.
    """
    if isinstance(db, pw.SqliteDatabase):
        return db.atomic(lock_type="IMMEDIATE")
    return db.atomic()


def advisory_lock(db: pw.Database, key: int) -> None:
    """Inside a write transaction: wait for the lock named ``key``, held until
    the transaction ends, by whatever process or host takes it.

    On PostgreSQL a transaction-level advisory lock; on SQLite nothing, as
    ``BEGIN IMMEDIATE`` (:func:`write_transaction`) already holds the
    database's one write lock.

    :param key: a signed 64-bit number naming the lock.
    """
    if isinstance(db, pw.PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (key,))


def locking(db: pw.Database, query: Query) -> Query:
    """``query`` as a ``SELECT … FOR UPDATE`` where the database has it
    (PostgreSQL), for a write transaction that reads rows to change them.

    Two such transactions then take their rows in turn: the second waits for
    the first to commit and reads the rows as they are then (gone, or no
    longer matching), instead of changing them a second time. Give the query
    an ORDER BY, so that both lock in the same order. SQLite needs nothing:
    ``BEGIN IMMEDIATE`` has already made the transactions take turns.
    """
    return query.for_update() if db.for_update else query  # type: ignore[attr-defined]
