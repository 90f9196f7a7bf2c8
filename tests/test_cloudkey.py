"""The cloud-key instruments (securesign, tax) and their software keystore."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from msign_soap.core import ExpectedSigner, SignContentInput
from msign_soap.errors import KeyLocked, RequestClosed, SignerRejected, WrongPin
from msign_soap.i18n import messages
from msign_soap.instruments import CLOUD_KEY, DEMO_KDF, CloudKeyInstrument, demo_pin
from msign_soap.instruments.keystore import _aad, _derive

from .conftest import make_service, minimal_pdf
from .test_signing_flow import (
    DOCUMENT,
    ELENA,
    ION,
    MARIA,
    assert_failed_with,
    needs_xmlsec1,
    pem_file,
    post,
    pyhanko_status,
    status,
    xmlsec1_verify,
)

pytestmark = pytest.mark.postgresql

ION_PIN = "4567"  # securesign: the last 4 digits of the IDNP
ION_TAX_PIN = "234567"  # tax: the last 6 digits


def record(service, idnp=ION, provider="securesign"):
    return service.instruments[provider].keystore.record(provider, idnp)


def row(service, idnp=ION, provider="securesign"):
    keystore = service.instruments[provider].keystore
    model = keystore.CloudKey
    with service.store.db.connection_context():
        return model.get((model.provider == provider) & (model.idnp == idnp))


def test_instruments_of_the_service(service):
    cloud_keys = {name: i for name, i in service.instruments.items() if i.kind == CLOUD_KEY}
    assert set(cloud_keys) == {"securesign", "tax"}
    for name, instrument in cloud_keys.items():
        assert isinstance(instrument, CloudKeyInstrument)
        assert (instrument.name, instrument.kind) == (name, CLOUD_KEY)
    assert (demo_pin("securesign", ION), demo_pin("tax", ION)) == (ION_PIN, ION_TAX_PIN)


# -- happy paths ---------------------------------------------------------------


@needs_xmlsec1
def test_hash_request_signed_with_the_pin(service, client, tmp_path):
    request_id = client.PostSignRequest(
        request={
            "ContentType": "Hash",
            "Contents": {"SignContent": [{"Content": hashlib.sha1(DOCUMENT).digest(), "CorrelationID": "c-17"}]},
            "ShortContentDescription": "Contract no. 17",
            "ExpectedSigner": {"ID": ION},
        }
    )
    service.instruments["securesign"].sign(request_id, ION, ION_PIN)

    response = client.GetSignResponse(requestID=request_id, language="en")
    assert response.Status == "Success"
    [result] = response.Results.SignResult
    assert result.Certificate == service.pki.people[ION].certificate_der
    root = pem_file(tmp_path / "root.pem", service.pki.root.certificate)
    verified = xmlsec1_verify(result.Signature, tmp_path, root, DOCUMENT, "urn:msign:content:c-17")
    assert verified.returncode == 0, verified.stderr
    assert b"SignatureTimeStamp" in result.Signature


def test_pdf_batch_signed_with_one_pin(service):
    contents = [SignContentInput(minimal_pdf(f"Page {i}"), f"p{i}", f"{i}.pdf") for i in range(3)]
    request_id = post(service, "Pdf", contents)
    service.instruments["tax"].sign(request_id, MARIA, demo_pin("tax", MARIA))

    response = status(service, request_id)
    assert response.status == "Success"
    assert len(response.results) == 3
    for result in response.results:
        assert result.certificate == service.pki.people[MARIA].certificate_der
        validity = pyhanko_status(result.signature, service)
        assert validity.intact and validity.valid and validity.trusted and validity.bottom_line


def test_providers_hold_their_own_keys(service):
    request_id = post(service)
    with pytest.raises(WrongPin):
        service.instruments["tax"].sign(request_id, ION, ION_PIN)  # securesign's PIN
    assert record(service, provider="tax").failed_attempts == 1
    assert record(service, provider="securesign").failed_attempts == 0
    service.instruments["tax"].sign(request_id, ION, ION_TAX_PIN)
    assert status(service, request_id).status == "Success"


# -- PINs ----------------------------------------------------------------------


def test_wrong_pin_is_counted_and_leaves_the_request_pending(service):
    request_id = post(service)
    with pytest.raises(WrongPin) as wrong:
        service.instruments["securesign"].sign(request_id, ION, "0000")
    assert wrong.value.message_id == messages.WRONG_PIN
    assert wrong.value.attempts_left == 4
    assert record(service).failed_attempts == 1
    assert status(service, request_id).status == "Pending"


def test_right_pin_resets_the_counter(service):
    request_id = post(service)
    for _ in range(4):
        with pytest.raises(WrongPin):
            service.instruments["securesign"].sign(request_id, ION, "0000")
    assert record(service).failed_attempts == 4
    service.instruments["securesign"].sign(request_id, ION, ION_PIN)
    assert record(service).failed_attempts == 0
    assert status(service, request_id).status == "Success"


@pytest.fixture
def strict_service(tmp_path, clock, database_url):
    svc = make_service(tmp_path, clock, pin_attempts=3, pin_lockout=60, database_url=database_url)
    yield svc
    svc.close()


def test_lockout_after_wrong_pins_and_unlock_after_the_time(strict_service, clock):
    service = strict_service
    securesign = service.instruments["securesign"]
    request_id = post(service)
    for left in (2, 1):
        with pytest.raises(WrongPin) as wrong:
            securesign.sign(request_id, ION, "0000")
        assert wrong.value.attempts_left == left
    with pytest.raises(KeyLocked) as locked:
        securesign.sign(request_id, ION, "0000")
    assert locked.value.message_id == messages.KEY_LOCKED
    assert locked.value.locked_until == clock.now + timedelta(seconds=60)

    clock.advance(seconds=59)
    with pytest.raises(KeyLocked):
        securesign.sign(request_id, ION, ION_PIN)  # even the right PIN
    assert status(service, request_id).status == "Pending"
    assert record(service).locked_until is not None

    clock.advance(seconds=2)
    securesign.sign(request_id, ION, ION_PIN)
    assert status(service, request_id).status == "Success"
    assert (record(service).failed_attempts, record(service).locked_until) == (0, None)


def test_lock_runs_out_and_counting_starts_afresh(strict_service, clock):
    securesign = strict_service.instruments["securesign"]
    request_id = post(strict_service)
    for _ in range(2):
        with pytest.raises(WrongPin):
            securesign.sign(request_id, ION, "0000")
    with pytest.raises(KeyLocked):
        securesign.sign(request_id, ION, "0000")
    clock.advance(seconds=61)
    with pytest.raises(WrongPin) as wrong:
        securesign.sign(request_id, ION, "0000")
    assert wrong.value.attempts_left == 2


def test_wrong_pins_at_the_same_moment_lock_once(service, clock):
    """The two last wrong PINs before a lockout, checked at once: one locks, the other is told so."""
    import threading

    from msign_soap.instruments.pin_counter import PinCounter

    counter = PinCounter(service.store, service.store.models.PinCounter, clock, max_attempts=2, create=True)
    rows = [counter.reserve("securesign", ION) for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[type] = []

    def wrong(row) -> None:
        barrier.wait()
        outcomes.append(type(counter.wrong(row.id, "securesign", ION)))

    threads = [threading.Thread(target=wrong, args=(row,)) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(o.__name__ for o in outcomes) == ["KeyLocked", "WrongPin"]
    assert len(service.requests.audit.records("pin.lockout")) == 1


def test_unknown_idnp(service):
    request_id = post(service)
    with pytest.raises(WrongPin) as wrong:
        service.instruments["securesign"].sign(request_id, "2009009999993", "9993")
    assert wrong.value.message_id == messages.WRONG_PIN  # the same as a wrong PIN
    assert wrong.value.attempts_left is None
    assert status(service, request_id).status == "Pending"


def test_a_closed_request_costs_no_attempt(service):
    request_id = post(service)
    service.instruments["securesign"].sign(request_id, ION, ION_PIN)
    with pytest.raises(RequestClosed):
        service.instruments["securesign"].sign(request_id, ION, "0000")
    assert record(service).failed_attempts == 0


def test_translated_messages():
    from msign_soap.i18n import translate

    assert translate(messages.WRONG_PIN, "ro") == "IDNP-ul sau codul PIN este greșit"
    assert translate(messages.KEY_LOCKED, "ru").startswith("Слишком много неверных PIN-кодов")


# -- the stored key --------------------------------------------------------------


def test_stored_key_is_sealed_under_the_pin(service):
    stored = row(service)
    pkcs8 = service.pki.people[ION].private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    values = [bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for v in stored.__data__.values()]
    assert all(pkcs8[-64:] not in v for v in values)
    assert (stored.kdf, stored.kdf_n, stored.kdf_r, stored.kdf_p) == ("scrypt", DEMO_KDF.n, DEMO_KDF.r, DEMO_KDF.p)
    assert len(bytes(stored.salt)) == 16

    sealed = bytes(stored.encrypted_key)
    aad = _aad("securesign", ION, bytes(stored.certificate))
    assert AESGCM(_derive(ION_PIN, bytes(stored.salt), DEMO_KDF)).decrypt(sealed[:12], sealed[12:], aad) == pkcs8
    with pytest.raises(InvalidTag):
        AESGCM(_derive("4568", bytes(stored.salt), DEMO_KDF)).decrypt(sealed[:12], sealed[12:], aad)
    with pytest.raises(InvalidTag):  # bound to its record
        other = _aad("securesign", MARIA, bytes(stored.certificate))
        AESGCM(_derive(ION_PIN, bytes(stored.salt), DEMO_KDF)).decrypt(sealed[:12], sealed[12:], other)


def test_a_blob_moved_to_another_record_does_not_open(service):
    keystore = service.instruments["securesign"].keystore
    model = keystore.CloudKey
    ion = row(service)
    with service.store.db.connection_context():
        model.update(encrypted_key=ion.encrypted_key, salt=ion.salt).where(model.idnp == MARIA).execute()
    with pytest.raises(WrongPin):
        keystore.unlock("securesign", MARIA, ION_PIN)


# -- the core's checks -------------------------------------------------------------


def test_expected_signer_mismatch_fails_the_request(service, client):
    request_id = post(service, signer=ExpectedSigner(MARIA))
    with pytest.raises(SignerRejected) as refused:
        service.instruments["securesign"].sign(request_id, ION, ION_PIN)
    assert refused.value.message_id == messages.SIGNER_MISMATCH
    assert_failed_with(client, request_id, messages.SIGNER_MISMATCH)
    assert record(service).failed_attempts == 0  # the PIN was right


def test_revoked_person_fails_the_request(service, client):
    request_id = post(service, signer=None)
    with pytest.raises(SignerRejected) as refused:
        service.instruments["securesign"].sign(request_id, ELENA, demo_pin("securesign", ELENA))
    assert refused.value.message_id == messages.CERTIFICATE_REVOKED
    assert_failed_with(client, request_id, messages.CERTIFICATE_REVOKED)


# -- provisioning ------------------------------------------------------------------


def test_demo_provisioning_is_idempotent(tmp_path, clock, database_url):
    first = make_service(tmp_path, clock, database_url=database_url)
    try:
        before = {(r.provider, r.idnp): bytes(r.salt) for r in _rows(first)}
    finally:
        first.close()
    assert len(before) == 2 * len(first.pki.people)
    second = make_service(tmp_path, clock, database_url=database_url)
    try:
        after = {(r.provider, r.idnp): bytes(r.salt) for r in _rows(second)}
        request_id = post(second)
        second.instruments["securesign"].sign(request_id, ION, ION_PIN)
    finally:
        second.close()
    assert after == before


def test_no_demo_keys_without_the_demo_pki(tmp_path, clock):
    svc = make_service(tmp_path, clock, demo_pki=False)
    try:
        assert list(_rows(svc)) == []
        assert set(svc.instruments) == {"securesign", "tax"}
    finally:
        svc.close()


def _rows(service):
    model = service.instruments["securesign"].keystore.CloudKey
    with service.store.db.connection_context():
        return list(model.select())


# -- the command line ----------------------------------------------------------------


def test_cli_imports_a_key_sealed_under_the_pin_typed(tmp_path, clock, monkeypatch, database_url):
    from msign_soap.cli import main

    from .pki_support import seed_demo_pki

    data = tmp_path / "data"
    seed_demo_pki(data)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "135790")
    options = ["--data-dir", str(data), *(["--database-url", database_url] if database_url else [])]
    command = ["keystore", "import", "--provider", "securesign", "--idnp", ION, *options]
    files = ["--cert", str(data / "pki/certs/ion-popescu.crt"), "--key", str(data / "pki/keys/ion-popescu.key.pem")]
    assert main(command + files) == 0
    assert main(command + files) == 1  # held already
    wrong = ["keystore", "import", "--provider", "securesign", "--idnp", MARIA, *options]
    assert main(wrong + files) == 2  # the certificate is Ion's

    service = make_service(tmp_path, clock, database_url=database_url)  # the demo keys leave Ion's alone
    try:
        request_id = post(service)
        with pytest.raises(WrongPin):
            service.instruments["securesign"].sign(request_id, ION, ION_PIN)
        service.instruments["securesign"].sign(request_id, ION, "135790")
        assert status(service, request_id).status == "Success"
        assert row(service).kdf_n == 2**15  # imported keys get the full cost
    finally:
        service.close()
