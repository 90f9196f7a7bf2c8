"""The completion webhook: queued with each terminal state, signed with the
consumer's key, retried with backoff after a failing receiver, delivered once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from msign_soap.core import SignContentInput, SignRequestInput
from msign_soap.core.webhooks import signature_of

from .conftest import make_service, sha1

ION = "2004001234567"


@dataclass
class Receiver:
    """An e-service's webhook endpoint on 127.0.0.1: answers ``failures`` times 500, then 204."""

    url: str = ""
    failures: int = 0
    received: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def accepted(self) -> list[tuple[dict[str, str], bytes]]:
        return [(headers, body) for headers, body, status in self.received if status == 204]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()
    with receiving(state):
        yield state


@contextmanager
def receiving(state: Receiver) -> Iterator[Receiver]:
    """Serve ``state``'s endpoint on 127.0.0.1 (its ``url`` set) while inside."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 -- http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = 500 if state.failures > 0 else 204
            state.failures -= 1
            state.received.append((dict(self.headers), body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            state.arrived.set()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/msign/webhook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def post(service: Any) -> str:
    request = SignRequestInput("Hash", [SignContentInput(sha1("webhook"), "c")], "Webhook")
    return service.requests.post(service.requests.demo_consumer(), request)


def verify(key: str, headers: dict[str, str], body: bytes) -> None:
    assert headers["Content-Type"] == "application/json"
    assert headers["X-MSign-Signature"] == signature_of(key, headers["X-MSign-Timestamp"], body)


def test_delivered_once_after_a_failing_receiver(tmp_path: Any, clock: Any, receiver: Receiver) -> None:
    service = make_service(tmp_path, clock)
    try:
        service.requests.demo_consumer()  # made on first use
        key = service.consumers.set_webhook("demo", receiver.url)
        receiver.failures = 2
        request_id = post(service)
        ion = service.pki.people[ION]
        service.signing.sign_with_key(request_id, ion.certificate_der, ion.chain_der, ion.private_key)
        webhooks = service.requests.webhooks
        assert webhooks.deliver_due() == 0  # 500
        assert webhooks.deliver_due() == 0  # not due yet: retried after 10 s
        clock.advance(seconds=10)
        assert webhooks.deliver_due() == 0  # 500 again; next after 20 s
        clock.advance(seconds=19)
        assert webhooks.deliver_due() == 0 and len(receiver.received) == 2
        clock.advance(seconds=1)
        assert webhooks.deliver_due() == 1
        clock.advance(hours=2)
        assert webhooks.deliver_due() == 0  # delivered: never again
        [(headers, body)] = receiver.accepted()
        assert json.loads(body) == {"RequestID": request_id, "Status": "Success"}
        verify(key, headers, body)
        assert len({h["X-MSign-Delivery"] for h, _, _ in receiver.received}) == 1  # the same delivery retried
        other = post(service)
        service.requests.fail(other, "The user refused to sign")
        assert webhooks.deliver_due() == 1
        assert json.loads(receiver.accepted()[-1][1]) == {"RequestID": other, "Status": "Failure"}
    finally:
        service.close()


def test_given_up_after_a_day(tmp_path: Any, clock: Any, receiver: Receiver) -> None:
    service = make_service(tmp_path, clock)
    try:
        service.requests.demo_consumer()
        service.consumers.set_webhook("demo", receiver.url)
        receiver.failures = 10**6
        request_id = post(service)
        clock.advance(seconds=service.config.request_lifetime + 1)
        service.requests.run_maintenance()  # Expired
        for _ in range(40):
            service.requests.webhooks.deliver_due()
            clock.advance(hours=1)
        attempts = len(receiver.received)
        assert 10 < attempts < 40 and json.loads(receiver.received[0][1])["Status"] == "Expired"
        clock.advance(days=2)
        service.requests.webhooks.deliver_due()
        assert len(receiver.received) == attempts
        assert request_id
    finally:
        service.close()


def test_no_webhook_without_a_url_and_after_removal(tmp_path: Any, clock: Any, receiver: Receiver) -> None:
    service = make_service(tmp_path, clock)
    try:
        service.requests.fail(post(service), "x")
        service.consumers.set_webhook("demo", receiver.url)
        service.consumers.set_webhook("demo", None)
        service.requests.fail(post(service), "x")
        assert service.requests.webhooks.deliver_due() == 0 and receiver.received == []
    finally:
        service.close()


def test_the_running_service_sends_it(tmp_path: Any, receiver: Receiver) -> None:
    """The service's own delivery thread, with the real clock."""
    service = make_service(tmp_path)
    stop = service.start_maintenance()
    try:
        service.requests.demo_consumer()
        key = service.consumers.set_webhook("demo", receiver.url)
        request_id = post(service)
        service.requests.fail(request_id, "x")
        assert receiver.arrived.wait(30)
        time.sleep(0.5)  # nothing more comes
        [(headers, body)] = receiver.accepted()
        verify(key, headers, body)
        assert json.loads(body)["RequestID"] == request_id
    finally:
        stop.set()
        service.close()


@pytest.mark.parametrize(
    ("url", "https_only"),
    [
        pytest.param("ftp://e.md/hook", False, id="not-http"),
        pytest.param("/relative", False, id="relative"),
        pytest.param("http://e.md/hook", True, id="http-in-production"),
    ],
)
def test_webhook_urls_are_checked(tmp_path: Any, clock: Any, url: str, https_only: bool) -> None:
    from msign_soap.errors import InvalidParameter

    service = make_service(tmp_path, clock)
    try:
        service.requests.demo_consumer()
        with pytest.raises(InvalidParameter, match="webhook URL"):
            service.consumers.set_webhook("demo", url, https_only=https_only)
    finally:
        service.close()
