"""Queries whose SQL is generated once: the hot paths of the SOAP operations.

Peewee builds the SQL text of a query anew on each execution, which costs
more than SQLite takes to run a primary-key lookup. A :class:`Prepared` query
keeps the text (in the database's own parameter style) and fills in new
values each time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import peewee as pw

__all__ = ["Prepared", "PreparedInsert", "slot"]

_MARK = "\x00slot\x00"


def slot(name: str) -> str:
    """A placeholder for a string value supplied at execution time."""
    return f"{_MARK}{name}"


class Prepared:
    """A SELECT built once with :func:`slot` markers for its string parameters.

    :param query: a peewee SELECT of plain fields (no aliases).
    """

    def __init__(self, db: pw.Database, query: pw.ModelSelect) -> None:
        self.db = db
        self.sql, params = query.sql()
        self.params = list(params)
        self.slots = [i for i, p in enumerate(self.params) if isinstance(p, str) and p.startswith(_MARK)]
        self.fields: Sequence[pw.Field] = query._returning  # type: ignore[attr-defined]

    def rows(self, *values: str) -> list[SimpleNamespace]:
        """Run with ``values`` in the slots' order; rows as objects with the fields' names."""
        if len(values) != len(self.slots):
            raise TypeError(f"expected {len(self.slots)} values, got {len(values)}")
        params = list(self.params)
        for index, value in zip(self.slots, values, strict=True):
            params[index] = value
        cursor = self.db.execute_sql(self.sql, params)
        return [
            SimpleNamespace(**{f.name: f.python_value(v) for f, v in zip(self.fields, row, strict=True)})
            for row in cursor.fetchall()
        ]

    def one(self, *values: str) -> Any:
        """The first row, or ``None``."""
        rows = self.rows(*values)
        return rows[0] if rows else None


class PreparedInsert:
    """An INSERT of the named fields of ``model``, values converted by the fields."""

    def __init__(self, db: pw.Database, model: type[pw.Model], names: Sequence[str]) -> None:
        self.db = db
        self.fields = [model._meta.fields[name] for name in names]
        open_quote, close_quote = db.quote[0], db.quote[1]

        def quote(name: str) -> str:
            return f"{open_quote}{name}{close_quote}"

        columns = ", ".join(quote(f.column_name) for f in self.fields)
        placeholders = ", ".join([db.param] * len(self.fields))
        self.sql = f"INSERT INTO {quote(model._meta.table_name)} ({columns}) VALUES ({placeholders})"

    def execute(self, *rows: Mapping[str, Any]) -> None:
        """Insert ``rows``, each a mapping of every field name to its value."""
        for row in rows:
            self.db.execute_sql(self.sql, [f.db_value(row[f.name]) for f in self.fields])
