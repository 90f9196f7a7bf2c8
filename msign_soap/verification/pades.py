"""Verification of PAdES signatures in PDF documents (ETSI EN 319 142-1),
judged in the terms of ETSI EN 319 102-1.

:func:`verify_pdf` checks every signature of a PDF, in document order:

- **integrity**: the ``/ByteRange`` starts at byte 0 and leaves out exactly
  the ``/Contents`` hex string of that signature and nothing else, up to the
  end of the file or of the signature's revision (this defeats the Signature
  Wrapping Attack and the Universal Signature Forgery of Mladenov et al.,
  "1 Trillion Dollar Refund", CCS 2019); the message digest and the
  signature value (RFC 5652) verify;
- **later revisions** (pyHanko's difference analysis): an incremental update
  after a signature may only add signatures (new or filled signature fields),
  validation data (a DSS) and document time-stamps, and less if a
  certification signature's DocMDP permissions say so. Anything else — page
  content, annotations, other form fields, fonts, overwritten objects or
  object streams — makes the signature ``ALTERED``. This is stricter than
  ISO 32000 for approval signatures (which lets form fields be filled and,
  at viewers' discretion, annotations be added): it is what defeats the
  Incremental Saving Attack and the hide, replace and hide-and-replace
  Shadow Attacks (Mainka et al., NDSS 2021), whose signed revision already
  holds the content a later update reveals;
- **the signature time-stamp** (RFC 3161, over this signature's value): when
  present it must verify and chain to a trust anchor; its time is the
  signing time (``signed_at``) the signer's certificate is judged at;
- **the signer's certificate**: a path to a trust anchor of the
  :class:`~msign_soap.verification.trust.Trust`, valid and not revoked at the
  signing time (the time-stamp's, else ``now``), from the revocation data the
  trust provides or fetches and the data in the document's DSS. Revocation
  data issued after the signing time counts for it (a CRL issued today says
  whether the certificate was revoked last month);
- **document time-stamps** (``/DocTimeStamp``) must verify like signatures;
  they are reported only when they do not, and raise the level of the
  signatures before them to ``PAdES-BASELINE-LTA``.

Every certificate the document carries (signatures, time-stamp tokens, DSS)
is shown to :meth:`~msign_soap.verification.trust.Trust.screen_fetch_urls`
before anything that may fetch runs, so a document cannot make the service
call into private address space. The work is bounded: the document's size,
its number of revisions and of signatures (:data:`MAX_PDF_BYTES`,
:data:`MAX_REVISIONS`, :data:`MAX_SIGNATURES`), pyHanko's limits for
decoding streams of untrusted documents, and the trust's fetch limits.

The DSS and the validation contexts are in :mod:`.dss`; the mapping of
pyHanko's findings to indications and verdicts in :mod:`.pades_status`.

Left out: the full EN 319 102-1 past-signature validation with proofs of
existence (a certificate expired *now* is judged at the time-stamp's time,
but a TSA certificate must be valid now), signature policies, seed-value
constraints, content time-stamps beyond checking them, encrypted PDFs,
hybrid-reference files and ``/adbe.x509.rsa_sha1`` signatures (reported as
``FORMAT_FAILURE``).
"""

from __future__ import annotations

import asyncio
import binascii
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import (
    CatalogModificationRule,
    DocInfoRule,
    DSSCompareRule,
    FormUpdatingRule,
    MetadataUpdateRule,
    ModificationLevel,
    ObjectStreamRule,
    SigFieldCreationRule,
    SigFieldModificationRule,
    StandardDiffPolicy,
    XrefStreamRule,
)
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import EmbeddedPdfSignature, async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import PdfSignatureStatus

from ..errors import MSignError
from . import pdf_speedups
from .dss import PDF_DAMAGE, OneDocumentTrust, ValidationData, certificates_in, contexts, read_dss
from .names import display_subject
from .pades_status import (
    indication_of,
    integrity_failure,
    modification_failure,
    timestamp_failure,
    trust_failure,
    trust_text,
)
from .report import DocumentReport, Indication, SignatureReport, Verdict
from .trust import Trust

