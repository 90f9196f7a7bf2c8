"""Operations: ``/healthz``, ``/readyz``, ``/metrics`` and JSON logs keyed by RequestID."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from werkzeug.test import Client
from zeep.exceptions import Fault

from msign_soap.config import load_config
from msign_soap.constants import CLIENT_CERTIFICATE_KEY
from msign_soap.errors import ConfigurationError
from msign_soap.observability import CallContext, Counter, Histogram, JsonFormatter, Registry, bind, reset
from msign_soap.observability.logs import use_log_format
from msign_soap.observability.readiness import NotReady, Readiness, revocation_urls

from .conftest import IDNP, issue_certificate, make_service, sha1, soap_client
from .test_signing_flow import post, sign
from .test_web import ION, ION_PIN, enter, post_request, submit

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of a text exposition, by name and sorted labels; every line must be well-formed."""
    samples = {}
    for line in exposition.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) \w+ .+$", line), line
            continue
        match = SAMPLE.match(line)
        assert match, line
        name, labels, value = match.groups()
        pairs = tuple(sorted(LABEL.findall(labels or "")))
        samples[(name, pairs)] = float(value)
    return samples


def sample(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(service: Any, address: str = "127.0.0.1") -> dict:
    response = Client(service).get("/metrics", environ_overrides={"REMOTE_ADDR": address})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(response.get_data(as_text=True))


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback server that accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"http://127.0.0.1:{s.getsockname()[1]}/rest/service"


# -- /healthz and /readyz ------------------------------------------------------------


def test_healthz(service):
    browser = Client(service)
    response = browser.get("/healthz")
    assert (response.status_code, response.get_data(), response.headers["Cache-Control"]) == (200, b"ok\n", "no-store")
    head = browser.head("/healthz")
    assert (head.status_code, head.get_data(), head.headers["Content-Length"]) == (200, b"", "3")
    assert browser.post("/healthz").status_code == 405


def test_readyz_on_the_embedded_default(service):
    response = Client(service).get("/readyz")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    report = response.get_json()
    assert report["status"] == "ready"
    assert set(report["checks"]) == {"database", "tsa", "ocsp", "mssp"}
    assert all(check["ok"] and check["seconds"] >= 0 for check in report["checks"].values())
    # in process: nothing to reach
    assert [report["checks"][name]["detail"] for name in ("tsa", "ocsp", "mssp")] == ["embedded"] * 3


def test_readyz_with_a_real_tsa_and_mssp_over_http(tmp_path, live_server):
    """The TSA check is a real RFC 3161 round trip; the MSSP check a request the provider answers."""
    settings = {
        "tsa_url": live_server.url + "/tsa",
        "mssp_url": live_server.url + "/mssp-sim/rest/service",
        "mssp_ap_password": "not checked",
    }
    service = make_service(tmp_path, **settings)
    try:
        response = Client(service).get("/readyz")
        assert response.status_code == 200, response.get_json()
        checks = response.get_json()["checks"]
        assert checks["tsa"] == {"ok": True, "seconds": checks["tsa"]["seconds"]}
        assert checks["mssp"]["ok"] and "detail" not in checks["mssp"]
    finally:
        service.close()


def _foreign_ca(tmp_path: Path, crl_url: str) -> Path:
    root = issue_certificate("Operator Root", ec.generate_private_key(ec.SECP256R1()), ca=True)
    intermediate = issue_certificate(
        "Operator Issuing CA", ec.generate_private_key(ec.SECP256R1()), root, ca=True, crl_url=crl_url
    )
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(b"".join(c.certificate.public_bytes(Encoding.PEM) for c in (root, intermediate)))
    return anchors


@pytest.mark.parametrize(
    ("case", "dependency", "error"),
    [
        pytest.param("tsa-closed-port", "tsa", "connection refused", id="tsa-closed-port"),
        pytest.param("tsa-not-a-tsa", "tsa", "HTTP 404", id="tsa-not-a-tsa"),
        pytest.param("mssp-silent", "mssp", "timed out", id="mssp-does-not-answer"),
        pytest.param("mssp-closed-port", "mssp", "connection refused", id="mssp-closed-port"),
        pytest.param("crl-closed-port", "ocsp", "connection refused", id="crl-closed-port"),
    ],
)
def test_readyz_not_ready(tmp_path, live_server, silent_server, case, dependency, error):
    port = closed_port()
    settings: dict[str, Any] = {
        "tsa-closed-port": {"tsa_url": f"http://127.0.0.1:{port}/tsa"},
        "tsa-not-a-tsa": {"tsa_url": live_server.url + "/no-tsa-here/x"},
        "mssp-silent": {"mssp_url": silent_server, "mssp_ap_password": "pw", "mssp_http_timeout": 0.3},
        "mssp-closed-port": {"mssp_url": f"http://127.0.0.1:{port}/rest", "mssp_ap_password": "pw"},
        "crl-closed-port": {
            "trust_anchors": _foreign_ca(tmp_path, f"http://127.0.0.1:{port}/root.crl"),
            "revocation": "hard",
        },
    }[case]
    service = make_service(tmp_path, **settings)
    try:
        response = Client(service).get("/readyz")
    finally:
        service.close()
    assert response.status_code == 503
    report = response.get_json()
    assert report["status"] == "not ready"
    assert report["checks"][dependency] == {
        "ok": False,
        "seconds": report["checks"][dependency]["seconds"],
        "error": error,
    }
    assert all(check["ok"] for name, check in report["checks"].items() if name != dependency)
    # a short, fixed reason: no address, path or traceback reaches the caller
    body = response.get_data(as_text=True)
    assert "127.0.0.1" not in body and "Traceback" not in body and "/" not in body


def test_revocation_urls_of_the_anchors(tmp_path):
    anchors = _foreign_ca(tmp_path, "http://crl.example.md/root.crl")
    from msign_soap.core.trust import load_trust_anchors

    roots, intermediates = load_trust_anchors(anchors)
    assert revocation_urls([*roots, *intermediates]) == ["http://crl.example.md/root.crl"]


def test_readiness_runs_checks_concurrently_bounded_and_cached():
    release = threading.Event()
    calls: list[str] = []

    def slow(timeout: float) -> None:
        calls.append("slow")
        release.wait(10)  # longer than the check's timeout

    def broken(timeout: float) -> None:
        calls.append("broken")
        raise RuntimeError("secret detail /etc/passwd")

    def refused(timeout: float) -> None:
        calls.append("refused")
        raise NotReady("connection refused")

    readiness = Readiness({"slow": slow, "broken": broken, "refused": refused}, timeout=0.2, cache_seconds=60)
    try:
        report = readiness.report()
        assert readiness.report() is report  # within cache_seconds: not checked again
        readiness.cache_seconds = 0
        again = readiness.report()
    finally:
        release.set()
    assert not report.ready
    assert {name: result.error for name, result in report.checks.items()} == {
        "slow": "timed out",
        "broken": "check failed",
        "refused": "connection refused",
    }
    assert again.checks["slow"].error == "timed out"
    assert sorted(calls) == ["broken", "broken", "refused", "refused", "slow"]  # the hanging one not started again


# -- /metrics ------------------------------------------------------------------------


def _post_request(client: Any, short: str = "Short") -> str:
    return client.PostSignRequest(
        request={
            "ContentType": "Hash",
            "Contents": {"SignContent": [{"Content": sha1("x")}]},
            "ShortContentDescription": short,
            "ExpectedSigner": {"ID": IDNP},
        }
    )


def test_soap_calls_counted_by_operation_consumer_and_status(service, client):
    request_id = _post_request(client)
    _post_request(client)
    client.GetSignResponse(requestID=request_id)
    with pytest.raises(Fault) as not_found:
        client.GetSignResponse(requestID="0" * 32)
    assert not_found.value.code == "RequestNotFound"
    with pytest.raises(Fault) as invalid:
        _post_request(client, short="x" * 91)
    assert invalid.value.code == "InvalidParameter"
    browser = Client(service)
    malformed = browser.post("/MSign.svc", data=b"<not xml", headers={"Content-Type": "text/xml"})
    assert malformed.status_code == 500
    stranger = issue_certificate("Stranger", ec.generate_private_key(ec.SECP256R1())).certificate
    refused = browser.post(
        "/MSign.svc",
        data=_post_envelope(),
        headers={"Content-Type": "text/xml; charset=utf-8"},
        environ_overrides={CLIENT_CERTIFICATE_KEY: stranger.public_bytes(Encoding.DER)},
    )
    assert b"AuthenticationFailed" in refused.get_data()

    samples = scrape(service)
    counted = {
        labels: value for (name, labels), value in samples.items() if name == "msign_soap_requests_total" and value
    }
    assert counted == {
        (("consumer", "demo"), ("operation", "PostSignRequest"), ("status", "ok")): 2,
        (("consumer", "demo"), ("operation", "PostSignRequest"), ("status", "InvalidParameter")): 1,
        (("consumer", "demo"), ("operation", "GetSignResponse"), ("status", "ok")): 1,
        (("consumer", "demo"), ("operation", "GetSignResponse"), ("status", "RequestNotFound")): 1,
        (("consumer", "-"), ("operation", "PostSignRequest"), ("status", "AuthenticationFailed")): 1,
        (("consumer", "-"), ("operation", "-"), ("status", "Client")): 1,
    }
    # the histogram agrees with the counter, its buckets are cumulative and end in +Inf
    for operation, calls in (("PostSignRequest", 4), ("GetSignResponse", 2), ("-", 1)):
        buckets = sorted(
            (float(dict(labels)["le"]), value)
            for (name, labels), value in samples.items()
            if name == "msign_soap_request_seconds_bucket" and dict(labels)["operation"] == operation
        )
        assert buckets[-1] == (float("inf"), calls)
        assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:], strict=False))
        assert sample(samples, "msign_soap_request_seconds_count", operation=operation) == calls
        assert sample(samples, "msign_soap_request_seconds_sum", operation=operation) > 0


