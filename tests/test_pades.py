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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign import fields, signers
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import DocumentSecurityStore, validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from msign_soap.errors import InvalidDocument, SigningError
from msign_soap.signing.pades import (
    PadesDraft,
    count_signatures,
    finish_pades,
    prepare_pades,
    sign_pades_with_key,
)

NOW = datetime.now(UTC).replace(microsecond=0)
REASON = "MSign: semnat de Ion Popescu"
PAGE_TEXT = b"Hello MSign"


# --- test PKI ----------------------------------------------------------------


def idnp(prefix: str) -> str:
    """A 13-digit IDNP whose last digit is the 7-3-1 check digit."""
    digits = [int(c) for c in prefix]
    return prefix + str(sum(d * (7, 3, 1)[i % 3] for i, d in enumerate(digits)) % 10)


@dataclass
class Entity:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def asn1(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(self.der)


@dataclass
class Pki:
    root: Entity
    ca: Entity
    signer1: Entity
    signer2: Entity
    signer_ec: Entity
    tsa: Entity
    crls: list[bytes]

    @property
    def chain(self) -> list[bytes]:
        return [self.ca.der, self.root.der]


def _name(cn: str, serial: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "MD"), x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if serial:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    return x509.Name(attrs)


def _issue(
    subject: x509.Name,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    issuer: Entity | None,
    *,
    ca: bool = False,
    crl: str | None = None,
    eku: x509.ObjectIdentifier | None = None,
) -> Entity:
    signing_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca and eku is None,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    if crl:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=True)
    return Entity(key, builder.sign(signing_key, hashes.SHA256()))


def _crl(issuer: Entity) -> bytes:
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(NOW - timedelta(hours=1))
        .next_update(NOW + timedelta(days=7))
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(issuer.key, hashes.SHA256())
    )
    return crl.public_bytes(serialization.Encoding.DER)


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def pki() -> Pki:
    # CRL URLs point nowhere: nothing is fetched, the CRLs are handed over.
    root_crl, ca_crl = "http://127.0.0.1:9/root.crl", "http://127.0.0.1:9/ca.crl"
    root = _issue(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "MSign Test Root CA")]), _rsa(), None, ca=True)
    ca = _issue(_name("MSign Test Issuing CA"), _rsa(), root, ca=True, crl=root_crl)
    return Pki(
        root=root,
        ca=ca,
        signer1=_issue(_name("Ion Popescu", idnp("200400123456")), _rsa(), ca, crl=ca_crl),
        signer2=_issue(_name("Maria Țurcanu-Ștefănescu", idnp("200500765432")), _rsa(), ca, crl=ca_crl),
        signer_ec=_issue(
            _name("Vasile Ceban", idnp("200100111222")), ec.generate_private_key(ec.SECP256R1()), ca, crl=ca_crl
        ),
        tsa=_issue(_name("MSign Test TSA"), _rsa(), ca, crl=ca_crl, eku=ExtendedKeyUsageOID.TIME_STAMPING),
        crls=[_crl(root), _crl(ca)],
    )


class DummyTsa:
    """pyHanko's in-process TSA behind the Timestamper protocol of the signing core."""

    def __init__(self, pki: Pki) -> None:
        key_der = pki.tsa.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.stamper = DummyTimeStamper(
            tsa_cert=pki.tsa.asn1,
            tsa_key=asn1_keys.PrivateKeyInfo.load(key_der),
            certs_to_embed=SimpleCertificateStore.from_certs([pki.tsa.asn1, pki.ca.asn1]),
        )
        self.imprints: list[bytes] = []

    def timestamp(self, message_imprint: bytes, hash_algorithm: str = "sha256") -> bytes:
        self.imprints.append(message_imprint)
        request = tsp.TimeStampReq(
            {
                "version": 1,
                "message_imprint": {"hash_algorithm": {"algorithm": hash_algorithm}, "hashed_message": message_imprint},
                "cert_req": True,
            }
        )
        return self.stamper.request_tsa_response(request)["time_stamp_token"].dump()


@pytest.fixture(scope="module")
def tsa(pki: Pki) -> DummyTsa:
    return DummyTsa(pki)


