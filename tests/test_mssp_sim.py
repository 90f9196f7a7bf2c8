"""The bundled MSSP simulator (``msign_mssp_sim``) on its own: the TS 102 204
messages in JSON, its faults, the phone pages, SIM PINs; and its separation
from the service (neither package imports the other)."""

from __future__ import annotations

import ast
import base64
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from werkzeug.test import Client

import msign_mssp_sim
from msign_mssp_sim import SimulatorError, create_simulator
from msign_soap.instruments import mobile
from msign_soap.pki import DEMO_PEOPLE, DemoPki
from msign_soap.pki.sims import register_access_point, write_demo_sims

from .conftest import FrozenClock

ROOT = Path(__file__).parent.parent
AP_ID, AP_PWD = "test-ap", "s3cret-password"
ION = DEMO_PEOPLE[0]
ELENA = next(p for p in DEMO_PEOPLE if p.revoked)
PROFILE = "urn:msign-soap:mss:profile:sha256"


@pytest.fixture
def sim_dir(tmp_path: Path, demo_pki: DemoPki) -> Path:
    directory = tmp_path / "mssp-sim"
    assert write_demo_sims(demo_pki, directory)
    assert register_access_point(directory, AP_ID, AP_PWD) == AP_PWD
    return directory


@pytest.fixture
def sim(sim_dir: Path, clock: FrozenClock) -> Any:
    return create_simulator(sim_dir, clock=clock, pin_attempts=3, pin_lockout=60)


@pytest.fixture
def phone(sim: Any) -> Client:
    return Client(sim)


def ap_info(transaction: str = "T1", password: str = AP_PWD) -> dict[str, str]:
    return {"AP_ID": AP_ID, "AP_PWD": password, "AP_TransID": transaction, "Instant": "2026-11-28T12:00:00Z"}


def signature_request(digest: bytes = b"\x07" * 32, **changes: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "MajorVersion": 1,
        "MinorVersion": 1,
        "AP_Info": ap_info(),
        "MobileUser": {"MSISDN": ION.msisdn},
        "DataToBeSigned": {
            "MimeType": "application/octet-stream",
            "Encoding": "BASE64",
            "Data": base64.b64encode(digest).decode(),
        },
        "DataToBeDisplayed": {"MimeType": "text/plain", "Encoding": "UTF-8", "Data": "Contract no. 12 · 0123"},
        "SignatureProfile": PROFILE,
        "MSS_Format": "http://uri.etsi.org/TS102204/v1.1.2#PKCS1",
        "MessagingMode": "asynchClientServer",
        "TimeOut": 120,
    }
    message.update(changes)
    return message


def send(client: Client, kind: str, content: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    reply = client.post("/rest/service", json={kind: content})
    assert reply.content_type == "application/json"
    return reply.status_code, reply.get_json()


def start(client: Client, **changes: Any) -> str:
    code, answer = send(client, "MSS_SignatureReq", signature_request(**changes))
    assert code == 200, answer
    assert answer["MSS_SignatureResp"]["Status"] == {"StatusCode": {"Value": 100}, "StatusMessage": "REQUEST_OK"}
    return str(answer["MSS_SignatureResp"]["MSSP_TransID"])


def status_of(client: Client, transaction: str) -> dict[str, Any]:
    code, answer = send(client, "MSS_StatusReq", {"AP_Info": ap_info("Q1"), "MSSP_TransID": transaction})
    assert code == 200, answer
    return answer["MSS_StatusResp"]  # type: ignore[no-any-return]


def pending(client: Client, msisdn: str = ION.msisdn) -> list[dict[str, str]]:
    page = lxml.html.fromstring(client.get(f"/phone/{msisdn}").get_data(as_text=True))
    return [
        {
            "id": s.get("data-transaction"),
            "text": s.xpath(".//*[@class='text']")[0].text_content(),
            "code": s.xpath(".//*[@data-verification-code]")[0].get("data-verification-code"),
        }
        for s in page.xpath("//*[@data-transaction]")
    ]


def answer(client: Client, transaction: str, action: str, pin: str = "", msisdn: str = ION.msisdn) -> Any:
    return client.post(f"/phone/{msisdn}/{transaction}", data={"action": action, "pin": pin})


# -- separation from the service -------------------------------------------------------


def imported_modules(package: Path) -> set[str]:
    """Top-level names of every module the package's files import (absolute imports)."""
    names: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_the_simulator_and_the_service_import_nothing_of_each_other():
    simulator, service = imported_modules(ROOT / "msign_mssp_sim"), imported_modules(ROOT / "msign_soap")
    assert "msign_soap" not in simulator
    assert "msign_mssp_sim" not in service
    # the simulator needs nothing but the standard library and declared dependencies
    assert simulator - set(sys.stdlib_module_names) <= {"cryptography", "jinja2", "werkzeug"}
    # the one use of the simulator in the service: the launcher loads it by name
    by_name = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "msign_soap").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value == "msign_mssp_sim"
    ]
    assert by_name == ["msign_soap/app.py"]


