"""Verification of a detached XAdES signature over a given hash (ETSI EN 319
132-1 baseline B and T, validated as ETSI EN 319 102-1 describes).

The e-service holds the document's hash (``Content``, the SHA-1 MSign signed)
and the XAdES document (``Signature``). :func:`verify_xades` says VALID only
when all of this holds, checked in this order (the first failure decides the
verdict):

1. *Format*: one ``ds:Signature`` (the root, or the only one in the
   document), shaped ``SignedInfo, SignatureValue, KeyInfo, Object…``, with
   exactly two references: one ``Type``'d SignedProperties, and one to the
   data object (no ``Type``, a detached ``URI``). A third reference, two of a
   kind, an ``Id`` that names several elements or one outside this
   signature, or a SignedProperties reference that does not point at *the*
   ``xades:SignedProperties`` of this signature's ``QualifyingProperties``
   (``Target`` = this signature) is signature wrapping: ALTERED,
   FORMAT_FAILURE. Anything missing or unreadable: MALFORMED.
2. *Signature value*: the canonical ``ds:SignedInfo`` verifies under the
   key of one certificate of ``ds:KeyInfo``; that certificate is the signer
   (ALTERED, SIG_CRYPTO_FAILURE).
3. *SignedProperties* digest (ALTERED, HASH_FAILURE).
4. *Signing certificate*: ``SigningCertificateV2`` (or ``SigningCertificate``)
   names the signer by digest, and by issuer and serial number when given
   (ALTERED, NO_SIGNING_CERTIFICATE_FOUND: a KeyInfo swap).
5. *Data*: the data reference's digest is ``Content`` (HASH_MISMATCH). Its
   algorithm is the signature's; a reference with transforms is not over the
   document's bytes, so it never matches.
6. *Time-stamps*: every ``xades:SignatureTimeStamp`` holds one RFC 3161
   token whose imprint is the hash of the canonical ``ds:SignatureValue``,
   signed by a TSA certificate (id-kp-timeStamping) that chains to a trust
   anchor now (:mod:`.timestamps`); the earliest gives ``signed_at``. One that does not verify
   makes the signature TIMESTAMP_INVALID (conservative: it is not ignored).
7. *Signer*: key usage allows signing; the path to a trust anchor is valid,
   unexpired and unrevoked at the *signing time*: the time-stamp's time when
   there is one (revocation data of today count: a revocation dated later
   does not matter), else now, the claimed ``SigningTime`` being no proof;
   without a time-stamp the claimed time must also lie within the
   certificate's validity. Revoked: REVOKED; expired or not yet valid:
   EXPIRED; no path: NOT_TRUSTED; hard revocation mode without an answer:
   REVOCATION_UNKNOWN.

Every certificate taken from the input (KeyInfo, time-stamp tokens) is
handed to :meth:`Trust.screen_fetch_urls` before anything is validated, so a
certificate cannot make the service fetch from a private address.

Algorithms: see :mod:`.xmldsig`; SHA-1 is accepted for the data reference (the
contract's hash) and certificate digests, not for the SignedProperties
reference, the signature or the time-stamp imprint (CRYPTO_CONSTRAINTS_FAILURE).

Left out: XAdES-LT/LTA (``CertificateValues``, ``RevocationValues``, archive
time-stamps are not read: revocation comes from the certificates' URLs and
the trust's sources), counter-signatures (a second ``ds:Signature`` is
refused), ``XMLTimeStamp`` and explicit ``Include`` time-stamps, signature
policies, signer roles and commitment types (not checked), and the
time-stamp's order against ``SigningTime``.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from pyhanko_certvalidator import CertificateValidator
from pyhanko_certvalidator.errors import (
    DisallowedAlgorithmError,
    ExpiredError,
    InsufficientRevinfoError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    ValidationError,
)

from ..errors import InvalidDocument, SignerRejected
from .names import display_subject
from .report import DocumentReport, Indication, SignatureReport, Verdict
from .timestamps import TimestampToken, check_token
from .trust import Trust, validation_context_at
from .xmldsig import (
    C14N_INCLUSIVE,
    DIGESTS,
    NS_DS,
    NS_XADES,
    SIGNATURE_METHODS,
    SIGNED_PROPERTIES_TYPE,
    WEAK_SIGNATURE_METHODS,
    base64_content,
    canonicalize,
    digest,
    elements_with_id,
    parse_untrusted_xml,
    signature_value_verifies,
)

__all__ = ["MAX_CERTIFICATES", "MAX_TIMESTAMPS", "verify_xades"]

#: Most certificates read from ``ds:KeyInfo``.
MAX_CERTIFICATES = 16
#: Most signature time-stamps read.
MAX_TIMESTAMPS = 4


def _ds(name: str) -> str:
    return f"{{{NS_DS}}}{name}"


def _xades(name: str) -> str:
    return f"{{{NS_XADES}}}{name}"


class _Failed(Exception):
    """A check failed; carries what the report says."""

    def __init__(self, verdict: Verdict, indication: Indication, sub_indication: str, detail: str) -> None:
        super().__init__(detail)
        self.verdict = verdict
        self.indication = indication
        self.sub_indication = sub_indication
        self.detail = detail


def _malformed(detail: str, sub_indication: str = "FORMAT_FAILURE") -> _Failed:
    return _Failed(Verdict.MALFORMED, Indication.TOTAL_FAILED, sub_indication, detail)


def _wrapped(detail: str) -> _Failed:
    return _Failed(Verdict.ALTERED, Indication.TOTAL_FAILED, "FORMAT_FAILURE", f"signature wrapping: {detail}")


def _timestamp_invalid(detail: str, sub_indication: str, indication: Indication = Indication.TOTAL_FAILED) -> _Failed:
    return _Failed(Verdict.TIMESTAMP_INVALID, indication, sub_indication, f"signature time-stamp: {detail}")


@dataclass
class _Findings:
    """What the verification has learnt so far, for the report."""

    certificate: x509.Certificate | None = None
    claimed: datetime | None = None
    signed_at: datetime | None = None
    level: str | None = None

    def report(
        self, verdict: Verdict, indication: Indication, sub_indication: str | None, detail: str
    ) -> SignatureReport:
        cert = self.certificate
        return SignatureReport(
            verdict=verdict,
            indication=indication,
            sub_indication=sub_indication,
            detail=detail,
            certificate=cert.public_bytes(serialization.Encoding.DER) if cert is not None else None,
            subject=display_subject(cert) if cert is not None else None,
            signed_at=self.signed_at,
            claimed_signing_time=self.claimed,
            level=self.level,
        )


@dataclass
class _Stamp:
    """A signature time-stamp: the token and the octets its imprint must cover."""

    token: TimestampToken
    covered: bytes


@dataclass
class _Parts:
    """The pieces of a well-shaped signature."""

    signed_info: etree._Element
    c14n: tuple[str, list[str] | None]
    method: str
    value: bytes
    value_element: etree._Element
    data_reference: etree._Element
    properties_reference: etree._Element
    properties: etree._Element
    qualifying: etree._Element
    certificates: list[x509.Certificate] = field(default_factory=list)


def verify_xades(document: bytes, content_hash: bytes, trust: Trust, *, now: datetime | None = None) -> DocumentReport:
    """Verify a detached XAdES signature over the document whose hash is ``content_hash``.

    :param document: the XAdES document (``ds:Signature`` as root, or the
        only one in the document).
    :param content_hash: the document's hash as the e-service holds it (20
        bytes for SHA-1); compared with the data reference's digest.
    :param trust: the trust anchors and revocation sources.
    :param now: the verifier's time (naive means UTC); default: the clock.
    :return: one :class:`SignatureReport`, or a MALFORMED report without
        signatures when the input is not a XAdES document at all.
    """
    moment = datetime.now(UTC) if now is None else _aware(now)
    try:
        root = parse_untrusted_xml(bytes(document))
    except InvalidDocument as e:
        return DocumentReport.unreadable(e.reason)
    signatures = list(root.iter(_ds("Signature")))
    if len(signatures) != 1:  # counter-signatures are not supported
        return DocumentReport.unreadable(f"expected one ds:Signature, found {len(signatures)}")
    findings = _Findings()
    try:
        _verify(root, signatures[0], bytes(content_hash), trust, moment, findings)
    except _Failed as failure:
        report = findings.report(failure.verdict, failure.indication, failure.sub_indication, failure.detail)
        return DocumentReport.of([report])
    return DocumentReport.of([findings.report(Verdict.VALID, Indication.TOTAL_PASSED, None, "the signature is valid")])


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _verify(
    root: etree._Element,
    signature: etree._Element,
    content_hash: bytes,
    trust: Trust,
    now: datetime,
    findings: _Findings,
) -> None:
    parts = _read(root, signature, findings)
    signer = _check_signature_value(parts)
    findings.certificate = signer
    _check_properties_digest(parts)
    findings.claimed = _signing_time(parts.properties)
    _check_signing_certificate(parts.properties, signer)
    _check_data(parts.data_reference, content_hash)
    findings.level = "XAdES-BASELINE-B"

    stamps = _read_timestamps(parts)
    try:
        trust.screen_fetch_urls(
            [_der(c) for c in parts.certificates] + [der for stamp in stamps for der in stamp.token.certificates]
        )
    except SignerRejected as e:
        detail = e.detail or "a certificate names a non-public address to fetch from"
        raise _Failed(Verdict.NOT_TRUSTED, Indication.INDETERMINATE, "CERTIFICATE_CHAIN_GENERAL_FAILURE", detail) from e
    if stamps:
        findings.signed_at = _check_timestamps(stamps, trust, now)
        findings.level = "XAdES-BASELINE-T"
    _check_signer(signer, parts.certificates, trust, now, findings)


# -- 1. format -------------------------------------------------------------------------------


def _one(parent: etree._Element, tag: str, what: str) -> etree._Element:
    found = parent.findall(tag)
    if len(found) != 1:
        raise _malformed(f"expected one {what}, found {len(found)}")
    return found[0]


def _algorithm(element: etree._Element, what: str) -> str:
    algorithm = element.get("Algorithm")
    if not algorithm:
        raise _malformed(f"{what} has no Algorithm")
    return algorithm


def _c14n_of(element: etree._Element) -> tuple[str, list[str] | None]:
    """A ``CanonicalizationMethod`` or ``Transform``: its URI and exclusive c14n's prefix list."""
    algorithm = _algorithm(element, etree.QName(element).localname)
    inclusive = element.find("{http://www.w3.org/2001/10/xml-exc-c14n#}InclusiveNamespaces")
    prefixes = (inclusive.get("PrefixList") or "").split() if inclusive is not None else None
    return algorithm, prefixes


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def _read(root: etree._Element, signature: etree._Element, findings: _Findings) -> _Parts:
    certificates = _key_info_certificates(signature)
    findings.certificate = certificates[0]  # what the signature claims, until a key verifies
    children = _elements(signature)
    tags = [child.tag for child in children]
    objects = tags[3:] if tags[2:3] == [_ds("KeyInfo")] else tags[2:]
    if tags[:2] != [_ds("SignedInfo"), _ds("SignatureValue")] or any(tag != _ds("Object") for tag in objects):
        raise _malformed("ds:Signature is not SignedInfo, SignatureValue, KeyInfo, Object…")
    signed_info, value_element = children[0], children[1]
    info = _elements(signed_info)
    if len(info) < 2 or info[0].tag != _ds("CanonicalizationMethod") or info[1].tag != _ds("SignatureMethod"):
        raise _malformed("ds:SignedInfo does not start with CanonicalizationMethod, SignatureMethod")
    if any(child.tag != _ds("Reference") for child in info[2:]):
        raise _wrapped("ds:SignedInfo holds something else than references")
    c14n = _c14n_of(info[0])
    if c14n[0] not in (C14N_INCLUSIVE, C14N_INCLUSIVE + "#WithComments") and not c14n[0].startswith(
        "http://www.w3.org/2001/10/xml-exc-c14n#"
    ):
        raise _malformed(f"unsupported canonicalization {c14n[0]}")
    method = _algorithm(info[1], "ds:SignatureMethod")
    if method in WEAK_SIGNATURE_METHODS:
        raise _malformed(f"signature method {method} is too weak", "CRYPTO_CONSTRAINTS_FAILURE")
    if method not in SIGNATURE_METHODS:
        raise _malformed(f"unsupported signature method {method}", "CRYPTO_CONSTRAINTS_FAILURE")

    references = info[2:]
    by_type = [r for r in references if r.get("Type") == SIGNED_PROPERTIES_TYPE]
    untyped = [r for r in references if r.get("Type") is None]
    if len(references) > 2 or len(by_type) > 1 or len(untyped) > 1:
        raise _wrapped(f"{len(references)} references; expected the data object and SignedProperties")
    if len(by_type) != 1 or len(untyped) != 1:
        raise _malformed("expected one data reference and one SignedProperties reference")
    properties_reference, data_reference = by_type[0], untyped[0]

    try:
        value = base64_content(value_element, "ds:SignatureValue")
    except InvalidDocument as e:
        raise _malformed(e.reason) from e
    qualifying, properties = _locate_properties(root, signature, properties_reference)
    return _Parts(
        signed_info=signed_info,
        c14n=c14n,
        method=method,
        value=value,
        value_element=value_element,
        data_reference=data_reference,
        properties_reference=properties_reference,
        properties=properties,
        qualifying=qualifying,
        certificates=certificates,
    )


