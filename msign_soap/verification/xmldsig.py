"""XML-Signature primitives for verifying (W3C XMLDSig 1.1): the hardened
parser for untrusted input, canonicalization, digests and signature values.

Input is parsed by one lxml parser configuration: no DTD (a ``<!DOCTYPE``,
``<!ENTITY`` … anywhere is refused before parsing, and again after it for
encodings the byte scan cannot see), no entity expansion, no network, the
default libxml2 limits (no ``huge_tree``), and at most
:data:`MAX_DOCUMENT_BYTES`.

Algorithms: canonical XML 1.0 and exclusive canonical XML 1.0 (with or
without comments, ``InclusiveNamespaces PrefixList``); SHA-1, SHA-224,
SHA-256, SHA-384 and SHA-512 digests; RSA PKCS #1 v1.5 and ECDSA (raw
``r || s``, XMLDSig 1.1 §6.4.3) with SHA-256, SHA-384 and SHA-512.

Left out: canonical XML 1.1, XPath / XSLT / base64 / enveloped transforms,
RSA-PSS, DSA, EdDSA, HMAC, and SHA-1 signatures (refused as too weak, see
:data:`WEAK_SIGNATURE_METHODS`). lxml's canonical form of a subtree carries the
ancestors' namespaces but not their ``xml:*`` attributes: a document that
relies on inherited ``xml:lang`` under inclusive c14n does not verify here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from lxml import etree

from ..errors import InvalidDocument

__all__ = [
    "syntax_message",
    "C14N_EXCLUSIVE",
    "C14N_INCLUSIVE",
    "DIGESTS",
    "MAX_DOCUMENT_BYTES",
    "NS_DS",
    "NS_XADES",
    "SIGNATURE_METHODS",
    "SIGNED_PROPERTIES_TYPE",
    "WEAK_SIGNATURE_METHODS",
    "base64_content",
    "canonicalize",
    "digest",
    "elements_with_id",
    "parse_untrusted_xml",
    "signature_value_verifies",
]

#: What lxml adds to a syntax error: its source name and position.
_SOURCE_IN_MESSAGE = re.compile(r"\s*\(<string>, line \d+\)$")
_FUNCTION_IN_MESSAGE = re.compile(r"^xml[A-Za-z]+: ")

NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_XADES = "http://uri.etsi.org/01903/v1.3.2#"
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"

#: The most bytes a XAdES document may have: a detached signature with its
#: chain and a time-stamp is about 10 KB; revocation values make it larger.
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024

C14N_INCLUSIVE = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_EXCLUSIVE = "http://www.w3.org/2001/10/xml-exc-c14n#"
#: Canonicalization URIs: (exclusive, with comments).
_C14N = {
    C14N_INCLUSIVE: (False, False),
    C14N_INCLUSIVE + "#WithComments": (False, True),
    C14N_EXCLUSIVE: (True, False),
    C14N_EXCLUSIVE + "WithComments": (True, True),
}

#: Digest method URIs and their hashlib names.
DIGESTS = {
    "http://www.w3.org/2000/09/xmldsig#sha1": "sha1",
    "http://www.w3.org/2001/04/xmldsig-more#sha224": "sha224",
    "http://www.w3.org/2001/04/xmlenc#sha256": "sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "sha512",
}

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
#: Signature method URIs: (key type, hash name).
SIGNATURE_METHODS = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": ("rsa", "sha256"),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": ("rsa", "sha384"),
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": ("rsa", "sha512"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": ("ec", "sha256"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": ("ec", "sha384"),
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": ("ec", "sha512"),
}
#: Signature methods known and refused: SHA-1 (ETSI TS 119 312 no longer
#: allows it for signatures).
WEAK_SIGNATURE_METHODS = frozenset(
    {
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
        "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
    }
)

# Any markup declaration: <!DOCTYPE, <!ENTITY, <!ELEMENT … (comments and CDATA are fine).
_DECLARATION = re.compile(rb"<!(?!--|\[CDATA\[)")
_WHITESPACE = re.compile(r"\s+")


def syntax_message(error: etree.XMLSyntaxError) -> str:
    """libxml2's words for a syntax error, without lxml's source name, libxml2's
    function name and its advice about parser options."""
    text = _SOURCE_IN_MESSAGE.sub("", str(error.msg or error))
    return _FUNCTION_IN_MESSAGE.sub("", text).replace(", use XML_PARSE_HUGE option", "")


def parse_untrusted_xml(data: bytes, max_bytes: int = MAX_DOCUMENT_BYTES) -> etree._Element:
    """Parse a document a caller handed in.

    :raises InvalidDocument: too large, not well-formed XML, or carrying a
        DTD or entity declarations.
    """
    if len(data) > max_bytes:
        raise InvalidDocument(f"the document is {len(data)} bytes, more than {max_bytes}")
    if _DECLARATION.search(data):
        raise InvalidDocument("DTDs and entity declarations are not allowed")
    parser = etree.XMLParser(  # one per call: lxml parsers are not shared between threads
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        collect_ids=False,
        remove_blank_text=False,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        raise InvalidDocument(f"not well-formed XML: {syntax_message(e)}") from e
    except ValueError as e:
        raise InvalidDocument(f"not well-formed XML: {e}") from e
    if root is None:
        raise InvalidDocument("not well-formed XML: no root element")
    if root.getroottree().docinfo.doctype or any(isinstance(node, etree._Entity) for node in root.iter()):
        raise InvalidDocument("DTDs and entity declarations are not allowed")
    return root


def canonicalize(
    element: etree._Element, algorithm: str, prefixes: list[str] | None = None, *, comments: bool = True
) -> bytes:
    """The canonical form of a subtree.

    :param algorithm: a canonicalization URI.
    :param prefixes: exclusive c14n's ``InclusiveNamespaces PrefixList``.
    :param comments: keep comments when the algorithm says so (``False``
        for a reference by ``#id``, which excludes comments whatever the
        transform says).
    :raises InvalidDocument: an algorithm not supported here.
    """
    if algorithm not in _C14N:
        raise InvalidDocument(f"unsupported canonicalization {algorithm}")
    exclusive, with_comments = _C14N[algorithm]
    return etree.tostring(
        element,
        method="c14n",
        exclusive=exclusive,
        with_comments=with_comments and comments,
        inclusive_ns_prefixes=prefixes if exclusive and prefixes else None,
    )


def elements_with_id(root: etree._Element, value: str) -> list[etree._Element]:
    """Every element of the document whose ``Id``, ``ID``, ``id`` or ``xml:id`` is ``value``."""
    found = root.xpath("//*[@Id=$v or @ID=$v or @id=$v or @xml:id=$v]", v=value)
    return list(found) if isinstance(found, list) else []  # type: ignore[arg-type]


def base64_content(element: etree._Element, what: str) -> bytes:
    """The octets of a ``base64Binary`` element (line breaks allowed).

    :raises InvalidDocument: naming ``what``, when the text is not base64.
    """
    text = _WHITESPACE.sub("", element.text or "")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidDocument(f"{what} is not base64") from e


def digest(algorithm: str, data: bytes) -> bytes:
    """``data`` hashed with the digest method ``algorithm`` (a key of :data:`DIGESTS`)."""
    return hashlib.new(DIGESTS[algorithm], data).digest()


def signature_value_verifies(method: str, public_key: object, value: bytes, signed_info: bytes) -> bool:
    """Whether ``value`` is a signature by ``public_key`` over canonical ``signed_info``.

    :param method: a key of :data:`SIGNATURE_METHODS`; a key of the other
        type never verifies.
    """
    key_type, hash_name = SIGNATURE_METHODS[method]
    algorithm = _HASHES[hash_name]()
    try:
        if key_type == "rsa" and isinstance(public_key, rsa.RSAPublicKey):
            size = (public_key.key_size + 7) // 8
            if len(value) > size:
                return False
            public_key.verify(value.rjust(size, b"\0"), signed_info, padding.PKCS1v15(), algorithm)
            return True
        if key_type == "ec" and isinstance(public_key, ec.EllipticCurvePublicKey):
            size = (public_key.curve.key_size + 7) // 8
            if len(value) != 2 * size:  # XMLDSig 1.1: r || s, never DER
                return False
            r, s = int.from_bytes(value[:size], "big"), int.from_bytes(value[size:], "big")
            public_key.verify(encode_dss_signature(r, s), signed_info, ec.ECDSA(algorithm))
            return True
    except (InvalidSignature, ValueError):
        return False
    return False