def test_it_ships_in_the_distribution():
    import configparser

    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    assert "msign_mssp_sim" in parser["options"]["packages"].split()
    assert "templates/*.html" in parser["options.package_data"]["msign_mssp_sim"]
    assert Path(msign_mssp_sim.__file__).parent == ROOT / "msign_mssp_sim"


# -- the AP's messages -------------------------------------------------------------------


def test_profile_query_names_the_sims_certificate(phone, demo_pki):
    sim = demo_pki.sims[ION.msisdn]
    code, reply = send(phone, "MSS_ProfileReq", {"AP_Info": ap_info(), "MobileUser": {"MSISDN": ION.msisdn}})
    assert code == 200
    profile = reply["MSS_ProfileResp"]
    assert profile["Status"]["StatusCode"]["Value"] == 100
    assert profile["SignatureProfile"] == [PROFILE]
    assert [base64.b64decode(c) for c in profile["Certificates"]] == [sim.certificate_der, *sim.chain_der]
    assert profile["AP_Info"] == {"AP_ID": AP_ID, "AP_TransID": "T1", "Instant": "2026-11-28T12:00:00Z"}
    assert profile["MSSP_Info"] == {"MSSP_ID": {"URI": msign_mssp_sim.MSSP_ID}}
    # the holder's IDNP may be given: the right one is accepted
    user = {"MSISDN": ION.msisdn, "UserIdentifier": ION.idnp}
    assert send(phone, "MSS_ProfileReq", {"AP_Info": ap_info(), "MobileUser": user})[0] == 200


