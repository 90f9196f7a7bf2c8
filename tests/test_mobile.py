"""The ``mobile`` instrument: the MSSP client against the simulator over real
HTTP on loopback, the signing state machine (approve, refuse, timeouts,
wrong and blocked SIM PINs, several contents, concurrent polls), the sign
page's mobile form and progress page, and the configuration."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lxml.html
import pytest
import requests

from msign_mssp_sim import create_simulator
from msign_soap.app import Service, create_app
from msign_soap.config import load_config
from msign_soap.errors import ConfigurationError, MsspError, RequestClosed, SignerRejected
from msign_soap.i18n import messages, pages, translate
from msign_soap.instruments import MOBILE, MobileInstrument
from msign_soap.instruments.mobile import DISPLAY_DESCRIPTION, display_text, verification_code
from msign_soap.instruments.mssp import OUTSTANDING, SIGNATURE, MsspClient
from msign_soap.pki import DEMO_PEOPLE, DemoPki
from msign_soap.pki.sims import register_access_point, write_demo_sims

from .conftest import DATABASES, FrozenClock, minimal_pdf, soap_client
from .pki_support import seed_demo_pki, serve, shared_demo_pki_template
from .test_signing_flow import DOCUMENT, needs_xmlsec1, pem_file, pyhanko_status, xmlsec1_verify

ION, MARIA, VASILE, ELENA, ANDREI = DEMO_PEOPLE
RETURN_URL = "https://eservice.example.md/back"


@dataclass
class Site:
    """The service on a real loopback server, the bundled simulator mounted under it."""

    url: str
    service: Service
    clock: FrozenClock
    soap: Any = None

    @property
    def mobile(self) -> MobileInstrument:
        instrument = self.service.instruments["mobile"]
        assert isinstance(instrument, MobileInstrument)
        return instrument

    def status(self, request_id: str, language: str = "en") -> Any:
        return self.soap.GetSignResponse(requestID=request_id, language=language)


@contextmanager
def running(data_dir: Path, clock: FrozenClock, **settings: Any) -> Iterator[Site]:
    seed_demo_pki(data_dir)
    with serve() as (url, server):
        service = create_app(load_config(environ={}, data_dir=data_dir, public_url=url, **settings), clock)
        server.app = service
        try:
            yield Site(url, service, clock, soap_client(url + "/MSign.svc"))
        finally:
            service.close()


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running(tmp_path_factory.mktemp("mobile") / "data", FrozenClock()) as site:
        yield site


@pytest.fixture(scope="module")
def shared_postgresql_site(tmp_path_factory: pytest.TempPathFactory, postgres_cluster: Any) -> Iterator[Site]:
    """:func:`shared_site` on a PostgreSQL database."""
    name = postgres_cluster.create_database()
    try:
        data_dir = tmp_path_factory.mktemp("mobile-postgresql") / "data"
        with running(data_dir, FrozenClock(), database_url=postgres_cluster.url(name)) as site:
            yield site
    finally:
        postgres_cluster.drop_database(name)


@pytest.fixture
def site(request: pytest.FixtureRequest) -> Site:
    """The module's site: on SQLite, or on PostgreSQL for a test marked :data:`on_both_databases`."""
    shared: Site = request.getfixturevalue(
        "shared_postgresql_site" if getattr(request, "param", "sqlite") == "postgresql" else "shared_site"
    )
    # an hour later for each test: what the last one left on the phones has expired
    shared.clock.advance(hours=1)
    return shared


#: The signing state machine's claims and leases run on PostgreSQL too.
on_both_databases = pytest.mark.parametrize("site", DATABASES, indirect=True)


def post(site: Site, content_type: str = "Hash", count: int = 1, signer: str | None = ION.idnp, **more: Any) -> str:
    if content_type == "Hash":
        contents = [
            {"Content": hashlib.sha1(DOCUMENT + bytes([i])).digest(), "CorrelationID": f"c{i}"} for i in range(count)
        ]
    else:
        contents = [
            {"Content": minimal_pdf(f"Page {i}"), "CorrelationID": f"p{i}", "Name": f"{i}.pdf"} for i in range(count)
        ]
    request: dict[str, Any] = {
        "ContentType": content_type,
        "Contents": {"SignContent": contents},
        "ShortContentDescription": more.pop("short", "Contract no. 12"),
        **more,
    }
    if signer is not None:
        request["ExpectedSigner"] = {"ID": signer}
    return str(site.soap.PostSignRequest(request=request))


