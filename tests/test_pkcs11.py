"""The PKCS #11 backend of the cloud keys, on SoftHSM2 tokens.

The tokens: ``tests/hsm_support.py`` (the session fixture ``softhsm``).
SoftHSM2 never locks a token after wrong PINs (the service's counter does), so
the HSM's own ``CKR_PIN_LOCKED`` is checked with a stand-in module.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import timedelta
from typing import Any

import pytest

from msign_soap.core import ExpectedSigner, SignContentInput, SignStatus
from msign_soap.errors import ConfigurationError, KeyLocked, SigningError, WrongPin
from msign_soap.i18n import messages

from .conftest import make_service, minimal_pdf
from .hsm_support import ANDREI, PIN
from .test_signing_flow import DOCUMENT, ION, needs_xmlsec1, pem_file, post, pyhanko_status, status, xmlsec1_verify


@pytest.fixture
def service(tmp_path, clock, softhsm):
    svc = make_service(tmp_path, clock, pkcs11_module=softhsm, pkcs11_providers="securesign")
    yield svc
    svc.close()


@pytest.fixture
def securesign(service):
    instrument = service.instruments["securesign"]
    assert type(instrument).__name__ == "Pkcs11CloudKey"
    return instrument


def test_only_the_configured_providers_use_the_hsm(service):
    assert type(service.instruments["tax"]).__name__ == "SoftwareCloudKey"


@needs_xmlsec1
def test_hash_batch_signed_in_the_token(service, securesign, tmp_path):
    documents = [b"first", b"second"]
    contents = [SignContentInput(hashlib.sha1(d).digest(), f"c{i}") for i, d in enumerate(documents)]
    request_id = post(service, contents=contents)
    securesign.sign(request_id, ION, PIN)
    response = status(service, request_id)
    assert response.status == SignStatus.SUCCESS
    root = pem_file(tmp_path / "root.pem", service.pki.root.certificate)
    for i, (document, result) in enumerate(zip(documents, response.results, strict=True)):
        assert result.certificate == service.pki.people[ION].certificate_der
        verified = xmlsec1_verify(result.signature, tmp_path, root, document, f"urn:msign:content:c{i}")
        assert verified.returncode == 0, verified.stderr


def test_pdf_signed_in_the_token(service, securesign):
    request_id = post(service, "Pdf", [SignContentInput(minimal_pdf("Contract"))], signer=ExpectedSigner(ION))
    securesign.sign(request_id, ION, PIN)
    response = status(service, request_id)
    assert response.status == SignStatus.SUCCESS
    validity = pyhanko_status(response.results[0].signature, service)
    assert validity.intact and validity.valid and validity.trusted and validity.bottom_line


def test_ecdsa_key_generated_in_the_token(service, securesign, tmp_path):
    request_id = post(service, contents=[SignContentInput(hashlib.sha1(DOCUMENT).digest(), "h")], signer=None)
    securesign.sign(request_id, ANDREI, PIN)
    [result] = status(service, request_id).results
    assert b"ecdsa-sha256" in result.signature
    if shutil.which("xmlsec1"):
        root = pem_file(tmp_path / "root.pem", service.pki.root.certificate)
        verified = xmlsec1_verify(result.signature, tmp_path, root, DOCUMENT, "urn:msign:content:h")
        assert verified.returncode == 0, verified.stderr
    pdf_request = post(service, "Pdf", [SignContentInput(minimal_pdf())], signer=ExpectedSigner(ANDREI))
    securesign.sign(pdf_request, ANDREI, PIN)
    assert pyhanko_status(status(service, pdf_request).results[0].signature, service).bottom_line


@pytest.mark.parametrize(
    ("idnp", "pin"),
    [
        pytest.param(ION, "0000", id="wrong-pin"),
        pytest.param(ION, "12", id="pin-too-short"),
        pytest.param("2001002345678", PIN, id="no-token-for-the-idnp"),
    ],
)
def test_refused_pin_leaves_the_request_pending(service, securesign, idnp, pin):
    request_id = post(service, signer=None)
    with pytest.raises(WrongPin) as refused:
        securesign.sign(request_id, idnp, pin)
    assert refused.value.message_id == messages.WRONG_PIN
    assert status(service, request_id).status == SignStatus.PENDING
    securesign.sign(request_id, ION, PIN)  # the right PIN still opens the token
    assert status(service, request_id).status == SignStatus.SUCCESS


class _LockedModule:
    """A PKCS #11 module whose every token answers CKR_PIN_LOCKED (SoftHSM2 never locks one)."""

    def get_token(self, token_label: str) -> Any:
        from pkcs11 import exceptions

        class Token:
            def open(self, user_pin: str) -> Any:
                raise exceptions.PinLocked()

        return Token()


