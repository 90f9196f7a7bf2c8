"""The sandbox for integrators' CI (:mod:`msign_soap.sandbox`): every fixed
outcome through ``POST /sandbox/{RequestID}/complete`` on a real server on
loopback, driven as an e-service drives it (zeep from the served WSDL, plain
HTTP); the phones that answer by themselves through the sign page's mobile
form with no browser; and where the sandbox is not: switched off, without
the demo consumer, in production, for another consumer's requests."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import lxml.html
import pytest
import requests
import zeep
from cryptography import x509
from cryptography.x509.oid import NameOID
from werkzeug.test import Client

from msign_mssp_sim import SimulatorError, create_simulator
from msign_soap.app import Service, create_app
from msign_soap.config import load_config
from msign_soap.core import ExpectedSigner, SignContentInput, SignRequestInput, is_valid_idn
from msign_soap.errors import ConfigurationError, KeyLocked
from msign_soap.i18n import messages, translate
from msign_soap.pki import DEMO_PEOPLE
from msign_soap.pki.sandbox import SANDBOX_PEOPLE, sandbox_identity
from msign_soap.pki.sims import register_access_point, write_demo_sims

from .conftest import FrozenClock, make_service, minimal_pdf
from .pki_support import seed_demo_pki, serve

ION, MARIA, VASILE, ELENA, ANDREI = DEMO_PEOPLE
APPROVER, REFUSER, SILENT, EXPIRER, LOCKED = SANDBOX_PEOPLE
RETURN_URL = "https://eservice.example.md/signed"
DOCUMENT = b"Contract no. 12 between the parties"


@dataclass
class Site:
    """The service on a real server on 127.0.0.1, with the e-service's SOAP client."""

    url: str
    service: Service
    clock: FrozenClock
    soap: Any

    def complete(self, request_id: str, **fields: str) -> requests.Response:
        """The sandbox's completion, as an e-service's test posts it (JSON)."""
        return requests.post(f"{self.url}/sandbox/{request_id}/complete", json=fields, timeout=60)


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data_dir = tmp_path_factory.mktemp("sandbox") / "data"
    seed_demo_pki(data_dir)
    clock = FrozenClock()
    with serve() as (url, server):
        service = create_app(load_config(environ={}, data_dir=data_dir, public_url=url), clock)
        server.app = service
        try:
            # as an e-service builds its client: from the WSDL the service publishes
            soap = zeep.Client(f"{url}/MSign.svc?singleWsdl").service
            yield Site(url, service, clock, soap)
        finally:
            service.close()


@pytest.fixture
def site(shared_site: Site) -> Site:
    # an hour later for each test: what the last one left pending has expired, locked keys are open
    shared_site.clock.advance(hours=1)
    return shared_site


# -- the e-service's side ------------------------------------------------------------------


def documents(content_type: str, count: int) -> list[bytes]:
    """What the e-service asks to have signed: SHA-1 hashes, or PDFs."""
    if content_type == "Hash":
        return [hashlib.sha1(DOCUMENT + bytes([i])).digest() for i in range(count)]
    return [minimal_pdf(f"Contract page {i}") for i in range(count)]


def post_request(site: Site, content_type: str = "Hash", signer: str | None = ION.idnp, count: int = 1) -> str:
    """PostSignRequest, as the e-service sends it."""
    contents = [
        {"Content": content, "CorrelationID": f"c{i}", **({"Name": f"{i}.pdf"} if content_type == "Pdf" else {})}
        for i, content in enumerate(documents(content_type, count))
    ]
    request: dict[str, Any] = {
        "ContentType": content_type,
        "Contents": {"SignContent": contents},
        "ShortContentDescription": "Contract no. 12",
    }
    if signer is not None:
        request["ExpectedSigner"] = {"ID": signer}
    return str(site.soap.PostSignRequest(request=request))


