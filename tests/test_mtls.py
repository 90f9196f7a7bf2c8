"""``msign-soap serve --production`` over real TLS on loopback: the page listener
never asks for a certificate; the SOAP listener attributes each call to a
registered consumer by its client certificate, or refuses it with the
contract's fault."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography.x509.oid import ExtendedKeyUsageOID
from lxml import etree
from zeep import Client as ZeepClient
from zeep.exceptions import Fault as ZeepFault
from zeep.transports import Transport

from msign_soap.cli import main

from .conftest import sha1
from .pki_support import seed_demo_pki
from .test_tls import Issued, issue, openssl_handshake

ENVELOPE = "{http://schemas.xmlsoap.org/soap/envelope/}"
MSIGN = "{https://msign.gov.md}"
POST = (
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><PostSignRequest '
    'xmlns="https://msign.gov.md"><request><ContentType>Hash</ContentType><Contents><SignContent><Content>'
    + base64.b64encode(sha1("mtls")).decode()
    + "</Content></SignContent></Contents><ShortContentDescription>mTLS</ShortContentDescription>"
    "</request></PostSignRequest></s:Body></s:Envelope>"
)
GET = (
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetSignResponse '
    'xmlns="https://msign.gov.md"><requestID>{}</requestID></GetSignResponse></s:Body></s:Envelope>'
)


@dataclass
class Production:
    pages: str
    soap: str
    server_ca: Issued
    consumers: dict[str, Issued]

    def call(self, operation: str, body: str, who: str | None = None, **headers: str) -> requests.Response:
        cert = None
        if who is not None:
            issued = self.consumers[who]
            cert = (str(issued.pem), str(issued.key_pem))
        return requests.post(
            self.soap,
            data=body.encode(),
            headers={
                "Content-Type": "text/xml; charset=utf-8",
                "SOAPAction": f'"https://msign.gov.md/IMSign/{operation}"',
                **headers,
            },
            cert=cert,
            verify=str(self.server_ca.pem),
            timeout=60,
        )


def tls_setting(work: Path) -> tuple[Path, Path]:
    """``work`` and a data directory in it, seeded with the demo PKI."""
    data = work / "data"
    seed_demo_pki(data)
    return work, data


def tls_pki(work: Path, names: tuple[str, ...]) -> tuple[Issued, Issued, Issued, dict[str, Issued]]:
    """A server CA, the server's certificate for 127.0.0.1, a client CA and a client certificate per name."""
    server_ca = issue(work, "Server CA", ca=True)
    server = issue(work, "Server", server_ca, ip="127.0.0.1", usage=ExtendedKeyUsageOID.SERVER_AUTH)
    client_ca = issue(work, "Client CA", ca=True)
    consumers = {name: issue(work, name, client_ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH) for name in names}
    return server_ca, server, client_ca, consumers


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    work, data = tls_setting(tmp_path_factory.mktemp("mtls"))
    server_ca, server, client_ca, consumers = tls_pki(work, ("alpha", "beta", "gamma", "delta", "stranger"))
    options = ["--data-dir", str(data)]
    prefix = ["--return-url-prefix", "https://alpha.gov.md/"]
    assert main(["consumer", "add", "--name", "alpha", "--cert", str(consumers["alpha"].pem), *prefix, *options]) == 0
    assert main(["consumer", "add", "--name", "beta", "--cert", str(consumers["beta"].pem), *options]) == 0
    assert main(["consumer", "add", "--name", "gamma", "--cert", str(consumers["gamma"].pem), *options]) == 0
    assert main(["consumer", "disable", "--name", "gamma", *options]) == 0
    only_elsewhere = ["--allow-ip", "10.99.0.0/16"]
    delta = ["consumer", "add", "--name", "delta", "--cert", str(consumers["delta"].pem), *only_elsewhere]
    assert main([*delta, *options]) == 0
    command = [
        sys.executable, "-m", "msign_soap.cli", "serve", "--production", *options,
        "--port", "0", "--soap-port", "0",
        "--tls-cert", str(server.pem), "--tls-key", str(server.key_pem), "--client-ca", str(client_ca.pem),
        "--trusted-proxy", "10.0.0.0/8",  # not loopback: what the tests send is never "forwarded"
    ]  # fmt: skip
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=environment)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        pages = re.search(r"serving on (https://\S+)", lines[0])
        soap = re.search(r"WSDL: (https://\S+)\?singleWsdl", lines[1])
        assert pages and soap and "production" in lines[2], lines
        yield Production(pages.group(1), soap.group(1), server_ca, consumers)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def fault(response: requests.Response) -> tuple[str, str]:
    assert response.status_code == 500, response.text[:300]
    element = etree.fromstring(response.content).find(f".//{ENVELOPE}Fault")
    return element.findtext("faultcode"), element.findtext("faultstring")


