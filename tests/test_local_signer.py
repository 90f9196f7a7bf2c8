"""The local signer (``moldsign``, ``nationalid``): the daemon's protocol over
real loopback HTTP, and the service's checks of what the browser posts back.

Every refused result is derived from a valid twin: the same request signed
the right way is accepted.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from werkzeug.test import Client

from msign_soap.core import ExpectedSigner, SignContentInput, SignRequestInput, SignStatus
from msign_soap.errors import ConfigurationError, RequestClosed, RequestNotFound, ResultRejected, SignerRejected
from msign_soap.i18n import messages, pages, translate
from msign_soap.local_signer import LocalSignerApp, SignerKey, load_pkcs12
from msign_soap.local_signer.signer import FORMAT_PADES, FORMAT_XADES, SignData, sign
from msign_soap.pki import CRL_PATHS, Identity
from msign_soap.verification.pades import verify_pdf
from msign_soap.verification.xades import verify_xades

from .conftest import issue_certificate, minimal_pdf
from .pki_support import serve

ION, MARIA, ELENA = "2004001234567", "2001002345678", "2003004567896"
PAGE = "http://127.0.0.1:8080"
MODEL_KEYS = {
    "certificateId",
    "label",
    "providerId",
    "policy",
    "certificateName",
    "subjectDN",
    "issuerDN",
    "authority",
    "trusted",
    "verified",
    "privateKeyPresent",
    "certificateBase64",
}


def signer_key(identity: Identity) -> SignerKey:
    key = identity.private_key
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    return SignerKey(identity.certificate, key, identity.chain)


@dataclass
class Daemon:
    url: str
    key: SignerKey
    app: LocalSignerApp | None = None

    def model(self) -> dict[str, Any]:
        return self.key.model()

    def sign_data(self, **changes: Any) -> dict[str, Any]:
        body = {
            "algorithm": "SHA-1",
            "certificate": self.model(),
            "signatureType": "Embedded",
            "signFormat": "XAdES-T",
            "contentType": "Text",
            "data": base64.b64encode(hashlib.sha1(b"document").digest()).decode(),
        }
        body.update(changes)
        return {k: v for k, v in body.items() if v is not None}


@pytest.fixture
def daemon(service: Any) -> Iterator[Daemon]:
    """``msign-soap local-signer``'s application with Ion Popescu's key, on a loopback port."""
    key = signer_key(service.pki.people[ION])
    app = LocalSignerApp(key, service.timestamper, [PAGE])
    with serve(app) as (url, _):
        yield Daemon(url, key, app)


# -- the protocol (contract §3.3) --------------------------------------------------------


def test_certificates_lists_the_key_for_the_page(daemon, service):
    answer = requests.get(daemon.url + "/certificates?private_only=true", headers={"Origin": PAGE}, timeout=30)
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == PAGE
    assert "Origin" in answer.headers["Vary"]
    [model] = answer.json()["certificateModel"]
    assert set(model) == MODEL_KEYS
    ion = service.pki.people[ION]
    assert base64.b64decode(model["certificateBase64"]) == ion.certificate_der
    assert model["certificateId"] == hashlib.sha1(ion.certificate_der).hexdigest().upper()
    assert model["privateKeyPresent"] is True and model["label"] == "Ion Popescu"
    assert "2004001234567" in model["subjectDN"]


def fetch_result(daemon: Daemon, body: dict[str, Any], kind: str) -> bytes:
    created = requests.post(daemon.url + "/sign/data", json=body, headers={"Origin": PAGE}, timeout=60)
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert re.fullmatch(re.escape(daemon.url) + r"/sign/data/PKCS11/[0-9a-f]{32}/" + kind, location)
    assert "Location" in created.headers["Access-Control-Expose-Headers"]
    result = requests.get(location, headers={"Origin": PAGE}, timeout=30)
    assert result.status_code == 200 and result.headers["Access-Control-Allow-Origin"] == PAGE
    return base64.b64decode(result.json()["base64File"])


def test_sign_text_is_xades_t_over_the_digest(daemon, service):
    digest = hashlib.sha1(b"contract").digest()
    body = daemon.sign_data(data=base64.b64encode(digest).decode(), reference="urn:msign:content:c7")
    document = fetch_result(daemon, body, "XAdES")
    assert b'URI="urn:msign:content:c7"' in document
    report = verify_xades(document, digest, service.signing.checker)
    assert report.valid, report
    assert report.signatures[0].signed_at is not None  # XAdES-T


def test_sign_a_sha256_digest(daemon, service):
    digest = hashlib.sha256(b"contract").digest()
    body = daemon.sign_data(algorithm="SHA-256", data=base64.b64encode(digest).decode())
    assert verify_xades(fetch_result(daemon, body, "XAdES"), digest, service.signing.checker).valid


def test_sign_pdf_is_pades_t_as_an_incremental_update(daemon, service):
    pdf = minimal_pdf("Act")
    body = daemon.sign_data(signFormat="PAdES-T", contentType="Pdf", data=base64.b64encode(pdf).decode())
    signed = fetch_result(daemon, body, "pdf")
    assert signed.startswith(pdf)
    report = verify_pdf(signed, service.signing.checker)
    assert report.valid and report.signatures[0].signed_at is not None, report


def test_preflight_allows_the_page_and_private_network_access(daemon):
    answer = requests.options(
        daemon.url + "/sign/data",
        headers={
            "Origin": PAGE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
            "Access-Control-Request-Private-Network": "true",
        },
        timeout=30,
    )
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == PAGE
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    assert answer.headers["Access-Control-Allow-Headers"].lower() == "content-type"
    assert answer.headers["Access-Control-Allow-Private-Network"] == "true"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/certificates?private_only=true", id="certificates"),
        pytest.param("POST", "/sign/data", id="sign"),
        pytest.param("OPTIONS", "/sign/data", id="preflight"),
    ],
)
@pytest.mark.parametrize("origin", ["https://evil.example", "http://127.0.0.1:8081", "null"])
def test_other_origins_are_refused(daemon, method, path, origin):
    kwargs: dict[str, Any] = {"json": daemon.sign_data()} if method == "POST" else {}
    answer = requests.request(method, daemon.url + path, headers={"Origin": origin}, timeout=30, **kwargs)
    assert answer.status_code == 403
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "base64File" not in answer.text and "certificateModel" not in answer.text


def test_another_host_name_is_refused(daemon):
    """A page whose own name resolves to 127.0.0.1 (DNS rebinding) is same-origin with nothing here."""
    port = daemon.url.rsplit(":", 1)[1]
    answer = requests.get(daemon.url + "/certificates", headers={"Host": f"rebind.example:{port}"}, timeout=30)
    assert answer.status_code == 421


def test_a_client_without_origin_is_served(daemon):
    assert requests.get(daemon.url + "/certificates", timeout=30).status_code == 200


@pytest.mark.parametrize(
    ("changes", "member"),
    [
        pytest.param({"certificate": {"certificateId": "00" * 20}}, "certificate", id="unknown-certificate"),
        pytest.param({"certificate": None}, "certificate", id="no-certificate"),
        pytest.param({"signatureType": "Detached"}, "signatureType", id="detached"),
        pytest.param({"signFormat": "CAdES-BES"}, "signFormat", id="other-format"),
        pytest.param({"contentType": "Pdf"}, "contentType", id="xades-of-a-pdf"),
        pytest.param({"signFormat": "PAdES-T"}, "contentType", id="pades-of-text"),
        pytest.param({"algorithm": "MD5"}, "algorithm", id="md5"),
        pytest.param({"data": "not base64!"}, "data", id="not-base64"),
        pytest.param({"data": base64.b64encode(b"\x01" * 19).decode()}, "data", id="19-byte-digest"),
        pytest.param({"algorithm": "SHA-256"}, "data", id="sha1-digest-named-sha256"),
        pytest.param(
            {"signFormat": "PAdES-T", "contentType": "Pdf", "data": base64.b64encode(b"plain text").decode()},
            "data",
            id="pdf-that-is-not-a-pdf",
        ),
        pytest.param({"reference": "x" * 300}, "reference", id="long-reference"),
    ],
)
def test_bad_sign_data_is_refused_naming_the_member(daemon, changes, member):
    answer = requests.post(daemon.url + "/sign/data", json=daemon.sign_data(**changes), timeout=30)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith(member)
    assert "Location" not in answer.headers


@pytest.mark.parametrize(
    ("send", "status"),
    [
        pytest.param(lambda url: requests.post(url + "/sign/data", data=b"{", timeout=30,
                                               headers={"Content-Type": "application/json"}), 400, id="not-json"),
        pytest.param(lambda url: requests.post(url + "/sign/data", json=[1], timeout=30), 400, id="json-array"),
        pytest.param(lambda url: requests.post(url + "/sign/data", data=b"a=1", timeout=30,
                                               headers={"Content-Type": "text/plain"}), 415, id="text-plain"),
        pytest.param(lambda url: requests.get(url + "/sign/data", timeout=30), 405, id="get-sign"),
        pytest.param(lambda url: requests.get(url + "/sign/data/PKCS11/" + "0" * 32 + "/pdf", timeout=30), 404,
                     id="unknown-result"),
        pytest.param(lambda url: requests.get(url + "/", timeout=30), 404, id="root"),
    ],
)  # fmt: skip
def test_bad_requests_get_json_errors(daemon, send, status):
    answer = send(daemon.url)
    assert answer.status_code == status
    assert "error" in answer.json()


def test_request_size_is_bounded(daemon):
    assert daemon.app is not None
    daemon.app.max_body_bytes = 10_000
    body = daemon.sign_data(data=base64.b64encode(b"\x00" * 20_000).decode())
    answer = requests.post(daemon.url + "/sign/data", json=body, timeout=30)
    assert answer.status_code == 413 and "error" in answer.json()


def export_p12(identity: Identity, path: Path, password: bytes) -> Path:
    key = identity.private_key
    data = pkcs12.serialize_key_and_certificates(
        b"signer",
        key,
        identity.certificate,
        list(identity.chain),
        BestAvailableEncryption(password),  # type: ignore[arg-type]
    )
    path.write_bytes(data)
    return path


def test_pkcs12_key_with_its_chain(service, tmp_path):
    ion = service.pki.people[ION]
    key = load_pkcs12(export_p12(ion, tmp_path / "ion.p12", b"secret"), b"secret")
    assert key.certificate_der == ion.certificate_der
    assert key.chain == ion.chain


@pytest.mark.parametrize(
    ("content", "password", "says"),
    [
        pytest.param("p12", b"wrong", "cannot be opened", id="wrong-password"),
        pytest.param("junk", b"secret", "cannot be opened", id="not-pkcs12"),
        pytest.param(None, b"secret", "cannot read", id="missing-file"),
    ],
)
def test_pkcs12_errors(service, tmp_path, content, password, says):
    path = tmp_path / "key.p12"
    if content == "p12":
        export_p12(service.pki.people[ION], path, b"secret")
    elif content == "junk":
        path.write_bytes(b"junk")
    with pytest.raises(ConfigurationError, match=says):
        load_pkcs12(path, password)


def test_the_cli_command_serves_a_pkcs12_key(service, tmp_path):
    """``msign-soap local-signer --p12 … --password-file …`` over the service's TSA."""
    export_p12(service.pki.people[ION], tmp_path / "ion.p12", b"secret")
    (tmp_path / "password").write_text("secret\n")
    with serve(service) as (service_url, _):
        command = [
            sys.executable, "-m", "msign_soap.cli", "local-signer",
            "--p12", str(tmp_path / "ion.p12"), "--password-file", str(tmp_path / "password"),
            "--port", "0", "--allow-origin", PAGE, "--tsa-url", service_url + "/tsa",
        ]  # fmt: skip
        log = tmp_path / "stderr.txt"
        with (
            log.open("w") as stderr,
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True) as process,
        ):
            try:
                assert process.stdout is not None
                first = process.stdout.readline()  # printed once it listens
                match = re.match(r"msign-soap local signer on (http://127\.0\.0\.1:\d+)", first)
                assert match, first + log.read_text()
                daemon = Daemon(match.group(1), load_pkcs12(tmp_path / "ion.p12", b"secret"))
                digest = hashlib.sha1(b"cli").digest()
                document = fetch_result(daemon, daemon.sign_data(data=base64.b64encode(digest).decode()), "XAdES")
                assert verify_xades(document, digest, service.signing.checker).valid
            finally:
                process.terminate()
                process.wait(timeout=30)