class Browser:
    """A browser without JavaScript on the sign page."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.session = requests.Session()

    def enter(self, request_id: str, **params: str) -> requests.Response:
        params = {"ReturnUrl": RETURN_URL, "lang": "en", **params}
        return self.session.get(f"{self.site.url}/{request_id}", params=params, timeout=30)

    def page(self, path: str) -> requests.Response:
        return self.session.get(self.site.url + path, timeout=30)

    def submit(self, request_id: str, **fields: str) -> requests.Response:
        form = html(self.page(f"/{request_id}/sign/mobile"))
        [mobile_form] = [f for f in form.forms if f.get("data-form") == "mobile"]
        data = {**dict(mobile_form.form_values()), **fields}
        return self.session.post(f"{self.site.url}/{request_id}/sign/mobile", data=data, timeout=60)

    def poll(self, request_id: str) -> requests.Response:
        return self.page(f"/{request_id}/mobile?lang=en")

    def cancel(self, request_id: str) -> requests.Response:
        token = html(self.page(f"/{request_id}/sign")).xpath("//input[@name='csrf']/@value")[0]
        return self.session.post(f"{self.site.url}/{request_id}/cancel", data={"csrf": token}, timeout=30)


def html(response: requests.Response) -> Any:
    return lxml.html.fromstring(response.text)


def shown_notice(response: requests.Response) -> str | None:
    notices = html(response).xpath("//*[@role='status'][not(@hidden)]")
    return str(notices[0].text_content()) if notices else None


def code_on(response: requests.Response) -> str | None:
    codes = html(response).xpath("//*[@data-verification-code]/@data-verification-code")
    return codes[0] if codes else None


@dataclass
class Phone:
    """The simulator's phone page of one SIM, over HTTP."""

    base: str
    msisdn: str

    def pending(self) -> list[dict[str, str]]:
        page = lxml.html.fromstring(requests.get(f"{self.base}/phone/{self.msisdn}", timeout=30).text)
        return [
            {
                "id": s.get("data-transaction"),
                "text": s.xpath(".//*[@class='text']")[0].text_content(),
                "code": s.xpath(".//*[@data-verification-code]/@data-verification-code")[0],
            }
            for s in page.xpath("//*[@data-transaction]")
        ]

    def answer(self, action: str, pin: str = "") -> requests.Response:
        [request] = self.pending()
        url = f"{self.base}/phone/{self.msisdn}/{request['id']}"
        return requests.post(url, data={"action": action, "pin": pin}, allow_redirects=False, timeout=30)


def phone(site: Site, person: Any = ION) -> Phone:
    return Phone(site.url + "/mssp-sim", person.msisdn)


def sign_on_the_phone(site: Site, browser: Browser, request_id: str, person: Any = ION, count: int = 1) -> None:
    """Approve each content on the phone, checking the page and the phone show the same code."""
    device = phone(site, person)
    for k in range(1, count + 1):
        progress = browser.poll(request_id)
        assert html(progress).xpath("//*[@data-progress]/@data-progress") == [f"{k}/{count}"]
        [shown] = device.pending()
        assert shown["code"] == code_on(progress)
        assert shown["text"].startswith("Contract no. 12") and shown["text"].endswith(code_on(progress) or "?")
        assert device.answer("approve", person.sim_pin).status_code == 303
    assert browser.poll(request_id).url.startswith(f"{site.url}/{request_id}/sign")


# -- the MSSP client against the simulator over HTTP -------------------------------------


def client_of(site: Site, password: str | None = None, url: str | None = None) -> MsspClient:
    directory = site.service.config.data_dir / "mssp-sim"
    secret = password or register_access_point(directory, site.service.config.mssp_ap_id)
    return MsspClient(url or site.url + "/mssp-sim/rest/service", "msign-soap", secret, clock=site.clock)


def test_client_profile_signature_and_status(site, demo_pki):
    client = client_of(site)
    sim = demo_pki.sims[ION.msisdn]
    assert client.profile(ION.msisdn, ION.idnp) == [sim.certificate_der, *sim.chain_der]
    digest = hashlib.sha256(b"to be signed").digest()
    transaction = client.signature(ION.msisdn, digest, "Test · 0001", transaction_id="Tclient1", timeout=60)
    assert client.status(transaction).code == OUTSTANDING
    assert phone(site).answer("approve", ION.sim_pin).status_code == 303
    status = client.status(transaction)
    assert (status.code, status.message) == (SIGNATURE, "SIGNATURE")
    assert status.signature and len(status.signature) == 256


@pytest.mark.parametrize(
    ("make", "message_id", "code"),
    [
        pytest.param(lambda c: c.profile("37369999999"), messages.MOBILE_UNKNOWN_USER, 105, id="unknown-msisdn"),
        pytest.param(lambda c: c.profile(ION.msisdn, MARIA.idnp), messages.MOBILE_UNKNOWN_USER, 105, id="not-his"),
        pytest.param(lambda c: c.status("Snothing"), messages.MOBILE_UNAVAILABLE, 101, id="unknown-transaction"),
        pytest.param(
            lambda c: c.signature(ION.msisdn, b"\x01" * 20, "x", transaction_id="Tshort", timeout=60),
            messages.MOBILE_UNAVAILABLE,
            103,
            id="not-a-sha256-digest",
        ),
    ],
)
def test_client_faults(site, make, message_id, code):
    with pytest.raises(MsspError) as refused:
        make(client_of(site))
    assert (refused.value.message_id, refused.value.code) == (message_id, code)


