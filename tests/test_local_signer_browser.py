"""The local-signer instruments in a real browser: Debian's Chromium, driven by
Playwright, against the service, ``msign-soap local-signer``'s application
(a demo person's key exported to PKCS #12, time-stamps from the service's
TSA) and an e-service, each on its own loopback port.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from msign_soap.local_signer import LocalSignerApp, load_pkcs12
from msign_soap.signing.timestamp import HttpTimestamper

from .conftest import FrozenClock, in_thread, make_service, minimal_pdf
from .page_tour import WCAG_21_AA, axe_source
from .pki_support import serve as serve_later
from .test_browser import entry_url, eservice, page, post_batch, serve  # noqa: F401 - fixtures
from .test_local_signer import export_p12

pytestmark = pytest.mark.browser

ION = "2004001234567"


@dataclass
class Site:
    url: str
    service: Any
    signer_url: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The service configured with a local signer that holds Ion Popescu's key (from a PKCS #12 file)."""
    data = tmp_path_factory.mktemp("local-signer-browser")
    with serve_later() as (signer_url, signer_server):
        service = make_service(data, FrozenClock(), local_signer_url=signer_url)
        url, stop = serve(service)
        try:
            p12 = export_p12(service.pki.people[ION], data / "ion.p12", b"demo")
            signer_server.app = LocalSignerApp(load_pkcs12(p12, b"demo"), HttpTimestamper(url + "/tsa"), [url])
            yield Site(url, service, signer_url)
        finally:
            stop()
            service.close()


@pytest.fixture(scope="module")
def site_without_signer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The service configured with a local signer URL where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    signer_url = f"http://127.0.0.1:{port}"
    service = make_service(tmp_path_factory.mktemp("no-signer"), FrozenClock(), local_signer_url=signer_url)
    url, stop = serve(service)
    try:
        yield Site(url, service, signer_url)
    finally:
        stop()
        service.close()


def watch_console(tab: Any) -> list[str]:
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    return errors


# Reports each "k of N" the page shows to the test.
_WATCH_PROGRESS = """() => {
  const p = document.querySelector('[data-role=progress]');
  new MutationObserver(() => window.noteProgress(p.dataset.progress + ' ' + p.textContent))
    .observe(p, {attributes: true, childList: true, subtree: true});
}"""


def sign_through_the_page(tab: Any, entry: str, card: str | None, return_url: str) -> list[str]:
    """Sign on the page; return the progress it showed ("1/3 Document 1 of 3", …)."""
    seen: list[str] = []
    tab.expose_function("noteProgress", lambda value: seen.append(value))
    tab.goto(entry)
    if card is not None:
        tab.click(f"[data-instrument={card}]")
    tab.locator("[data-action=sign]").wait_for(state="visible")  # the certificates are listed
    assert "Ion Popescu" in tab.locator("select[name=certificate]").inner_text()
    tab.evaluate(_WATCH_PROGRESS)
    with tab.expect_navigation(url=return_url, timeout=60_000):
        tab.click("[data-action=sign]")
    return list(dict.fromkeys(seen))


def test_a_hash_batch_signed_with_moldsign(site, eservice, page, tmp_path):  # noqa: F811
    from .test_signing_flow import pem_file, xmlsec1_verify

    errors = watch_console(page)
    documents = [b"first", b"second", b"third"]
    contents = [{"Content": hashlib.sha1(d).digest(), "CorrelationID": f"c{i}"} for i, d in enumerate(documents)]
    client, request_id = post_batch(site.url, "Hash", contents, ExpectedSigner={"ID": ION})
    progress = sign_through_the_page(
        page, entry_url(site.url, request_id, eservice), "moldsign", eservice.url + "/back?x=1"
    )
    assert progress == [f"{k}/3 Document {k} of 3" for k in (1, 2, 3)]
    assert eservice.callbacks == [{"form": {"RequestID": request_id, "RelayState": "abc"}, "query": {"x": "1"}}]
    response = client.GetSignResponse(requestID=request_id, language="en")
    assert response.Status == "Success"
    assert not errors
    if shutil.which("xmlsec1") is None and not os.environ.get("CI"):
        pytest.skip("xmlsec1 is not installed")
    root = pem_file(tmp_path / "root.pem", site.service.pki.root.certificate)
    for i, (document, result) in enumerate(zip(documents, response.Results.SignResult, strict=True)):
        assert result.Certificate == site.service.pki.people[ION].certificate_der
        verified = xmlsec1_verify(result.Signature, tmp_path, root, document, f"urn:msign:content:c{i}")
        assert verified.returncode == 0, verified.stderr


