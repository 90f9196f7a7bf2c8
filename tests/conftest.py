"""Shared fixtures: an in-process service, a real server on loopback, clients."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import zeep
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server
from zeep.transports import Transport

from msign_soap.app import Service, create_app
from msign_soap.config import load_config
from msign_soap.pki import CRL_PATHS, DemoPki, Identity, load_demo_pki
from msign_soap.pki.generate import NOT_BEFORE
from msign_soap.signing import LocalTsa, Timestamper

from .pki_support import TEMPLATE_URL, seed_demo_pki, shared_demo_pki_template
from .postgres_support import postgres_cluster, postgres_url  # noqa: F401 -- fixtures

DATA = Path(__file__).parent / "data"
REFERENCE_WSDL = DATA / "MSign.reference.wsdl"
BINDING = "{https://msign.gov.md}BasicHttpBinding_IMSign"
#: A valid IDNP (check digit 7-3-1 mod 10) used across the tests.
IDNP = "2004001234567"


class FrozenClock:
    """A clock the test moves by hand (naive UTC, as the database stores it)."""

    def __init__(self, start: datetime = datetime(2026, 11, 28, 12, 0, 0)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


#: Rate limits are off unless a test sets them (tests/test_rate_limits.py):
#: a module's tests share a server and would use up one client's allowance.
NO_RATE_LIMITS = {"soap_rate_limit": 0, "soap_address_rate_limit": 0, "pin_rate_limit": 0}


def make_service(tmp_path: Path, clock: Any = None, **settings: Any) -> Service:
    """A service on a fresh data directory, seeded with the session's demo PKI."""
    if settings.get("demo_pki", True) and not (tmp_path / "data" / "pki").exists():
        seed_demo_pki(tmp_path / "data")
    settings = {**NO_RATE_LIMITS, **settings}
    config = load_config(environ={}, data_dir=tmp_path / "data", **settings)
    return create_app(config, clock) if clock else create_app(config)


class WsgiTransport(Transport):
    """A zeep transport that posts straight into a WSGI app, without HTTP."""

    def __init__(self, app: Any) -> None:
        super().__init__()
        from werkzeug.test import Client

        self.client = Client(app)

    def post(self, address: str, message: bytes, headers: dict) -> requests.Response:
        result = self.client.post(urlsplit(address).path, data=message, headers=headers)
        response = requests.Response()
        response.status_code = result.status_code
        response._content = result.get_data()
        response.headers.update(dict(result.headers))
        response.encoding = "utf-8"
        return response


def soap_client(address: str, transport: Transport | None = None) -> Any:
    """A zeep service proxy built from the *reference* WSDL, pointed at ``address``."""
    client = zeep.Client(str(REFERENCE_WSDL), transport=transport or Transport())
    return client.create_service(BINDING, address)


def sha1(text: str) -> bytes:
    return hashlib.sha1(text.encode()).digest()


