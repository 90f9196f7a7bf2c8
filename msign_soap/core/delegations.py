"""Delegations between persons: who may sign on whose behalf.

A request with ``DelegatorType=Person`` is signed by someone else than the
delegator (``DelegatorID``); the signer must hold a delegation registered
here (``msign-soap delegation add``). A delegation names a role
(``DelegatedRoleID``) or, with role 0, covers every role; a request that
names no role (0) is covered by any delegation between the two persons.

Left out: validity periods of delegations and an import from a national
register of powers of attorney.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee as pw

from ..errors import InvalidParameter
from ..store import Store
from .identifiers import is_valid_idn
from .requests import Clock, utcnow

__all__ = ["ANY_ROLE", "Delegation", "DelegationRegistry"]

#: The role of a delegation that covers every role.
ANY_ROLE = 0


@dataclass(frozen=True)
class Delegation:
    """``signer_idnp`` may sign on behalf of ``delegator_idnp`` (in ``role_id``; 0 = any)."""

    delegator_idnp: str
    signer_idnp: str
    role_id: int = ANY_ROLE
    created_at: datetime | None = None


def _check(delegator: str, signer: str, role_id: int | None) -> None:
    if not is_valid_idn(delegator):
        raise InvalidParameter("delegator", "must be a valid IDNP (13 digits, check digit 7-3-1)")
    if not is_valid_idn(signer):
        raise InvalidParameter("signer", "must be a valid IDNP (13 digits, check digit 7-3-1)")
    if delegator == signer:
        raise InvalidParameter("signer", "must differ from the delegator")
    if role_id is not None and (not isinstance(role_id, int) or isinstance(role_id, bool) or role_id < 0):
        raise InvalidParameter("role", f"must be a whole number, 0 or more, not {role_id!r}")


class DelegationRegistry:
    """The delegations stored in the database.

    :param store: the database.
    :param clock: returns the current naive-UTC time.
    """

    def __init__(self, store: Store, clock: Clock = utcnow) -> None:
        self.store = store
        self.clock = clock

    def add(self, delegator: str, signer: str, role_id: int = ANY_ROLE) -> Delegation:
        """Register a delegation; adding one that exists changes nothing.

        :raises InvalidParameter: an IDNP is malformed, they are equal, or the role is negative.
        """
        _check(delegator, signer, role_id)
        model = self.store.models.Delegation
        with self.store.db.connection_context():
            try:
                with self.store.write():
                    row = model.create(
                        delegator_idnp=delegator, signer_idnp=signer, role_id=role_id, created_at=self.clock()
                    )
            except pw.IntegrityError:  # already registered
                row = model.get(
                    (model.delegator_idnp == delegator) & (model.signer_idnp == signer) & (model.role_id == role_id)
                )
        return _delegation(row)

    def remove(self, delegator: str, signer: str, role_id: int | None = None) -> int:
        """Remove the delegations from ``delegator`` to ``signer``: the one for
        ``role_id``, or all of them when it is ``None``.

        :return: how many were removed.
        """
        _check(delegator, signer, role_id)
        model = self.store.models.Delegation
        condition = (model.delegator_idnp == delegator) & (model.signer_idnp == signer)
        if role_id is not None:
            condition &= model.role_id == role_id
        with self.store.db.connection_context(), self.store.write():
            return int(model.delete().where(condition).execute())

    def find(self, delegator: str | None = None, signer: str | None = None) -> list[Delegation]:
        """The delegations, optionally only those of a delegator or of a signer."""
        model = self.store.models.Delegation
        query = model.select().order_by(model.delegator_idnp, model.signer_idnp, model.role_id)
        if delegator is not None:
            query = query.where(model.delegator_idnp == delegator)
        if signer is not None:
            query = query.where(model.signer_idnp == signer)
        with self.store.db.connection_context():
            return [_delegation(row) for row in query]

    def allows(self, delegator: str, signer: str, role_id: int = ANY_ROLE) -> bool:
        """Whether ``signer`` may sign for ``delegator`` in ``role_id`` (see the module docstring)."""
        model = self.store.models.Delegation
        condition = (model.delegator_idnp == delegator) & (model.signer_idnp == signer)
        if role_id != ANY_ROLE:
            condition &= model.role_id.in_([ANY_ROLE, role_id])
        with self.store.db.connection_context():
            return bool(model.select(model.id).where(condition).exists())


def _delegation(row: Any) -> Delegation:
    return Delegation(row.delegator_idnp, row.signer_idnp, row.role_id, row.created_at)