def test_the_cli_command_refuses_a_wrong_password(service, tmp_path):
    export_p12(service.pki.people[ION], tmp_path / "ion.p12", b"secret")
    (tmp_path / "password").write_text("wrong")
    command = [sys.executable, "-m", "msign_soap.cli", "local-signer", "--p12", str(tmp_path / "ion.p12"),
               "--password-file", str(tmp_path / "password"), "--port", "0"]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "cannot be opened (wrong password" in result.stderr


# -- the service's checks of a result ---------------------------------------------------


def post(service: Any, content_type: str, contents: list[bytes], signer: str | None = ION) -> str:
    request = SignRequestInput(
        content_type,
        [SignContentInput(c, f"c{i}", multiple_signatures=True, name=f"Doc {i}") for i, c in enumerate(contents)],
        "Batch",
        expected_signer=ExpectedSigner(signer) if signer else None,
    )
    return service.requests.post(service.requests.demo_consumer(), request)


def signed(
    service: Any, identity: Identity, content: bytes, content_type: str, reference: str = "urn:msign:content:c0"
) -> bytes:
    """What a local signer with ``identity``'s key returns for ``content``."""
    request = SignData(FORMAT_XADES, content, reference) if content_type == "Hash" else SignData(FORMAT_PADES, content)
    return sign(request, signer_key(identity), service.timestamper, datetime.now(UTC))


