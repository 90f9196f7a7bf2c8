"""The demo's state: one JSON file per sign request, its signed files beside it.

Layout under ``state_dir``::

    requests/<RequestID>.json     what the demo knows of the request (below)
    files/<RequestID>/<n>.pdf     the n-th signed PDF   (Pdf requests)
    files/<RequestID>/<n>.xml     the n-th XAdES        (Hash requests)
    state.lock                    serialises read-modify-write (flock)

A request's JSON holds the MSign ``RequestID``, the ``RelayState`` the demo
sent with the browser, the contents (name, correlation ID, size of a PDF,
SHA-1 of a hashed content), the last status and message, the signers, the
verdicts of each verification and the background job in progress. Files are
replaced atomically (write, then rename), and every change is made under an
exclusive ``flock`` on ``state.lock``, so that several threads or worker
processes may share a directory. It is a demo: nothing is ever deleted.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import NotFound

__all__ = ["Record", "Store", "valid_request_id"]

Record = dict[str, Any]

#: What a RequestID may look like to name a file (MSign's are 32 hex digits).
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def valid_request_id(value: str) -> bool:
    """Whether ``value`` can be a RequestID (and so a file name)."""
    return bool(_REQUEST_ID.fullmatch(value))


class Store:
    """The state directory ``directory`` (created if missing)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        (self.directory / "requests").mkdir(parents=True, exist_ok=True)
        (self.directory / "files").mkdir(parents=True, exist_ok=True)
        self._lock_path = self.directory / "state.lock"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self._lock_path, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _path(self, request_id: str) -> Path:
        if not valid_request_id(request_id):
            raise NotFound(f"no request {request_id!r}")
        return self.directory / "requests" / f"{request_id}.json"

    def create(self, record: Record) -> None:
        """Store a new request's record (``record["request_id"]`` names it)."""
        path = self._path(record["request_id"])
        with self._locked():
            _write_atomically(path, json.dumps(record, indent=1).encode())

    def get(self, request_id: str) -> Record:
        """The record of ``request_id``.

        :raises NotFound: no such request.
        """
        path = self._path(request_id)
        try:
            return json.loads(path.read_bytes())  # type: ignore[no-any-return]
        except FileNotFoundError as e:
            raise NotFound(f"no request {request_id!r}") from e

    def update(self, request_id: str, change: Callable[[Record], None]) -> Record:
        """Apply ``change`` to the record in place, under the lock; the new record.

        :raises NotFound: no such request.
        """
        path = self._path(request_id)
        with self._locked():
            record = self.get(request_id)
            change(record)
            _write_atomically(path, json.dumps(record, indent=1).encode())
        return record

    def recent(self, limit: int = 20) -> list[Record]:
        """The last ``limit`` requests, newest first."""
        paths = sorted((self.directory / "requests").glob("*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
        records = []
        for path in paths[:limit]:
            try:
                records.append(json.loads(path.read_bytes()))
            except (OSError, ValueError):
                continue  # replaced or half-written by another process: skip it
        return records

    def file_path(self, request_id: str, name: str) -> Path:
        """Where the request's file ``name`` is kept."""
        self._path(request_id)  # validates the RequestID
        if not re.fullmatch(r"[0-9]+\.(pdf|xml)", name):
            raise NotFound(f"no file {name!r}")
        return self.directory / "files" / request_id / name

    def write_file(self, request_id: str, name: str, data: bytes) -> None:
        path = self.file_path(request_id, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, data)

    def read_file(self, request_id: str, name: str) -> bytes:
        """:raises NotFound: no such file."""
        try:
            return self.file_path(request_id, name).read_bytes()
        except FileNotFoundError as e:
            raise NotFound(f"no file {name!r} for request {request_id!r}") from e


def _write_atomically(path: Path, data: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
