"""May this certificate sign now? Validity, trust and revocation of signer certificates.

:class:`CertificateChecker` is the hook the signing flow calls before it
prepares anything. :class:`ChainChecker` implements it with RFC 5280 path
validation (pyhanko-certvalidator: every issuer's signature is verified, up
to a configured trust anchor) and a fixed list of revoked certificates. The
embedded default builds one from the demo PKI (its root, its issuing CA and
its revocations: no CRL or OCSP over the network).

Production hook: give :func:`msign_soap.app.create_app` another checker — a
:class:`ChainChecker` with the national trust anchors, or a class of its own
that asks OCSP responders / fetches CRLs (a ``pyhanko_certvalidator``
``ValidationContext`` with ``allow_fetching=True`` and
``revocation_mode="hard-fail"`` does both).

Left out: revocation data other than the fixed list (CRLs, OCSP), name and
policy constraints beyond what certvalidator checks, qualified-certificate
statements (QcCompliance, QSCD).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    ExpiredError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    ValidationError,
)

from ..errors import SignerRejected
from ..i18n import messages

__all__ = ["CertificateChecker", "ChainChecker", "RevokedCertificate", "load_certificate"]


class CertificateChecker(Protocol):
    """Decides whether a certificate may sign at a given moment."""

    def check(self, certificate: bytes, chain: Sequence[bytes], moment: datetime) -> tuple[bytes, ...]:
        """Check ``certificate`` for signing at ``moment``.

        :param certificate: the signer's certificate, DER.
        :param chain: issuer certificates the signer offered (DER, any order;
            may be empty or incomplete).
        :param moment: the service's time (naive means UTC).
        :return: the validated chain above the certificate, DER, nearest
            issuer first, up to and including the trust anchor.
        :raises SignerRejected: with the reason's message ID
            (:data:`~msign_soap.i18n.messages.CERTIFICATE_EXPIRED`, …).
        """
        ...


@dataclass(frozen=True)
class RevokedCertificate:
    """A certificate its issuer has revoked, since ``revoked_at`` (naive means UTC)."""

    issuer: x509.Name
    serial_number: int
    revoked_at: datetime


def load_certificate(der: bytes) -> x509.Certificate:
    """Parse a DER certificate.

    :raises SignerRejected: :data:`~msign_soap.i18n.messages.CERTIFICATE_UNTRUSTED`
        for anything that is not one.
    """
    try:
        return x509.load_der_x509_certificate(bytes(der))
    except (ValueError, TypeError) as e:
        raise SignerRejected(messages.CERTIFICATE_UNTRUSTED, "not a DER X.509 certificate") from e


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


class ChainChecker:
    """A :class:`CertificateChecker`: validity period, key usage, a valid
    path to one of ``trust_roots``, and not in ``revoked``.

    :param trust_roots: the trust anchors (self-signed or not).
    :param intermediates: CA certificates to build paths with, besides those
        the signer offers.
    :param revoked: certificates known to be revoked.
    """

    def __init__(
        self,
        trust_roots: Sequence[x509.Certificate],
        intermediates: Sequence[x509.Certificate] = (),
        revoked: Iterable[RevokedCertificate] = (),
    ) -> None:
        self._roots = [asn1_x509.Certificate.load(_der(c)) for c in trust_roots]
        self._intermediates = [asn1_x509.Certificate.load(_der(c)) for c in intermediates]
        self._revoked = {(r.issuer.public_bytes(), r.serial_number): _aware(r.revoked_at) for r in revoked}

    def check(self, certificate: bytes, chain: Sequence[bytes], moment: datetime) -> tuple[bytes, ...]:
        when = _aware(moment)
        leaf = load_certificate(certificate)
        if when < leaf.not_valid_before_utc:
            raise SignerRejected(messages.CERTIFICATE_NOT_YET_VALID, f"valid from {leaf.not_valid_before_utc}")
        if when > leaf.not_valid_after_utc:
            raise SignerRejected(messages.CERTIFICATE_EXPIRED, f"expired {leaf.not_valid_after_utc}")
        _check_key_usage(leaf)
        path = self._validate_path(certificate, chain, when)
        revoked_at = self._revoked.get((leaf.issuer.public_bytes(), leaf.serial_number))
        if revoked_at is not None and revoked_at <= when:
            raise SignerRejected(messages.CERTIFICATE_REVOKED, f"revoked since {revoked_at}")
        return path

    def _validate_path(self, certificate: bytes, chain: Sequence[bytes], when: datetime) -> tuple[bytes, ...]:
        try:
            offered = [asn1_x509.Certificate.load(bytes(c)) for c in chain]
            for c in offered:
                c.native  # noqa: B018 - asn1crypto parses lazily; damage shows here
            context = ValidationContext(
                trust_roots=self._roots,
                other_certs=self._intermediates,
                moment=when,
                allow_fetching=False,
                # revocation is the fixed list's business (see check())
                revocation_mode="soft-fail",
            )
            validator = CertificateValidator(
                asn1_x509.Certificate.load(bytes(certificate)), offered, validation_context=context
            )
            path = asyncio.run(validator.async_validate_path())
        except ExpiredError as e:
            raise SignerRejected(messages.CERTIFICATE_EXPIRED, str(e)) from e
        except NotYetValidError as e:
            raise SignerRejected(messages.CERTIFICATE_NOT_YET_VALID, str(e)) from e
        except (PathBuildingError, PathValidationError, ValidationError, ValueError, TypeError) as e:
            raise SignerRejected(messages.CERTIFICATE_UNTRUSTED, str(e)) from e
        certs = [c.dump() for c in path.iter_certs(include_root=True)]
        return tuple(reversed(certs[:-1]))


def _check_key_usage(certificate: x509.Certificate) -> None:
    """A signer certificate with a KeyUsage must allow digitalSignature or nonRepudiation."""
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    except ValueError as e:  # a malformed extension
        raise SignerRejected(messages.CERTIFICATE_UNTRUSTED, f"unreadable extensions: {e}") from e
    if not (usage.digital_signature or usage.content_commitment):
        raise SignerRejected(messages.CERTIFICATE_UNTRUSTED, "key usage allows no signatures")