def minimal_pdf(text: str = "Hello", padding: int = 0, *, version: str = "1.7", catalog: bytes = b"") -> bytes:
    """A valid one-page PDF with a correct xref table (five objects).

    :param padding: bytes of hexadecimal digits, the same for the same
        ``text`` and size, in a comment of the page content: as large a
        document as wanted, that no compression shrinks by much.
    :param version: the version in the header.
    :param catalog: extra entries for the document catalog.
    """
    stream = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode()
    if padding:
        stream += b"\n%" + hashlib.shake_256(text.encode()).hexdigest((padding + 1) // 2)[:padding].encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return build_pdf(*objects, version=version)


def build_pdf(*objects: bytes, version: str = "1.7") -> bytes:
    """A PDF whose objects are ``objects`` (numbered from 1, the first the
    catalog), with a correct classic xref table."""
    out = bytearray(b"%%PDF-%s\n%%\xe2\xe3\xcf\xd3\n" % version.encode())
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# -- the demo PKI, for the signing tests ------------------------------------------------


@pytest.fixture(scope="session")
def demo_pki() -> DemoPki:
    """The session's demo PKI (:func:`shared_demo_pki_template`), loaded; read
    it, never write into its directory."""
    return load_demo_pki(shared_demo_pki_template(), TEMPLATE_URL)


@pytest.fixture(scope="session")
def demo_tsa(demo_pki: DemoPki) -> LocalTsa:
    """The project's in-process TSA with the demo TSA certificate (tokens embed its chain)."""
    return LocalTsa(demo_pki.tsa.certificate, demo_pki.tsa.private_key, demo_pki.tsa.chain)


class RecordingTsa:
    """A :class:`Timestamper` that notes each imprint in ``imprints``, then asks ``inner``."""

    def __init__(self, inner: Timestamper) -> None:
        self.inner = inner
        self.imprints: list[bytes] = []

    def timestamp(self, message_imprint: bytes, hash_algorithm: str = "sha256") -> bytes:
        self.imprints.append(message_imprint)
        return self.inner.timestamp(message_imprint, hash_algorithm)


class ForgedTsa:
    """A :class:`Timestamper` double answering ``token(message_imprint)``: a
    token over another imprint, or no token at all."""

    def __init__(self, token: Callable[[bytes], bytes]) -> None:
        self.token = token

    def timestamp(self, message_imprint: bytes, hash_algorithm: str = "sha256") -> bytes:
        return self.token(message_imprint)


def issue_certificate(
    common_name: str,
    key: Any,
    issuer: Identity | None = None,
    *,
    idnp: str | None = None,
    ca: bool = False,
    crl_url: str | None = None,
) -> Identity:
    """A certificate the demo PKI does not issue (an EC or Ed25519 key, a
    foreign root): issued by ``issuer`` with its key (under the demo PKI,
    ``demo_pki.issuing_ca``), or self-signed without one.

    ``key`` is the subject's private key, or only its public key when an
    ``issuer`` signs (a key generated inside an HSM).

    Valid from the demo PKI's ``NOT_BEFORE`` for a year from now; a signer's
    (``ca`` false) key usage is digitalSignature and nonRepudiation.
    """
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, "MD"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if idnp:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, idnp))
    subject = x509.Name(attributes)
    public_key = key.public_key() if hasattr(key, "public_key") else key
    signing_key = issuer.private_key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(datetime.now(UTC) + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.certificate.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    if crl_url:
        point = x509.DistributionPoint([x509.UniformResourceIdentifier(crl_url)], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    algorithm = None if isinstance(signing_key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey) else hashes.SHA256()
    chain = (issuer.certificate, *issuer.chain) if issuer else ()
    return Identity(common_name, builder.sign(signing_key, algorithm), key, chain, idnp=idnp)


@pytest.fixture(scope="session")
def ec_signer(demo_pki: DemoPki) -> Identity:
    """Ion Popescu's EC P-256 certificate (the demo people's keys are RSA)
    from the demo issuing CA, naming its CRL as theirs do."""
    return issue_certificate(
        "Ion Popescu",
        ec.generate_private_key(ec.SECP256R1()),
        demo_pki.issuing_ca,
        idnp=IDNP,
        crl_url=demo_pki.url(CRL_PATHS["issuing"]),
    )


@pytest.fixture(scope="session")
def foreign_root() -> Identity:
    """A self-signed CA outside the demo PKI: a trust anchor nothing chains to."""
    return issue_certificate("Another Root", ec.generate_private_key(ec.SECP256R1()), ca=True)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


# -- the database: SQLite, and PostgreSQL for the tests marked ``postgresql`` ---------

#: The values of ``database_url`` a test marked ``postgresql`` runs with.
DATABASES = ("sqlite", "postgresql")


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> str | None:
    """The ``database_url`` setting of the test's service: None (SQLite in
    its data directory), or a fresh PostgreSQL database for the
    ``postgresql`` run of a test marked so."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A test marked ``postgresql`` whose fixtures use ``database_url`` runs on both databases.
    if metafunc.definition.get_closest_marker("postgresql") and "database_url" in metafunc.fixturenames:
        metafunc.parametrize("database_url", DATABASES, indirect=True)


@pytest.fixture
def service(tmp_path: Path, clock: FrozenClock, database_url: str | None) -> Iterator[Service]:
    svc = make_service(tmp_path, clock, database_url=database_url)
    yield svc
    svc.close()


@pytest.fixture
def client(service: Service) -> Any:
    """zeep (reference WSDL) posting in-process into ``service``."""
    return soap_client("http://testserver/MSign.svc", WsgiTransport(service))


@dataclass
class LiveServer:
    """A real HTTP server on 127.0.0.1 serving the whole service."""

    url: str
    service: Service

    @property
    def soap_url(self) -> str:
        return self.url + "/MSign.svc"

    def complete(self, request_id: str, results: Sequence[tuple[str | None, bytes, bytes]]) -> None:
        """Finish a request as Success with (correlation_id, certificate, signature) per content."""
        self.service.requests.complete(request_id, [(cert, sig) for _, cert, sig in results])

    def post_raw(self, body: bytes | str, **headers: str) -> requests.Response:
        headers.setdefault("Content-Type", "text/xml; charset=utf-8")
        return requests.post(self.soap_url, data=body, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    svc = make_service(tmp_path_factory.mktemp("live"))
    server = make_server("127.0.0.1", 0, svc, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", svc)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        svc.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The SoftHSM2 module, its tokens made (``tests/hsm_support.py``); once per process."""
    from .hsm_support import make_softhsm

    return make_softhsm(tmp_path_factory.mktemp("softhsm"))


# -- browser tests ------------------------------------------------------------

#: Debian's Chromium, which Playwright drives (no browser is downloaded).
CHROMIUM = "/usr/bin/chromium"


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Debian's chromium is not installed ({CHROMIUM})"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return None


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Headless Chromium for one test module (per module: while Playwright's
    sync API is open, this thread cannot run the service's asyncio code)."""
    reason = chromium_missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; the browser tests must run in CI")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"],
        )
        try:
            yield browser
        finally:
            browser.close()


def in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Call ``function`` in a thread of its own: the service's code may run
    its own asyncio loop, which Playwright's thread cannot host."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(function, *args).result()


#: Where browser tests leave a screenshot of the page when they fail.
FAILURE_SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def save_screenshot_if_failed(request: pytest.FixtureRequest, page: Any) -> Path | None:
    """At a browser test's teardown: a full-page screenshot of ``page`` under
    :data:`FAILURE_SCREENSHOTS` if the test failed (its path), else nothing."""
    report = getattr(request.node, "report_call", None)
    if report is None or not report.failed or page.is_closed():
        return None
    FAILURE_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.nodeid)
    path = FAILURE_SCREENSHOTS / f"{name}.png"
    try:
        page.screenshot(path=str(path), full_page=True)
    except Exception as e:  # the page may be gone with the failure
        print(f"no screenshot of the failed test: {e}")
        return None
    print(f"screenshot of the failed test: {path}")
    return path


@pytest.fixture
def listener() -> Iterator[tuple[int, threading.Event]]:
    """A TCP listener on loopback that records whether anyone connected:
    its port replaces the inputs' placeholder address."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    sock.settimeout(0.2)
    connected = threading.Event()
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            connected.set()
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()[1], connected
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()