def _post_envelope() -> bytes:
    content = base64.b64encode(sha1("x")).decode()
    return (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><PostSignRequest '
        'xmlns="https://msign.gov.md"><request><ContentType>Hash</ContentType><Contents><SignContent><Content>'
        f"{content}</Content></SignContent></Contents><ShortContentDescription>Ops</ShortContentDescription>"
        "</request></PostSignRequest></s:Body></s:Envelope>"
    ).encode()


def test_sign_flow_outcomes_and_page_routes(service, client, clock):
    browser = Client(service)
    signed = post_request(service)
    assert enter(browser, signed).status_code == 303
    assert submit(browser, signed, "securesign", idnp=ION, pin=ION_PIN).status_code == 303
    cancelled = post_request(service)
    enter(browser, cancelled)
    page = browser.get(f"/{cancelled}/sign")
    token = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    assert browser.post(f"/{cancelled}/cancel", data={"csrf": token}).status_code == 303
    assert browser.get("/" + "f" * 32).status_code == 404
    assert browser.get("/no/such/page/here").status_code == 404
    expired = _post_request(client)
    clock.advance(seconds=service.config.request_lifetime + 1)
    assert client.GetSignResponse(requestID=expired).Status == "Expired"

    samples = scrape(service)
    finished = {
        labels: value
        for (name, labels), value in samples.items()
        if name == "msign_sign_requests_finished_total" and value
    }
    assert finished == {
        (("instrument", "securesign"), ("status", "Success")): 1,
        (("instrument", "-"), ("status", "Failure")): 1,  # cancelled: no instrument ended it
        (("instrument", "-"), ("status", "Expired")): 1,
    }
    assert sample(samples, "msign_signatures_total", kind="xades") == 2  # the request's two contents
    assert sample(samples, "msign_http_requests_total", route="/{request_id}", code="303") == 2
    assert sample(samples, "msign_http_requests_total", route="/{request_id}", code="404") == 1
    assert sample(samples, "msign_http_requests_total", route="/{request_id}/sign/{instrument}", code="200") == 1
    assert sample(samples, "msign_http_requests_total", route="/{request_id}/sign/{instrument}", code="303") == 1
    assert sample(samples, "msign_http_requests_total", route="/{request_id}/cancel", code="303") == 1
    assert sample(samples, "msign_http_requests_total", route="-", code="404") == 1
    # routes are templates: no RequestID or raw path is ever a label
    routes = {dict(labels)["route"] for name, labels in samples if name == "msign_http_requests_total"}
    assert all(signed not in route and "such" not in route for route in routes), routes


