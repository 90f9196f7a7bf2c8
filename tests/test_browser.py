"""The sign page in a real browser: Playwright driving Debian's Chromium
(``/usr/bin/chromium``; no browser is downloaded) against the service and a
tiny e-service, each on an ephemeral loopback port.

MSign's integration test cases: TC_FUNCT_01 (sign and return), TC_FUNCT_02
(cancel and return), TC_FUNCT_03 (re-open a pending request).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from .conftest import FrozenClock, make_service, save_screenshot_if_failed, soap_client

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ION = "2004001234567"
ION_PIN = "4567"  # securesign: the last 4 digits of the IDNP
TIMEOUT_MS = 20_000


def _missing() -> str | None:
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Debian's chromium is not installed ({CHROMIUM})"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return None


@dataclass
class EService:
    """Receives the callback POSTs at ``/back``."""

    url: str = ""
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    received: threading.Event = field(default_factory=threading.Event)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        if request.method == "POST" and request.path == "/back":
            self.callbacks.append({"form": dict(request.form), "query": dict(request.args)})
            self.received.set()
            body = "<!DOCTYPE html><title>E-service</title><h1 id='back'>Back at the e-service</h1>"
        else:
            body = "<!DOCTYPE html><title>E-service</title><h1>E-service</h1>"
        return Response(body, content_type="text/html; charset=utf-8")(environ, start_response)


def serve(app: Any) -> tuple[str, Callable[[], None]]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)

    return f"http://127.0.0.1:{server.server_port}", stop


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; the browser tests must run in CI")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """The service (its URL and object) on a real server."""
    service = make_service(tmp_path_factory.mktemp("browser"), FrozenClock())
    url, stop = serve(service)
    try:
        yield url, service
    finally:
        stop()
        service.close()


@pytest.fixture
def eservice() -> Iterator[EService]:
    app = EService()
    app.url, stop = serve(app)
    try:
        yield app
    finally:
        stop()


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page in a context of its own; a screenshot under test-artifacts/ if the test fails."""
    context = chromium.new_context(locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        save_screenshot_if_failed(request, page)
        context.close()


def post_request(url: str) -> tuple[Any, str]:
    client = soap_client(url + "/MSign.svc")
    request_id = client.PostSignRequest(
        request={
            "ContentType": "Hash",
            "Contents": {"SignContent": [{"Content": b"\x01" * 20, "CorrelationID": "h0", "Name": "Invoice 7"}]},
            "ShortContentDescription": "Invoice 7",
        }
    )
    return client, request_id


def entry_url(url: str, request_id: str, eservice: EService) -> str:
    params = {"ReturnUrl": eservice.url + "/back?x=1", "RelayState": "abc", "lang": "en"}
    return f"{url}/{request_id}?{urlencode(params)}"


def test_tc_funct_01_sign_and_return(site, eservice, page, tmp_path):
    url, _ = site
    client, request_id = post_request(url)
    page.goto(entry_url(url, request_id, eservice))
    assert page.url == f"{url}/{request_id}/sign"
    shot = tmp_path / "choice.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    page.click("[data-instrument=securesign]")
    page.fill("input[name=idnp]", ION)
    page.fill("input[name=pin]", ION_PIN)
    with page.expect_navigation(url=eservice.url + "/back?x=1"):
        page.click("[data-action=sign]")
    assert page.locator("#back").is_visible()
    assert eservice.callbacks == [{"form": {"RequestID": request_id, "RelayState": "abc"}, "query": {"x": "1"}}]
    assert client.GetSignResponse(requestID=request_id, language="en").Status == "Success"


def test_wrong_pin_then_right_pin(site, eservice, page):
    url, _ = site
    client, request_id = post_request(url)
    page.goto(entry_url(url, request_id, eservice) + "&Instrument=securesign")
    page.fill("input[name=idnp]", ION)
    page.fill("input[name=pin]", "0000")
    page.click("[data-action=sign]")
    assert "The IDNP or the PIN is wrong" in page.locator("[role=alert]").inner_text()
    page.fill("input[name=pin]", ION_PIN)
    with page.expect_navigation(url=eservice.url + "/back?x=1"):
        page.click("[data-action=sign]")
    assert client.GetSignResponse(requestID=request_id, language="en").Status == "Success"


def test_tc_funct_02_cancel_and_return(site, eservice, page):
    url, _ = site
    client, request_id = post_request(url)
    page.goto(entry_url(url, request_id, eservice))
    with page.expect_navigation(url=eservice.url + "/back?x=1"):
        page.click("[data-action=cancel]")
    assert eservice.callbacks == [{"form": {"RequestID": request_id, "RelayState": "abc"}, "query": {"x": "1"}}]
    answer = client.GetSignResponse(requestID=request_id, language="en")
    assert (answer.Status, answer.Message) == ("Failure", "The user cancelled the signing")


def test_tc_funct_03_reopen_a_pending_request(site, eservice, page):
    url, _ = site
    client, request_id = post_request(url)
    page.goto(eservice.url + "/start")
    page.goto(entry_url(url, request_id, eservice))
    assert page.locator("[data-instrument=securesign]").is_visible()
    page.go_back()
    assert page.url == eservice.url + "/start"
    page.goto(entry_url(url, request_id, eservice))
    assert page.url == f"{url}/{request_id}/sign"
    assert page.locator("h1").inner_text() == "Sign documents"
    assert page.locator("[data-instrument]").count() == 5
    assert client.GetSignResponse(requestID=request_id, language="en").Status == "Pending"
    assert not eservice.callbacks


def test_a_failing_browser_test_leaves_a_screenshot(chromium, request, tmp_path, monkeypatch):
    """What the ``page`` fixture does when a test fails, on a stand-in report."""
    from . import conftest

    monkeypatch.setattr(conftest, "FAILURE_SCREENSHOTS", tmp_path)
    page = chromium.new_page()
    try:
        page.set_content("<title>t</title><h1>Failed here</h1>")
        monkeypatch.setattr(request.node, "report_call", type("Report", (), {"failed": True})(), raising=False)
        path = save_screenshot_if_failed(request, page)
        assert path is not None and path.parent == tmp_path and path.read_bytes()[:4] == b"\x89PNG"
        monkeypatch.setattr(request.node, "report_call", type("Report", (), {"failed": False})())
        assert save_screenshot_if_failed(request, page) is None
    finally:
        page.close()
