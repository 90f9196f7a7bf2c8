"""A faster reader of PDF hex strings for pyHanko (0.38).

pyHanko reads a hex string one character at a time
(``pyhanko.pdf_utils.generic.read_hex_string_from_stream``). A signature's
``/Contents`` is such a string, and with a time-stamp reserve it holds some
40,000 hex digits: reading it was about half the time of verifying a signed
PDF. :func:`read_hex_string_from_stream` reads the string in blocks up to its
``>`` and decodes it at once when it holds only hex digits and whitespace;
anything else (a comment inside the string, a bad character, the end of the
stream) goes to pyHanko's own reader from the same position, so the result
and the errors are pyHanko's. :func:`install` puts it in place of pyHanko's.
"""

from __future__ import annotations

import binascii
from typing import Any

from pyhanko.pdf_utils import generic

__all__ = ["install", "read_hex_string_from_stream"]

_WHITESPACE = b" \n\r\t\x0c\x00"
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_BLOCK = 64 * 1024
_original = generic.read_hex_string_from_stream


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


def install() -> None:
    """Use :func:`read_hex_string_from_stream` in pyHanko's parser (idempotent)."""
    generic.read_hex_string_from_stream = read_hex_string_from_stream
