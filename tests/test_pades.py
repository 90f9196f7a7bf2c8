"""PAdES baseline signatures (msign_soap.signing.pades), checked by pyHanko and poppler's pdfsig."""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign import fields, signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import DocumentSecurityStore, validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from msign_soap.errors import InvalidDocument, SigningError
from msign_soap.pki import DemoPki, Identity, build_crl
from msign_soap.signing import LocalTsa
from msign_soap.signing.pades import (
    PadesDraft,
    count_signatures,
    finish_pades,
    prepare_pades,
    sign_pades_with_key,
)

from .conftest import IDNP, ForgedTsa, RecordingTsa, minimal_pdf
from .pki_support import live_service

NOW = datetime.now(UTC).replace(microsecond=0)
REASON = "MSign: semnat de Ion Popescu"
PAGE_TEXT = b"Hello"  # what minimal_pdf() writes on its page


# --- the signers: the demo PKI ----------------------------------------------


def asn1(identity: Identity) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(identity.certificate_der)


@dataclass(frozen=True)
class Pki:
    """The demo PKI as these tests sign with it: ``signer1`` and ``signer2``
    are the demo people Ion Popescu and Maria Rusu (RSA), ``signer_ec`` Ion's
    EC P-256 certificate from the demo issuing CA; ``crls``: the CAs' current
    CRLs (DER), handed to the validators, which fetch nothing."""

    demo: DemoPki
    signer1: Identity
    signer2: Identity
    signer_ec: Identity
    crls: tuple[bytes, ...]

    @property
    def chain(self) -> list[bytes]:
        """The issuing CA and the root, above every signer."""
        return list(self.signer1.chain_der)


@pytest.fixture(scope="module")
def pki(demo_pki: DemoPki, ec_signer: Identity) -> Pki:
    return Pki(
        demo=demo_pki,
        signer1=demo_pki.people[IDNP],
        signer2=demo_pki.by_name("Maria Rusu"),
        signer_ec=ec_signer,
        crls=(build_crl(demo_pki.root, (), NOW), build_crl(demo_pki.issuing_ca, demo_pki.revocations, NOW)),
    )


@pytest.fixture(scope="module")
def tsa(demo_tsa: LocalTsa) -> RecordingTsa:
    return RecordingTsa(demo_tsa)


def validation_context(pki: Pki, **kwargs: object) -> ValidationContext:
    kwargs.setdefault("crls", [asn1_crl.CertificateList.load(c) for c in pki.crls])
    return ValidationContext(trust_roots=[asn1(pki.demo.root)], allow_fetching=False, **kwargs)  # type: ignore[arg-type]


def sign(pki: Pki, tsa: RecordingTsa, pdf: bytes, signer: Identity | None = None, **kwargs: Any) -> bytes:
    signer = signer or pki.signer1
    kwargs.setdefault("signing_time", NOW)
    kwargs.setdefault("reason", REASON)
    return bytes(sign_pades_with_key(pdf, signer.certificate_der, pki.chain, signer.private_key, tsa, **kwargs))


@pytest.fixture(scope="module")
def signed_once(pki: Pki, tsa: RecordingTsa) -> bytes:
    return sign(pki, tsa, minimal_pdf())


@pytest.fixture(scope="module")
def signed_twice(pki: Pki, tsa: RecordingTsa, signed_once: bytes) -> bytes:
    return sign(pki, tsa, signed_once, pki.signer2, reason="MSign: co-semnat", appearance=True)


# --- checkers ----------------------------------------------------------------


