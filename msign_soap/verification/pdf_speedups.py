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
asks asn1crypto otherwise.

:func:`install` puts both in place (idempotent).
"""

from __future__ import annotations

import binascii
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils import generic

__all__ = ["install", "name_equal", "read_hex_string_from_stream"]

_WHITESPACE = b" \n\r\t\x0c\x00"
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_BLOCK = 64 * 1024
_original = generic.read_hex_string_from_stream
_original_name_eq = asn1_x509.Name.__eq__


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
    """``Name.__eq__``: the same DER is equal, anything else as asn1crypto decides."""
    if isinstance(other, asn1_x509.Name) and self.dump() == other.dump():
        return True
    return bool(_original_name_eq(self, other))


def install() -> None:
    """Use :func:`read_hex_string_from_stream` in pyHanko's parser and
    :func:`name_equal` for asn1crypto's names (idempotent)."""
    generic.read_hex_string_from_stream = read_hex_string_from_stream
    asn1_x509.Name.__eq__ = name_equal  # type: ignore[method-assign,assignment]
