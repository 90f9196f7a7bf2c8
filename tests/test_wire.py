"""Wire compatibility: the documented sample envelopes, WCF forms, WCF-style answers."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from lxml import etree

from .conftest import IDNP, b64, sha1

SAMPLES = Path(__file__).parent / "data" / "samples"
NS = {
    "s": "http://schemas.xmlsoap.org/soap/envelope/",
    "m": "https://msign.gov.md",
    "i": "http://www.w3.org/2001/XMLSchema-instance",
}
ACTION = "https://msign.gov.md/IMSign/"


def sample(name: str) -> bytes:
    return (SAMPLES / f"{name}.xml").read_bytes()


def children(element: etree._Element) -> list[str]:
    return [etree.QName(child).localname for child in element if isinstance(child.tag, str)]


def post_sample(live_server, **headers: str) -> str:
    response = live_server.post_raw(sample("PostSignRequest.request"), **headers)
    assert response.status_code == 200, response.text
    return etree.fromstring(response.content).findtext(".//m:PostSignRequestResult", namespaces=NS)


def envelope(body: str, header: str = "") -> str:
    return (
        f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
        f"{'<s:Header>' + header + '</s:Header>' if header else ''}<s:Body>{body}</s:Body></s:Envelope>"
    )


def get_request(request_id: str, language: str = "") -> str:
    return envelope(
        f'<GetSignResponse xmlns="https://msign.gov.md"><requestID>{request_id}</requestID>{language}</GetSignResponse>'
    )


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"SOAPAction": f'"{ACTION}PostSignRequest"'}, id="quoted-soapaction"),
        pytest.param({"SOAPAction": f"{ACTION}PostSignRequest"}, id="bare-soapaction"),
        pytest.param({}, id="no-soapaction"),
        pytest.param({"SOAPAction": '""'}, id="empty-soapaction"),
    ],
)
def test_sample_post_sign_request_byte_for_byte(live_server, headers):
    request_id = post_sample(live_server, **headers)
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)


def test_sample_post_response_has_the_documented_shape(live_server):
    response = live_server.post_raw(sample("PostSignRequest.request"))
    ours = etree.fromstring(response.content)
    documented = etree.fromstring(sample("PostSignRequest.response"))
    assert [e.tag for e in ours.iter()] == [e.tag for e in documented.iter()]
    wrapper = ours.find(".//m:PostSignRequestResponse", NS)
    assert wrapper.prefix is None  # default namespace, as WCF writes it
    assert not response.content.startswith(b"<?xml")
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"


def test_sample_get_sign_response_pending_then_success(live_server):
    request_id = post_sample(live_server)
    body = sample("GetSignResponse.request").replace(b"eec7709d372b41109e2ea3e200e99727", request_id.encode())
    response = live_server.post_raw(body, SOAPAction=f'"{ACTION}GetSignResponse"')
    assert response.status_code == 200, response.text
    result = etree.fromstring(response.content).find(".//m:GetSignResponseResult", NS)
    assert children(result) == ["Message", "Results", "Status"]
    assert result.find("m:Message", NS).get(f"{{{NS['i']}}}nil") == "true"
    assert result.find("m:Results", NS).get(f"{{{NS['i']}}}nil") == "true"
    assert result.findtext("m:Status", namespaces=NS) == "Pending"

    live_server.complete(request_id, [("3408cc344e474a529f3425176a75d08e", b"CERT", b"<?xml version='1.0'?><x/>")])
    response = live_server.post_raw(body)
    ours = etree.fromstring(response.content)
    documented = etree.fromstring(sample("GetSignResponse.response"))
    result = ours.find(".//m:GetSignResponseResult", NS)
    assert "i" in result.nsmap and result.nsmap["i"] == NS["i"]
    # The documented sample predates Message; WCF writes the null Message as nil first.
    assert children(result) == ["Message"] + children(documented.find(".//m:GetSignResponseResult", NS))
    item = result.find("m:Results/m:SignResult", NS)
    assert children(item) == ["Certificate", "CorrelationID", "Signature"]
    assert item.findtext("m:CorrelationID", namespaces=NS) == "3408cc344e474a529f3425176a75d08e"
    assert base64.b64decode(item.findtext("m:Signature", namespaces=NS)).startswith(b"<?xml")
    assert result.findtext("m:Status", namespaces=NS) == "Success"


def test_sample_verify_signatures_verbatim_names_the_truncated_signature(live_server):
    # The docs abbreviate the Signature as "PD94… ", which is not base64.
    response = live_server.post_raw(sample("VerifySignatures.request"), SOAPAction=f'"{ACTION}VerifySignatures"')
    assert response.status_code == 500
    fault = etree.fromstring(response.content).find(".//s:Fault", NS)
    assert fault.findtext("faultcode") == "InvalidParameter"
    assert fault.findtext("faultstring") == "Signature is not valid base64"


def test_sample_verify_signatures_with_a_document_that_is_no_xades(live_server):
    body = sample("VerifySignatures.request").replace("PD94… ".encode(), b64(b"<?xml version='1.0'?><x/>").encode())
    response = live_server.post_raw(body, SOAPAction=f'"{ACTION}VerifySignatures"')
    assert response.status_code == 200, response.content
    [result] = etree.fromstring(response.content).findall(".//m:VerificationResult", NS)
    assert children(result) == ["CorrelationID", "Message", "SignaturesValid"]  # no certificates: EDV omitted
    assert result.findtext("m:CorrelationID", namespaces=NS) == "bd73ed7eabc44ab290b18181a9e7fd2b"
    assert result.findtext("m:Message", namespaces=NS).startswith("The signature could not be read")
    assert result.findtext("m:SignaturesValid", namespaces=NS) == "false"


def test_wcf_nil_forms_are_accepted(live_server):
    body = envelope(f"""<PostSignRequest xmlns="https://msign.gov.md">
      <request xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
        <ContentDescription i:nil="true"/>
        <ContentType>Hash</ContentType>
        <Contents><SignContent><Content>{b64(sha1("a"))}</Content><CorrelationID i:nil="true"/>
          <MultipleSignatures>false</MultipleSignatures><Name i:nil="true"/></SignContent></Contents>
        <ExpectedSigner><DelegatedRoleID>0</DelegatedRoleID><DelegatorID i:nil="true"/>
          <DelegatorType>None</DelegatorType><ID>{IDNP}</ID></ExpectedSigner>
        <ShortContentDescription>Short</ShortContentDescription>
        <SignatureReason i:nil="true"/>
      </request></PostSignRequest>""")
    response = live_server.post_raw(body, SOAPAction=f'"{ACTION}PostSignRequest"', Expect="100-continue")
    assert response.status_code == 200, response.text


def test_language_nil_and_absent(live_server):
    request_id = post_sample(live_server)
    for language in ('<language xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true"/>', ""):
        response = live_server.post_raw(get_request(request_id, language))
        assert response.status_code == 200, response.text


def test_failure_writes_message_and_results_without_edv_members(live_server):
    request_id = post_sample(live_server)
    live_server.service.requests.fail(request_id)
    response = live_server.post_raw(get_request(request_id, "<language>en</language>"))
    result = etree.fromstring(response.content).find(".//m:GetSignResponseResult", NS)
    assert result.findtext("m:Message", namespaces=NS) == "Signing failed"
    item = result.find("m:Results/m:SignResult", NS)
    assert children(item) == ["CorrelationID"]  # Certificate/Signature are EmitDefaultValue=false
    assert result.findtext("m:Status", namespaces=NS) == "Failure"


@pytest.mark.parametrize(
    "header, code",
    [
        pytest.param(
            f'<Action s:mustUnderstand="1" xmlns="http://schemas.microsoft.com/ws/2005/05/addressing/none">'
            f"{ACTION}PostSignRequest</Action>",
            None,
            id="addressing-none-action",
        ),
        pytest.param(
            f'<a:Action s:mustUnderstand="1" xmlns:a="http://www.w3.org/2005/08/addressing">'
            f"{ACTION}PostSignRequest</a:Action>",
            None,
            id="wsa10-action",
        ),
        pytest.param(
            f'<Action s:mustUnderstand="1" xmlns="http://schemas.microsoft.com/ws/2005/05/addressing/none">'
            f"{ACTION}GetSignResponse</Action>",
            "s:Client",
            id="mismatched-action",
        ),
        pytest.param(
            '<Security s:mustUnderstand="1" xmlns="urn:example"/>', "s:MustUnderstand", id="unknown-mustunderstand"
        ),
        pytest.param('<Trace xmlns="urn:example">x</Trace>', None, id="unknown-optional-header"),
    ],
)
def test_headers(live_server, header, code):
    body = sample("PostSignRequest.request").decode()
    body = re.sub(r"<s:Header>.*?</s:Header>", f"<s:Header>{header}</s:Header>", body, flags=re.S)
    response = live_server.post_raw(body)
    if code is None:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 500
        assert etree.fromstring(response.content).findtext(".//faultcode") == code


def test_mismatched_soapaction_is_refused(live_server):
    response = live_server.post_raw(sample("PostSignRequest.request"), SOAPAction=f'"{ACTION}GetSignResponse"')
    assert response.status_code == 500
    assert "does not match" in etree.fromstring(response.content).findtext(".//faultstring")


def test_zeep_round_trip_in_process(client):
    request_id = client.PostSignRequest(
        request={
            "ContentType": "Hash",
            "Contents": {"SignContent": [{"Content": sha1("x"), "CorrelationID": "c1", "Name": "x.txt"}]},
            "ShortContentDescription": "Short",
            "ContentDescription": "Long description",
            "ExpectedSigner": {"ID": IDNP},
        }
    )
    response = client.GetSignResponse(requestID=request_id, language=None)
    assert response.Status == "Pending"
    assert response.Message is None
