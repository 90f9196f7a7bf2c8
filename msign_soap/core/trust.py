"""May this certificate sign now? Validity, trust and revocation of signer certificates.

:class:`CertificateChecker` is the hook the signing flow calls before it
prepares anything. :class:`ChainChecker` implements it with RFC 5280 path
validation (pyhanko-certvalidator: every issuer's signature is verified, up
to a configured trust anchor), a fixed list of revoked certificates and,
optionally, revocation data fetched over HTTP (OCSP, RFC 6960; CRLs, RFC
5280) from the URLs in the certificates. The embedded default builds one from
the demo PKI (its root, its issuing CA and its revocations: no network);
production builds one from the ``trust_anchors`` setting
(:func:`load_trust_anchors`) with ``revocation`` ``hard``, ``soft`` or ``off``.
:meth:`ChainChecker.validation_context` gives PAdES B-LT the same anchors
and revocation sources.

Fetching is bounded (a timeout per request, at most
:data:`MAX_FETCHES` requests per validation) and refuses certificates whose
revocation or issuer URLs name loopback, private, link-local or reserved
addresses, unless the checker is told they are allowed. The check resolves
the names before validation; it does not pin the address the fetcher then
connects to.

Left out: name and policy constraints beyond what certvalidator checks,
qualified-certificate statements (QcCompliance, QSCD), proxies.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

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
from pyhanko_certvalidator.fetchers.api import FetchLimits
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

from ..errors import ConfigurationError, SignerRejected
from ..i18n import messages
from ..signing.certificates import load_certificates

__all__ = [
    "MAX_FETCHES",
    "CertificateChecker",
    "ChainChecker",
    "RevokedCertificate",
    "load_certificate",
    "load_trust_anchors",
]

#: Most OCSP/CRL/certificate requests one validation may make.
MAX_FETCHES = 20
#: :class:`ChainChecker` revocation modes and certvalidator's names for them.
_REVOCATION_MODES = {"hard": "hard-fail", "soft": "soft-fail", "off": "soft-fail"}
_CERTIFICATE_SUFFIXES = (".pem", ".crt", ".cer", ".der")


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
    :param revocation: ``off`` (only ``revoked``), ``soft`` (also fetch OCSP
        responses / CRLs; refuse a revoked certificate, accept an unknown
        status) or ``hard`` (the status of every certificate on the path must
        be had, and good).
    :param timeout: seconds per fetch.
    :param allow_private_addresses: let certificates send fetches to
        loopback, private, link-local or reserved addresses (only for a PKI
        this service runs itself).
    :param crls: current CRLs (DER) to hand to :meth:`validation_context`,
        e.g. those a demo PKI issues; called each time. :meth:`check` does
        not use them (``revoked`` is the same list, as of any moment).
    """

    def __init__(
        self,
        trust_roots: Sequence[x509.Certificate],
        intermediates: Sequence[x509.Certificate] = (),
        revoked: Iterable[RevokedCertificate] = (),
        *,
        revocation: str = "off",
        timeout: float = 10.0,
        allow_private_addresses: bool = False,
        crls: Callable[[], Iterable[bytes]] | None = None,
    ) -> None:
        if revocation not in _REVOCATION_MODES:
            raise ConfigurationError(f"revocation must be one of {', '.join(_REVOCATION_MODES)}, not {revocation!r}")
        if not trust_roots:
            raise ConfigurationError("a certificate checker needs at least one trust anchor")
        self._roots = [asn1_x509.Certificate.load(_der(c)) for c in trust_roots]
        self._intermediates = [asn1_x509.Certificate.load(_der(c)) for c in intermediates]
        self._revoked = {(r.issuer.public_bytes(), r.serial_number): _aware(r.revoked_at) for r in revoked}
        self.revocation = revocation
        self.timeout = timeout
        self.allow_private_addresses = allow_private_addresses
        self._crls = crls

    def validation_context(self, moment: datetime | None = None) -> ValidationContext:
        """A fresh certvalidator context with this checker's anchors, intermediates
        and revocation sources (fetching unless ``revocation`` is ``off``): what
        PAdES B-LT gathers its validation data with. A context is used once.
        """
        crls = list(self._crls()) if self._crls is not None else None
        return self._context(None if moment is None else _aware(moment), crls)

    def _context(self, moment: datetime | None, crls: list[bytes] | None = None) -> ValidationContext:
        fetching = self.revocation != "off"
        return ValidationContext(
            trust_roots=self._roots,
            other_certs=self._intermediates,
            moment=moment,
            crls=crls,
            allow_fetching=fetching,
            # "off": revocation is the fixed list's business (see check())
            revocation_mode=_REVOCATION_MODES[self.revocation],
            fetcher_backend=(
                RequestsFetcherBackend(self.timeout, limits=FetchLimits(max_requests=MAX_FETCHES)) if fetching else None
            ),
        )

    def screen_fetch_urls(self, certificates: Iterable[bytes]) -> None:
        """Refuse certificates (DER) whose OCSP, CRL or issuer URLs would make a
        validation with this checker fetch from a loopback, private, link-local
        or reserved address. Nothing to do when revocation is ``off`` (no
        fetching) or private addresses are allowed. Call it before validating
        anything a caller handed in (the signer's and its offered chain).

        :raises SignerRejected: with :data:`~msign_soap.i18n.messages.CERTIFICATE_UNTRUSTED`.
        """
        if self.revocation == "off" or self.allow_private_addresses:
            return
        for der in certificates:
            _refuse_private_urls(asn1_x509.Certificate.load(bytes(der)))

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
            self.screen_fetch_urls([bytes(certificate), *(c.dump() for c in offered)])
            context = self._context(when)
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


