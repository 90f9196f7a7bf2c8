"""Detached XAdES signatures over a precomputed digest (ETSI EN 319 132-1, baseline T).

MSign's ``Hash`` content is the SHA-1 (20 bytes) or SHA-256 (32 bytes) digest
of a document the service never sees. The signature is built in two steps so
that the private key may live elsewhere (a phone, a smart card):

1. :func:`prepare_xades` builds ``ds:Signature`` up to ``ds:SignedInfo`` and
   returns a :class:`XadesDraft`, whose :attr:`~XadesDraft.signed_info` is
   what the key signs. The draft survives a database (:meth:`~XadesDraft.to_json`).
2. :func:`finish_xades` checks the signer's value against the certificate,
   inserts ``ds:SignatureValue`` and adds a ``xades:SignatureTimeStamp``
   (RFC 3161) over its canonical form, which makes the signature XAdES-T.

Shape: one ``ds:Reference`` to the external document (its ``URI`` is the
caller's, no transforms, the digest as given), one to ``xades:SignedProperties``
(SHA-256 after exclusive c14n); RSA-SHA256 or ECDSA-SHA256 over exclusive
c14n; ``SigningTime``, ``SigningCertificateV2`` (SHA-256 + ``IssuerSerialV2``)
and ``DataObjectFormat``; the signer certificate and its chain in ``ds:KeyInfo``.

Left out: baseline LT/LTA (``CertificateValues``, ``RevocationValues``,
archive time-stamps), enveloped and enveloping forms, signature policies,
signer roles, commitment types and counter-signatures.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from lxml import etree

from ..errors import InvalidParameter, SigningError, TimestampError
from .xmldsig import (
    C14N_EXCLUSIVE,
    DIGEST_SHA256,
    NS_DS,
    NS_XADES,
    SIGNATURE_RSA_SHA256,
    SIGNED_PROPERTIES_TYPE,
    b64,
    c14n,
    check_signature_value,
    digest_method_for,
    parse_trusted_xml,
    signature_method_for,
)

if TYPE_CHECKING:  # the protocol only; the XAdES builder runs with any time-stamping client
    from .timestamp import Timestamper

__all__ = ["XadesDraft", "finish_xades", "prepare_xades", "sign_xades_with_key"]

_DRAFT_FORMAT = "msign-xades-draft/1"
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclass(frozen=True)
class XadesDraft:
    """A XAdES signature waiting for its ``ds:SignatureValue``.

    :ivar xml: the ``ds:Signature`` element so far (UTF-8, no declaration).
    :ivar signed_info: the exclusive c14n of ``ds:SignedInfo``: the data to be signed.
    :ivar signature_algorithm: the ``ds:SignatureMethod`` URI, RSA-SHA256 or ECDSA-SHA256.
    :ivar certificate: the signer certificate (DER).
    """

    xml: bytes
    signed_info: bytes
    signature_algorithm: str
    certificate: bytes

    @property
    def signed_info_digest(self) -> bytes:
        """SHA-256 of :attr:`signed_info`, for signers that take a hash (PKCS #11 raw, mobile)."""
        return hashlib.sha256(self.signed_info).digest()

    def to_json(self) -> str:
        """The draft as a JSON string, for storing between the two steps."""
        return json.dumps(
            {
                "format": _DRAFT_FORMAT,
                "signature_algorithm": self.signature_algorithm,
                "certificate": b64(self.certificate),
                "signed_info": b64(self.signed_info),
                "xml": self.xml.decode("utf-8"),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> XadesDraft:
        """Read a draft written by :meth:`to_json`, checking that it is intact.

        :raises SigningError: not a draft of this format, or its parts disagree.
        """
        try:
            data = json.loads(text)
            if data.get("format") != _DRAFT_FORMAT:
                raise SigningError(f"Not a XAdES draft of format {_DRAFT_FORMAT}")
            draft = cls(
                xml=data["xml"].encode("utf-8"),
                signed_info=base64.b64decode(data["signed_info"], validate=True),
                signature_algorithm=data["signature_algorithm"],
                certificate=base64.b64decode(data["certificate"], validate=True),
            )
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise SigningError("The stored XAdES draft is damaged") from e
        _check_intact(draft)
        return draft


def _check_intact(draft: XadesDraft) -> etree._Element:
    """The parts of a draft agree: SignedInfo, its algorithm, the certificate, SignedProperties.

    :return: the parsed ``ds:Signature``.
    """
    root = parse_trusted_xml(draft.xml)
    signed_info = root.find(f"{{{NS_DS}}}SignedInfo")
    method = root.find(f"{{{NS_DS}}}SignedInfo/{{{NS_DS}}}SignatureMethod")
    first_cert = root.findtext(f"{{{NS_DS}}}KeyInfo/{{{NS_DS}}}X509Data/{{{NS_DS}}}X509Certificate")
    props = root.find(f"{{{NS_DS}}}Object/{{{NS_XADES}}}QualifyingProperties/{{{NS_XADES}}}SignedProperties")
    props_digest = root.findtext(
        f"{{{NS_DS}}}SignedInfo/{{{NS_DS}}}Reference[@Type='{SIGNED_PROPERTIES_TYPE}']/{{{NS_DS}}}DigestValue"
    )
    if (
        signed_info is None
        or c14n(signed_info) != draft.signed_info
        or method is None
        or method.get("Algorithm") != draft.signature_algorithm
        or first_cert != b64(draft.certificate)
        or props is None
        or props_digest != b64(hashlib.sha256(c14n(props)).digest())
    ):
        raise SigningError("The stored XAdES draft is damaged")
    return root


def _ds(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS_DS}}}{name}", attrs)
    element.text = text
    return element


def _xades(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS_XADES}}}{name}", attrs)
    element.text = text
    return element


