"""``/sign/upload``: a citizen uploads a PDF, signs it on the ordinary sign page,
and downloads it signed."""

from __future__ import annotations

import io
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from werkzeug.test import Client

from .conftest import FrozenClock, in_thread, make_service, minimal_pdf, save_screenshot_if_failed
from .test_browser import ION, ION_PIN, TIMEOUT_MS, serve

PDF = minimal_pdf("A citizen's own document")


def upload(browser: Client, data: bytes, name: str = "contract.pdf", lang: str = "en") -> Any:
    form = {"lang": lang, "document": (io.BytesIO(data), name, "application/pdf")}
    return browser.post(f"/sign/upload?lang={lang}", data=form)  # as the page posts it


def valid_signatures(service: Any, pdf: bytes) -> int:
    root = asn1_x509.Certificate.load(service.pki.root.certificate_der)
    context = ValidationContext(trust_roots=[root], allow_fetching=False)
    statuses = [validate_pdf_signature(s, context) for s in PdfFileReader(io.BytesIO(pdf)).embedded_signatures]
    return sum(status.bottom_line for status in statuses)


def test_upload_sign_download(tmp_path: Any, clock: Any) -> None:
    service = make_service(tmp_path, clock)
    try:
        browser = Client(service)
        answer = upload(browser, PDF)
        assert answer.status_code == 303
        location = urlsplit(answer.headers["Location"])
        request_id = location.path.strip("/")
        back = parse_qs(location.query)["ReturnUrl"][0]
        assert back == f"http://localhost/sign/upload/{request_id}/done?lang=en"  # where the browser is
        assert browser.get(f"{location.path}?{location.query}").status_code == 303  # the sign page takes it
        pending = browser.get(f"/sign/upload/{request_id}/done?lang=en")
        assert "not signed yet" in pending.get_data(as_text=True)
        assert browser.get(f"/sign/upload/{request_id}/signed.pdf").status_code == 404
        ion = service.pki.people[ION]
        service.signing.sign_with_key(request_id, ion.certificate_der, ion.chain_der, ion.private_key)
        done = browser.post(urlsplit(back).path + "?lang=en", data={"RequestID": request_id, "RelayState": "x"})
        assert "The document is signed" in done.get_data(as_text=True)
        signed = browser.get(f"/sign/upload/{request_id}/signed.pdf")
        assert signed.headers["Content-Disposition"] == 'attachment; filename="contract-signed.pdf"'
        assert signed.data.startswith(PDF) and valid_signatures(service, signed.data) == 1
        again = upload(browser, signed.data, "contract-signed.pdf")  # co-signing an already signed PDF
        assert again.status_code == 303
    finally:
        service.close()


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        pytest.param(b"", 400, "Choose a PDF document to sign.", id="no-file"),
        pytest.param(b"GIF89a not a pdf", 400, "The file is not a PDF document that can be signed.", id="not-pdf"),
        pytest.param(b"%PDF-1.7\n broken", 400, "The file is not a PDF document that can be signed.", id="broken"),
        pytest.param(b"%PDF-" + b"0" * 70_000, 413, "The file is too large.", id="too-large"),
        pytest.param(b"%PDF-" + b"0" * 200_000, 413, "The file is too large.", id="over-the-request-limit"),
    ],
)
def test_refused_uploads(tmp_path: Any, clock: Any, data: bytes, status: int, message: str) -> None:
    service = make_service(tmp_path, clock, max_content_bytes=64 * 1024, max_total_content_bytes=64 * 1024)
    try:
        answer = upload(Client(service), data)
        assert answer.status_code == status
        assert message in answer.get_data(as_text=True)
        with service.store.db.connection_context():
            assert service.store.models.SignRequest.select().count() == 0
    finally:
        service.close()


def test_only_portal_requests_are_shown(tmp_path: Any, clock: Any) -> None:
    from msign_soap.core import SignContentInput, SignRequestInput

    service = make_service(tmp_path, clock)
    try:
        other = service.requests.post(
            service.requests.demo_consumer(), SignRequestInput("Pdf", [SignContentInput(PDF)], "An e-service's")
        )
        browser = Client(service)
        for path in (f"/sign/upload/{other}/done", f"/sign/upload/{other}/signed.pdf", "/sign/upload/x/done"):
            assert browser.get(path).status_code == 404, path
    finally:
        service.close()


def test_a_citizen_signs_in_the_browser(chromium: Any, tmp_path_factory: pytest.TempPathFactory, request: Any) -> None:
    service = make_service(tmp_path_factory.mktemp("upload"), FrozenClock())
    url, stop = serve(service)
    context = chromium.new_context(locale="en-US", accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        (tmp_path_factory.getbasetemp() / "mine.pdf").write_bytes(PDF)
        page.goto(f"{url}/sign/upload?lang=en")
        page.set_input_files("input[name=document]", str(tmp_path_factory.getbasetemp() / "mine.pdf"))
        page.click("[data-action=upload]")
        page.click("[data-instrument=securesign]")
        page.fill("input[name=idnp]", ION)
        page.fill("input[name=pin]", ION_PIN)
        page.click("[data-action=sign]")
        page.wait_for_url(re.compile(r".*/sign/upload/[0-9a-f]{32}/done"))
        assert page.locator("[data-status=Success]").count() == 1
        with page.expect_download() as download:
            page.click("[data-action=download-signed]")
        signed = download.value.path().read_bytes()
        assert signed.startswith(PDF) and in_thread(valid_signatures, service, signed) == 1
    finally:
        save_screenshot_if_failed(request, page)
        context.close()
        stop()
        service.close()
