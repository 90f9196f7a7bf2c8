"""HTTPS listeners handing the client certificate to the app, and the
trusted-proxy middleware (:mod:`msign_soap.tls`), over real TLS on loopback
with certificates made here: a server CA, a client CA, a foreign CA."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer
from werkzeug.test import Client

from msign_soap import tls
from msign_soap.core.consumers import certificate_identity
from msign_soap.errors import ConfigurationError
from msign_soap.tls import (
    CLIENT_ADDRESS_KEY,
    CLIENT_CERTIFICATE_KEY,
    MAX_CERTIFICATE_HEADER,
    TrustedProxies,
    make_https_server,
    make_server_context,
)

NOW = datetime.now(UTC)


# -- a small PKI ------------------------------------------------------------------------


@dataclass
class Issued:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    pem: Path
    key_pem: Path

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def pem_text(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()


def issue(
    directory: Path,
    name: str,
    issuer: Issued | None = None,
    *,
    ca: bool = False,
    serial: int | None = None,
    organization: str = "Test",
    usage: x509.ObjectIdentifier | None = None,
    ip: str | None = None,
    expired: bool = False,
) -> Issued:
    """A certificate for ``name`` with a fresh P-256 key, written to
    ``directory/<name>.pem`` and ``<name>.key``; self-signed without ``issuer``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "MD"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    not_after = NOW - timedelta(days=1) if expired else NOW + timedelta(days=30)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if ip:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ip_address(ip))]), critical=False)
    certificate = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    slug = name.lower().replace(" ", "-")
    pem, key_pem = directory / f"{slug}.pem", directory / f"{slug}.key"
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Issued(certificate, key, pem, key_pem)


@dataclass
class Pki:
    directory: Path
    server_ca: Issued
    server: Issued
    client_ca: Issued
    #: Another CA and the client CA, in one file: what ``client_ca`` is given.
    client_cas: Path
    client: Issued
    foreign: Issued
    expired: Issued
    server_only: Issued


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("tls-pki")
    server_ca = issue(directory, "Server CA", ca=True)
    client_ca = issue(directory, "Client CA", ca=True)
    other_ca = issue(directory, "Other CA", ca=True)
    foreign_ca = issue(directory, "Foreign CA", ca=True)
    client_cas = directory / "client-cas.pem"
    client_cas.write_bytes(other_ca.pem.read_bytes() + client_ca.pem.read_bytes())
    return Pki(
        directory,
        server_ca,
        issue(directory, "Server", server_ca, ip="127.0.0.1", usage=ExtendedKeyUsageOID.SERVER_AUTH),
        client_ca,
        client_cas,
        issue(directory, "Consumer", client_ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH),
        issue(directory, "Foreign Consumer", foreign_ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH),
        issue(directory, "Expired Consumer", client_ca, expired=True),
        issue(directory, "Server Only Consumer", client_ca, usage=ExtendedKeyUsageOID.SERVER_AUTH),
    )