def test_client_with_a_wrong_password_or_no_mssp(site):
    with pytest.raises(MsspError) as refused:
        client_of(site, password="wrong").profile(ION.msisdn)
    assert (refused.value.message_id, refused.value.code) == (messages.MOBILE_UNAVAILABLE, 104)
    with serve() as (url, _):
        closed = url  # nothing listens there once the server is gone
    with pytest.raises(MsspError) as unreachable:
        client_of(site, url=closed + "/rest/service").profile(ION.msisdn)
    assert (unreachable.value.message_id, unreachable.value.code) == (messages.MOBILE_UNAVAILABLE, None)
    assert "cannot be reached" in (unreachable.value.detail or "")


def test_client_refuses_an_answer_that_is_no_ts102204_message(site):
    with serve(_answering(b'{"something": "else"}')) as (url, _):
        with pytest.raises(MsspError, match=messages.MOBILE_UNAVAILABLE) as bad:
            client_of(site, url=url).profile(ION.msisdn)
    assert "did not answer MSS_ProfileResp" in (bad.value.detail or "")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param(b'{"MSS_StatusResp": {"Status": {"StatusCode": "x"}}}', "200 OK", id="status-code-not-an-object"),
        pytest.param(b'{"MSS_StatusResp": {"Status": "x"}}', "200 OK", id="status-not-an-object"),
        pytest.param(
            b'{"MSS_StatusResp": {"Status": {"StatusCode": {"Value": "500"}}, "MSS_Signature": "abc"}}',
            "200 OK",
            id="signature-not-an-object",
        ),
        pytest.param(b'{"Fault": "x"}', "500 Internal Server Error", id="fault-not-an-object"),
        pytest.param(
            b'{"Fault": {"Code": {"SubCode": {"Value": "_105"}}, "Reason": []}}', "400 Bad Request", id="odd-fault"
        ),
    ],
)
def test_client_turns_malformed_answers_into_mssp_errors(site, body, status):
    """Whatever an MSSP answers, the page gets an MsspError (a message), never a built-in exception."""
    with serve(_answering(body, status)) as (url, _), pytest.raises(MsspError):
        client_of(site, url=url).status("Sany")


def _answering(body: bytes, status: str = "200 OK") -> Callable[[dict, Callable], Iterable[bytes]]:
    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        start_response(status, [("Content-Type", "application/json")])
        return [body]

    return app


# -- signing whole requests on the phone -----------------------------------------------


@needs_xmlsec1
@on_both_databases
def test_hash_batch_signed_on_the_phone(site, demo_pki, tmp_path):
    request_id = post(site, "Hash", count=3)
    browser = Browser(site)
    browser.enter(request_id, MSISDN=ION.msisdn, Instrument="mobile")
    started = browser.submit(request_id)
    assert started.url == f"{site.url}/{request_id}/mobile?lang=en"
    sign_on_the_phone(site, browser, request_id, count=3)

    answer = site.status(request_id)
    assert answer.Status == "Success"
    sim = demo_pki.sims[ION.msisdn]
    root = pem_file(tmp_path / "root.pem", demo_pki.root.certificate)
    for i, result in enumerate(answer.Results.SignResult):
        assert result.CorrelationID == f"c{i}" and result.Certificate == sim.certificate_der
        verified = xmlsec1_verify(result.Signature, tmp_path, root, DOCUMENT + bytes([i]), f"urn:msign:content:c{i}")
        assert verified.returncode == 0, verified.stderr
        assert b"SignatureTimeStamp" in result.Signature


@on_both_databases
def test_pdf_batch_signed_on_the_phone_with_the_idnp_typed(site, demo_pki):
    request_id = post(site, "Pdf", count=2, signer=None)
    browser = Browser(site)
    browser.enter(request_id)
    form = html(browser.page(f"/{request_id}/sign/mobile"))
    assert form.xpath("//input[@name='idnp']") and form.xpath("//input[@name='msisdn']/@value") == [""]
    browser.submit(request_id, msisdn=MARIA.msisdn[3:], idnp=MARIA.idnp)
    sign_on_the_phone(site, browser, request_id, MARIA, count=2)

    answer = site.status(request_id)
    assert answer.Status == "Success"
    for i, result in enumerate(answer.Results.SignResult):
        assert result.Certificate == demo_pki.sims[MARIA.msisdn].certificate_der
        validity = pyhanko_status(result.Signature, site.service)
        assert validity.intact and validity.valid and validity.trusted and validity.bottom_line
        assert result.Signature.startswith(minimal_pdf(f"Page {i}"))


