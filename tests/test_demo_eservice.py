"""The demo e-service (``msign_demo_eservice``) mounted at ``/demo`` beside the
service on one loopback server, as the embedded default mounts it: its
pieces without a browser, then MSign's integration test cases TC_FUNCT_01…06
(and expiry) in Debian's Chromium through the real sign page.

The demo reaches the service only over HTTP (zeep, the published WSDL); the
tests reach into the service only to sign without a browser, to fail a
request or to move its clock.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import lxml.html
import pytest
from werkzeug.test import Client

from msign_demo_eservice import BadInput, MSignClient, ServiceUnreachable, create_demo, mountable
from msign_demo_eservice.app import DEMO_PREFIX, STATE_DIRECTORY, DemoEService
from msign_demo_eservice.signatures import altered_hash, altered_pdf, read_signer, signing_time
from msign_demo_eservice.store import Store

from . import pki_support
from .conftest import FrozenClock, make_service, minimal_pdf, save_screenshot_if_failed

ION, ION_PIN, ION_TAX_PIN = "2004001234567", "4567", "234567"
TIMEOUT_MS = 30_000


@dataclass
class Site:
    url: str
    service: Any
    demo: DemoEService
    clock: FrozenClock

    @property
    def demo_url(self) -> str:
        return self.url + DEMO_PREFIX

    def client(self) -> Client:
        """A browser stand-in posting into the service in process (the demo,
        mounted by the service at ``/demo/``, still calls it over HTTP)."""
        return Client(self.service)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The embedded default on a real server: the service mounts the demo at ``/demo/``."""
    directory = tmp_path_factory.mktemp("demo-eservice")
    clock = FrozenClock()
    with pki_support.serve() as (url, server):
        service = make_service(directory, clock, public_url=url)
        try:
            server.app = service
            yield Site(url, service, service.demo_eservice, clock)
            service.demo_eservice.jobs.wait(60)
        finally:
            service.close()


# -- helpers -----------------------------------------------------------------------------


def sign_form(client: Client, content_type: str, *, files: dict[str, bytes] | None = None, **fields: str) -> Any:
    from io import BytesIO

    data: dict[str, Any] = {"content_type": content_type, "lang": "en", **fields}
    if files:
        data["documents"] = [(BytesIO(content), name) for name, content in files.items()]
    return client.post(DEMO_PREFIX + "/sign", data=data, content_type="multipart/form-data")


def sign_page_parameters(site: Site, location: str) -> tuple[str, dict[str, str]]:
    """The RequestID and the query of a redirect to the sign page."""
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}" == site.url
    request_id = parts.path.strip("/")
    return request_id, {k: v[0] for k, v in parse_qs(parts.query).items()}


def come_back(site: Site, client: Client, request_id: str, relay_state: str) -> Any:
    """The sign page's callback, then the request's page once its job is done."""
    answer = client.post(DEMO_PREFIX + "/return", data={"RequestID": request_id, "RelayState": relay_state})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"{DEMO_PREFIX}/requests/{request_id}")
    site.demo.jobs.wait(120)
    return client.get(f"{DEMO_PREFIX}/requests/{request_id}")


def page_of(response: Any) -> Any:
    return lxml.html.fromstring(response.get_data(as_text=True))


def xpath(selector: str) -> str:
    """The XPath of the little CSS the tests use (cssselect is not installed):
    descendant steps of ``tag``, ``#id``, ``[attr]``, ``[attr=value]``."""
    steps = []
    for step in selector.split():
        match = re.fullmatch(r"([a-z0-9]*)(?:#([\w-]+))?(?:\[([\w-]+)(?:='?([^'\]]*)'?)?\])?", step)
        assert match, step
        tag, id_, attribute, value = match.groups()
        test = f"[@id='{id_}']" if id_ else ""
        if attribute:
            test += f"[@{attribute}='{value}']" if value is not None else f"[@{attribute}]"
        steps.append(f"//{tag or '*'}{test}")
    return "".join(steps)


def select(page: Any, selector: str) -> list[Any]:
    return page.xpath(xpath(selector))  # type: ignore[no-any-return]


