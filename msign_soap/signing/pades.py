"""PAdES baseline signatures of PDF documents (ETSI EN 319 142-1).

A signature is made in two steps, because the private key lives elsewhere (a
phone, a smart card, a remote HSM) and only the data to be signed travels to
it; the steps may run in different processes, with only a database between
them:

1. :func:`prepare_pades` appends an incremental update to the document with a
   new signature field, its signature dictionary (``/SubFilter
   /ETSI.CAdES.detached``, ``/M``, ``/Reason``, an optional visible
   appearance) and a zero-filled ``/Contents`` placeholder, hashes the
   ``/ByteRange`` with SHA-256 and builds the CMS signed attributes
   (content-type, message-digest, signing-certificate-v2; no signing-time,
   which EN 319 142-1 §6.3 forbids for PAdES). It returns a small
   :class:`PadesDraft` and the prepared document.
2. :func:`finish_pades` checks the signer's signature value over the DER of
   those signed attributes, obtains an RFC 3161 signature time-stamp over the
   signature value (level B-T), assembles the CMS SignedData
   (RFC 5652) and writes it into the placeholder. For level B-LT it then adds
   a Document Security Store (certificates, CRLs, OCSP responses of the
   signer and of the time-stamping authority) in a further incremental update.

Earlier signatures stay valid: every step only appends to the file.

Left out: B-LTA (document time-stamps), RSA-PSS and digests other than
SHA-256, encrypted PDFs, signing into a certified document that forbids it,
and validation of the signer's certificate at preparation time (B-LT
validates it when the DSS is built).
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import io
import threading
import unicodedata
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from asn1crypto import algos, cms, tsp, x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation import EmbeddedPdfSignature
from pyhanko.sign.validation.dss import async_add_validation_info
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.sig_validate import DefaultSignatureValidator, SignatureValidationContext

from ..errors import InvalidDocument, SigningError
from .pades_draft import DIGEST_ALGORITHM, LEVELS, SIGNATURE_ALGORITHMS, PadesDraft

__all__ = [
    "LEVELS",
    "PDF_DAMAGE",
    "PadesDraft",
    "Timestamper",
    "count_signatures",
    "finish_pades",
    "prepare_pades",
    "sign_pades_with_key",
]

#: Bytes kept free in ``/Contents`` for the time-stamp token (its size is only
#: known when the TSA answers): a token with a three-certificate chain is 5-8 KB.
TIMESTAMP_RESERVE = 16 * 1024
APPEARANCE_TEXT = "Semnat electronic de: %(signer)s\nData: %(ts)s"
# Room the CMS needs besides certificates, signature and token: SignerInfo,
# signed attributes (about 250 bytes), algorithm identifiers, DER headers.
_CMS_OVERHEAD = 2048
# Below this size finish_pades hashes and copies a read-only document in turn:
# a thread costs more than it saves.
_THREADED_COPY = 1024 * 1024
# Chunk in which pyHanko copies the original document into the prepared one.
_COPY_CHUNK = 1024 * 1024
#: What pyHanko's lenient reader raises on a damaged PDF: its own PdfError,
#: and built-in errors (even AssertionError) from structures it did not expect.
#: The verifier (:mod:`msign_soap.verification`) catches the same.
PDF_DAMAGE = (
    PdfError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    AssertionError,
    RecursionError,
    UnicodeError,
    zlib.error,  # a stream that is not what its /Filter says
)


class Timestamper(Protocol):
    """An RFC 3161 time-stamping client (see :mod:`msign_soap.signing.timestamp`)."""

    def timestamp(self, message_imprint: bytes, hash_algorithm: str = "sha256") -> bytes:
        """Return the DER TimeStampToken (a CMS ContentInfo) over ``message_imprint``."""
        ...


def prepare_pades(
    pdf: bytes | bytearray,
    certificate: bytes,
    chain: Sequence[bytes],
    *,
    signing_time: datetime,
    reason: str | None,
    name: str | None = None,
    field_name: str | None = None,
    appearance: bool = False,
    level: str = "B-T",
    location: str | None = None,
    timestamp_reserve: int = TIMESTAMP_RESERVE,
) -> tuple[PadesDraft, memoryview]:
    """Add an empty PAdES signature to ``pdf`` and return what the signer signs.

    :param pdf: the document, signed or not (a new signature is an
        incremental update that leaves earlier ones valid).
    :param certificate: the signer's certificate, DER.
    :param chain: the issuing CAs (DER), embedded in the CMS.
    :param signing_time: the claimed signing time, written to ``/M`` and shown
        in the appearance; naive values are taken as UTC.
    :param reason: ``/Reason`` (the SignatureReason of the request).
    :param name: ``/Name``, and the signer shown in the appearance (default:
        the certificate's common name).
    :param field_name: name of the new signature field (default: the first
        free ``SignatureN``).
    :param appearance: draw a visible box (signer, date) on the last page,
        in the PDF standard font Courier, which shows only Windows-1252
        letters: ă, ș, ț are written as a, s, t.
    :param level: ``B-T`` or ``B-LT`` (see :func:`finish_pades`).
    :param location: ``/Location``.
    :param timestamp_reserve: bytes kept for the time-stamp token.
    :return: the draft and the prepared document (the input plus one
        incremental update), as a writable ``memoryview`` of the stream
        pyHanko wrote it to (no copy), which :func:`finish_pades` signs in
        place: finish it once, or pass ``bytes(prepared)`` to keep it.
    :raises InvalidDocument: ``pdf`` cannot be read, is encrypted, or
        forbids a further signature.
    :raises SigningError: a certificate or a parameter is unusable.
    """
    if level not in LEVELS:
        raise SigningError(f"Unsupported PAdES level {level!r}; expected one of {', '.join(LEVELS)}")
    signer_cert = _load_certificate(certificate, "signer's certificate")
    chain_certs = [_load_certificate(c, "chain certificate") for c in chain]
    mechanism = _mechanism_for(signer_cert)
    when = signing_time if signing_time.tzinfo else signing_time.replace(tzinfo=UTC)

    stream = io.BytesIO(pdf)  # shares bytes until written to (copies a bytearray at once)
    writer = _open_for_update(stream)
    existing = _signature_field_names(writer)
    field = field_name or _free_field_name(existing)
    field_spec = None
    stamp_style = None
    text_params = None
    if appearance:
        field_spec = fields.SigFieldSpec(field, on_page=-1, box=_appearance_box(len(existing)))
        stamp_style, text_params = _appearance_style(name or _common_name(signer_cert))

    reserved = 2 * (
        len(certificate)
        + sum(len(c) for c in chain)
        + _max_signature_size(signer_cert)
        + _CMS_OVERHEAD
        + timestamp_reserve
    )
    placeholder_signer = signers.ExternalSigner(
        signer_cert, SimpleCertificateStore.from_certs(chain_certs), signature_mechanism=mechanism
    )
    meta = signers.PdfSignatureMetadata(
        field_name=field,
        md_algorithm=DIGEST_ALGORITHM,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        name=name,
        location=location,
    )
    pdf_signer = signers.PdfSigner(meta, placeholder_signer, stamp_style=stamp_style, new_field_spec=field_spec)
    try:
        session = pdf_signer.init_signing_session(writer)
        # PdfSigner takes "now"; the caller's clock decides /M and the stamp.
        session.system_time = when
        tbs = session.prepare_tbs_document(
            validation_info=None, bytes_reserved=reserved, appearance_text_params=text_params
        )
        # In place: the update is appended to the BytesIO the reader reads,
        # which shares the caller's bytes until that first write copies them
        # once; writing to a new stream would copy them twice (read, write).
        byte_range_digest, _ = tbs.digest_tbs_document(in_place=True)
        signed_attrs = asyncio.run(
            placeholder_signer.signed_attrs(
                byte_range_digest.document_digest,
                DIGEST_ALGORITHM,
                attr_settings=PdfCMSSignedAttributes(),
                use_pades=True,
            )
        )
    except PyHankoSigningError as e:
        raise InvalidDocument(f"The PDF cannot take a signature: {e}") from e
    except PDF_DAMAGE as e:
        raise InvalidDocument(f"The PDF cannot be updated: {_describe(e)}") from e
    prepared = stream.getbuffer()  # no copy, and writable: finish_pades signs it in place
    draft = PadesDraft(
        level=level,
        digest_algorithm=DIGEST_ALGORITHM,
        signature_algorithm=mechanism["algorithm"].native,
        signed_attributes=signed_attrs.dump(),
        certificate=bytes(certificate),
        chain=tuple(bytes(c) for c in chain),
        field_name=field,
        signing_time=when,
        reserved_start=byte_range_digest.reserved_region_start,
        reserved_end=byte_range_digest.reserved_region_end,
        document_digest=byte_range_digest.document_digest,
        prepared_size=len(prepared),
    )
    return draft, prepared


def finish_pades(
    draft: PadesDraft,
    prepared_pdf: bytes | bytearray | memoryview,
    signature_value: bytes,
    timestamper: Timestamper,
    *,
    validation_context: ValidationContext | None = None,
) -> bytearray | memoryview | bytes:
    """Embed the signer's signature value, time-stamped, into the prepared document.

    :param draft: from :func:`prepare_pades`.
    :param prepared_pdf: the document :func:`prepare_pades` returned with it.
        A writable buffer (a ``bytearray``, or a writable ``memoryview`` of
        bytes) is signed in place: the CMS goes into its placeholder and the
        same object is returned, so it can be finished only once. Anything
        else (``bytes``) is copied once into a new ``bytearray``.
    :param signature_value: the signature over :attr:`PadesDraft.data_to_be_signed`
        (RSA PKCS #1 v1.5; ECDSA as DER ``ECDSA-Sig-Value`` or raw ``r || s``).
    :param timestamper: the RFC 3161 client for the signature time-stamp.
    :param validation_context: for level B-LT: trust roots, and the CRLs and
        OCSP responses (given, or fetched if it allows fetching) to put in the
        Document Security Store.
    :return: the signed document: ``prepared_pdf`` itself if it is writable,
        else a ``bytearray``; at level B-LT, new ``bytes``.
    :raises SigningError: the signature value does not verify, the prepared
        document does not belong to the draft, the time-stamp does not cover
        the signature, or (B-LT) the validation data cannot be gathered.
        The timestamper's own errors pass through.
    """
    if draft.level == "B-LT" and validation_context is None:
        raise SigningError("PAdES B-LT needs a validation context to gather validation data")
    signed = _checked_buffer(draft, prepared_pdf)
    signed_attrs = _check_signed_attributes(draft)
    signer_cert = _load_certificate(draft.certificate, "signer's certificate")
    mechanism = _mechanism_for(signer_cert)
    if mechanism["algorithm"].native != draft.signature_algorithm:
        raise SigningError("The stored PAdES draft is damaged: signature algorithm and certificate disagree")
    signature = _normalise_signature(signer_cert, signature_value)
    try:
        DefaultSignatureValidator().validate_signature(
            signature,
            draft.signed_attributes,
            signer_cert.public_key,
            mechanism,
            SignatureValidationContext(contextual_md_algorithm=draft.digest_algorithm),
        )
    except (InvalidSignature, ValueError) as e:
        raise SigningError("The signature value does not verify with the signer's certificate") from e

    token = _signature_timestamp(timestamper, signature, draft.digest_algorithm)
    signer = signers.ExternalSigner(
        signer_cert,
        SimpleCertificateStore.from_certs([_load_certificate(c, "chain certificate") for c in draft.chain]),
        signature_value=signature,
        signature_mechanism=mechanism,
    )
    signed_data = asyncio.run(
        signer.async_sign_prescribed_attributes(
            draft.digest_algorithm,
            signed_attrs,
            timestamper=_FixedToken(token),
        )
    )
    contents = binascii.hexlify(signed_data.dump()).upper()
    room = draft.reserved_end - draft.reserved_start - 2
    if len(contents) > room:
        raise SigningError(
            f"The signature ({len(contents) // 2} bytes) does not fit the {room // 2} bytes "
            "reserved for it; prepare again with a larger timestamp_reserve"
        )
    # The placeholder's leading zeros are replaced, the trailing ones stay
    # (DER needs no terminator); its size, hence the document's, is unchanged.
    start = draft.reserved_start + 1
    with memoryview(signed) as view, view.cast("B") as target:
        target[start : start + len(contents)] = contents
    if validation_context is not None and draft.level == "B-LT":
        return _add_dss(signed, draft.field_name, validation_context)
    return signed


def sign_pades_with_key(
    pdf: bytes,
    certificate: bytes,
    chain: Sequence[bytes],
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    timestamper: Timestamper,
    *,
    validation_context: ValidationContext | None = None,
    **prepare_kwargs: Any,
) -> bytearray | memoryview | bytes:
    """Both steps at once, with a key held here (server-side signing, tests).

    :param prepare_kwargs: the keyword arguments of :func:`prepare_pades`.
    :return: the signed document (as :func:`finish_pades` returns it).
    """
    draft, prepared = prepare_pades(pdf, certificate, chain, **prepare_kwargs)
    if isinstance(private_key, rsa.RSAPrivateKey):
        value = private_key.sign(draft.data_to_be_signed, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(private_key, ec.EllipticCurvePrivateKey):
        value = private_key.sign(draft.data_to_be_signed, ec.ECDSA(hashes.SHA256()))
    else:
        raise SigningError(f"Unsupported private key type {type(private_key).__name__}")
    return finish_pades(draft, prepared, value, timestamper, validation_context=validation_context)


def count_signatures(pdf: bytes) -> int:
    """Count the filled signature fields (signatures and document time-stamps).

    Serves the rule that ``MultipleSignatures=false`` refuses a signed PDF.

    :raises InvalidDocument: ``pdf`` is not a readable PDF.
    """
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        return sum(1 for _ in fields.enumerate_sig_fields(reader, filled_status=True))
    except PDF_DAMAGE as e:
        raise InvalidDocument(f"Not a readable PDF: {_describe(e)}") from e


class _FixedToken(TimeStamper):
    """Hands pyHanko's CMS assembly a token obtained beforehand."""

    def __init__(self, token: cms.ContentInfo) -> None:
        super().__init__(include_nonce=False)
        self.token = token

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        return self.token


def _signature_timestamp(timestamper: Timestamper, signature: bytes, digest_algorithm: str) -> cms.ContentInfo:
    """Obtain the RFC 3161 token over the signature value and check its imprint."""
    imprint = hashlib.new(digest_algorithm, signature).digest()
    der = timestamper.timestamp(imprint, digest_algorithm)
    try:
        token = cms.ContentInfo.load(der)
        tst_info = token["content"]["encap_content_info"]["content"].parsed
        if not isinstance(tst_info, tsp.TSTInfo):
            raise ValueError("not a TSTInfo")
        covered = tst_info["message_imprint"]
        algorithm = covered["hash_algorithm"]["algorithm"].native
        hashed = covered["hashed_message"].native
    except (ValueError, TypeError, KeyError) as e:
        raise SigningError(f"The time-stamping authority returned an unreadable token: {e}") from e
    if algorithm != digest_algorithm or hashed != imprint:
        raise SigningError("The time-stamp token does not cover the signature value")
    return token


def _checked_buffer(draft: PadesDraft, prepared: bytes | bytearray | memoryview) -> bytearray | memoryview:
    """The buffer to sign in: ``prepared`` if writable, else a copy; refused unless it is the draft's document.

    The size and the empty placeholder are checked first, then the digest of
    the ``/ByteRange`` (all but the placeholder) against the draft's. A
    read-only document is copied while it is hashed: hashlib lets go of the
    GIL on large inputs, so the copy costs no time on a second core.
    """
    signed: bytearray | memoryview
    with memoryview(prepared) as view:
        if not view.c_contiguous:
            raise SigningError("The prepared document is not a contiguous buffer")
        writable = prepared if isinstance(prepared, bytearray | memoryview) and not view.readonly else None
        with view.cast("B") as source:
            _check_layout(draft, source)
            if writable is not None:
                digest, signed = _document_digest(draft, source), writable
            else:
                digest, signed = _digest_while_copying(draft, source)
    if digest != draft.document_digest:
        raise SigningError("The prepared document does not belong to this draft (digest)")
    return signed


def _check_layout(draft: PadesDraft, view: memoryview) -> None:
    """Refuse a prepared document of another size, or without an empty placeholder where the draft says."""
    start, end = draft.reserved_start, draft.reserved_end
    if len(view) != draft.prepared_size:
        raise SigningError("The prepared document does not belong to this draft (size)")
    if view[start : start + 1] != b"<" or view[end - 1 : end] != b">" or bytes(view[start + 1 : end - 1]).strip(b"0"):
        raise SigningError("The prepared document does not belong to this draft (placeholder)")


def _document_digest(draft: PadesDraft, view: memoryview) -> bytes:
    """The digest of the ``/ByteRange``: slices of a memoryview, hashed without a copy."""
    digest = hashlib.new(draft.digest_algorithm)
    digest.update(view[: draft.reserved_start])
    digest.update(view[draft.reserved_end :])
    return digest.digest()


def _digest_while_copying(draft: PadesDraft, view: memoryview) -> tuple[bytes, bytearray]:
    """:func:`_document_digest` of ``view`` in a thread, and a ``bytearray`` copy of it meanwhile."""
    if len(view) < _THREADED_COPY:
        return _document_digest(draft, view), bytearray(view)
    result: list[bytes] = []
    hasher = threading.Thread(target=lambda: result.append(_document_digest(draft, view)), name="pades-digest")
    hasher.start()
    try:
        copy = bytearray(view)
    finally:
        hasher.join()
    if not result:  # pragma: no cover - hashlib failed in the thread (no memory)
        raise SigningError("The prepared document could not be hashed")
    return result[0], copy


def _check_signed_attributes(draft: PadesDraft) -> cms.CMSAttributes:
    """Parse the stored signed attributes; their message-digest must be the document's."""
    try:
        attrs = cms.CMSAttributes.load(draft.signed_attributes)
        digests = [a["values"][0].native for a in attrs if a["type"].native == "message_digest"]
    except (ValueError, TypeError, KeyError, IndexError) as e:
        raise SigningError("The stored PAdES draft is damaged: unreadable signed attributes") from e
    if digests != [draft.document_digest]:
        raise SigningError("The stored PAdES draft is damaged: the signed attributes cover another document")
    return attrs


def _add_dss(signed: bytearray | memoryview, field_name: str, validation_context: ValidationContext) -> bytes:
    """Append the Document Security Store of PAdES B-LT (EN 319 142-1 §5.4)."""
    reader = PdfFileReader(io.BytesIO(signed), strict=False)
    embedded = next((s for s in reader.embedded_regular_signatures if s.field_name == field_name), None)
    if embedded is None:  # pragma: no cover - we have just written it
        raise SigningError(f"Signature field {field_name!r} vanished")

    async def run(sig: EmbeddedPdfSignature, vc: ValidationContext) -> io.BytesIO:
        try:
            # No /VRI: EN 319 142-1 V1.2.1 no longer uses it.
            return await async_add_validation_info(sig, vc, add_vri_entry=False)
        finally:
            await vc.aclose()

    try:
        output = asyncio.run(run(embedded, validation_context))
    except (PathBuildingError, PathValidationError, PyHankoSigningError, PdfError) as e:
        raise SigningError(f"Cannot gather PAdES B-LT validation data: {e}") from e
    return output.getvalue()


def _describe(error: Exception) -> str:
    """The message of a reader error, or its type where the message is an internal detail."""
    return str(error) if isinstance(error, PdfError) and str(error) else type(error).__name__


def _load_certificate(der: bytes, what: str) -> x509.Certificate:
    try:
        cert = x509.Certificate.load(bytes(der))
        cert.native  # noqa: B018 - parses lazily; force it so damage shows here
    except (ValueError, TypeError) as e:
        raise SigningError(f"The {what} is not a DER X.509 certificate") from e
    return cert


def _mechanism_for(cert: x509.Certificate) -> algos.SignedDigestAlgorithm:
    key_type = cert.public_key.algorithm
    if key_type not in SIGNATURE_ALGORITHMS:
        raise SigningError(f"Unsupported signer key type {key_type!r}; expected RSA or EC")
    return algos.SignedDigestAlgorithm({"algorithm": SIGNATURE_ALGORITHMS[key_type]})


def _max_signature_size(cert: x509.Certificate) -> int:
    bits = cert.public_key.bit_size
    if cert.public_key.algorithm == "ec":
        # DER ECDSA-Sig-Value: two INTEGERs of up to ceil(bits/8)+1 bytes
        return 2 * ((bits + 7) // 8 + 3) + 3
    return (bits + 7) // 8


def _normalise_signature(cert: x509.Certificate, value: bytes) -> bytes:
    """Turn a raw ``r || s`` ECDSA value (PKCS #11, WebCrypto) into DER."""
    if cert.public_key.algorithm != "ec":
        return bytes(value)
    size = (cert.public_key.bit_size + 7) // 8
    if len(value) == 2 * size and value[:1] != b"\x30":
        return encode_dss_signature(int.from_bytes(value[:size], "big"), int.from_bytes(value[size:], "big"))
    return bytes(value)


def _open_for_update(stream: io.BytesIO) -> IncrementalPdfFileWriter:
    try:
        writer = IncrementalPdfFileWriter(stream, strict=False)
    except PDF_DAMAGE as e:
        raise InvalidDocument(f"Not a readable PDF: {_describe(e)}") from e
    # pyHanko copies the original into the output 4 KiB at a time by default: a
    # Python loop of 12,800 turns for 50 MiB. Larger chunks, same bytes.
    writer.IO_CHUNK_SIZE = _COPY_CHUNK
    if writer.security_handler is not None:
        raise InvalidDocument("Encrypted PDFs cannot be signed")
    return writer


def _signature_field_names(writer: IncrementalPdfFileWriter) -> list[str]:
    try:
        return [name for name, _value, _ref in fields.enumerate_sig_fields(writer)]
    except PDF_DAMAGE as e:
        raise InvalidDocument(f"The PDF's form is damaged: {_describe(e)}") from e


def _free_field_name(existing: Sequence[str]) -> str:
    taken = set(existing)
    n = len(taken) + 1
    while f"Signature{n}" in taken:
        n += 1
    return f"Signature{n}"


def _appearance_box(index: int) -> tuple[int, int, int, int]:
    """Lower-left boxes, two a row, so co-signers' boxes do not overlap."""
    width, height, margin, gap = 250, 50, 36, 10
    x = margin + (index % 2) * (width + gap)
    y = margin + (index // 2) * (height + gap)
    return x, y, x + width, y + height


def _appearance_style(signer: str) -> tuple[TextStampStyle, dict[str, str]]:
    # Courier, a PDF standard font: nothing to embed, WinAnsiEncoding only.
    style = TextStampStyle(stamp_text=APPEARANCE_TEXT, text_box_style=TextBoxStyle(font_size=9))
    return style, {"signer": _to_cp1252(signer)}


def _to_cp1252(text: str) -> str:
    """Drop the accents Courier's WinAnsiEncoding cannot show (ș → s)."""
    out = []
    for char in text:
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("cp1252", "ignore").decode("cp1252")
            out.append(base or "?")
    return "".join(out)


def _common_name(cert: x509.Certificate) -> str:
    native = cert.subject.native
    return str(native.get("common_name") or native.get("organization_name") or "")