@on_both_databases
def test_refused_on_the_phone(site):
    request_id = post(site, count=2)
    browser = Browser(site)
    browser.enter(request_id, MSISDN=ION.msisdn)
    browser.submit(request_id)
    assert phone(site).answer("refuse").status_code == 303
    result = browser.poll(request_id)
    assert result.url == f"{site.url}/{request_id}/sign?lang=en"
    assert translate(messages.MOBILE_REFUSED, "en") in result.text
    answer = site.status(request_id)
    assert (answer.Status, answer.Message) == ("Failure", "The signing was refused on the phone")
    assert site.status(request_id, "ro").Message == "Semnarea a fost refuzată pe telefon"
    assert phone(site).pending() == []


@on_both_databases
def test_unanswered_until_the_mssp_gives_up(site):
    request_id = post(site)
    browser = Browser(site)
    browser.enter(request_id, MSISDN=ION.msisdn)
    browser.submit(request_id)
    site.clock.advance(seconds=site.service.config.mssp_timeout - 1)
    assert browser.poll(request_id).url.endswith("/mobile?lang=en")
    site.clock.advance(seconds=1)
    assert browser.poll(request_id).url.endswith("/sign?lang=en")
    answer = site.status(request_id)
    assert (answer.Status, answer.Message) == ("Failure", "The signing was not confirmed on the phone in time")


def test_wrong_sim_pin_then_the_right_one(site):
    request_id = post(site)
    browser = Browser(site)
    browser.enter(request_id, MSISDN=ION.msisdn)
    browser.submit(request_id)
    device = phone(site)
    assert "Attempts left: 2" in device.answer("approve", "0000").text
    assert browser.poll(request_id).url.endswith("/mobile?lang=en")
    assert site.status(request_id).Status == "Pending"
    assert device.answer("approve", ION.sim_pin).status_code == 303
    browser.poll(request_id)
    assert site.status(request_id).Status == "Success"


def test_blocked_sim_pin_ends_the_request(site):
    request_id = post(site, signer=ANDREI.idnp)
    browser = Browser(site)
    browser.enter(request_id, MSISDN=ANDREI.msisdn)
    browser.submit(request_id)
    device = phone(site, ANDREI)
    for _ in range(3):
        device.answer("approve", "0000")
    browser.poll(request_id)
    answer = site.status(request_id)
    assert (answer.Status, answer.Message) == ("Failure", "The PIN of the mobile signature is blocked")
    # a new request cannot start while the SIM is blocked
    second = post(site, signer=ANDREI.idnp)
    browser.enter(second, MSISDN=ANDREI.msisdn)
    refused = browser.submit(second)
    assert translate(messages.MOBILE_PIN_BLOCKED, "en") in html(refused).xpath("//*[@role='alert']")[0].text_content()
    assert site.status(second).Status == "Pending"


@pytest.mark.parametrize(
    ("signer", "person", "message_id"),
    [
        pytest.param(ION.idnp, MARIA, messages.SIGNER_MISMATCH, id="expected-signer-mismatch"),
        pytest.param(ELENA.idnp, ELENA, messages.CERTIFICATE_REVOKED, id="revoked-sim-certificate"),
    ],
)
def test_the_signing_flow_refuses_the_sims_certificate(site, signer, person, message_id):
    request_id = post(site, signer=signer)
    browser = Browser(site)
    browser.enter(request_id, MSISDN=person.msisdn)
    result = browser.submit(request_id)
    assert result.url == f"{site.url}/{request_id}/sign?lang=en"
    answer = site.status(request_id)
    assert (answer.Status, answer.Message) == ("Failure", translate(message_id, "en"))
    assert phone(site, person).pending() == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"msisdn": "1234"}, pages.ENTER_MSISDN, id="short-number"),
        pytest.param({"msisdn": "37460000001"}, pages.ENTER_MSISDN, id="not-moldovan"),
        pytest.param({"msisdn": ION.msisdn[3:], "idnp": "123"}, pages.INVALID_IDNP, id="short-idnp"),
        pytest.param({"msisdn": "69999999", "idnp": ION.idnp}, messages.MOBILE_UNKNOWN_USER, id="no-mobile-signature"),
        pytest.param({"msisdn": ION.msisdn[3:], "idnp": MARIA.idnp}, messages.MOBILE_UNKNOWN_USER, id="not-the-holder"),
    ],
)
def test_the_form_refuses(site, fields, message):
    request_id = post(site, "Pdf", signer=None)
    browser = Browser(site)
    browser.enter(request_id)
    page = browser.submit(request_id, **fields)
    assert page.status_code == 200 and page.url.endswith(f"/{request_id}/sign/mobile")
    assert html(page).xpath("//*[@role='alert']")[0].text_content() == translate(message, "en")
    assert html(page).xpath("//input[@name='msisdn']/@value") == [fields["msisdn"]]
    assert site.status(request_id).Status == "Pending"
    assert browser.poll(request_id).url.endswith(f"/{request_id}/sign/mobile?lang=en")  # nothing started


