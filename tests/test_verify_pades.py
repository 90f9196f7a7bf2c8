"""PAdES verification (msign_soap.verification.pades) against an attack corpus.

Every attack is derived, in this run, from a twin document signed with the
project's own PAdES signer and the demo PKI, and the twin is verified valid
first: each forgery differs from a valid document only by the attack. The
attacks are those of Mladenov et al., "1 Trillion Dollar Refund" (CCS 2019:
Universal Signature Forgery, Incremental Saving Attack, Signature Wrapping
Attack) and Mainka et al., "Shadow Attacks" (NDSS 2021: hide, replace,
hide-and-replace). poppler's ``pdfsig`` judges the same documents where it
can (it checks the signed bytes and the certificate, not later revisions).
"""

from __future__ import annotations

import binascii
import hashlib
import io
import os
import random
import re
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, tsp
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation import add_validation_info, validate_pdf_signature
from pyhanko.sign.validation.generic_cms import validate_sig_integrity
from pyhanko_certvalidator.registry import SimpleCertificateStore

from msign_soap.app import demo_certificate_checker
from msign_soap.core import ChainChecker
from msign_soap.pki import DemoPki, Identity
from msign_soap.pki.generate import NOT_BEFORE
from msign_soap.signing import LocalTsa
from msign_soap.signing.pades import sign_pades_with_key
from msign_soap.verification import DocumentReport, Indication, Verdict
from msign_soap.verification.pades import MAX_PDF_BYTES, verify_pdf

from .conftest import IDNP, build_pdf, issue_certificate, minimal_pdf
from .pki_support import live_service
from .test_pades import nss_database, parse_pdfsig

REASON = "MSign: semnat de Ion Popescu"
MARIA, VASILE, ELENA, ANDREI = "2001002345678", "2002003456787", "2003004567896", "2005005678902"
GOODBYE = b"BT /F1 24 Tf 72 720 Td (Goodbye) Tj ET"


# --- the corpus: a live demo PKI (pdfsig asks its OCSP responder), twins, forgeries ----------


class ProjectTsa(TimeStamper):
    """pyHanko's time-stamping client, answered by the project's TSA (for document time-stamps)."""

    def __init__(self, tsa: LocalTsa) -> None:
        super().__init__()
        self.tsa = tsa

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        return tsp.TimeStampResp.load(self.tsa.respond(req.dump()))


@dataclass
class Corpus:
    """The demo PKI of a live service, the demo checker as trust, and the
    documents made so far (each made once per run)."""

    pki: DemoPki
    tsa: LocalTsa
    trust: ChainChecker
    directory: Path
    made: dict[str, bytes] = field(default_factory=dict)

    def sign(self, pdf: bytes, signer: Identity | str = IDNP, **kwargs: Any) -> bytes:
        who = self.pki.people[signer] if isinstance(signer, str) else signer
        kwargs.setdefault("signing_time", datetime.now(UTC))
        kwargs.setdefault("reason", REASON)
        return bytes(sign_pades_with_key(pdf, who.certificate_der, who.chain_der, who.private_key, self.tsa, **kwargs))

    def twin(self, name: str) -> bytes:
        """A valid signed document (see :data:`TWINS`), verified valid the first time it is made."""
        if name not in self.made:
            self.made[name] = TWINS[name](self)
            report = verify_pdf(self.made[name], self.trust)
            assert report.valid, (name, report)
        return self.made[name]

    def forged(self, item: Item) -> bytes:
        key = f"{item.twin}/{item.name}"
        if key not in self.made:
            self.made[key] = item.attack(self, self.twin(item.twin))
        return self.made[key]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    directory = tmp_path_factory.mktemp("pades-corpus")
    with live_service(directory / "data") as live:
        pki = live.service.pki
        assert pki is not None
        tsa = LocalTsa(pki.tsa.certificate, pki.tsa.private_key, pki.tsa.chain)
        yield Corpus(pki, tsa, demo_certificate_checker(pki), directory)


def verify(corpus: Corpus, pdf: bytes, **kwargs: Any) -> DocumentReport:
    return verify_pdf(pdf, corpus.trust, **kwargs)


# --- PDF building blocks ------------------------------------------------------------


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"


def hide_base() -> bytes:
    """Shadow "hide": the signed revision already draws "Pay 1000000 EUR",
    under a white cover (form XObject 6); "Pay 100 EUR" shows below it."""
    content = b"BT /F1 24 Tf 72 700 Td (Pay 1000000 EUR) Tj ET q /Cover Do Q BT /F1 24 Tf 72 640 Td (Pay 100 EUR) Tj ET"
    return build_pdf(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        PAGES,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> /XObject << /Cover 6 0 R >> >> >>",
        stream(content),
        FONT,
        stream(b"1 g 60 680 480 60 re f", b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] "),
    )


def form_base() -> bytes:
    """Shadow "replace": a text field "Amount" (object 6, its appearance 7) holding "100 EUR"."""
    appearance = b"/Tx BMC BT /Helv 12 Tf 2 10 Td (100 EUR) Tj ET EMC"
    return build_pdf(
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [6 0 R] /DA (/Helv 12 Tf 0 g) "
        b"/DR << /Font << /Helv 5 0 R >> >> >> >>",
        PAGES,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> /Annots [6 0 R] >>",
        stream(b"BT /F1 24 Tf 72 720 Td (Amount:) Tj ET"),
        FONT,
        b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (Amount) /V (100 EUR) /Rect [72 600 272 630] "
        b"/P 3 0 R /F 4 /DA (/Helv 12 Tf 0 g) /AP << /N 7 0 R >> >>",
        stream(
            appearance, b"/Type /XObject /Subtype /Form /BBox [0 0 200 30] /Resources << /Font << /Helv 5 0 R >> >> "
        ),
    )