def validation_context(pki: Pki, **kwargs: object) -> ValidationContext:
    from asn1crypto import crl as asn1_crl

    kwargs.setdefault("crls", [asn1_crl.CertificateList.load(c) for c in pki.crls])
    return ValidationContext(trust_roots=[pki.root.asn1], allow_fetching=False, **kwargs)  # type: ignore[arg-type]


# --- documents ---------------------------------------------------------------


def make_pdf(text: bytes = PAGE_TEXT, filler: int = 0, catalog: bytes = b"") -> bytes:
    """A one-page PDF 1.7 with a correct xref.

    :param filler: size of an unreferenced stream to add (for large documents).
    :param catalog: extra entries for the document catalog.
    """
    content = b"BT /F1 24 Tf 72 720 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if filler:
        # incompressible, so the size is what it says
        blob = hashlib.shake_256(b"msign").digest(filler)
        objects.append(b"<< /Length %d >>\nstream\n" % len(blob) + blob + b"\nendstream")
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def sign(pki: Pki, tsa: DummyTsa, pdf: bytes, signer: Entity | None = None, **kwargs: Any) -> bytes:
    signer = signer or pki.signer1
    kwargs.setdefault("signing_time", NOW)
    kwargs.setdefault("reason", REASON)
    return sign_pades_with_key(pdf, signer.der, pki.chain, signer.key, tsa, **kwargs)


@pytest.fixture(scope="module")
def signed_once(pki: Pki, tsa: DummyTsa) -> bytes:
    return sign(pki, tsa, make_pdf())


@pytest.fixture(scope="module")
def signed_twice(pki: Pki, tsa: DummyTsa, signed_once: bytes) -> bytes:
    return sign(pki, tsa, signed_once, pki.signer2, reason="MSign: co-semnat", appearance=True)


# --- checkers ----------------------------------------------------------------