def _locate_properties(
    root: etree._Element, signature: etree._Element, reference: etree._Element
) -> tuple[etree._Element, etree._Element]:
    """The SignedProperties the reference points at, proven to be this signature's own."""
    sig_id = signature.get("Id")
    if not sig_id:
        raise _malformed("ds:Signature has no Id for QualifyingProperties to target")
    qualifying = signature.findall(f"{_ds('Object')}/{_xades('QualifyingProperties')}")
    if not qualifying:
        raise _malformed("no xades:QualifyingProperties in a ds:Object of the signature")
    if len(qualifying) > 1:
        raise _wrapped(f"{len(qualifying)} QualifyingProperties")
    if qualifying[0].get("Target") != f"#{sig_id}":
        raise _wrapped("QualifyingProperties targets another signature")
    properties = qualifying[0].find(_xades("SignedProperties"))
    if properties is None:
        raise _malformed("no xades:SignedProperties in QualifyingProperties")

    uri = reference.get("URI") or ""
    if not uri.startswith("#") or len(uri) < 2 or "(" in uri:
        raise _malformed(f"the SignedProperties reference URI {uri!r} is not a same-document #id")
    targets = elements_with_id(root, uri[1:])
    if len(targets) != 1:
        raise _wrapped(f"Id {uri[1:]!r} names {len(targets)} elements")
    target = targets[0]
    if target is not signature and signature not in target.iterancestors():
        raise _wrapped(f"Id {uri[1:]!r} names an element outside this signature")
    if target is not properties:
        raise _wrapped(
            "the SignedProperties reference points at another element than this signature's SignedProperties"
        )
    all_properties = sum(1 for _ in root.iter(_xades("SignedProperties")))
    if all_properties > 1:
        raise _wrapped(f"{all_properties} SignedProperties elements in the document")
    return qualifying[0], properties