def receive(site: Site, request_id: str, content_type: str = "Hash", count: int = 1) -> Any:
    """What the e-service does once told that a request has ended (the
    ReturnUrl's callback, the sandbox's answer — or a webhook): fetch the
    outcome and, for ``Success``, have every signature verified.

    :return: GetSignResponse's answer (``Status``, ``Message``, ``Results``).
    """
    answer = site.soap.GetSignResponse(requestID=request_id, language="en")
    if answer.Status == "Success":
        results = answer.Results.SignResult
        assert [r.CorrelationID for r in results] == [f"c{i}" for i in range(count)]
        if content_type == "Hash":
            contents = [
                {"Content": original, "Signature": r.Signature}
                for original, r in zip(documents(content_type, count), results, strict=True)
            ]
        else:
            originals = documents(content_type, count)
            assert all(r.Signature.startswith(o) for o, r in zip(originals, results, strict=True))  # incremental
            contents = [{"Signature": r.Signature} for r in results]
        request = {"Contents": {"VerificationContent": contents}, "SignedContentType": content_type, "Language": "en"}
        verdicts = site.soap.VerifySignatures(request=request).VerificationResult
        assert [(v.SignaturesValid, v.Message) for v in verdicts] == [(True, "The signature is valid")] * count
    return answer


def holder(certificate_der: bytes) -> str:
    """The IDNP in a certificate's SERIALNUMBER."""
    subject = x509.load_der_x509_certificate(certificate_der).subject
    return str(subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value)


# -- every outcome, with no browser ------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "idnp", "fields", "status", "message"),
    [
        pytest.param("Hash", ION.idnp, {}, "Success", None, id="approve-demo-person"),
        pytest.param("Pdf", MARIA.idnp, {"instrument": "tax"}, "Success", None, id="approve-pdf-tax"),
        pytest.param("Hash", ANDREI.idnp, {"instrument": "mobile"}, "Success", None, id="approve-with-the-sim-key"),
        pytest.param("Pdf", APPROVER.idnp, {}, "Success", None, id="approve-sandbox-person"),
        pytest.param("Hash", ELENA.idnp, {}, "Failure", messages.CERTIFICATE_REVOKED, id="approve-revoked-signer"),
        pytest.param("Hash", REFUSER.idnp, {}, "Failure", messages.CANCELLED, id="refuse"),
        pytest.param(
            "Pdf", REFUSER.idnp, {"instrument": "mobile"}, "Failure", messages.MOBILE_REFUSED, id="refuse-on-the-phone"
        ),
        pytest.param("Hash", SILENT.idnp, {}, "Failure", messages.MOBILE_TIMEOUT, id="time-out"),
        pytest.param("Pdf", EXPIRER.idnp, {}, "Expired", messages.EXPIRED, id="expire"),
        pytest.param("Hash", LOCKED.idnp, {}, "Pending", None, id="lock-the-pin"),
        pytest.param("Pdf", LOCKED.idnp, {"instrument": "tax"}, "Pending", None, id="lock-the-tax-pin"),
    ],
)
def test_eservice_flow_without_a_browser(site, content_type, idnp, fields, status, message):
    """PostSignRequest, the sandbox in the user's place, GetSignResponse: a
    Hash request names the signer (the completion takes its outcome from
    ExpectedSigner), a Pdf request does not (the completion names the IDNP)."""
    count = 2
    signer = idnp if content_type == "Hash" else None
    request_id = post_request(site, content_type, signer, count)
    body = fields if signer else {"idnp": idnp, **fields}

    completed = site.complete(request_id, **body)
    assert completed.status_code == 200, completed.text
    assert completed.json() == {"RequestID": request_id, "Status": status}

    answer = receive(site, request_id, content_type, count)
    assert answer.Status == status
    assert answer.Message == (translate(message, "en") if message else None)
    if status == "Success":
        certificates = {r.Certificate for r in answer.Results.SignResult}
        assert {holder(c) for c in certificates} == {idnp}
        if fields.get("instrument") == "mobile":
            assert certificates == {site.service.pki.sims[ANDREI.msisdn].certificate_der}
    else:
        assert answer.Results is None or all(r.Signature is None for r in answer.Results.SignResult)


