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
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from lxml import etree

from ..errors import InvalidParameter, SigningError
from .timestamp import check_token_imprint
from .xmldsig import (
    C14N_EXCLUSIVE,
    DIGEST_SHA256,
    NS_DS,
    NS_XADES,
    SIGNATURE_RSA_SHA256,
    SIGNED_PROPERTIES_TYPE,
    b64,
    c14n,
    c14n_attribute,
    c14n_text,
    check_signature_value,
    digest_method_for,
    is_xml_text,
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
    # True when the parts are known to agree: the draft comes from prepare_xades or
    # from_json (which checked it). finish_xades checks any other draft (built by
    # hand, or by dataclasses.replace, which resets this field) before using it.
    _intact: bool = field(default=False, init=False, repr=False, compare=False)

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
        return _mark_intact(draft)


def _mark_intact(draft: XadesDraft) -> XadesDraft:
    object.__setattr__(draft, "_intact", True)  # frozen; the only field set after __init__
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


def _load_certificate(der: bytes, name: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as e:
        raise SigningError(f"The {name} is not a DER-encoded X.509 certificate") from e


@functools.lru_cache(maxsize=256)  # keyed by public certificates: a signer signs many documents with one
def _public_key(der: bytes) -> object:
    """The signer certificate's public key."""
    return _load_certificate(der, "signer certificate").public_key()


def _issuer_serial_v2(der: bytes) -> bytes:
    """The DER ``IssuerSerial`` of RFC 5035, as ``xades:IssuerSerialV2`` holds it."""
    cert = asn1_x509.Certificate.load(der)
    issuer = asn1_x509.GeneralNames([asn1_x509.GeneralName(name="directory_name", value=cert.issuer)])
    return tsp.IssuerSerial({"issuer": issuer, "serial_number": cert.serial_number}).dump()


def _xsd_datetime(moment: datetime) -> str:
    # Naive values are UTC, as the rest of the service stores them.
    utc = moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)
    return utc.replace(microsecond=0).isoformat() + "Z"


def _slot(name: str) -> str:
    """What marks the place of a value in a :class:`_Template` while lxml writes it.

    Private-use characters: no certificate, algorithm URI or tag holds them.
    """
    return f"\ue000{name}\ue001"


_SLOTS = re.compile(rb"\xee\x80\x80(\w+)\xee\x80\x81")  # _slot's marks, UTF-8 encoded


@dataclass(frozen=True)
class _Text:
    """A text with slots: literal byte strings and, between them, the names of the values that go there."""

    parts: tuple[bytes | str, ...]

    @classmethod
    def of(cls, marked: bytes) -> _Text:
        """The text of ``marked``, its slots marked by :func:`_slot`."""
        pieces = _SLOTS.split(marked)  # literal, name, literal, name, …, literal
        return cls(tuple(piece.decode("ascii") if i % 2 else piece for i, piece in enumerate(pieces)))

    def fill(self, values: Mapping[str, bytes]) -> bytes:
        return b"".join([values[part] if isinstance(part, str) else part for part in self.parts])


@dataclass(frozen=True)
class _Template:
    """A signer's XAdES signature with its per-signature values left out.

    What the signer certificate and its chain decide (the signature method,
    ``ds:KeyInfo``, ``SigningCertificateV2``) is built with lxml once, with
    slots for the rest (the Id, the reference's URI and digest, the signing
    time, the data object format, the digest of the signed properties). lxml
    writes the ``ds:Signature`` and the exclusive canonical forms of
    ``ds:SignedInfo`` and ``xades:SignedProperties`` around the slots; each
    signature puts its values into the slots, escaped as C14N 1.0 escapes
    them, which is well-formed XML for the document too. Building, writing
    and canonicalizing a tree for every signature cost a third of an RSA-2048
    signature; :func:`_template` instead checks each template once against
    lxml, with values full of characters that need escaping.

    :ivar signature_method: the ``ds:SignatureMethod`` URI for the signer's key.
    :ivar document: the ``ds:Signature`` element, as the draft holds it.
    :ivar signed_info: the canonical ``ds:SignedInfo``: the data to be signed.
    :ivar signed_properties: the canonical ``xades:SignedProperties``, digested in ``ds:SignedInfo``.
    """

    signature_method: str
    document: _Text
    signed_info: _Text
    signed_properties: _Text

    def fill(
        self,
        digest: bytes,
        digest_method: str,
        signing_time: datetime,
        reference_uri: str,
        description: str | None,
        mime_type: str,
    ) -> tuple[bytes, bytes]:
        """A new signature's ``ds:Signature`` and canonical ``ds:SignedInfo``.

        Parameters as for :func:`prepare_xades`, checked already.

        :param digest_method: the ``ds:DigestMethod`` URI of ``digest``.
        """
        values = {
            "id": f"xmldsig-{uuid.uuid4()}".encode("ascii"),
            "reference_uri": c14n_attribute(reference_uri).encode("utf-8"),
            "digest_method": digest_method.encode("ascii"),
            "digest": b64(digest).encode("ascii"),
            "signing_time": _xsd_datetime(signing_time).encode("ascii"),
            "description": b""
            if description is None
            else b"<xades:Description>%s</xades:Description>" % c14n_text(description).encode("utf-8"),
            "mime_type": c14n_text(mime_type).encode("utf-8"),
        }
        values["props_digest"] = b64(hashlib.sha256(self.signed_properties.fill(values)).digest()).encode("ascii")
        return self.document.fill(values), self.signed_info.fill(values)


@functools.lru_cache(maxsize=64)  # keyed by public certificates: a signer signs many documents with one
def _template(certificate: bytes, chain: tuple[bytes, ...]) -> _Template:
    """The :class:`_Template` of a signer certificate (DER) and its chain.

    :raises SigningError: a certificate cannot be read or its key type is unsupported.
    """
    for der in chain:
        _load_certificate(der, "chain certificate")
    signature_method = signature_method_for(_public_key(certificate))

    sig_id = _slot("id")
    root = etree.Element(f"{{{NS_DS}}}Signature", {"Id": sig_id}, nsmap={"ds": NS_DS})
    signed_info = _ds(root, "SignedInfo")
    _ds(signed_info, "CanonicalizationMethod", Algorithm=C14N_EXCLUSIVE)
    _ds(signed_info, "SignatureMethod", Algorithm=signature_method)
    data_ref = _ds(signed_info, "Reference", Id=f"{sig_id}-ref0", URI=_slot("reference_uri"))
    _ds(data_ref, "DigestMethod", Algorithm=_slot("digest_method"))
    _ds(data_ref, "DigestValue", _slot("digest"))
    props_ref = _ds(signed_info, "Reference", Type=SIGNED_PROPERTIES_TYPE, URI=f"#{sig_id}-signedprops")
    _ds(_ds(props_ref, "Transforms"), "Transform", Algorithm=C14N_EXCLUSIVE)
    _ds(props_ref, "DigestMethod", Algorithm=DIGEST_SHA256)
    _ds(props_ref, "DigestValue", _slot("props_digest"))
    _ds(root, "SignatureValue", Id=f"{sig_id}-sigvalue")
    x509_data = _ds(_ds(root, "KeyInfo"), "X509Data")
    for der in [certificate, *(c for c in chain if c != certificate)]:
        _ds(x509_data, "X509Certificate", b64(der))

    qualifying = etree.SubElement(
        _ds(root, "Object"), f"{{{NS_XADES}}}QualifyingProperties", {"Target": f"#{sig_id}"}, nsmap={"xades": NS_XADES}
    )
    signed_props = _xades(qualifying, "SignedProperties", Id=f"{sig_id}-signedprops")
    signature_props = _xades(signed_props, "SignedSignatureProperties")
    _xades(signature_props, "SigningTime", _slot("signing_time"))
    cert_id = _xades(_xades(signature_props, "SigningCertificateV2"), "Cert")
    cert_digest = _xades(cert_id, "CertDigest")
    _ds(cert_digest, "DigestMethod", Algorithm=DIGEST_SHA256)
    _ds(cert_digest, "DigestValue", b64(hashlib.sha256(certificate).digest()))
    _xades(cert_id, "IssuerSerialV2", b64(_issuer_serial_v2(certificate)))
    data_format = _xades(_xades(signed_props, "SignedDataObjectProperties"), "DataObjectFormat")
    data_format.set("ObjectReference", f"#{sig_id}-ref0")
    _xades(data_format, "Description", _slot("description"))
    _xades(data_format, "MimeType", _slot("mime_type"))

    # The optional Description: the value of its slot is the whole element, or nothing.
    description_element = f"<xades:Description>{_slot('description')}</xades:Description>".encode()
    document, properties = etree.tostring(root, encoding="utf-8"), c14n(signed_props)
    if document.count(description_element) != 1 or properties.count(description_element) != 1:
        raise SigningError("Cannot lay out the XAdES signature")  # pragma: no cover - lxml writes both alike
    description_slot = _slot("description").encode("utf-8")
    template = _Template(
        signature_method=signature_method,
        document=_Text.of(document.replace(description_element, description_slot)),
        signed_info=_Text.of(c14n(signed_info)),
        signed_properties=_Text.of(properties.replace(description_element, description_slot)),
    )
    for text in (_CHECK_TEXT, None):
        _check_template(template, certificate, text)
    return template


#: The reference URI, description and MIME type :func:`_check_template` fills in:
#: every character C14N 1.0 escapes, and some it does not.
_CHECK_TEXT = "\"'&<>\t\r\n\r \u021b\U0001f58b"


def _check_template(template: _Template, certificate: bytes, description: str | None) -> None:
    """Refuse a template that does not fill in to what lxml reads and canonicalizes.

    :raises SigningError: lxml reads other values, or canonicalizes to other texts.
    """
    uri, mime_type = "urn:" + _CHECK_TEXT.translate({ord(c): None for c in " \t\r\n"}), _CHECK_TEXT
    digest, signing_time = b"\x01" * 32, datetime(2026, 1, 1, tzinfo=UTC)
    xml, signed_info = template.fill(digest, DIGEST_SHA256, signing_time, uri, description, mime_type)
    try:
        root = _check_intact(XadesDraft(xml, signed_info, template.signature_method, certificate))
    except SigningError as e:  # pragma: no cover - what the check is for
        raise SigningError("The XAdES template disagrees with lxml's canonicalization") from e
    uris = root.xpath("ds:SignedInfo/ds:Reference[1]/@URI", namespaces={"ds": NS_DS})
    texts = root.xpath(".//xades:DataObjectFormat/*/text()", namespaces={"xades": NS_XADES})
    if uris != [uri] or texts != ([mime_type] if description is None else [description, mime_type]):
        raise SigningError("The XAdES template disagrees with lxml's reading")  # pragma: no cover


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
    for name, text in (("reference_uri", reference_uri), ("description", description), ("mime_type", mime_type)):
        if text is not None and not is_xml_text(text):
            raise InvalidParameter(name, "is not valid XML text")
    template = _template(bytes(certificate), tuple(bytes(der) for der in chain))
    xml, signed_info = template.fill(digest, digest_method, signing_time, reference_uri, description, mime_type)
    return _mark_intact(
        XadesDraft(
            xml=xml, signed_info=signed_info, signature_algorithm=template.signature_method, certificate=certificate
        )
    )


#: How :func:`prepare_xades` writes a draft, up to the signature's Id, and how it ends.
_DRAFT_START = re.compile(rb'<ds:Signature xmlns:ds="' + re.escape(NS_DS.encode()) + rb'" Id="(xmldsig-[0-9a-f-]+)">')
_DRAFT_END = b"</xades:QualifyingProperties></ds:Object></ds:Signature>"


def _split_draft(xml: bytes) -> tuple[str, memoryview, memoryview] | None:
    """A draft laid out as :func:`prepare_xades` writes it, cut around its empty ``ds:SignatureValue``.

    :return: the signature's Id, the document before the empty ``ds:SignatureValue``
        and after it up to the end of ``xades:QualifyingProperties``'s content;
        ``None`` for any other layout.
    """
    start = _DRAFT_START.match(xml)
    if start is None or not xml.endswith(_DRAFT_END):
        return None
    sig_id = start[1].decode("ascii")
    empty_value = f'<ds:SignatureValue Id="{sig_id}-sigvalue"/>'.encode("ascii")
    if xml.count(empty_value) != 1:
        return None
    at, whole = xml.index(empty_value), memoryview(xml)  # views: the document is copied once, into the result
    return sig_id, whole[:at], whole[at + len(empty_value) : -len(_DRAFT_END)]


def _signature_value(sig_id: str, value: str) -> etree._Element:
    element = etree.Element(f"{{{NS_DS}}}SignatureValue", {"Id": f"{sig_id}-sigvalue"}, nsmap={"ds": NS_DS})
    element.text = value
    return element


#: The canonical ``ds:SignatureValue`` as lxml writes it, with slots for the Id
#: and the base64 value, whose characters canonicalization leaves as they are.
_CANONICAL_VALUE = _Text.of(c14n(_signature_value(_slot("id"), _slot("value"))))


def _timestamp(canonical_value: bytes, timestamper: Timestamper) -> bytes:
    """A checked time-stamp token over the canonical ``ds:SignatureValue``."""
    imprint = hashlib.sha256(canonical_value).digest()
    token = timestamper.timestamp(imprint, "sha256")
    check_token_imprint(token, imprint, "sha256")
    return token


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
    root = None if draft._intact else _check_intact(draft)
    public_key = _public_key(bytes(draft.certificate))
    value = b64(check_signature_value(public_key, draft.signed_info, signature_value))
    parts = _split_draft(draft.xml)
    if parts is None:  # laid out otherwise (not by prepare_xades): through the XML tree
        return _finish_tree(parse_trusted_xml(draft.xml) if root is None else root, value, timestamper)

    # The draft as prepare_xades wrote it: the value and the time-stamp go into
    # the text around its empty ds:SignatureValue, with no need to parse it.
    sig_id, before, after = parts
    canonical_value = _CANONICAL_VALUE.fill({"id": sig_id.encode("ascii"), "value": value.encode("ascii")})
    token = _timestamp(canonical_value, timestamper)
    return b"".join(
        (
            _XML_DECLARATION,
            before,
            f'<ds:SignatureValue Id="{sig_id}-sigvalue">{value}</ds:SignatureValue>'.encode("ascii"),
            after,
            b"<xades:UnsignedProperties><xades:UnsignedSignatureProperties>",
            f'<xades:SignatureTimeStamp Id="{sig_id}-ts"><ds:CanonicalizationMethod Algorithm="{C14N_EXCLUSIVE}"/>'
            "<xades:EncapsulatedTimeStamp>".encode("ascii"),
            base64.b64encode(token),
            b"</xades:EncapsulatedTimeStamp></xades:SignatureTimeStamp>",
            b"</xades:UnsignedSignatureProperties></xades:UnsignedProperties>",
            _DRAFT_END,
        )
    )


def _finish_tree(root: etree._Element, value: str, timestamper: Timestamper) -> bytes:
    """:func:`finish_xades` on the parsed ``ds:Signature`` of a draft laid out otherwise."""
    sig_id = root.get("Id")
    value_element = root.find(f"{{{NS_DS}}}SignatureValue")
    qualifying = root.find(f"{{{NS_DS}}}Object/{{{NS_XADES}}}QualifyingProperties")
    if value_element is None or qualifying is None or not sig_id:
        raise SigningError("The stored XAdES draft is damaged")
    value_element.text = value
    token = _timestamp(c14n(value_element), timestamper)
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