def texts(page: Any, selector: str) -> list[str]:
    return [" ".join(e.text_content().split()) for e in select(page, selector)]


def verify(site: Site, client: Client, request_id: str, copy: str) -> Any:
    answer = client.post(f"{DEMO_PREFIX}/requests/{request_id}/verify", data={"copy": copy})
    assert answer.status_code == 303
    site.demo.jobs.wait(120)
    return page_of(client.get(f"{DEMO_PREFIX}/requests/{request_id}"))


# -- without a browser ---------------------------------------------------------------------


def test_hash_texts_signed_shown_downloaded_and_verified(site: Site):
    client = site.client()
    answer = sign_form(
        client, "Hash", texts="first line\nsecond line\n", expected_signer=ION, short_description="Notes"
    )
    assert answer.status_code == 303
    request_id, query = sign_page_parameters(site, answer.headers["Location"])
    assert query["ReturnUrl"] == site.demo_url + "/return" and query["lang"] == "en"
    assert len(query["RelayState"]) >= 32
    record = site.demo.store.get(request_id)
    assert [i["sha1"] for i in record["items"]] == [
        hashlib.sha1(t).hexdigest() for t in (b"first line", b"second line")
    ]

    site.service.instruments["securesign"].sign(request_id, ION, ION_PIN)
    page = page_of(come_back(site, client, request_id, query["RelayState"]))
    assert texts(page, "#status") == ["Success"]
    assert texts(page, "[data-signer]") == ["Ion Popescu (IDNP 2004001234567)"] * 2
    assert all("SERIALNUMBER=2004001234567" in s for s in texts(page, "[data-subject]"))
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d.*", t) for t in texts(page, "[data-signed-at]"))

    [link, _] = select(page, "[data-download=xades]")
    xades = client.get(link.get("href"))
    assert xades.status_code == 200 and xades.mimetype == "application/xml"
    assert b"SignatureValue" in xades.data and 'filename="first_line-xades.xml"' in xades.headers["Content-Disposition"]

    page = verify(site, client, request_id, "original")
    assert texts(page, "[data-verification=original] [data-verdict]") == ["Valid", "Valid"]
    assert texts(page, "[data-verification=original] [data-verification-message]") == ["The signature is valid"] * 2
    page = verify(site, client, request_id, "altered")
    assert texts(page, "[data-verification=altered] [data-verdict]") == ["Not valid", "Not valid"]
    assert texts(page, "[data-verification=original] [data-verdict]") == ["Valid", "Valid"]  # kept


def test_pdfs_signed_downloaded_and_an_altered_copy_refused(site: Site):
    client = site.client()
    documents = {"Act 1.pdf": minimal_pdf("Act one"), "Act 2.pdf": minimal_pdf("Act two")}
    answer = sign_form(client, "Pdf", files=documents, signature_reason="Approved")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    request_id, query = sign_page_parameters(site, answer.headers["Location"])
    site.service.instruments["securesign"].sign(request_id, ION, ION_PIN)
    page = page_of(come_back(site, client, request_id, query["RelayState"]))
    assert texts(page, "#status") == ["Success"]
    assert texts(page, "[data-result] h3") == ["Act 1.pdf", "Act 2.pdf"]
    links = select(page, "[data-download=signed-pdf]")
    for link, original in zip(links, documents.values(), strict=True):
        signed = client.get(link.get("href"))
        assert signed.mimetype == "application/pdf" and signed.data.startswith(original)
        assert len(signed.data) > len(original)

    page = verify(site, client, request_id, "original")
    assert texts(page, "[data-verification=original] [data-verdict]") == ["Valid", "Valid"]
    page = verify(site, client, request_id, "altered")
    assert texts(page, "[data-verification=altered] [data-verdict]") == ["Not valid", "Not valid"]
    assert set(texts(page, "[data-verification=altered] [data-verification-message]")) == {
        "The document or the signature was altered after signing"
    }