def status(service: Any, request_id: str) -> tuple[str, str | None]:
    answer = service.requests.get(service.requests.demo_consumer(), request_id, "en")
    return answer.status.value, answer.message


HASHES = [hashlib.sha1(b"first").digest(), hashlib.sha1(b"second").digest()]
PDFS = [minimal_pdf("First"), minimal_pdf("Second")]


@pytest.mark.postgresql
def test_a_hash_batch_is_accepted_content_by_content(service):
    moldsign = service.instruments["moldsign"]
    request_id = post(service, "Hash", HASHES)
    ion = service.pki.people[ION]
    results = [signed(service, ion, h, "Hash", f"urn:msign:content:c{i}") for i, h in enumerate(HASHES)]
    assert moldsign.hashes(request_id) == tuple(HASHES)
    assert moldsign.accept(request_id, 1, results[1]).accepted == (1,)
    assert moldsign.accept(request_id, 1, results[1]).accepted == (1,)  # sent again: replaces
    assert status(service, request_id) == ("Pending", None)
    progress = moldsign.accept(request_id, 0, results[0])
    assert progress.finished and progress.accepted == (0, 1) and progress.total == 2
    answer = service.requests.get(service.requests.demo_consumer(), request_id, "en")
    assert answer.status is SignStatus.SUCCESS
    assert [r.signature for r in answer.results] == results
    assert all(r.certificate == ion.certificate_der for r in answer.results)
    with service.store.db.connection_context():  # the kept copies go once the request ends
        assert service.store.models.LocalSignerResult.select().count() == 0
    with pytest.raises(RequestClosed):
        moldsign.accept(request_id, 0, results[0])