__all__ = ["MAX_PDF_BYTES", "MAX_REVISIONS", "MAX_SIGNATURES", "verify_pdf"]

#: Largest document verified (the SOAP contract's per-content limit).
MAX_PDF_BYTES = 64 * 1024 * 1024
#: Most signatures (and document time-stamps) verified in one document.
MAX_SIGNATURES = 50
#: Most revisions (incremental updates) a document may have.
MAX_REVISIONS = 200

# The difference analysis: pyHanko's default policy without the rule that
# lets form fields other than signatures change after signing (a Shadow
# "replace" attack fills a field the signed revision left empty).
_DIFF_POLICY = StandardDiffPolicy(
    global_rules=[
        CatalogModificationRule(),
        DocInfoRule().as_qualified(ModificationLevel.LTA_UPDATES),
        XrefStreamRule().as_qualified(ModificationLevel.LTA_UPDATES),
        ObjectStreamRule().as_qualified(ModificationLevel.LTA_UPDATES),
        DSSCompareRule().as_qualified(ModificationLevel.LTA_UPDATES),
        MetadataUpdateRule().as_qualified(ModificationLevel.LTA_UPDATES),
    ],
    form_rule=FormUpdatingRule(field_rules=[SigFieldCreationRule(), SigFieldModificationRule()]),
)
# The signer's certificate must allow signing (as the signing flow demands).
_KEY_USAGE = KeyUsageConstraints(key_usage={"digital_signature", "non_repudiation"})
_SIGNATURE_SUBFILTERS = ("/ETSI.CAdES.detached", "/adbe.pkcs7.detached")
_HEX_WHITESPACE = re.compile(rb"[\x00\t\n\x0c\r ]")
# ... and, reading signatures, pyHanko's validation errors and asn1crypto's others.
_DAMAGE = (*PDF_DAMAGE, SignatureValidationError, UnicodeError, OverflowError)


def is_pdf(data: bytes) -> bool:
    """Does ``data`` start like a PDF (``%PDF-`` in its first KiB, as readers allow)?"""
    return b"%PDF-" in data[:1024]


def verify_pdf(document: bytes, trust: Trust, *, now: datetime | None = None) -> DocumentReport:
    """Verify every signature of a PDF.

    :param document: the PDF, as received.
    :param trust: trust anchors, revocation sources and fetch policy.
    :param now: the validation time (default: the current time), for
        signatures without a time-stamp and for time-stamps; aware, or naive UTC.
    :return: one :class:`~msign_soap.verification.report.SignatureReport` per
        signature (and per document time-stamp that does not verify), in
        document order; ``MALFORMED`` for anything that is not a readable PDF
        within the limits (:data:`MAX_PDF_BYTES`, :data:`MAX_SIGNATURES`,
        :data:`MAX_REVISIONS`), ``NO_SIGNATURES`` for a PDF without signatures.
    """
    pdf_speedups.install()
    data = bytes(document)
    if len(data) > MAX_PDF_BYTES:
        return DocumentReport.unreadable(f"the document is larger than {MAX_PDF_BYTES} bytes")
    if not is_pdf(data):
        return DocumentReport.unreadable("not a PDF document (no %PDF- header)")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted:
            return DocumentReport.unreadable("encrypted PDF documents are not verified")
        if reader.xrefs.total_revisions > MAX_REVISIONS:
            return DocumentReport.unreadable(f"the document has more than {MAX_REVISIONS} revisions")
        fields = [(name, ref) for name, _, ref in enumerate_sig_fields(reader, filled_status=True)]
    except _DAMAGE as e:
        return DocumentReport.unreadable(f"not a readable PDF document: {_describe(e)}")
    if len(fields) > MAX_SIGNATURES:
        return DocumentReport.unreadable(f"the document has more than {MAX_SIGNATURES} signatures")
    moment = None if now is None else _aware(now)
    return asyncio.run(_verify(reader, data, fields, trust, moment))


# --- the document ---------------------------------------------------------------------


@dataclass
class _Found:
    """A filled signature field: the signature, or why it cannot be read."""

    name: str
    revision: int
    signature: EmbeddedPdfSignature | None
    problem: str = ""