def pdfsig(pdf: bytes, tmp_path: Path, trust_root: bytes | None = None) -> list[dict[str, str]]:
    """Run poppler's pdfsig; one dict per signature (``- Key: value`` lines, flags as keys).

    Without ``trust_root``: ``pdfsig -nocert`` (signature and coverage only)
    with ``HOME`` in ``tmp_path``, so no user NSS database is read. With it:
    an NSS database holding ``trust_root`` as a trusted CA (:func:`nss_database`)
    and ``pdfsig -nssdir sql:DIR``.
    """
    if shutil.which("pdfsig") is None:
        pytest.skip("pdfsig (poppler-utils) is not installed")
    path = tmp_path / "checked.pdf"
    path.write_bytes(pdf)
    env = {**os.environ, "HOME": str(tmp_path)}
    if trust_root is None:
        command = ["pdfsig", "-nocert", str(path)]
    else:
        command = ["pdfsig", "-nssdir", f"sql:{nss_database(tmp_path / 'nssdb', trust_root)}", str(path)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    signatures = parse_pdfsig(run.stdout)
    assert signatures, run.stdout + run.stderr
    return signatures


def nss_database(directory: Path, trust_root: bytes) -> Path:
    """An NSS database in ``directory`` (made once) trusting ``trust_root`` as a CA (``certutil``)."""
    if not directory.exists():
        directory.mkdir(parents=True)
        (directory / "root.der").write_bytes(trust_root)
        for args in (
            ["-N", "--empty-password"],
            ["-A", "-n", "root", "-t", "C,C,C", "-i", str(directory / "root.der")],
        ):
            subprocess.run(["certutil", "-d", f"sql:{directory}", *args], check=True, capture_output=True, timeout=60)
    return directory


def parse_pdfsig(stdout: str) -> list[dict[str, str]]:
    """pdfsig's report: one dict per signature, from its ``- Key: value`` lines."""
    signatures: list[dict[str, str]] = []
    for line in stdout.splitlines():
        if re.match(r"^Signature #\d+:", line):
            signatures.append({})
        elif (match := re.match(r"^\s+- (.*)$", line)) and signatures:
            key, _, value = match.group(1).partition(": ")
            signatures[-1][key] = value
    return signatures


def pyhanko_status(pdf: bytes, pki: Pki, **vc: object) -> list:
    reader = PdfFileReader(io.BytesIO(pdf))
    return [(es, validate_pdf_signature(es, validation_context(pki, **vc))) for es in reader.embedded_signatures]


# --- happy paths -------------------------------------------------------------


def test_signed_pdf_is_valid_pades_bt_for_pyhanko(pki: Pki, signed_once: bytes) -> None:
    [(es, status)] = pyhanko_status(signed_once, pki)
    assert status.intact and status.valid and status.trusted and status.bottom_line
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.signing_cert.subject == asn1(pki.signer1).subject
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.intact and status.timestamp_validity.valid and status.timestamp_validity.trusted
    assert es.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert es.sig_object["/Reason"] == REASON
    assert es.field_name == "Signature1"
    signed_attrs = {a["type"].native for a in es.signer_info["signed_attrs"]}
    assert signed_attrs == {"content_type", "message_digest", "signing_certificate_v2"}
    assert es.signer_info["digest_algorithm"]["algorithm"].native == "sha256"
    assert es.signer_info["signature_algorithm"]["algorithm"].native == "sha256_rsa"
    unsigned = {a["type"].native for a in es.signer_info["unsigned_attrs"]}
    assert unsigned == {"signature_time_stamp_token"}
    assert status.signer_reported_dt == NOW


def test_signed_pdf_is_valid_for_pdfsig(signed_once: bytes, tmp_path: Path) -> None:
    [sig] = pdfsig(signed_once, tmp_path)
    assert sig["Signature Validation"] == "Signature is Valid."
    assert "Total document signed" in sig
    assert sig["Signature Type"] == "ETSI.CAdES.detached"
    assert sig["Signing Hash Algorithm"] == "SHA-256"
    assert sig["Signer Certificate Common Name"] == "Ion Popescu"


@pytest.mark.skipif(shutil.which("certutil") is None, reason="certutil (libnss3-tools) is not installed")
def test_pdfsig_trusts_signers_under_the_demo_root(tmp_path: Path) -> None:
    """pdfsig asks the OCSP responder a demo person's certificate names, and
    poppler (22.12) reports a failed request as an unknown certificate issue;
    so this demo PKI is served live, its certificates naming this server."""
    with live_service(tmp_path / "data") as live:
        demo, tsa = live.service.pki, live.service.timestamper
        assert demo is not None and tsa is not None
        document = minimal_pdf()
        for signer, more in ((demo.people[IDNP], {}), (demo.by_name("Maria Rusu"), {"appearance": True})):
            document = bytes(sign_pades_with_key(
                document, signer.certificate_der, signer.chain_der, signer.private_key, tsa,
                signing_time=NOW, reason=REASON, **more,
            ))  # fmt: skip
        signatures = pdfsig(document, tmp_path, trust_root=demo.root.certificate_der)
        assert len(signatures) == 2
        for sig in signatures:
            assert sig["Signature Validation"] == "Signature is Valid."
            assert sig["Certificate Validation"] == "Certificate is Trusted."
        assert any(seen.startswith(("GET /pki/ocsp/", "POST /pki/ocsp/")) for seen in live.seen), live.seen


def test_cosigning_keeps_both_signatures_valid(
    pki: Pki, signed_once: bytes, signed_twice: bytes, tmp_path: Path
) -> None:
    assert signed_twice.startswith(signed_once)
    (es1, first), (es2, second) = pyhanko_status(signed_twice, pki)
    assert (es1.field_name, es2.field_name) == ("Signature1", "Signature2")
    for status in (first, second):
        assert status.bottom_line and status.timestamp_validity.valid
    assert first.coverage == SignatureCoverageLevel.ENTIRE_REVISION
    assert second.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert es2.sig_object["/Reason"] == "MSign: co-semnat"
    one, two = pdfsig(signed_twice, tmp_path)
    assert one["Signature Validation"] == two["Signature Validation"] == "Signature is Valid."
    assert "Total document signed" in two and "Total document signed" not in one


def test_visible_appearance_on_last_page(pki: Pki, signed_twice: bytes) -> None:
    reader = PdfFileReader(io.BytesIO(signed_twice))
    es = reader.embedded_signatures[1]
    widget = es.sig_field
    rect = [float(v) for v in widget["/Rect"]]
    assert rect[2] - rect[0] > 0 and rect[3] - rect[1] > 0
    # undo the PDF string escapes (\055 for "-")
    stream = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), widget["/AP"]["/N"].data)
    assert b"Semnat electronic de: Maria Rusu" in stream  # the certificate's common name
    assert NOW.strftime("Data: %Y-%m-%d %H:%M:%S UTC").encode() in stream
    invisible = reader.embedded_signatures[0].sig_field
    assert [float(v) for v in invisible["/Rect"]] == [0, 0, 0, 0]


