"""Test helpers for the demo PKI: one PKI generated per session and copied
into each data directory, and real servers on loopback.

Generating a PKI costs about a second (RSA keys, certomancer); copying one
costs a millisecond. A test whose certificates must point at a live server
(revocation fetched over HTTP) generates its own with :func:`live_service`.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from msign_soap.app import Service, create_app
from msign_soap.config import load_config
from msign_soap.pki import generate_demo_pki

#: The URL the shared PKI is generated for: the default ``public_url`` of a
#: configuration that sets no port, so loading it logs no mismatch.
TEMPLATE_URL = "http://127.0.0.1:8080"

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


@functools.cache
def shared_demo_pki_template() -> Path:
    """A demo PKI generated on first call and shared by the whole test run
    (removed at exit); never modify it, copy it with :func:`seed_demo_pki`.

    A plain function so that plain helpers such as ``make_service`` can use it.
    """
    root = Path(tempfile.mkdtemp(prefix="msign-demo-pki-"))
    atexit.register(shutil.rmtree, root, True)
    generate_demo_pki(root / "pki", TEMPLATE_URL)
    return root / "pki"


@pytest.fixture(scope="session")
def demo_pki_template() -> Path:
    """The shared demo PKI (:func:`shared_demo_pki_template`) as a fixture."""
    return shared_demo_pki_template()


def seed_demo_pki(data_dir: Path, template: Path | None = None) -> Path:
    """Copy a generated PKI (by default the shared one) to ``data_dir/pki``,
    where ``create_app`` looks for it, keeping file modes; return that directory."""
    target = data_dir / "pki"
    shutil.copytree(template or shared_demo_pki_template(), target)
    return target


@contextmanager
def serve(app: WsgiApp | None = None) -> Iterator[tuple[str, Any]]:
    """Serve ``app`` on 127.0.0.1 on a free port; yield ``(base URL, server)``.

    The socket listens before this yields, so no wait is needed. With
    ``app`` None, set ``server.app`` before the first request (useful when the
    app must know its own URL).
    """
    server = make_server("127.0.0.1", 0, app or _not_ready, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _not_ready(environ: dict, start_response: Callable) -> Iterable[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"not ready\n"]


@dataclass
class LiveService:
    url: str
    service: Service
    #: ``"<METHOD> <path>"`` of every request served, in order.
    seen: list[str] = field(default_factory=list)


@contextmanager
def live_service(data_dir: Path, template: Path | None = None, **settings: Any) -> Iterator[LiveService]:
    """The whole service on a real server on loopback whose ``public_url`` is
    the server's own address.

    :param template: a PKI to copy in (its URLs then point elsewhere);
        without one, a PKI whose URLs point at this server is generated.
    """
    if template is not None:
        seed_demo_pki(data_dir, template)
    with serve() as (url, server):
        service = create_app(load_config(environ={}, data_dir=data_dir, public_url=url, **settings))
        live = LiveService(url, service)

        def recording(environ: dict, start_response: Callable) -> Iterable[bytes]:
            live.seen.append(f"{environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}")
            return service(environ, start_response)

        server.app = recording
        try:
            yield live
        finally:
            service.close()