async def _verify(
    reader: PdfFileReader,
    data: bytes,
    fields: list[tuple[str, generic.IndirectObject]],
    trust: Trust,
    now: datetime | None,
) -> DocumentReport:
    trust = OneDocumentTrust(trust)
    dss = read_dss(reader)
    found = sorted((_embedded(reader, name, ref) for name, ref in fields), key=lambda f: f.revision)
    if not found:
        return DocumentReport.of([])
    # the revisions of the valid document time-stamps, for the LTA level
    timestamps: list[int] = []
    reports: list[tuple[int, SignatureReport | _Checked]] = []
    for item in found:
        if item.signature is None:
            reports.append((item.revision, _unreadable_signature(item)))
            continue
        es = item.signature
        if es.sig_object_type == "/DocTimeStamp":
            report = await _check_document_timestamp(es, data, trust, dss, now)
            if report is None:
                timestamps.append(item.revision)
            else:
                reports.append((item.revision, report))
        else:
            reports.append((item.revision, await _check_signature(es, data, trust, dss, now)))
    history: dict[int, ValidationData] = {}

    def dss_at(revision: int) -> ValidationData:
        if revision not in history:
            try:
                history[revision] = read_dss(reader.get_historical_resolver(revision))
            except _DAMAGE:
                history[revision] = ValidationData()
        return history[revision]

    final = [
        result.with_level(dss, dss_at, revision, timestamps) if isinstance(result, _Checked) else result
        for revision, result in reports
    ]
    return DocumentReport.of(final)


def _embedded(reader: PdfFileReader, name: str, field_ref: generic.IndirectObject) -> _Found:
    """Read a filled signature field; a signature that cannot be read is kept
    with the reason (Universal Signature Forgery: no, null or empty
    ``/Contents`` or ``/ByteRange``, an unknown ``/SubFilter``)."""
    revision = 0
    try:
        field_dict = field_ref.get_object()
        reference = field_dict.raw_get("/V")
        if not isinstance(reference, generic.IndirectObject):
            return _Found(name, revision, None, "the signature dictionary is not an indirect object")
        revision = reader.xrefs.get_last_change(reference.reference)
        signature = reference.get_object()
        if not isinstance(signature, generic.DictionaryObject):
            return _Found(name, revision, None, "the signature value is not a dictionary")
        kind = signature.get("/Type", "/Sig")
        subfilter = signature.get("/SubFilter")
        if subfilter not in (("/ETSI.RFC3161",) if kind == "/DocTimeStamp" else _SIGNATURE_SUBFILTERS):
            return _Found(name, revision, None, f"unsupported signature /SubFilter {subfilter}")
        contents = signature.raw_get("/Contents") if "/Contents" in signature else None
        if not isinstance(contents, generic.ByteStringObject | generic.TextStringObject) or not contents.original_bytes:
            return _Found(name, revision, None, "the signature has no /Contents")
        if not isinstance(signature.raw_get("/ByteRange") if "/ByteRange" in signature else None, list):
            return _Found(name, revision, None, "the signature has no /ByteRange")
        embedded = EmbeddedPdfSignature(reader, field_dict, name)
        embedded.signer_cert  # noqa: B018 - parses the CMS and finds the signer: damage shows here
        embedded.self_reported_timestamp  # noqa: B018 - reads /M: damage shows here
    except _DAMAGE as e:
        return _Found(name, revision, None, f"the signature cannot be read: {_describe(e)}")
    return _Found(name, embedded.signed_revision, embedded)


# --- one signature ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Checked:
    """A valid signature whose level depends on what follows it in the document."""

    report: SignatureReport
    signer: asn1_x509.Certificate
    timestamped: bool
    pades: bool

    def with_level(
        self, dss: ValidationData, dss_at: Callable[[int], ValidationData], revision: int, timestamps: list[int]
    ) -> SignatureReport:
        """The report with the level reached: B (no time-stamp), T, LT (the
        DSS holds revocation data about the signer), LTA (a valid document
        time-stamp after the signature covers a DSS that does)."""
        if not self.pades:
            return self.report
        level = "B"
        if self.timestamped:
            level = "T"
            if dss.covers(self.signer):
                level = "LT"
                if any(t > revision and dss_at(t).covers(self.signer) for t in timestamps):
                    level = "LTA"
        return _replace(self.report, level=f"PAdES-BASELINE-{level}")