@pytest.mark.parametrize(
    ("content_type", "fields", "files", "error"),
    [
        pytest.param("Pdf", {}, None, "Upload a document or type a text", id="nothing-to-sign"),
        pytest.param("Pdf", {"texts": "a text"}, None, "Texts are signed as hashes", id="texts-as-pdf"),
        pytest.param("Pdf", {}, {"notes.txt": b"plain"}, "notes.txt is not a PDF", id="not-a-pdf"),
        pytest.param("Other", {"texts": "a"}, None, "Choose Pdf or Hash", id="unknown-content-type"),
        pytest.param(
            "Hash", {"texts": "a", "expected_signer": ION, "msisdn": "12345"}, None, "not a Moldovan", id="bad-msisdn"
        ),
        pytest.param(
            "Hash",
            {"texts": "a", "expected_signer": "2004001234568"},
            None,
            "refused the request (InvalidParameter): ExpectedSigner.ID is not a valid IDNP",
            id="invalid-idnp",
        ),
        pytest.param(
            "Pdf",
            {"short_description": "x" * 91},
            {"a.pdf": minimal_pdf("a")},
            "ShortContentDescription is longer than 90",
            id="long-description",
        ),
    ],
)
def test_tc_funct_04_invalid_input_is_shown_and_nothing_is_redirected(site, content_type, fields, files, error):
    before = len(list((site.demo.store.directory / "requests").glob("*.json")))
    answer = sign_form(site.client(), content_type, files=files, **fields)
    assert answer.status_code == 400 and "Location" not in answer.headers
    page = page_of(answer)
    assert error in texts(page, "[role=alert]")[0]
    for name, value in fields.items():  # the form keeps what was typed
        if name != "texts":
            assert select(page, f"[name={name}]")[0].get("value") == value
    assert len(list((site.demo.store.directory / "requests").glob("*.json"))) == before


def posted(site: Site) -> tuple[str, str]:
    answer = sign_form(site.client(), "Hash", texts="callback test", expected_signer=ION)
    request_id, query = sign_page_parameters(site, answer.headers["Location"])
    return request_id, query["RelayState"]


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        pytest.param(lambda rid, rs: {"RequestID": rid, "RelayState": rs + "x"}, 400, "RelayState", id="other-relay"),
        pytest.param(lambda rid, rs: {"RequestID": rid}, 400, "RelayState", id="no-relay-state"),
        pytest.param(lambda rid, rs: {"RelayState": rs}, 400, "no RequestID", id="no-request-id"),
        pytest.param(lambda rid, rs: {"RequestID": "0" * 32, "RelayState": rs}, 404, "no such", id="unknown-request"),
        pytest.param(lambda rid, rs: {"RequestID": "../../etc", "RelayState": rs}, 404, "no such", id="path-in-id"),
    ],
)
def test_a_callback_that_is_not_ours_is_refused(site, form, status, error):
    request_id, relay_state = posted(site)
    answer = site.client().post(DEMO_PREFIX + "/return", data=form(request_id, relay_state))
    assert answer.status_code == status
    assert error in texts(page_of(answer), "[role=alert]")[0]
    assert site.demo.store.get(request_id)["returned_at"] is None


def test_callback_field_names_are_matched_case_insensitively(site):
    request_id, relay_state = posted(site)
    client = site.client()
    answer = client.post(DEMO_PREFIX + "/return", data={"requestId": request_id, "relayState": relay_state})
    assert answer.status_code == 303
    site.demo.jobs.wait(60)
    assert site.demo.store.get(request_id)["returned_at"] is not None


def test_tc_funct_02_a_failed_request_shows_failure_and_the_message(site):
    request_id, relay_state = posted(site)
    site.service.requests.fail(request_id, "The user cancelled the signing")
    page = page_of(come_back(site, site.client(), request_id, relay_state))
    assert texts(page, "#status") == ["Failure"]
    assert texts(page, "#message") == ["The user cancelled the signing"]
    assert not select(page, "[data-action=verify]") and not select(page, "[data-action=continue]")