def test_appearance_folds_letters_courier_cannot_show(pki: Pki, tsa: RecordingTsa) -> None:
    signed = sign(pki, tsa, minimal_pdf(), pki.signer2, appearance=True, name="Maria Țurcanu-Ștefănescu")
    [es] = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    assert es.sig_object["/Name"] == "Maria Țurcanu-Ștefănescu"
    # undo the PDF string escapes (\055 for "-")
    stream = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), es.sig_field["/AP"]["/N"].data)
    # Courier cannot show Ț or Ș: they are folded to T and S
    assert b"Maria Turcanu-Stefanescu" in stream


def test_ecdsa_signer_raw_and_der_values(pki: Pki, tsa: RecordingTsa) -> None:
    signer = pki.signer_ec
    draft, prepared = prepare_pades(minimal_pdf(), signer.certificate_der, pki.chain, signing_time=NOW, reason=None)
    assert draft.signature_algorithm == "sha256_ecdsa"
    assert isinstance(signer.private_key, ec.EllipticCurvePrivateKey)
    der = signer.private_key.sign(draft.data_to_be_signed, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    for value in (der, raw):  # a copy each: finish_pades signs the prepared document in place
        [(es, status)] = pyhanko_status(finish_pades(draft, bytes(prepared), value, tsa), pki)
        assert status.bottom_line
        assert "/Reason" not in es.sig_object


def test_level_b_lt_embeds_validation_data(pki: Pki, tsa: RecordingTsa) -> None:
    signed = sign(pki, tsa, minimal_pdf(), level="B-LT", validation_context=validation_context(pki))
    reader = PdfFileReader(io.BytesIO(signed))
    dss = DocumentSecurityStore.read_dss(reader)
    subjects = {c.subject.native["common_name"] for c in dss.load_certs()}
    assert {"Ion Popescu", "MSign Demo Issuing CA", "MSign Demo TSA"} <= subjects
    assert len(dss.crls) == 2
    # Valid with revocation checking enforced and the CRLs taken from the DSS only.
    vc = dss.as_validation_context(
        {"trust_roots": [asn1(pki.demo.root)], "allow_fetching": False, "revocation_mode": "hard-fail"}
    )
    [es] = reader.embedded_signatures
    status = validate_pdf_signature(es, vc)
    assert status.bottom_line and status.timestamp_validity and status.timestamp_validity.valid
    assert status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
    assert status.modification_level == ModificationLevel.LTA_UPDATES


def test_draft_is_small_and_survives_json(pki: Pki) -> None:
    draft, prepared = prepare_pades(
        minimal_pdf(), pki.signer1.certificate_der, pki.chain, signing_time=NOW, reason=REASON
    )
    text = draft.to_json()
    assert len(text) < 8_000
    assert PadesDraft.from_json(text) == draft
    assert PadesDraft.from_json(text.encode()) == draft
    assert draft.data_to_be_signed[:1] == b"\x31"  # DER SET OF, as RFC 5652 §5.4 has it signed
    assert draft.data_to_be_signed_digest == hashlib.sha256(draft.data_to_be_signed).digest()
    assert prepared[draft.reserved_start : draft.reserved_start + 1] == b"<"
    assert len(prepared) == draft.prepared_size


def test_naive_signing_time_is_utc(pki: Pki) -> None:
    draft, prepared = prepare_pades(
        minimal_pdf(), pki.signer1.certificate_der, pki.chain, signing_time=NOW.replace(tzinfo=None), reason=None
    )
    assert draft.signing_time == NOW
    reader = PdfFileReader(io.BytesIO(prepared))
    [(_name, value, _ref)] = fields.enumerate_sig_fields(reader)
    assert value.get_object()["/M"] == NOW.strftime("D:%Y%m%d%H%M%SZ")


PREPARE = """
import sys
from datetime import datetime
from pathlib import Path
from msign_soap.pki import load_demo_pki
from msign_soap.signing.pades import prepare_pades

d = Path(sys.argv[1])
signer = load_demo_pki(sys.argv[2], sys.argv[3]).people[sys.argv[4]]
draft, prepared = prepare_pades(
    (d / "in.pdf").read_bytes(), signer.certificate_der, signer.chain_der,
    signing_time=datetime.fromisoformat(sys.argv[5]), reason="cross-process",
)
(d / "draft.json").write_text(draft.to_json())
(d / "prepared.pdf").write_bytes(prepared)
(d / "dtbs.der").write_bytes(draft.data_to_be_signed)
"""

FINISH = """
import sys
from pathlib import Path
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from msign_soap.pki import load_demo_pki
from msign_soap.signing import LocalTsa
from msign_soap.signing.pades import PadesDraft, finish_pades

d = Path(sys.argv[1])
pki = load_demo_pki(sys.argv[2], sys.argv[3])
tsa = LocalTsa(pki.tsa.certificate, pki.tsa.private_key, pki.tsa.chain)
draft = PadesDraft.from_json((d / "draft.json").read_text())
value = pki.people[sys.argv[4]].private_key.sign((d / "dtbs.der").read_bytes(), padding.PKCS1v15(), hashes.SHA256())
(d / "out.pdf").write_bytes(finish_pades(draft, (d / "prepared.pdf").read_bytes(), value, tsa))
"""


def test_prepare_and_finish_in_separate_processes(pki: Pki, tmp_path: Path) -> None:
    """Both read Ion Popescu (and the TSA) from the demo PKI's directory."""
    (tmp_path / "in.pdf").write_bytes(minimal_pdf())
    demo = [str(pki.demo.directory), pki.demo.public_base_url, IDNP]
    for script, args in ((PREPARE, [*demo, NOW.isoformat()]), (FINISH, demo)):
        subprocess.run(
            [sys.executable, "-W", "error", "-c", textwrap.dedent(script), str(tmp_path), *args],
            check=True,
            timeout=120,
        )
    [(es, status)] = pyhanko_status((tmp_path / "out.pdf").read_bytes(), pki)
    assert status.bottom_line and status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.timestamp_validity.valid
    assert es.sig_object["/Reason"] == "cross-process"


# --- failures ----------------------------------------------------------------


def _flip_page_text(pdf: bytes) -> bytes:
    assert pdf.count(PAGE_TEXT) == 1
    return pdf.replace(PAGE_TEXT, b"J" + PAGE_TEXT[1:])


def test_tampered_pdf_rejected_by_pyhanko_and_pdfsig(pki: Pki, signed_once: bytes, tmp_path: Path) -> None:
    tampered = _flip_page_text(signed_once)
    [(_es, status)] = pyhanko_status(tampered, pki)
    assert not status.intact and not status.bottom_line
    [sig] = pdfsig(tampered, tmp_path)
    assert sig["Signature Validation"] == "Digest Mismatch."


def test_tampered_cosigned_pdf_breaks_both(pki: Pki, signed_twice: bytes, tmp_path: Path) -> None:
    tampered = _flip_page_text(signed_twice)
    assert not any(status.intact for _es, status in pyhanko_status(tampered, pki))
    assert [sig["Signature Validation"] for sig in pdfsig(tampered, tmp_path)] == ["Digest Mismatch."] * 2


@pytest.fixture
def prepared(pki: Pki) -> tuple[PadesDraft, bytes]:
    """A draft and its prepared document as read-only ``bytes`` (as loaded from elsewhere)."""
    draft, document = prepare_pades(
        minimal_pdf(), pki.signer1.certificate_der, pki.chain, signing_time=NOW, reason=REASON
    )
    return draft, bytes(document)


def _rsa_sign(entity: Identity, data: bytes) -> bytes:
    assert isinstance(entity.private_key, rsa.RSAPrivateKey)
    return entity.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize(
    "make_value",
    [
        pytest.param(lambda pki, dtbs: _rsa_sign(pki.signer2, dtbs), id="other-signers-key"),
        pytest.param(lambda pki, dtbs: _rsa_sign(pki.signer1, dtbs + b"x"), id="other-data"),
        pytest.param(lambda pki, dtbs: bytes(256), id="zeros"),
        pytest.param(lambda pki, dtbs: b"", id="empty"),
        pytest.param(lambda pki, dtbs: _rsa_sign(pki.signer1, dtbs)[:-1], id="truncated"),
    ],
)
def test_wrong_signature_value_refused(
    pki: Pki, tsa: RecordingTsa, prepared: tuple[PadesDraft, bytes], make_value: Callable[[Pki, bytes], bytes]
) -> None:
    draft, document = prepared
    calls = len(tsa.imprints)
    with pytest.raises(SigningError, match="does not verify"):
        finish_pades(draft, document, make_value(pki, draft.data_to_be_signed), tsa)
    assert len(tsa.imprints) == calls  # no time-stamp is bought for a bad signature


@pytest.mark.parametrize(
    "spoil, message",
    [
        pytest.param(lambda d, pdf: (d, pdf[:-1]), "size", id="truncated-document"),
        pytest.param(
            lambda d, pdf: (replace(d, document_digest=bytes(32)), pdf), "digest", id="draft-of-another-document"
        ),
        pytest.param(
            lambda d, pdf: (replace(d, signed_attributes=b"\x31\x00"), pdf), "another document", id="empty-attributes"
        ),
        pytest.param(lambda d, pdf: (replace(d, signed_attributes=b"junk"), pdf), "unreadable", id="junk-attributes"),
        pytest.param(
            lambda d, pdf: (replace(d, signature_algorithm="sha256_ecdsa"), pdf), "disagree", id="algorithm-mismatch"
        ),
        pytest.param(lambda d, pdf: (d, _flip_page_text(pdf)), "digest", id="modified-document"),
        pytest.param(
            lambda d, pdf: (d, pdf[: d.reserved_start + 1] + b"1" + pdf[d.reserved_start + 2 :]),
            "placeholder",
            id="filled-placeholder",
        ),
        pytest.param(
            lambda d, pdf: (replace(d, reserved_start=d.reserved_start + 2), pdf), "placeholder", id="moved-range"
        ),
    ],
)
def test_draft_and_prepared_document_must_agree(
    pki: Pki,
    tsa: RecordingTsa,
    prepared: tuple[PadesDraft, bytes],
    spoil: Callable[[PadesDraft, bytes], tuple[PadesDraft, bytes]],
    message: str,
) -> None:
    draft, document = spoil(*prepared)
    with pytest.raises(SigningError, match=message):
        finish_pades(draft, document, _rsa_sign(pki.signer1, draft.data_to_be_signed), tsa)


def test_writable_prepared_document_is_signed_in_place(
    pki: Pki, tsa: RecordingTsa, prepared: tuple[PadesDraft, bytes]
) -> None:
    draft, document = prepared
    value = _rsa_sign(pki.signer1, draft.data_to_be_signed)
    expected = finish_pades(draft, document, value, tsa)  # bytes: copied once, left as they were
    assert isinstance(expected, bytearray) and bytes(expected) != document
    assert document[draft.reserved_start + 1 : draft.reserved_end - 1].strip(b"0") == b""
    buffer = bytearray(document)
    signed = finish_pades(draft, buffer, value, tsa)
    assert signed is buffer
    assert len(buffer) == len(document) and buffer != document
    [(_es, status)] = pyhanko_status(bytes(buffer), pki)
    assert status.bottom_line and status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    with pytest.raises(SigningError, match="placeholder"):  # a filled buffer cannot be finished again
        finish_pades(draft, buffer, value, tsa)
    view_target = bytearray(document)
    with memoryview(view_target) as view:
        assert finish_pades(draft, view, value, tsa) is view
    [(_es, status)] = pyhanko_status(bytes(view_target), pki)  # another time-stamp, as valid
    assert status.bottom_line and status.coverage == SignatureCoverageLevel.ENTIRE_FILE


@pytest.mark.parametrize("as_buffer", [bytearray, lambda data: memoryview(bytearray(data))], ids=["bytearray", "view"])
def test_writable_buffer_of_another_document_refused_untouched(
    pki: Pki, tsa: RecordingTsa, prepared: tuple[PadesDraft, bytes], as_buffer: Callable[[bytes], Any]
) -> None:
    draft, document = prepared
    # same size and placeholder, one byte of the covered range changed
    spoiled = document[:10] + bytes([document[10] ^ 1]) + document[11:]
    buffer = as_buffer(spoiled)
    calls = len(tsa.imprints)
    with pytest.raises(SigningError, match="digest"):
        finish_pades(draft, buffer, _rsa_sign(pki.signer1, draft.data_to_be_signed), tsa)
    assert bytes(buffer) == spoiled
    assert len(tsa.imprints) == calls


@pytest.mark.parametrize(
    "token, message",
    [
        pytest.param(lambda tsa, imprint: tsa.timestamp(bytes(len(imprint))), "does not cover", id="wrong-imprint"),
        pytest.param(lambda tsa, imprint: b"\x30\x03\x02\x01\x00", "unreadable token", id="garbage-token"),
    ],
)
def test_bad_timestamp_refused(
    pki: Pki, demo_tsa: LocalTsa, prepared: tuple[PadesDraft, bytes], token: Callable, message: str
) -> None:
    draft, document = prepared
    bad_tsa = ForgedTsa(lambda imprint: token(demo_tsa, imprint))
    with pytest.raises(SigningError, match=message):
        finish_pades(draft, document, _rsa_sign(pki.signer1, draft.data_to_be_signed), bad_tsa)


def test_signature_too_large_for_placeholder(pki: Pki, tsa: RecordingTsa) -> None:
    draft, document = prepare_pades(
        minimal_pdf(), pki.signer1.certificate_der, pki.chain, signing_time=NOW, reason=None, timestamp_reserve=0
    )
    with pytest.raises(SigningError, match="does not fit"):
        finish_pades(draft, document, _rsa_sign(pki.signer1, draft.data_to_be_signed), tsa)


def test_b_lt_needs_validation_context(pki: Pki, tsa: RecordingTsa) -> None:
    with pytest.raises(SigningError, match="validation context"):
        sign(pki, tsa, minimal_pdf(), level="B-LT")


def test_b_lt_refuses_untrusted_signer(pki: Pki, tsa: RecordingTsa, foreign_root: Identity) -> None:
    vc = ValidationContext(trust_roots=[asn1(foreign_root)], allow_fetching=False)
    with pytest.raises(SigningError, match="B-LT"):
        sign(pki, tsa, minimal_pdf(), level="B-LT", validation_context=vc)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda good: "not json", id="not-json"),
        pytest.param(lambda good: "{}", id="empty-object"),
        pytest.param(lambda good: good.replace('"v":1', '"v":99'), id="other-version"),
        pytest.param(lambda good: good.replace('"level":"B-T"', '"level":"B-LTA"'), id="unknown-level"),
        pytest.param(lambda good: good.replace('"sha256_rsa"', '"md5_rsa"'), id="unknown-algorithm"),
        pytest.param(lambda good: good.replace('"signed_attributes":"', '"signed_attributes":"!'), id="bad-base64"),
        pytest.param(lambda good: re.sub(r'"reserved_start":\d+', '"reserved_start":-1', good), id="negative-offset"),
        pytest.param(lambda good: re.sub(r'"reserved_end":\d+', '"reserved_end":true', good), id="boolean-offset"),
        pytest.param(lambda good: re.sub(r'"prepared_size":\d+', '"prepared_size":10', good), id="range-past-end"),
        pytest.param(lambda good: good.replace('"chain":[', '"chain":[1,'), id="chain-not-base64"),
    ],
)
def test_damaged_draft_refused(prepared: tuple[PadesDraft, bytes], damage: Callable[[str], str]) -> None:
    good = prepared[0].to_json()
    with pytest.raises(SigningError, match="damaged"):
        PadesDraft.from_json(damage(good))


