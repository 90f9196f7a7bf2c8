"""VerifySignatures over SOAP: zeep with the reference WSDL, in process.

The verifiers themselves are tested in ``test_verify_xades.py`` and
``test_verify_pades.py``; here: the batch (order, CorrelationID, one bad item
is that item's result), the messages per language, the certificates and
SignedAt, the structural faults, and the wire form of the answer.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from lxml import etree
from zeep.exceptions import Fault

from msign_soap.core import ExpectedSigner, SignContentInput

from .conftest import make_service, minimal_pdf, soap_client
from .test_signing_flow import ION, MARIA, post, sign, status
from .test_wire import ACTION, envelope

DOCUMENT = b"Contract no. 17"


def signed_hash(service: Any, document: bytes = DOCUMENT, idnp: str = ION) -> bytes:
    request_id = post(service, contents=[SignContentInput(hashlib.sha1(document).digest(), "c1")], signer=None)
    sign(service, request_id, idnp)
    [result] = status(service, request_id).results
    return result.signature


def signed_pdf(service: Any, signers: tuple[str, ...] = (ION,)) -> bytes:
    document = minimal_pdf("Act")
    for idnp in signers:
        request_id = post(
            service, "Pdf", [SignContentInput(document, multiple_signatures=True)], signer=ExpectedSigner(idnp)
        )
        sign(service, request_id, idnp)
        document = status(service, request_id).results[0].signature
    return document


def verify(client: Any, content_type: str, contents: list[dict[str, Any]], language: str | None = None) -> Any:
    request = {"Contents": {"VerificationContent": contents}, "SignedContentType": content_type}
    if language is not None:
        request["Language"] = language
    # zeep unwraps VerificationResponse, whose only member is Results
    return client.VerifySignatures(request=request).VerificationResult


def test_a_valid_xades_signature(service, client):
    xades = signed_hash(service)
    [result] = verify(client, "Hash", [{"Content": hashlib.sha1(DOCUMENT).digest(), "Signature": xades}], "en")
    assert (result.SignaturesValid, result.Message) == (True, "The signature is valid")
    [certificate] = result.Certificates.VerificationCertificate
    assert certificate.SignatureValid is True
    assert certificate.Certificate == service.pki.people[ION].certificate_der
    # the contract's display form (.NET's): the demo certificate's RDNs in reverse order
    assert certificate.Subject == f"G=Ion, SN=Popescu, CN=Ion Popescu, C=MD, SERIALNUMBER={ION}"
    assert certificate.SignedAt is not None  # the signature timestamp's time


@pytest.mark.parametrize(
    ("language", "text"),
    [
        pytest.param(None, "Semnătura nu corespunde hash-ului indicat", id="ro-default"),
        pytest.param("ru", "Подпись не соответствует указанному хешу", id="ru"),
        pytest.param("en", "The signature is not over the given hash", id="en"),
    ],
)
def test_a_hash_that_is_not_the_signed_one(service, client, language, text):
    xades = signed_hash(service)
    [result] = verify(client, "Hash", [{"Content": hashlib.sha1(b"other").digest(), "Signature": xades}], language)
    assert (result.SignaturesValid, result.Message) == (False, text)


def test_pdf_with_two_signers(service, client):
    pdf = signed_pdf(service, (ION, MARIA))
    [result] = verify(client, "Pdf", [{"Signature": pdf, "CorrelationID": "p1"}], "en")
    assert (result.SignaturesValid, result.CorrelationID) == (True, "p1")
    signers = result.Certificates.VerificationCertificate
    assert [c.Certificate for c in signers] == [service.pki.people[i].certificate_der for i in (ION, MARIA)]
    assert all(c.SignatureValid and c.SignedAt is not None for c in signers)


def test_a_pdf_without_signatures(service, client):
    [result] = verify(client, "Pdf", [{"Signature": minimal_pdf("Unsigned")}], "en")
    assert (result.SignaturesValid, result.Message) == (False, "The document contains no signatures")
    assert result.Certificates is None


def test_a_batch_keeps_order_and_one_bad_item_is_only_that_items_result(service, client):
    xades = signed_hash(service)
    good = {"Content": hashlib.sha1(DOCUMENT).digest(), "Signature": xades}
    results = verify(
        client,
        "Hash",
        [
            {**good, "CorrelationID": "a"},
            {"Content": b"\x00" * 20, "Signature": b"not xml at all", "CorrelationID": "b"},
            {**good, "CorrelationID": "c", "Signature": xades.replace(b"<ds:SignatureValue", b"<ds:SignatureValue ")},
            {**good, "CorrelationID": "d"},
        ],
        "en",
    )
    assert [(r.CorrelationID, r.SignaturesValid) for r in results] == [
        ("a", True),
        ("b", False),
        ("c", True),  # whitespace inside a tag is not a change of the canonical form
        ("d", True),
    ]
    assert results[1].Message.startswith("The signature could not be read")


def test_an_altered_xades_is_not_valid(service, client):
    xades = signed_hash(service)
    altered = xades.replace(b"<xades:SigningTime>", b"<xades:SigningTime>1", 1)
    assert altered != xades
    [result] = verify(client, "Hash", [{"Content": hashlib.sha1(DOCUMENT).digest(), "Signature": altered}], "en")
    assert result.SignaturesValid is False


@pytest.mark.parametrize(
    ("content_type", "contents", "reason"),
    [
        pytest.param("Hash", [], "Contents must hold at least one content", id="no-contents"),
        pytest.param("Hash", [{"Content": b"\x01" * 20}], "Contents[0].Signature is required", id="no-signature"),
        pytest.param("Hash", [{"Signature": b"<x/>"}], "Contents[0].Content is required for Hash", id="no-content"),
        pytest.param(
            "Pdf",
            [{"Signature": b"%PDF", "CorrelationID": "x"}, {"Signature": b"%PDF", "CorrelationID": "x"}],
            "Contents[1].CorrelationID repeats another content's CorrelationID",
            id="repeated-correlation-id",
        ),
    ],
)
def test_structural_errors_are_invalid_parameter_faults(client, content_type, contents, reason):
    with pytest.raises(Fault) as fault:
        request = {"Contents": {"VerificationContent": contents}, "SignedContentType": content_type}
        client.VerifySignatures(request=request)
    assert fault.value.code == "InvalidParameter"
    assert reason in fault.value.message


def test_an_unknown_content_type_is_refused(live_server):
    body = """<VerifySignatures xmlns="https://msign.gov.md"><request>