def _key_info_certificates(signature: etree._Element) -> list[x509.Certificate]:
    elements = signature.findall(f"{_ds('KeyInfo')}/{_ds('X509Data')}/{_ds('X509Certificate')}")
    if not elements:
        raise _malformed("no certificate in ds:KeyInfo", "NO_SIGNING_CERTIFICATE_FOUND")
    if len(elements) > MAX_CERTIFICATES:
        raise _malformed(f"{len(elements)} certificates in ds:KeyInfo, more than {MAX_CERTIFICATES}")
    certificates = []
    for element in elements:
        try:
            certificates.append(x509.load_der_x509_certificate(base64_content(element, "ds:X509Certificate")))
        except (InvalidDocument, ValueError) as e:
            raise _malformed("a ds:X509Certificate is not a DER certificate") from e
    return certificates


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


# -- 2.–5. the signature value, SignedProperties, the signing certificate, the data ----------------


def _check_signature_value(parts: _Parts) -> x509.Certificate:
    algorithm, prefixes = parts.c14n
    try:
        signed_info = canonicalize(parts.signed_info, algorithm, prefixes)
    except InvalidDocument as e:
        raise _malformed(e.reason) from e
    for certificate in parts.certificates:
        if signature_value_verifies(parts.method, certificate.public_key(), parts.value, signed_info):
            return certificate
    raise _Failed(
        Verdict.ALTERED,
        Indication.TOTAL_FAILED,
        "SIG_CRYPTO_FAILURE",
        "the signature value does not verify under any certificate in ds:KeyInfo",
    )