@pytest.mark.postgresql
def test_a_result_sent_twice_at_once_is_kept_once(service):
    """The page retried while the first try was still being checked: both land, one is kept."""
    import threading

    moldsign = service.instruments["moldsign"]
    request_id = post(service, "Hash", HASHES)
    result = signed(service, service.pki.people[ION], HASHES[1], "Hash", "urn:msign:content:c1")
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def accept() -> None:
        barrier.wait()
        try:
            moldsign.accept(request_id, 1, result)
        except BaseException as e:  # noqa: BLE001 -- reported below
            errors.append(e)

    threads = [threading.Thread(target=accept) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert moldsign.progress(request_id).accepted == (1,)


@pytest.mark.postgresql
def test_results_of_a_request_that_ended_otherwise_go_with_its_documents(service, clock):
    moldsign = service.instruments["moldsign"]
    request_id = post(service, "Hash", HASHES)
    moldsign.accept(request_id, 0, signed(service, service.pki.people[ION], HASHES[0], "Hash"))
    service.requests.fail(request_id)  # e.g. cancelled before the second content came
    results = service.store.models.LocalSignerResult
    with service.store.db.connection_context():
        assert results.select().count() == 1
    clock.advance(seconds=service.config.document_retention + 1)
    assert service.requests.run_maintenance().documents_deleted == 1
    with service.store.db.connection_context():
        assert results.select().count() == 0


def test_a_signature_older_than_the_request_is_refused(service, clock):
    """An old signature over the same hash (replayed) does not answer a new request."""
    from datetime import timedelta

    from msign_soap.signing.timestamp import LocalTsa

    request_id = post(service, "Hash", HASHES[:1])
    earlier = clock.now - timedelta(hours=1)
    tsa = service.pki.tsa
    old_tsa = LocalTsa(tsa.certificate, tsa.private_key, tsa.chain, clock=lambda: earlier)
    replayed = sign(
        SignData(FORMAT_XADES, HASHES[0], "urn:msign:content:c0"), signer_key(service.pki.people[ION]), old_tsa, earlier
    )
    with pytest.raises(ResultRejected) as refused:
        service.instruments["moldsign"].accept(request_id, 0, replayed)
    assert refused.value.message_id == pages.LOCAL_INVALID_SIGNATURE
    assert "before the request" in (refused.value.detail or "")
    assert status(service, request_id) == ("Pending", None)


@pytest.mark.postgresql
def test_a_pdf_batch_is_accepted(service):
    nationalid = service.instruments["nationalid"]
    request_id = post(service, "Pdf", PDFS, signer=None)
    ion = service.pki.people[ION]
    assert nationalid.hashes(request_id) == ()
    for position, pdf in enumerate(PDFS):
        nationalid.accept(request_id, position, signed(service, ion, pdf, "Pdf"))
    assert status(service, request_id) == ("Success", None)
    assert nationalid.progress(request_id).finished


def test_an_already_signed_pdf_takes_one_more_signature(service):
    ion, maria = service.pki.people[ION], service.pki.people[MARIA]
    once = signed(service, maria, PDFS[0], "Pdf")
    request_id = post(service, "Pdf", [once], signer=ION)
    service.instruments["moldsign"].accept(request_id, 0, signed(service, ion, once, "Pdf"))
    assert status(service, request_id) == ("Success", None)


def unsigned_update(pdf: bytes, text: str = "Changed") -> bytes:
    """``pdf`` plus an incremental update that replaces the page's content (no signature)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
    stream = generic.StreamObject(stream_data=f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode())
    page = page_ref.get_object()
    page["/Contents"] = writer.add_object(stream)
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def change_in_the_signature_update(service: Any, pdf: bytes) -> bytes:
    """A signature whose own update also replaces the page's content (signed by Ion, covering the file)."""
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    ion = service.pki.people[ION]
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    page = writer.root["/Pages"]["/Kids"].raw_get(0).get_object()
    page["/Contents"] = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 720 Td (Pay 1000) Tj ET"))
    writer.update_container(page)
    key_der = ion.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(ion.certificate_der),
        signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in ion.chain]
        ),
    )
    out = io.BytesIO()
    signers.sign_pdf(writer, signers.PdfSignatureMetadata(field_name="Signature1"), signer=signer, output=out)
    return out.getvalue()


