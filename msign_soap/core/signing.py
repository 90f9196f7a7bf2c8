"""The two-step signing flow of a request, whatever instrument holds the key.

1. :meth:`SigningService.prepare` checks the signer's certificate (validity,
   trust, revocation: :mod:`.trust`; ExpectedSigner: :mod:`.signer_checks`),
   then builds one signature draft per content — XAdES over a ``Hash``
   content (ETSI EN 319 132-1), PAdES over a ``Pdf`` (EN 319 142-1) — and
   returns what the key must sign (:class:`ToBeSigned`). The drafts, the
   prepared PDFs and the signer are stored in the database, so that step 2
   may run in another worker, process or host. Preparing again replaces them.
2. :meth:`SigningService.finish` takes one raw signature value per content,
   completes every draft with a signature time-stamp (level T) and ends the
   request ``Success`` with all results in one transaction.

Outcomes:

- a refused signer → ``Failure`` with the reason's message, nothing signed,
  :class:`~msign_soap.errors.SignerRejected` raised;
- a signature value that does not verify under the prepared certificate →
  ``Failure`` ("The signature does not match the signer's certificate"),
  :class:`~msign_soap.errors.SignatureMismatch` raised: the instrument
  signed with another key, or something tampered with the values; retrying
  with the same drafts cannot help;
- a document pyHanko cannot sign (a certification forbidding changes) →
  ``Failure`` ("Signing failed"), :class:`~msign_soap.errors.InvalidDocument`;
- anything else (the TSA is down, a damaged draft, a wrong number of values,
  a crash) leaves the request ``Pending``: nothing is written until every
  result is ready;
- a request no longer Pending, or past its lifetime (then marked
  ``Expired``) → :class:`~msign_soap.errors.RequestClosed`; of two workers
  finishing one request, exactly one succeeds (one conditional UPDATE).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko_certvalidator import ValidationContext

from ..errors import InvalidDocument, InvalidParameter, NotAvailable, SignatureMismatch, SignerRejected, SigningError
from ..i18n import messages
from ..signing import XadesDraft, finish_pades, finish_xades, prepare_pades, prepare_xades
from ..signing.timestamp import Timestamper
from ..signing.xmldsig import SIGNATURE_RSA_SHA256, check_signature_value
from .delegations import DelegationRegistry
from .model import ContentType
from .requests import RequestService
from .signer_checks import SignerExpectation, check_expected_signer, signer_identity
from .signing_store import DraftStore, StoredDraft
from .trust import CertificateChecker, load_certificate

__all__ = ["ECDSA_SHA256", "RSA_SHA256", "SigningService", "ToBeSigned", "content_uri", "sign_item"]

log = logging.getLogger(__name__)

#: RSA PKCS #1 v1.5 with SHA-256.
RSA_SHA256 = "sha256_rsa"
#: ECDSA with SHA-256; the value may be DER ``ECDSA-Sig-Value`` or raw ``r || s``.
ECDSA_SHA256 = "sha256_ecdsa"


@dataclass(frozen=True)
class ToBeSigned:
    """What the signer's key signs for one content.

    :ivar position: the content's index in the request (0-based).
    :ivar correlation_id: the content's CorrelationID, if any.
    :ivar data_to_be_signed: the bytes to sign (hashing them is part of the algorithm).
    :ivar digest: their SHA-256, for instruments that sign a digest (PKCS #11 raw, mobile).
    :ivar signature_algorithm: :data:`RSA_SHA256` or :data:`ECDSA_SHA256`.
    """

    position: int
    correlation_id: str | None
    data_to_be_signed: bytes
    digest: bytes
    signature_algorithm: str


class SigningService:
    """The signing flow, shared by the sign page, the instruments and the CLI.

    :param requests: the request lifecycle (its store and clock are used).
    :param timestamper: the RFC 3161 client for the signature time-stamps.
    :param checker: decides whether a certificate may sign.
    :param delegations: the registered delegations (default: in the same store).
    :param pades_level: ``B-T`` or ``B-LT``, for PDFs prepared from now on.
    :param appearance: draw a visible signature (signer, date) on PDFs.
    :param validation_context: makes a fresh certvalidator context (trust
        anchors, revocation sources) for each B-LT PDF; required for ``B-LT``
        (:meth:`~msign_soap.core.trust.ChainChecker.validation_context`).

    Without a timestamper or a checker (a production configuration that names
    no TSA or trust anchors yet) every step raises
    :class:`~msign_soap.errors.NotAvailable` and leaves requests untouched.
    """

    def __init__(
        self,
        requests: RequestService,
        timestamper: Timestamper | None,
        checker: CertificateChecker | None,
        delegations: DelegationRegistry | None = None,
        *,
        pades_level: str = "B-T",
        appearance: bool = False,
        validation_context: Callable[[], ValidationContext] | None = None,
    ) -> None:
        self.pades_level = pades_level
        self.appearance = appearance
        self.validation_context = validation_context
        self.requests = requests
        self.timestamper = timestamper
        self.checker = checker
        self.delegations = delegations or DelegationRegistry(requests.store, requests.clock)
        self.drafts = DraftStore(requests.store)

    def prepare(self, request_id: str, certificate_der: bytes, chain_der: Sequence[bytes] = ()) -> list[ToBeSigned]:
        """Check the signer and build the drafts; return what to sign, one item per content, in order.

        :param certificate_der: the signer's certificate.
        :param chain_der: issuer certificates the instrument offers (may be empty).
        :raises RequestNotFound: unknown request.
        :raises RequestClosed: the request is not Pending (or has just expired),
            also when it ended while the signer was being refused.
        :raises SignerRejected: the signer was refused; the request is now ``Failure``.
        :raises InvalidDocument: a PDF cannot take a signature (or
            :class:`~msign_soap.errors.InvalidParameter`: a text cannot go into
            XML); the request is now ``Failure``.
        :raises SigningError: the certificate's key type cannot sign; still ``Pending``.
        :raises NotAvailable: signing is not configured.
        """
        checker, _ = self._configured()
        self.requests.open_request(request_id)
        request = self.drafts.load_request(request_id)
        now = self.requests.clock()
        certificate_der = bytes(certificate_der)
        try:
            chain = checker.check(certificate_der, [bytes(c) for c in chain_der], now)
            identity = signer_identity(load_certificate(certificate_der))
            check_expected_signer(identity, SignerExpectation.of(request.row), self.delegations.allows)
        except SignerRejected as e:
            log.info("request %s: signer refused: %s (%s)", request_id, e.message_id, e.detail)
            self._fail(request_id, e.message_id)
            raise
        drafts: list[StoredDraft] = []
        try:
            for content in request.contents:
                drafts.append(self._draft(request.row, content, certificate_der, chain, now))
        except (InvalidDocument, InvalidParameter) as e:  # the request can never be signed
            log.info("request %s: a content cannot be signed: %s", request_id, e.reason)
            self._fail(request_id, messages.FAILED)
            raise
        if not self.drafts.replace(request_id, certificate_der, identity, drafts, now):
            self.requests.open_request(request_id)  # raises RequestClosed
        log.info("request %s prepared for %s (%d contents)", request_id, identity.idnp, len(drafts))
        return [
            _to_be_signed(c.position, draft, c.correlation_id)
            for c, draft in zip(request.contents, drafts, strict=True)
        ]

    def finish(self, request_id: str, signature_values: Sequence[bytes]) -> None:
        """Complete the prepared drafts with the signer's values and end the request ``Success``.

        :param signature_values: one raw value per content, in the order of :meth:`prepare`.
        :raises RequestNotFound: unknown request.
        :raises RequestClosed: no longer Pending, or expired (then marked ``Expired``).
        :raises SignatureMismatch: a value does not verify; the request is now ``Failure``.
        :raises SigningError: not prepared, a wrong number of values, or a damaged draft; still ``Pending``.
        :raises TimestampError: no time-stamp could be had; still ``Pending``.
        :raises NotAvailable: signing is not configured.
        """
        _, timestamper = self._configured()
        self.requests.open_request(request_id)
        certificate, drafts = self.drafts.load_drafts(request_id)
        if len(signature_values) != len(drafts):
            raise SigningError(f"Expected {len(drafts)} signature values, got {len(signature_values)}")
        public_key = load_certificate(certificate).public_key()
        values = [bytes(v) for v in signature_values]
        for position, (draft, value) in enumerate(zip(drafts, values, strict=True)):
            try:
                check_signature_value(public_key, _data_to_be_signed(draft), value)
            except SigningError as e:
                log.info("request %s: signature value %d does not verify", request_id, position)
                self._fail(request_id, messages.SIGNATURE_MISMATCH)
                raise SignatureMismatch(messages.SIGNATURE_MISMATCH, f"content {position}") from e
        results: list[tuple[bytes, bytes | bytearray | memoryview]] = []
        for draft, value in zip(drafts, values, strict=True):
            signature: bytes | bytearray | memoryview
            if isinstance(draft.draft, XadesDraft):
                signature = finish_xades(draft.draft, value, timestamper)
            else:
                context = self.validation_context() if draft.draft.level == "B-LT" and self.validation_context else None
                # signed in place in the buffer assembled from the database: no copy
                signature = finish_pades(
                    draft.draft, draft.prepared or b"", value, timestamper, validation_context=context
                )
            results.append((certificate, signature))
        self.requests.complete(request_id, results, unless_expired=True)
        xades = sum(isinstance(d.draft, XadesDraft) for d in drafts)
        for kind, count in (("xades", xades), ("pades", len(drafts) - xades)):
            if count:
                self.requests.metrics.signatures.inc(kind, amount=count)

    def sign_with_key(
        self,
        request_id: str,
        certificate_der: bytes,
        chain_der: Sequence[bytes],
        private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    ) -> None:
        """Both steps with a key held in this process (the cloud key, tests).

        :raises SigningError: the key does not belong to the certificate (checked
            before anything else; the request stays ``Pending``).

        Otherwise as :meth:`prepare` and :meth:`finish`.
        """
        try:
            certificate_key = load_certificate(bytes(certificate_der)).public_key()
        except SignerRejected:
            certificate_key = None  # prepare() refuses it and ends the request
        if certificate_key is not None and private_key.public_key() != certificate_key:
            raise SigningError("The private key does not belong to the signer's certificate")
        items = self.prepare(request_id, certificate_der, chain_der)
        self.finish(request_id, [sign_item(private_key, item) for item in items])

    # -- helpers -----------------------------------------------------------

    def _configured(self) -> tuple[CertificateChecker, Timestamper]:
        if self.checker is None or self.timestamper is None:
            raise NotAvailable("Signing is not configured on this server (no trust anchors or time-stamping authority)")
        return self.checker, self.timestamper

    def _fail(self, request_id: str, reason: str) -> None:
        # RequestClosed when it ended meanwhile: that, not the refusal, is then the outcome
        self.requests.fail(request_id, reason, unless_expired=True)

    def _draft(
        self, request: Any, content: Any, certificate: bytes, chain: Sequence[bytes], now: datetime
    ) -> StoredDraft:
        document = self.drafts.document(content)
        if document is None:
            raise SigningError(f"The document of content {content.position} has been deleted")
        if request.content_type == ContentType.HASH.value:
            xades = prepare_xades(
                bytes(document),
                certificate,
                chain,
                signing_time=now,
                reference_uri=content_uri(content.correlation_id, content.position),
                description=request.content_description or request.short_content_description,
            )
            return StoredDraft(xades)
        # /Name is left to the certificate: SignContent.Name is the file's name, not the signer's.
        pades, prepared = prepare_pades(
            document,
            certificate,
            chain,
            signing_time=now,
            reason=request.signature_reason,
            appearance=self.appearance,
            level=self.pades_level,
        )
        # The store keeps only what follows the document (an incremental update).
        if prepared[: len(document)] != document:
            raise SigningError("The prepared PDF does not begin with the original document")
        return StoredDraft(pades, prepared)


def content_uri(correlation_id: str | None, position: int) -> str:
    """The ``ds:Reference/@URI`` of a Hash content: ``urn:msign:content:<CorrelationID or index>``.

    Characters a URN may not hold (spaces, ``%``, non-ASCII …) are percent-encoded.
    """
    name = correlation_id if correlation_id else str(position)
    return "urn:msign:content:" + quote(name, safe="-._~:@!$&'()*+,;=")


def sign_item(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, item: ToBeSigned) -> bytes:
    """Sign one :class:`ToBeSigned` with a key held in this process.

    :raises SigningError: the key's type is not the one the item was prepared for.
    """
    if item.signature_algorithm == RSA_SHA256 and isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(item.data_to_be_signed, padding.PKCS1v15(), hashes.SHA256())
    if item.signature_algorithm == ECDSA_SHA256 and isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(item.data_to_be_signed, ec.ECDSA(hashes.SHA256()))
    raise SigningError("The private key does not match the signer certificate's key type")


def _data_to_be_signed(stored: StoredDraft) -> bytes:
    draft = stored.draft
    return draft.signed_info if isinstance(draft, XadesDraft) else draft.data_to_be_signed


def _to_be_signed(position: int, stored: StoredDraft, correlation_id: str | None) -> ToBeSigned:
    data = _data_to_be_signed(stored)
    draft = stored.draft
    if isinstance(draft, XadesDraft):
        algorithm = RSA_SHA256 if draft.signature_algorithm == SIGNATURE_RSA_SHA256 else ECDSA_SHA256
    else:
        algorithm = draft.signature_algorithm
    return ToBeSigned(position, correlation_id, data, hashlib.sha256(data).digest(), algorithm)