def test_verifications_counted(service, client):
    document = b"Contract no. 17"
    request_id = post(service, contents=[_content(hashlib.sha1(document).digest())])
    sign(service, request_id)
    [result] = service.requests.get(service.requests.demo_consumer(), request_id, "en").results
    request = {
        "SignedContentType": "Hash",
        "Contents": {
            "VerificationContent": [
                {"Content": hashlib.sha1(document).digest(), "Signature": result.signature, "CorrelationID": "a"},
                {"Content": hashlib.sha1(b"another").digest(), "Signature": result.signature, "CorrelationID": "b"},
            ]
        },
    }
    outcomes = client.VerifySignatures(request=request).VerificationResult
    assert [o.SignaturesValid for o in outcomes] == [True, False]
    page = Client(service).post(
        "/verify",
        data={"signature": (io.BytesIO(result.signature), "s.xml"), "hash": hashlib.sha1(document).hexdigest()},
    )
    assert page.status_code == 200
    samples = scrape(service)
    assert sample(samples, "msign_verifications_total", content_type="Hash", valid="true") == 2
    assert sample(samples, "msign_verifications_total", content_type="Hash", valid="false") == 1
    assert sample(samples, "msign_http_requests_total", route="/verify", code="200") == 1
    assert sample(samples, "msign_signatures_total", kind="xades") == 1