def test_a_pending_request_can_be_opened_again_and_expires(site):
    request_id, relay_state = posted(site)
    client = site.client()
    page = page_of(client.get(f"{DEMO_PREFIX}/requests/{request_id}"))
    assert texts(page, "#status") == ["Pending"]
    [again] = select(page, "[data-action=continue]")
    assert sign_page_parameters(site, again.get("href")) == (
        request_id,
        {"ReturnUrl": site.demo_url + "/return", "RelayState": relay_state, "lang": "en"},
    )
    start = site.clock.now
    site.clock.advance(seconds=site.service.config.request_lifetime + 1)
    try:
        assert client.post(f"{DEMO_PREFIX}/requests/{request_id}/refresh").status_code == 303
        site.demo.jobs.wait(60)
    finally:
        site.clock.now = start
    page = page_of(client.get(f"{DEMO_PREFIX}/requests/{request_id}"))
    assert texts(page, "#status") == ["Expired"]
    assert texts(page, "#message") == ["The signing request has expired"]


def test_the_progress_page_and_its_json(site):
    request_id, _ = posted(site)

    def running(record: dict) -> None:
        record["job"] = {
            "kind": "verify",
            "title": "Verifying the signatures",
            "state": "running",
            "done": 2,
            "total": 5,
            "error": None,
            "started_at": "2999-01-01T00:00:00+00:00",
        }

    site.demo.store.update(request_id, running)
    client = site.client()
    page = page_of(client.get(f"{DEMO_PREFIX}/requests/{request_id}"))
    [bar] = select(page, "progress")
    assert (bar.get("value"), bar.get("max")) == ("2", "5")
    assert texts(page, "[role=status]") == ["2 of 5"]
    assert client.get(f"{DEMO_PREFIX}/requests/{request_id}/progress").json == {
        "state": "running",
        "done": 2,
        "total": 5,
    }

    def stale(record: dict) -> None:
        record["job"]["started_at"] = "2000-01-01T00:00:00+00:00"

    site.demo.store.update(request_id, stale)  # its process is gone: the page offers to start again
    assert client.get(f"{DEMO_PREFIX}/requests/{request_id}/progress").json["state"] == "failed"
    page = page_of(client.get(f"{DEMO_PREFIX}/requests/{request_id}"))
    assert not select(page, "progress") and texts(page, "#status") == ["Pending"]
    assert "interrupted" in texts(page, "#job-error")[0]


def test_a_job_that_fails_says_why(site, tmp_path):
    """A demo whose service has gone: the fetch job fails and the page says so."""
    request_id, relay_state = posted(site)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        gone = f"http://127.0.0.1:{s.getsockname()[1]}"
    state = tmp_path / "state"
    Store(state).create(site.demo.store.get(request_id))
    demo = create_demo(gone, public_base=site.demo_url, state_dir=state, sign_page_url=site.url)
    client = Client(demo)  # the demo alone, at the root
    client.post("/return", data={"RequestID": request_id, "RelayState": relay_state})
    demo.jobs.wait(60)
    page = page_of(client.get(f"/requests/{request_id}"))
    assert "cannot be reached" in texts(page, "#job-error")[0]
    assert select(page, "[data-action=refresh]")


def test_posts_from_another_site_are_refused(site):
    client = site.client()
    answer = client.post(
        DEMO_PREFIX + "/sign", data={"content_type": "Hash", "texts": "x"}, headers={"Origin": "http://evil.example"}
    )
    assert answer.status_code == 403
    same = client.post(DEMO_PREFIX + "/sign", data={"content_type": "Hash"}, headers={"Origin": "http://localhost"})
    assert same.status_code == 400  # our own origin: the form is checked (nothing to sign)


def test_pages_carry_a_strict_policy_and_downloads_stay_inside(site):
    client = site.client()
    answer = client.get(DEMO_PREFIX + "/")
    policy = answer.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and f"form-action 'self' {site.url}" in policy
    assert re.search(r"script-src 'nonce-[^']+'", policy)
    assert page_of(answer).get("lang") == "en"
    request_id, _ = posted(site)
    for name in ("1.pdf", "..%2Fx.pdf", "x.sh"):
        assert client.get(f"{DEMO_PREFIX}/requests/{request_id}/files/{name}").status_code == 404
    assert client.get(DEMO_PREFIX + "/nowhere").status_code == 404


