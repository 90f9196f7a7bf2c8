"""Revocation status of a CA's certificates: CRLs (RFC 5280 §5) and OCSP (RFC 6960).

Both are stateless: a CRL is a function of the revoked certificates and the
hour it is issued in (its number counts hours since 1970, so every worker
issues the same bytes within an hour), an OCSP response of the request and
the current time. Nothing is cached.

Left out: delta CRLs, indirect and partitioned CRLs (hence no
IssuingDistributionPoint), OCSP requests with more than one certificate
(answered ``malformedRequest``), signed OCSP requests (the signature is
ignored), pre-produced OCSP responses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519
from cryptography.x509 import ocsp

from .certificates import Identity, PrivateKey

__all__ = ["CRL_PERIOD", "CRL_VALIDITY", "OCSP_VALIDITY", "OcspResponder", "Revocation", "build_crl"]

#: A new CRL (number) is issued every hour ...
CRL_PERIOD = timedelta(hours=1)
#: ... and each is valid (``nextUpdate``) for a day.
CRL_VALIDITY = timedelta(days=1)
#: An OCSP response is valid (``nextUpdate``) for an hour.
OCSP_VALIDITY = timedelta(hours=1)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Revocation:
    """One revoked certificate.

    :param serial_number: its serial number.
    :param date: when it was revoked (aware datetime).
    :param reason: why; ``unspecified`` leaves the reason code out, as
        RFC 5280 §5.3.1 asks.
    """

    serial_number: int
    date: datetime
    reason: x509.ReasonFlags = x509.ReasonFlags.unspecified

    @property
    def reason_or_none(self) -> x509.ReasonFlags | None:
        return None if self.reason is x509.ReasonFlags.unspecified else self.reason


def _signature_hash(key: PrivateKey) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) else hashes.SHA256()


def build_crl(
    issuer: Identity,
    revoked: Iterable[Revocation],
    now: datetime,
) -> bytes:
    """Issue the issuer's CRL for the hour ``now`` falls in.

    :param issuer: the CA, with its key.
    :param revoked: the certificates it has revoked; those revoked after the
        start of the hour are left out.
    :param now: the current time (aware).
    :return: the DER-encoded CRL (v2, with CRLNumber, AKI, ``nextUpdate``).
        It has no IssuingDistributionPoint: it is complete, so that it is in
        scope for every certificate of the issuer, the root included
        (OpenSSL's ``-crl_check_all`` checks the root against it too).
    """
    number = (now - _EPOCH) // CRL_PERIOD
    this_update = _EPOCH + number * CRL_PERIOD
    ski = issuer.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(this_update)
        .next_update(this_update + CRL_VALIDITY)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    )
    for revocation in sorted(revoked, key=lambda r: r.serial_number):
        if revocation.date > this_update:
            continue
        entry = x509.RevokedCertificateBuilder().serial_number(revocation.serial_number)
        entry = entry.revocation_date(revocation.date)
        if revocation.reason_or_none is not None:
            entry = entry.add_extension(x509.CRLReason(revocation.reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    crl = builder.sign(issuer.private_key, _signature_hash(issuer.private_key))
    return crl.public_bytes(serialization.Encoding.DER)


class OcspResponder:
    """An OCSP responder for the certificates of one CA, signing with a
    delegated responder certificate (``id-kp-OCSPSigning``, issued by that CA).

    :param issuer: the CA certificate whose certificates it answers for.
    :param responder: the responder certificate and key.
    :param issued: serial numbers of every certificate the CA issued; others
        are ``unknown``.
    :param revoked: the revoked ones among them.
    """

    def __init__(
        self, issuer: x509.Certificate, responder: Identity, issued: Iterable[int], revoked: Iterable[Revocation]
    ) -> None:
        self.issuer = issuer
        self.responder = responder
        self.issued = frozenset(issued)
        self.revoked = {r.serial_number: r for r in revoked}
        subject_public_key = asn1_keys.PublicKeyInfo.load(
            issuer.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )["public_key"]
        self._name_der = issuer.subject.public_bytes()
        # the BIT STRING's value, without its unused-bits octet (RFC 6960 §4.1.1)
        self._key_bits = subject_public_key.contents[1:]

    def _issuer_hashes(self, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
        def digest(data: bytes) -> bytes:
            h = hashes.Hash(algorithm)
            h.update(data)
            return h.finalize()

        return digest(self._name_der), digest(self._key_bits)

    def respond(self, request: bytes, now: datetime) -> bytes:
        """Answer a DER OCSPRequest with a DER OCSPResponse.

        A request that cannot be read gets ``malformedRequest``, one for
        another CA ``unauthorized``; otherwise the status is ``good``,
        ``revoked`` or ``unknown`` (a serial number the CA never issued). A
        nonce in the request is echoed.

        :param request: the DER-encoded request.
        :param now: the current time (aware).
        """
        try:
            req = ocsp.load_der_ocsp_request(request)
            algorithm = req.hash_algorithm
            extensions = req.extensions
        except (ValueError, UnsupportedAlgorithm):
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        if (req.issuer_name_hash, req.issuer_key_hash) != self._issuer_hashes(algorithm):
            return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        now = now.astimezone(UTC).replace(microsecond=0)
        serial = req.serial_number
        revocation = self.revoked.get(serial)
        if revocation is not None and revocation.date <= now:
            status = ocsp.OCSPCertStatus.REVOKED
        elif serial in self.issued:
            status, revocation = ocsp.OCSPCertStatus.GOOD, None
        else:
            status, revocation = ocsp.OCSPCertStatus.UNKNOWN, None
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=req.issuer_name_hash,
            issuer_key_hash=req.issuer_key_hash,
            serial_number=serial,
            algorithm=algorithm,
            cert_status=status,
            this_update=now,
            next_update=now + OCSP_VALIDITY,
            revocation_time=revocation.date if revocation else None,
            revocation_reason=revocation.reason_or_none if revocation else None,
        )
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, self.responder.certificate)
        builder = builder.certificates([self.responder.certificate])
        for extension in extensions:
            if isinstance(extension.value, x509.OCSPNonce):
                builder = builder.add_extension(extension.value, critical=False)
        key = self.responder.private_key
        response = builder.sign(key, _signature_hash(key))
        return response.public_bytes(serialization.Encoding.DER)


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)