def two_pages_trees_base() -> bytes:
    """Shadow "hide-and-replace": the signed revision holds a second, unused
    page tree (objects 6-8) saying something else."""
    return build_pdf(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        PAGES,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> "
        b">>",
        stream(b"BT /F1 24 Tf 72 720 Td (Pay 100 EUR) Tj ET"),
        FONT,
        b"<< /Type /Pages /Kids [7 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 6 0 R /MediaBox [0 0 612 792] /Contents 8 0 R /Resources << /Font << /F1 5 0 R >> >> "
        b">>",
        stream(b"BT /F1 24 Tf 72 720 Td (Pay 1000000 EUR) Tj ET"),
    )


def unsigned_original(pdf: bytes) -> bytes:
    """The document as it was before its first signature (signing only appends)."""
    return pdf[: pdf.index(b"%%EOF") + len(b"%%EOF\n")]


def update(pdf: bytes, change: Callable[[IncrementalPdfFileWriter], None]) -> bytes:
    """``pdf`` plus one incremental update made by ``change``."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def ref(writer: IncrementalPdfFileWriter, number: int) -> generic.IndirectObject:
    return generic.IndirectObject(number, 0, writer)


def byte_ranges(pdf: bytes) -> list[tuple[int, int, int, int]]:
    """The ``/ByteRange`` of each signature, in file order."""
    found = re.findall(rb"/ByteRange \[(\d+) (\d+) (\d+) (\d+)\]", pdf)
    return [(int(a), int(b), int(c), int(d)) for a, b, c, d in found]


def replace_same_length(pdf: bytes, old: bytes, new: bytes) -> bytes:
    """Replace the first ``old`` by ``new`` padded with spaces (offsets stay right)."""
    assert len(new) <= len(old) and old in pdf
    return pdf.replace(old, new.ljust(len(old)), 1)


def rewrite_cms(pdf: bytes, change: Callable[[cms.SignedData], None], index: int = -1) -> bytes:
    """Change the CMS in a signature's ``/Contents`` (which no signature covers)
    and write it back in place, zero-padded."""
    _, start, end, _ = byte_ranges(pdf)[index]
    hex_digits = pdf[start + 1 : end - 1]
    info = cms.ContentInfo.load(binascii.unhexlify(hex_digits))
    change(info["content"])
    encoded = binascii.hexlify(info.dump()).upper()
    assert len(encoded) <= len(hex_digits)
    return pdf[: start + 1] + encoded.ljust(len(hex_digits), b"0") + pdf[end - 1 :]


# --- twins ---------------------------------------------------------------------------


def _lt(corpus: Corpus) -> bytes:
    return corpus.sign(minimal_pdf(), level="B-LT", validation_context=corpus.trust.validation_context())


def pyhanko_signer(identity: Identity) -> signers.SimpleSigner:
    """pyHanko's own signer with a demo key (for what the project's signer does
    not do: certification signatures, signing into a certified document)."""
    key = identity.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(identity.certificate_der),
        signing_key=asn1_keys.PrivateKeyInfo.load(key),
        cert_registry=SimpleCertificateStore.from_certs([asn1_x509.Certificate.load(c) for c in identity.chain_der]),
    )


def _certified(corpus: Corpus) -> bytes:
    """A certification signature allowing no changes (ISO 32000 DocMDP P=1), by pyHanko."""
    meta = signers.PdfSignatureMetadata(
        field_name="Certification",
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(minimal_pdf()), strict=False)
    signer = pyhanko_signer(corpus.pki.people[IDNP])
    out = signers.sign_pdf(writer, meta, signer=signer, timestamper=ProjectTsa(corpus.tsa))
    return bytes(out.getvalue())


def add_document_timestamp(corpus: Corpus, pdf: bytes, tsa: LocalTsa | None = None) -> bytes:
    """A document time-stamp (with the TSA's validation data when the TSA is the corpus's)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    out = PdfTimeStamper(ProjectTsa(tsa or corpus.tsa), field_name="DocumentTimestamp").timestamp_pdf(
        writer, "sha256", validation_context=None if tsa else corpus.trust.validation_context()
    )
    return bytes(out.getvalue())


TWINS: dict[str, Callable[[Corpus], bytes]] = {
    "signed": lambda c: c.sign(minimal_pdf()),
    "cosigned": lambda c: c.sign(c.twin("signed"), MARIA, reason="MSign: co-semnat", appearance=True),
    "lt": _lt,
    "lta": lambda c: add_document_timestamp(c, c.twin("lt")),
    "certified": _certified,
    "hide": lambda c: c.sign(hide_base()),
    "form": lambda c: c.sign(form_base()),
    "two-page-trees": lambda c: c.sign(two_pages_trees_base()),
}


# --- attacks -------------------------------------------------------------------------


def flip_page_text(corpus: Corpus, pdf: bytes) -> bytes:
    return pdf.replace(b"(Hello)", b"(Hellp)", 1)  # the page, in the first signed range


def flip_reason(corpus: Corpus, pdf: bytes) -> bytes:
    return replace_same_length(pdf, b"semnat de Ion", b"sennat de Ion")  # /Reason, after /Contents


def flip_signature_value(corpus: Corpus, pdf: bytes) -> bytes:
    def change(signed_data: cms.SignedData) -> None:
        signer_info = signed_data["signer_infos"][0]
        value = bytearray(signer_info["signature"].native)
        value[-1] ^= 1
        signer_info["signature"] = cms.OctetString(bytes(value))

    return rewrite_cms(pdf, change)


def timestamp_over_other_data(corpus: Corpus, pdf: bytes) -> bytes:
    """Keep the signature, swap its time-stamp token for a genuine one over other bytes."""
    token = cms.ContentInfo.load(corpus.tsa.timestamp(hashlib.sha256(b"other data").digest()))

    def change(signed_data: cms.SignedData) -> None:
        signer_info = signed_data["signer_infos"][0]
        signer_info["unsigned_attrs"] = cms.CMSAttributes(
            [cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [token]})]
        )

    return rewrite_cms(pdf, change)


