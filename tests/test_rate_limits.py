"""Rate limits: token buckets, SOAP calls per consumer and per address (HTTP 503), PIN entries per address."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from lxml import etree
from werkzeug.test import Client

from msign_soap.core.ratelimit import RateLimiter

from .conftest import WsgiTransport, make_service, sha1, soap_client
from .test_web import ION, ION_PIN, enter, html, soap_request, submit

POST = (
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><PostSignRequest '
    'xmlns="https://msign.gov.md"><request><ContentType>Hash</ContentType><Contents><SignContent><Content>'
    + base64.b64encode(sha1("x")).decode()
    + "</Content></SignContent></Contents><ShortContentDescription>Limits</ShortContentDescription>"
    "</request></PostSignRequest></s:Body></s:Envelope>"
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket() -> None:
    clock = Clock()
    limiter = RateLimiter(2.0, 3, clock=clock)
    assert [limiter.take("a") for _ in range(4)] == [0, 0, 0, 1]
    assert limiter.take("b") == 0  # buckets are per key
    clock.now += 0.5  # one token back
    assert limiter.take("a") == 0 and limiter.take("a") == 1
    clock.now += 100  # never more than the burst
    assert [limiter.take("a") for _ in range(4)] == [0, 0, 0, 1]
    slow = RateLimiter(0.1, 1, clock=clock)
    assert (slow.take("a"), slow.take("a")) == (0, 10)  # whole seconds until a token


def test_forgotten_keys_are_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(1.0, 1, max_keys=2, clock=clock)
    for key in ("a", "b", "c"):
        assert limiter.take(key) == 0
    assert len(limiter._buckets) == 2
    assert limiter.take("a") == 0  # forgotten, so full again
    assert limiter.take("c") == 1


@pytest.mark.parametrize("bad", [pytest.param((0, 1), id="no-rate"), pytest.param((1, 0), id="no-burst")])
def test_limits_must_admit_something(bad: tuple[float, int]) -> None:
    with pytest.raises(ValueError):
        RateLimiter(*bad)


@pytest.mark.parametrize(
    "settings, other_address",
    [
        # the demo consumer is one consumer from every address
        pytest.param({"soap_rate_limit": 1.0, "soap_address_rate_limit": 0}, 503, id="per-consumer"),
        pytest.param({"soap_rate_limit": 0, "soap_address_rate_limit": 1.0}, 200, id="per-address"),
    ],
)
def test_soap_calls_over_the_limit_get_503(tmp_path: Any, clock: Any, settings: dict, other_address: int) -> None:
    service = make_service(tmp_path, clock, **settings)
    try:
        client = Client(service)
        headers = {
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": '"https://msign.gov.md/IMSign/PostSignRequest"',
        }
        answers = [
            client.post("/MSign.svc", data=POST, headers=headers, environ_overrides={"REMOTE_ADDR": "10.0.0.1"})
            for _ in range(3)
        ]
        assert [a.status_code for a in answers] == [200, 200, 503]  # a burst of twice the rate, then no more
        refused = answers[2]
        assert refused.headers["Retry-After"] == "1"
        fault = etree.fromstring(refused.get_data()).find(".//{http://schemas.xmlsoap.org/soap/envelope/}Fault")
        assert fault.findtext("faultcode") == "s:Server"
        assert fault.findtext("faultstring") == "Too many requests; retry in 1 s"
        with service.store.db.connection_context():
            assert service.store.models.SignRequest.select().count() == 2
        other = {"REMOTE_ADDR": "10.9.9.9"}
        assert (
            client.post("/MSign.svc", data=POST, headers=headers, environ_overrides=other).status_code == other_address
        )
    finally:
        service.close()


def test_pin_entries_over_the_limit_are_slowed_down(tmp_path: Any, clock: Any) -> None:
    service = make_service(tmp_path, clock, pin_rate_limit=0.001, pin_attempts=50)
    try:
        client = soap_client("http://testserver/MSign.svc", WsgiTransport(service))
        browser = Client(service)
        request_id = soap_request(client)
        enter(browser, request_id, lang="en")
        statuses = [submit(browser, request_id, idnp=ION, pin="0000").status_code for _ in range(10)]
        assert statuses == [200] * 10  # wrong PINs, counted by the key
        refused = submit(browser, request_id, idnp=ION, pin=ION_PIN)
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        alert = html(refused).xpath("//*[@role='alert']")[0].text_content()
        assert "Too many attempts from your connection" in alert
        assert client.GetSignResponse(requestID=request_id, language="en").Status == "Pending"
    finally:
        service.close()