async def _check_signature(
    es: EmbeddedPdfSignature, data: bytes, trust: Trust, dss: ValidationData, now: datetime | None
) -> SignatureReport | _Checked:
    signer = es.signer_cert
    base = SignatureReport(
        Verdict.VALID,
        Indication.TOTAL_PASSED,
        certificate=signer.dump(),
        subject=_subject(signer),
        claimed_signing_time=es.self_reported_timestamp,
        name=es.field_name,
    )
    problem = _layout_problem(es, data)
    if problem:
        return _failed(base, Verdict.ALTERED, Indication.TOTAL_FAILED, "FORMAT_FAILURE", problem)
    tokens = list(_timestamp_tokens(es.signer_info))
    try:
        trust.screen_fetch_urls([signer.dump(), *certificates_in(es.signed_data, *tokens, data=dss)])
    except MSignError as e:
        return _failed(base, Verdict.NOT_TRUSTED, Indication.INDETERMINATE, "CHAIN_CONSTRAINTS_FAILURE", _reason(e))
    except _DAMAGE as e:
        return _failed(base, Verdict.MALFORMED, Indication.TOTAL_FAILED, "FORMAT_FAILURE", _describe(e))
    claimed = _token_time(tokens[0]) if tokens else None
    try:
        status = await _validate(es, trust, dss, claimed or now, now)
        ts = status.timestamp_validity
        if ts is not None and ts.trusted and claimed != ts.timestamp:
            # another of several tokens is the one that verifies: judge the signer at its time
            status = await _validate(es, trust, dss, ts.timestamp, now)
    except _DAMAGE as e:
        return _failed(base, Verdict.MALFORMED, Indication.TOTAL_FAILED, "FORMAT_FAILURE", _describe(e))
    failure = integrity_failure(status) or modification_failure(status) or timestamp_failure(status, now)
    if failure:
        return _failed(base, *failure)
    ts = status.timestamp_validity
    signed_at = ts.timestamp if ts is not None else None
    base = _replace(base, signed_at=signed_at)
    failure = trust_failure(status, signed_at)
    if failure:
        return _failed(base, *failure)
    subfilter = es.sig_object.get("/SubFilter")
    return _Checked(base, signer, signed_at is not None, subfilter == "/ETSI.CAdES.detached")


async def _check_document_timestamp(
    es: EmbeddedPdfSignature, data: bytes, trust: Trust, dss: ValidationData, now: datetime | None
) -> SignatureReport | None:
    """``None`` for a valid document time-stamp, else its report."""
    tsa = es.signer_cert
    base = SignatureReport(
        Verdict.TIMESTAMP_INVALID,
        Indication.INDETERMINATE,
        certificate=tsa.dump(),
        subject=_subject(tsa),
        name=es.field_name,
        detail="document time-stamp",
    )
    problem = _layout_problem(es, data)
    if problem:
        return _failed(base, Verdict.ALTERED, Indication.TOTAL_FAILED, "FORMAT_FAILURE", problem)
    try:
        trust.screen_fetch_urls([tsa.dump(), *certificates_in(es.signed_data, data=dss)])
    except MSignError as e:
        return _failed(base, Verdict.NOT_TRUSTED, Indication.INDETERMINATE, "CHAIN_CONSTRAINTS_FAILURE", _reason(e))
    except _DAMAGE as e:
        return _failed(base, Verdict.MALFORMED, Indication.TOTAL_FAILED, "FORMAT_FAILURE", _describe(e))
    try:
        [context] = contexts(trust, dss, now)
        status = await async_validate_pdf_timestamp(es, context, diff_policy=_DIFF_POLICY)
    except _DAMAGE as e:
        return _failed(base, Verdict.MALFORMED, Indication.TOTAL_FAILED, "FORMAT_FAILURE", _describe(e))
    failure = integrity_failure(status) or modification_failure(status)
    if failure:
        return _failed(base, *failure)
    if not status.trusted:
        return _failed(
            base,
            Verdict.TIMESTAMP_INVALID,
            *indication_of(status.trust_problem_indic),
            f"the document time-stamp's certificate is not trusted: {trust_text(status)}",
        )
    return None