def foreign_tsa() -> LocalTsa:
    """A TSA calling itself "MSign Demo TSA", under a root nobody trusts."""
    root = issue_certificate("MSign Demo Root CA", ec.generate_private_key(ec.SECP256R1()), ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MSign Demo TSA")]))
        .issuer_name(root.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(datetime.now(UTC) + timedelta(days=365))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(root.private_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return LocalTsa(certificate, key, [root.certificate])


def timestamp_by_foreign_tsa(corpus: Corpus, pdf: bytes) -> bytes:
    """Swap the time-stamp token for one over the same signature value from an untrusted TSA."""

    def change(signed_data: cms.SignedData) -> None:
        signer_info = signed_data["signer_infos"][0]
        token = foreign_tsa().timestamp(hashlib.sha256(signer_info["signature"].native).digest())
        signer_info["unsigned_attrs"] = cms.CMSAttributes(
            [cms.CMSAttribute({"type": "signature_time_stamp_token", "values": [cms.ContentInfo.load(token)]})]
        )

    return rewrite_cms(pdf, change)


def document_timestamp_by_foreign_tsa(corpus: Corpus, pdf: bytes) -> bytes:
    return add_document_timestamp(corpus, pdf, foreign_tsa())


class CarelessSigner(signers.PdfSigner):
    """pyHanko's signer, told to ignore a certification's DocMDP permissions."""

    def _enforce_certification_constraints(self, reader: PdfFileReader) -> None:
        pass


def cosign_with_pyhanko(corpus: Corpus, pdf: bytes) -> bytes:
    """Maria's approval signature in a document certified "no changes"."""
    meta = signers.PdfSignatureMetadata(field_name="Signature2", subfilter=fields.SigSeedSubFilter.PADES)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    signer = CarelessSigner(meta, pyhanko_signer(corpus.pki.people[MARIA]), timestamper=ProjectTsa(corpus.tsa))
    return bytes(signer.sign_pdf(writer).getvalue())


def overwrite_page_content(corpus: Corpus, pdf: bytes) -> bytes:
    def change(writer: IncrementalPdfFileWriter) -> None:
        writer.objects[(0, 4)] = generic.StreamObject(stream_data=GOODBYE)

    return update(pdf, change)


def add_page_content(corpus: Corpus, pdf: bytes) -> bytes:
    def change(writer: IncrementalPdfFileWriter) -> None:
        page = ref(writer, 3).get_object()
        extra = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 600 Td (PAID) Tj ET"))
        page["/Contents"] = generic.ArrayObject([page.raw_get("/Contents"), extra])
        writer.update_container(page)

    return update(pdf, change)


def add_annotation(corpus: Corpus, pdf: bytes) -> bytes:
    """A FreeText annotation drawing over the page."""

    def change(writer: IncrementalPdfFileWriter) -> None:
        page = ref(writer, 3).get_object()
        look = writer.add_object(
            generic.StreamObject(
                {
                    generic.NameObject("/Type"): generic.NameObject("/XObject"),
                    generic.NameObject("/Subtype"): generic.NameObject("/Form"),
                    generic.NameObject("/BBox"): generic.ArrayObject(map(generic.NumberObject, (0, 0, 300, 40))),
                },
                stream_data=b"1 g 0 0 300 40 re f 0 g BT /Helvetica 24 Tf 4 10 Td (Goodbye) Tj ET",
            )
        )
        note = generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Annot"),
                generic.NameObject("/Subtype"): generic.NameObject("/FreeText"),
                generic.NameObject("/Rect"): generic.ArrayObject(map(generic.NumberObject, (70, 710, 370, 750))),
                generic.NameObject("/Contents"): generic.TextStringObject("Goodbye"),
                generic.NameObject("/DA"): generic.TextStringObject("/Helv 24 Tf 0 g"),
                generic.NameObject("/AP"): generic.DictionaryObject({generic.NameObject("/N"): look}),
            }
        )
        annots = page.get("/Annots", generic.ArrayObject())
        page["/Annots"] = generic.ArrayObject([*annots, writer.add_object(note)])
        writer.update_container(page)

    return update(pdf, change)


def uncover_hidden_text(corpus: Corpus, pdf: bytes) -> bytes:
    """Shadow hide: overwrite the cover (object 6) with an empty drawing."""

    def change(writer: IncrementalPdfFileWriter) -> None:
        cover = ref(writer, 6).get_object()
        kept = {k: v for k, v in cover.items() if k not in ("/Length", "/Filter")}
        writer.objects[(0, 6)] = generic.StreamObject(kept, stream_data=b"")

    forged = update(pdf, change)
    page = PdfFileReader(io.BytesIO(forged), strict=False).root["/Pages"]["/Kids"][0]
    assert page["/Resources"]["/XObject"]["/Cover"].data == b""  # "Pay 1000000 EUR" shows
    return forged


def uncover_via_object_stream(corpus: Corpus, pdf: bytes) -> bytes:
    """Shadow hide, with the changed page dictionary inside an object stream
    (and a cross-reference stream), where a viewer that only looks at the
    classic xref table would not see it."""

    def change(writer: IncrementalPdfFileWriter) -> None:
        writer.stream_xrefs = True
        page = ref(writer, 3).get_object()
        empty = writer.add_object(
            generic.StreamObject(
                {
                    generic.NameObject("/Type"): generic.NameObject("/XObject"),
                    generic.NameObject("/Subtype"): generic.NameObject("/Form"),
                    generic.NameObject("/BBox"): generic.ArrayObject(map(generic.NumberObject, (0, 0, 612, 792))),
                },
                stream_data=b"",
            )
        )
        resources = generic.DictionaryObject(page["/Resources"])
        resources["/XObject"] = generic.DictionaryObject({generic.NameObject("/Cover"): empty})
        changed = generic.DictionaryObject(page)
        changed["/Resources"] = resources
        objects = writer.prepare_object_stream()
        objects.add_object(3, changed)
        writer.objs_in_streams[3] = changed

    forged = update(pdf, change)
    assert b"/ObjStm" in forged[len(pdf) :] and b"/XRef" in forged[len(pdf) :]
    page = PdfFileReader(io.BytesIO(forged), strict=False).root["/Pages"]["/Kids"][0]
    assert page["/Resources"]["/XObject"]["/Cover"].data == b""  # what a viewer draws: nothing
    return forged


def fill_field(corpus: Corpus, pdf: bytes) -> bytes:
    """Shadow replace: the field the signer saw as "100 EUR" now says "1000000 EUR"."""

    def change(writer: IncrementalPdfFileWriter) -> None:
        widget = ref(writer, 6).get_object()
        widget["/V"] = generic.TextStringObject("1000000 EUR")
        look = writer.add_object(
            generic.StreamObject(
                {
                    generic.NameObject("/Type"): generic.NameObject("/XObject"),
                    generic.NameObject("/Subtype"): generic.NameObject("/Form"),
                    generic.NameObject("/BBox"): generic.ArrayObject(map(generic.NumberObject, (0, 0, 200, 30))),
                },
                stream_data=b"/Tx BMC BT /Helv 12 Tf 2 10 Td (1000000 EUR) Tj ET EMC",
            )
        )
        widget["/AP"] = generic.DictionaryObject({generic.NameObject("/N"): look})
        writer.update_container(widget)

    return update(pdf, change)


def repaint_signature(corpus: Corpus, pdf: bytes) -> bytes:
    """Shadow replace: Maria's visible signature now shows other words."""

    def change(writer: IncrementalPdfFileWriter) -> None:
        [field_ref] = [ref for name, _, ref in enumerate_sig_fields(writer) if name == "Signature2"]
        widget = field_ref.get_object()
        look = writer.add_object(
            generic.StreamObject(
                {
                    generic.NameObject("/Type"): generic.NameObject("/XObject"),
                    generic.NameObject("/Subtype"): generic.NameObject("/Form"),
                    generic.NameObject("/BBox"): generic.ArrayObject(map(generic.NumberObject, (0, 0, 250, 50))),
                },
                stream_data=b"BT /Helvetica 12 Tf 2 10 Td (Approved: 1000000 EUR) Tj ET",
            )
        )
        widget["/AP"] = generic.DictionaryObject({generic.NameObject("/N"): look})
        writer.update_container(widget)

    return update(pdf, change)


def switch_page_tree(corpus: Corpus, pdf: bytes) -> bytes:
    """Shadow hide-and-replace: point the catalog at the page tree the signer never saw."""

    def change(writer: IncrementalPdfFileWriter) -> None:
        writer.root["/Pages"] = ref(writer, 6)
        writer.update_root()

    forged = update(pdf, change)
    page = PdfFileReader(io.BytesIO(forged), strict=False).root["/Pages"]["/Kids"][0]
    assert b"(Pay 1000000 EUR)" in page["/Contents"].data  # what a viewer shows now
    return forged


def wrap_signature(corpus: Corpus, pdf: bytes) -> bytes:
    """The Signature Wrapping Attack: move the second signed part to the end of
    the file and put, between the signature's /Contents and it, a new end of
    the signature dictionary (with a /ByteRange pointing at the moved part),
    a page content saying "Goodbye" and an xref table where the moved part's
    ``startxref`` expects one. The signed bytes are unchanged: the digest and
    the signature value still verify."""
    start1, length1, start2, length2 = byte_ranges(pdf)[-1]
    moved = pdf[start2:]
    signed_xref = int(re.findall(rb"startxref\s+(\d+)", moved)[-1])
    old_tail = moved[: moved.index(b"endobj") + len(b"endobj\n")]
    # where the moved part will start: after room for a new xref section and a page content
    new_start2 = signed_xref + 4096
    tail = old_tail.replace(
        b"/ByteRange [0 %d %d %d]" % (length1, start2, length2),
        b"/ByteRange [0 %d %d %d]" % (length1, new_start2, length2),
    )
    assert tail != old_tail
    body = bytearray(pdf[:start2] + tail)
    assert len(body) <= signed_xref, "no room before the xref offset the moved part names"
    body += b"%" + b" " * (signed_xref - len(body) - 2) + b"\n"
    evil_offset = signed_xref + 200
    # the signed revision's xref section (classic), with object 4 (the page content) redirected
    section = moved[signed_xref - start2 : moved.index(b"trailer", signed_xref - start2)]
    entries = _xref_entries(section)
    entries[4] = b"%010d 00000 n \n" % evil_offset
    entries.pop(10, None)  # the /Info object stayed behind in the moved part
    previous = int(re.findall(rb"/Prev (\d+)", moved)[-1])
    xref = b"xref\n" + b"".join(b"%d 1\n" % n + line for n, line in sorted(entries.items()))
    xref += b"trailer\n<< /Size %d /Root 1 0 R /Prev %d >>\n" % (max(entries) + 1, previous)
    body += xref
    assert len(body) <= evil_offset
    body += b"%" + b" " * (evil_offset - len(body) - 2) + b"\n"
    body += b"4 0 obj\n" + stream(GOODBYE) + b"\nendobj\n"
    assert len(body) <= new_start2
    body += b"%" + b" " * (new_start2 - len(body) - 2) + b"\n"
    forged = bytes(body) + moved
    # what the signature covers has not changed
    assert pdf[:length1] + pdf[start2:] == forged[:length1] + forged[new_start2 : new_start2 + length2]
    return forged


def _xref_entries(section: bytes) -> dict[int, bytes]:
    lines = section.split(b"\n")[1:]
    entries: dict[int, bytes] = {}
    i = 0
    while i < len(lines) and lines[i].strip():
        first, count = (int(n) for n in lines[i].split())
        for k in range(count):
            entries[first + k] = lines[i + 1 + k].rstrip(b"\r") + b"\n"
        i += 1 + count
    entries.pop(0, None)
    return entries


def shift_byte_range(corpus: Corpus, pdf: bytes) -> bytes:
    _, length1, start2, length2 = byte_ranges(pdf)[-1]
    old = b"/ByteRange [0 %d %d %d]" % (length1, start2, length2)
    return replace_same_length(pdf, old, b"/ByteRange [1 %d %d %d]" % (length1 - 1, start2, length2))


def short_byte_range(corpus: Corpus, pdf: bytes) -> bytes:
    """A ByteRange whose gap starts before the signature's own /Contents."""
    _, length1, start2, length2 = byte_ranges(pdf)[-1]
    old = b"/ByteRange [0 %d %d %d]" % (length1, start2, length2)
    return replace_same_length(pdf, old, b"/ByteRange [0 %d %d %d]" % (length1 - 20, start2, length2))


def _edit_signature_dictionary(key: bytes, value: bytes | None) -> Callable[[Corpus, bytes], bytes]:
    """Replace (or, with ``None``, remove) ``/Contents`` or ``/ByteRange`` of
    the last signature, keeping every offset."""

    def attack(corpus: Corpus, pdf: bytes) -> bytes:
        _, length1, start2, length2 = byte_ranges(pdf)[-1]
        if key == b"/Contents":
            old = pdf[length1 - len(b"/Contents ") : start2]
            assert old.startswith(b"/Contents <")
        else:
            old = b"/ByteRange [0 %d %d %d]" % (length1, start2, length2)
        if value == b"zeros" and key == b"/Contents":
            new = b"/Contents <" + b"0" * (len(old) - len(b"/Contents <>")) + b">"
        else:
            new = b"" if value is None else key + b" " + value
        return replace_same_length(pdf, old, new)

    return attack


def strip_signature(corpus: Corpus, pdf: bytes) -> bytes:
    return unsigned_original(pdf)


def _resign(signer: Callable[[Corpus], Identity]) -> Callable[[Corpus, bytes], bytes]:
    """The twin's document signed again, as it was before, by someone else."""

    def attack(corpus: Corpus, pdf: bytes) -> bytes:
        who = signer(corpus)
        return corpus.sign(unsigned_original(pdf), who)

    return attack


def impersonator(corpus: Corpus) -> Identity:
    """Ion Popescu, IDNP and all, from a CA nobody trusts."""
    root = issue_certificate("MSign Demo Root CA", ec.generate_private_key(ec.SECP256R1()), ca=True)
    return issue_certificate(
        "Ion Popescu", rsa.generate_private_key(public_exponent=65537, key_size=2048), root, idnp=IDNP
    )


def expired_signer(corpus: Corpus) -> Identity:
    """A demo person whose certificate expired yesterday."""
    return _issue(corpus, "Ion Popescu", not_after=datetime.now(UTC) - timedelta(days=1))


def _issue(corpus: Corpus, common_name: str, *, not_after: datetime | None = None, url: str | None = None) -> Identity:
    """A signer certificate from the corpus's issuing CA; ``url``, when given,
    is its OCSP responder, CA-issuers and CRL location."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer = corpus.pki.issuing_ca
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "MD"),
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                    x509.NameAttribute(NameOID.SERIAL_NUMBER, IDNP),
                ]
            )
        )
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(not_after or datetime.now(UTC) + timedelta(days=365))
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    if url:
        builder = builder.add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(url)),
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(url + "/ca.crt")
                    ),
                ]
            ),
            critical=False,
        ).add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.UniformResourceIdentifier(url + "/ca.crl")], None, None, None)]
            ),
            critical=False,
        )
    certificate = builder.sign(issuer.private_key, hashes.SHA256())  # type: ignore[arg-type]
    return Identity(common_name, certificate, key, (issuer.certificate, *issuer.chain), idnp=IDNP)


# --- the corpus definition -----------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One forgery: ``attack`` applied to the twin ``twin``; the verdict,
    sub-indication and (part of the) detail of its first failing signature;
    whether pdfsig can judge it."""

    name: str
    twin: str
    attack: Callable[[Corpus, bytes], bytes]
    verdict: Verdict
    sub_indication: str | None
    because: str
    pdfsig: bool = True


ALTERED, MALFORMED = Verdict.ALTERED, Verdict.MALFORMED
NOT_PERMITTED = "changes the signature does not permit"
CORPUS = [
    # the signed bytes changed
    Item("changed-byte-first-range", "signed", flip_page_text, ALTERED, "HASH_FAILURE", "signed bytes have changed"),
    Item("changed-byte-second-range", "signed", flip_reason, ALTERED, "HASH_FAILURE", "signed bytes have changed"),
    Item("changed-byte-first-of-two-signatures", "cosigned", flip_page_text, ALTERED, "HASH_FAILURE",
         "signed bytes have changed"),
    Item("changed-signature-value", "signed", flip_signature_value, ALTERED, "SIG_CRYPTO_FAILURE",
         "signature value does not verify"),
    # the signature time-stamp (pdfsig does not check time-stamps)
    Item("timestamp-over-other-data", "signed", timestamp_over_other_data, Verdict.TIMESTAMP_INVALID, "HASH_FAILURE",
         "not over this signature", pdfsig=False),
    Item("timestamp-untrusted-tsa", "signed", timestamp_by_foreign_tsa, Verdict.TIMESTAMP_INVALID,
         "NO_CERTIFICATE_CHAIN_FOUND", "time-stamp's certificate is not trusted", pdfsig=False),
    Item("document-timestamp-untrusted-tsa", "lt", document_timestamp_by_foreign_tsa, Verdict.TIMESTAMP_INVALID,
         "NO_CERTIFICATE_CHAIN_FOUND", "document time-stamp", pdfsig=False),
    # Incremental Saving Attack: an update the signature does not permit
    Item("isa-page-content-overwritten", "signed", overwrite_page_content, ALTERED, "HASH_FAILURE", NOT_PERMITTED,
         pdfsig=False),
    Item("isa-page-content-added", "signed", add_page_content, ALTERED, "HASH_FAILURE", NOT_PERMITTED, pdfsig=False),
    Item("isa-annotation-over-page", "signed", add_annotation, ALTERED, "HASH_FAILURE", NOT_PERMITTED, pdfsig=False),
    Item("isa-after-cosignature", "cosigned", overwrite_page_content, ALTERED, "HASH_FAILURE", NOT_PERMITTED,
         pdfsig=False),
    Item("isa-after-document-timestamp", "lta", overwrite_page_content, ALTERED, "HASH_FAILURE", NOT_PERMITTED,
         pdfsig=False),
    Item("cosignature-in-no-changes-certified", "certified", cosign_with_pyhanko, ALTERED, "HASH_FAILURE",
         NOT_PERMITTED, pdfsig=False),
    # Shadow attacks: the signed revision already holds what a later update shows
    Item("shadow-hide", "hide", uncover_hidden_text, ALTERED, "HASH_FAILURE", NOT_PERMITTED, pdfsig=False),
    Item("shadow-hide-object-stream", "hide", uncover_via_object_stream, ALTERED, "HASH_FAILURE", NOT_PERMITTED,
         pdfsig=False),
    Item("shadow-replace-form-field", "form", fill_field, ALTERED, "HASH_FAILURE", NOT_PERMITTED, pdfsig=False),
    Item("shadow-replace-signature-appearance", "cosigned", repaint_signature, ALTERED, "HASH_FAILURE", NOT_PERMITTED,
         pdfsig=False),
    Item("shadow-hide-and-replace", "two-page-trees", switch_page_tree, ALTERED, "HASH_FAILURE", NOT_PERMITTED,
         pdfsig=False),
    # Signature Wrapping Attack: ByteRange manipulation
    Item("swa-relocated-second-part", "signed", wrap_signature, ALTERED, "FORMAT_FAILURE",
         "leaves out more than the signature's /Contents",
         pdfsig=False),  # pdfsig: "Not total document signed", yet "Signature is Valid." (see below)
    Item("byterange-not-from-zero", "signed", shift_byte_range, ALTERED, "FORMAT_FAILURE",
         "does not start at the beginning"),
    Item("byterange-short-of-contents", "signed", short_byte_range, ALTERED, "FORMAT_FAILURE",
         "leaves out more than the signature's /Contents"),
    # Universal Signature Forgery
    Item("contents-missing", "signed", _edit_signature_dictionary(b"/Contents", None), MALFORMED, "FORMAT_FAILURE",
         "no /Contents"),
    Item("contents-null", "signed", _edit_signature_dictionary(b"/Contents", b"null"), MALFORMED, "FORMAT_FAILURE",
         "no /Contents"),
    Item("contents-empty", "signed", _edit_signature_dictionary(b"/Contents", b"<>"), MALFORMED, "FORMAT_FAILURE",
         "no /Contents"),
    Item("contents-zeros", "signed", _edit_signature_dictionary(b"/Contents", b"zeros"), MALFORMED, "FORMAT_FAILURE",
         "cannot be read"),
    Item("byterange-missing", "signed", _edit_signature_dictionary(b"/ByteRange", None), MALFORMED, "FORMAT_FAILURE",
         "no /ByteRange"),
    Item("byterange-null", "signed", _edit_signature_dictionary(b"/ByteRange", b"null"), MALFORMED, "FORMAT_FAILURE",
         "no /ByteRange"),
    Item("byterange-empty", "signed", _edit_signature_dictionary(b"/ByteRange", b"[]"), ALTERED, "FORMAT_FAILURE",
         "not four integers"),
    Item("byterange-zeros", "signed", _edit_signature_dictionary(b"/ByteRange", b"[0 0 0 0]"), ALTERED,
         "FORMAT_FAILURE", "not two ranges in order"),
    # who signed
    Item("no-signature", "signed", strip_signature, Verdict.NO_SIGNATURES, None, "contains no signature"),
    Item("untrusted-chain", "signed", _resign(impersonator), Verdict.NOT_TRUSTED, "NO_CERTIFICATE_CHAIN_FOUND",
         "no path to a trust anchor"),
    Item("revoked-signer", "signed", _resign(lambda c: c.pki.people[ELENA]), Verdict.REVOKED, "REVOKED",
         "revoked since 2026-01-02"),
    Item("expired-signer", "signed", _resign(expired_signer), Verdict.EXPIRED, "EXPIRED",
         "not valid at the time-stamp's time"),
]  # fmt: skip


@pytest.mark.parametrize("item", [pytest.param(item, id=item.name) for item in CORPUS])
def test_attack_corpus(corpus: Corpus, item: Item) -> None:
    twin = corpus.twin(item.twin)  # verified valid
    forged = corpus.forged(item)
    assert forged != twin
    report = verify(corpus, forged)
    assert report.verdict is item.verdict, report
    assert not report.valid
    if item.sub_indication is None:
        assert report.signatures == () and item.because in report.detail
        return
    failing = [s for s in report.signatures if not s.valid]
    assert failing, report
    first = failing[0]
    assert (first.verdict, first.sub_indication) == (item.verdict, item.sub_indication), first
    assert first.indication in (Indication.TOTAL_FAILED, Indication.INDETERMINATE)
    assert item.because in first.detail
    assert first.level is None


def test_wrapped_signature_still_verifies_cryptographically(corpus: Corpus) -> None:
    """The wrapping attack keeps the signature intact: only the layout checks catch it."""
    forged = corpus.forged(next(item for item in CORPUS if item.attack is wrap_signature))
    reader = PdfFileReader(io.BytesIO(forged), strict=False)
    [es] = reader.embedded_signatures
    intact, valid = validate_sig_integrity(es.signer_info, es.signer_cert, "data", es.compute_digest())
    assert intact and valid
    assert reader.root["/Pages"]["/Kids"][0]["/Contents"].data == GOODBYE  # what a viewer shows


def test_pyhanko_default_policy_would_let_the_field_replacement_pass(corpus: Corpus) -> None:
    """ISO 32000 lets an approval signature's form fields be filled later, and
    pyHanko's default policy agrees: the shadow "replace" needs the stricter
    policy of verify_pdf (only signature fields may change after signing)."""
    forged = corpus.forged(next(item for item in CORPUS if item.attack is fill_field))
    reader = PdfFileReader(io.BytesIO(forged), strict=False)
    [es] = reader.embedded_signatures
    status = validate_pdf_signature(es, corpus.trust.validation_context(), diff_policy=DEFAULT_DIFF_POLICY)
    assert status.modification_level is ModificationLevel.FORM_FILLING and status.docmdp_ok
    assert status.bottom_line
    assert verify(corpus, forged).verdict is Verdict.ALTERED


def test_timestamp_from_the_future_of_the_verifier(corpus: Corpus) -> None:
    report = verify(corpus, corpus.twin("signed"), now=datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1))
    [signature] = report.signatures
    assert (signature.verdict, signature.sub_indication) == (Verdict.TIMESTAMP_INVALID, "FORMAT_FAILURE")
    assert "in the future" in signature.detail and signature.signed_at is None