def test_approve_on_the_phone_gives_a_signature_over_the_digest(phone, demo_pki):
    digest = hashlib.sha256(b"data to be signed").digest()
    transaction = start(phone, digest=digest)
    status = status_of(phone, transaction)
    assert status["Status"] == {"StatusCode": {"Value": 504}, "StatusMessage": "OUTSTANDING_TRANSACTION"}
    assert "MSS_Signature" not in status and status["MobileUser"] == {"MSISDN": ION.msisdn}

    [shown] = pending(phone)
    assert shown == {
        "id": transaction,
        "text": "Contract no. 12 · 0123",
        "code": msign_mssp_sim.verification_code(digest),
    }
    reply = answer(phone, transaction, "approve", ION.sim_pin)
    assert (reply.status_code, reply.headers["Location"]) == (303, f"/phone/{ION.msisdn}?notice=signed")
    assert pending(phone) == []

    status = status_of(phone, transaction)
    assert status["Status"] == {"StatusCode": {"Value": 500}, "StatusMessage": "SIGNATURE"}
    value = base64.b64decode(status["MSS_Signature"]["Base64Signature"])
    sim_key = demo_pki.sims[ION.msisdn].certificate.public_key()
    sim_key.verify(value, digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    # the same value as a signature over the data itself (RSA with SHA-256)
    sim_key.verify(value, b"data to be signed", padding.PKCS1v15(), hashes.SHA256())


def test_refuse_on_the_phone(phone):
    transaction = start(phone)
    reply = answer(phone, transaction, "refuse")
    assert reply.headers["Location"].endswith("?notice=refused")
    assert status_of(phone, transaction)["Status"] == {"StatusCode": {"Value": 401}, "StatusMessage": "USER_CANCEL"}
    # a late approval changes nothing
    assert answer(phone, transaction, "approve", ION.sim_pin).headers["Location"].endswith("?notice=gone")
    assert status_of(phone, transaction)["Status"]["StatusCode"]["Value"] == 401


def test_a_transaction_expires_after_its_timeout(phone, clock):
    transaction = start(phone, TimeOut=30)
    clock.advance(seconds=29)
    assert status_of(phone, transaction)["Status"]["StatusCode"]["Value"] == 504
    clock.advance(seconds=1)
    assert status_of(phone, transaction)["Status"] == {
        "StatusCode": {"Value": 208},
        "StatusMessage": "EXPIRED_TRANSACTION",
    }
    assert pending(phone) == []
    assert answer(phone, transaction, "approve", ION.sim_pin).headers["Location"].endswith("?notice=gone")


def test_wrong_pins_then_the_right_one(phone):
    transaction = start(phone)
    page = answer(phone, transaction, "approve", "0000")
    assert page.status_code == 200 and "Wrong PIN. Attempts left: 2." in page.get_data(as_text=True)
    assert "Attempts left: 1." in answer(phone, transaction, "approve", "9999").get_data(as_text=True)
    assert answer(phone, transaction, "approve", ION.sim_pin).status_code == 303
    assert status_of(phone, transaction)["Status"]["StatusCode"]["Value"] == 500
    # the right PIN forgets the wrong ones: three more are needed to block
    second = start(phone, AP_Info=ap_info("T2"))
    for _ in range(2):
        answer(phone, second, "approve", "0000")
    assert status_of(phone, second)["Status"]["StatusCode"]["Value"] == 504


def test_too_many_wrong_pins_block_the_sim_for_a_while(phone, clock):
    transaction = start(phone)
    for _ in range(2):
        answer(phone, transaction, "approve", "0000")
    page = answer(phone, transaction, "approve", "0000").get_data(as_text=True)
    assert "the SIM&#39;s PIN is blocked" in page
    assert status_of(phone, transaction)["Status"] == {"StatusCode": {"Value": 402}, "StatusMessage": "PIN_NR_BLOCKED"}
    code, fault = send(phone, "MSS_SignatureReq", signature_request(AP_Info=ap_info("T2")))
    assert (code, fault["Fault"]["Reason"]) == (400, "PIN_NR_BLOCKED")
    assert "blocked until" in phone.get(f"/phone/{ION.msisdn}").get_data(as_text=True)
    clock.advance(seconds=61)
    later = start(phone, AP_Info=ap_info("T3"))
    assert answer(phone, later, "approve", ION.sim_pin).status_code == 303
    assert status_of(phone, later)["Status"]["StatusCode"]["Value"] == 500


def test_another_process_sees_the_same_phones(sim_dir, clock, phone):
    transaction = start(phone)
    other = Client(create_simulator(sim_dir, clock=clock))
    assert [p["id"] for p in pending(other)] == [transaction]
    answer(other, transaction, "approve", ION.sim_pin)
    assert status_of(phone, transaction)["Status"]["StatusCode"]["Value"] == 500


@pytest.mark.parametrize(
    ("kind", "content", "http", "code"),
    [
        pytest.param("MSS_SignatureReq", {"AP_Info": {}}, 400, 102, id="no-ap-info"),
        pytest.param("MSS_SignatureReq", signature_request(AP_Info=ap_info(password="x")), 401, 104, id="wrong-ap-pwd"),
        pytest.param(
            "MSS_SignatureReq", signature_request(AP_Info={**ap_info(), "AP_ID": "who"}), 401, 104, id="unknown-ap"
        ),
        pytest.param("MSS_SignatureReq", signature_request(MobileUser={}), 400, 102, id="no-msisdn"),
        pytest.param(
            "MSS_SignatureReq", signature_request(MobileUser={"MSISDN": "37369999999"}), 400, 105, id="unknown-msisdn"
        ),
        pytest.param(
            "MSS_SignatureReq",
            signature_request(MobileUser={"MSISDN": ION.msisdn, "UserIdentifier": ELENA.idnp}),
            400,
            105,
            id="another-holder",
        ),
        pytest.param("MSS_SignatureReq", signature_request(digest=b"\x01" * 31), 400, 103, id="short-digest"),
        pytest.param(
            "MSS_SignatureReq",
            signature_request(DataToBeSigned={"Encoding": "BASE64", "Data": "not base64!"}),
            400,
            101,
            id="not-base64",
        ),
        pytest.param(
            "MSS_SignatureReq",
            signature_request(DataToBeDisplayed={"Data": "x" * 161}),
            400,
            103,
            id="text-too-long",
        ),
        pytest.param("MSS_SignatureReq", signature_request(SignatureProfile="urn:other"), 400, 109, id="profile"),
        pytest.param("MSS_SignatureReq", signature_request(MSS_Format="PKCS7"), 400, 101, id="pkcs7"),
        pytest.param("MSS_SignatureReq", signature_request(MessagingMode="synch"), 400, 101, id="synch-mode"),
        pytest.param("MSS_SignatureReq", signature_request(TimeOut=0), 400, 101, id="no-time"),
        pytest.param("MSS_SignatureReq", signature_request(TimeOut=601), 400, 101, id="too-much-time"),
        pytest.param("MSS_StatusReq", {"AP_Info": ap_info(), "MSSP_TransID": "S00"}, 400, 101, id="unknown-trans-id"),
        pytest.param("MSS_StatusReq", {"AP_Info": ap_info()}, 400, 102, id="no-trans-id"),
        pytest.param("MSS_Registration", {"AP_Info": ap_info()}, 400, 101, id="unknown-message"),
        pytest.param("MSS_ProfileReq", [], 400, 101, id="not-an-object"),
    ],
)
def test_faults(phone, kind, content, http, code):
    status, reply = send(phone, kind, content)
    fault = reply["Fault"]
    assert status == http
    assert fault["Code"] == {"Value": "Sender", "SubCode": {"Value": f"_{code}"}}
    assert fault["Reason"] == msign_mssp_sim.STATUS[code] and fault["Detail"]


@pytest.mark.parametrize(
    ("method", "body"),
    [
        pytest.param("GET", None, id="get"),
        pytest.param("POST", b"{not json", id="not-json"),
        pytest.param("POST", b'{"a": 1, "b": 2}', id="two-messages"),
    ],
)
def test_a_body_that_is_no_message(phone, method, body):
    reply = phone.open("/rest/service", method=method, data=body, content_type="application/json")
    assert reply.status_code == 400 and reply.get_json()["Fault"]["Reason"] == "WRONG_PARAM"


def test_an_ap_transaction_id_is_used_once(phone):
    start(phone)
    code, reply = send(phone, "MSS_SignatureReq", signature_request())
    assert (code, reply["Fault"]["Reason"]) == (400, "WRONG_PARAM")


def test_an_ap_sees_only_its_own_transactions(sim_dir, clock, phone):
    transaction = start(phone)
    register_access_point(sim_dir, "other-ap", "other-password")
    other = Client(create_simulator(sim_dir, clock=clock))
    content = {"AP_Info": {**ap_info(), "AP_ID": "other-ap", "AP_PWD": "other-password"}, "MSSP_TransID": transaction}
    code, reply = send(other, "MSS_StatusReq", content)
    assert (code, reply["Fault"]["Reason"]) == (400, "WRONG_PARAM")


# -- the phone pages ---------------------------------------------------------------------


def test_phone_page_escapes_the_text_and_is_locked_down(phone):
    start(phone, DataToBeDisplayed={"Data": "<script>alert(1)</script>"})
    reply = phone.get(f"/phone/{ION.msisdn}")
    body = reply.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    policy = reply.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "'unsafe-inline'" not in policy
    assert "<script" not in body.replace("&lt;script", "")  # nothing runs while a request waits
    page = lxml.html.fromstring(body)
    assert page.xpath("//*[@data-action='approve']") and page.xpath("//*[@data-action='refuse']")
    assert page.xpath("//input[@name='pin']")
    # waiting for an answer: no reload under the user's fingers
    assert not page.xpath("//meta[@http-equiv='refresh']")


def test_an_idle_phone_looks_again_by_itself(phone):
    reply = phone.get(f"/phone/{ION.msisdn}")
    page = lxml.html.fromstring(reply.get_data(as_text=True))
    # without JavaScript a meta refresh, with it a script asking for JSON
    assert page.xpath("//noscript/meta[@http-equiv='refresh']/@content") == ["2"]
    [script] = page.xpath("//script")
    assert f"'nonce-{script.get('nonce')}'" in reply.headers["Content-Security-Policy"]
    assert "connect-src 'self'" in reply.headers["Content-Security-Policy"]
    asked = {"Accept": "application/json"}
    assert phone.get(f"/phone/{ION.msisdn}", headers=asked).get_json() == {"pending": []}
    transaction = start(phone)
    assert phone.get(f"/phone/{ION.msisdn}", headers=asked).get_json() == {"pending": [transaction]}


def test_index_lists_the_phones(phone):
    body = phone.get("/").get_data(as_text=True)
    assert re.findall(r'href="/phone/(\d+)"', body) == [p.msisdn for p in DEMO_PEOPLE]


@pytest.mark.parametrize(
    ("path", "method"),
    [
        pytest.param("/phone/37369999999", "GET", id="unknown-phone"),
        pytest.param("/phone/37369999999/S00", "POST", id="answer-of-an-unknown-phone"),
        pytest.param("/nothing", "GET", id="unknown-path"),
    ],
)
def test_not_found(phone, path, method):
    assert phone.open(path, method=method).status_code == 404


def test_answer_without_a_choice(phone):
    transaction = start(phone)
    assert answer(phone, transaction, "maybe").status_code == 400
    assert status_of(phone, transaction)["Status"]["StatusCode"]["Value"] == 504


def test_mounted_under_a_prefix_the_links_follow(sim):
    reply = Client(sim).get("/phone/" + ION.msisdn, environ_overrides={"SCRIPT_NAME": "/mssp-sim"})
    assert 'href="/mssp-sim/"' in reply.get_data(as_text=True)


# -- files and codes -------------------------------------------------------------------


def test_a_directory_without_files_is_refused(tmp_path):
    with pytest.raises(SimulatorError, match="sims.json"):
        create_simulator(tmp_path)


def test_sim_keys_are_locked_under_their_pin(sim_dir, demo_pki):
    from msign_mssp_sim.cards import load_cards

    card = load_cards(sim_dir)[ION.msisdn]
    assert b"ENCRYPTED PRIVATE KEY" in card.encrypted_key
    assert card.sign("0000", b"\x00" * 32) is None
    assert card.sign(ION.sim_pin, b"\x00" * 32) is not None
    assert x509.load_der_x509_certificate(card.certificate) == demo_pki.sims[ION.msisdn].certificate
    assert card.serial_number == ION.idnp and card.holder == ION.name


@pytest.mark.parametrize("digest", [bytes(32), b"\xff" * 32, hashlib.sha256(b"x").digest(), bytes(range(32))])
def test_phone_and_service_derive_the_same_verification_code(digest):
    code = msign_mssp_sim.verification_code(digest)
    assert code == mobile.verification_code(digest)
    assert len(code) == 4 and code.isdigit()


def test_files_are_rewritten_for_a_new_pki_only(sim_dir, demo_pki, tmp_path):
    assert not write_demo_sims(demo_pki, sim_dir)  # the same PKI: kept
    (sim_dir / "sims.json").write_text('{"format": 1, "sims": []}', encoding="utf-8")
    assert write_demo_sims(demo_pki, sim_dir)
    assert register_access_point(sim_dir, AP_ID) == AP_PWD  # kept
    made = register_access_point(tmp_path / "fresh", "ap")
    assert len(made) >= 24 and register_access_point(tmp_path / "fresh", "ap") == made
    assert (tmp_path / "fresh" / "access-points.json").stat().st_mode & 0o077 == 0


def test_the_block_ends_after_the_lockout(phone, clock):
    transaction = start(phone)
    for _ in range(3):
        answer(phone, transaction, "approve", "0000")
    clock.advance(seconds=59)
    assert send(phone, "MSS_SignatureReq", signature_request(AP_Info=ap_info("T2")))[0] == 400
    clock.advance(seconds=1)
    assert send(phone, "MSS_SignatureReq", signature_request(AP_Info=ap_info("T3")))[0] == 200


def test_workers_starting_together_agree_on_the_access_point_password(tmp_path, monkeypatch):
    """Another worker makes the file between this one's read and write: this one takes its password."""
    from msign_soap.pki import sims

    real_read = sims._read
    other = {}

    def read_while_another_worker_writes(path):
        found = real_read(path)
        if not other:  # the first read: the file is made right after it
            other["password"] = None
            other["password"] = register_access_point(tmp_path, AP_ID)
        return found

    monkeypatch.setattr(sims, "_read", read_while_another_worker_writes)
    mine = register_access_point(tmp_path, AP_ID)
    assert mine == other["password"]
    assert json.loads((tmp_path / sims.ACCESS_POINTS_FILE).read_text())["access_points"][AP_ID] == mine
