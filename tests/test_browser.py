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

from msign_soap.core import SignContentInput

from .conftest import FrozenClock, make_service, save_screenshot_if_failed, soap_client

pytestmark = pytest.mark.browser

ION = "2004001234567"
ION_PIN = "4567"  # securesign: the last 4 digits of the IDNP
TIMEOUT_MS = 20_000


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


# -- batches, backends, refusals, languages --------------------------------------


#: The sites whose ``securesign`` keys live in the software keystore and in SoftHSM2 tokens.
CLOUD_KEY_BACKENDS = [
    pytest.param("site", "SoftwareCloudKey", id="software-keystore"),
    pytest.param("hsm_site", "Pkcs11CloudKey", id="pkcs11-softhsm"),
]


def post_batch(url: str, content_type: str, contents: list[dict[str, Any]], **request: Any) -> tuple[Any, str]:
    client = soap_client(url + "/MSign.svc")
    request_id = client.PostSignRequest(
        request={
            "ContentType": content_type,
            "Contents": {"SignContent": contents},
            "ShortContentDescription": "Batch",
            **request,
        }
    )
    return client, request_id


def sign_with_cloud_key(page: Any, entry: str, idnp: str, pin: str, return_url: str, card: str = "securesign") -> None:
    page.goto(entry)
    page.click(f"[data-instrument={card}]")
    if page.locator("input[name=idnp]").get_attribute("readonly") is None:
        page.fill("input[name=idnp]", idnp)
    page.fill("input[name=pin]", pin)
    with page.expect_navigation(url=return_url):
        page.click("[data-action=sign]")


@pytest.mark.parametrize(("site_fixture", "backend"), CLOUD_KEY_BACKENDS)
def test_pdf_batch_signed_and_accepted_by_pdfsig_and_pyhanko(site_fixture, backend, request, eservice, page, tmp_path):
    from .conftest import in_thread, minimal_pdf
    from .test_pades import pdfsig
    from .test_signing_flow import pyhanko_status

    url, service = request.getfixturevalue(site_fixture)
    assert type(service.instruments["securesign"]).__name__ == backend
    documents = [minimal_pdf(f"Act {i}") for i in (1, 2)]
    contents = [{"Content": d, "CorrelationID": f"p{i}", "Name": f"Act {i}.pdf"} for i, d in enumerate(documents)]
    client, request_id = post_batch(url, "Pdf", contents)
    sign_with_cloud_key(page, entry_url(url, request_id, eservice), ION, ION_PIN, eservice.url + "/back?x=1")
    response = client.GetSignResponse(requestID=request_id, language="en")
    assert response.Status == "Success"
    results = response.Results.SignResult
    assert [r.CorrelationID for r in results] == ["p0", "p1"]
    for document, result in zip(documents, results, strict=True):
        assert result.Signature.startswith(document)  # an incremental update of what was posted
        [checked] = pdfsig(result.Signature, tmp_path)
        assert checked["Signature Validation"] == "Signature is Valid."
        assert "Total document signed" in checked, checked
        validity = in_thread(pyhanko_status, result.Signature, service)  # off Playwright's event loop
        assert validity.intact and validity.valid and validity.trusted


@pytest.fixture(scope="module")
def hsm_site(tmp_path_factory: pytest.TempPathFactory, softhsm: Path) -> Iterator[tuple[str, Any]]:
    """The service with ``securesign`` keys in SoftHSM2 tokens, on a real server."""
    service = make_service(
        tmp_path_factory.mktemp("browser-hsm"), FrozenClock(), pkcs11_module=softhsm, pkcs11_providers="securesign"
    )
    url, stop = serve(service)
    try:
        yield url, service
    finally:
        stop()
        service.close()


@pytest.mark.parametrize(("site_fixture", "backend"), CLOUD_KEY_BACKENDS)
def test_hash_batch_signed_and_accepted_by_xmlsec1(site_fixture, backend, request, eservice, page, tmp_path):
    import hashlib
    import shutil

    from .test_signing_flow import pem_file, xmlsec1_verify

    url, service = request.getfixturevalue(site_fixture)
    assert type(service.instruments["securesign"]).__name__ == backend
    documents = [b"first", b"second", b"third"]
    contents = [{"Content": hashlib.sha1(d).digest(), "CorrelationID": f"c{i}"} for i, d in enumerate(documents)]
    client, request_id = post_batch(url, "Hash", contents, ExpectedSigner={"ID": ION})
    sign_with_cloud_key(page, entry_url(url, request_id, eservice), ION, ION_PIN, eservice.url + "/back?x=1")
    assert eservice.callbacks[0]["form"] == {"RequestID": request_id, "RelayState": "abc"}
    response = client.GetSignResponse(requestID=request_id, language="en")
    assert response.Status == "Success"
    if shutil.which("xmlsec1") is None and not os.environ.get("CI"):
        pytest.skip("xmlsec1 is not installed")
    root = pem_file(tmp_path / "root.pem", service.pki.root.certificate)
    for i, (document, result) in enumerate(zip(documents, response.Results.SignResult, strict=True)):
        verified = xmlsec1_verify(result.Signature, tmp_path, root, document, f"urn:msign:content:c{i}")
        assert verified.returncode == 0, verified.stderr