# --- permitted updates -----------------------------------------------------------------


def add_dss(corpus: Corpus, pdf: bytes) -> bytes:
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    out = add_validation_info(reader.embedded_signatures[-1], corpus.trust.validation_context())
    return bytes(out.getvalue())


def cosign(corpus: Corpus, pdf: bytes) -> bytes:
    return corpus.sign(pdf, MARIA, reason="MSign: co-semnat", appearance=True)


@pytest.mark.parametrize(
    ("twin", "permitted", "levels"),
    [
        pytest.param("signed", cosign, ["PAdES-BASELINE-T", "PAdES-BASELINE-T"], id="cosignature"),
        pytest.param("signed", add_dss, ["PAdES-BASELINE-LT"], id="dss-update"),
        pytest.param("lt", lambda c, pdf: pdf, ["PAdES-BASELINE-LT"], id="signed-b-lt"),
        pytest.param("lta", lambda c, pdf: pdf, ["PAdES-BASELINE-LTA"], id="document-timestamp"),
        # the issuing CA's CRL in the DSS covers both signers
        pytest.param("cosigned", add_dss, ["PAdES-BASELINE-LT", "PAdES-BASELINE-LT"], id="dss-after-cosignature"),
    ],
)
def test_permitted_updates_keep_signatures_valid(
    corpus: Corpus, twin: str, permitted: Callable[[Corpus, bytes], bytes], levels: list[str]
) -> None:
    report = verify(corpus, permitted(corpus, corpus.twin(twin)))
    assert report.valid, report
    assert [s.level for s in report.signatures] == levels
    for signature in report.signatures:
        assert signature.indication is Indication.TOTAL_PASSED and signature.sub_indication is None
        assert signature.signed_at is not None