def truncate_timestamp(document: bytes) -> bytes:
    """The XAdES without its UnsignedProperties: a valid XAdES-B, no time-stamp."""
    return re.sub(rb"<xades:UnsignedProperties>.*</xades:UnsignedProperties>", b"", document, flags=re.S)


def flip_signature_value(document: bytes) -> bytes:
    def flip(match: re.Match[bytes]) -> bytes:
        value = bytearray(base64.b64decode(match.group(2)))
        value[10] ^= 1
        return match.group(1) + base64.b64encode(bytes(value)) + match.group(3)

    return re.sub(rb"(<ds:SignatureValue[^>]*>)([^<]+)(</ds:SignatureValue>)", flip, document)


@dataclass(frozen=True)
class Case:
    content_type: str
    #: the ExpectedSigner.ID of the request
    expected: str | None
    #: (service, what was posted) -> what the local signer returns for content 0
    result: Callable[[Any, bytes], bytes]


def by(idnp: str) -> Callable[[Any, bytes], bytes]:
    def make(service: Any, content: bytes) -> bytes:
        kind = "Pdf" if content.startswith(b"%PDF") else "Hash"
        return signed(service, service.pki.people[idnp], content, kind)

    return make


def self_made_ca(service: Any, content: bytes) -> bytes:
    root = issue_certificate("Made Up Root", ec.generate_private_key(ec.SECP256R1()), ca=True)
    leaf = issue_certificate("Ion Popescu", ec.generate_private_key(ec.SECP256R1()), root, idnp=ION)
    kind = "Pdf" if content.startswith(b"%PDF") else "Hash"
    return signed(service, leaf, content, kind)


def ec_twin(service: Any, content: bytes) -> bytes:
    """Ion Popescu, with an EC certificate from the demo issuing CA (the same person, another certificate)."""
    pki = service.pki
    twin = issue_certificate(
        "Ion Popescu", ec.generate_private_key(ec.SECP256R1()), pki.issuing_ca, idnp=ION,
        crl_url=pki.url(CRL_PATHS["issuing"]),
    )  # fmt: skip
    return signed(service, twin, content, "Pdf" if content.startswith(b"%PDF") else "Hash")


VALID_TWINS = {
    "hash": Case("Hash", ION, by(ION)),
    "pdf": Case("Pdf", ION, by(ION)),
}


def root_swapped(service: Any, pdf: bytes) -> bytes:
    """Ion's valid signature on an update whose trailer points at a new catalog
    with a new page ("Pay 1000"): the signed file shows other content."""
    from asn1crypto import cms
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.timestamps import TimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    ion = service.pki.people[ION]
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    old_page = writer.root["/Pages"]["/Kids"].raw_get(0).get_object()
    page = generic.DictionaryObject({generic.pdf_name(k): v for k, v in old_page.items() if k != "/Parent"})
    page["/Contents"] = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 720 Td (Pay 1000) Tj ET"))
    page_ref = writer.add_object(page)
    pages = {
        "/Type": generic.pdf_name("/Pages"),
        "/Kids": generic.ArrayObject([page_ref]),
        "/Count": generic.NumberObject(1),
    }
    pages_ref = writer.add_object(generic.DictionaryObject({generic.pdf_name(k): v for k, v in pages.items()}))
    page["/Parent"] = pages_ref
    catalog = {generic.pdf_name("/Type"): generic.pdf_name("/Catalog"), generic.pdf_name("/Pages"): pages_ref}
    writer._root = writer.add_object(generic.DictionaryObject(catalog))

    class Tsa(TimeStamper):
        async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
            return cms.ContentInfo.load(service.timestamper.timestamp(message_digest, md_algorithm))

    key = ion.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(ion.certificate_der),
        signing_key=asn1_keys.PrivateKeyInfo.load(key),
        cert_registry=SimpleCertificateStore.from_certs([asn1_x509.Certificate.load(c) for c in ion.chain_der]),
    )
    out = io.BytesIO()
    meta = signers.PdfSignatureMetadata(field_name="Signature1", subfilter=SigSeedSubFilter.PADES)
    signers.sign_pdf(writer, meta, signer=signer, output=out, timestamper=Tsa(include_nonce=False))
    return out.getvalue()