def test_the_index_lists_the_requests(site):
    request_id, _ = posted(site)
    page = page_of(site.client().get(DEMO_PREFIX))
    assert select(page, f"tr[data-request='{request_id}'] a")[0].get("href") == f"/demo/requests/{request_id}"


def test_mountable_names_its_prefix_and_state(tmp_path):
    demo = mountable("http://127.0.0.1:8080/", tmp_path)
    assert demo.public_base == "http://127.0.0.1:8080/demo"
    assert demo.service_url == demo.sign_page_url == "http://127.0.0.1:8080"
    assert demo.store.directory == tmp_path / STATE_DIRECTORY and (tmp_path / STATE_DIRECTORY / "requests").is_dir()
    assert demo.client.wsdl_url == "http://127.0.0.1:8080/MSign.svc?singleWsdl"


def test_the_client_reports_an_unreachable_service_and_a_non_soap_answer(site):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        gone = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(ServiceUnreachable, match="cannot be reached"):
        MSignClient(gone, timeout=5).get_sign_response("0" * 32)
    with pytest.raises(ServiceUnreachable):
        MSignClient(site.url + "/pki", timeout=5).get_sign_response("0" * 32)


def test_read_signer_and_altered_copies(demo_pki):
    from cryptography.hazmat.primitives.serialization import Encoding

    ion = demo_pki.people[ION]
    signer = read_signer(ion.certificate.public_bytes(Encoding.DER))
    assert (signer.common_name, signer.serial_number) == ("Ion Popescu", ION)
    assert "CN=Ion Popescu" in signer.subject and "Demo Issuing CA" in signer.issuer
    with pytest.raises(BadInput):
        read_signer(b"not a certificate")

    pdf = minimal_pdf("Original")
    signed = pdf + b"% an incremental update\n"
    altered = altered_pdf(signed, len(pdf))
    differences = [i for i, (a, b) in enumerate(zip(signed, altered, strict=True)) if a != b]
    assert len(differences) == 1 and differences[0] < len(pdf)
    assert altered[differences[0] - len(b"stream\n") : differences[0]] == b"stream\n"
    with pytest.raises(BadInput):
        altered_pdf(signed, len(signed) + 1)
    digest = hashlib.sha1(b"x").digest()
    assert len(altered_hash(digest)) == 20 and altered_hash(digest) != digest


@pytest.mark.parametrize(
    ("signature", "content_type"),
    [
        pytest.param(b"not XML", "Hash", id="not-xml"),
        pytest.param(b'<!DOCTYPE x [<!ENTITY e "1">]><x>&e;</x>', "Hash", id="dtd-no-time"),
        pytest.param(
            b"<x><SigningTime xmlns='http://uri.etsi.org/01903/v1.3.2#'>soon</SigningTime></x>", "Hash", id="bad-time"
        ),
        pytest.param(minimal_pdf("unsigned"), "Pdf", id="unsigned-pdf"),
        pytest.param(b"%PDF-1.7 /Contents <00112233>", "Pdf", id="contents-not-cms"),
    ],
)
def test_no_signing_time_is_read_from_what_has_none(signature, content_type):
    assert signing_time(signature, content_type) is None


