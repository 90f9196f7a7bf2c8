"""Counting wrong PINs, for every cloud-key backend alike.

An attempt is counted *before* the PIN is checked (so that parallel guesses
cannot outrun the counter) and forgiven when the PIN is right; after
``max_attempts`` consecutive wrong ones the key refuses every PIN for
``lockout``, then starts counting afresh. The counter lives in the database
(a row per provider and IDNP with ``failed_attempts`` and ``locked_until``),
so every worker and host sees the same count.

The software keystore counts in its own ``cloud_key`` rows; the PKCS #11
backend in ``pin_counter`` rows (schema version 5), made on the first attempt
at a token that exists. An HSM that counts and locks by itself is not
hindered: whichever locks first, the user is told the key is locked.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..core.audit import AuditTrail
from ..core.audit_events import Event
from ..errors import ConfigurationError, KeyLocked, PinRejected, WrongPin
from ..i18n import messages
from ..store import Store
from ..store.transactions import locking

__all__ = ["PinCounter"]


class PinCounter:
    """The wrong-PIN counter of the keys of ``model`` (rows with ``provider``,
    ``idnp``, ``failed_attempts`` and ``locked_until``).

    :param clock: naive UTC now (the request service's clock).
    :param max_attempts: consecutive wrong PINs before a key locks.
    :param lockout: how long a locked key stays locked.
    :param create: make the row on the first attempt (else an IDNP without a
        row has no key: :meth:`reserve` gives ``None``).
    """

    def __init__(
        self,
        store: Store,
        model: Any,
        clock: Any,
        *,
        max_attempts: int = 5,
        lockout: timedelta = timedelta(minutes=15),
        create: bool = False,
    ) -> None:
        if max_attempts < 1:
            raise ConfigurationError("pin_attempts must be at least 1")
        self.store = store
        self.model = model
        self.clock = clock
        self.max_attempts = max_attempts
        self.lockout = lockout
        self.create = create
        #: Where each lockout is recorded, in the transaction that locks.
        self.audit = AuditTrail(store, clock)

    def reserve(self, provider: str, idnp: str) -> Any:
        """Count one attempt ahead of the PIN check; the row as it is now
        (``None`` if there is none and :attr:`create` is off).

        :raises KeyLocked: the key is locked now, or too many attempts run in parallel.
        """
        model = self.model
        now = self.clock()
        where = (model.provider == provider) & (model.idnp == idnp)
        locked: tuple[datetime, str] | None = None
        with self.store.db.connection_context(), self.store.write():
            if self.create:
                model.insert(provider=provider, idnp=idnp, failed_attempts=0).on_conflict_ignore().execute()
            # The UPDATE first: on PostgreSQL it holds the row until commit, so attempts queue.
            if not model.update(failed_attempts=model.failed_attempts + 1).where(where).execute():
                return None
            row = model.get(where)
            if row.locked_until is not None and row.locked_until > now:
                locked = (row.locked_until, "locked")
                model.update(failed_attempts=model.failed_attempts - 1).where(model.id == row.id).execute()
            elif row.locked_until is not None:  # the lock has run out: count afresh
                model.update(failed_attempts=1, locked_until=None).where(model.id == row.id).execute()
                row.failed_attempts, row.locked_until = 1, None
            elif row.failed_attempts > self.max_attempts:  # parallel attempts beyond the limit
                locked = (now + self.lockout, "too many parallel attempts")
                model.update(failed_attempts=0, locked_until=locked[0]).where(model.id == row.id).execute()
                self._record_lockout(provider, idnp, *locked)
        if locked is not None:
            until, why = locked
            raise KeyLocked(messages.KEY_LOCKED, until, f"{provider} key of {idnp}: {why} until {until}")
        return row

    def wrong(self, row_id: int, provider: str, idnp: str) -> PinRejected:
        """Record that the reserved attempt was a wrong PIN; the error to raise
        (:class:`KeyLocked` if this one locked the key, else :class:`WrongPin`)."""
        model = self.model
        until: datetime | None = None
        db = self.store.db
        with db.connection_context(), self.store.write():
            # locked on PostgreSQL: a wrong PIN checked at the same moment reads this one's count
            row = locking(db, model.select().where(model.id == row_id)).first()
            failed = row.failed_attempts if row is not None else self.max_attempts
            if failed >= self.max_attempts:
                until = self.clock() + self.lockout
                model.update(failed_attempts=0, locked_until=until).where(model.id == row_id).execute()
                self._record_lockout(provider, idnp, until, "wrong PIN")
        if until is not None:
            return KeyLocked(messages.KEY_LOCKED, until, f"{provider} key of {idnp}: wrong PIN, locked until {until}")
        return WrongPin(
            messages.WRONG_PIN, f"wrong PIN for {idnp} at {provider}", attempts_left=self.max_attempts - failed
        )

    def _record_lockout(self, provider: str, idnp: str, until: datetime, reason: str) -> None:
        detail = {"provider": provider, "idnp": idnp, "until": until.isoformat(timespec="seconds"), "reason": reason}
        self.audit.record(Event.PIN_LOCKOUT, detail=detail)

    def release(self, row_id: int) -> None:
        """The reserved attempt checked no PIN (the device failed): take it back."""
        model = self.model
        with self.store.db.connection_context(), self.store.write():
            model.update(failed_attempts=model.failed_attempts - 1).where(
                (model.id == row_id) & (model.failed_attempts > 0)
            ).execute()

    def forgive(self, row_id: int) -> None:
        """The PIN was right: the count starts afresh."""
        model = self.model
        with self.store.db.connection_context(), self.store.write():
            model.update(failed_attempts=0, locked_until=None).where(model.id == row_id).execute()