def test_token_locked_by_the_hsm(service, securesign, monkeypatch):
    monkeypatch.setattr(securesign, "module", _LockedModule())
    request_id = post(service)
    with pytest.raises(KeyLocked) as locked:
        securesign.sign(request_id, ION, PIN)
    assert locked.value.message_id == messages.KEY_LOCKED
    assert status(service, request_id).status == SignStatus.PENDING


class _FailingModule:
    """A PKCS #11 module whose tokens fail to open (a device error, not a PIN check)."""

    def get_token(self, token_label: str) -> Any:
        from pkcs11 import exceptions

        class Token:
            def open(self, user_pin: str) -> Any:
                raise exceptions.DeviceError()

        return Token()


def test_device_errors_cost_no_pin_attempts(service, securesign, monkeypatch):
    real = securesign.module
    monkeypatch.setattr(securesign, "module", _FailingModule())
    request_id = post(service)
    for _ in range(service.config.pin_attempts + 2):
        with pytest.raises(SigningError):
            securesign.sign(request_id, ION, PIN)
    monkeypatch.setattr(securesign, "module", real)
    securesign.sign(request_id, ION, PIN)  # not locked
    assert status(service, request_id).status == SignStatus.SUCCESS


@pytest.mark.postgresql
def test_the_service_counts_wrong_pins_at_a_token(tmp_path, clock, softhsm, database_url):
    """SoftHSM2 never locks a token: the service's own counter does, and lets go after pin_lockout."""
    service = make_service(
        tmp_path,
        clock,
        pkcs11_module=softhsm,
        pkcs11_providers="securesign",
        pin_attempts=3,
        pin_lockout=60,
        database_url=database_url,
    )
    try:
        securesign = service.instruments["securesign"]
        request_id = post(service)
        for left in (2, 1):
            with pytest.raises(WrongPin) as wrong:
                securesign.sign(request_id, ION, "0000")
            assert wrong.value.attempts_left == left
        with pytest.raises(KeyLocked) as locked:
            securesign.sign(request_id, ION, "0000")
        assert locked.value.locked_until == clock.now + timedelta(seconds=60)
        with pytest.raises(KeyLocked):
            securesign.sign(request_id, ION, PIN)  # even the right PIN
        assert status(service, request_id).status == SignStatus.PENDING

        clock.advance(seconds=61)
        securesign.sign(request_id, ION, PIN)
        assert status(service, request_id).status == SignStatus.SUCCESS
        counter = service.store.models.PinCounter
        with service.store.db.connection_context():
            row = counter.get((counter.provider == "securesign") & (counter.idnp == ION))
        assert (row.failed_attempts, row.locked_until) == (0, None)
    finally:
        service.close()


def test_no_token_is_not_counted(service, securesign):
    request_id = post(service)
    for _ in range(8):
        with pytest.raises(WrongPin):
            securesign.sign(request_id, "2001002345678", PIN)  # Maria has no token
    counter = service.store.models.PinCounter
    with service.store.db.connection_context():
        assert counter.select().count() == 0


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"pkcs11_module": "/nonexistent/libpkcs11.so"}, id="missing-module"),
        pytest.param({"pkcs11_providers": "securesign,mobile"}, id="unknown-provider"),
    ],
)
def test_bad_pkcs11_settings(tmp_path, settings):
    with pytest.raises(ConfigurationError, match="pkcs11_"):
        make_service(tmp_path, **settings)