@pytest.mark.parametrize(
    "number", [pytest.param(n, id=n) for n in ("60000001", "060000001", "+37360000001", "37360000001")]
)
def test_phone_number_forms(site, number):
    request_id = post(site)
    browser = Browser(site)
    browser.enter(request_id)
    assert browser.submit(request_id, msisdn=number).url.endswith("/mobile?lang=en")
    assert len(phone(site).pending()) == 1
    browser.cancel(request_id)


@on_both_databases
def test_cancel_while_waiting_for_the_phone(site):
    request_id = post(site)
    browser = Browser(site)
    browser.enter(request_id, MSISDN=ION.msisdn)
    progress = browser.submit(request_id)
    [cancel] = html(progress).xpath("//button[@data-action='cancel']")
    assert cancel.getparent().get("action") == f"/{request_id}/cancel"
    browser.cancel(request_id)
    phone(site).answer("approve", ION.sim_pin)  # too late: nobody asks any more
    assert browser.poll(request_id).url.endswith("/sign?lang=en")
    answer = site.status(request_id)
    assert (answer.Status, answer.Message) == ("Failure", "The user cancelled the signing")


def test_progress_page_polls_without_javascript(site):
    request_id = post(site, count=2)
    browser = Browser(site)
    browser.enter(request_id, MSISDN=ION.msisdn)
    page = browser.submit(request_id)
    tree = html(page)
    # without JavaScript a meta refresh; with it, the page's script asks for JSON instead
    assert tree.xpath("//noscript/meta[@http-equiv='refresh']/@content") == ["2"]
    assert not tree.xpath("//meta[@http-equiv='refresh'][not(parent::noscript)]")
    assert tree.xpath("//h2[@data-progress]")[0].text_content() == "Document 1 of 2"
    assert "+" + ION.msisdn in page.text
    ro = browser.page(f"/{request_id}/mobile?lang=ro")
    assert html(ro).xpath("//h2[@data-progress]")[0].text_content() == "Documentul 1 din 2"
    browser.cancel(request_id)


def test_the_progress_page_script_asks_for_json(site):
    request_id = post(site, count=2)
    browser = Browser(site)
    browser.enter(request_id, MSISDN=ION.msisdn)
    page = browser.submit(request_id)
    [script] = html(page).xpath("//script")
    policy = page.headers["Content-Security-Policy"]
    assert f"script-src 'nonce-{script.get('nonce')}'" in policy and "connect-src 'self'" in policy
    assert f'"/{request_id}/mobile?lang=en"' in script.text
    ask = {"Accept": "application/json"}
    state = browser.session.get(f"{site.url}/{request_id}/mobile?lang=ro", headers=ask, timeout=30).json()
    assert state == {"progress": "1/2", "heading": "Documentul 1 din 2", "code": code_on(page), "notice": None}
    phone(site).answer("approve", ION.sim_pin)
    state = browser.session.get(f"{site.url}/{request_id}/mobile?lang=en", headers=ask, timeout=30).json()
    assert state["progress"] == "2/2" and state["code"] == phone(site).pending()[0]["code"]
    browser.cancel(request_id)
    state = browser.session.get(f"{site.url}/{request_id}/mobile?lang=en", headers=ask, timeout=30).json()
    assert state == {"location": f"/{request_id}/sign?lang=en"}


def test_a_finished_request_has_no_progress_page(site):
    request_id = post(site)
    browser = Browser(site)
    browser.enter(request_id)
    assert browser.poll(request_id).url.endswith(f"/{request_id}/sign/mobile?lang=en")  # nothing started yet
    browser.cancel(request_id)
    assert browser.poll(request_id).url.endswith(f"/{request_id}/sign?lang=en")


@on_both_databases
def test_concurrent_polls_send_each_content_once(site):
    request_id = post(site, count=2)
    browser = Browser(site)
    browser.enter(request_id, MSISDN=ION.msisdn)
    browser.submit(request_id)
    phone(site).answer("approve", ION.sim_pin)
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            site.mobile.poll(request_id)
        except BaseException as e:  # noqa: BLE001 -- reported below
            errors.append(e)

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(phone(site).pending()) == 1
    T = site.service.store.models.MobileTransaction
    with site.service.store.db.connection_context():
        sent = [t.mssp_trans_id for t in T.select().where(T.request == request_id).order_by(T.position)]
    assert all(sent) and len(set(sent)) == 2
    phone(site).answer("approve", ION.sim_pin)
    site.mobile.poll(request_id)
    assert site.status(request_id).Status == "Success"


