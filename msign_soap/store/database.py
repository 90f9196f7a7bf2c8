"""The database handle: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import peewee as pw
from playhouse.db_url import connect

from ..errors import ConfigurationError
from .migrations import migrate
from .models import Models, define_models
from .transactions import write_transaction

__all__ = ["Store", "open_store"]

# busy_timeout first: the pragmas run in this order, and switching a new file
# to WAL must already wait for a concurrent opener instead of failing at once.
_SQLITE_PRAGMAS = {
    "busy_timeout": 10000,
    "journal_mode": "wal",
    "synchronous": "normal",
    "foreign_keys": 1,
}
#: A new SQLite file is switched to WAL by whichever process opens it first;
#: that switch can answer "database is locked" without waiting, so opening is
#: retried for this long.
_OPEN_RETRY_SECONDS = 10.0


class Store:
    """A database together with its model classes."""

    def __init__(self, db: pw.Database) -> None:
        self.db = db
        self.models: Models = define_models(db)

    def write(self) -> Any:
        """A transaction that will write (see :func:`.write_transaction`)."""
        return write_transaction(self.db)

    def close(self) -> None:
        """Close the database (all pooled connections)."""
        close_all = getattr(self.db, "close_all", None)
        if close_all is not None:
            close_all()
        else:
            self.db.close()


def open_store(url: str) -> Store:
    """Open the database at ``url`` and bring its schema up to date.

    :param url: ``sqlite:///path`` or ``postgresql://user:pw@host/db``.
    :raises ConfigurationError: when the URL is not usable.
    """
    kwargs: dict[str, object] = {}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        url = url.replace("sqlite://", "sqlite+pool://", 1)
        kwargs = {"pragmas": _SQLITE_PRAGMAS, "check_same_thread": False, "max_connections": 32}
    elif url.startswith(("postgres://", "postgresql://")):
        url = url.replace("postgres://", "postgresql://", 1).replace("postgresql://", "postgresql+pool://", 1)
        kwargs = {"max_connections": 32}
    else:
        raise ConfigurationError(f"unsupported database URL scheme: {url.split(':', 1)[0]}")
    db = connect(url, **kwargs)
    store = Store(db)
    deadline = time.monotonic() + _OPEN_RETRY_SECONDS
    while True:
        try:
            with db.connection_context():
                migrate(db, store.models)
            return store
        except pw.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise ConfigurationError(f"cannot open the database: {e}") from e
            time.sleep(0.05)
        except pw.PeeweeException as e:
            raise ConfigurationError(f"cannot open the database: {e}") from e