REFUSED_RESULTS = [
    pytest.param(
        Case("Hash", ION, lambda s, c: by(ION)(s, hashlib.sha1(b"another document").digest())),
        pages.LOCAL_WRONG_DOCUMENT,
        id="wrong-content-hash",
    ),
    pytest.param(Case("Hash", ION, lambda s, c: truncate_timestamp(by(ION)(s, c))), pages.LOCAL_NO_TIMESTAMP,
                 id="xades-without-time-stamp"),
    pytest.param(Case("Hash", ION, lambda s, c: flip_signature_value(by(ION)(s, c))), pages.LOCAL_INVALID_SIGNATURE,
                 id="tampered-signature-value"),
    pytest.param(Case("Hash", ION, lambda s, c: b"<not-xades/>"), pages.LOCAL_INVALID_SIGNATURE, id="not-xades"),
    pytest.param(Case("Pdf", ION, lambda s, c: by(ION)(s, minimal_pdf("Other"))), pages.LOCAL_WRONG_DOCUMENT,
                 id="pdf-prefix-differs"),
    pytest.param(Case("Pdf", ION, lambda s, c: c), pages.LOCAL_WRONG_DOCUMENT, id="pdf-returned-unsigned"),
    pytest.param(Case("Pdf", ION, lambda s, c: unsigned_update(by(ION)(s, c))), pages.LOCAL_DOCUMENT_CHANGED,
                 id="pdf-unsigned-change-after-the-signature"),
    pytest.param(Case("Pdf", ION, lambda s, c: by(ION)(s, unsigned_update(c))), pages.LOCAL_DOCUMENT_CHANGED,
                 id="pdf-unsigned-change-before-the-signature"),
    pytest.param(Case("Pdf", ION, change_in_the_signature_update), pages.LOCAL_DOCUMENT_CHANGED,
                 id="pdf-change-inside-the-signature-update"),
    pytest.param(Case("Pdf", ION, lambda s, c: by(ION)(s, by(ION)(s, c))), pages.LOCAL_DOCUMENT_CHANGED,
                 id="pdf-two-signatures-added"),
    pytest.param(Case("Pdf", ION, root_swapped), pages.LOCAL_DOCUMENT_CHANGED, id="pdf-catalog-replaced"),
]  # fmt: skip

REFUSED_SIGNERS = [
    pytest.param(Case("Hash", ION, by(MARIA)), messages.SIGNER_MISMATCH, id="hash-another-signer-than-expected"),
    pytest.param(Case("Pdf", ION, by(MARIA)), messages.SIGNER_MISMATCH, id="pdf-another-signer-than-expected"),
    pytest.param(Case("Hash", ION, self_made_ca), messages.CERTIFICATE_UNTRUSTED, id="hash-untrusted-self-made-ca"),
    pytest.param(Case("Pdf", None, self_made_ca), messages.CERTIFICATE_UNTRUSTED, id="pdf-untrusted-self-made-ca"),
    pytest.param(Case("Hash", ELENA, by(ELENA)), messages.CERTIFICATE_REVOKED, id="hash-revoked-signer"),
    pytest.param(Case("Pdf", None, by(ELENA)), messages.CERTIFICATE_REVOKED, id="pdf-revoked-signer"),
]


def contents_of(kind: str) -> list[bytes]:
    return list(HASHES if kind == "Hash" else PDFS)


def twin_of(case: Case) -> Case:
    return Case(case.content_type, case.expected, by(case.expected or ION))


@pytest.mark.parametrize(("case", "reason"), REFUSED_RESULTS)
def test_a_refused_result_keeps_the_request_pending(service, case, reason):
    contents = contents_of(case.content_type)
    request_id = post(service, case.content_type, contents, case.expected)
    moldsign = service.instruments["moldsign"]
    with pytest.raises(ResultRejected) as refused:
        moldsign.accept(request_id, 0, case.result(service, contents[0]))
    assert refused.value.message_id == reason, refused.value.detail
    assert status(service, request_id) == ("Pending", None)
    assert moldsign.progress(request_id).accepted == ()
    # the valid twin of the same request is accepted
    assert moldsign.accept(request_id, 0, twin_of(case).result(service, contents[0])).accepted == (0,)