def test_report_of_a_valid_signature(corpus: Corpus) -> None:
    before = datetime.now(UTC)
    report = verify(corpus, corpus.twin("cosigned"))
    ion, maria = report.signatures
    assert report.verdict is Verdict.VALID
    assert (ion.name, maria.name) == ("Signature1", "Signature2")
    assert ion.subject is not None and ion.subject.endswith("SERIALNUMBER=2004001234567")
    assert "CN=Ion Popescu" in ion.subject
    assert ion.certificate == corpus.pki.people[IDNP].certificate_der
    assert maria.certificate == corpus.pki.people[MARIA].certificate_der
    assert ion.signed_at is not None and maria.signed_at is not None and ion.signed_at <= maria.signed_at <= before
    assert ion.claimed_signing_time is not None
    assert abs(ion.signed_at - ion.claimed_signing_time) < timedelta(seconds=5)


def five_cosignatures(corpus: Corpus) -> bytes:
    """The twin's document signed by five different people, each with a visible
    appearance (pdfsig, 22.12, reports the second signature of one
    certificate in a document as "Unknown issue with Certificate")."""
    if "five-cosignatures" not in corpus.made:
        ana = _issue(corpus, "Ana Lungu")
        document = unsigned_original(corpus.twin("signed"))
        for person in (IDNP, MARIA, VASILE, ANDREI, ana):
            document = corpus.sign(document, person, appearance=True)
        corpus.made["five-cosignatures"] = document
    return corpus.made["five-cosignatures"]


