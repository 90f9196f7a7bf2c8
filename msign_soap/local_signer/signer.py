"""What ``POST /sign/data`` asks the local signer for, and the signing itself.

The body (the MoldSign desktop app's, contract §3.3)::

    {"algorithm": "SHA-1", "certificate": {…a certificateModel entry…},
     "signatureType": "Embedded", "signFormat": "PAdES-T" | "XAdES-T",
     "contentType": "Pdf" | "Text", "data": "<base64>"}

- ``PAdES-T`` with ``contentType`` ``Pdf``: ``data`` is the PDF; the answer
  is the PDF with one more signature (ETSI EN 319 142-1 B-T, SHA-256,
  ``ETSI.CAdES.detached``, signing-certificate-v2, RFC 3161 signature
  time-stamp, the chain embedded), as an incremental update of ``data``.
- ``XAdES-T`` with ``contentType`` ``Text`` (or ``Hash``): ``data`` is the
  *digest* of the document, computed with ``algorithm`` — for an MSign
  ``Hash`` content, the 20-byte SHA-1 the e-service posted (``SHA-256``:
  32 bytes). The answer is a detached XAdES-T signature (ETSI EN 319 132-1)
  whose data reference carries that digest. The optional ``reference``
  (an extension; the real app ignores unknown members) is the data
  reference's ``URI``; the sign page sends ``urn:msign:content:<CorrelationID>``,
  as the service's own signatures name their content.

``signatureType`` must be ``Embedded`` (the only type the real page sends).

Left out: ``contentType`` ``Text`` with other formats (a plain text to sign),
CAdES, and the real app's PIN window (the key is unlocked at start-up).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from ..errors import InvalidParameter
from ..signing import sign_pades_with_key, sign_xades_with_key
from ..signing.timestamp import Timestamper
from .keys import SignerKey

__all__ = ["DEFAULT_REFERENCE", "FORMAT_PADES", "FORMAT_XADES", "SignData", "parse_sign_data", "sign"]

FORMAT_PADES = "PAdES-T"
FORMAT_XADES = "XAdES-T"
#: The data reference's ``URI`` when the page names none.
DEFAULT_REFERENCE = "urn:msign:content:0"
#: Digest sizes by the names ``algorithm`` may take (matched case-insensitively, without ``-``).
_DIGESTS = {"SHA1": 20, "SHA256": 32}
_TEXT_TYPES = ("text", "hash")
_MAX_REFERENCE = 256


@dataclass(frozen=True)
class SignData:
    """A validated ``POST /sign/data`` body.

    :ivar sign_format: :data:`FORMAT_PADES` or :data:`FORMAT_XADES`.
    :ivar data: the PDF, or the digest.
    :ivar reference: the XAdES data reference's ``URI``.
    """

    sign_format: str
    data: bytes
    reference: str = DEFAULT_REFERENCE

    @property
    def kind(self) -> str:
        """The last segment of the result's Location: ``pdf`` or ``XAdES``."""
        return "pdf" if self.sign_format == FORMAT_PADES else "XAdES"


def _text(body: dict[str, object], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidParameter(name, "is required (a string)")
    return value


def parse_sign_data(body: object, key: SignerKey) -> SignData:
    """Check a ``POST /sign/data`` body against the protocol and the key held.

    :raises InvalidParameter: naming the member that is wrong;
        ``certificate`` when it does not name the key held.
    """
    if not isinstance(body, dict):
        raise InvalidParameter("body", "must be a JSON object")
    if not key.matches(body.get("certificate")):
        raise InvalidParameter("certificate", "is not a certificate of this signer (GET /certificates lists them)")
    if _text(body, "signatureType") != "Embedded":
        raise InvalidParameter("signatureType", "must be Embedded")
    sign_format = _text(body, "signFormat")
    content_type = _text(body, "contentType").lower()
    algorithm = _text(body, "algorithm").upper().replace("-", "")
    if algorithm not in _DIGESTS:
        raise InvalidParameter("algorithm", "must be SHA-1 or SHA-256")
    try:
        data = base64.b64decode(_text(body, "data"), validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidParameter("data", "is not base64") from e
    if sign_format == FORMAT_PADES:
        if content_type != "pdf":
            raise InvalidParameter("contentType", "must be Pdf for PAdES-T")
        if not data.startswith(b"%PDF-"):
            raise InvalidParameter("data", "is not a PDF document")
        return SignData(FORMAT_PADES, data)
    if sign_format == FORMAT_XADES:
        if content_type not in _TEXT_TYPES:
            raise InvalidParameter("contentType", "must be Text (a digest) for XAdES-T")
        if len(data) != _DIGESTS[algorithm]:
            raise InvalidParameter(
                "data", f"must be a {_DIGESTS[algorithm]}-byte {algorithm} digest, not {len(data)} bytes"
            )
        reference = body.get("reference", DEFAULT_REFERENCE)
        if not isinstance(reference, str) or not 0 < len(reference) <= _MAX_REFERENCE:
            raise InvalidParameter("reference", f"must be a URI of at most {_MAX_REFERENCE} characters")
        return SignData(FORMAT_XADES, data, reference)
    raise InvalidParameter("signFormat", "must be PAdES-T or XAdES-T")


def sign(request: SignData, key: SignerKey, timestamper: Timestamper, now: datetime) -> bytes:
    """Sign as :class:`SignData` says, time-stamped by ``timestamper``.

    :raises InvalidParameter: ``reference`` is not a usable URI.
    :raises InvalidDocument: the PDF cannot be read or take a signature.
    :raises TimestampError: no time-stamp could be had.
    :raises SigningError: the key cannot sign.
    """
    if request.sign_format == FORMAT_PADES:
        signed = sign_pades_with_key(
            request.data,
            key.certificate_der,
            key.chain_der,
            key.private_key,
            timestamper,
            signing_time=now,
            reason=None,
        )
        return bytes(signed)
    return sign_xades_with_key(
        request.data,
        key.certificate_der,
        key.chain_der,
        key.private_key,
        timestamper,
        signing_time=now,
        reference_uri=request.reference,
    )
