"""Reading and writing large documents without copying them whole inside the database driver."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

import peewee as pw

__all__ = ["insert_with_blob", "read_blob_into"]

#: Blobs at least this large go to SQLite in pieces of this size.
CHUNK = 1024 * 1024


def insert_with_blob(
    db: pw.Database, model: type[pw.Model], values: Mapping[str, Any], name: str, blob: bytes | bytearray | memoryview
) -> None:
    """INSERT a row of ``model``: ``values``, and ``blob`` in its field ``name``.

    SQLite copies a bound value, then copies it again into the record it
    builds: a 50 MB signed PDF would cost 100 MB more on the way in. There the
    row is inserted with a ``zeroblob`` placeholder and the blob written into it
    piece by piece (incremental blob I/O, in the caller's transaction). Other
    databases, and small blobs, get a plain INSERT.
    """
    if not isinstance(db, pw.SqliteDatabase) or len(blob) < CHUNK:
        model.insert(**values, **{name: blob}).execute()
        return
    column = model._meta.fields[name].column_name  # type: ignore[attr-defined]
    with memoryview(blob) as view, view.cast("B") as data:
        row_id = model.insert(**values, **{name: pw.fn.zeroblob(len(data))}).execute()
        with db.connection().blobopen(model._meta.table_name, column, row_id) as target:  # type: ignore[attr-defined]
            for start in range(0, len(data), CHUNK):
                target.write(data[start : start + CHUNK])


def read_blob_into(db: pw.Database, model: type[pw.Model], name: str, row_id: int, target: memoryview) -> bool:
    """Copy the blob in field ``name`` of ``model``'s row ``row_id`` into ``target``.

    A SELECT of a blob costs two copies (SQLite's, then Python's bytes); on
    SQLite the blob is read piece by piece straight into ``target`` instead.

    :return: ``False`` (``target`` untouched) if the row is gone, the value
        NULL, or its size not ``len(target)``.
    """
    field = model._meta.fields[name]  # type: ignore[attr-defined]
    if not isinstance(db, pw.SqliteDatabase):
        value = model.select(field).where(model._meta.primary_key == row_id).scalar()  # type: ignore[attr-defined]
        if value is None or len(value) != len(target):
            return False
        # psycopg2 gives a memoryview of format "c", which a "B" view will not take as it is
        with memoryview(value) as source, source.cast("B") as data:
            target[:] = data
        return True
    try:
        source = db.connection().blobopen(model._meta.table_name, field.column_name, row_id, readonly=True)  # type: ignore[attr-defined]
    except sqlite3.OperationalError:  # no such row, or NULL (not a blob)
        return False
    with source:
        if len(source) != len(target):
            return False
        for start in range(0, len(target), CHUNK):
            target[start : start + CHUNK] = source.read(CHUNK)
    return True