def test_five_cosignatures_all_valid(corpus: Corpus) -> None:
    report = verify(corpus, five_cosignatures(corpus))
    assert report.valid and len(report.signatures) == 5
    assert [s.name for s in report.signatures] == [f"Signature{n}" for n in range(1, 6)]
    assert all(s.level == "PAdES-BASELINE-T" for s in report.signatures)


def test_one_bad_cosignature_spoils_the_document(corpus: Corpus) -> None:
    document = corpus.sign(corpus.twin("signed"), ELENA)
    report = verify(corpus, document)
    assert [s.verdict for s in report.signatures] == [Verdict.VALID, Verdict.REVOKED]
    assert report.verdict is Verdict.REVOKED
    revoked = report.signatures[1]
    assert revoked.signed_at is not None  # its time-stamp is valid: it proves when Elena signed
    assert revoked.subject is not None and "SERIALNUMBER=2003004567896" in revoked.subject


def test_revoked_signer_without_timestamp_has_no_proof_of_time(corpus: Corpus) -> None:
    """Without a time-stamp there is no proof the signature predates the revocation."""

    def drop_timestamp(signed_data: cms.SignedData) -> None:
        signed_data["signer_infos"][0]["unsigned_attrs"] = cms.CMSAttributes([])

    twin = corpus.twin("signed")
    bare = verify(corpus, rewrite_cms(twin, drop_timestamp))
    assert bare.valid and bare.signatures[0].level == "PAdES-BASELINE-B" and bare.signatures[0].signed_at is None
    revoked = verify(corpus, rewrite_cms(_resign(lambda c: c.pki.people[ELENA])(corpus, twin), drop_timestamp))
    [signature] = revoked.signatures
    assert (signature.verdict, signature.indication, signature.sub_indication) == (
        Verdict.REVOKED,
        Indication.INDETERMINATE,
        "REVOKED_NO_POE",
    )