@pytest.mark.parametrize(
    "kwargs, error",
    [
        pytest.param({"level": "B-LTA"}, SigningError, id="unknown-level"),
        pytest.param({"certificate": b"not a certificate"}, SigningError, id="bad-certificate"),
        pytest.param({"chain": [b"\x30\x00"]}, SigningError, id="bad-chain"),
        pytest.param({"pdf": b"%PDF-1.7\ngarbage"}, InvalidDocument, id="garbage-pdf"),
        pytest.param({"pdf": b""}, InvalidDocument, id="empty-pdf"),
        pytest.param({"field_name": "Signature1"}, InvalidDocument, id="field-already-signed"),
    ],
)
def test_prepare_refuses(pki: Pki, signed_once: bytes, kwargs: dict, error: type[Exception]) -> None:
    args: dict = {"pdf": signed_once, "certificate": pki.signer2.certificate_der, "chain": pki.chain}
    args.update(kwargs)
    with pytest.raises(error):
        prepare_pades(
            args.pop("pdf"), args.pop("certificate"), args.pop("chain"), signing_time=NOW, reason=None, **args
        )


def _encrypted_pdf() -> bytes:
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(minimal_pdf())))
    writer.encrypt("owner", "")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _certified_pdf(pki: Pki) -> bytes:
    key = asn1_keys.PrivateKeyInfo.load(
        pki.signer1.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    signer = signers.SimpleSigner(
        signing_cert=asn1(pki.signer1),
        signing_key=key,
        cert_registry=SimpleCertificateStore.from_certs([asn1(pki.demo.issuing_ca)]),
    )
    meta = signers.PdfSignatureMetadata(
        field_name="Author",
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    return signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(minimal_pdf())), meta, signer=signer).getvalue()