def _content(digest: bytes) -> Any:
    from msign_soap.core import SignContentInput

    return SignContentInput(digest, "c1")


@pytest.mark.parametrize(
    ("settings", "address", "code"),
    [
        pytest.param({}, "127.0.0.1", 200, id="loopback-by-default"),
        pytest.param({}, "::1", 200, id="ipv6-loopback-by-default"),
        pytest.param({}, "::ffff:127.0.0.1", 200, id="ipv4-mapped-loopback"),
        pytest.param({}, "192.0.2.7", 403, id="elsewhere-refused"),
        pytest.param({}, "", 403, id="no-address-refused"),
        pytest.param({"metrics_allowed": ("192.0.2.0/24",)}, "192.0.2.7", 200, id="allowed-network"),
        pytest.param({"metrics_allowed": ("192.0.2.0/24",)}, "127.0.0.1", 403, id="loopback-not-listed"),
    ],
)
def test_metrics_in_production_only_for_allowed_addresses(tmp_path, settings, address, code):
    service = make_service(tmp_path, production=True, trusted_proxies=("10.0.0.5/32",), **settings)
    try:
        browser = Client(service)
        response = browser.get("/metrics", environ_overrides={"REMOTE_ADDR": address})
        assert response.status_code == code
        if code == 403:
            assert b"msign_" not in response.get_data()
        # health and readiness stay open to load balancers
        assert browser.get("/healthz", environ_overrides={"REMOTE_ADDR": address}).status_code == 200
    finally:
        service.close()


def test_metrics_are_public_outside_production(service):
    assert scrape(service, address="192.0.2.7") is not None


