"""Two service processes sharing one PostgreSQL database, as two hosts behind a
load balancer would: started at once on a fresh database (migrations and the
demo keys raced), a request posted to one and signed on the other's sign page,
its results fetched from both, then overdue requests expired and purged by
both maintenance threads at once, each exactly once, with one unforked audit
trail.

Each process has a data directory of its own, seeded with the same demo PKI
(the same people, keys and TSA): what two hosts configured alike would have.
Their maintenance passes run every second (``MSIGN_MAINTENANCE_INTERVAL``);
requests become overdue by moving their stored times back, as if the time had
passed, rather than by a short ``request_lifetime``, which the signing on the
page would have to beat.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import lxml.html
import pytest
import requests
import zeep

from msign_soap.cli import main
from msign_soap.core import utcnow
from msign_soap.core.audit import AuditTrail
from msign_soap.store import open_store

from .conftest import soap_client
from .pki_support import seed_demo_pki

ION, ION_PIN = "2004001234567", "4567"  # securesign's demo PIN: the IDNP's last 4 digits
RETURN_URL = "https://eservice.example.md/back"
#: How many requests both instances expire, then purge, at once: enough for
#: one maintenance pass to last a while, so that the two passes overlap.
OVERDUE = 120
#: How long to wait for what the maintenance threads do (they run every second).
PATIENCE = timedelta(seconds=120)
#: A line of the service's text log at level ERROR or CRITICAL, or a traceback.
LOGGED_ERROR = re.compile(r"^\S+ \S+ (ERROR|CRITICAL) |^Traceback ", re.MULTILINE)
MAINTENANCE = re.compile(r"maintenance: MaintenanceReport\(expired=(\d+), documents_deleted=(\d+), purged=(\d+)\)")


@dataclass
class Instance:
    """One ``msign-soap serve`` process."""

    name: str
    url: str
    log: Path
    data_dir: Path

    @functools.cached_property
    def soap(self) -> Any:
        """A zeep client of its SOAP endpoint (the reference WSDL)."""
        return soap_client(self.url + "/MSign.svc")

    def maintenance(self) -> list[tuple[int, int, int]]:
        """The (expired, documents deleted, purged) of each maintenance pass that did something."""
        return [tuple(int(n) for n in m.groups()) for m in MAINTENANCE.finditer(self.log.read_text())]  # type: ignore[misc]


@contextmanager
def serving(name: str, root: Path, database_url: str) -> Iterator[tuple[subprocess.Popen, Instance]]:
    """Start ``msign-soap serve`` on a free port of 127.0.0.1; stopped on exit."""
    data_dir = root / name
    seed_demo_pki(data_dir)
    log = root / f"{name}.log"
    environment = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "MSIGN_MAINTENANCE_INTERVAL": "1",
        "MSIGN_AUDIT_ANCHOR_INTERVAL": "1",
        # the test posts from one address faster than a user would
        "MSIGN_SOAP_RATE_LIMIT": "0",
        "MSIGN_SOAP_ADDRESS_RATE_LIMIT": "0",
    }
    command = [
        sys.executable, "-m", "msign_soap.cli", "serve",
        "--host", "127.0.0.1", "--port", "0", "--data-dir", str(data_dir), "--database-url", database_url,
    ]  # fmt: skip
    with log.open("w") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, env=environment)
    try:
        yield process, Instance(name, "", log, data_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def announced(process: subprocess.Popen, instance: Instance) -> Instance:
    """``instance`` with the URL its process printed once it listens."""
    assert process.stdout is not None
    first = process.stdout.readline()
    found = re.search(r"serving on (http://127\.0\.0\.1:\d+)", first)
    assert found, f"{instance.name} did not start: {first!r}\n{instance.log.read_text()}"
    return Instance(instance.name, found.group(1), instance.log, instance.data_dir)


def post(instance: Instance, content: bytes) -> str:
    request = {
        "ContentType": "Hash",
        "Contents": {"SignContent": [{"Content": content, "CorrelationID": "c0"}]},
        "ShortContentDescription": "Contract no. 12",
    }
    return str(instance.soap.PostSignRequest(request=request))


def sign_on_the_page(instance: Instance, request_id: str) -> None:
    """What a browser without JavaScript does on ``instance``'s sign page with Ion's cloud key."""
    browser = requests.Session()
    entry = browser.get(
        f"{instance.url}/{request_id}",
        params={"ReturnUrl": RETURN_URL, "lang": "en", "Instrument": "securesign"},
        allow_redirects=False,
        timeout=60,
    )
    assert entry.status_code == 303, entry.text
    action = f"/{request_id}/sign/securesign"
    page = lxml.html.fromstring(browser.get(instance.url + action, timeout=60).text)
    [form] = [f for f in page.forms if f.get("action") == action]
    fields = {**dict(form.form_values()), "idnp": ION, "pin": ION_PIN}
    signed = browser.post(instance.url + action, data=fields, allow_redirects=False, timeout=60)
    assert signed.status_code == 303, signed.text
    done = lxml.html.fromstring(browser.get(instance.url + signed.headers["Location"], timeout=60).text)
    assert done.xpath("//h1")[0].text_content() == "Signing completed"
    assert done.forms[0].get("action") == RETURN_URL


def statuses(database_url: str, request_ids: list[str]) -> dict[str, str]:
    """The stored status of each request still there (read without a service,
    which would expire an overdue request itself)."""
    store = open_store(database_url)
    try:
        model = store.models.SignRequest
        with store.db.connection_context():
            rows = model.select(model.request_id, model.status).where(model.request_id.in_(request_ids))
            return {r.request_id: r.status for r in rows}
    finally:
        store.close()


def shift(database_url: str, request_ids: list[str], **columns: timedelta) -> None:
    """Move times of the requests into the past, as if that much time had gone by."""
    store = open_store(database_url)
    try:
        model = store.models.SignRequest
        with store.db.connection_context():
            for column, by in columns.items():
                field = getattr(model, column)
                model.update({field: field - by}).where(model.request_id.in_(request_ids)).execute()
    finally:
        store.close()


def wait_until(condition: Any, what: str) -> None:
    """Poll ``condition`` until it holds (generous: the machine may be busy)."""
    deadline = time.monotonic() + PATIENCE.total_seconds()
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.2)


def test_two_instances_share_one_postgresql(tmp_path: Path, postgres_url: str, capsys: Any) -> None:
    with ExitStack() as stack:
        # both at once on the empty database: migrations and demo keys are raced
        started = [stack.enter_context(serving(name, tmp_path, postgres_url)) for name in ("a", "b")]
        a, b = (announced(process, instance) for process, instance in started)

        # posted to A, signed on B's page, fetched from both
        request_id = post(a, b"\x01" * 20)
        assert a.soap.GetSignResponse(requestID=request_id).Status == "Pending"
        sign_on_the_page(b, request_id)
        answers = [i.soap.GetSignResponse(requestID=request_id) for i in (a, b)]
        assert [x.Status for x in answers] == ["Success", "Success"]
        [result] = answers[0].Results.SignResult
        assert result.CorrelationID == "c0" and result.Signature.startswith(b"<")
        assert answers[1].Results.SignResult[0].Signature == result.Signature

        # overdue requests, posted to both, expired by both maintenance threads at once
        overdue = [post((a, b)[i % 2], bytes([i % 256]) * 20) for i in range(OVERDUE)]
        shift(postgres_url, overdue, expires_at=timedelta(hours=2))
        wait_until(lambda: set(statuses(postgres_url, overdue).values()) == {"Expired"}, "the requests to expire")
        for instance in (a, b):
            for some in (overdue[0], overdue[-1]):
                assert instance.soap.GetSignResponse(requestID=some, language="en").Status == "Expired"

        # then their documents deleted and the requests purged, by both at once
        shift(postgres_url, overdue, finished_at=timedelta(days=8))
        wait_until(lambda: not statuses(postgres_url, overdue), "the requests to be purged")
        for instance in (a, b):
            with pytest.raises(zeep.exceptions.Fault, match="Cannot find such request"):
                instance.soap.GetSignResponse(requestID=overdue[0])
        assert statuses(postgres_url, [request_id]) == {request_id: "Success"}  # not due yet

        # each request expired exactly once, by one instance or the other
        passes = {i.name: i.maintenance() for i in (a, b)}
        assert sum(expired for runs in passes.values() for expired, _, _ in runs) == OVERDUE, passes
        assert sum(deleted for runs in passes.values() for _, deleted, _ in runs) == OVERDUE, passes
        assert sum(purged for runs in passes.values() for _, _, purged in runs) == OVERDUE, passes
        print(f"maintenance passes (expired, documents deleted, purged): {passes}")

    store = open_store(postgres_url)
    try:
        trail = AuditTrail(store, utcnow)
        expired = [str(r.request_id) for r in trail.records("request.expired")]
        assert sorted(expired) == sorted(overdue)  # exactly one event per request
        events = [r.event for r in trail.history(request_id)]
        assert events[0] == "request.posted" and events.count("request.signed") == 1, events
        assert events.count("results.fetched") == 2, events
    finally:
        store.close()
    capsys.readouterr()
    assert main(["audit", "verify", "--data-dir", str(a.data_dir), "--database-url", postgres_url]) == 0
    verdict = capsys.readouterr().out
    assert "audit trail intact" in verdict, verdict
    for instance in (a, b):
        errors = [m.group(0) for m in LOGGED_ERROR.finditer(instance.log.read_text())]
        assert errors == [], f"{instance.name} logged errors:\n{instance.log.read_text()}"