def test_the_store_serialises_concurrent_updates(tmp_path):
    store = Store(tmp_path)
    store.create({"request_id": "a" * 32, "count": 0})

    def bump(record: dict) -> None:
        record["count"] += 1

    threads = [threading.Thread(target=store.update, args=("a" * 32, bump)) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get("a" * 32)["count"] == 20
    assert [r["request_id"] for r in store.recent()] == ["a" * 32]


# -- in a browser: TC_FUNCT_01…06 ------------------------------------------------------------------


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = chromium.new_context(locale="en-US", accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    try:
        yield page
    finally:
        save_screenshot_if_failed(request, page)
        context.close()


def start_signing(page: Any, site: Site, content_type: str, *, files: dict[str, bytes] | None = None, **fields: str):
    """Fill the demo's form and press Sign; the browser is on the sign page after."""
    page.goto(site.demo_url + "/")
    page.check(f"input[name=content_type][value={content_type}]")
    if files:
        page.set_input_files(
            "#documents", [{"name": n, "mimeType": "application/pdf", "buffer": b} for n, b in files.items()]
        )
    for name, value in fields.items():
        page.fill(f"[name={name}]", value)
    with page.expect_navigation(url=re.compile(re.escape(site.url) + r"/[0-9a-f]{32}/sign")):
        page.click("[data-action=sign]")


def sign_with_cloud_key(page: Any, site: Site, card: str = "securesign", pin: str = ION_PIN) -> None:
    page.click(f"[data-instrument={card}]")
    if page.locator("input[name=idnp]").get_attribute("readonly") is None:
        page.fill("input[name=idnp]", ION)
    page.fill("input[name=pin]", pin)
    with page.expect_navigation(url=re.compile(re.escape(site.demo_url) + r"/requests/[0-9a-f]{32}")):
        page.click("[data-action=sign]")


def wait_for_status(page: Any, status: str) -> None:
    page.wait_for_selector(f"[data-status={status}]")


@pytest.mark.browser
def test_tc_funct_01_05_06_a_pdf_batch_in_the_browser(site, page, tmp_path):
    documents = {"Contract.pdf": minimal_pdf("Contract"), "Annex.pdf": minimal_pdf("Annex")}
    start_signing(page, site, "Pdf", files=documents, short_description="Contract and annex")
    assert page.locator("h1").inner_text() == "Sign documents"  # the service's sign page
    sign_with_cloud_key(page, site)
    wait_for_status(page, "Success")
    assert page.locator("[data-signer]").all_inner_texts() == ["Ion Popescu (IDNP 2004001234567)"] * 2
    assert page.locator("[data-result] h3").all_inner_texts() == list(documents)

    with page.expect_download() as download:
        page.locator("[data-download=signed-pdf]").first.click()
    assert download.value.suggested_filename == "Contract-signed.pdf"
    saved = Path(download.value.path()).read_bytes()
    assert saved.startswith(documents["Contract.pdf"]) and b"/ByteRange" in saved

    page.click("[data-action=verify]")
    page.wait_for_selector("[data-verification=original]")
    verdicts = page.locator("[data-verification=original] [data-verdict]")
    assert verdicts.all_inner_texts() == ["Valid", "Valid"]
    assert "SERIALNUMBER=2004001234567" in page.locator("[data-verification=original] table").first.inner_text()

    page.click("[data-action=verify-altered]")
    page.wait_for_selector("[data-verification=altered]")
    assert page.locator("[data-verification=altered] [data-verdict]").all_inner_texts() == ["Not valid"] * 2
    assert not page.errors


@pytest.mark.browser
def test_tc_funct_01_05_06_hashes_with_the_tax_key(site, page):
    start_signing(page, site, "Hash", texts="Invoice 7\nInvoice 8", expected_signer=ION)
    sign_with_cloud_key(page, site, card="tax", pin=ION_TAX_PIN)
    wait_for_status(page, "Success")
    assert page.locator("[data-signer]").count() == 2
    with page.expect_download() as download:
        page.locator("[data-download=xades]").first.click()
    assert download.value.suggested_filename == "Invoice_7-xades.xml"
    assert b"<ds:Signature" in Path(download.value.path()).read_bytes()
    page.click("[data-action=verify]")
    page.wait_for_selector("[data-verification=original]")
    assert page.locator("[data-verification=original] [data-verdict]").all_inner_texts() == ["Valid"] * 2
    page.click("[data-action=verify-altered]")
    page.wait_for_selector("[data-verification=altered]")
    assert page.locator("[data-verification=altered] [data-verdict]").all_inner_texts() == ["Not valid"] * 2
    assert page.locator("[data-verification=altered] [data-verification-message]").first.inner_text()


@pytest.mark.browser
def test_tc_funct_02_cancel_on_the_sign_page(site, page):
    start_signing(page, site, "Hash", texts="To be cancelled", expected_signer=ION)
    with page.expect_navigation(url=re.compile(re.escape(site.demo_url) + r"/requests/")):
        page.click("[data-action=cancel]")
    wait_for_status(page, "Failure")
    assert page.locator("#message").inner_text() == "The user cancelled the signing"


@pytest.mark.browser
def test_tc_funct_03_sign_again_after_going_back(site, page):
    start_signing(page, site, "Hash", texts="Signed later", expected_signer=ION)
    request_id = urlsplit(page.url).path.split("/")[1]
    page.go_back()
    assert page.url.startswith(site.demo_url)
    page.goto(site.demo_url + "/")
    page.click(f"tr[data-request='{request_id}'] a")
    wait_for_status(page, "Pending")
    with page.expect_navigation(url=f"{site.url}/{request_id}/sign"):
        page.click("[data-action=continue]")
    assert page.locator("[data-instrument=securesign]").is_visible()
    sign_with_cloud_key(page, site)
    wait_for_status(page, "Success")


@pytest.mark.browser
def test_tc_funct_04_an_invalid_idnp_stays_in_the_e_service(site, page):
    page.goto(site.demo_url + "/")
    page.check("input[name=content_type][value=Hash]")
    page.fill("[name=texts]", "x")
    page.fill("[name=expected_signer]", "1234567890123")
    with page.expect_navigation():
        page.click("[data-action=sign]")
    assert page.url == site.demo_url + "/sign"
    assert "ExpectedSigner.ID is not a valid IDNP" in page.locator("[role=alert]").inner_text()
    assert page.locator("[name=expected_signer]").input_value() == "1234567890123"


@pytest.mark.browser
def test_an_expired_request_comes_back_as_expired(site, page):
    start_signing(page, site, "Hash", texts="Too late", expected_signer=ION)
    start = site.clock.now
    site.clock.advance(seconds=site.service.config.request_lifetime + 1)
    try:
        page.reload()  # the sign page says it expired and posts the callback back to the e-service
        page.wait_for_url(re.compile(re.escape(site.demo_url) + r"/requests/"))
        wait_for_status(page, "Expired")
    finally:
        site.clock.now = start
    assert page.locator("#message").inner_text() == "The signing request has expired"


@pytest.mark.browser
def test_the_demo_pages_are_accessible(site, page, chromium):
    from .page_tour import WCAG_21_AA, axe_source

    axe = axe_source()
    if axe is None:
        if os.environ.get("CI"):
            pytest.fail("axe-core is not installed (scripts/test installs it with npm)")
        pytest.skip("axe-core is not installed")

    def check(name: str) -> list[str]:
        page.evaluate(axe)
        result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA)
        return [f"{name}: {v['id']}: {v['help']} at {v['nodes'][0]['target']}" for v in result["violations"]]

    problems = []
    page.goto(site.demo_url + "/")
    problems += check("form")
    page.check("input[name=content_type][value=Hash]")
    page.fill("[name=texts]", "x")
    with page.expect_navigation():
        page.click("[data-action=sign]")
    problems += check("form-with-error")

    documents = {"Act.pdf": minimal_pdf("Accessible act")}
    start_signing(page, site, "Pdf", files=documents)
    sign_with_cloud_key(page, site)
    wait_for_status(page, "Success")
    page.click("[data-action=verify]")
    page.wait_for_selector("[data-verification=original]")
    page.click("[data-action=verify-altered]")
    page.wait_for_selector("[data-verification=altered]")
    problems += check("signed-and-verified")
    request_id = urlsplit(page.url).path.rsplit("/", 1)[1]

    def running(record: dict) -> None:
        record["job"] = dict(record["job"], state="running", started_at="2999-01-01T00:00:00+00:00")

    site.demo.store.update(request_id, running)
    try:
        page.goto(page.url)
        page.wait_for_selector("progress")
        problems += check("progress")
    finally:
        site.demo.store.update(request_id, lambda r: r["job"].update(state="done"))
    page.wait_for_selector("[data-status=Success]")  # the page's script reloaded it once the job was done

    page.goto(site.demo_url + "/requests/" + "0" * 32)
    problems += check("not-found")
    assert not problems, "\n".join(problems)
    assert not page.errors