@on_both_databases
def test_concurrent_starts_send_once(site, monkeypatch):
    """A double submit reaching four workers at the same moment starts the
    signing once: the others find it being started."""
    request_id = post(site)
    Browser(site).enter(request_id, MSISDN=ION.msisdn)
    profile = site.mobile.client.profile
    profiled: list[str] = []
    others_done = threading.Semaphore(0)

    def held_profile(msisdn: str, idnp: str | None) -> Any:
        # the start that claimed waits here until the three others have returned
        profiled.append(msisdn)
        for _ in range(3):
            others_done.acquire(timeout=60)
        return profile(msisdn, idnp)

    monkeypatch.setattr(site.mobile.client, "profile", held_profile)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            site.mobile.start(request_id, ION.msisdn, None)
        except BaseException as e:  # noqa: BLE001 -- reported below
            errors.append(e)
        finally:
            others_done.release()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(profiled) == 1
    assert len(phone(site).pending()) == 1
    phone(site).answer("approve", ION.sim_pin)
    site.mobile.poll(request_id)
    assert site.status(request_id).Status == "Success"


@on_both_databases
def test_a_new_start_replaces_the_last(site):
    request_id = post(site, signer=None, content_type="Pdf")
    browser = Browser(site)
    browser.enter(request_id)
    browser.submit(request_id, msisdn=ION.msisdn[3:], idnp=ION.idnp)
    # back to the form, another phone
    browser.submit(request_id, msisdn=MARIA.msisdn[3:], idnp=MARIA.idnp)
    assert phone(site, MARIA).answer("approve", MARIA.sim_pin).status_code == 303
    browser.poll(request_id)
    answer = site.status(request_id)
    assert answer.Status == "Success"
    assert answer.Results.SignResult[0].Certificate == site.service.pki.sims[MARIA.msisdn].certificate_der
    phone(site).answer("refuse")  # Ion's forgotten request


def test_instrument_start_raises_for_a_closed_request(site):
    request_id = post(site)
    site.service.requests.fail(request_id)
    with pytest.raises(RequestClosed):
        site.mobile.start(request_id, ION.msisdn, None)
    assert site.mobile.poll(request_id) is None


def test_instrument_start_refused_signer(site):
    request_id = post(site, signer=MARIA.idnp)
    with pytest.raises(SignerRejected):
        site.mobile.start(request_id, ION.msisdn, None)
    assert site.status(request_id).Status == "Failure"


# -- the MSSP is another server: its URL and credentials are configuration -----------------


@dataclass
class Switch:
    """Forwards to ``app`` unless ``down`` (or the message is of the kind
    ``refusing``): then answers 503 without a message."""

    app: Any
    down: bool = False
    refusing: str | None = None
    calls: list[str] = field(default_factory=list)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        self.calls.append(environ["PATH_INFO"])
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        if self.down or (self.refusing is not None and self.refusing.encode() in body):
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"down for maintenance"]
        return self.app(environ, start_response)  # type: ignore[no-any-return]


@pytest.fixture
def operator(tmp_path: Path, demo_pki: DemoPki) -> Iterator[tuple[Site, Switch, FrozenClock]]:
    """A service whose MSSP is a simulator on another server, with a clock of its own."""
    directory = tmp_path / "operator"
    write_demo_sims(demo_pki, directory)
    register_access_point(directory, "eservice-ap", "operator-secret")
    operator_clock = FrozenClock()
    switch = Switch(create_simulator(directory, clock=operator_clock))
    with serve(switch) as (mssp, _):
        settings = {
            "mssp_url": mssp + "/rest/service",
            "mssp_ap_id": "eservice-ap",
            "mssp_ap_password": "operator-secret",
            "mssp_timeout": 60,
        }
        with running(tmp_path / "data", FrozenClock(), **settings) as site:
            yield site, switch, operator_clock


def test_a_configured_mssp_replaces_the_simulator(operator):
    site, switch, _ = operator
    assert site.service.mssp_simulator is None
    assert requests.get(site.url + "/mssp-sim/", timeout=30).status_code == 404
    request_id = post(site)
    browser = Browser(site)
    browser.enter(request_id, MSISDN=ION.msisdn)
    browser.submit(request_id)
    # the profile query, the first signature request, the progress page's status query
    assert switch.calls == ["/rest/service"] * 3
    with serve(switch) as (base, _):
        assert Phone(base, ION.msisdn).answer("approve", ION.sim_pin).status_code == 303
    browser.poll(request_id)
    assert site.status(request_id).Status == "Success"


def test_the_service_gives_up_when_its_own_time_is_up(operator):
    site, _, _ = operator  # the operator's clock stands still: it would wait for ever
    request_id = post(site)
    browser = Browser(site)
    browser.enter(request_id, MSISDN=ION.msisdn)
    browser.submit(request_id)
    site.clock.advance(seconds=60)
    assert site.status(request_id).Status == "Pending"
    site.clock.advance(seconds=1)
    browser.poll(request_id)
    answer = site.status(request_id)
    assert (answer.Status, answer.Message) == ("Failure", "The signing was not confirmed on the phone in time")