def test_a_registered_consumer_signs_in_with_its_certificate(production: Production) -> None:
    """What an integrator's zeep client does: the WSDL and both operations over mutual TLS."""
    session = _session(str(production.server_ca.pem))
    alpha = production.consumers["alpha"]
    session.cert = (str(alpha.pem), str(alpha.key_pem))
    client = ZeepClient(production.soap + "?singleWsdl", transport=Transport(session=session))
    request_id = client.service.PostSignRequest(
        request={
            "ContentType": "Hash",
            "Contents": {"SignContent": [{"Content": sha1("zeep")}]},
            "ShortContentDescription": "Over mutual TLS",
        }
    )
    assert client.service.GetSignResponse(requestID=request_id).Status == "Pending"
    page = requests.get(
        f"{production.pages}/{request_id}",
        params={"ReturnUrl": "https://alpha.gov.md/back"},
        verify=str(production.server_ca.pem),
        allow_redirects=False,
        timeout=60,
    )
    assert page.status_code == 303  # on to the choice of instrument
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize(
    ("who", "headers", "serial"),
    [
        pytest.param(None, {}, "(no client certificate)", id="no-certificate"),
        pytest.param("stranger", {}, "stranger", id="unregistered"),
        pytest.param("gamma", {}, "gamma", id="disabled"),
        pytest.param("delta", {}, "delta", id="outside-allowed-networks"),
        pytest.param(None, {"X-Forwarded-For": "10.1.2.3"}, "(no client certificate)", id="forwarded-untrusted"),
    ],
)
def test_refused_callers_get_authentication_failed(
    production: Production, who: str | None, headers: dict[str, str], serial: str
) -> None:
    if "X-Forwarded-For" in headers:  # alpha's certificate, as a proxy would forward it
        headers = {**headers, "X-SSL-Client-Cert": production.consumers["alpha"].pem_text.replace("\n", " ")}
    if serial in production.consumers:
        serial = format(production.consumers[serial].certificate.serial_number, "X")
    code, reason = fault(production.call("PostSignRequest", POST, who, **headers))
    assert (code, reason) == (
        "AuthenticationFailed",
        f"Invalid authentication certificate provided, Unknown service consumer: {serial}",
    )


def test_another_consumers_request_is_authorization_failed(production: Production) -> None:
    answer = production.call("PostSignRequest", POST, "alpha")
    request_id = etree.fromstring(answer.content).findtext(f".//{MSIGN}PostSignRequestResult")
    assert answer.status_code == 200 and request_id
    assert fault(production.call("GetSignResponse", GET.format(request_id), "beta"))[0] == "AuthorizationFailed"
    mine = production.call("GetSignResponse", GET.format(request_id), "alpha")
    assert etree.fromstring(mine.content).findtext(f".//{MSIGN}Status") == "Pending"


def test_each_listener_serves_its_own_paths(production: Production) -> None:
    verify = str(production.server_ca.pem)
    assert requests.get(production.pages + "/MSign.svc?wsdl", verify=verify, timeout=60).status_code == 404
    assert requests.get(production.soap.replace("/MSign.svc", "/"), verify=verify, timeout=60).status_code == 404
    with pytest.raises(ZeepFault):  # a WSDL fetched without a certificate is fine; a call is not
        ZeepClient(
            production.soap + "?singleWsdl", transport=Transport(session=_session(verify))
        ).service.GetSignResponse(requestID="0" * 32)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.parametrize(("listener", "asks"), [("pages", False), ("soap", True)])
def test_only_the_soap_listener_asks_for_a_certificate(production: Production, listener: str, asks: bool) -> None:
    """``openssl s_client -state`` shows whether a CertificateRequest arrived."""
    port = re.search(r":(\d+)", getattr(production, listener).removeprefix("https://")).group(1)
    output = openssl_handshake(int(port))
    assert ("read server certificate request" in output) is asks
    assert "Cipher is" in output


def _session(verify: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would win over session.verify
    session.verify = verify
    return session


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    """gunicorn doing mutual TLS itself, serving ``msign_soap.wsgi:application``."""
    work, data = tls_setting(tmp_path_factory.mktemp("gunicorn"))
    server_ca, server, client_ca, consumers = tls_pki(work, ("alpha", "beta"))
    assert (
        main(["consumer", "add", "--name", "alpha", "--cert", str(consumers["alpha"].pem), "--data-dir", str(data)])
        == 0
    )
    command = [
        sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", "127.0.0.1:0",
        "--certfile", str(server.pem), "--keyfile", str(server.key_pem),
        "--ca-certs", str(client_ca.pem), "--cert-reqs", "1",
        "msign_soap.wsgi:application",
    ]  # fmt: skip
    environment = {**os.environ, "MSIGN_DATA_DIR": str(data), "MSIGN_DEMO_MODE": "false"}
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        assert process.stderr is not None
        port = None
        while port is None:
            line = process.stderr.readline()
            assert line, "gunicorn stopped"
            found = re.search(r"Listening at: https?://127\.0\.0\.1:(\d+)", line)
            port = found.group(1) if found else None
        soap = f"https://127.0.0.1:{port}/MSign.svc"
        yield Production(soap.removesuffix("/MSign.svc"), soap, server_ca, consumers)
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()


def test_gunicorn_hands_the_client_certificate_to_the_service(gunicorn: Production) -> None:
    answer = gunicorn.call("PostSignRequest", POST, "alpha")
    assert answer.status_code == 200, answer.text[:300]
    for who, serial in ((None, "(no client certificate)"), ("beta", "beta")):
        expected = format(gunicorn.consumers[serial].certificate.serial_number, "X") if who else serial
        code, reason = fault(gunicorn.call("PostSignRequest", POST, who))
        assert code == "AuthenticationFailed" and reason.endswith(f": {expected}")
