"""Speed-ups of pyHanko (0.38) and asn1crypto for verifying PDFs: the same
results, less time.

A faster reader of PDF hex strings:

pyHanko reads a hex string one character at a time
(``pyhanko.pdf_utils.generic.read_hex_string_from_stream``). A signature's
``/Contents`` is such a string, and with a time-stamp reserve it holds some
40,000 hex digits: reading it was about half the time of verifying a signed
PDF. :func:`read_hex_string_from_stream` reads the string in blocks up to its
``>`` and decodes it at once when it holds only hex digits and whitespace;
anything else (a comment inside the string, a bad character, the end of the
stream) goes to pyHanko's own reader from the same position, so the result
and the errors are pyHanko's.

A faster equality of X.509 names: asn1crypto compares names as RFC 5280
§7.1 says, preparing every attribute value (LDAP string preparation) on
each comparison, and pyHanko compares issuer names hundreds of times per
document (matching signer infos and certificates): a third of the time of
verifying five co-signatures. :func:`name_equal` answers at once when both
names have the same DER encoding (then they are equal under any rule) and
otherwise compares asn1crypto's own normalized form of each name
(``Name.hashable``: the same preparation, the same RDN order). That form,
which pyHanko's certificate registry also asks for as a key, is remembered
per DER encoding (:func:`name_hashable`), so each distinct name is prepared
once per process rather than on every comparison.

:func:`install` puts both in place (idempotent).
"""

from __future__ import annotations

import binascii
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic

__all__ = ["install", "name_equal", "name_hashable", "read_hex_string_from_stream"]

_WHITESPACE = b" \n\r\t\x0c\x00"
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_BLOCK = 64 * 1024
_original = generic.read_hex_string_from_stream
_original_name_eq = asn1_x509.Name.__eq__
_original_name_hashable = asn1_x509.Name.hashable
#: DER of a name -> its normalized form; names come from certificates and CRLs,
#: few and repeated, but an attacker's documents may bring many.
_NORMALIZED: dict[bytes, str] = {}
_NORMALIZED_MAX = 4096


def read_hex_string_from_stream(stream: Any) -> Any:
    """As pyHanko's: ``stream`` is at the ``<`` of a hex string; read up to and
    including its ``>``; the string object."""
    start = stream.tell()
    stream.read(1)  # "<"
    blocks = []
    while True:
        block = stream.read(_BLOCK)
        end = block.find(b">")
        if end >= 0:
            blocks.append(block[:end])
            stream.seek(end + 1 - len(block), 1)  # just after ">"
            break
        if not block:  # no ">": pyHanko says what is wrong
            stream.seek(start)
            return _original(stream)
        blocks.append(block)
    digits = b"".join(blocks).translate(None, _WHITESPACE)
    if digits.translate(None, _HEX_DIGITS):  # a comment or a bad character
        stream.seek(start)
        return _original(stream)
    if len(digits) % 2:
        digits += b"0"
    return generic.pdf_string(binascii.unhexlify(digits))


def name_equal(self: asn1_x509.Name, other: object) -> bool:
    """``Name.__eq__``: the same DER is equal; else equal normalized forms."""
    if not isinstance(other, asn1_x509.Name):
        return bool(_original_name_eq(self, other))
    mine, theirs = self.dump(), other.dump()
    return mine == theirs or _normalized(self, mine) == _normalized(other, theirs)


def name_hashable(self: asn1_x509.Name) -> str:
    """``Name.hashable``, remembered by DER."""
    return _normalized(self, self.dump())


def _normalized(name: asn1_x509.Name, der: bytes) -> str:
    """``name.hashable``, remembered by DER (at most :data:`_NORMALIZED_MAX` names, then forgotten)."""
    value = _NORMALIZED.get(der)
    if value is None:
        if len(_NORMALIZED) >= _NORMALIZED_MAX:
            _NORMALIZED.clear()
        value = _NORMALIZED[der] = name.chosen.hashable
    return value


def install() -> None:
    """Use :func:`read_hex_string_from_stream` in pyHanko's parser, and
    :func:`name_equal` and :func:`name_hashable` for asn1crypto's names (idempotent)."""
    generic.read_hex_string_from_stream = read_hex_string_from_stream
    asn1_x509.Name.__eq__ = name_equal  # type: ignore[method-assign,assignment]
    asn1_x509.Name.hashable = property(name_hashable)  # type: ignore[method-assign,assignment]