def pdfsig(pdf: bytes, tmp_path: Path, trust_root: bytes | None = None) -> list[dict[str, str]]:
    """Run poppler's pdfsig; one dict per signature (``- Key: value`` lines, flags as keys).

    Without ``trust_root``: ``pdfsig -nocert`` (signature and coverage only)
    with ``HOME`` in ``tmp_path``, so no user NSS database is read. With it:
    an NSS database holding ``trust_root`` as a trusted CA (made with
    ``certutil``, package libnss3-tools) and ``pdfsig -nssdir sql:DIR``.
    """
    if shutil.which("pdfsig") is None:
        pytest.skip("pdfsig (poppler-utils) is not installed")
    path = tmp_path / "checked.pdf"
    path.write_bytes(pdf)
    env = {**os.environ, "HOME": str(tmp_path)}
    if trust_root is None:
        command = ["pdfsig", "-nocert", str(path)]
    else:
        nss = tmp_path / "nssdb"
        if not nss.exists():
            nss.mkdir()
            (tmp_path / "root.der").write_bytes(trust_root)
            for args in (
                ["-N", "--empty-password"],
                ["-A", "-n", "root", "-t", "C,C,C", "-i", str(tmp_path / "root.der")],
            ):
                subprocess.run(["certutil", "-d", f"sql:{nss}", *args], check=True, capture_output=True, timeout=60)
        command = ["pdfsig", "-nssdir", f"sql:{nss}", str(path)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    signatures: list[dict[str, str]] = []
    for line in run.stdout.splitlines():
        if re.match(r"^Signature #\d+:", line):
            signatures.append({})
        elif (match := re.match(r"^\s+- (.*)$", line)) and signatures:
            key, _, value = match.group(1).partition(": ")
            signatures[-1][key] = value
    assert signatures, run.stdout + run.stderr
    return signatures


def pyhanko_status(pdf: bytes, pki: Pki, **vc: object) -> list:
    reader = PdfFileReader(io.BytesIO(pdf))
    return [(es, validate_pdf_signature(es, validation_context(pki, **vc))) for es in reader.embedded_signatures]


# --- happy paths -------------------------------------------------------------


def test_signed_pdf_is_valid_pades_bt_for_pyhanko(pki: Pki, signed_once: bytes) -> None:
    [(es, status)] = pyhanko_status(signed_once, pki)
    assert status.intact and status.valid and status.trusted and status.bottom_line
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert status.signing_cert.subject == pki.signer1.asn1.subject
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
def test_pdfsig_trusts_signer_under_test_root(pki: Pki, signed_twice: bytes, tmp_path: Path) -> None:
    for sig in pdfsig(signed_twice, tmp_path, trust_root=pki.root.der):
        assert sig["Signature Validation"] == "Signature is Valid."
        assert sig["Certificate Validation"] == "Certificate is Trusted."


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
    # Courier cannot show Ț or Ș: they are folded to T and S
    assert b"Maria Turcanu-Stefanescu" in stream
    assert NOW.strftime("Data: %Y-%m-%d %H:%M:%S UTC").encode() in stream
    invisible = reader.embedded_signatures[0].sig_field
    assert [float(v) for v in invisible["/Rect"]] == [0, 0, 0, 0]


def test_ecdsa_signer_raw_and_der_values(pki: Pki, tsa: DummyTsa) -> None:
    signer = pki.signer_ec
    draft, prepared = prepare_pades(make_pdf(), signer.der, pki.chain, signing_time=NOW, reason=None)
    assert draft.signature_algorithm == "sha256_ecdsa"
    assert isinstance(signer.key, ec.EllipticCurvePrivateKey)
    der = signer.key.sign(draft.data_to_be_signed, ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    for value in (der, raw):
        [(es, status)] = pyhanko_status(finish_pades(draft, prepared, value, tsa), pki)
        assert status.bottom_line
        assert "/Reason" not in es.sig_object


def test_level_b_lt_embeds_validation_data(pki: Pki, tsa: DummyTsa) -> None:
    signed = sign(pki, tsa, make_pdf(), level="B-LT", validation_context=validation_context(pki))
    reader = PdfFileReader(io.BytesIO(signed))
    dss = DocumentSecurityStore.read_dss(reader)
    subjects = {c.subject.native["common_name"] for c in dss.load_certs()}
    assert {"Ion Popescu", "MSign Test Issuing CA", "MSign Test TSA"} <= subjects
    assert len(dss.crls) == 2
    # Valid with revocation checking enforced and the CRLs taken from the DSS only.
    vc = dss.as_validation_context(
        {"trust_roots": [pki.root.asn1], "allow_fetching": False, "revocation_mode": "hard-fail"}
    )
    [es] = reader.embedded_signatures
    status = validate_pdf_signature(es, vc)
    assert status.bottom_line and status.timestamp_validity and status.timestamp_validity.valid
    assert status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
    assert status.modification_level == ModificationLevel.LTA_UPDATES


def test_draft_is_small_and_survives_json(pki: Pki) -> None:
    draft, prepared = prepare_pades(make_pdf(), pki.signer1.der, pki.chain, signing_time=NOW, reason=REASON)
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
        make_pdf(), pki.signer1.der, pki.chain, signing_time=NOW.replace(tzinfo=None), reason=None
    )
    assert draft.signing_time == NOW
    reader = PdfFileReader(io.BytesIO(prepared))
    [(_name, value, _ref)] = fields.enumerate_sig_fields(reader)
    assert value.get_object()["/M"] == NOW.strftime("D:%Y%m%d%H%M%SZ")


PREPARE = """
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from msign_soap.signing.pades import prepare_pades

d = Path(sys.argv[1])
draft, prepared = prepare_pades(
    (d / "in.pdf").read_bytes(), (d / "signer.der").read_bytes(), [(d / "ca.der").read_bytes()],
    signing_time=datetime.fromisoformat(sys.argv[2]), reason="cross-process",
)
(d / "draft.json").write_text(draft.to_json())
(d / "prepared.pdf").write_bytes(prepared)
(d / "dtbs.der").write_bytes(draft.data_to_be_signed)
"""

FINISH = """
import sys
from pathlib import Path
from typing import Any
from asn1crypto import keys, tsp, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from msign_soap.signing.pades import PadesDraft, finish_pades

d = Path(sys.argv[1])

class Tsa:
    def __init__(self):
        cert = x509.Certificate.load((d / "tsa.der").read_bytes())
        ca = x509.Certificate.load((d / "ca.der").read_bytes())
        self.stamper = DummyTimeStamper(cert, keys.PrivateKeyInfo.load((d / "tsa.key").read_bytes()), [cert, ca])
    def timestamp(self, message_imprint, hash_algorithm="sha256"):
        request = tsp.TimeStampReq({"version": 1, "cert_req": True, "message_imprint": {
            "hash_algorithm": {"algorithm": hash_algorithm}, "hashed_message": message_imprint}})
        return self.stamper.request_tsa_response(request)["time_stamp_token"].dump()

draft = PadesDraft.from_json((d / "draft.json").read_text())
key = serialization.load_der_private_key((d / "signer.key").read_bytes(), None)
value = key.sign((d / "dtbs.der").read_bytes(), padding.PKCS1v15(), hashes.SHA256())
(d / "out.pdf").write_bytes(finish_pades(draft, (d / "prepared.pdf").read_bytes(), value, Tsa()))
"""


def test_prepare_and_finish_in_separate_processes(pki: Pki, tmp_path: Path) -> None:
    def key_der(entity: Entity) -> bytes:
        return entity.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    (tmp_path / "in.pdf").write_bytes(make_pdf())
    (tmp_path / "signer.der").write_bytes(pki.signer1.der)
    (tmp_path / "signer.key").write_bytes(key_der(pki.signer1))
    (tmp_path / "ca.der").write_bytes(pki.ca.der)
    (tmp_path / "tsa.der").write_bytes(pki.tsa.der)
    (tmp_path / "tsa.key").write_bytes(key_der(pki.tsa))
    for script, args in ((PREPARE, [NOW.isoformat()]), (FINISH, [])):
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
    return prepare_pades(make_pdf(), pki.signer1.der, pki.chain, signing_time=NOW, reason=REASON)


def _rsa_sign(entity: Entity, data: bytes) -> bytes:
    assert isinstance(entity.key, rsa.RSAPrivateKey)
    return entity.key.sign(data, padding.PKCS1v15(), hashes.SHA256())


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
    pki: Pki, tsa: DummyTsa, prepared: tuple[PadesDraft, bytes], make_value: Callable[[Pki, bytes], bytes]
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
    tsa: DummyTsa,
    prepared: tuple[PadesDraft, bytes],
    spoil: Callable[[PadesDraft, bytes], tuple[PadesDraft, bytes]],
    message: str,
) -> None:
    draft, document = spoil(*prepared)
    with pytest.raises(SigningError, match=message):
        finish_pades(draft, document, _rsa_sign(pki.signer1, draft.data_to_be_signed), tsa)