def _digest_method(reference: etree._Element, what: str) -> str:
    method = _algorithm(_one(reference, _ds("DigestMethod"), f"DigestMethod in {what}"), f"DigestMethod of {what}")
    if method not in DIGESTS:
        raise _malformed(f"unsupported digest method {method} in {what}", "CRYPTO_CONSTRAINTS_FAILURE")
    return method


def _digest_value(reference: etree._Element, what: str) -> bytes:
    try:
        return base64_content(_one(reference, _ds("DigestValue"), f"DigestValue in {what}"), f"DigestValue of {what}")
    except InvalidDocument as e:
        raise _malformed(e.reason) from e


def _check_properties_digest(parts: _Parts) -> None:
    reference = parts.properties_reference
    what = "the SignedProperties reference"
    transforms = reference.findall(f"{_ds('Transforms')}/{_ds('Transform')}")
    if len(transforms) > 1:
        raise _malformed(f"{what} has {len(transforms)} transforms; one canonicalization at most is supported")
    # Without a transform, XMLDSig turns the node-set into octets with inclusive c14n 1.0.
    algorithm, prefixes = _c14n_of(transforms[0]) if transforms else (C14N_INCLUSIVE, None)
    method = _digest_method(reference, what)
    if DIGESTS[method] == "sha1":
        raise _malformed(f"{what} uses SHA-1", "CRYPTO_CONSTRAINTS_FAILURE")
    try:
        octets = canonicalize(parts.properties, algorithm, prefixes, comments=False)
    except InvalidDocument as e:
        raise _malformed(e.reason) from e
    if digest(method, octets) != _digest_value(reference, what):
        raise _Failed(
            Verdict.ALTERED, Indication.TOTAL_FAILED, "HASH_FAILURE", "SignedProperties changed after signing"
        )