def test_expected_signer_mismatch_ends_as_failure(site, eservice, page):
    url, _ = site
    maria = "2001002345678"
    client, request_id = post_batch(url, "Hash", [{"Content": b"\x02" * 20}], ExpectedSigner={"ID": maria})
    page.goto(entry_url(url, request_id, eservice))
    page.click("[data-instrument=securesign]")
    assert page.locator("input[name=idnp]").input_value() == maria  # read-only: ExpectedSigner.ID
    assert page.locator("input[name=idnp]").get_attribute("readonly") is not None
    # A forged form (the read-only field edited) is still refused by the signing flow.
    page.evaluate("document.querySelector('input[name=idnp]').removeAttribute('readonly')")
    page.fill("input[name=idnp]", ION)
    page.fill("input[name=pin]", ION_PIN)
    with page.expect_navigation(url=eservice.url + "/back?x=1"):
        page.click("[data-action=sign]")
    answer = client.GetSignResponse(requestID=request_id, language="en")
    assert (answer.Status, answer.Message) == (
        "Failure",
        "The certificate belongs to another person than the one expected to sign",
    )


def test_pin_lockout_is_shown_and_keeps_the_request_pending(site, eservice, page):
    url, _ = site
    andrei, wrong = "2005005678902", "0000"  # his key only: the other tests keep theirs
    client, request_id = post_batch(url, "Hash", [{"Content": b"\x03" * 20}])
    page.goto(entry_url(url, request_id, eservice) + "&Instrument=securesign")
    for left in (4, 3, 2, 1):
        page.fill("input[name=idnp]", andrei)
        page.fill("input[name=pin]", wrong)
        page.click("[data-action=sign]")
        assert f"{left}" in page.locator("[role=alert]").inner_text()
    page.fill("input[name=idnp]", andrei)
    page.fill("input[name=pin]", wrong)
    page.click("[data-action=sign]")
    assert "locked" in page.locator("[role=alert]").inner_text()
    page.fill("input[name=idnp]", andrei)
    page.fill("input[name=pin]", "8902")  # the right PIN, while locked
    page.click("[data-action=sign]")
    assert "locked" in page.locator("[role=alert]").inner_text()
    assert client.GetSignResponse(requestID=request_id, language="en").Status == "Pending"
    assert not eservice.callbacks


@pytest.mark.parametrize(
    ("lang", "title", "cancel"),
    [
        pytest.param("ro", "Semnarea documentelor", "Anulare", id="ro"),
        pytest.param("ru", "Подписание документов", "Отменить подписание", id="ru"),
        pytest.param("en", "Sign documents", "Cancel signing", id="en"),
    ],
)
def test_the_three_languages_and_the_switch(site, eservice, page, lang, title, cancel):
    url, _ = site
    _, request_id = post_request(url)
    page.goto(entry_url(url, request_id, eservice).replace("lang=en", f"lang={lang}"))
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("h1").inner_text() == title
    assert page.locator("[data-action=cancel]").inner_text() == cancel
    other = {"ro": "en", "ru": "ro", "en": "ru"}[lang]
    page.click(f"header a[lang={other}]")
    assert page.locator("html").get_attribute("lang") == other


def test_a_hostile_content_description_is_shown_inert(site, eservice, page):
    url, _ = site
    hostile = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">&amp; "quoted"'
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _, request_id = post_batch(
        url, "Hash", [{"Content": b"\x04" * 20, "Name": "<b>name</b>"}], ContentDescription=hostile
    )
    page.goto(entry_url(url, request_id, eservice))
    assert page.locator(".description").inner_text() == hostile
    assert page.locator("ul.files li span").first.inner_text() == "<b>name</b>"
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.locator("main img, main script, main b").count() == 0
    assert not errors


# -- the verification page -----------------------------------------------------


def pdf_file(data: bytes) -> dict[str, Any]:
    return {"name": "act.pdf", "mimeType": "application/pdf", "buffer": data}


def test_verify_page_with_a_valid_and_an_altered_pdf(site, page):
    from .conftest import in_thread, minimal_pdf
    from .test_signing_flow import post, sign, status

    url, service = site

    def signed() -> bytes:
        request_id = post(service, "Pdf", [SignContentInput(minimal_pdf("Verified act"))], signer=None)
        sign(service, request_id)
        return bytes(status(service, request_id).results[0].signature)

    pdf = in_thread(signed)
    altered = pdf.replace(b"(Verified act)", b"(Verified axt)")
    assert altered != pdf
    for document, valid, verdict in ((pdf, "Valid", "valid"), (altered, "Not valid", "altered")):
        page.goto(f"{url}/verify?lang=en")
        page.set_input_files("input[name=signature]", [pdf_file(document)])
        with page.expect_navigation():
            page.click("[data-action=verify]")
        assert page.locator("h1").inner_text() == "Verification report"
        assert page.locator("#verdict").inner_text() == valid
        assert page.locator("[data-verdict]").get_attribute("data-verdict") == verdict
        assert "SERIALNUMBER=2004001234567" in page.locator("[data-signature='1']").inner_text()

    # the same report as a file to keep
    page.goto(f"{url}/verify?lang=ro")
    page.set_input_files("input[name=signature]", [pdf_file(pdf)])
    with page.expect_download() as download:
        page.click("[data-action=download]")
    saved = Path(download.value.path()).read_text()
    assert "Semnătura este validă" in saved and download.value.suggested_filename == "verification-act.pdf.html"