def test_no_byte_of_a_signed_pdf_can_change_unnoticed(corpus: Corpus) -> None:
    """Flip bytes all over a signed document (seeded): every change outside the
    signature's /Contents makes it not valid, and none raises."""
    twin = corpus.twin("cosigned")
    _, start, end, _ = byte_ranges(twin)[-1]
    chance = random.Random(5)
    for offset in sorted(chance.sample(range(len(twin)), 80)):
        forged = bytearray(twin)
        forged[offset] ^= 1 << chance.randrange(8)
        report = verify(corpus, bytes(forged))
        assert not report.valid or start < offset < end - 1, (offset, report)


# --- input that is not a signed PDF -------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "detail"),
    [
        pytest.param(b"", "no %PDF- header", id="empty"),
        pytest.param(b"<xml/>", "no %PDF- header", id="not-a-pdf"),
        pytest.param(b"%PDF-1.7\n" + b"\x00" * 100, "not a readable PDF", id="garbage-after-header"),
        pytest.param(b"%PDF-1.7\n" + b" " * MAX_PDF_BYTES, "larger than", id="too-large"),
    ],
)
def test_unreadable_input(corpus: Corpus, document: bytes, detail: str) -> None:
    report = verify(corpus, document)
    assert report.verdict is Verdict.MALFORMED and report.signatures == ()
    assert detail in report.detail