def _signing_time(properties: etree._Element) -> datetime | None:
    text = properties.findtext(f"{_xades('SignedSignatureProperties')}/{_xades('SigningTime')}")
    if text is None:
        return None
    try:
        return _aware(datetime.fromisoformat(text.strip()))
    except ValueError as e:
        raise _malformed(f"SigningTime {text!r} is not a date and time") from e


def _check_signing_certificate(properties: etree._Element, signer: x509.Certificate) -> None:
    signed_signature = properties.find(_xades("SignedSignatureProperties"))
    found = [] if signed_signature is None else [
        element
        for element in _elements(signed_signature)
        if element.tag in (_xades("SigningCertificateV2"), _xades("SigningCertificate"))
    ]  # fmt: skip
    if len(found) != 1:
        raise _malformed(
            f"expected one SigningCertificateV2 or SigningCertificate, found {len(found)}",
            "NO_SIGNING_CERTIFICATE_FOUND",
        )
    der = _der(signer)
    for cert in found[0].findall(_xades("Cert")):
        what = "a signing certificate reference"
        cert_digest = _one(cert, _xades("CertDigest"), f"CertDigest in {what}")
        if digest(_digest_method(cert_digest, what), der) != _digest_value(cert_digest, what):
            continue
        if _issuer_serial_matches(cert, signer, required=found[0].tag == _xades("SigningCertificate")):
            return
        break
    raise _Failed(
        Verdict.ALTERED,
        Indication.INDETERMINATE,
        "NO_SIGNING_CERTIFICATE_FOUND",
        "the certificate whose key made the signature is not the signing certificate SignedProperties names",
    )