@pytest.mark.parametrize(("case", "reason"), REFUSED_SIGNERS)
def test_a_refused_signer_ends_the_request_as_failure(service, case, reason):
    contents = contents_of(case.content_type)
    # the valid twin: the same batch expecting Ion Popescu, signed by him
    twin_request = post(service, case.content_type, contents, ION)
    assert service.instruments["moldsign"].accept(twin_request, 0, by(ION)(service, contents[0])).accepted == (0,)

    request_id = post(service, case.content_type, contents, case.expected)
    with pytest.raises(SignerRejected) as refused:
        service.instruments["moldsign"].accept(request_id, 0, case.result(service, contents[0]))
    assert refused.value.message_id == reason
    assert status(service, request_id) == ("Failure", translate(reason, "en"))


@pytest.mark.parametrize(
    "second",
    [pytest.param(by(MARIA), id="another-person"), pytest.param(ec_twin, id="same-person-another-certificate")],
)
def test_every_content_of_a_batch_has_the_same_signer(service, second):
    request_id = post(service, "Pdf", PDFS, signer=None)
    moldsign = service.instruments["moldsign"]
    moldsign.accept(request_id, 0, by(ION)(service, PDFS[0]))
    with pytest.raises(SignerRejected) as refused:
        moldsign.accept(request_id, 1, second(service, PDFS[1]))
    assert refused.value.message_id == messages.SIGNER_CHANGED
    assert status(service, request_id) == ("Failure", "All the documents must be signed by the same person")


def test_unknown_content_or_request(service):
    request_id = post(service, "Hash", HASHES)
    moldsign = service.instruments["moldsign"]
    with pytest.raises(RequestNotFound):
        moldsign.accept(request_id, 5, b"<x/>")
    with pytest.raises(RequestNotFound):
        moldsign.accept("0" * 32, 0, b"<x/>")
    with pytest.raises(RequestNotFound):
        moldsign.progress("0" * 32)


@pytest.mark.postgresql
def test_a_result_for_a_finished_request_is_refused(service):
    request_id = post(service, "Hash", HASHES)
    service.requests.fail(request_id)
    with pytest.raises(RequestClosed):
        service.instruments["moldsign"].accept(request_id, 0, by(ION)(service, HASHES[0]))


# -- the page and the result endpoint ---------------------------------------------------

RETURN_URL = "https://eservice.example.md/back"


@pytest.fixture
def browser(service: Any) -> Client:
    return Client(service)


def enter(browser: Client, request_id: str, **params: str) -> Any:
    return browser.get(f"/{request_id}", query_string={"ReturnUrl": RETURN_URL, "lang": "en", **params})


def csp(response: Any) -> dict[str, str]:
    return dict(d.strip().split(" ", 1) for d in response.headers["Content-Security-Policy"].split(";"))


def csrf_of(body: str) -> str:
    match = re.search(r'data-csrf="([0-9a-f]+)"', body)
    assert match, body
    return match.group(1)