def test_a_locked_pin_is_what_the_sign_page_then_shows(site):
    request_id = post_request(site, signer=LOCKED.idnp)
    assert site.complete(request_id).json()["Status"] == "Pending"
    browser = requests.Session()
    browser.get(f"{site.url}/{request_id}", params={"ReturnUrl": RETURN_URL, "lang": "en"}, timeout=30)
    page = lxml.html.fromstring(browser.get(f"{site.url}/{request_id}/sign/securesign", timeout=30).text)
    [form] = [f for f in page.forms if f.get("data-form") == "securesign"]
    data = {**dict(form.form_values()), "pin": LOCKED.idnp[-4:]}
    response = browser.post(f"{site.url}/{request_id}/sign/securesign", data=data, timeout=30)
    alert = lxml.html.fromstring(response.text).xpath("//*[@role='alert']")[0].text_content()
    assert alert == translate(messages.KEY_LOCKED, "en")
    assert receive(site, request_id).Status == "Pending"
    # the lock is the cloud key's own, in its PIN counter
    with pytest.raises(KeyLocked):
        site.service.instruments["securesign"].sign(request_id, LOCKED.idnp, "0052")


def test_completion_from_a_form_and_a_dashed_request_id(site):
    request_id = post_request(site, signer=None)
    guid = "-".join((request_id[:8], request_id[8:12], request_id[12:16], request_id[16:20], request_id[20:]))
    completed = requests.post(f"{site.url}/sandbox/{guid.upper()}/complete", data={"idnp": MARIA.idnp}, timeout=60)
    assert completed.json() == {"RequestID": request_id, "Status": "Success"}
    assert receive(site, request_id).Status == "Success"


@pytest.mark.parametrize(
    ("body", "code", "error"),
    [
        pytest.param({"idnp": "2009000000063"}, 400, "idnp 2009000000063 is neither", id="unknown-idnp"),
        pytest.param({"idnp": "not an idnp"}, 400, "is neither a demo person", id="not-an-idnp"),
        pytest.param({"instrument": "fingerprint"}, 400, "instrument must be one of", id="unknown-instrument"),
        pytest.param({"idnp": LOCKED.idnp, "instrument": "mobile"}, 400, "to lock a PIN", id="lock-without-cloud-key"),
        pytest.param({"idnp": 2004001234567}, 400, "idnp must be a string", id="idnp-a-number"),
        pytest.param([ION.idnp], 400, "body must be a JSON object", id="body-a-list"),
    ],
)
def test_completions_refused(site, body, code, error):
    request_id = post_request(site)
    refused = requests.post(f"{site.url}/sandbox/{request_id}/complete", json=body, timeout=30)
    assert (refused.status_code, refused.headers["Content-Type"]) == (code, "application/json")
    assert error in refused.json()["error"]
    assert receive(site, request_id).Status == "Pending"


def test_no_idnp_and_no_expected_signer(site):
    request_id = post_request(site, "Pdf", signer=None)
    refused = site.complete(request_id)
    assert refused.status_code == 400
    assert refused.json()["error"] == "idnp is required: the request names no ExpectedSigner"


def test_unknown_and_finished_requests(site):
    unknown = site.complete("0" * 32, idnp=ION.idnp)
    assert (unknown.status_code, unknown.json()) == (404, {"error": "Cannot find such request"})
    assert site.complete("nothing-like-an-id", idnp=ION.idnp).status_code == 404
    assert requests.get(f"{site.url}/sandbox/{'0' * 32}/complete", timeout=30).status_code == 405
    request_id = post_request(site)
    assert site.complete(request_id).json()["Status"] == "Success"
    again = site.complete(request_id, idnp=REFUSER.idnp)
    assert again.status_code == 409
    assert again.json() == {"error": "The signing request is Success, not Pending", "Status": "Success"}
    assert receive(site, request_id).Status == "Success"


def test_an_overdue_request_is_expired_not_completed(site):
    request_id = post_request(site)
    site.clock.advance(seconds=site.service.config.request_lifetime)
    answer = site.complete(request_id)
    assert (answer.status_code, answer.json()["Status"]) == (409, "Expired")


