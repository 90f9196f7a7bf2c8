"""Who signs: the signer's IDNP and IDNO read from the certificate, checked
against the request's ExpectedSigner.

Moldovan qualified certificates carry the holder's IDNP in the subject's
``serialNumber``, bare (``2004001234567``) or with the semantics identifier
of ETSI EN 319 412-1 §5.1.3: ``PNOMD-`` (national personal number) or
``IDCMD-`` (identity card). A number under another country's prefix is not
an IDNP. An organization's IDNO is in ``organizationIdentifier``
(``NTRMD-`` + IDNO, §5.1.4) or, as MSign's certificates write it, at the end
of ``organizationName`` (``Întreprinderea SRL 1003600150048``).

The rules, in order:

- ``ExpectedSigner.ID`` given: the certificate's IDNP must equal it. With
  ``ID`` nil (allowed for ``Pdf``) anyone may sign; the IDNP is recorded.
- ``DelegatorType=Organization``: the certificate's IDNO must equal
  ``DelegatorID``.
- ``DelegatorType=Person``: a delegation from ``DelegatorID`` to the signer's
  IDNP must be registered (:mod:`.delegations`), for the request's
  ``DelegatedRoleID`` or for any role.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from ..errors import SignerRejected
from ..i18n import messages
from .identifiers import is_valid_idn
from .model import DelegatorType

__all__ = [
    "SignerExpectation",
    "SignerIdentity",
    "check_expected_signer",
    "idno_from_organization_identifier",
    "idnp_from_serial_number",
    "signer_identity",
]

_SERIAL_NUMBER = re.compile(r"(?:(?P<kind>PNO|IDC)(?P<country>[A-Z]{2})-)?(?P<number>\d{13})")
_ORGANIZATION_IDENTIFIER = re.compile(r"(?:NTRMD-)?(?P<number>\d{13})")
_TRAILING_IDNO = re.compile(r"(?<!\d)(?P<number>\d{13})$")

#: ``has_delegation(delegator_idnp, signer_idnp, role_id)``.
DelegationLookup = Callable[[str, str, int], bool]


@dataclass(frozen=True)
class SignerIdentity:
    """What the certificate says about its holder; ``None`` where it says nothing."""

    idnp: str | None
    idno: str | None


@dataclass(frozen=True)
class SignerExpectation:
    """The request's ExpectedSigner as stored (``role_id`` 0: no particular role)."""

    signer_id: str | None
    delegator_type: DelegatorType = DelegatorType.NONE
    delegator_id: str | None = None
    role_id: int = 0

    @classmethod
    def of(cls, request: Any) -> SignerExpectation:
        """The expectation of a stored ``SignRequest`` row."""
        return cls(
            signer_id=request.expected_signer_id if request.has_expected_signer else None,
            delegator_type=DelegatorType(request.delegator_type),
            delegator_id=request.delegator_id,
            role_id=request.delegated_role_id or 0,
        )


def idnp_from_serial_number(value: str) -> str | None:
    """The IDNP in a subject ``serialNumber`` value, or ``None``."""
    match = _SERIAL_NUMBER.fullmatch(value.strip().upper())
    if match is None or (match["country"] and match["country"] != "MD"):
        return None
    return match["number"]


def idno_from_organization_identifier(value: str) -> str | None:
    """The IDNO in an ``organizationIdentifier`` value (``NTRMD-…`` or bare), or ``None``."""
    match = _ORGANIZATION_IDENTIFIER.fullmatch(value.strip().upper())
    return match["number"] if match else None


def _values(name: x509.Name, oid: x509.ObjectIdentifier) -> list[str]:
    return [a.value for a in name.get_attributes_for_oid(oid) if isinstance(a.value, str)]


def signer_identity(certificate: x509.Certificate) -> SignerIdentity:
    """Read the holder's IDNP and organization IDNO from ``certificate``'s subject."""
    subject = certificate.subject
    idnp = next(filter(None, map(idnp_from_serial_number, _values(subject, NameOID.SERIAL_NUMBER))), None)
    idno = next(
        filter(None, map(idno_from_organization_identifier, _values(subject, NameOID.ORGANIZATION_IDENTIFIER))),
        None,
    )
    if idno is None:
        for organization in _values(subject, NameOID.ORGANIZATION_NAME):
            match = _TRAILING_IDNO.search(organization.strip())
            # a bare number at the end of a name is taken only if it is a well-formed IDNO
            if match and is_valid_idn(match["number"]):
                idno = match["number"]
                break
    return SignerIdentity(idnp=idnp, idno=idno)


def check_expected_signer(
    identity: SignerIdentity, expected: SignerExpectation, has_delegation: DelegationLookup
) -> None:
    """Apply the rules of the module docstring.

    :param has_delegation: looks up a registered delegation.
    :raises SignerRejected: with :data:`~msign_soap.i18n.messages.SIGNER_MISMATCH`,
        :data:`~msign_soap.i18n.messages.ORGANIZATION_MISMATCH` or
        :data:`~msign_soap.i18n.messages.NO_DELEGATION`.
    """
    if expected.signer_id is not None and identity.idnp != expected.signer_id:
        raise SignerRejected(messages.SIGNER_MISMATCH, f"certificate IDNP {identity.idnp}")
    if expected.delegator_type is DelegatorType.ORGANIZATION:
        if identity.idno is None or identity.idno != expected.delegator_id:
            raise SignerRejected(messages.ORGANIZATION_MISMATCH, f"certificate IDNO {identity.idno}")
    elif expected.delegator_type is DelegatorType.PERSON:
        if (
            identity.idnp is None
            or expected.delegator_id is None
            or not has_delegation(expected.delegator_id, identity.idnp, expected.role_id)
        ):
            raise SignerRejected(messages.NO_DELEGATION, f"no delegation {expected.delegator_id} -> {identity.idnp}")
