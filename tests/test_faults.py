"""Faults exactly as the contract lists them: bare codes, documented reasons, HTTP 500."""

from __future__ import annotations

import pytest
import requests
import zeep
from lxml import etree

from msign_soap.soap.faults import INTERNAL_ERROR

from .conftest import IDNP, WsgiTransport, make_service, sha1, soap_client

POST_ARGS = {
    "request": {
        "ContentType": "Hash",
        "Contents": {"SignContent": [{"Content": sha1("x")}]},
        "ShortContentDescription": "Short",
        "ExpectedSigner": {"ID": IDNP},
    }
}
VERIFY_ARGS = {"request": {"Contents": {"VerificationContent": [{"Signature": b"x"}]}, "SignedContentType": "Pdf"}}
GET_ARGS = {"requestID": "0" * 32}


@pytest.fixture
def closed_service(tmp_path, clock):
    """A service without the demo consumer: no caller is known."""
    svc = make_service(tmp_path, clock, demo_mode=False)
    yield svc
    svc.close()


def call(client, operation: str, **kwargs) -> zeep.exceptions.Fault:
    with pytest.raises(zeep.exceptions.Fault) as caught:
        getattr(client, operation)(**kwargs)
    return caught.value


@pytest.mark.parametrize(
    "operation, kwargs, reason",
    [
        (
            "PostSignRequest",
            POST_ARGS,
            "Invalid authentication certificate provided, Unknown service consumer: (no client certificate)",
        ),
        (
            "GetSignResponse",
            GET_ARGS,
            "Invalid authentication certificate provided, Unknown or unregistered system: (no client certificate)",
        ),
        (
            "VerifySignatures",
            VERIFY_ARGS,
            "Invalid authentication certificate provided or Unknown service consumer: (no client certificate)",
        ),
    ],
)
def test_authentication_failed_reason_per_operation(closed_service, operation, kwargs, reason):
    client = soap_client("http://testserver/MSign.svc", WsgiTransport(closed_service))
    fault = call(client, operation, **kwargs)
    assert fault.code == "AuthenticationFailed"
    assert fault.message == reason


def test_authorization_failed_for_another_consumers_request(service, client):
    other = service.requests.add_consumer("other-e-service")
    from msign_soap.core import SignContentInput, SignRequestInput

    request_id = service.requests.post(other, SignRequestInput("Hash", [SignContentInput(sha1("x"))], "Short"))
    fault = call(client, "GetSignResponse", requestID=request_id)
    assert fault.code == "AuthorizationFailed"
    assert fault.message == "This signature request was not initiated by this system"


@pytest.mark.parametrize("request_id", ["0" * 32, "f" * 32, "not-an-id", "x" * 1000, "../../etc/passwd"])
def test_request_not_found(client, request_id):
    fault = call(client, "GetSignResponse", requestID=request_id)
    assert fault.code == "RequestNotFound"
    assert fault.message == "Cannot find such request"


@pytest.mark.parametrize("request_id", [None, ""])
def test_missing_request_id_is_invalid_parameter(client, request_id):
    fault = call(client, "GetSignResponse", requestID=request_id)
    assert fault.code == "InvalidParameter"
    assert fault.message == "requestID is required"


def test_verify_signatures_without_trust_anchors_says_it_is_not_available(tmp_path):
    service = make_service(tmp_path, demo_pki=False)
    try:
        client = soap_client("http://testserver/MSign.svc", WsgiTransport(service))
        fault = call(client, "VerifySignatures", **VERIFY_ARGS)
    finally:
        service.close()
    assert fault.code == "s:Server"
    assert "VerifySignatures is not available" in fault.message


def fault_of(response: requests.Response) -> tuple[str, str]:
    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/xml")
    root = etree.fromstring(response.content)
    fault = root.find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
    assert [child.tag for child in fault] == ["faultcode", "faultstring"]  # no faultactor, no detail
    assert fault.find("faultstring").get("{http://www.w3.org/XML/1998/namespace}lang") == "en-US"
    return fault.findtext("faultcode"), fault.findtext("faultstring")


@pytest.mark.parametrize(
    "body, code, reason_part",
    [
        pytest.param(b"", "s:Client", "not well-formed", id="empty"),
        pytest.param(b"<s:Envelope", "s:Client", "not well-formed", id="truncated"),
        pytest.param(b"not xml at all", "s:Client", "not well-formed", id="text"),
        pytest.param(b"<Root/>", "s:Client", "Envelope", id="not-soap"),
        pytest.param(b"<Envelope/>", "s:VersionMismatch", "SOAP 1.1", id="envelope-without-namespace"),
        pytest.param(
            b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body/></s:Envelope>',
            "s:VersionMismatch",
            "SOAP 1.1",
            id="soap12",
        ),
        pytest.param(
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>',
            "s:Client",
            "Body is empty",
            id="empty-body",
        ),
        pytest.param(
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            b'<Nope xmlns="https://msign.gov.md"/></s:Body></s:Envelope>',
            "InvalidParameter",
            "Nope",
            id="unknown-operation",
        ),
        pytest.param(
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            b'<PostSignRequest xmlns="https://msign.gov.md"><request><ContentType>Xml</ContentType>'
            b"</request></PostSignRequest></s:Body></s:Envelope>",
            "InvalidParameter",
            "ContentType",
            id="bad-enum",
        ),
        pytest.param(
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
            b'<PostSignRequest xmlns="https://msign.gov.md"><request>'
            b"<ShortContentDescription>x</ShortContentDescription><ContentType>Hash</ContentType>"
            b"</request></PostSignRequest></s:Body></s:Envelope>",
            "InvalidParameter",
            "ShortContentDescription",
            id="misordered",
        ),
    ],
)
def test_malformed_messages_are_soap_faults(live_server, body, code, reason_part):
    fault_code, reason = fault_of(live_server.post_raw(body))
    assert fault_code == code
    assert reason_part in reason
    assert "Traceback" not in reason and "/msign_soap/" not in reason


def test_unexpected_errors_reveal_nothing(service, client, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internal detail at /srv/msign/db.sqlite3")

    monkeypatch.setattr(service.requests, "get", explode)
    fault = call(client, "GetSignResponse", requestID="0" * 32)
    assert fault.code == "s:Server"
    assert fault.message == INTERNAL_ERROR


def test_other_http_methods_are_refused(live_server):
    response = requests.put(live_server.soap_url, data=b"x", timeout=10)
    assert response.status_code == 405


def test_reasons_quoting_the_caller_are_bounded(live_server):
    action = "urn:" + "x" * 100_000
    body = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header>'
        f'<Action xmlns="http://schemas.microsoft.com/ws/2005/05/addressing/none">{action}</Action></s:Header>'
        '<s:Body><GetSignResponse xmlns="https://msign.gov.md"/></s:Body></s:Envelope>'
    )
    code, reason = fault_of(live_server.post_raw(body))
    assert code == "s:Client"
    assert reason.startswith("The Action header 'urn:xxx")
    assert len(reason) <= 500
