"""The mobile signature in a real browser: Playwright driving Debian's
Chromium (``/usr/bin/chromium``) against the service, the bundled MSSP
simulator mounted under it and a tiny e-service, each on loopback.

The sign page in one tab, the simulator's phone page in a second: approve
with the SIM PIN (the callback reaches the ReturnUrl, GetSignResponse is
``Success``) or refuse (``Failure``); the verification code is the same on
the page and on the phone, for every content.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from msign_soap.app import create_app
from msign_soap.config import load_config
from msign_soap.pki import DEMO_PEOPLE

from .conftest import FrozenClock, save_screenshot_if_failed, soap_client
from .pki_support import seed_demo_pki, serve
from .test_browser import TIMEOUT_MS, EService, entry_url
from .test_browser import serve as serve_app

pytestmark = pytest.mark.browser

ION, MARIA, VASILE = DEMO_PEOPLE[:3]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service on loopback, its public URL its own (the simulator is mounted at /mssp-sim/)."""
    data_dir: Path = tmp_path_factory.mktemp("mobile-browser") / "data"
    seed_demo_pki(data_dir)
    with serve() as (url, server):
        service = create_app(load_config(environ={}, data_dir=data_dir, public_url=url), FrozenClock())
        server.app = service
        try:
            yield url
        finally:
            service.close()


@pytest.fixture
def eservice() -> Iterator[EService]:
    app = EService()
    app.url, stop = serve_app(app)
    try:
        yield app
    finally:
        stop()


@pytest.fixture
def tabs(chromium: Any, request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any]]:
    """The sign page's tab and its browser context (to open the phone's);
    a screenshot of the sign page if the test fails."""
    context = chromium.new_context(locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page, context
    finally:
        save_screenshot_if_failed(request, page)
        context.close()


def post(url: str, signer: str, count: int) -> tuple[Any, str]:
    client = soap_client(url + "/MSign.svc")
    contents = [{"Content": bytes([i + 1]) * 20, "CorrelationID": f"h{i}"} for i in range(count)]
    request_id = client.PostSignRequest(
        request={
            "ContentType": "Hash",
            "Contents": {"SignContent": contents},
            "ShortContentDescription": "Contract no. 12",
            "ExpectedSigner": {"ID": signer},
        }
    )
    return client, request_id


def test_approve_each_content_on_the_phone(site, eservice, tabs):
    client, request_id = post(site, ION.idnp, count=2)
    page, context = tabs
    page.goto(entry_url(site, request_id, eservice))
    page.click("[data-instrument=mobile]")
    page.fill("input[name=msisdn]", ION.msisdn[3:])
    page.click("[data-action=sign]")
    page.wait_for_selector("[data-progress='1/2']")

    phone = context.new_page()
    phone.goto(f"{site}/mssp-sim/phone/{ION.msisdn}")
    for k in (1, 2):
        page.wait_for_selector(f"[data-progress='{k}/2']")
        code = page.get_attribute("[data-verification-code]", "data-verification-code")
        phone.wait_for_selector("[data-action=approve]")  # the phone page looks again until it arrives
        assert phone.get_attribute("[data-verification-code]", "data-verification-code") == code
        assert phone.locator(".text").inner_text().endswith(f"({k}/2) · {code}")
        phone.fill("input[name=pin]", ION.sim_pin)
        phone.click("[data-action=approve]")
        phone.wait_for_selector("[role=status]")
    # the progress page reloads itself, finds the request signed, and the result page posts the callback
    page.wait_for_url(eservice.url + "/back?x=1")
    assert page.locator("#back").is_visible()
    assert eservice.callbacks == [{"form": {"RequestID": request_id, "RelayState": "abc"}, "query": {"x": "1"}}]
    answer = client.GetSignResponse(requestID=request_id, language="en")
    assert answer.Status == "Success" and len(answer.Results.SignResult) == 2


def test_refuse_on_the_phone(site, eservice, tabs):
    client, request_id = post(site, MARIA.idnp, count=1)
    page, context = tabs
    # MSISDN and ExpectedSigner.ID known: Instrument=mobile opens the form directly
    page.goto(entry_url(site, request_id, eservice) + f"&Instrument=mobile&MSISDN={MARIA.msisdn}")
    assert page.input_value("input[name=msisdn]") == MARIA.msisdn[3:]
    page.click("[data-action=sign]")
    code = page.get_attribute("[data-verification-code]", "data-verification-code")

    phone = context.new_page()
    phone.goto(f"{site}/mssp-sim/phone/{MARIA.msisdn}")
    assert phone.get_attribute("[data-verification-code]", "data-verification-code") == code
    phone.click("[data-action=refuse]")
    page.wait_for_url(eservice.url + "/back?x=1")
    answer = client.GetSignResponse(requestID=request_id, language="en")
    assert (answer.Status, answer.Message) == ("Failure", "The signing was refused on the phone")


def test_wrong_sim_pin_is_said_on_the_phone(site, eservice, tabs):
    client, request_id = post(site, VASILE.idnp, count=1)
    page, context = tabs
    page.goto(entry_url(site, request_id, eservice) + f"&Instrument=mobile&MSISDN={VASILE.msisdn}")
    page.click("[data-action=sign]")
    phone = context.new_page()
    phone.goto(f"{site}/mssp-sim/phone/{VASILE.msisdn}")
    phone.fill("input[name=pin]", "0000")
    phone.click("[data-action=approve]")
    assert "Wrong PIN. Attempts left: 2." in phone.locator("[role=alert]").inner_text()
    assert page.locator("[data-progress]").is_visible()
    phone.fill("input[name=pin]", VASILE.sim_pin)
    phone.click("[data-action=approve]")
    page.wait_for_url(eservice.url + "/back?x=1")
    assert client.GetSignResponse(requestID=request_id, language="en").Status == "Success"