def _refuse_private_urls(certificate: asn1_x509.Certificate) -> None:
    """Refuse a certificate whose OCSP, CRL or issuer URLs would make this
    service fetch from a non-public address (or over anything but http(s))."""
    urls = list(certificate.ocsp_urls)
    for point in certificate.crl_distribution_points:
        if point.url:
            urls.append(point.url)
    for access in certificate.authority_information_access_value or ():
        location = access["access_location"]
        if access["access_method"].native == "ca_issuers" and location.name == "uniform_resource_identifier":
            urls.append(location.native)
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            continue  # certvalidator fetches nothing else (ldap:// …)
        try:
            addresses = {str(info[4][0]) for info in socket.getaddrinfo(parts.hostname, None, type=socket.SOCK_STREAM)}
        except (OSError, UnicodeError):
            continue  # unresolvable: the fetch fails, as revocation mode says
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if not ip.is_global or ip.is_multicast:
                raise SignerRejected(
                    messages.CERTIFICATE_UNTRUSTED, f"{url} points at a non-public address ({address})"
                )


def load_trust_anchors(path: str | os.PathLike[str]) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """Read the CA certificates of a directory (``*.pem``, ``*.crt``, ``*.cer``,
    ``*.der``; PEM or DER each) or of one file.

    :return: the trust anchors (the self-signed certificates, or all of them
        if none is) and the other certificates (intermediates).
    :raises ConfigurationError: naming ``trust_anchors``, when nothing
        readable is there, or a file is not a certificate.
    """
    where = Path(path)
    if where.is_dir():
        files = sorted(f for f in where.iterdir() if f.is_file() and f.suffix.lower() in _CERTIFICATE_SUFFIXES)
    elif where.is_file():
        files = [where]
    else:
        raise ConfigurationError(f"trust_anchors: {where} is neither a file nor a directory")
    certificates: list[x509.Certificate] = []
    for file in files:
        certificates.extend(load_certificates(file, "trust_anchors"))
    if not certificates:
        raise ConfigurationError(f"trust_anchors: no certificate in {where}")
    unique = list({_der(c): c for c in certificates}.values())
    roots = [c for c in unique if c.subject == c.issuer]
    if not roots:
        return unique, []
    return roots, [c for c in unique if c.subject != c.issuer]


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