class WrongImprintTsa(DummyTsa):
    def timestamp(self, message_imprint: bytes, hash_algorithm: str = "sha256") -> bytes:
        return super().timestamp(bytes(len(message_imprint)), hash_algorithm)


class GarbageTsa(DummyTsa):
    def timestamp(self, message_imprint: bytes, hash_algorithm: str = "sha256") -> bytes:
        return b"\x30\x03\x02\x01\x00"


@pytest.mark.parametrize(
    "tsa_class, message",
    [
        pytest.param(WrongImprintTsa, "does not cover", id="wrong-imprint"),
        pytest.param(GarbageTsa, "unreadable token", id="garbage-token"),
    ],
)
def test_bad_timestamp_refused(
    pki: Pki, prepared: tuple[PadesDraft, bytes], tsa_class: type[DummyTsa], message: str
) -> None:
    draft, document = prepared
    with pytest.raises(SigningError, match=message):
        finish_pades(draft, document, _rsa_sign(pki.signer1, draft.data_to_be_signed), tsa_class(pki))


def test_signature_too_large_for_placeholder(pki: Pki, tsa: DummyTsa) -> None:
    draft, document = prepare_pades(
        make_pdf(), pki.signer1.der, pki.chain, signing_time=NOW, reason=None, timestamp_reserve=0
    )
    with pytest.raises(SigningError, match="does not fit"):
        finish_pades(draft, document, _rsa_sign(pki.signer1, draft.data_to_be_signed), tsa)


def test_b_lt_needs_validation_context(pki: Pki, tsa: DummyTsa) -> None:
    with pytest.raises(SigningError, match="validation context"):
        sign(pki, tsa, make_pdf(), level="B-LT")