# -- the metric types and the text format -------------------------------------------------


def test_exposition_format():
    registry = Registry()
    counter = registry.counter("msign_things_total", 'Things\\counted\n"here"', ("name",))
    counter.inc('a "quoted"\\value\nwith a newline')
    counter.inc("plain", amount=2.5)
    histogram = registry.histogram("msign_wait_seconds", "Waits.", ("op",), buckets=(0.005, 0.5))
    histogram.observe(0.005, "x")  # le is inclusive
    histogram.observe(0.7, "x")
    text = registry.exposition().decode()
    assert text == (
        '# HELP msign_things_total Things\\\\counted\\n"here"\n'
        "# TYPE msign_things_total counter\n"
        'msign_things_total{name="a \\"quoted\\"\\\\value\\nwith a newline"} 1\n'
        'msign_things_total{name="plain"} 2.5\n'
        "# HELP msign_wait_seconds Waits.\n"
        "# TYPE msign_wait_seconds histogram\n"
        'msign_wait_seconds_bucket{op="x",le="0.005"} 1\n'
        'msign_wait_seconds_bucket{op="x",le="0.5"} 1\n'
        'msign_wait_seconds_bucket{op="x",le="+Inf"} 2\n'
        'msign_wait_seconds_sum{op="x"} 0.705\n'
        'msign_wait_seconds_count{op="x"} 2\n'
    )


@pytest.mark.parametrize(
    ("action", "message"),
    [
        pytest.param(lambda: Counter("c_total", "C.", ("a",)).inc(), "takes the labels", id="missing-label"),
        pytest.param(lambda: Counter("c_total", "C.").inc(amount=-1), "only goes up", id="negative"),
        pytest.param(lambda: Histogram("h", "H.", buckets=(1.0, 0.5)), "increasing", id="unordered-buckets"),
        pytest.param(lambda: Histogram("h", "H.", ("le",)), "own label", id="le-label"),
        pytest.param(lambda: _twice(), "exists", id="name-taken"),
    ],
)
def test_metric_misuse_refused(action, message):
    with pytest.raises(ValueError, match=message):
        action()


def _twice() -> None:
    registry = Registry()
    registry.counter("x_total", "X.")
    registry.counter("x_total", "X.")


def test_counting_is_thread_safe():
    counter = Counter("c_total", "C.", ("k",))
    histogram = Histogram("h_seconds", "H.", ("k",))

    def work() -> None:
        for i in range(5000):
            counter.inc("k")
            histogram.observe(i / 5000, "k")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.value("k") == 40000
    assert histogram.counts("k")[0][-1] == 40000


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param({"metrics_allowed": ("10.0.0.300/8",)}, "metrics_allowed", id="bad-network"),
        pytest.param({"metrics_allowed": ("10.0.0.1/8",)}, "metrics_allowed", id="host-bits-set"),
        pytest.param({"log_format": "xml"}, "log_format must be one of text, json", id="bad-log-format"),
    ],
)
def test_invalid_settings_refused(tmp_path, settings, message):
    with pytest.raises(ConfigurationError, match=message):
        load_config(environ={}, data_dir=tmp_path, **settings)


def test_settings_from_the_environment(tmp_path):
    config = load_config(
        environ={"MSIGN_METRICS_ALLOWED": "10.1.0.0/16, ::1/128", "MSIGN_LOG_FORMAT": "json"}, data_dir=tmp_path
    )
    assert (config.metrics_allowed, config.log_format) == (("10.1.0.0/16", "::1/128"), "json")
    default = load_config(environ={}, data_dir=tmp_path)
    assert (default.metrics_allowed, default.log_format) == (("127.0.0.0/8", "::1/128"), "text")


