"""Hostile XML and oversized bodies get SOAP faults, read no file, reach no network, store nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import requests
from lxml import etree

from .conftest import make_service

HOSTILE = Path(__file__).parent / "data" / "hostile"
FAULT = "{http://schemas.xmlsoap.org/soap/envelope/}Fault"


def counts(service) -> int:
    with service.store.db.connection_context():
        return service.store.models.SignRequest.select().count()


def fault(response: requests.Response) -> tuple[str, str]:
    assert response.status_code == 500, response.text[:500]
    element = etree.fromstring(response.content).find(f".//{FAULT}")
    return element.findtext("faultcode"), element.findtext("faultstring")


@pytest.mark.parametrize("name", sorted(p.name for p in HOSTILE.glob("*.xml")))
def test_hostile_corpus(live_server, name):
    before = counts(live_server.service)
    response = live_server.post_raw((HOSTILE / name).read_bytes())
    code, reason = fault(response)
    assert code in ("s:Client", "InvalidParameter"), (code, reason)
    assert "root:" not in response.text  # nothing of /etc/passwd
    assert counts(live_server.service) == before


@pytest.mark.parametrize("name", ["xxe-file.xml", "billion-laughs.xml", "quadratic-blowup.xml", "dtd-only.xml"])
def test_dtds_are_refused_before_parsing(live_server, name):
    code, reason = fault(live_server.post_raw((HOSTILE / name).read_bytes()))
    assert (code, reason) == ("s:Client", "DTDs and entity declarations are not allowed in SOAP messages")


def test_utf16_dtd_is_refused_after_parsing(live_server):
    code, reason = fault(
        live_server.post_raw((HOSTILE / "xxe-utf16.xml").read_bytes(), **{"Content-Type": "text/xml; charset=utf-16"})
    )
    assert (code, reason) == ("s:Client", "DTDs and entity declarations are not allowed in SOAP messages")


@pytest.mark.parametrize("name", ["xxe-network.xml", "parameter-entity.xml", "dtd-only.xml"])
def test_external_entities_never_reach_the_network(live_server, listener, name):
    port, connected = listener
    body = (HOSTILE / name).read_bytes().replace(b"127.0.0.1:9/", f"127.0.0.1:{port}/".encode())
    fault(live_server.post_raw(body))
    # The UTF-16 variant is parsed; check that parsing never fetches either.
    utf16 = body.decode().replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    fault(live_server.post_raw(utf16.encode("utf-16"), **{"Content-Type": "text/xml; charset=utf-16"}))
    assert not connected.is_set()


@pytest.fixture
def small_server(tmp_path):
    from werkzeug.serving import make_server

    svc = make_service(
        tmp_path, max_body_bytes=64 * 1024, max_content_bytes=32 * 1024, max_total_content_bytes=32 * 1024
    )
    server = make_server("127.0.0.1", 0, svc, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/MSign.svc", svc
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)
    svc.close()


def test_oversized_body_is_refused(small_server):
    url, svc = small_server
    body = b"<s:Envelope>" + b"x" * (200 * 1024)
    code, reason = fault(requests.post(url, data=body, headers={"Content-Type": "text/xml"}, timeout=30))
    assert (code, reason) == ("s:Client", "The request body is larger than the limit of 65536 bytes")
    assert counts(svc) == 0


def test_oversized_chunked_body_is_refused(small_server):
    url, svc = small_server

    def chunks():
        for _ in range(100):
            yield b"x" * 4096

    code, reason = fault(requests.post(url, data=chunks(), headers={"Content-Type": "text/xml"}, timeout=30))
    assert code == "s:Client"
    assert "larger than the limit" in reason