def test_another_consumers_request_is_refused(site):
    requests_ = site.service.requests
    consumer = requests_.add_consumer(f"cadastru-{site.clock.now:%H%M%S}")
    contents: list[SignContentInput | None] = [SignContentInput(hashlib.sha1(DOCUMENT).digest())]
    request_id = requests_.post(
        consumer, SignRequestInput("Hash", contents, "Act", expected_signer=ExpectedSigner(ION.idnp))
    )
    for body in ({}, {"idnp": REFUSER.idnp}, {"idnp": EXPIRER.idnp}):
        refused = site.complete(request_id, **body)
        assert refused.status_code == 403
        assert refused.json() == {"error": "This signature request was not initiated by this system"}
    assert requests_.get(consumer, request_id, "en").status.value == "Pending"
    requests_.fail(request_id)  # finished: still 403, its state is not told
    assert site.complete(request_id).status_code == 403


def test_identities_list_every_outcome(site):
    listed = requests.get(f"{site.url}/sandbox/identities", timeout=30)
    assert listed.headers["Content-Type"] == "application/json"
    people = {p["idnp"]: p for p in listed.json()}
    assert set(people) == {p.idnp for p in (*DEMO_PEOPLE, *SANDBOX_PEOPLE)}
    assert people[ION.idnp] == {
        "idnp": ION.idnp,
        "name": "Ion Popescu",
        "outcome": "approve",
        "status": "Success",
        "msisdn": ION.msisdn,
        "phone": "manual",
        "sim_pin": "1111",
        "pins": {"securesign": "4567", "tax": "234567"},
        "revoked": False,
    }
    assert (people[ELENA.idnp]["status"], people[ELENA.idnp]["revoked"]) == ("Failure", True)
    assert [(people[p.idnp]["outcome"], people[p.idnp]["status"], people[p.idnp]["phone"]) for p in SANDBOX_PEOPLE] == [
        ("approve", "Success", "approve"),
        ("refuse", "Failure", "refuse"),
        ("time-out", "Failure", "silent"),
        ("expire", "Expired", None),
        ("lock", "Pending", None),
    ]


def test_sandbox_people_have_valid_idnps_and_stable_certificates(site):
    assert all(is_valid_idn(p.idnp) for p in SANDBOX_PEOPLE)
    assert len({p.idnp for p in (*DEMO_PEOPLE, *SANDBOX_PEOPLE)}) == len(DEMO_PEOPLE) + len(SANDBOX_PEOPLE)
    assert [p.msisdn for p in SANDBOX_PEOPLE if p.msisdn] == ["37360000011", "37360000012", "37360000013"]
    pki = site.service.pki
    first, second = (sandbox_identity(pki, APPROVER) for _ in range(2))
    assert first.certificate_der == second.certificate_der  # every worker computes the same one
    assert sandbox_identity(pki, REFUSER).certificate_der != first.certificate_der
    assert holder(first.certificate_der) == APPROVER.idnp
    assert first.certificate.issuer == pki.issuing_ca.certificate.subject


# -- the phones that answer by themselves, through the sign page's mobile form -----------------


def sign_on_the_page(site: Site, request_id: str, msisdn: str) -> tuple[requests.Session, requests.Response]:
    """A browser without JavaScript: the entry with Instrument=mobile and the
    phone, the mobile form posted as it is filled in; the browser, and where
    it ended (the progress page, or the result already: the progress page's
    first look asks the phone, which may have answered at once)."""
    browser = requests.Session()
    params = {"ReturnUrl": RETURN_URL, "lang": "en", "Instrument": "mobile", "MSISDN": msisdn}
    page = browser.get(f"{site.url}/{request_id}", params=params, timeout=30)
    [form] = [f for f in lxml.html.fromstring(page.text).forms if f.get("data-form") == "mobile"]
    started = browser.post(f"{site.url}/{request_id}/sign/mobile", data=dict(form.form_values()), timeout=60)
    assert started.url in (f"{site.url}/{request_id}/{page}?lang=en" for page in ("mobile", "sign"))
    return browser, started