# -- JSON logs --------------------------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the root logger writes at INFO through the JSON formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_logs_carry_the_request_id_of_soap_calls_and_page_steps(service, client, json_log):
    request_id = _post_request(client)
    posted = [e for e in lines(json_log) if "posted" in e["message"]]
    assert len(posted) == 1
    assert posted[0]["request_id"] == request_id and posted[0]["consumer"] == "demo"
    assert set(posted[0]) == {"time", "level", "logger", "message", "request_id", "consumer"}
    assert posted[0]["level"] == "INFO" and posted[0]["logger"] == "msign_soap.core.requests"

    browser = Client(service)
    enter(browser, request_id)
    json_log.truncate(0)
    json_log.seek(0)
    assert submit(browser, request_id, "securesign", idnp=ION, pin="0000").status_code == 200  # a wrong PIN
    assert submit(browser, request_id, "securesign", idnp=ION, pin=ION_PIN).status_code == 303
    entries = lines(json_log)
    # lines logged without any extra (the instrument's, the signing flow's) carry it from the call's context
    by_logger = {e["logger"] for e in entries if e.get("request_id") == request_id}
    assert {"msign_soap.web.app", "msign_soap.instruments.cloudkey", "msign_soap.core.signing"} <= by_logger
    assert all(e.get("request_id") == request_id for e in entries if e["logger"].startswith("msign_soap"))


def test_json_log_of_an_exception(json_log):
    context = CallContext()
    context.request_id = "a" * 32
    context.consumer = "cadastru"
    token = bind(context)
    try:
        try:
            raise RuntimeError("line one\nline two")
        except RuntimeError:
            logging.getLogger("msign_soap.test").exception("it failed: %s", "ü")
    finally:
        reset(token)
    logging.getLogger("msign_soap.test").warning("after the call", extra={"request_id": "b" * 32})
    first, second = lines(json_log)
    assert first["message"] == "it failed: ü" and first["level"] == "ERROR"
    assert (first["request_id"], first["consumer"]) == ("a" * 32, "cadastru")
    assert "Traceback" in first["exc_info"] and "line one\nline two" in first["exc_info"]
    assert second["request_id"] == "b" * 32 and "consumer" not in second
    assert len(json_log.getvalue().splitlines()) == 2  # one line each


@pytest.mark.parametrize(
    ("log_format", "formatter"),
    [pytest.param("json", JsonFormatter, id="json"), pytest.param("text", logging.Formatter, id="text")],
)
def test_use_log_format(log_format, formatter):
    logger = logging.getLogger(f"msign_soap.test.{log_format}")
    handler = logging.StreamHandler(io.StringIO())
    logger.addHandler(handler)
    try:
        use_log_format(log_format, logger)
        assert type(handler.formatter) is formatter
        with pytest.raises(ValueError, match="log_format"):
            use_log_format("xml", logger)
    finally:
        logger.removeHandler(handler)


def test_serve_with_json_logs(tmp_path):
    """``msign-soap serve --log-format json``: every log line on stderr is JSON;
    the endpoints answer over real HTTP."""
    process = subprocess.Popen(
        [sys.executable, "-m", "msign_soap.cli", "serve", "--port", "0", "--data-dir", str(tmp_path / "data")]
        + ["--log-format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:  # readiness: the server prints its WSDL URL once it listens
            match = re.search(r"WSDL: (http://127\.0\.0\.1:\d+)/MSign\.svc\?singleWsdl", line)
            if match:
                break
        else:
            pytest.fail("the server did not start")
        base = match.group(1)
        request_id = _post_request(soap_client(base + "/MSign.svc"))
        assert requests.get(base + "/healthz", timeout=10).text == "ok\n"
        assert requests.get(base + "/readyz", timeout=10).json()["status"] == "ready"
        exposition = requests.get(base + "/metrics", timeout=10).text
        assert 'msign_soap_requests_total{operation="PostSignRequest",consumer="demo",status="ok"} 1' in exposition
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=10)
    entries = [json.loads(line) for line in errors.splitlines() if line.strip()]
    assert any(e.get("request_id") == request_id and "posted" in e["message"] for e in entries), errors