@pytest.mark.parametrize(
    "make, message",
    [
        pytest.param(lambda pki: _encrypted_pdf(), "Encrypted", id="encrypted"),
        pytest.param(_certified_pdf, "forbids all changes", id="certified-no-changes"),
    ],
)
def test_prepare_refuses_protected_documents(pki: Pki, make: Callable[[Pki], bytes], message: str) -> None:
    with pytest.raises(InvalidDocument, match=message):
        prepare_pades(make(pki), pki.signer2.certificate_der, pki.chain, signing_time=NOW, reason=None)


@pytest.mark.slow
def test_large_document_costs_one_copy(pki: Pki, tsa: RecordingTsa) -> None:
    size = 50 * 1024 * 1024
    pdf = minimal_pdf(padding=size)
    tracemalloc.start()
    try:
        draft, prepared = prepare_pades(pdf, pki.signer1.certificate_der, pki.chain, signing_time=NOW, reason=REASON)
        _current, prepare_peak = tracemalloc.get_traced_memory()
        del pdf
        tracemalloc.reset_peak()
        base, _peak = tracemalloc.get_traced_memory()
        signed = finish_pades(draft, prepared, _rsa_sign(pki.signer1, draft.data_to_be_signed), tsa)
        _current, finish_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert prepare_peak < 1.2 * size  # the prepared copy (the input is the caller's)
    assert finish_peak - base < 0.1 * size  # signed in place
    assert signed is prepared
    [(_es, status)] = pyhanko_status(signed, pki)
    assert status.bottom_line and status.coverage == SignatureCoverageLevel.ENTIRE_FILE


