"""The served WSDL is the real service's contract, and the committed one is current."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import requests
from lxml import etree

from msign_soap.soap import MSignService, build_wsdl, published_wsdl, with_address

from .conftest import REFERENCE_WSDL

ROOT = Path(__file__).parent.parent
REFERENCE_SHA256 = "13f69a404f2d9c18f6219a07f60cd759c159e1c46c7c380a0741d17b011cd06a"
REFERENCE_ADDRESS = "https://msign.staging.egov.md:8443/MSign.svc"
WSDL_SOAP = "{http://schemas.xmlsoap.org/wsdl/soap/}"
#: Attributes whose values are QNames: compared by namespace URI, not prefix.
QNAME_ATTRIBUTES = {"type", "base", "element", "message", "binding"}


def _resolve(element: etree._Element, value: str) -> str:
    prefix, _, local = value.rpartition(":")
    if prefix and prefix in (element.nsmap or {}):
        return f"{{{element.nsmap[prefix]}}}{local}"
    return value


def structure(element: etree._Element, path: str = "") -> list[str]:
    """Every element, attribute and text of a document as lines, prefixes resolved."""
    here = f"{path}/{etree.QName(element).localname}"
    name = element.get("name")
    if name:
        here += f"[{name}]"
    lines = [f"{here} tag={element.tag}"]
    for key in sorted(element.attrib):
        value = element.get(key)
        if key in QNAME_ATTRIBUTES:
            value = _resolve(element, value)
        if element.tag == f"{WSDL_SOAP}address" and key == "location":
            value = "<address>"
        lines.append(f"{here} @{key}={value}")
    text = (element.text or "").strip()
    if text:
        lines.append(f"{here} text={text}")
    for child in element:
        if isinstance(child.tag, str):
            lines.extend(structure(child, here))
    return lines


def structural_differences(ours: bytes, reference: bytes) -> list[str]:
    import difflib

    a = structure(etree.fromstring(reference))
    b = structure(etree.fromstring(ours))
    return [
        line
        for line in difflib.unified_diff(a, b, "reference", "served", lineterm="", n=0)
        if not line.startswith(("---", "+++", "@@"))
    ]


def test_reference_copy_is_the_real_wsdl():
    assert hashlib.sha256(REFERENCE_WSDL.read_bytes()).hexdigest() == REFERENCE_SHA256


def test_generated_wsdl_is_committed():
    committed = (ROOT / "wsdl" / "MSign.wsdl").read_bytes()
    assert build_wsdl(MSignService) == committed, "wsdl/MSign.wsdl drifted: run `msign-soap wsdl -o wsdl/MSign.wsdl`"
    assert published_wsdl() == committed


def test_generated_wsdl_equals_reference_but_for_the_address():
    generated = with_address(build_wsdl(MSignService), REFERENCE_ADDRESS)
    assert generated == REFERENCE_WSDL.read_bytes()


@pytest.mark.parametrize("query", ["wsdl", "singleWsdl", "WSDL", "singlewsdl"])
def test_served_wsdl_is_structurally_the_reference(live_server, query):
    response = requests.get(f"{live_server.soap_url}?{query}", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    assert structural_differences(response.content, REFERENCE_WSDL.read_bytes()) == []
    address = etree.fromstring(response.content).find(f".//{WSDL_SOAP}address").get("location")
    assert address == live_server.soap_url


def test_structural_diff_reports_a_changed_member():
    reference = REFERENCE_WSDL.read_bytes()
    changed = reference.replace(
        b'name="ShortContentDescription" nillable="true"', b'name="ShortContentDescription" nillable="false"'
    )
    differences = structural_differences(changed, reference)
    assert any("ShortContentDescription" in line and "nillable=false" in line for line in differences)


def test_address_follows_the_host_the_wsdl_was_fetched_from(service):
    from werkzeug.test import Client

    response = Client(service).get(
        "/MSign.svc?singleWsdl", headers={"Host": "msign.example.org:8443"}, base_url="https://msign.example.org:8443"
    )
    location = etree.fromstring(response.get_data()).find(f".//{WSDL_SOAP}address").get("location")
    assert location == "https://msign.example.org:8443/MSign.svc"


def test_address_is_escaped(service):
    from werkzeug.test import Client

    response = Client(service).get("/MSign.svc?wsdl", headers={"Host": 'evil"&<x'})
    assert response.status_code == 200
    etree.fromstring(response.get_data())  # still well-formed


def test_plain_get_shows_a_help_page(live_server):
    response = requests.get(live_server.soap_url, timeout=10)
    assert response.status_code == 200
    assert "singleWsdl" in response.text


def test_zeep_builds_a_client_from_the_served_wsdl(live_server):
    import zeep

    client = zeep.Client(live_server.soap_url + "?singleWsdl")
    operations = client.service._binding._operations
    assert sorted(operations) == ["GetSignResponse", "PostSignRequest", "VerifySignatures"]
    assert operations["PostSignRequest"].soapaction == "https://msign.gov.md/IMSign/PostSignRequest"