def test_b_lt_refuses_untrusted_signer(pki: Pki, tsa: DummyTsa) -> None:
    other_root = _issue(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Other Root")]), _rsa(), None, ca=True)
    vc = ValidationContext(trust_roots=[other_root.asn1], allow_fetching=False)
    with pytest.raises(SigningError, match="B-LT"):
        sign(pki, tsa, make_pdf(), level="B-LT", validation_context=vc)


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
    args: dict = {"pdf": signed_once, "certificate": pki.signer2.der, "chain": pki.chain}
    args.update(kwargs)
    with pytest.raises(error):
        prepare_pades(
            args.pop("pdf"), args.pop("certificate"), args.pop("chain"), signing_time=NOW, reason=None, **args
        )


def _encrypted_pdf() -> bytes:
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(make_pdf())))
    writer.encrypt("owner", "")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _certified_pdf(pki: Pki) -> bytes:
    key = asn1_keys.PrivateKeyInfo.load(
        pki.signer1.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    signer = signers.SimpleSigner(
        signing_cert=pki.signer1.asn1, signing_key=key, cert_registry=SimpleCertificateStore.from_certs([pki.ca.asn1])
    )
    meta = signers.PdfSignatureMetadata(
        field_name="Author",
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    return signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(make_pdf())), meta, signer=signer).getvalue()


@pytest.mark.parametrize(
    "make, message",
    [
        pytest.param(lambda pki: _encrypted_pdf(), "Encrypted", id="encrypted"),
        pytest.param(_certified_pdf, "forbids all changes", id="certified-no-changes"),
    ],
)
def test_prepare_refuses_protected_documents(pki: Pki, make: Callable[[Pki], bytes], message: str) -> None:
    with pytest.raises(InvalidDocument, match=message):
        prepare_pades(make(pki), pki.signer2.der, pki.chain, signing_time=NOW, reason=None)


@pytest.mark.slow
def test_large_document_costs_one_copy_per_step(pki: Pki, tsa: DummyTsa) -> None:
    size = 50 * 1024 * 1024
    pdf = make_pdf(filler=size)
    tracemalloc.start()
    try:
        draft, prepared = prepare_pades(pdf, pki.signer1.der, pki.chain, signing_time=NOW, reason=REASON)
        _current, prepare_peak = tracemalloc.get_traced_memory()
        del pdf
        tracemalloc.reset_peak()
        base, _peak = tracemalloc.get_traced_memory()
        signed = finish_pades(draft, prepared, _rsa_sign(pki.signer1, draft.data_to_be_signed), tsa)
        _current, finish_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert prepare_peak < 1.2 * size  # the prepared copy (the input is the caller's)
    assert finish_peak - base < 1.2 * size  # the signed copy
    assert len(signed) == len(prepared)
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
    pdf = {"unsigned": make_pdf(), "once": signed_once, "twice": signed_twice, "prepared": prepared[1]}[document]
    assert count_signatures(pdf) == expected


MALFORMED = [
    pytest.param(b"", id="empty"),
    pytest.param(b"hello world", id="text"),
    pytest.param(b"%PDF-1.7\n" + bytes(range(256)) * 4, id="binary"),
    pytest.param(make_pdf()[:-40], id="truncated-trailer"),
    pytest.param(make_pdf().replace(b"/Root 1 0 R", b"/Root 9 0 R"), id="dangling-root"),
    pytest.param(make_pdf().replace(b"xref\n0 6", b"xref\n0 9"), id="bad-xref-count"),
    pytest.param(zlib.compress(make_pdf()), id="compressed"),
]
ODD_FORMS = [
    pytest.param(make_pdf(catalog=b"/AcroForm 7"), id="acroform-not-dict"),
    pytest.param(make_pdf(catalog=b"/AcroForm << /Fields 5 >>"), id="fields-not-array"),
    pytest.param(make_pdf(catalog=b"/AcroForm << /Fields [99 0 R] >>"), id="dangling-field"),
    pytest.param(make_pdf(catalog=b"/AcroForm << /Fields [3 0 R] >>"), id="page-as-field"),
    pytest.param(make_pdf(catalog=b"/AcroForm << /Fields [<< /FT /Sig /V 5 >>] >>"), id="sig-value-not-dict"),
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
def test_prepare_refuses_malformed_or_signs(pki: Pki, tsa: DummyTsa, pdf: bytes) -> None:
    """A malformed document gives InvalidDocument or a valid signature, never a crash."""
    try:
        signed = sign(pki, tsa, pdf)
    except InvalidDocument:
        return
    [(_es, status)] = pyhanko_status(signed, pki)
    assert status.bottom_line