@pytest.mark.parametrize(
    ("person", "status", "message"),
    [
        pytest.param(APPROVER, "Success", None, id="approves"),
        pytest.param(REFUSER, "Failure", messages.MOBILE_REFUSED, id="refuses"),
        pytest.param(SILENT, "Failure", messages.MOBILE_TIMEOUT, id="never-answers"),
    ],
)
def test_autopilot_phones(site, person, status, message):
    count = 2
    request_id = post_request(site, "Pdf", person.idnp, count)
    browser, page = sign_on_the_page(site, request_id, person.msisdn)
    if person is SILENT:
        assert page.url.endswith("/mobile?lang=en")
        site.clock.advance(seconds=site.service.config.mssp_timeout)
    for _ in range(count + 1):  # each look collects a signature and sends the next content
        if page.url.endswith(f"/{request_id}/sign?lang=en"):
            break
        page = browser.get(f"{site.url}/{request_id}/mobile?lang=en", timeout=60)
    assert page.url.endswith(f"/{request_id}/sign?lang=en")
    result = lxml.html.fromstring(page.text)
    assert result.xpath("//form[@name='callback']/@action") == [RETURN_URL]
    answer = receive(site, request_id, "Pdf", count)
    assert (answer.Status, answer.Message) == (status, translate(message, "en") if message else None)


def test_an_autopilot_phone_takes_no_answer_from_its_page(site):
    request_id = post_request(site, signer=SILENT.idnp)
    assert sign_on_the_page(site, request_id, SILENT.msisdn)[1].url.endswith("/mobile?lang=en")
    phone = f"{site.url}/mssp-sim/phone/{SILENT.msisdn}"
    page = lxml.html.fromstring(requests.get(phone, timeout=30).text)
    assert page.xpath("//*[@data-autopilot]/@data-autopilot") == ["silent"]
    [transaction] = page.xpath("//*[@data-transaction]/@data-transaction")
    assert not page.xpath("//*[@data-action]")
    answer = requests.post(f"{phone}/{transaction}", data={"action": "approve", "pin": "3333"}, timeout=30)
    assert answer.status_code == 409 and "answers by itself" in answer.text
    assert receive(site, request_id).Status == "Pending"
    site.complete(request_id, idnp=REFUSER.idnp)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        pytest.param({"auto": "sometimes"}, "auto of 37360000011 must be one of approve, refuse, silent", id="unknown"),
        pytest.param({"pin": None}, "auto approve of 37360000011 needs the SIM PIN in pin", id="approve-without-pin"),
    ],
)
def test_the_simulator_checks_its_autopilots(tmp_path, demo_pki, change, error):
    assert write_demo_sims(demo_pki, tmp_path, sandbox=True)
    register_access_point(tmp_path, "ap", "pw")
    path = tmp_path / "sims.json"
    data = json.loads(path.read_text())
    [approver] = [s for s in data["sims"] if s["msisdn"] == APPROVER.msisdn]
    approver.update(change)
    path.write_text(json.dumps(data))
    with pytest.raises(SimulatorError, match=error):
        create_simulator(tmp_path)


def test_an_autopilot_whose_pin_does_not_open_its_key_is_an_mssp_fault(tmp_path, demo_pki):
    write_demo_sims(demo_pki, tmp_path, sandbox=True)
    register_access_point(tmp_path, "ap", "pw")
    path = tmp_path / "sims.json"
    data = json.loads(path.read_text())
    next(s for s in data["sims"] if s["msisdn"] == APPROVER.msisdn)["pin"] = "0000"
    path.write_text(json.dumps(data))
    message = {
        "AP_Info": {"AP_ID": "ap", "AP_PWD": "pw", "AP_TransID": "T1", "Instant": "2026-11-28T12:00:00Z"},
        "MobileUser": {"MSISDN": APPROVER.msisdn},
        "DataToBeSigned": {"Encoding": "BASE64", "Data": "B" * 43 + "="},
        "DataToBeDisplayed": {"Data": "Contract · 0001"},
        "SignatureProfile": "urn:msign-soap:mss:profile:sha256",
    }
    reply = Client(create_simulator(tmp_path)).post("/rest/service", json={"MSS_SignatureReq": message})
    assert reply.status_code == 500
    assert reply.get_json()["Fault"]["Reason"] == "INTERNAL_ERROR"