def _text_element(parent: etree._Element, name: str, text: str, field: str) -> None:
    try:
        _xades(parent, name, text)
    except ValueError as e:  # lxml refuses control characters and NULs
        raise InvalidParameter(field, "is not valid XML text") from e


def _load_certificate(der: bytes, name: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as e:
        raise SigningError(f"The {name} is not a DER-encoded X.509 certificate") from e


@functools.lru_cache(maxsize=256)  # a signer signs many documents with one certificate
def _issuer_serial_v2(der: bytes) -> bytes:
    """The DER ``IssuerSerial`` of RFC 5035, as ``xades:IssuerSerialV2`` holds it."""
    cert = asn1_x509.Certificate.load(der)
    issuer = asn1_x509.GeneralNames([asn1_x509.GeneralName(name="directory_name", value=cert.issuer)])
    return tsp.IssuerSerial({"issuer": issuer, "serial_number": cert.serial_number}).dump()


def _xsd_datetime(moment: datetime) -> str:
    # Naive values are UTC, as the rest of the service stores them.
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%SZ")


def prepare_xades(
    digest: bytes,
    certificate: bytes,
    chain: Sequence[bytes] = (),
    *,
    signing_time: datetime,
    reference_uri: str,
    description: str | None = None,
    mime_type: str = "application/octet-stream",
) -> XadesDraft:
    """Build a detached XAdES signature over ``digest``, up to the data to be signed.

    :param digest: the document's SHA-1 (20 bytes) or SHA-256 (32 bytes) digest.
    :param certificate: the signer certificate (DER); RSA or EC key.
    :param chain: issuing CA certificates (DER) to add to ``ds:KeyInfo``, nearest first.
    :param signing_time: the claimed ``xades:SigningTime`` (naive means UTC).
    :param reference_uri: ``URI`` of the document's ``ds:Reference``, e.g. ``urn:msign:content:<id>``.
    :param description: ``xades:DataObjectFormat/Description``, omitted when ``None``.
    :param mime_type: ``xades:DataObjectFormat/MimeType`` of the document.
    :raises InvalidParameter: the digest length, the URI or a text is unusable.
    :raises SigningError: a certificate cannot be read or its key type is unsupported.
    """
    digest_method = digest_method_for(digest)
    if digest_method is None:
        raise InvalidParameter("digest", f"must be a 20-byte SHA-1 or 32-byte SHA-256 digest, not {len(digest)} bytes")
    if not reference_uri or reference_uri.startswith("#") or any(c.isspace() for c in reference_uri):
        raise InvalidParameter("reference_uri", "must be a non-empty external URI without spaces")
    signer = _load_certificate(certificate, "signer certificate")
    for der in chain:
        _load_certificate(der, "chain certificate")
    signature_method = signature_method_for(signer.public_key())

    sig_id = f"xmldsig-{uuid.uuid4()}"
    root = etree.Element(f"{{{NS_DS}}}Signature", {"Id": sig_id}, nsmap={"ds": NS_DS})
    signed_info = _ds(root, "SignedInfo")
    _ds(signed_info, "CanonicalizationMethod", Algorithm=C14N_EXCLUSIVE)
    _ds(signed_info, "SignatureMethod", Algorithm=signature_method)
    data_ref = _ds(signed_info, "Reference", Id=f"{sig_id}-ref0", URI=reference_uri)
    _ds(data_ref, "DigestMethod", Algorithm=digest_method)
    _ds(data_ref, "DigestValue", b64(digest))
    props_ref = _ds(signed_info, "Reference", Type=SIGNED_PROPERTIES_TYPE, URI=f"#{sig_id}-signedprops")
    _ds(_ds(props_ref, "Transforms"), "Transform", Algorithm=C14N_EXCLUSIVE)
    _ds(props_ref, "DigestMethod", Algorithm=DIGEST_SHA256)
    props_digest = _ds(props_ref, "DigestValue")
    _ds(root, "SignatureValue", Id=f"{sig_id}-sigvalue")
    x509_data = _ds(_ds(root, "KeyInfo"), "X509Data")
    for der in [certificate, *(c for c in chain if c != certificate)]:
        _ds(x509_data, "X509Certificate", b64(der))

    qualifying = etree.SubElement(
        _ds(root, "Object"), f"{{{NS_XADES}}}QualifyingProperties", {"Target": f"#{sig_id}"}, nsmap={"xades": NS_XADES}
    )
    signed_props = _xades(qualifying, "SignedProperties", Id=f"{sig_id}-signedprops")
    signature_props = _xades(signed_props, "SignedSignatureProperties")
    _xades(signature_props, "SigningTime", _xsd_datetime(signing_time))
    cert_id = _xades(_xades(signature_props, "SigningCertificateV2"), "Cert")
    cert_digest = _xades(cert_id, "CertDigest")
    _ds(cert_digest, "DigestMethod", Algorithm=DIGEST_SHA256)
    _ds(cert_digest, "DigestValue", b64(hashlib.sha256(certificate).digest()))
    _xades(cert_id, "IssuerSerialV2", b64(_issuer_serial_v2(bytes(certificate))))
    data_format = _xades(_xades(signed_props, "SignedDataObjectProperties"), "DataObjectFormat")
    data_format.set("ObjectReference", f"#{sig_id}-ref0")
    if description is not None:
        _text_element(data_format, "Description", description, "description")
    _text_element(data_format, "MimeType", mime_type, "mime_type")

    props_digest.text = b64(hashlib.sha256(c14n(signed_props)).digest())
    return XadesDraft(
        xml=etree.tostring(root, encoding="utf-8"),
        signed_info=c14n(signed_info),
        signature_algorithm=signature_method,
        certificate=certificate,
    )


def _check_token(token: bytes, imprint: bytes) -> None:
    """Refuse a time-stamp token that is not a TSTInfo over ``imprint`` (SHA-256)."""
    try:
        content = cms.ContentInfo.load(token)
        encap = content["content"]["encap_content_info"]
        tst_info = encap["content"].parsed
        hashed = tst_info["message_imprint"]["hashed_message"].native
        algorithm = tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native
        ok = content["content_type"].native == "signed_data" and encap["content_type"].native == "tst_info"
    except (ValueError, TypeError, KeyError) as e:
        raise TimestampError("The time-stamp authority returned an unreadable token") from e
    if not ok or algorithm != "sha256" or hashed != imprint:
        raise TimestampError("The time-stamp token does not cover this signature value")


def finish_xades(draft: XadesDraft, signature_value: bytes, timestamper: Timestamper) -> bytes:
    """Complete a draft into a XAdES-T signature document.

    :param signature_value: the signer's value over :attr:`XadesDraft.signed_info`
        (PKCS #1 v1.5 for RSA; DER or raw ``r || s`` for ECDSA).
    :param timestamper: the TSA client that stamps the canonical ``ds:SignatureValue``.
    :return: the UTF-8 document, starting with an XML declaration.
    :raises SigningError: the draft is damaged, or the value does not verify
        under the signer certificate (then no time-stamp is requested).
    :raises TimestampError: from the time-stamper, or its token does not cover
        the canonical ``ds:SignatureValue`` with SHA-256.
    """
    root = _check_intact(draft)
    public_key = _load_certificate(draft.certificate, "signer certificate").public_key()
    value = check_signature_value(public_key, draft.signed_info, signature_value)
    sig_id = root.get("Id")
    value_element = root.find(f"{{{NS_DS}}}SignatureValue")
    qualifying = root.find(f"{{{NS_DS}}}Object/{{{NS_XADES}}}QualifyingProperties")
    if value_element is None or qualifying is None or not sig_id:
        raise SigningError("The stored XAdES draft is damaged")
    value_element.text = b64(value)

    imprint = hashlib.sha256(c14n(value_element)).digest()
    token = timestamper.timestamp(imprint, "sha256")
    _check_token(token, imprint)
    unsigned = _xades(_xades(qualifying, "UnsignedProperties"), "UnsignedSignatureProperties")
    stamp = _xades(unsigned, "SignatureTimeStamp", Id=f"{sig_id}-ts")
    _ds(stamp, "CanonicalizationMethod", Algorithm=C14N_EXCLUSIVE)
    _xades(stamp, "EncapsulatedTimeStamp", b64(token))
    return _XML_DECLARATION + etree.tostring(root, encoding="utf-8")


def sign_xades_with_key(
    digest: bytes,
    certificate: bytes,
    chain: Sequence[bytes],
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    timestamper: Timestamper,
    *,
    signing_time: datetime,
    reference_uri: str,
    description: str | None = None,
    mime_type: str = "application/octet-stream",
) -> bytes:
    """Both steps with a key held in process (a cloud key, a test instrument).

    Parameters as for :func:`prepare_xades` and :func:`finish_xades`.

    :raises SigningError: the key does not belong to the certificate.
    """
    draft = prepare_xades(
        digest,
        certificate,
        chain,
        signing_time=signing_time,
        reference_uri=reference_uri,
        description=description,
        mime_type=mime_type,
    )
    if draft.signature_algorithm == SIGNATURE_RSA_SHA256 and isinstance(private_key, rsa.RSAPrivateKey):
        value = private_key.sign(draft.signed_info, padding.PKCS1v15(), hashes.SHA256())
    elif draft.signature_algorithm != SIGNATURE_RSA_SHA256 and isinstance(private_key, ec.EllipticCurvePrivateKey):
        value = private_key.sign(draft.signed_info, ec.ECDSA(hashes.SHA256()))
    else:
        raise SigningError("The private key does not match the signer certificate's key type")
    return finish_xades(draft, value, timestamper)