def test_the_cards_open_the_local_signer_page(service, browser):
    request_id = post(service, "Hash", HASHES)
    enter(browser, request_id)
    choice = browser.get(f"/{request_id}/sign").get_data(as_text=True)
    for name in ("moldsign", "nationalid"):
        assert f'href="/{request_id}/sign/{name}?lang=en" data-instrument="{name}"' in choice
    page = browser.get(f"/{request_id}/sign/moldsign?lang=en")
    assert page.status_code == 200
    policy = csp(page)
    assert policy["connect-src"] == "'self' http://127.0.0.1:18443"
    assert policy["script-src"].startswith("'nonce-")
    body = page.get_data(as_text=True)
    nonce = policy["script-src"].removeprefix("'nonce-").rstrip("'")
    assert f'<script nonce="{nonce}" src="/static/local-signer.js"></script>' in body
    assert 'data-signer-url="http://127.0.0.1:18443"' in body
    assert f'data-result-url="/{request_id}/local-signer/moldsign/"' in body
    for i, digest in enumerate(HASHES):
        assert f'data-hash="{base64.b64encode(digest).decode()}" data-algorithm="SHA-1"' in body
        assert f'data-reference="urn:msign:content:c{i}"' in body
    script = browser.get("/static/local-signer.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert b"/certificates?private_only=true" in script.get_data()


def test_instrument_moldsign_skips_the_choice(service, browser):
    request_id = post(service, "Pdf", PDFS, signer=None)
    enter(browser, request_id, Instrument="moldsign")
    body = browser.get(f"/{request_id}/sign").get_data(as_text=True)
    assert 'id="local-signer" data-instrument="moldsign"' in body
    assert 'data-content-type="Pdf"' in body and 'data-hash=""' in body
    choice = browser.get(f"/{request_id}/sign?choose=1").get_data(as_text=True)
    assert 'id="local-signer"' not in choice and 'data-instrument="nationalid"' in choice


def post_result(browser: Client, request_id: str, position: int, document: bytes, csrf: str | None) -> Any:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    return browser.post(
        f"/{request_id}/local-signer/moldsign/{position}",
        json={"base64File": base64.b64encode(document).decode()},
        headers=headers,
    )


@pytest.mark.postgresql
def test_results_posted_by_the_page(service, browser):
    request_id = post(service, "Pdf", [minimal_pdf("Big", padding=200_000), PDFS[1]], signer=ION)
    enter(browser, request_id)
    csrf = csrf_of(browser.get(f"/{request_id}/sign/moldsign").get_data(as_text=True))
    first = by(ION)(service, minimal_pdf("Big", padding=200_000))
    assert post_result(browser, request_id, 0, first, None).status_code == 403
    assert post_result(browser, request_id, 0, first, "0" * 64).status_code == 403
    wrong = post_result(browser, request_id, 0, by(ION)(service, PDFS[0]), csrf)
    assert wrong.status_code == 422
    assert wrong.json == {
        "error": "The signing application returned a signature of another document.",
        "finished": False,
    }
    answer = post_result(browser, request_id, 0, first, csrf)  # a body over the page's usual 64 KiB
    assert answer.status_code == 200, answer.get_data()
    assert answer.json == {"accepted": 1, "total": 2, "finished": False, "next": f"/{request_id}/sign?lang=en"}
    assert 'data-accepted="true"' in browser.get(f"/{request_id}/sign/moldsign").get_data(as_text=True)
    beyond = post_result(browser, request_id, 5, by(ION)(service, PDFS[1]), csrf)
    assert (beyond.status_code, beyond.json["finished"]) == (404, False)  # not a 500 with a traceback
    last = post_result(browser, request_id, 1, by(ION)(service, PDFS[1]), csrf)
    assert last.json["finished"] is True and last.json["accepted"] == 2
    assert status(service, request_id) == ("Success", None)
    again = post_result(browser, request_id, 1, by(ION)(service, PDFS[1]), csrf)
    assert again.status_code == 409 and again.json["finished"] is True
    assert again.json["error"] == "This signing request is already finished."  # translated, not the log's reason


def test_a_refused_signer_answers_409_with_the_reason(service, browser):
    request_id = post(service, "Hash", HASHES, signer=ION)
    enter(browser, request_id)
    csrf = csrf_of(browser.get(f"/{request_id}/sign/moldsign").get_data(as_text=True))
    answer = post_result(browser, request_id, 0, by(MARIA)(service, HASHES[0]), csrf)
    assert answer.status_code == 409
    assert answer.json == {
        "error": "The certificate belongs to another person than the one expected to sign",
        "finished": True,
        "next": f"/{request_id}/sign?lang=en",
    }
    assert "The certificate belongs to another person" in browser.get(answer.json["next"]).get_data(as_text=True)


@pytest.mark.parametrize(
    ("body", "content_type", "code"),
    [
        pytest.param(b"{", "application/json", 400, id="not-json"),
        pytest.param(b'{"base64File": "***"}', "application/json", 400, id="not-base64"),
        pytest.param(b'{"base64File": ""}', "application/json", 400, id="empty"),
        pytest.param(b"{}", "application/json", 400, id="no-file"),
        pytest.param(b"base64File=abc", "application/x-www-form-urlencoded", 415, id="a-form"),
    ],
)
def test_malformed_results_are_refused(service, browser, body, content_type, code):
    request_id = post(service, "Hash", HASHES)
    enter(browser, request_id)
    csrf = csrf_of(browser.get(f"/{request_id}/sign/moldsign").get_data(as_text=True))
    answer = browser.post(
        f"/{request_id}/local-signer/moldsign/0", data=body, content_type=content_type, headers={"X-CSRF-Token": csrf}
    )
    assert answer.status_code == code
    assert status(service, request_id) == ("Pending", None)


def test_the_cli_command_serves_a_demo_persons_key(tmp_path):
    from .pki_support import seed_demo_pki

    seed_demo_pki(tmp_path / "data")
    command = [sys.executable, "-m", "msign_soap.cli", "local-signer", "--demo-person", MARIA,
               "--data-dir", str(tmp_path / "data"), "--port", "0"]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as process:
        try:
            assert process.stdout is not None
            match = re.match(r"msign-soap local signer on (http://127\.0\.0\.1:\d+)", process.stdout.readline())
            assert match
            [model] = requests.get(match.group(1) + "/certificates", timeout=30).json()["certificateModel"]
            assert model["label"] == "Maria Rusu" and model["providerId"] == "DEMO"
        finally:
            process.terminate()
            process.wait(timeout=30)