# -- where there is no sandbox -------------------------------------------------------------------


def _paths(service: Service) -> list[int]:
    client = Client(service)
    return [
        client.get("/sandbox/identities").status_code,
        client.post(f"/sandbox/{'0' * 32}/complete", json={"idnp": ION.idnp}).status_code,
    ]


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"sandbox": False}, id="switched-off"),
        pytest.param({"demo_mode": False}, id="no-demo-consumer"),
    ],
)
def test_without_the_sandbox_nothing_of_it_exists(tmp_path, settings):
    service = make_service(tmp_path, **settings)
    try:
        assert _paths(service) == [404, 404]
        sims = json.loads((service.config.data_dir / "mssp-sim" / "sims.json").read_text())["sims"]
        assert [s["msisdn"] for s in sims] == [p.msisdn for p in DEMO_PEOPLE]
        assert not any("auto" in s for s in sims)
    finally:
        service.close()


def test_switching_the_sandbox_on_gives_the_simulator_its_phones(tmp_path):
    make_service(tmp_path, sandbox=False).close()
    service = make_service(tmp_path)
    try:
        assert _paths(service) == [200, 404]
        sims = json.loads((service.config.data_dir / "mssp-sim" / "sims.json").read_text())["sims"]
        assert {s["msisdn"]: s.get("auto") for s in sims if "auto" in s} == {
            "37360000011": "approve",
            "37360000012": "refuse",
            "37360000013": "silent",
        }
    finally:
        service.close()


def test_production_has_no_sandbox(tmp_path):
    proxies = {"trusted_proxies": ("127.0.0.1/32",), "data_dir": tmp_path}
    assert load_config(environ={}, production=True, **proxies).sandbox is False
    with pytest.raises(ConfigurationError, match="production mode has no sandbox: sandbox must be off"):
        load_config(environ={}, production=True, sandbox=True, **proxies)
    with pytest.raises(ConfigurationError, match="no sandbox"):
        load_config(environ={"MSIGN_PRODUCTION": "true", "MSIGN_SANDBOX": "on"}, **proxies)
    assert load_config(environ={"MSIGN_SANDBOX": "off"}).sandbox is False
    with pytest.raises(ConfigurationError, match="sandbox"):
        load_config(environ={"MSIGN_SANDBOX": "maybe"})


def test_the_default_is_the_sandbox_on():
    assert load_config(environ={}).sandbox is True


def test_the_webhook_tells_the_eservice_after_its_receiver_failed(site, tmp_path):
    """The e-service registers a webhook; its receiver fails the first time. Every
    terminal state of the flow arrives once, signed, and the e-service then fetches it."""
    from .test_webhooks import Receiver, receiving, verify

    receiver = Receiver(failures=1)
    with receiving(receiver):
        site.service.requests.demo_consumer()
        key = site.service.consumers.set_webhook("demo", receiver.url)
        stop = site.service.start_maintenance()  # the delivery thread, as serve runs it
        try:
            outcomes = {}
            for idnp, status in ((APPROVER.idnp, "Success"), (REFUSER.idnp, "Failure"), (EXPIRER.idnp, "Expired")):
                request_id = post_request(site, "Hash", idnp)
                assert site.complete(request_id).json()["Status"] == status
                outcomes[request_id] = status
            deadline = time.monotonic() + 60
            while len(receiver.accepted()) < len(outcomes) and time.monotonic() < deadline:
                site.clock.advance(seconds=10)  # the failed delivery's backoff passes
                time.sleep(0.2)
            time.sleep(1.5)  # a delivery thread pass more: nothing is sent twice
        finally:
            stop.set()
            site.service.consumers.set_webhook("demo", None)
    delivered = {}
    for headers, body in receiver.accepted():
        verify(key, headers, body)
        told = json.loads(body)
        assert told["RequestID"] not in delivered  # exactly once
        delivered[told["RequestID"]] = told["Status"]
        assert receive(site, told["RequestID"]).Status == told["Status"]
    assert delivered == outcomes
    assert len(receiver.received) == len(outcomes) + 1  # the one refused, then each once