def test_an_mssp_that_does_not_answer_is_asked_again(operator):
    site, switch, _ = operator
    request_id = post(site, count=2)
    browser = Browser(site)
    browser.enter(request_id, MSISDN=ION.msisdn)
    browser.submit(request_id)
    switch.down = True
    page = browser.poll(request_id)
    assert page.url.endswith("/mobile?lang=en")
    assert shown_notice(page) == translate(messages.MOBILE_UNAVAILABLE, "en")
    assert site.status(request_id).Status == "Pending"
    switch.down = False
    with serve(switch) as (base, _):
        Phone(base, ION.msisdn).answer("approve", ION.sim_pin)
        switch.refusing = "MSS_SignatureReq"
        page = browser.poll(request_id)  # the signature is collected, the next content cannot be sent
        assert html(page).xpath("//*[@data-progress]/@data-progress") == ["2/2"]
        assert shown_notice(page)
        assert Phone(base, ION.msisdn).pending() == [] and site.status(request_id).Status == "Pending"
        switch.refusing = None
        page = browser.poll(request_id)  # sent now
        assert shown_notice(page) is None
        assert [p["code"] for p in Phone(base, ION.msisdn).pending()] == [code_on(page)]
        Phone(base, ION.msisdn).answer("approve", ION.sim_pin)
    browser.poll(request_id)
    assert site.status(request_id).Status == "Success"


def test_an_mssp_that_cannot_take_a_content_in_time_ends_the_request(operator):
    """Sending keeps failing: the user's time (mssp_timeout from the first attempt) still runs out."""
    site, switch, _ = operator
    request_id = post(site, count=2)
    browser = Browser(site)
    browser.enter(request_id, MSISDN=ION.msisdn)
    browser.submit(request_id)
    with serve(switch) as (base, _):
        Phone(base, ION.msisdn).answer("approve", ION.sim_pin)
    switch.refusing = "MSS_SignatureReq"
    browser.poll(request_id)  # the second content cannot be sent
    assert site.status(request_id).Status == "Pending"
    site.clock.advance(seconds=site.service.config.mssp_timeout + 1)
    browser.poll(request_id)
    answer = site.status(request_id)
    assert (answer.Status, answer.Message) == ("Failure", translate(messages.MOBILE_TIMEOUT, "en"))


def test_the_form_says_when_the_mssp_is_down(operator):
    site, switch, _ = operator
    request_id = post(site)
    browser = Browser(site)
    browser.enter(request_id, MSISDN=ION.msisdn)
    switch.down = True
    page = browser.submit(request_id)
    alert = html(page).xpath("//*[@role='alert']")[0].text_content()
    assert alert == "The mobile signature service does not answer; try again later"
    assert site.status(request_id).Status == "Pending"


# -- the page's rules ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("msisdn", "signer", "form"),
    [
        pytest.param(ION.msisdn, ION.idnp, True, id="msisdn-and-expected-signer"),
        pytest.param(None, ION.idnp, False, id="no-msisdn"),
        pytest.param(ION.msisdn, None, False, id="no-expected-signer"),
    ],
)
def test_instrument_mobile_skips_the_choice_only_with_msisdn_and_signer(site, msisdn, signer, form):
    request_id = post(site, "Pdf", signer=signer)
    browser = Browser(site)
    params = {"Instrument": "mobile", **({"MSISDN": msisdn} if msisdn else {})}
    page = html(browser.enter(request_id, **params))
    assert bool(page.xpath("//form[@data-form='mobile']")) is form
    assert page.xpath("//*[@data-instrument][@aria-current]/@data-instrument") == ["mobile"]
    if form:
        assert page.xpath("//input[@name='msisdn']/@value") == [ION.msisdn[3:]]
        assert not page.xpath("//input[@name='idnp']")  # ExpectedSigner.ID names the signer
        assert "+373" in page.xpath("//form[@data-form='mobile']")[0].text_content()


def test_the_mobile_card_is_a_link(site):
    request_id = post(site)
    browser = Browser(site)
    page = html(browser.enter(request_id, MSISDN="069123456"))
    [card] = page.xpath("//*[@data-instrument='mobile']")
    assert card.tag == "a" and card.get("href") == f"/{request_id}/sign/mobile?lang=en"
    assert "+37369123456" in card.text_content()


def test_display_text_fits_a_phone():
    assert display_text("Contract no. 12", 0, 1, "0042") == "Contract no. 12 · 0042"
    assert display_text("Contract  no.\n12", 1, 3, "0042") == "Contract no. 12 (2/3) · 0042"
    long = display_text("x" * 90, 0, 1, "1234")
    assert long == "x" * (DISPLAY_DESCRIPTION - 1) + "… · 1234"
    # a right-to-left override would show the code elsewhere; control characters go too
    assert display_text("Pay\u202e 1000\x07", 0, 1, "0042") == "Pay 1000 · 0042"


def test_verification_code_is_four_digits_from_the_digest():
    assert verification_code(bytes(32)) == "0000"
    assert verification_code(b"\xff" + bytes(30) + b"\xff") == f"{(63 << 7) | 127:04d}"