def _issuer_serial_matches(cert: etree._Element, signer: x509.Certificate, *, required: bool) -> bool:
    """Whether a ``xades:Cert``'s issuer and serial number, when given (``required`` in
    ``SigningCertificate``, optional in ``SigningCertificateV2``), name ``signer``."""
    v2 = cert.find(_xades("IssuerSerialV2"))
    v1 = cert.find(_xades("IssuerSerial"))
    if v2 is not None:
        try:
            issuer_serial = tsp.IssuerSerial.load(base64_content(v2, "IssuerSerialV2"))
            names = [n.chosen for n in issuer_serial["issuer"] if n.name == "directory_name"]
            serial = issuer_serial["serial_number"].native
        except (InvalidDocument, ValueError, TypeError, KeyError) as e:
            raise _malformed("IssuerSerialV2 is not a DER IssuerSerial") from e
        issuer = asn1_x509.Name.load(signer.issuer.public_bytes())
        return serial == signer.serial_number and len(names) == 1 and names[0] == issuer
    if v1 is not None:
        name_text = v1.findtext(_ds("X509IssuerName")) or ""
        serial_text = (v1.findtext(_ds("X509SerialNumber")) or "").strip()
        try:
            name = x509.Name.from_rfc4514_string(name_text.strip())
        except ValueError:
            return False
        return serial_text.isdigit() and int(serial_text) == signer.serial_number and name == signer.issuer
    return not required


def _check_data(reference: etree._Element, content_hash: bytes) -> None:
    what = "the data reference"
    uri = reference.get("URI")
    if uri is not None and (uri == "" or uri.startswith("#")):
        raise _malformed(f"{what} points into the XAdES document ({uri!r}); a detached document was expected")
    method = _digest_method(reference, what)
    value = _digest_value(reference, what)
    if reference.find(_ds("Transforms")) is not None:
        raise _Failed(
            Verdict.HASH_MISMATCH, Indication.TOTAL_FAILED, "HASH_FAILURE",
            f"{what} has transforms: its digest is not over the document's bytes",
        )  # fmt: skip
    algorithm = DIGESTS[method]
    size = hashlib.new(algorithm).digest_size
    if len(value) != size:
        why = f"the signed DigestValue is {len(value)} bytes, not a {algorithm} digest"
    elif len(content_hash) != size:
        why = f"the signed digest is {algorithm} ({size} bytes); Content is {len(content_hash)} bytes"
    elif value != content_hash:
        why = "the signed digest is not the given hash"
    else:
        return
    raise _Failed(Verdict.HASH_MISMATCH, Indication.TOTAL_FAILED, "HASH_FAILURE", why)


# -- 6. time-stamps ------------------------------------------------------------------------------------


def _read_timestamps(parts: _Parts) -> list[_Stamp]:
    unsigned = parts.qualifying.findall(f"{_xades('UnsignedProperties')}/{_xades('UnsignedSignatureProperties')}")
    if len(unsigned) > 1:
        raise _malformed("more than one UnsignedSignatureProperties")
    elements = unsigned[0].findall(_xades("SignatureTimeStamp")) if unsigned else []
    if len(elements) > MAX_TIMESTAMPS:
        raise _timestamp_invalid(f"{len(elements)} time-stamps, more than {MAX_TIMESTAMPS}", "FORMAT_FAILURE")
    return [_read_timestamp(element, parts.value_element) for element in elements]


def _read_timestamp(element: etree._Element, value_element: etree._Element) -> _Stamp:
    if element.find(_xades("Include")) is not None or element.find(_xades("XMLTimeStamp")) is not None:
        raise _timestamp_invalid("XMLTimeStamp and Include are not supported", "FORMAT_FAILURE")
    encapsulated = element.findall(_xades("EncapsulatedTimeStamp"))
    if len(encapsulated) != 1:
        raise _timestamp_invalid(f"expected one EncapsulatedTimeStamp, found {len(encapsulated)}", "FORMAT_FAILURE")
    method = element.find(_ds("CanonicalizationMethod"))
    algorithm, prefixes = _c14n_of(method) if method is not None else (C14N_INCLUSIVE, None)
    try:
        covered = canonicalize(value_element, algorithm, prefixes)
        token = TimestampToken.load(base64_content(encapsulated[0], "EncapsulatedTimeStamp"))
    except InvalidDocument as e:
        raise _timestamp_invalid(e.reason, "FORMAT_FAILURE") from e
    return _Stamp(token, covered)