<Contents><VerificationContent><Signature>PHgvPg==</Signature></VerificationContent></Contents>
<SignedContentType>Xml</SignedContentType></request></VerifySignatures>"""
    response = live_server.post_raw(envelope(body).encode(), SOAPAction=f'"{ACTION}VerifySignatures"')
    assert response.status_code == 500
    assert etree.fromstring(response.content).findtext(".//faultcode") == "InvalidParameter"


def test_without_trust_anchors_verification_is_not_available(tmp_path):
    service = make_service(tmp_path, demo_pki=False)
    try:
        client = soap_client("http://testserver/MSign.svc", _transport(service))
        with pytest.raises(Fault) as fault:
            verify(client, "Pdf", [{"Signature": minimal_pdf()}])
        assert "trust anchors" in fault.value.message
    finally:
        service.close()


def _transport(service: Any) -> Any:
    from .conftest import WsgiTransport

    return WsgiTransport(service)


def test_the_answer_has_the_contract_form(live_server):
    """Element order and namespaces as the documented sample answer."""
    xades = signed_hash(live_server.service)
    content = base64.b64encode(hashlib.sha1(DOCUMENT).digest()).decode()
    body = f"""<VerifySignatures xmlns="https://msign.gov.md"><request xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
<Contents><VerificationContent><Content>{content}</Content><CorrelationID>bd73ed7e</CorrelationID>
<Signature>{base64.b64encode(xades).decode()}</Signature></VerificationContent></Contents>
<Language>en</Language><SignedContentType>Hash</SignedContentType></request></VerifySignatures>"""
    response = live_server.post_raw(envelope(body).encode(), SOAPAction=f'"{ACTION}VerifySignatures"')
    assert response.status_code == 200, response.content
    root = etree.fromstring(response.content)
    ns = {"m": "https://msign.gov.md"}
    [result] = root.findall(".//m:VerifySignaturesResult/m:Results/m:VerificationResult", ns)
    assert [etree.QName(e).localname for e in result] == ["Certificates", "CorrelationID", "Message", "SignaturesValid"]
    [certificate] = result.findall("m:Certificates/m:VerificationCertificate", ns)
    assert [etree.QName(e).localname for e in certificate] == ["Certificate", "SignatureValid", "SignedAt", "Subject"]
    assert result.findtext("m:Message", namespaces=ns) == "The signature is valid"
    assert result.findtext("m:SignaturesValid", namespaces=ns) == "true"


@pytest.mark.parametrize("name", ["договор.pdf", "contract-semnat-ăîșț.pdf", "act.pdf"])
def test_the_report_download_names_any_file(service, name):
    from io import BytesIO
    from urllib.parse import quote

    from werkzeug.test import Client

    pdf = signed_pdf(service)
    response = Client(service).post(
        "/verify",
        data={"signature": (BytesIO(pdf), name), "lang": "ro", "download": "1"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.isascii() and disposition.startswith('attachment; filename="verification-')
    assert f"filename*=UTF-8''{quote('verification-' + name + '.html', safe='')}" in disposition
    assert "Semnătura este validă" in response.get_data(as_text=True)


def test_a_subject_xml_cannot_carry_still_gives_the_item_its_result(service, client):
    from cryptography.hazmat.primitives.asymmetric import rsa

    from msign_soap.signing.xades import sign_xades_with_key

    from .conftest import issue_certificate

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    odd = issue_certificate("Ion\x01Popescu", key, service.pki.issuing_ca)
    digest = hashlib.sha1(DOCUMENT).digest()
    xades = sign_xades_with_key(
        digest, odd.certificate_der, odd.chain_der, key, service.timestamper,
        signing_time=service.requests.clock(), reference_uri="urn:msign:content:c1",
    )  # fmt: skip
    [result] = verify(client, "Hash", [{"Content": digest, "Signature": xades}], "en")
    [certificate] = result.Certificates.VerificationCertificate
    assert certificate.Subject.startswith("CN=Ion\ufffdPopescu")
    assert result.SignaturesValid is True


def test_a_subject_is_cut_to_the_contracts_250_characters():
    from msign_soap.soap.service import _display_subject

    assert _display_subject("CN=" + "A" * 300) == "CN=" + "A" * 246 + "…"
    assert _display_subject("CN=" + "A" * 247) == "CN=" + "A" * 247
    assert _display_subject(None) is None