def test_a_pdf_batch_signed_with_nationalid_preselected(site, eservice, page, tmp_path):  # noqa: F811
    from .test_pades import pdfsig
    from .test_signing_flow import pyhanko_status

    documents = [minimal_pdf(f"Act {i}") for i in (1, 2)]
    contents = [{"Content": d, "CorrelationID": f"p{i}", "Name": f"Act {i}.pdf"} for i, d in enumerate(documents)]
    client, request_id = post_batch(site.url, "Pdf", contents)
    entry = entry_url(site.url, request_id, eservice) + "&Instrument=nationalid"
    sign_through_the_page(page, entry, None, eservice.url + "/back?x=1")
    response = client.GetSignResponse(requestID=request_id, language="en")
    assert response.Status == "Success"
    for document, result in zip(documents, response.Results.SignResult, strict=True):
        assert result.Signature.startswith(document)
        [checked] = pdfsig(result.Signature, tmp_path)
        assert checked["Signature Validation"] == "Signature is Valid."
        assert "Total document signed" in checked, checked
        validity = in_thread(pyhanko_status, result.Signature, site.service)
        assert validity.intact and validity.valid and validity.trusted


def test_the_page_is_accessible_in_every_language(site, eservice, page):  # noqa: F811
    axe = axe_source()
    if axe is None:
        if os.environ.get("CI"):
            pytest.fail("axe-core is not installed (scripts/test installs it with npm)")
        pytest.skip("axe-core is not installed")
    errors = watch_console(page)
    _, request_id = post_batch(site.url, "Hash", [{"Content": b"\x05" * 20}], ExpectedSigner={"ID": ION})
    for lang in ("ro", "ru", "en"):
        page.goto(entry_url(site.url, request_id, eservice).replace("lang=en", f"lang={lang}") + "&Instrument=moldsign")
        page.locator("[data-action=sign]").wait_for(state="visible")
        page.evaluate(axe)
        result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA)
        assert result["violations"] == [], (lang, result["violations"])
    assert not errors


def test_without_a_local_signer_the_page_says_so(site_without_signer, eservice, page):  # noqa: F811
    site = site_without_signer
    script_errors: list[str] = []
    page.on("pageerror", lambda e: script_errors.append(str(e)))
    client, request_id = post_batch(site.url, "Hash", [{"Content": b"\x06" * 20}], ExpectedSigner={"ID": ION})
    page.goto(entry_url(site.url, request_id, eservice) + "&Instrument=moldsign")
    alert = page.locator("[role=alert]")
    alert.wait_for(state="visible")
    assert "No signing application answers on this computer" in alert.inner_text()
    assert site.signer_url in alert.inner_text()
    assert page.locator("[data-action=retry]").is_visible()
    assert not page.locator("[data-action=sign]").is_visible()
    page.click("[data-action=retry]")
    alert.wait_for(state="visible")
    assert not script_errors
    assert client.GetSignResponse(requestID=request_id, language="en").Status == "Pending"
    with page.expect_navigation(url=eservice.url + "/back?x=1"):
        page.click("[data-action=cancel]")
    assert client.GetSignResponse(requestID=request_id, language="en").Status == "Failure"


def test_a_refused_signer_shows_the_reason(site, eservice, page):  # noqa: F811
    maria = "2001002345678"
    client, request_id = post_batch(site.url, "Hash", [{"Content": b"\x07" * 20}], ExpectedSigner={"ID": maria})
    sign_through_the_page(page, entry_url(site.url, request_id, eservice), "moldsign", eservice.url + "/back?x=1")
    answer = client.GetSignResponse(requestID=request_id, language="en")
    assert (answer.Status, answer.Message) == (
        "Failure",
        "The certificate belongs to another person than the one expected to sign",
    )