# -- servers and clients ----------------------------------------------------------------

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def echo(environ: dict, start_response: Callable) -> Iterable[bytes]:
    """Answer the environ keys under test as JSON (the certificate in base64)."""
    der = environ.get(CLIENT_CERTIFICATE_KEY)
    body = {
        "certificate": base64.b64encode(der).decode() if der is not None else None,
        "address": environ.get(CLIENT_ADDRESS_KEY),
        "scheme": environ["wsgi.url_scheme"],
        "headers": {key: environ[key] for key in ("HTTP_X_SSL_CLIENT_CERT", "HTTP_X_FORWARDED_FOR") if key in environ},
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


@contextmanager
def https(pki: Pki, app: WsgiApp = echo, *, mutual: bool = True, threaded: bool = True) -> Iterator[Any]:
    """A running HTTPS server on 127.0.0.1 (asking for client certificates
    when ``mutual``), stopped on exit."""
    server = make_https_server(
        "127.0.0.1",
        0,
        app,
        certificate=pki.server.pem,
        key=pki.server.key_pem,
        client_ca=pki.client_cas if mutual else None,
        threaded=threaded,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def page_server(pki: Pki) -> Iterator[Any]:
    with https(pki, mutual=False) as server:
        yield server


@pytest.fixture(scope="module")
def soap_server(pki: Pki) -> Iterator[Any]:
    with https(pki) as server:
        yield server


def client_context(pki: Pki, client: Issued | None = None, version: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki.server_ca.pem)
    if client:
        context.load_cert_chain(client.pem, client.key_pem)
    if version:
        context.minimum_version = context.maximum_version = version
    return context


def get(
    server: Any,
    pki: Pki,
    client: Issued | None = None,
    *,
    headers: list[tuple[str, str]] | None = None,
    version: ssl.TLSVersion | None = None,
) -> dict:
    """GET / with ``ssl`` and ``http.client``; return the echoed JSON."""
    connection = http.client.HTTPSConnection(
        "127.0.0.1", server.server_port, context=client_context(pki, client, version), timeout=30
    )
    try:
        connection.putrequest("GET", "/")
        for name, value in headers or []:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 200
        return json.loads(response.read())
    finally:
        connection.close()


def b64(der: bytes) -> str:
    return base64.b64encode(der).decode()


def openssl_handshake(port: int, *options: str) -> str:
    """What ``openssl s_client -state`` says of a handshake with 127.0.0.1:``port``
    (``read server certificate request`` when the server asked for a certificate)."""
    result = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-state", *options],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stdout + result.stderr


# -- the listeners ----------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
@pytest.mark.parametrize(("listener", "asks"), [("page_server", False), ("soap_server", True)])
def test_certificate_request_only_on_the_mutual_listener(
    pki: Pki, request: pytest.FixtureRequest, listener: str, asks: bool, version: str
) -> None:
    """``openssl s_client -state`` shows whether a CertificateRequest arrived.
    (Its "No client certificate CA names sent" line proves nothing: Python's
    ssl never sends CA names, so it shows on both listeners.)"""
    server = request.getfixturevalue(listener)
    output = openssl_handshake(server.server_port, version)
    assert ("read server certificate request" in output) is asks
    assert "Cipher is" in output and "(NONE)" not in output, output


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_1_1_is_refused_by_the_server(pki: Pki, soap_server: Any) -> None:
    """The client is allowed TLS 1.1 (security level 0); the server answers
    with a protocol_version alert (70)."""
    result = subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{soap_server.server_port}", "-tls1_1"]
        + ["-cipher", "DEFAULT@SECLEVEL=0"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "alert protocol version" in result.stderr


def test_page_listener_ignores_a_client_certificate(pki: Pki, page_server: Any) -> None:
    """A client holding a certificate is never asked for it."""
    answer = get(page_server, pki, pki.client)
    assert answer == {"certificate": None, "address": "127.0.0.1", "scheme": "https", "headers": {}}


@pytest.mark.parametrize(
    "version", [pytest.param(ssl.TLSVersion.TLSv1_2, id="tls1.2"), pytest.param(ssl.TLSVersion.TLSv1_3, id="tls1.3")]
)
def test_client_certificate_reaches_the_app(pki: Pki, soap_server: Any, version: ssl.TLSVersion) -> None:
    answer = get(soap_server, pki, pki.client, version=version)
    assert answer["certificate"] == b64(pki.client.der)
    assert answer["address"] == "127.0.0.1"
    assert answer["scheme"] == "https"


def test_no_client_certificate_still_connects(pki: Pki, soap_server: Any) -> None:
    """The app gets the request (to answer AuthenticationFailed) without the key."""
    assert get(soap_server, pki)["certificate"] is None


def test_requests_client_with_certificate(pki: Pki, soap_server: Any) -> None:
    """What an integrator's Python client (requests, zeep) does."""
    response = requests.get(
        f"https://127.0.0.1:{soap_server.server_port}/",
        verify=pki.server_ca.pem,
        cert=(str(pki.client.pem), str(pki.client.key_pem)),
        timeout=30,
    )
    assert response.json()["certificate"] == b64(pki.client.der)


class Recorder(logging.Handler):
    """Sets ``seen`` when a record containing ``text`` is logged (from any thread)."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.DEBUG)
        self.text = text
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


@pytest.mark.parametrize(
    ("client", "reason"),
    [
        pytest.param("foreign", "unable to get local issuer certificate", id="foreign-ca"),
        pytest.param("expired", "certificate has expired", id="expired"),
        pytest.param("server_only", "unsuitable certificate purpose", id="server-auth-only"),
    ],
)
def test_bad_client_certificate_refused_in_handshake(pki: Pki, soap_server: Any, client: str, reason: str) -> None:
    """The handshake fails, the server logs why, and keeps serving."""
    recorder = Recorder(f"Refused a client certificate: {reason}")
    logging.getLogger("werkzeug").addHandler(recorder)
    try:
        with pytest.raises((ssl.SSLError, ConnectionError)):
            get(soap_server, pki, getattr(pki, client))
        assert recorder.seen.wait(timeout=30)
    finally:
        logging.getLogger("werkzeug").removeHandler(recorder)
    assert get(soap_server, pki, pki.client)["certificate"] == b64(pki.client.der)


def test_single_threaded_server(pki: Pki) -> None:
    with https(pki, threaded=False) as server:
        assert isinstance(server, BaseWSGIServer) and not isinstance(server, ThreadedWSGIServer)
        assert get(server, pki, pki.client)["certificate"] == b64(pki.client.der)


def test_threaded_server_is_werkzeugs(pki: Pki, soap_server: Any) -> None:
    assert isinstance(soap_server, ThreadedWSGIServer)


def test_silent_client_does_not_stall_the_listener(pki: Pki, soap_server: Any) -> None:
    """With Werkzeug's own TLS wrapping, the handshake runs in ``accept()``
    and this request would wait for the silent connection to go away."""
    with socket.create_connection(("127.0.0.1", soap_server.server_port)):
        assert get(soap_server, pki, pki.client)["certificate"] == b64(pki.client.der)


def test_silent_client_is_dropped_after_the_handshake_timeout(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tls.ClientCertificateRequestHandler, "handshake_timeout", 0.2)
    with https(pki) as server, socket.create_connection(("127.0.0.1", server.server_port)) as silent:
        silent.settimeout(30)  # a guard against hanging; the server closes first
        try:
            assert silent.recv(1) == b""
        except ConnectionResetError:
            pass


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(lambda pki: {"certificate": pki.directory / "missing.pem"}, "Cannot load", id="no-certificate"),
        pytest.param(lambda pki: {"key": pki.client.key_pem}, "Cannot load", id="key-mismatch"),
        pytest.param(lambda pki: {"key": encrypted_key(pki)}, "is encrypted", id="encrypted-key"),
        pytest.param(lambda pki: {"client_ca": pki.directory / "missing.pem"}, "Cannot load", id="no-client-ca"),
        pytest.param(lambda pki: {"client_ca": pki.server.key_pem}, "Cannot load", id="client-ca-is-a-key"),
        pytest.param(lambda pki: {"client_ca": pki.client.pem}, "holds no CA certificate", id="client-ca-is-a-leaf"),
    ],
)
def test_server_context_configuration_errors(pki: Pki, change: Callable[[Pki], dict], message: str) -> None:
    arguments = {"certificate": pki.server.pem, "key": pki.server.key_pem, "client_ca": pki.client_cas}
    with pytest.raises(ConfigurationError, match=message):
        make_server_context(**(arguments | change(pki)))


def encrypted_key(pki: Pki) -> Path:
    path = pki.directory / "encrypted.key"
    encryption = serialization.BestAvailableEncryption(b"secret")
    path.write_bytes(
        pki.server.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return path


def test_server_context_minimum_version(pki: Pki) -> None:
    context = make_server_context(pki.server.pem, pki.server.key_pem)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_NONE
    assert make_server_context(pki.server.pem, pki.server.key_pem, pki.client_cas).verify_mode == ssl.CERT_OPTIONAL


# -- behind a reverse proxy -------------------------------------------------------------


def nginx(issued: Issued) -> str:
    """``$ssl_client_escaped_cert``: the PEM, URL-encoded."""
    return quote(issued.pem_text, safe="")


def apache(issued: Issued, separator: str = " ") -> str:
    """``%{SSL_CLIENT_CERT}s`` in a header: the PEM, line breaks made spaces."""
    return issued.pem_text.strip().replace("\n", separator)


@pytest.mark.parametrize(
    "encode",
    [
        pytest.param(nginx, id="nginx-url-encoded-pem"),
        pytest.param(apache, id="apache-pem-spaces"),
        pytest.param(lambda issued: apache(issued, "\t"), id="apache-pem-tabs"),
        pytest.param(lambda issued: b64(issued.der), id="haproxy-base64-der"),
    ],
)
def test_trusted_proxy_forwards_certificate_and_address(
    pki: Pki, encode: Callable[[Issued], str], caplog: pytest.LogCaptureFixture
) -> None:
    """The proxy (127.0.0.1) presents no certificate of its own here."""
    with https(pki, TrustedProxies(echo, ["127.0.0.1"])) as server:
        answer = get(
            server, pki, headers=[("X-SSL-Client-Cert", encode(pki.client)), ("X-Forwarded-For", "203.0.113.7")]
        )
    assert answer["certificate"] == b64(pki.client.der)
    assert answer["address"] == "203.0.113.7"
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_trusted_proxy_own_certificate_is_not_the_clients(pki: Pki) -> None:
    """A proxy authenticating to the backend with its own certificate
    forwards no client certificate: the caller has none."""
    with https(pki, TrustedProxies(echo, ["127.0.0.0/8"])) as server:
        assert get(server, pki, pki.client)["certificate"] is None
        forwarded = get(server, pki, pki.client, headers=[("X-SSL-Client-Cert", nginx(pki.foreign))])
        assert forwarded["certificate"] == b64(pki.foreign.der)


def test_untrusted_address_headers_ignored_and_removed(pki: Pki) -> None:
    """From outside the proxies' network, only the connection's own certificate counts."""
    with https(pki, TrustedProxies(echo, ["10.0.0.0/8", "::1"])) as server:
        headers = [("X-SSL-Client-Cert", nginx(pki.foreign)), ("X-Forwarded-For", "203.0.113.7")]
        assert get(server, pki, pki.client, headers=headers) == {
            "certificate": b64(pki.client.der),
            "address": "127.0.0.1",
            "scheme": "https",
            "headers": {},
        }
        assert get(server, pki, headers=headers)["certificate"] is None


def test_forwarded_for_over_several_headers(pki: Pki) -> None:
    """Two X-Forwarded-For headers are one list (Werkzeug joins them with commas)."""
    with https(pki, TrustedProxies(echo, ["127.0.0.1", "10.0.0.0/8"])) as server:
        headers = [("X-Forwarded-For", "198.51.100.1, 203.0.113.7"), ("X-Forwarded-For", "10.0.0.2")]
        assert get(server, pki, headers=headers)["address"] == "203.0.113.7"


def two_certificates(pki: Pki) -> str:
    return quote(pki.client.pem_text + pki.foreign.pem_text, safe="")


def oversized(pki: Pki) -> str:
    """A readable certificate, padded past the limit with spaces."""
    return apache(pki.client) + " " * MAX_CERTIFICATE_HEADER


@pytest.mark.parametrize(
    ("value", "warned"),
    [
        pytest.param(lambda pki: "(null)", False, id="apache-no-certificate"),
        pytest.param(lambda pki: "   ", False, id="blank"),
        pytest.param(lambda pki: "not a certificate!", True, id="garbage"),
        pytest.param(lambda pki: b64(pki.client.der)[:-40], True, id="truncated"),
        pytest.param(lambda pki: b64(pki.client.der + b"\x00\x00"), True, id="trailing-data"),
        pytest.param(two_certificates, True, id="two-certificates"),
        pytest.param(lambda pki: quote(pki.client.key_pem.read_text(), safe=""), True, id="private-key"),
        pytest.param(lambda pki: nginx(pki.client)[:-30], True, id="unterminated-pem"),
        pytest.param(lambda pki: "%FF%FE" + nginx(pki.client), True, id="bad-percent-encoding"),
        pytest.param(oversized, True, id="oversized"),
    ],
)
def test_unreadable_forwarded_certificate_gives_none(
    pki: Pki, value: Callable[[Pki], str], warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Over a real listener: the middleware logs before the app answers, so
    the record is there when the response is."""
    header = value(pki)
    with https(pki, TrustedProxies(echo, ["127.0.0.1"])) as server:
        answer = get(server, pki, pki.client, headers=[("X-SSL-Client-Cert", header)])
    assert answer["certificate"] is None
    warnings = [record.getMessage() for record in caplog.records if record.name == "msign_soap.tls"]
    if warned:
        assert len(warnings) == 1 and "from proxy 127.0.0.1" in warnings[0]
        assert header.strip()[:20] not in warnings[0]
    else:
        assert warnings == []


def call(app: TrustedProxies, remote: str, headers: dict[str, str]) -> dict:
    """Call the middleware in process with a chosen REMOTE_ADDR (a loopback
    server only ever sees 127.0.0.1)."""
    response = Client(app).get("/", headers=headers, environ_overrides={"REMOTE_ADDR": remote})
    return json.loads(response.get_data())


@pytest.mark.parametrize(
    ("remote", "forwarded_for", "expected"),
    [
        pytest.param("10.0.0.1", None, "10.0.0.1", id="no-header"),
        pytest.param("10.0.0.1", "203.0.113.7", "203.0.113.7", id="one-hop"),
        pytest.param("10.0.0.1", "198.51.100.1, 203.0.113.7, 10.0.0.2", "203.0.113.7", id="inner-proxies-skipped"),
        pytest.param("10.0.0.1", "10.0.0.7, 10.0.0.2", "10.0.0.7", id="all-trusted-farthest"),
        pytest.param("10.0.0.1", "203.0.113.7:4711", "203.0.113.7", id="ipv4-with-port"),
        pytest.param("10.0.0.1", "[2001:db8::7]:4711", "2001:db8::7", id="ipv6-with-port"),
        pytest.param("10.0.0.1", "2001:db8::7", "2001:db8::7", id="ipv6"),
        pytest.param("10.0.0.1", "::ffff:203.0.113.7", "203.0.113.7", id="ipv4-mapped"),
        pytest.param("10.0.0.1", "203.0.113.7, unknown", "10.0.0.1", id="unreadable-hop"),
        pytest.param("10.0.0.1", "203.0.113.7,", "10.0.0.1", id="empty-hop"),
        pytest.param("::ffff:10.0.0.1", "203.0.113.7", "203.0.113.7", id="dual-stack-proxy"),
        pytest.param("2001:db8:1::5", "203.0.113.7", "203.0.113.7", id="ipv6-proxy"),
        pytest.param("203.0.113.9", "198.51.100.1", "203.0.113.9", id="untrusted-caller"),
        pytest.param("::ffff:203.0.113.9", "198.51.100.1", "203.0.113.9", id="untrusted-dual-stack"),
        pytest.param("<local>", "198.51.100.1", "<local>", id="not-an-address"),
    ],
)
def test_client_address(remote: str, forwarded_for: str | None, expected: str) -> None:
    app = TrustedProxies(echo, ["10.0.0.0/8", "2001:db8:1::/48"])
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    assert call(app, remote, headers)["address"] == expected


def test_untrusted_caller_headers_removed_in_process(pki: Pki) -> None:
    app = TrustedProxies(echo, ["10.0.0.0/8"])
    headers = {"X-SSL-Client-Cert": nginx(pki.client), "X-Forwarded-For": "203.0.113.7"}
    assert call(app, "203.0.113.9", headers) == {
        "certificate": None,
        "address": "203.0.113.9",
        "scheme": "http",
        "headers": {},
    }
    trusted = call(app, "10.0.0.1", headers)
    assert trusted["certificate"] == b64(pki.client.der)
    assert trusted["headers"]["HTTP_X_FORWARDED_FOR"] == "203.0.113.7"


def test_other_header_name(pki: Pki) -> None:
    app = TrustedProxies(echo, ["10.0.0.1"], header="SSL-Client-Cert-DER")
    assert call(app, "10.0.0.1", {"SSL-Client-Cert-DER": b64(pki.client.der)})["certificate"] == b64(pki.client.der)
    assert call(app, "10.0.0.1", {"X-SSL-Client-Cert": b64(pki.client.der)})["certificate"] is None


@pytest.mark.parametrize(
    ("proxies", "header"),
    [
        pytest.param(["10.0.0.1/8"], "X-SSL-Client-Cert", id="host-bits-set"),
        pytest.param(["proxy.example"], "X-SSL-Client-Cert", id="host-name"),
        pytest.param([""], "X-SSL-Client-Cert", id="empty-proxy"),
        pytest.param(["10.0.0.1"], "X_SSL_Client_Cert", id="underscore-header"),
        pytest.param(["10.0.0.1"], "", id="empty-header"),
        pytest.param(["10.0.0.1"], "X-SSL Client", id="space-in-header"),
    ],
)
def test_trusted_proxies_configuration_errors(proxies: list[str], header: str) -> None:
    with pytest.raises(ConfigurationError):
        TrustedProxies(echo, proxies, header)


# -- certificate identity ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        pytest.param(0x0F, "F", id="one-digit"),
        pytest.param(0x00ABCDEF, "ABCDEF", id="leading-zeros"),
        pytest.param(0x1000000000000000000000000000000000000001, "1000000000000000000000000000000000000001", id="long"),
    ],
)
def test_certificate_identity(tmp_path: Path, pki: Pki, serial: int, expected: str) -> None:
    issued = issue(tmp_path, "Identity", pki.client_ca, serial=serial)
    assert certificate_identity(x509.load_der_x509_certificate(issued.der)) == (expected, "CN=Client CA,O=Test,C=MD")


def test_certificate_identity_escapes_the_issuer(tmp_path: Path) -> None:
    ca = issue(tmp_path, 'CA, "Quoted"', ca=True, organization="S.A. + Co")
    leaf = issue(tmp_path, "Leaf", ca, serial=1)
    assert certificate_identity(x509.load_der_x509_certificate(leaf.der)) == (
        "1",
        'CN=CA\\, \\"Quoted\\",O=S.A. \\+ Co,C=MD',
    )