def _check_timestamps(stamps: list[_Stamp], trust: Trust, now: datetime) -> datetime:
    """Verify every time-stamp; the earliest time."""
    for stamp in stamps:
        problem = check_token(stamp.token, stamp.covered, trust, now, what="this signature's SignatureValue")
        if problem is not None:
            raise _timestamp_invalid(problem.detail, problem.sub_indication, problem.indication)
    return min(stamp.token.time for stamp in stamps)


# -- 7. the signer -------------------------------------------------------------------------------------


def _check_key_usage(signer: x509.Certificate) -> None:
    try:
        usage = signer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return
    except ValueError as e:
        raise _Failed(
            Verdict.NOT_TRUSTED, Indication.INDETERMINATE, "SIG_CONSTRAINTS_FAILURE", "unreadable extensions"
        ) from e
    if not (usage.digital_signature or usage.content_commitment):
        raise _Failed(
            Verdict.NOT_TRUSTED,
            Indication.INDETERMINATE,
            "SIG_CONSTRAINTS_FAILURE",
            "the signer certificate's key usage allows no signatures",
        )


def _check_signer(
    signer: x509.Certificate, certificates: list[x509.Certificate], trust: Trust, now: datetime, findings: _Findings
) -> None:
    proven = findings.signed_at is not None
    at = findings.signed_at or now
    claimed = findings.claimed
    if not proven and claimed is not None:
        start, end = signer.not_valid_before_utc, signer.not_valid_after_utc
        if not start <= claimed <= end:
            sub = "NOT_YET_VALID" if claimed < start else "EXPIRED"
            detail = f"the claimed signing time {claimed} is outside the certificate's validity ({start} to {end})"
            raise _Failed(Verdict.EXPIRED, Indication.TOTAL_FAILED, sub, detail)
    _check_key_usage(signer)
    when = f"at {at:%Y-%m-%d %H:%M:%S}Z ({'time-stamp' if proven else 'no time-stamp: now'})"
    others = [asn1_x509.Certificate.load(_der(c)) for c in certificates if c != signer]
    validator = CertificateValidator(
        asn1_x509.Certificate.load(_der(signer)), others, validation_context=validation_context_at(trust, at)
    )
    try:
        asyncio.run(validator.async_validate_path())
    except RevokedError as e:
        # EN 319 102-1: REVOKED needs proof the signature came after the revocation.
        if not e.is_ee_cert:
            indication, sub = Indication.INDETERMINATE, "REVOKED_CA_NO_POE"
        elif proven:
            indication, sub = Indication.TOTAL_FAILED, "REVOKED"
        else:
            indication, sub = Indication.INDETERMINATE, "REVOKED_NO_POE"
        raise _Failed(Verdict.REVOKED, indication, sub, f"{e} Judged {when}.") from e
    except (ExpiredError, NotYetValidError) as e:
        sub = ("EXPIRED" if isinstance(e, ExpiredError) else "NOT_YET_VALID") if proven else "OUT_OF_BOUNDS_NO_POE"
        indication = Indication.TOTAL_FAILED if proven and e.is_ee_cert else Indication.INDETERMINATE
        raise _Failed(Verdict.EXPIRED, indication, sub, f"{e}; judged {when}") from e
    except InsufficientRevinfoError as e:
        raise _Failed(Verdict.REVOCATION_UNKNOWN, Indication.INDETERMINATE, "TRY_LATER", str(e)) from e
    except DisallowedAlgorithmError as e:
        raise _Failed(Verdict.NOT_TRUSTED, Indication.INDETERMINATE, "CRYPTO_CONSTRAINTS_FAILURE", str(e)) from e
    except PathBuildingError as e:
        raise _Failed(Verdict.NOT_TRUSTED, Indication.INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND", str(e)) from e
    except (PathValidationError, ValidationError, ValueError, TypeError) as e:
        raise _Failed(Verdict.NOT_TRUSTED, Indication.INDETERMINATE, "CERTIFICATE_CHAIN_GENERAL_FAILURE", str(e)) from e
