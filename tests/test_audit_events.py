"""The service records what happens in the audit trail: a request's life,
consumer changes, PIN lockouts, verifications — with consumer and address,
and nothing secret."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.test import Client

from .conftest import WsgiTransport, issue_certificate, make_service, sha1, soap_client
from .test_web import ION, ION_PIN, enter, soap_request, submit

pytestmark = pytest.mark.postgresql


def from_address(app: Any, address: str) -> Any:
    """``app`` as reached from ``address`` (Werkzeug's test client sets no ``REMOTE_ADDR``)."""
    return lambda environ, start_response: app({**environ, "REMOTE_ADDR": address}, start_response)


def events(service: Any, request_id: str) -> list[tuple[str, str | None, dict]]:
    return [(r.event, r.address, r.detail) for r in service.requests.audit.history(request_id)]


def test_a_request_signed_on_the_page(tmp_path: Any, clock: Any, database_url: str | None) -> None:
    service = make_service(tmp_path, clock, database_url=database_url)
    try:
        client = soap_client("http://testserver/MSign.svc", WsgiTransport(from_address(service, "203.0.113.5")))
        browser = Client(from_address(service, "198.51.100.7"))
        request_id = soap_request(client)
        enter(browser, request_id, lang="en")
        assert submit(browser, request_id, idnp=ION, pin=ION_PIN).status_code == 303
        assert client.GetSignResponse(requestID=request_id).Status == "Success"
        history = events(service, request_id)
        assert [e for e, _, _ in history] == [
            "request.posted",
            "page.opened",
            "instrument.chosen",
            "request.signed",
            "results.fetched",
        ]
        posted, opened, chosen, signed, fetched = history
        assert posted[2] == {"content_type": "Hash", "contents": 2}
        assert opened[2] == {"instrument": None, "lang": "en"}
        assert (posted[1], opened[1], chosen[1], signed[1], fetched[1]) == (
            "203.0.113.5",
            "198.51.100.7",
            "198.51.100.7",
            None,  # the signing flow's own step
            "203.0.113.5",
        )
        assert chosen[2] == {"instrument": "securesign"}
        assert fetched[2] == {"status": "Success"}
        assert service.requests.audit.verify().ok
        text = json.dumps([r.as_dict() for r in service.requests.audit.history(request_id)])
        assert ION_PIN not in text.replace(ION, "")  # the PIN is nowhere (the IDNP ends with it)
    finally:
        service.close()


def test_cancel_expiry_and_lockout(tmp_path: Any, clock: Any, database_url: str | None) -> None:
    service = make_service(tmp_path, clock, pin_attempts=2, database_url=database_url)
    try:
        client = soap_client("http://testserver/MSign.svc", WsgiTransport(service))
        browser = Client(service)
        cancelled = soap_request(client)
        enter(browser, cancelled, lang="en")
        token = browser.get(f"/{cancelled}/sign").get_data(as_text=True).split('name="csrf" value="')[1].split('"')[0]
        browser.post(f"/{cancelled}/cancel", data={"csrf": token})
        assert [e for e, _, d in events(service, cancelled)][-2:] == ["request.failed", "request.cancelled"]
        assert events(service, cancelled)[-2][2] == {"reason": "The user cancelled the signing"}

        locked = soap_request(client)
        enter(browser, locked, lang="en")
        for _ in range(2):
            submit(browser, locked, idnp=ION, pin="0000")
        [lockout] = service.requests.audit.records("pin.lockout")
        assert lockout.detail["idnp"] == ION and lockout.detail["reason"] == "wrong PIN"
        assert "0000" not in json.dumps(lockout.detail)

        expiring = soap_request(client)
        clock.advance(seconds=service.config.request_lifetime + 1)
        service.requests.run_maintenance()
        assert events(service, expiring)[-1][0] == "request.expired"
        assert service.requests.audit.verify().ok
    finally:
        service.close()


def test_consumer_changes_and_verifications(tmp_path: Any, clock: Any, database_url: str | None) -> None:
    service = make_service(tmp_path, clock, database_url=database_url)
    try:
        ca = issue_certificate("Client CA", ec.generate_private_key(ec.SECP256R1()), ca=True)
        first = issue_certificate("alpha", ec.generate_private_key(ec.SECP256R1()), ca).certificate
        second = issue_certificate("alpha 2", ec.generate_private_key(ec.SECP256R1()), ca).certificate
        consumers = service.consumers
        assert consumers is not None
        consumers.add("alpha", first)
        consumers.add_certificate("alpha", second)
        consumers.set_enabled("alpha", False)
        consumers.set_enabled("alpha", True)
        consumers.remove_certificate("alpha", format(first.serial_number, "X"))
        client = soap_client("http://testserver/MSign.svc", WsgiTransport(service))
        client.VerifySignatures(
            request={
                "SignedContentType": "Hash",
                "Contents": {"VerificationContent": [{"Content": sha1("x"), "Signature": b"<not-xades/>"}]},
            }
        )
        trail = service.requests.audit.records()
        assert [r.event for r in trail] == [
            "consumer.added",
            "consumer.certificate_added",
            "consumer.disabled",
            "consumer.enabled",
            "consumer.certificate_removed",
            "verification.called",
        ]
        assert {r.consumer for r in trail} == {"alpha", "demo"}
        assert trail[0].detail == {"serial": format(first.serial_number, "X")}
        assert trail[-1].detail == {"content_type": "Hash", "contents": 1, "valid": 0}
        assert base64.b64encode(sha1("x")).decode() not in json.dumps([r.as_dict() for r in trail])
    finally:
        service.close()
