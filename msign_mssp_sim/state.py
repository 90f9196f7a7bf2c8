"""The simulator's state in its own SQLite file (WAL): the signature
transactions and each SIM's wrong-PIN count, so that every worker process of
the service that mounts the simulator sees the same phones.

Times are naive UTC, stored as ISO 8601 text. A connection is opened per
operation; writes take the lock at ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

__all__ = ["PENDING", "REFUSED", "SIGNED", "BLOCKED", "State", "Transaction"]

PENDING = "pending"
SIGNED = "signed"
REFUSED = "refused"
BLOCKED = "blocked"

#: Finished transactions are forgotten this long after they were made.
_KEEP = timedelta(days=1)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS mss_transaction (
    mssp_trans_id TEXT PRIMARY KEY,
    ap_id TEXT NOT NULL,
    ap_trans_id TEXT NOT NULL,
    msisdn TEXT NOT NULL,
    digest BLOB NOT NULL,
    display_text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    status TEXT NOT NULL,
    signature BLOB,
    UNIQUE (ap_id, ap_trans_id)
);
CREATE INDEX IF NOT EXISTS mss_transaction_phone ON mss_transaction (msisdn, status);
CREATE TABLE IF NOT EXISTS sim_pin (
    msisdn TEXT PRIMARY KEY,
    failed INTEGER NOT NULL DEFAULT 0,
    blocked_until TEXT
);
"""


@dataclass(frozen=True)
class Transaction:
    mssp_trans_id: str
    ap_id: str
    ap_trans_id: str
    msisdn: str
    digest: bytes
    display_text: str
    created_at: datetime
    expires_at: datetime
    status: str
    signature: bytes | None


def _row(row: sqlite3.Row) -> Transaction:
    return Transaction(
        mssp_trans_id=row["mssp_trans_id"],
        ap_id=row["ap_id"],
        ap_trans_id=row["ap_trans_id"],
        msisdn=row["msisdn"],
        digest=bytes(row["digest"]),
        display_text=row["display_text"],
        created_at=datetime.fromisoformat(row["created_at"]),
        expires_at=datetime.fromisoformat(row["expires_at"]),
        status=row["status"],
        signature=bytes(row["signature"]) if row["signature"] is not None else None,
    )


class State:
    """The transactions and PIN counters in the SQLite file at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def add(self, transaction: Transaction) -> bool:
        """Store a new pending transaction; False when the AP has used its AP_TransID already."""
        t = transaction
        with self._write() as db:
            db.execute("DELETE FROM mss_transaction WHERE created_at < ?", ((t.created_at - _KEEP).isoformat(),))
            try:
                db.execute(
                    "INSERT INTO mss_transaction VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        t.mssp_trans_id,
                        t.ap_id,
                        t.ap_trans_id,
                        t.msisdn,
                        t.digest,
                        t.display_text,
                        t.created_at.isoformat(),
                        t.expires_at.isoformat(),
                        t.status,
                        t.signature,
                    ),
                )
            except sqlite3.IntegrityError:
                return False
        return True

    def get(self, mssp_trans_id: str) -> Transaction | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM mss_transaction WHERE mssp_trans_id = ?", (mssp_trans_id,)).fetchone()
        return _row(row) if row else None

    def pending(self, msisdn: str, now: datetime) -> list[Transaction]:
        """The transactions waiting for the phone's answer, oldest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT * FROM mss_transaction WHERE msisdn = ? AND status = ? AND expires_at > ?"
                " ORDER BY created_at, rowid",
                (msisdn, PENDING, now.isoformat()),
            ).fetchall()
        return [_row(r) for r in rows]

    def answer(self, mssp_trans_id: str, status: str, now: datetime, signature: bytes | None = None) -> bool:
        """End a pending, unexpired transaction as ``status``; False if it was not pending any more."""
        with self._write() as db:
            changed = db.execute(
                "UPDATE mss_transaction SET status = ?, signature = ?"
                " WHERE mssp_trans_id = ? AND status = ? AND expires_at > ?",
                (status, signature, mssp_trans_id, PENDING, now.isoformat()),
            ).rowcount
        return changed == 1

    def blocked_until(self, msisdn: str, now: datetime) -> datetime | None:
        """Until when the SIM's PIN is blocked, if it is now."""
        with self._connect() as db:
            row = db.execute("SELECT blocked_until FROM sim_pin WHERE msisdn = ?", (msisdn,)).fetchone()
        if row is None or row["blocked_until"] is None:
            return None
        until = datetime.fromisoformat(row["blocked_until"])
        return until if until > now else None

    def wrong_pin(self, msisdn: str, now: datetime, attempts: int, lockout: timedelta) -> int:
        """Count a wrong PIN; return the attempts left (0: the SIM is now
        blocked, and its pending transactions with it)."""
        with self._write() as db:
            row = db.execute("SELECT failed, blocked_until FROM sim_pin WHERE msisdn = ?", (msisdn,)).fetchone()
            failed = row["failed"] if row else 0
            if row and row["blocked_until"] and datetime.fromisoformat(row["blocked_until"]) <= now:
                failed = 0  # the last block is over: count afresh
            failed += 1
            blocked = (now + lockout).isoformat() if failed >= attempts else None
            db.execute(
                "INSERT INTO sim_pin (msisdn, failed, blocked_until) VALUES (?, ?, ?)"
                " ON CONFLICT (msisdn) DO UPDATE SET failed = excluded.failed, blocked_until = excluded.blocked_until",
                (msisdn, 0 if blocked else failed, blocked),
            )
            if blocked:
                db.execute(
                    "UPDATE mss_transaction SET status = ? WHERE msisdn = ? AND status = ?",
                    (BLOCKED, msisdn, PENDING),
                )
        return 0 if blocked else attempts - failed

    def right_pin(self, msisdn: str) -> None:
        """Forget the wrong PINs of a SIM."""
        with self._write() as db:
            db.execute("UPDATE sim_pin SET failed = 0 WHERE msisdn = ?", (msisdn,))
