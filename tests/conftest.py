"""Shared fixtures: an in-process service, a real server on loopback, clients."""

from __future__ import annotations

import base64
import hashlib
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import zeep
from werkzeug.serving import make_server
from zeep.transports import Transport

from msign_soap.app import Service, create_app
from msign_soap.config import load_config

from .pki_support import seed_demo_pki

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


def make_service(tmp_path: Path, clock: Any = None, **settings: Any) -> Service:
    """A service on a fresh data directory, seeded with the session's demo PKI."""
    if settings.get("demo_pki", True) and not (tmp_path / "data" / "pki").exists():
        seed_demo_pki(tmp_path / "data")
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


def minimal_pdf(text: str = "Hello", padding: int = 0) -> bytes:
    """A valid one-page PDF with a correct xref table; ``padding`` bytes of
    incompressible data in the page content make it as large as wanted."""
    stream = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode()
    if padding:
        stream += b"\n%" + os.urandom(padding // 2).hex().encode()[:padding]
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
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


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def service(tmp_path: Path, clock: FrozenClock) -> Iterator[Service]:
    svc = make_service(tmp_path, clock)
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