def test_too_many_signatures(corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    from msign_soap.verification import pades

    monkeypatch.setattr(pades, "MAX_SIGNATURES", 1)
    report = verify(corpus, corpus.twin("cosigned"))
    assert report.verdict is Verdict.MALFORMED and "more than 1 signatures" in report.detail


def test_too_many_revisions(corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    from msign_soap.verification import pades

    monkeypatch.setattr(pades, "MAX_REVISIONS", 2)
    report = verify(corpus, corpus.twin("cosigned"))
    assert report.verdict is Verdict.MALFORMED and "more than 2 revisions" in report.detail


# --- no fetches into private address space ---------------------------------------------


@dataclass
class SocketGuard:
    """Every outgoing connection attempt, refused unless to loopback."""

    attempts: list[str] = field(default_factory=list)


@pytest.fixture
def socket_guard(monkeypatch: pytest.MonkeyPatch) -> SocketGuard:
    guard = SocketGuard()
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else str(address)
        guard.attempts.append(str(host))
        if host not in ("127.0.0.1", "::1"):
            raise OSError(f"test guard: no connection to {host}")
        connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return guard


def test_metadata_address_in_certificate_causes_no_fetch(corpus: Corpus, socket_guard: SocketGuard) -> None:
    """A signer certificate whose OCSP, CA-issuers and CRL URLs point at the
    cloud metadata address: a checker that fetches revocation data refuses it
    before anything connects. The control run, allowed private addresses,
    shows that the guard sees the fetch it would otherwise make."""
    attacker = _issue(corpus, "Ion Popescu", url="http://169.254.169.254/latest/meta-data")
    document = corpus.sign(minimal_pdf(), attacker)
    fetching = ChainChecker(
        [corpus.pki.root.certificate], [corpus.pki.issuing_ca.certificate], revocation="soft", timeout=2
    )
    report = verify_pdf(document, fetching)
    [signature] = report.signatures
    assert (signature.verdict, signature.sub_indication) == (Verdict.NOT_TRUSTED, "CHAIN_CONSTRAINTS_FAILURE")
    assert "169.254.169.254" in signature.detail
    assert socket_guard.attempts == []

    careless = ChainChecker(
        [corpus.pki.root.certificate],
        [corpus.pki.issuing_ca.certificate],
        revocation="soft",
        timeout=2,
        allow_private_addresses=True,
    )
    verify_pdf(document, careless)
    assert "169.254.169.254" in socket_guard.attempts


# --- agreement with poppler's pdfsig -------------------------------------------------------


def run_pdfsig(corpus: Corpus, pdf: bytes) -> list[dict[str, str]]:
    """pdfsig's findings, one dict per signature (``- Key: value`` lines), with
    the corpus's demo root trusted in an NSS database (``certutil``)."""
    if shutil.which("pdfsig") is None or shutil.which("certutil") is None:
        pytest.skip("pdfsig (poppler-utils) and certutil (libnss3-tools) are needed")
    home = corpus.directory / "pdfsig"
    nss = nss_database(home / "nssdb", corpus.pki.root.certificate_der)
    path = home / "checked.pdf"
    path.write_bytes(pdf)
    run = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{nss}", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": str(home)},
    )
    return parse_pdfsig(run.stdout)


def pdfsig_says_valid(signature: dict[str, str]) -> bool:
    return (
        signature.get("Signature Validation") == "Signature is Valid."
        and signature.get("Certificate Validation") == "Certificate is Trusted."
    )


# Not the "lta" twin: pdfsig (22.12) does not verify document time-stamps
# ("Signature Type: unknown", "Signature has not yet been verified.").
PDFSIG_CASES = [
    pytest.param(("twin", name), id=f"twin-{name}") for name in ("signed", "cosigned", "lt", "certified")
] + [pytest.param(("forged", item), id=item.name) for item in CORPUS if item.pdfsig]


@pytest.mark.parametrize("case", PDFSIG_CASES)
def test_pdfsig_agrees(corpus: Corpus, case: tuple[str, Any]) -> None:
    kind, what = case
    pdf = corpus.twin(what) if kind == "twin" else corpus.forged(what)
    ours = verify(corpus, pdf)
    theirs = run_pdfsig(corpus, pdf)
    assert ours.valid == (bool(theirs) and all(pdfsig_says_valid(s) for s in theirs)), (ours, theirs)
    if ours.signatures and len(theirs) == len(ours.signatures):
        assert [s.valid for s in ours.signatures] == [pdfsig_says_valid(s) for s in theirs], (ours, theirs)


def test_pdfsig_agrees_on_five_cosignatures(corpus: Corpus) -> None:
    document = five_cosignatures(corpus)
    theirs = run_pdfsig(corpus, document)
    assert len(theirs) == 5 and all(pdfsig_says_valid(s) for s in theirs), theirs
    assert verify(corpus, document).valid


def test_pdfsig_sees_no_more_than_a_partly_signed_wrapped_document(corpus: Corpus) -> None:
    """pdfsig does not analyse what lies outside the signed ranges: on the
    wrapping attack it only notes that the signature does not cover the whole
    document, and calls the signature valid."""
    [theirs] = run_pdfsig(corpus, corpus.forged(next(item for item in CORPUS if item.attack is wrap_signature)))
    assert "Not total document signed" in theirs and pdfsig_says_valid(theirs)
