"""The two-step signing flow: prepare, sign elsewhere, finish; signer refusals; races."""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from msign_soap.core import (
    ExpectedSigner,
    SignContentInput,
    SigningService,
    SignRequestInput,
    SignStatus,
    content_uri,
    sign_item,
)
from msign_soap.errors import (
    InvalidDocument,
    NotAvailable,
    RequestClosed,
    SignatureMismatch,
    SignerRejected,
    SigningError,
    TimestampError,
)
from msign_soap.i18n import messages, translate

from .conftest import FrozenClock, issue_certificate, make_service, minimal_pdf

ION, MARIA, VASILE, ELENA, ANDREI = "2004001234567", "2001002345678", "2002003456787", "2003004567896", "2005005678902"
VASILE_IDNO = "1003600150048"
DOCUMENT = "Contract de prestări servicii nr. 17\n".encode()
SIGNED_PROPERTIES = "http://uri.etsi.org/01903/v1.3.2#:SignedProperties"

needs_xmlsec1 = pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="xmlsec1 is not installed")


def idn(first12: str) -> str:
    """A well-formed IDNP/IDNO: twelve digits and their 7-3-1 check digit."""
    return first12 + str(sum(int(d) * (7, 3, 1)[i % 3] for i, d in enumerate(first12)) % 10)


OTHER_IDNO = idn("100360015099")


def post(service: Any, content_type: str = "Hash", contents: list[SignContentInput] | None = None, **kw: Any) -> str:
    if contents is None:
        contents = [SignContentInput(hashlib.sha1(DOCUMENT).digest(), "3408cc344e474a529f3425176a75d08e")]
    signer = kw.pop("signer", ExpectedSigner(ION) if content_type == "Hash" else None)
    request = SignRequestInput(content_type, contents, "Contract no. 17", expected_signer=signer, **kw)
    return service.requests.post(service.requests.demo_consumer(), request)


def person(service: Any, idnp: str) -> Any:
    return service.pki.people[idnp]


def sign(service: Any, request_id: str, idnp: str = ION, **kw: Any) -> None:
    who = person(service, idnp)
    service.signing.sign_with_key(request_id, who.certificate_der, kw.get("chain", who.chain_der), who.private_key)


def status(service: Any, request_id: str, language: str = "en") -> Any:
    return service.requests.get(service.requests.demo_consumer(), request_id, language)


def draft_count(service: Any, request_id: str) -> int:
    m = service.store.models
    with service.store.db.connection_context():
        return m.SignDraft.select().where(m.SignDraft.request == request_id).count()