def test_the_service_offers_mobile_on_the_embedded_default(site):
    assert site.mobile.kind == MOBILE
    assert site.service.mssp_simulator is not None
    directory = site.service.config.data_dir / "mssp-sim"
    assert {p.name for p in directory.iterdir()} >= {"sims.json", "access-points.json", "mssp-sim.sqlite3"}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param({"mssp_url": "ftp://mssp.example"}, "mssp_url must be", id="not-http"),
        pytest.param({"mssp_url": "https://mssp.example/rest"}, "needs mssp_ap_password", id="no-password"),
        pytest.param({"mssp_timeout": "601"}, "at most 600", id="long-timeout"),
        pytest.param({"mssp_timeout": "0"}, "positive whole number", id="no-timeout"),
        pytest.param({"mssp_http_timeout": "0"}, "mssp_http_timeout", id="no-http-timeout"),
        pytest.param({"mssp_ap_id": " "}, "mssp_ap_id", id="empty-ap-id"),
    ],
)
def test_bad_mssp_settings_are_refused(settings, message):
    environ = {f"MSIGN_{k.upper()}": v for k, v in settings.items()}
    with pytest.raises(ConfigurationError, match=message):
        load_config(environ=environ)


def test_mssp_settings_from_the_environment():
    config = load_config(
        environ={
            "MSIGN_MSSP_URL": "https://mssp.example.md/rest/service",
            "MSIGN_MSSP_AP_ID": "http://eservice.md/ap",
            "MSIGN_MSSP_AP_PASSWORD": "pw",
            "MSIGN_MSSP_TIMEOUT": "120",
            "MSIGN_MSSP_HTTP_TIMEOUT": "2.5",
        }
    )
    assert (config.mssp_url, config.mssp_ap_id, config.mssp_ap_password) == (
        "https://mssp.example.md/rest/service",
        "http://eservice.md/ap",
        "pw",
    )
    assert (config.mssp_timeout, config.mssp_http_timeout) == (120, 2.5)


def test_without_demo_pki_or_mssp_there_is_no_mobile_signature(tmp_path):
    service = create_app(load_config(environ={}, data_dir=tmp_path / "data", demo_pki=False))
    try:
        assert "mobile" not in service.instruments and service.mssp_simulator is None
    finally:
        service.close()


def test_without_the_simulator_package_the_service_still_starts(tmp_path, monkeypatch):
    import importlib

    real = importlib.import_module

    def without_simulator(name: str, package: str | None = None) -> Any:
        if name == "msign_mssp_sim":
            raise ModuleNotFoundError("No module named 'msign_mssp_sim'")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", without_simulator)
    seed_demo_pki(tmp_path / "data")
    service = create_app(load_config(environ={}, data_dir=tmp_path / "data"))
    try:
        assert "mobile" not in service.instruments and service.mssp_simulator is None
        assert "securesign" in service.instruments
    finally:
        service.close()


def test_demo_people_have_documented_msisdns_and_sim_pins(demo_pki):
    assert [(p.msisdn, p.sim_pin) for p in DEMO_PEOPLE] == [
        ("37360000001", "1111"),
        ("37360000002", "2222"),
        ("37360000003", "3333"),
        ("37360000004", "4444"),
        ("37360000005", "5555"),
    ]
    for person in DEMO_PEOPLE:
        sim = demo_pki.sims[person.msisdn]
        assert sim.idnp == person.idnp and sim.revoked is person.revoked
        assert sim.certificate.subject == demo_pki.people[person.idnp].certificate.subject
        assert sim.certificate.public_key() != demo_pki.people[person.idnp].certificate.public_key()
        assert sim.private_key.public_key() == sim.certificate.public_key()
    revoked = {r.serial_number for r in demo_pki.revocations}
    assert demo_pki.sims[ELENA.msisdn].serial_number in revoked
    assert demo_pki.sims[ION.msisdn].serial_number in demo_pki.issued_serials


def test_a_pki_from_before_sim_cards_still_loads(tmp_path):
    import json
    import shutil

    from msign_soap.pki import load_demo_pki

    copy = tmp_path / "pki"
    shutil.copytree(shared_demo_pki_template(), copy)
    manifest = json.loads((copy / "demo-pki.json").read_text(encoding="utf-8"))
    del manifest["sims"]
    (copy / "demo-pki.json").write_text(json.dumps(manifest), encoding="utf-8")
    old = load_demo_pki(copy, "http://127.0.0.1:8080")
    assert old.sims == {} and len(old.revocations) == 1


def test_display_text_on_the_phone_is_cut(site):
    short = "A very long description of what is being signed here today, and more"
    request_id = post(site, short=short)
    browser = Browser(site)
    browser.enter(request_id, MSISDN=ION.msisdn)
    code = code_on(browser.submit(request_id))
    [shown] = phone(site).pending()
    assert shown == {"id": shown["id"], "text": f"{short[:39]}… · {code}", "code": code}
    browser.cancel(request_id)
