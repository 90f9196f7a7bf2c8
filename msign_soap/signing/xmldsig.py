"""XML-Signature primitives used by the XAdES builder (W3C XMLDSig 1.1).

Algorithm URIs, exclusive canonicalization (of a subtree, and the escaping it
gives text and attribute values), the hardened parser for drafts read back
from storage, and the signature-value checks: PKCS #1 v1.5 for RSA
and ECDSA in the raw ``r || s`` form that XMLDSig 1.1 §6.4.3 mandates (a
smart card or a phone usually returns the DER ``ECDSA-Sig-Value`` instead).

Left out: every algorithm the service does not emit (RSA-PSS, SHA-384/512
signatures, EdDSA, HMAC) and inclusive canonicalization.
"""

from __future__ import annotations

import base64
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from lxml import etree

from ..errors import SigningError

__all__ = [
    "C14N_EXCLUSIVE",
    "DIGEST_SHA1",
    "DIGEST_SHA256",
    "NS_DS",
    "NS_XADES",
    "NS_XADES141",
    "SIGNATURE_ECDSA_SHA256",
    "SIGNATURE_RSA_SHA256",
    "SIGNED_PROPERTIES_TYPE",
    "b64",
    "c14n",
    "c14n_attribute",
    "c14n_text",
    "check_signature_value",
    "digest_method_for",
    "is_xml_text",
    "parse_trusted_xml",
    "signature_method_for",
]

NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_XADES = "http://uri.etsi.org/01903/v1.3.2#"
NS_XADES141 = "http://uri.etsi.org/01903/v1.4.1#"
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"

#: Exclusive XML Canonicalization 1.0, without comments. Chosen over inclusive
#: c14n because the signature stays valid when a consumer embeds the
#: ds:Signature element in another document (an envelope, an ASiC manifest):
#: only the namespaces an element visibly uses enter its canonical form.
C14N_EXCLUSIVE = "http://www.w3.org/2001/10/xml-exc-c14n#"

DIGEST_SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
DIGEST_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SIGNATURE_RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SIGNATURE_ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"

_DIGESTS_BY_SIZE = {20: DIGEST_SHA1, 32: DIGEST_SHA256}

# Drafts come from our own database, but parse them as if they did not.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_blank_text=False)


def b64(data: bytes) -> str:
    """Base64 without line breaks, as ``ds:base64Binary`` text."""
    return base64.b64encode(data).decode("ascii")


def c14n(element: etree._Element) -> bytes:
    """The Exclusive XML Canonicalization 1.0 (no comments) of a subtree."""
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


# Canonical XML 1.0 §2.3 (which exclusive c14n follows): the characters escaped in
# text nodes and in attribute values, and how.
_C14N_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#xD;"})
_C14N_ATTRIBUTE = str.maketrans({"&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": "&#x9;", "\n": "&#xA;", "\r": "&#xD;"})
# Not a Char of XML 1.0 (§2.2): what no XML text can hold, even as a character reference.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def c14n_text(text: str) -> str:
    """``text`` as canonical XML writes a text node: ``&``, ``<``, ``>`` and CR escaped.

    Also well-formed XML for the text of an element in any other document.
    """
    return text.translate(_C14N_TEXT)


def c14n_attribute(value: str) -> str:
    """``value`` as canonical XML writes an attribute value (in double quotes):
    ``&``, ``<``, ``"``, TAB, LF and CR escaped.

    Also well-formed XML for a double-quoted attribute value in any other document.
    """
    return value.translate(_C14N_ATTRIBUTE)


def is_xml_text(text: str) -> bool:
    """Whether ``text`` holds only characters an XML 1.0 document may hold."""
    return _NOT_XML_CHAR.search(text) is None


def digest_method_for(digest: bytes) -> str | None:
    """The ``ds:DigestMethod`` of a precomputed digest, told by its length.

    :return: SHA-1 for 20 bytes, SHA-256 for 32 bytes, ``None`` otherwise.
    """
    return _DIGESTS_BY_SIZE.get(len(digest))


def signature_method_for(public_key: object) -> str:
    """The ``ds:SignatureMethod`` for a signer's public key.

    :raises SigningError: for keys other than RSA and elliptic-curve keys.
    """
    if isinstance(public_key, rsa.RSAPublicKey):
        return SIGNATURE_RSA_SHA256
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return SIGNATURE_ECDSA_SHA256
    raise SigningError(f"Unsupported signer key type {type(public_key).__name__}: only RSA and EC keys can sign")


def check_signature_value(public_key: object, signed_info: bytes, value: bytes) -> bytes:
    """Check a signature over canonical ``ds:SignedInfo`` and put it in XMLDSig form.

    :param public_key: the signer certificate's public key.
    :param value: PKCS #1 v1.5 bytes for RSA; for EC the DER ``ECDSA-Sig-Value``
        (what CMS and most cards return) or the raw ``r || s`` form.
    :return: the octets of ``ds:SignatureValue`` (raw ``r || s`` for ECDSA).
    :raises SigningError: the value does not verify under the public key.
    """
    if isinstance(public_key, rsa.RSAPublicKey):
        # I2OSP: some tokens drop leading zero octets; XMLDSig wants the modulus length.
        value = value.rjust((public_key.key_size + 7) // 8, b"\0")
        try:
            public_key.verify(value, signed_info, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as e:
            raise SigningError("The signature value does not match the signer certificate") from e
        return value
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        size = (public_key.curve.key_size + 7) // 8
        for r, s in _ecdsa_candidates(value, size):
            raw = r.to_bytes(size, "big") + s.to_bytes(size, "big")
            try:
                public_key.verify(encode_dss_signature(r, s), signed_info, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                continue
            return raw
        raise SigningError("The signature value does not match the signer certificate")
    raise SigningError(f"Unsupported signer key type {type(public_key).__name__}")


def _ecdsa_candidates(value: bytes, size: int) -> list[tuple[int, int]]:
    candidates = []
    try:
        candidates.append(decode_dss_signature(value))
    except ValueError:
        pass
    if len(value) == 2 * size:
        candidates.append((int.from_bytes(value[:size], "big"), int.from_bytes(value[size:], "big")))
    return [(r, s) for r, s in candidates if 0 < r < 1 << (8 * size) and 0 < s < 1 << (8 * size)]


def parse_trusted_xml(data: bytes) -> etree._Element:
    """Parse a document we wrote earlier (a draft), without entities or network.

    :raises SigningError: the data is not well-formed XML or carries a DTD.
    """
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as e:
        raise SigningError(f"The stored signature draft is not well-formed XML: {e}") from e
    if root.getroottree().docinfo.doctype:
        raise SigningError("The stored signature draft carries a DTD")
    return root