def pem_file(path: Path, certificate: x509.Certificate) -> Path:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def xmlsec1_verify(xml: bytes, tmp_path: Path, trusted: Path, document: bytes, uri: str) -> subprocess.CompletedProcess:
    (tmp_path / "document.bin").write_bytes(document)
    (tmp_path / "signature.xml").write_bytes(xml)
    command = [
        "xmlsec1", "--verify",
        "--trusted-pem", str(trusted),
        f"--url-map:{uri}", str(tmp_path / "document.bin"),
        "--id-attr:Id", SIGNED_PROPERTIES,
        "--enabled-reference-uris", "same-doc,remote",
        str(tmp_path / "signature.xml"),
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def pyhanko_status(pdf: bytes, service: Any) -> Any:
    root = asn1_x509.Certificate.load(service.pki.root.certificate_der)
    [embedded] = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
    return validate_pdf_signature(embedded, ValidationContext(trust_roots=[root], allow_fetching=False))


# -- happy paths ---------------------------------------------------------------


@needs_xmlsec1
@pytest.mark.postgresql
def test_hash_request_signed_end_to_end(service, client, tmp_path):
    request_id = client.PostSignRequest(
        request={
            "ContentType": "Hash",
            "Contents": {"SignContent": [{"Content": hashlib.sha1(DOCUMENT).digest(), "CorrelationID": "c-17"}]},
            "ShortContentDescription": "Contract no. 17",
            "ExpectedSigner": {"ID": ION},
        }
    )
    ion = person(service, ION)
    [item] = service.signing.prepare(request_id, ion.certificate_der, ion.chain_der)
    assert (item.position, item.correlation_id, item.signature_algorithm) == (0, "c-17", "sha256_rsa")
    assert item.digest == hashlib.sha256(item.data_to_be_signed).digest()
    assert client.GetSignResponse(requestID=request_id).Status == "Pending"

    service.signing.finish(request_id, [sign_item(ion.private_key, item)])

    response = client.GetSignResponse(requestID=request_id, language="en")
    assert response.Status == "Success"
    [result] = response.Results.SignResult
    assert result.CorrelationID == "c-17" and result.Certificate == ion.certificate_der
    root = pem_file(tmp_path / "root.pem", service.pki.root.certificate)
    verified = xmlsec1_verify(result.Signature, tmp_path, root, DOCUMENT, "urn:msign:content:c-17")
    assert verified.returncode == 0, verified.stderr
    assert "SignedInfo References (ok/all): 2/2" in verified.stderr
    assert b"SignatureTimeStamp" in result.Signature
    assert xmlsec1_verify(result.Signature, tmp_path, root, b"another document", "urn:msign:content:c-17").returncode


@pytest.mark.postgresql
def test_pdf_request_signed_end_to_end(service, client):
    request_id = client.PostSignRequest(
        request={
            "ContentType": "Pdf",
            "Contents": {"SignContent": [{"Content": minimal_pdf("Contract"), "CorrelationID": "p", "Name": "c.pdf"}]},
            "ShortContentDescription": "Contract",
            "SignatureReason": "Agreed",
        }
    )
    sign(service, request_id, MARIA)
    response = client.GetSignResponse(requestID=request_id, language="en")
    assert response.Status == "Success"
    [result] = response.Results.SignResult
    assert result.Certificate == person(service, MARIA).certificate_der
    validity = pyhanko_status(result.Signature, service)
    assert validity.intact and validity.valid and validity.trusted and validity.bottom_line
    assert validity.coverage == SignatureCoverageLevel.ENTIRE_FILE
    assert validity.timestamp_validity is not None and validity.timestamp_validity.trusted
    assert result.Signature.startswith(minimal_pdf("Contract"))  # an incremental update


@needs_xmlsec1
@pytest.mark.postgresql
def test_hash_batch(service, tmp_path):
    documents = [b"first", b"second", b"third"]
    contents = [
        SignContentInput(hashlib.sha1(documents[0]).digest(), "a"),
        SignContentInput(hashlib.sha256(documents[1]).digest(), "b"),
        SignContentInput(hashlib.sha1(documents[2]).digest()),  # no CorrelationID: the index names it
    ]
    request_id = post(service, contents=contents)
    sign(service, request_id)
    response = status(service, request_id)
    assert response.status is SignStatus.SUCCESS
    assert [r.correlation_id for r in response.results] == ["a", "b", None]
    root = pem_file(tmp_path / "root.pem", service.pki.root.certificate)
    for document, uri, result in zip(documents, ["a", "b", "2"], response.results, strict=True):
        verified = xmlsec1_verify(result.signature, tmp_path, root, document, f"urn:msign:content:{uri}")
        assert verified.returncode == 0, verified.stderr


@pytest.mark.postgresql
def test_pdf_batch(service):
    request_id = post(service, "Pdf", [SignContentInput(minimal_pdf(f"Page {i}"), f"p{i}") for i in range(3)])
    who = person(service, ANDREI)
    items = service.signing.prepare(request_id, who.certificate_der, who.chain_der)
    assert [i.position for i in items] == [0, 1, 2]
    service.signing.finish(request_id, [sign_item(who.private_key, i) for i in items])
    for i, result in enumerate(status(service, request_id).results):
        assert result.signature.startswith(minimal_pdf(f"Page {i}"))
        assert pyhanko_status(result.signature, service).bottom_line


@pytest.mark.postgresql
def test_pdf_without_expected_signer_records_the_signer(service):
    request_id = post(service, "Pdf", [SignContentInput(minimal_pdf())])
    sign(service, request_id, VASILE)
    assert status(service, request_id).status is SignStatus.SUCCESS
    m = service.store.models
    with service.store.db.connection_context():
        preparation = m.SignPreparation.get(m.SignPreparation.request == request_id)
    assert (preparation.signer_idnp, preparation.signer_idno) == (VASILE, VASILE_IDNO)


def issue_ec_signer(service: Any) -> tuple[bytes, Any]:
    """An EC P-256 certificate for Ion from the demo issuing CA, its IDNP written ETSI-style."""
    key = ec.generate_private_key(ec.SECP256R1())
    identity = issue_certificate("Ion Popescu (EC)", key, service.pki.issuing_ca, idnp="PNOMD-" + ION)
    return identity.certificate_der, key


def _raw_ecdsa(value: bytes) -> bytes:
    r, s = decode_dss_signature(value)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@pytest.mark.parametrize(
    "encode",
    [pytest.param(lambda v: v, id="der-value"), pytest.param(_raw_ecdsa, id="raw-r-s-value")],
)
def test_ecdsa_signer(service, tmp_path, encode):
    certificate, key = issue_ec_signer(service)
    contents = [SignContentInput(hashlib.sha1(DOCUMENT).digest(), "h")]
    request_id = post(service, contents=contents)
    items = service.signing.prepare(request_id, certificate, ())
    assert items[0].signature_algorithm == "sha256_ecdsa"
    service.signing.finish(request_id, [encode(sign_item(key, i)) for i in items])
    [result] = status(service, request_id).results
    assert result.certificate == certificate
    if shutil.which("xmlsec1"):
        root = pem_file(tmp_path / "root.pem", service.pki.root.certificate)
        verified = xmlsec1_verify(result.signature, tmp_path, root, DOCUMENT, "urn:msign:content:h")
        assert verified.returncode == 0, verified.stderr

    pdf_request = post(service, "Pdf", [SignContentInput(minimal_pdf())], signer=ExpectedSigner(ION))
    items = service.signing.prepare(pdf_request, certificate, ())
    service.signing.finish(pdf_request, [encode(sign_item(key, i)) for i in items])
    assert pyhanko_status(status(service, pdf_request).results[0].signature, service).bottom_line


@pytest.mark.parametrize("padding", [0, 3 * 1024 * 1024], ids=["small", "over-a-blob-chunk"])
@pytest.mark.postgresql
def test_pdf_draft_keeps_only_the_update_and_the_result_its_own_row(service, padding):
    document = minimal_pdf(padding=padding)
    request_id = post(service, "Pdf", [SignContentInput(document, "p")], signer=ExpectedSigner(ION))
    sign(service, request_id)
    m = service.store.models
    with service.store.db.connection_context():
        [stored] = m.SignDraft.select().where(m.SignDraft.request == request_id)
        [content] = m.SignContent.select().where(m.SignContent.request == request_id)
        [result] = m.SignResult.select().where(m.SignResult.request == request_id)
    assert len(stored.prepared) < 64 * 1024  # the incremental update, not a copy of the document
    assert bytes(content.content) == document  # the content's row is not rewritten with the result
    signed = status(service, request_id).results[0].signature
    assert signed == bytes(result.signature) and signed.startswith(document)
    assert pyhanko_status(signed, service).bottom_line


def test_prepared_pdf_not_beginning_with_the_document_is_refused(service, monkeypatch):
    import msign_soap.core.signing as flow

    real = flow.prepare_pades

    def rewriting(pdf: Any, *args: Any, **kwargs: Any) -> Any:
        draft, prepared = real(pdf, *args, **kwargs)
        prepared[0:1] = b"X"
        return draft, prepared

    monkeypatch.setattr(flow, "prepare_pades", rewriting)
    request_id = post(service, "Pdf", [SignContentInput(minimal_pdf())], signer=ExpectedSigner(ION))
    with pytest.raises(SigningError, match="does not begin with the original document"):
        sign(service, request_id)
    assert draft_count(service, request_id) == 0


@pytest.mark.postgresql
def test_finish_refuses_a_pdf_whose_document_was_deleted_meanwhile(service):
    request_id = post(service, "Pdf", [SignContentInput(minimal_pdf())], signer=ExpectedSigner(ION))
    ion = person(service, ION)
    items = service.signing.prepare(request_id, ion.certificate_der, ion.chain_der)
    m = service.store.models
    with service.store.db.connection_context():
        m.SignContent.update(content=None).where(m.SignContent.request == request_id).execute()
    with pytest.raises(SigningError, match="has been deleted"):
        service.signing.finish(request_id, [sign_item(ion.private_key, i) for i in items])
    assert status(service, request_id).status is SignStatus.PENDING


def test_chain_is_taken_from_the_trust_store_when_not_offered(service):
    request_id = post(service)
    sign(service, request_id, chain=())
    assert status(service, request_id).status is SignStatus.SUCCESS


@pytest.mark.postgresql
def test_preparing_again_replaces_the_drafts(service):
    request_id = post(service, "Pdf", [SignContentInput(minimal_pdf())])
    ion, andrei = person(service, ION), person(service, ANDREI)
    service.signing.prepare(request_id, ion.certificate_der, ion.chain_der)
    items = service.signing.prepare(request_id, andrei.certificate_der, andrei.chain_der)
    assert draft_count(service, request_id) == 1
    service.signing.finish(request_id, [sign_item(andrei.private_key, i) for i in items])
    assert status(service, request_id).results[0].certificate == andrei.certificate_der


@pytest.mark.postgresql
def test_concurrent_prepares_leave_one_preparation(service):
    """A double submit reaching two workers at once: each preparation replaces the last, none fails."""
    request_id = post(service, "Pdf", [SignContentInput(minimal_pdf("One")), SignContentInput(minimal_pdf("Two"))])
    ion = person(service, ION)
    barrier = threading.Barrier(4)
    prepared: list[Any] = []
    errors: list[BaseException] = []

    def prepare() -> None:
        barrier.wait()
        try:
            prepared.append(service.signing.prepare(request_id, ion.certificate_der, ion.chain_der))
        except BaseException as e:  # noqa: BLE001 -- reported below
            errors.append(e)

    threads = [threading.Thread(target=prepare) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(prepared) == 4
    assert draft_count(service, request_id) == 2
    items = service.signing.prepare(request_id, ion.certificate_der, ion.chain_der)
    service.signing.finish(request_id, [sign_item(ion.private_key, i) for i in items])
    assert status(service, request_id).status is SignStatus.SUCCESS


def test_organization_signer(service):
    signer = ExpectedSigner(VASILE, "Organization", VASILE_IDNO)
    request_id = post(service, signer=signer)
    sign(service, request_id, VASILE)
    assert status(service, request_id).status is SignStatus.SUCCESS


@pytest.mark.postgresql
def test_delegation_present(service):
    service.signing.delegations.add(ION, MARIA)
    request_id = post(service, signer=ExpectedSigner(MARIA, "Person", ION))
    sign(service, request_id, MARIA)
    assert status(service, request_id).status is SignStatus.SUCCESS


# -- the signer refused --------------------------------------------------------

LATE = datetime(2037, 1, 1, 12, 0)  # past every demo person's notAfter (generation + 10 years)
EARLY = datetime(2025, 12, 31, 12, 0)  # before the demo PKI's notBefore (2026-01-01)

REFUSALS = [
    pytest.param(ExpectedSigner(ION), MARIA, None, messages.SIGNER_MISMATCH, id="expected-signer-differs"),
    pytest.param(
        ExpectedSigner(VASILE, "Organization", OTHER_IDNO), VASILE, None, messages.ORGANIZATION_MISMATCH,
        id="organization-differs",
    ),
    pytest.param(
        ExpectedSigner(ION, "Organization", VASILE_IDNO), ION, None, messages.ORGANIZATION_MISMATCH,
        id="no-organization-in-certificate",
    ),
    pytest.param(ExpectedSigner(MARIA, "Person", ION), MARIA, None, messages.NO_DELEGATION, id="no-delegation"),
    pytest.param(
        ExpectedSigner(ANDREI, "Person", ION), ANDREI, None, messages.NO_DELEGATION, id="delegation-to-another-person"
    ),
    pytest.param(ExpectedSigner(ELENA), ELENA, None, messages.CERTIFICATE_REVOKED, id="revoked"),
    pytest.param(ExpectedSigner(ION), ION, LATE, messages.CERTIFICATE_EXPIRED, id="expired"),
    pytest.param(ExpectedSigner(ION), ION, EARLY, messages.CERTIFICATE_NOT_YET_VALID, id="not-yet-valid"),
]  # fmt: skip
TRANSLATIONS = {
    messages.SIGNER_MISMATCH: ("Certificatul aparține altei persoane", "Сертификат принадлежит не тому лицу"),
    messages.ORGANIZATION_MISMATCH: ("Certificatul nu este emis pentru organizația", "Сертификат выдан не для"),
    messages.NO_DELEGATION: ("Semnatarul nu are împuternicire", "У подписанта нет полномочий"),
    messages.CERTIFICATE_REVOKED: ("a fost revocat", "отозван"),
    messages.CERTIFICATE_EXPIRED: ("a expirat", "истёк"),
    messages.CERTIFICATE_NOT_YET_VALID: ("nu este încă valabil", "ещё не вступил в силу"),
    messages.CERTIFICATE_UNTRUSTED: ("autoritate de încredere", "доверенным центром"),
    messages.SIGNATURE_MISMATCH: ("Semnătura nu corespunde", "Подпись не соответствует"),
}


def assert_failed_with(client: Any, request_id: str, message_id: str) -> None:
    """Failure with the reason in ro, ru and en, and nothing signed."""
    ro, ru = TRANSLATIONS[message_id]
    for language, expected in (("ro", ro), ("ru", ru), ("en", message_id)):
        response = client.GetSignResponse(requestID=request_id, language=language)
        assert response.Status == "Failure"
        assert expected in response.Message
        # (zeep reads a SignResult with every member empty as None)
        assert all(r is None or r.Signature is r.Certificate is None for r in response.Results.SignResult)


@pytest.mark.parametrize(("signer", "idnp", "when", "message_id"), REFUSALS)
def test_signer_refused(service, client, clock, signer, idnp, when, message_id):
    clock.now = when or clock.now
    request_id = post(service, signer=signer)
    with pytest.raises(SignerRejected) as refused:
        sign(service, request_id, idnp)
    assert refused.value.message_id == message_id
    assert draft_count(service, request_id) == 0
    assert_failed_with(client, request_id, message_id)


def _certificate(subject: x509.Name, issuer: x509.Name, key: Any, signing_key: Any, *, ca: bool = False) -> Any:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(signing_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def forged(service: Any, *, same_issuer_name: bool) -> tuple[bytes, tuple[bytes, ...], Any]:
    """A certificate naming Ion but not issued by the demo CA: signed by a
    stranger key under the demo issuing CA's name, or by a CA of its own."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = person(service, ION).certificate.subject
    if same_issuer_name:
        issuer_name = service.pki.issuing_ca.certificate.subject
        return _certificate(subject, issuer_name, key, key), person(service, ION).chain_der, key
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Not the demo CA")])
    ca = _certificate(ca_name, ca_name, ca_key, ca_key, ca=True)
    return _certificate(subject, ca_name, key, ca_key), (ca,), key


@pytest.mark.parametrize(
    "same_issuer_name",
    [pytest.param(True, id="forged-under-the-demo-ca-name"), pytest.param(False, id="another-ca")],
)
def test_untrusted_certificate_refused(service, client, same_issuer_name):
    certificate, chain, key = forged(service, same_issuer_name=same_issuer_name)
    request_id = post(service)
    with pytest.raises(SignerRejected) as refused:
        service.signing.sign_with_key(request_id, certificate, chain, key)
    assert refused.value.message_id == messages.CERTIFICATE_UNTRUSTED
    assert_failed_with(client, request_id, messages.CERTIFICATE_UNTRUSTED)


def test_garbage_certificate_refused(service):
    request_id = post(service)
    with pytest.raises(SignerRejected, match="trusted"):
        service.signing.prepare(request_id, b"not a certificate", ())
    assert status(service, request_id).status is SignStatus.FAILURE


# -- signature values ----------------------------------------------------------


def _swap(values: list[bytes], other: list[bytes]) -> list[bytes]:
    return [values[1], values[0]]


def _other_key(values: list[bytes], other: list[bytes]) -> list[bytes]:
    return [values[0], other[1]]


def _garbage(values: list[bytes], other: list[bytes]) -> list[bytes]:
    return [values[0], b"\x00" * 256]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(_swap, id="values-swapped"),
        pytest.param(_other_key, id="signed-with-another-key"),
        pytest.param(_garbage, id="garbage"),
    ],
)
def test_wrong_signature_value_fails_the_request(service, client, tamper):
    """Documented choice: a value that does not verify ends the request as Failure."""
    request_id = post(service, "Pdf", [SignContentInput(minimal_pdf("a"), "a"), SignContentInput(minimal_pdf("b"))])
    ion, maria = person(service, ION), person(service, MARIA)
    items = service.signing.prepare(request_id, ion.certificate_der, ion.chain_der)
    good = [sign_item(ion.private_key, i) for i in items]
    other = [sign_item(maria.private_key, i) for i in items]
    with pytest.raises(SignatureMismatch):
        service.signing.finish(request_id, tamper(good, other))
    assert_failed_with(client, request_id, messages.SIGNATURE_MISMATCH)
    with pytest.raises(RequestClosed, match="Failure"):
        service.signing.finish(request_id, good)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        pytest.param(lambda good: good[:1], "Expected 2 signature values, got 1", id="too-few"),
        pytest.param(lambda good: good * 2, "Expected 2 signature values, got 4", id="too-many"),
    ],
)
def test_wrong_number_of_values_leaves_pending(service, values, match):
    request_id = post(service, contents=[SignContentInput(hashlib.sha1(b"%d" % i).digest()) for i in range(2)])
    ion = person(service, ION)
    items = service.signing.prepare(request_id, ion.certificate_der, ion.chain_der)
    with pytest.raises(SigningError, match=match):
        service.signing.finish(request_id, values([sign_item(ion.private_key, i) for i in items]))
    assert status(service, request_id).status is SignStatus.PENDING


def test_finish_before_prepare_leaves_pending(service):
    request_id = post(service)
    with pytest.raises(SigningError, match="not been prepared"):
        service.signing.finish(request_id, [b"x"])
    assert status(service, request_id).status is SignStatus.PENDING


def test_key_not_matching_the_certificate_leaves_pending(service):
    request_id = post(service)
    ion, maria = person(service, ION), person(service, MARIA)
    with pytest.raises(SigningError, match="does not belong"):
        service.signing.sign_with_key(request_id, ion.certificate_der, ion.chain_der, maria.private_key)
    assert status(service, request_id).status is SignStatus.PENDING


class FlakyTsa:
    """Answers ``good`` calls, then fails: a TSA going down half-way through a batch."""

    def __init__(self, inner: Any, good: int) -> None:
        self.inner, self.good = inner, good

    def timestamp(self, message_imprint: bytes, hash_algorithm: str = "sha256") -> bytes:
        if self.good <= 0:
            raise TimestampError("the time-stamping authority is unreachable")
        self.good -= 1
        return self.inner.timestamp(message_imprint, hash_algorithm)


@pytest.mark.postgresql
def test_failure_half_way_writes_nothing(service):
    request_id = post(service, contents=[SignContentInput(hashlib.sha1(b"%d" % i).digest(), f"c{i}") for i in range(3)])
    ion = person(service, ION)
    items = service.signing.prepare(request_id, ion.certificate_der, ion.chain_der)
    values = [sign_item(ion.private_key, i) for i in items]
    working = service.signing.timestamper
    service.signing.timestamper = FlakyTsa(working, good=2)
    with pytest.raises(TimestampError):
        service.signing.finish(request_id, values)
    assert status(service, request_id).status is SignStatus.PENDING
    m = service.store.models
    with service.store.db.connection_context():
        assert not m.SignResult.select().exists()
    service.signing.timestamper = working  # the user tries again
    service.signing.finish(request_id, values)
    assert status(service, request_id).status is SignStatus.SUCCESS


def test_unsignable_pdf_fails_the_request(service, monkeypatch):
    import msign_soap.core.signing as flow

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise InvalidDocument("The PDF cannot take a signature: certified, no changes allowed")

    monkeypatch.setattr(flow, "prepare_pades", refuse)
    request_id = post(service, "Pdf", [SignContentInput(minimal_pdf())])
    with pytest.raises(InvalidDocument):
        sign(service, request_id)
    response = status(service, request_id)
    assert (response.status, response.message) == (SignStatus.FAILURE, translate(messages.FAILED, "en"))


def test_not_configured(service):
    unconfigured = SigningService(service.requests, None, None)
    request_id = post(service)
    ion = person(service, ION)
    with pytest.raises(NotAvailable):
        unconfigured.prepare(request_id, ion.certificate_der, ion.chain_der)
    assert status(service, request_id).status is SignStatus.PENDING


# -- closed requests, expiry and races -----------------------------------------


@pytest.mark.postgresql
def test_finish_after_expiry_stays_expired(service, client, clock):
    request_id = post(service)
    ion = person(service, ION)
    items = service.signing.prepare(request_id, ion.certificate_der, ion.chain_der)
    clock.advance(seconds=service.config.request_lifetime)
    with pytest.raises(RequestClosed) as closed:
        service.signing.finish(request_id, [sign_item(ion.private_key, i) for i in items])
    assert closed.value.status == "Expired"
    response = client.GetSignResponse(requestID=request_id, language="en")
    assert (response.Status, response.Message) == ("Expired", "The signing request has expired")
    assert all(r.Signature is None for r in response.Results.SignResult)


@pytest.mark.postgresql
def test_prepare_after_expiry_or_end(service, clock):
    ion = person(service, ION)
    done = post(service)
    sign(service, done)
    with pytest.raises(RequestClosed, match="Success"):
        service.signing.prepare(done, ion.certificate_der, ion.chain_der)
    late = post(service)
    clock.advance(seconds=service.config.request_lifetime + 1)
    service.requests.run_maintenance()
    with pytest.raises(RequestClosed, match="Expired"):
        service.signing.prepare(late, ion.certificate_der, ion.chain_der)


@pytest.mark.postgresql
def test_concurrent_finish_from_threads(tmp_path, database_url):
    svc = make_service(tmp_path, FrozenClock(), database_url=database_url)
    try:
        request_id = post(svc, contents=[SignContentInput(hashlib.sha1(b"%d" % i).digest()) for i in range(2)])
        ion = person(svc, ION)
        values = [sign_item(ion.private_key, i) for i in svc.signing.prepare(request_id, ion.certificate_der, ())]
        barrier = threading.Barrier(6)
        outcomes: list[str] = []

        def finish() -> None:
            barrier.wait()
            try:
                svc.signing.finish(request_id, values)
                outcomes.append("done")
            except RequestClosed as e:
                outcomes.append(e.status)

        threads = [threading.Thread(target=finish) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == ["Success"] * 5 + ["done"]
        assert all(r.signature for r in status(svc, request_id).results)
    finally:
        svc.close()


def race_finish_against_expiry(svc: Any, other: Any) -> tuple[bool, int, SignStatus]:
    """Finish a request in ``svc`` while ``other`` runs maintenance; return
    (finish succeeded, requests expired, final state)."""
    request_id = post(svc)
    ion = person(svc, ION)
    values = [sign_item(ion.private_key, i) for i in svc.signing.prepare(request_id, ion.certificate_der, ())]
    barrier = threading.Barrier(2)
    finished: list[bool] = []
    expired: list[int] = []

    def finish() -> None:
        barrier.wait()
        try:
            svc.signing.finish(request_id, values)
            finished.append(True)
        except RequestClosed:
            finished.append(False)

    def expire() -> None:
        barrier.wait()
        expired.append(other.requests.run_maintenance().expired)

    threads = [threading.Thread(target=finish), threading.Thread(target=expire)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return finished[0], expired[0], status(svc, request_id).status


@pytest.mark.postgresql
def test_finish_racing_expiry(tmp_path, database_url):
    """One worker finishes just before the deadline, another expires requests just after it."""
    clock = FrozenClock()
    svc = make_service(tmp_path, clock, database_url=database_url)
    late_clock = FrozenClock(clock.now + timedelta(seconds=svc.config.request_lifetime + 1))
    other = make_service(tmp_path, late_clock, database_url=database_url)  # the same database
    try:
        for _ in range(5):
            finished, expired, final = race_finish_against_expiry(svc, other)
            assert final is (SignStatus.SUCCESS if finished else SignStatus.EXPIRED)
            assert expired == (0 if finished else 1)
    finally:
        other.close()
        svc.close()


FINISH_SCRIPT = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    from pathlib import Path

    from msign_soap.app import create_app
    from msign_soap.config import load_config
    from msign_soap.errors import RequestClosed

    data_dir, database_url, request_id, now, values_file = sys.argv[1:6]
    moment = datetime.fromisoformat(now)
    config = load_config(environ={}, data_dir=Path(data_dir), database_url=database_url)
    service = create_app(config, lambda: moment)
    values = [bytes.fromhex(line) for line in Path(values_file).read_text().split()]
    print("ready", flush=True)
    sys.stdin.readline()  # wait for the go
    try:
        service.signing.finish(request_id, values)
        print("done", flush=True)
    except RequestClosed as e:
        print(e.status, flush=True)
    finally:
        service.close()
    """
)


def start_finisher(tmp_path: Path, service: Any, request_id: str, values: list[bytes]) -> subprocess.Popen:
    (tmp_path / "values.txt").write_text("\n".join(v.hex() for v in values))
    (tmp_path / "finish.py").write_text(FINISH_SCRIPT)
    args = [
        str(service.config.data_dir),
        service.config.database,
        request_id,
        service.requests.clock().isoformat(),
        str(tmp_path / "values.txt"),
    ]
    process = subprocess.Popen(
        [sys.executable, str(tmp_path / "finish.py"), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready", process.stderr and process.stderr.read()
    return process


def go(process: subprocess.Popen) -> str:
    output, errors = process.communicate("go\n", timeout=60)
    assert process.returncode == 0, errors
    return output.strip()


@pytest.mark.postgresql
def test_prepare_here_finish_in_another_process(service, client, tmp_path):
    request_id = post(service, "Pdf", [SignContentInput(minimal_pdf(), "p")], signer=ExpectedSigner(ION))
    ion = person(service, ION)
    items = service.signing.prepare(request_id, ion.certificate_der, ion.chain_der)
    process = start_finisher(tmp_path, service, request_id, [sign_item(ion.private_key, i) for i in items])
    assert go(process) == "done"
    response = client.GetSignResponse(requestID=request_id)
    assert response.Status == "Success"
    assert pyhanko_status(response.Results.SignResult[0].Signature, service).bottom_line


@pytest.mark.postgresql
def test_two_processes_finish_one_request(service, tmp_path):
    request_id = post(service)
    ion = person(service, ION)
    items = service.signing.prepare(request_id, ion.certificate_der, ion.chain_der)
    values = [sign_item(ion.private_key, i) for i in items]
    process = start_finisher(tmp_path, service, request_id, values)
    assert process.stdin is not None
    process.stdin.write("go\n")
    process.stdin.flush()
    try:
        service.signing.finish(request_id, values)
        here = "done"
    except RequestClosed as e:
        here = e.status
    there = go(process)
    assert sorted([here, there]) == ["Success", "done"]
    assert status(service, request_id).status is SignStatus.SUCCESS


# -- storage -------------------------------------------------------------------


@pytest.mark.postgresql
def test_drafts_are_deleted_with_the_documents(service, clock):
    request_id = post(service, "Pdf", [SignContentInput(minimal_pdf())])
    ion = person(service, ION)
    service.signing.prepare(request_id, ion.certificate_der, ion.chain_der)
    assert draft_count(service, request_id) == 1
    clock.advance(seconds=service.config.request_lifetime + service.config.document_retention + 1)
    service.requests.run_maintenance()
    assert draft_count(service, request_id) == 0
    clock.advance(seconds=service.config.result_retention)
    service.requests.run_maintenance()
    m = service.store.models
    with service.store.db.connection_context():
        assert not m.SignPreparation.select().exists()


@pytest.mark.parametrize(
    ("correlation_id", "uri"),
    [
        pytest.param(
            "3408cc344e474a529f3425176a75d08e", "urn:msign:content:3408cc344e474a529f3425176a75d08e", id="hex"
        ),
        pytest.param(None, "urn:msign:content:4", id="no-correlation-id"),
        pytest.param("", "urn:msign:content:4", id="empty-correlation-id"),
        pytest.param("a b%c", "urn:msign:content:a%20b%25c", id="space-and-percent"),
        pytest.param("ș", "urn:msign:content:%C8%99", id="non-ascii"),
    ],
)
def test_content_uri(correlation_id, uri):
    assert content_uri(correlation_id, 4) == uri
