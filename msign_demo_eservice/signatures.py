"""What the demo reads out of the service's results, and the altered copies
it verifies to show a failure.

- The signer: the X.509 certificate's subject (RFC 4514 form, with the
  .NET names of serialNumber and the like), common name
  and ``serialNumber`` (the IDNP in Moldovan qualified certificates), parsed
  with ``cryptography``.
- The time: the ``genTime`` of the RFC 3161 time-stamp token in the
  signature (PAdES: the CMS signer's ``signature-time-stamp`` unsigned
  attribute, ETSI EN 319 142; XAdES: ``SignatureTimeStamp`` /
  ``EncapsulatedTimeStamp``, ETSI EN 319 132), else the XAdES
  ``SigningTime`` the signer claims. Nothing here *checks* a signature or a
  time-stamp: that is what ``VerifySignatures`` is for.
- Altered copies: a signed PDF with one byte of its signed original flipped
  (in the first content stream, so the file still parses and only the
  digest fails), or another hash than the one signed (Hash contents).

Left out: PDFs whose signature dictionaries sit in object streams (the
service writes classic incremental updates).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.x509.oid import NameOID
from lxml import etree

from .errors import BadInput

__all__ = ["Signer", "altered_hash", "altered_pdf", "read_signer", "signing_time"]

_XADES = "http://uri.etsi.org/01903/v1.3.2#"
#: A signature dictionary's ``/Contents`` (hexadecimal CMS, zero-padded).
_PDF_CONTENTS = re.compile(rb"/Contents\s*<([0-9A-Fa-f\s]+)>")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
#: Names for the attributes RFC 4514 leaves as dotted OIDs (those of the .NET display form).
_NAMES = {
    NameOID.SERIAL_NUMBER: "SERIALNUMBER",
    NameOID.GIVEN_NAME: "G",
    NameOID.SURNAME: "SN",
    NameOID.TITLE: "T",
    NameOID.EMAIL_ADDRESS: "E",
    NameOID.POSTAL_CODE: "PostalCode",
}


@dataclass(frozen=True)
class Signer:
    """Who a certificate names."""

    subject: str
    common_name: str | None
    serial_number: str | None
    issuer: str


def read_signer(der: bytes) -> Signer:
    """The subject of a DER certificate.

    :raises BadInput: not a certificate.
    """
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError as e:
        raise BadInput(f"the signer's certificate cannot be read: {e}") from e

    def first(oid: x509.ObjectIdentifier) -> str | None:
        values = certificate.subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else None

    return Signer(
        subject=certificate.subject.rfc4514_string(_NAMES),
        common_name=first(NameOID.COMMON_NAME),
        serial_number=first(NameOID.SERIAL_NUMBER),
        issuer=certificate.issuer.rfc4514_string(_NAMES),
    )


def signing_time(signature: bytes, content_type: str) -> datetime | None:
    """The time-stamp's time in a signed PDF (the last signature) or a XAdES
    (else its claimed ``SigningTime``); None when there is none to read."""
    if content_type == "Pdf":
        found = _PDF_CONTENTS.findall(signature)
        if not found:
            return None
        try:
            der = binascii.unhexlify(re.sub(rb"\s", b"", found[-1]))
        except (binascii.Error, ValueError):
            return None
        return _timestamp_of_cms(der.rstrip(b"\0"))
    try:
        root = etree.fromstring(signature, _PARSER)
    except etree.XMLSyntaxError:
        return None
    token = root.find(f".//{{{_XADES}}}SignatureTimeStamp/{{{_XADES}}}EncapsulatedTimeStamp")
    if token is not None and token.text:
        try:
            when = _gen_time(base64.b64decode(token.text))
        except (binascii.Error, ValueError):
            when = None
        if when is not None:
            return when
    claimed = root.find(f".//{{{_XADES}}}SigningTime")
    if claimed is not None and claimed.text:
        try:
            return datetime.fromisoformat(claimed.text.strip())
        except ValueError:
            return None
    return None


def _timestamp_of_cms(der: bytes) -> datetime | None:
    try:
        signed_data = cms.ContentInfo.load(der)["content"]
        for signer_info in signed_data["signer_infos"]:
            for attribute in signer_info["unsigned_attrs"] or []:
                if attribute["type"].native == "signature_time_stamp_token":
                    return _gen_time(attribute["values"][0].dump())
    except (ValueError, TypeError, KeyError):
        return None
    return None


def _gen_time(token: bytes) -> datetime | None:
    try:
        content = cms.ContentInfo.load(token)["content"]
        info = content["encap_content_info"]["content"].parsed
        if not isinstance(info, tsp.TSTInfo):
            return None
        when = info["gen_time"].native
    except (ValueError, TypeError, KeyError):
        return None
    return when if isinstance(when, datetime) else None


def altered_pdf(signed: bytes, original_size: int) -> bytes:
    """``signed`` with one byte of its first ``original_size`` bytes (the
    document as posted, which the signature covers) flipped: the first byte
    of its first stream's data, or the middle byte when it has no stream."""
    if not 0 < original_size <= len(signed):
        raise BadInput("the signed PDF is shorter than the document posted")
    marker = signed.find(b"stream", 0, original_size)
    position = original_size // 2
    if marker != -1:
        start = marker + len(b"stream")
        start += 2 if signed[start : start + 2] == b"\r\n" else 1
        if start < original_size:
            position = start
    altered = bytearray(signed)
    altered[position] ^= 0x01
    return bytes(altered)


def altered_hash(digest: bytes) -> bytes:
    """Another hash of the same length than ``digest``: that of something else."""
    return hashlib.new("sha1" if len(digest) == 20 else "sha256", b"altered:" + digest).digest()