async def _validate(
    es: EmbeddedPdfSignature, trust: Trust, dss: ValidationData, moment: datetime | None, now: datetime | None
) -> PdfSignatureStatus:
    signer_context, timestamp_context = contexts(trust, dss, moment, now)
    return await async_validate_pdf_signature(
        es,
        signer_validation_context=signer_context,
        ts_validation_context=timestamp_context,
        diff_policy=_DIFF_POLICY,
        key_usage_settings=_KEY_USAGE,
    )


def _layout_problem(es: EmbeddedPdfSignature, data: bytes) -> str:
    """Why the ``/ByteRange`` does not cover the document around exactly this
    signature's ``/Contents`` (Signature Wrapping), or ``""``.

    pyHanko's coverage check then asks that the second range end where the
    file or the signature's revision ends.
    """
    byte_range = list(es.byte_range)
    if len(byte_range) != 4 or not all(type(n) is generic.NumberObject for n in byte_range):
        return "the /ByteRange is not four integers"
    start1, length1, start2, length2 = (int(n) for n in byte_range)
    if start1 != 0:
        return "the /ByteRange does not start at the beginning of the file"
    if min(length1, start2, length2) < 0 or start2 <= length1 or start2 + length2 > len(data):
        return "the /ByteRange is not two ranges in order within the file"
    gap = data[length1:start2]
    if len(gap) < 2 or gap[:1] != b"<" or gap[-1:] != b">":
        return "the /ByteRange leaves out more than the signature's /Contents"
    digits = _HEX_WHITESPACE.sub(b"", gap[1:-1])
    try:
        value = binascii.unhexlify(digits + b"0" * (len(digits) % 2))
    except (binascii.Error, ValueError):
        return "the /ByteRange leaves out more than the signature's /Contents"
    if value != es.pkcs7_content:
        return "the /ByteRange leaves out something other than the signature's /Contents"
    return ""


def _unreadable_signature(item: _Found) -> SignatureReport:
    return SignatureReport(
        Verdict.MALFORMED, Indication.TOTAL_FAILED, "FORMAT_FAILURE", detail=item.problem, name=item.name
    )


def _failed(base: SignatureReport, verdict: Verdict, indication: Indication, sub: str, detail: str) -> SignatureReport:
    detail = f"{base.detail}: {detail}" if base.detail else detail
    return _replace(base, verdict=verdict, indication=indication, sub_indication=sub, detail=detail, level=None)


def _replace(report: SignatureReport, **changes: object) -> SignatureReport:
    return replace(report, **changes)  # type: ignore[arg-type]


# --- small helpers --------------------------------------------------------------------------


def _timestamp_tokens(signer_info: cms.SignerInfo) -> Iterator[cms.SignedData]:
    attributes = signer_info["unsigned_attrs"]
    if not attributes:
        return
    for attribute in attributes:
        if attribute["type"].native == "signature_time_stamp_token":
            for token in attribute["values"]:
                yield token["content"]


def _token_time(token: cms.SignedData) -> datetime | None:
    try:
        moment = token["encap_content_info"]["content"].parsed["gen_time"].native
    except _DAMAGE:
        return None
    return moment if isinstance(moment, datetime) else None


def _subject(certificate: asn1_x509.Certificate) -> str | None:
    try:
        return display_subject(x509.load_der_x509_certificate(certificate.dump()))
    except ValueError:  # asn1crypto reads certificates cryptography refuses
        return None


def _reason(error: MSignError) -> str:
    return str(getattr(error, "detail", None) or error.reason)


def _describe(error: BaseException) -> str:
    """What the PDF reader said, when it said it in PDF terms; else only that the file is damaged."""
    text = str(error).strip()
    return text if isinstance(error, PdfError) and text else "its structure is damaged"


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