# --- count_signatures --------------------------------------------------------


@pytest.mark.parametrize(
    "document, expected",
    [
        pytest.param("unsigned", 0, id="unsigned"),
        pytest.param("once", 1, id="signed-once"),
        pytest.param("twice", 2, id="signed-twice"),
        # /V is there, /Contents still zeros: counts, and is never an input
        pytest.param("prepared", 1, id="prepared-placeholder"),
    ],
)
def test_count_signatures(
    document: str, expected: int, signed_once: bytes, signed_twice: bytes, prepared: tuple[PadesDraft, bytes]
) -> None:
    pdf = {"unsigned": minimal_pdf(), "once": signed_once, "twice": signed_twice, "prepared": prepared[1]}[document]
    assert count_signatures(pdf) == expected


MALFORMED = [
    pytest.param(b"", id="empty"),
    pytest.param(b"hello world", id="text"),
    pytest.param(b"%PDF-1.7\n" + bytes(range(256)) * 4, id="binary"),
    pytest.param(minimal_pdf()[:-40], id="truncated-trailer"),
    pytest.param(minimal_pdf().replace(b"/Root 1 0 R", b"/Root 9 0 R"), id="dangling-root"),
    pytest.param(minimal_pdf().replace(b"xref\n0 6", b"xref\n0 9"), id="bad-xref-count"),
    pytest.param(zlib.compress(minimal_pdf()), id="compressed"),
]
ODD_FORMS = [
    pytest.param(minimal_pdf(catalog=b"/AcroForm 7"), id="acroform-not-dict"),
    pytest.param(minimal_pdf(catalog=b"/AcroForm << /Fields 5 >>"), id="fields-not-array"),
    pytest.param(minimal_pdf(catalog=b"/AcroForm << /Fields [99 0 R] >>"), id="dangling-field"),
    pytest.param(minimal_pdf(catalog=b"/AcroForm << /Fields [3 0 R] >>"), id="page-as-field"),
    pytest.param(minimal_pdf(catalog=b"/AcroForm << /Fields [<< /FT /Sig /V 5 >>] >>"), id="sig-value-not-dict"),
]


@pytest.mark.parametrize("pdf", MALFORMED)
def test_count_signatures_refuses_malformed(pdf: bytes) -> None:
    with pytest.raises(InvalidDocument, match="Not a readable PDF"):
        count_signatures(pdf)


@pytest.mark.parametrize("pdf", ODD_FORMS)
def test_count_signatures_on_odd_forms(pdf: bytes) -> None:
    try:
        assert count_signatures(pdf) in (0, 1)
    except InvalidDocument:
        pass


@pytest.mark.parametrize("pdf", MALFORMED + ODD_FORMS)
def test_prepare_refuses_malformed_or_signs(pki: Pki, tsa: RecordingTsa, pdf: bytes) -> None:
    """A malformed document gives InvalidDocument or a valid signature, never a crash."""
    try:
        signed = sign(pki, tsa, pdf)
    except InvalidDocument:
        return
    [(_es, status)] = pyhanko_status(signed, pki)
    assert status.bottom_line
