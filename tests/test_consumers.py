"""Consumers: registry, certificates by serial and issuer, networks, and the SOAP layer's authentication."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from werkzeug.test import Client

from msign_soap.cli import main
from msign_soap.constants import CLIENT_ADDRESS_KEY, CLIENT_CERTIFICATE_KEY
from msign_soap.core.consumers import ConsumerRegistry, certificate_identity
from msign_soap.errors import AuthenticationFailed, InvalidParameter

from .conftest import issue_certificate, make_service, sha1

ENVELOPE = "{http://schemas.xmlsoap.org/soap/envelope/}"
POST = (
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><PostSignRequest '
    'xmlns="https://msign.gov.md"><request><ContentType>Hash</ContentType><Contents><SignContent><Content>'
    "{content}</Content></SignContent></Contents><ShortContentDescription>Consumers</ShortContentDescription>"
    "</request></PostSignRequest></s:Body></s:Envelope>"
)
GET = (
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetSignResponse '
    'xmlns="https://msign.gov.md"><requestID>{request_id}</requestID></GetSignResponse></s:Body></s:Envelope>'
)


def client_certificate(name: str, issuer: Any = None) -> Any:
    return issue_certificate(name, ec.generate_private_key(ec.SECP256R1()), issuer).certificate


@pytest.fixture
def production(tmp_path: Path, clock: Any, database_url: str | None) -> Any:
    svc = make_service(tmp_path, clock, demo_mode=False, database_url=database_url)
    yield svc
    svc.close()


@pytest.fixture
def ca(production: Any) -> Any:
    return issue_certificate("E-service client CA", ec.generate_private_key(ec.SECP256R1()), ca=True)


def call(service: Any, operation: str, body: str, certificate: Any = None, address: str = "127.0.0.1") -> Any:
    environ = {CLIENT_ADDRESS_KEY: address}
    if certificate is not None:
        environ[CLIENT_CERTIFICATE_KEY] = certificate.public_bytes(Encoding.DER)
    response = Client(service).post(
        "/MSign.svc",
        data=body.encode(),
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"https://msign.gov.md/IMSign/{operation}"'},
        environ_overrides=environ,
    )
    return etree.fromstring(response.get_data())


def fault(root: Any) -> tuple[str, str]:
    element = root.find(f".//{ENVELOPE}Fault")
    assert element is not None, etree.tostring(root)
    return element.findtext("faultcode"), element.findtext("faultstring")


def post(service: Any, certificate: Any, address: str = "127.0.0.1") -> Any:
    import base64

    return call(
        service, "PostSignRequest", POST.format(content=base64.b64encode(sha1("x")).decode()), certificate, address
    )


@pytest.mark.postgresql
def test_registered_consumer_posts_and_reads_only_its_own(production: Any, ca: Any) -> None:
    registry = production.consumers
    alpha, beta = client_certificate("alpha", ca), client_certificate("beta", ca)
    registry.add("alpha", alpha, ["10.1.0.0/16"], ["https://alpha.gov.md/"])
    registry.add("beta", beta)
    request_id = post(production, alpha, "10.1.2.3").findtext(".//{https://msign.gov.md}PostSignRequestResult")
    assert request_id and len(request_id) == 32
    answer = call(production, "GetSignResponse", GET.format(request_id=request_id), alpha, "10.1.2.3")
    assert answer.findtext(".//{https://msign.gov.md}Status") == "Pending"
    code, reason = fault(call(production, "GetSignResponse", GET.format(request_id=request_id), beta))
    assert code == "AuthorizationFailed"


@pytest.mark.parametrize(
    "case",
    [
        pytest.param("no-certificate", id="no-certificate"),
        pytest.param("unregistered", id="unregistered"),
        pytest.param("same-serial-other-issuer", id="same-serial-other-issuer"),
        pytest.param("disabled", id="disabled"),
        pytest.param("outside-networks", id="outside-networks"),
    ],
)
@pytest.mark.postgresql
def test_callers_refused_with_authentication_failed(production: Any, ca: Any, case: str) -> None:
    registered = client_certificate("alpha", ca)
    production.consumers.add("alpha", registered, ["10.1.0.0/16"])
    certificate, address = registered, "10.1.2.3"
    if case == "no-certificate":
        certificate = None
    elif case == "unregistered":
        certificate = client_certificate("stranger", ca)
    elif case == "same-serial-other-issuer":
        other_ca = issue_certificate("Another CA", ec.generate_private_key(ec.SECP256R1()), ca=True)
        certificate = _with_serial(registered.serial_number, other_ca)
    elif case == "disabled":
        production.consumers.set_enabled("alpha", False)
    else:
        address = "192.0.2.7"
    before = _requests(production)
    code, reason = fault(post(production, certificate, address))
    assert code == "AuthenticationFailed"
    serial = "(no client certificate)" if certificate is None else format(certificate.serial_number, "X")
    assert reason == f"Invalid authentication certificate provided, Unknown service consumer: {serial}"
    assert _requests(production) == before


@pytest.mark.postgresql
def test_rotation_and_reenabling(production: Any, ca: Any) -> None:
    registry = production.consumers
    old, new = client_certificate("alpha 2025", ca), client_certificate("alpha 2026", ca)
    registry.add("alpha", old)
    registry.add_certificate("alpha", new)
    for certificate in (old, new):
        assert post(production, certificate).find(f".//{ENVELOPE}Fault") is None
    assert registry.remove_certificate("alpha", format(old.serial_number, "X")) == 1
    assert fault(post(production, old))[0] == "AuthenticationFailed"
    registry.set_enabled("alpha", False)
    assert fault(post(production, new))[0] == "AuthenticationFailed"
    registry.set_enabled("alpha", True)
    assert post(production, new).find(f".//{ENVELOPE}Fault") is None


@pytest.mark.parametrize(
    "arguments, message",
    [
        pytest.param({"name": ""}, "printable", id="empty-name"),
        pytest.param({"allowed_networks": ["10.0.0.1/8"]}, "CIDR", id="host-bits"),
        pytest.param({"allowed_networks": ["somewhere"]}, "CIDR", id="not-a-network"),
        pytest.param({"return_url_prefixes": ["https://alpha.gov.md"]}, "must end", id="prefix-without-slash"),
        pytest.param({"return_url_prefixes": ["javascript:alert(1)//"]}, "absolute", id="prefix-not-http"),
    ],
)
def test_invalid_registrations_refused(production: Any, ca: Any, arguments: dict, message: str) -> None:
    values = {"name": "alpha", "certificate": client_certificate("alpha", ca), **arguments}
    with pytest.raises(InvalidParameter, match=message):
        production.consumers.add(**values)
    assert production.consumers.list() == []


@pytest.mark.postgresql
def test_a_certificate_belongs_to_one_consumer(production: Any, ca: Any) -> None:
    shared = client_certificate("shared", ca)
    production.consumers.add("alpha", shared)
    with pytest.raises(InvalidParameter, match="registered to 'alpha'"):
        production.consumers.add("beta", shared)
    with pytest.raises(InvalidParameter, match="already registered"):
        production.consumers.add("alpha", client_certificate("other", ca))
    assert [c.name for c in production.consumers.list()] == ["alpha"]


@pytest.mark.postgresql
def test_ipv4_mapped_addresses_match_ipv4_networks(production: Any, ca: Any) -> None:
    certificate = client_certificate("alpha", ca)
    production.consumers.add("alpha", certificate, ["10.1.0.0/16", "2001:db8::/32"])
    registry = ConsumerRegistry(production.store, production.requests.clock)
    der = certificate.public_bytes(Encoding.DER)
    for address in ("::ffff:10.1.0.9", "2001:db8::1", "10.1.255.255"):
        assert registry.authenticate(der, address).name == "alpha"
    for address in ("10.2.0.1", "fe80::1%eth0", "", None, "not an address"):
        with pytest.raises(AuthenticationFailed):
            registry.authenticate(der, address)
    for unreadable in (b"", b"\x30\x03\x02\x01\x01"):
        with pytest.raises(AuthenticationFailed, match="no client certificate"):
            registry.authenticate(unreadable, "10.1.0.9")


@pytest.mark.postgresql
def test_cli_manages_consumers(tmp_path: Path, ca: Any, capsys: Any, database_url: str | None) -> None:
    data = ["--data-dir", str(tmp_path / "cli-data"), *(["--database-url", database_url] if database_url else [])]
    pem = tmp_path / "alpha.pem"
    certificate = client_certificate("alpha", ca)
    pem.write_bytes(certificate.public_bytes(Encoding.PEM))
    der = tmp_path / "alpha-2.der"
    second = client_certificate("alpha 2", ca)
    der.write_bytes(second.public_bytes(Encoding.DER))
    add = ["consumer", "add", "--name", "alpha", "--cert", str(pem), "--allow-ip", "10.1.0.0/16"]
    assert main([*add, "--return-url-prefix", "https://alpha.gov.md/", *data]) == 0
    assert main(["consumer", "add-cert", "--name", "alpha", "--cert", str(der), *data]) == 0
    assert main(["consumer", "disable", "--name", "alpha", *data]) == 0
    assert main(["consumer", "add", "--name", "alpha", "--cert", str(pem), *data]) == 2
    assert "already registered" in capsys.readouterr().err
    assert main(["consumer", "list", "--json", *data]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["name"] == "alpha" and listed["enabled"] is False
    assert listed["allowed_networks"] == ["10.1.0.0/16"]
    assert listed["return_url_prefixes"] == ["https://alpha.gov.md/"]
    serials = [c["serial"] for c in listed["certificates"]]
    assert serials == [certificate_identity(c)[0] for c in (certificate, second)]
    assert main(["consumer", "enable", "--name", "nobody", *data]) == 2
    assert "no consumer 'nobody'" in capsys.readouterr().err


def _requests(service: Any) -> int:
    with service.store.db.connection_context():
        return int(service.store.models.SignRequest.select().count())


def _with_serial(serial: int, issuer: Any) -> Any:
    """A certificate from ``issuer`` with this serial number (another CA's numbering)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "impostor")]))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(issuer.private_key, hashes.SHA256())
    )


@pytest.mark.postgresql
def test_production_sends_users_back_only_to_registered_https_urls(tmp_path: Path, clock: Any) -> None:
    service = make_service(tmp_path, clock, production=True, trusted_proxies=("127.0.0.1/32",))
    try:
        assert service.config.demo_mode is False
        ca = issue_certificate("E-service client CA", ec.generate_private_key(ec.SECP256R1()), ca=True)
        alpha, beta = client_certificate("alpha", ca), client_certificate("beta", ca)
        service.consumers.add("alpha", alpha, return_url_prefixes=["https://alpha.gov.md/back/", "http://alpha.md/"])
        service.consumers.add("beta", beta)  # no prefixes: nowhere to go
        results = {}
        for name, certificate in (("alpha", alpha), ("beta", beta)):
            request_id = post(service, certificate).findtext(".//{https://msign.gov.md}PostSignRequestResult")
            results[name] = request_id
        pages = Client(service)
        for request_id, url, status in (
            (results["alpha"], "https://alpha.gov.md/back/done?x=1", 303),  # on to the choice of instrument
            (results["alpha"], "http://alpha.md/done", 400),  # registered, but not https
            (results["alpha"], "https://alpha.gov.md/elsewhere", 400),
            (results["beta"], "https://beta.gov.md/", 400),
        ):
            response = pages.get(f"/{request_id}", query_string={"ReturnUrl": url})
            assert response.status_code == status, (url, response.status_code)
    finally:
        service.close()
