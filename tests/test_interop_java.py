"""Interop: a real Java JAX-WS (Metro RI) client generated from the reference WSDL.

``tests/interop/java/build.sh`` runs ``wsimport`` on
``tests/data/MSign.reference.wsdl`` (the real service's ?singleWsdl) and
compiles the generated stubs together with ``Client.java`` -- what an
integrator's Java application contains -- and these tests point that client at
the live msign-soap server (``live_server`` fixture from ``conftest.py``) by
overriding ``BindingProvider.ENDPOINT_ADDRESS_PROPERTY``.

The client prints one ``key=value`` per line (see ``Client.java``): bytes are
base64; ``<absent>`` = optional element not on the wire, ``<nil>`` = element
sent with xsi:nil="true", ``<null>`` = a plain member that came back null.

Needs ``java``, ``javac`` (JDK 11+) and ``wsimport`` plus the JAX-WS RI jars
(Debian: ``default-jdk-headless jaxws``). Without them the tests are skipped,
unless ``CI`` is set, in which case they fail.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import minimal_pdf

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
JAVA_DIR = HERE / "interop" / "java"
BUILD_SCRIPT = JAVA_DIR / "build.sh"
CLIENT_SOURCE = JAVA_DIR / "Client.java"
JAXWS_JARS = Path(os.environ.get("JAXWS_JARS", "/usr/share/java"))

# Valid IDNP: 13 digits, check digit = sum(d[i] * (7, 3, 1)[i % 3]) % 10.
# Hard-coded in Client.java as DEFAULT_IDNP.
VALID_IDNP = "2002001234563"

# The standard SOAP 1.1 fault codes (as opposed to the contract's bare codes).
STANDARD_FAULT_CODES = {"Client", "Server", "VersionMismatch", "MustUnderstand"}
SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"

BUILD_TIMEOUT = 300  # seconds
CLIENT_TIMEOUT = 120  # seconds; a cold JVM + JAX-WS init is ~1 s, leave room for a loaded CI box

# A fixed self-signed EC P-256 certificate (CN=Java Interop Test Signer,
# serialNumber=VALID_IDNP, C=MD, valid 2025-2045): known DER bytes to round-trip.
CERTIFICATE_DER = base64.b64decode(
    "MIIBkTCCATagAwIBAgIUIxBTyYVbikdcoROOXdXlzlYqV8MwCgYIKoZIzj0EAwIwSDEhMB8GA1UE"
    "AwwYSmF2YSBJbnRlcm9wIFRlc3QgU2lnbmVyMRYwFAYDVQQFEw0yMDAyMDAxMjM0NTYzMQswCQYD"
    "VQQGEwJNRDAeFw0yNTAxMDEwMDAwMDBaFw00NTAxMDEwMDAwMDBaMEgxITAfBgNVBAMMGEphdmEg"
    "SW50ZXJvcCBUZXN0IFNpZ25lcjEWMBQGA1UEBRMNMjAwMjAwMTIzNDU2MzELMAkGA1UEBhMCTUQw"
    "WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAASQ3Qc+tBk4IqVoQqIauEof96CiPLmqJUNDm5sG4i/8"
    "oBNRNKmBSluX/gE3J5cMXchQY2OgVdKczRewgu9rkgHRMAoGCCqGSM49BAMCA0kAMEYCIQCe9eVb"
    "E4ts8aWEfq6DdYfSv5snpZymnlWVcIsxdwcgGQIhAKnlFnQwETNBxHRoBloXA8GOCBZzakZRQ32V"
    "/c8rt7Dj"
)


def idnp_check_digit(first12: str) -> int:
    return sum(int(d) * (7, 3, 1)[i % 3] for i, d in enumerate(first12)) % 10


def test_hard_coded_idnp_is_valid():
    assert len(VALID_IDNP) == 13 and VALID_IDNP.isdigit()
    assert idnp_check_digit(VALID_IDNP[:12]) == int(VALID_IDNP[12])
    assert f'DEFAULT_IDNP = "{VALID_IDNP}"' in CLIENT_SOURCE.read_text(encoding="utf-8")


# --------------------------------------------------------------------------
# Building and running the client
# --------------------------------------------------------------------------


def _missing_java_tools() -> list[str]:
    missing = [tool for tool in ("java", "javac", "wsimport") if shutil.which(tool) is None]
    if not (JAXWS_JARS / "jaxws-rt.jar").is_file():
        missing.append(f"JAX-WS RI jars in {JAXWS_JARS} (Debian package 'jaxws')")
    return missing


@dataclass
class ClientRun:
    args: tuple
    returncode: int
    stdout: str
    stderr: str
    values: dict = field(default_factory=dict)

    def __getitem__(self, key):
        return self.values[key]

    def get(self, key, default=None):
        return self.values.get(key, default)

    def describe(self) -> str:
        return f"Client {' '.join(self.args)}\nexit={self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), value)


def parse_output(stdout: str) -> dict:
    values = {}
    for line in stdout.splitlines():
        if not line:
            continue
        key, sep, value = line.partition("=")
        assert sep, f"unexpected client output line: {line!r}"
        values[key] = _unescape(value)
    return values


class JavaClient:
    def __init__(self, classpath: str):
        self.classpath = classpath
        # Keep the JVM away from any proxy configuration of the environment.
        self.env = {
            k: v
            for k, v in os.environ.items()
            if "proxy" not in k.lower() and k not in ("JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS")
        }

    def run(self, *args: str, jvm_options: tuple[str, ...] = ()) -> ClientRun:
        url = args[1]
        assert url.startswith("http://127.0.0.1:"), url
        cmd = [
            "java",
            "-XX:TieredStopAtLevel=1",  # faster start-up for a short-lived JVM
            "-Djava.net.useSystemProxies=false",
            # Silences the SAAJ "deprecated META-INF/services" warnings on stderr.
            "-Djavax.xml.soap.SAAJMetaFactory=com.sun.xml.messaging.saaj.soap.SAAJMetaFactoryImpl",
            *jvm_options,
            "-cp",
            self.classpath,
            "Client",
            *args,
        ]
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=self.env,
            timeout=CLIENT_TIMEOUT,
        )
        run = ClientRun(args, proc.returncode, proc.stdout, proc.stderr)
        run.values = parse_output(proc.stdout)
        return run

    def ok(self, *args: str, jvm_options: tuple[str, ...] = ()) -> ClientRun:
        run = self.run(*args, jvm_options=jvm_options)
        assert run.returncode == 0, f"client {args[0]} failed:\n{run.describe()}"
        return run

    def fault(self, *args: str) -> ClientRun:
        run = self.run(*args)
        assert run.returncode == 3, f"client {args[0]}: expected a SOAPFaultException:\n{run.describe()}"
        return run


@pytest.fixture(scope="module")
def java_build(tmp_path_factory) -> Path:
    missing = _missing_java_tools()
    if missing:
        reason = "Java JAX-WS tooling not installed: " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason + " (required when CI is set)", pytrace=False)
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("java-client")
    proc = subprocess.run(
        ["sh", str(BUILD_SCRIPT), str(out)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT,
    )
    assert proc.returncode == 0 and (out / "classes" / "Client.class").is_file(), (
        f"build.sh failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    return out


@pytest.fixture(scope="module")
def java_client(java_build) -> JavaClient:
    return JavaClient((java_build / "classpath").read_text(encoding="utf-8").strip())


# --------------------------------------------------------------------------
# Test data
# --------------------------------------------------------------------------


def interop_pdf(padding: int = 0) -> bytes:
    """The conftest's :func:`minimal_pdf`, as a PDF 1.4; ``padding`` bytes of comment in the page content."""
    return minimal_pdf("msign-soap Java interop", padding, version="1.4")


@pytest.mark.parametrize("padding", [0, 300_000])
def test_minimal_pdf_is_well_formed(padding):
    pdf = interop_pdf(padding)
    assert pdf.startswith(b"%PDF-1.4\n") and pdf.endswith(b"%%EOF\n")
    xref = int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert pdf[xref:].startswith(b"xref\n")
    for number, line in enumerate(pdf[xref:].split(b"\n")[3:8], start=1):
        assert pdf[int(line[:10]) :].startswith(b"%d 0 obj" % number)


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


def test_wsimport_generated_the_reference_contract(java_build):
    pkg = java_build / "src" / "https" / "msign_gov"
    sei = (pkg / "IMSign.java").read_text(encoding="utf-8")
    for op in ("PostSignRequest", "GetSignResponse", "VerifySignatures"):
        assert f'action = "https://msign.gov.md/IMSign/{op}"' in sei
    service = (pkg / "MSignService.java").read_text(encoding="utf-8")
    assert '@WebServiceClient(name = "MSignService", targetNamespace = "https://msign.gov.md"' in service
    assert '"BasicHttpBinding_IMSign"' in service
    # Nillable optional members are JAXBElements: the client can send absent or nil.
    assert "JAXBElement<ExpectedSigner> expectedSigner" in (pkg / "SignRequest.java").read_text(encoding="utf-8")


def post_hash(client: JavaClient, soap_url: str, command: str = "post") -> ClientRun:
    run = client.ok(command, soap_url)
    assert run["request_id"], run.describe()
    assert re.fullmatch(r"[0-9a-f]{32}", run["correlation_id"]), run.describe()
    assert len(base64.b64decode(run["content"])) == 20  # SHA-1
    return run


def assert_pending(run: ClientRun) -> None:
    assert run["status"] == "Pending", run.describe()
    # No results yet: Results nil (or an empty array).
    assert run.get("results") == "<null>" or run.get("results.count") == "0", run.describe()


def test_post_hash_and_pdf_requests_are_pending(java_client, live_server, tmp_path):
    url = live_server.soap_url
    hashed = post_hash(java_client, url)

    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(interop_pdf())
    pdf_run = java_client.ok("post-pdf", url, str(pdf))
    assert pdf_run["request_id"], pdf_run.describe()
    assert pdf_run["request_id"] != hashed["request_id"]

    for request_id in (hashed["request_id"], pdf_run["request_id"]):
        assert_pending(java_client.ok("get", url, request_id))
        assert_pending(java_client.ok("get", url, request_id, "en"))


def test_post_with_explicit_xsi_nil_optionals_is_accepted(java_client, live_server):
    # ContentDescription, SignatureReason, SignContent.Name and
    # ExpectedSigner.DelegatorID sent as <X xsi:nil="true"/>.
    posted = post_hash(java_client, live_server.soap_url, "post-nil")
    assert_pending(java_client.ok("get", live_server.soap_url, posted["request_id"]))


def test_chunked_request_body_is_accepted(java_client, live_server, tmp_path):
    # JAX-WS streams the body with Transfer-Encoding: chunked when an integrator
    # sets a chunk size (common for large PDFs); the server must de-chunk it.
    pdf = tmp_path / "big.pdf"
    pdf.write_bytes(interop_pdf(padding=300_000))
    posted = java_client.ok("post-pdf", live_server.soap_url, str(pdf), jvm_options=("-Dmsign.chunkSize=8192",))
    assert posted["request_id"], posted.describe()
    assert_pending(java_client.ok("get", live_server.soap_url, posted["request_id"]))


def test_completed_request_round_trips_every_field(java_client, live_server):
    url = live_server.soap_url
    posted = post_hash(java_client, url)
    request_id = posted["request_id"]
    correlation_id = posted["correlation_id"]

    # Every byte value, so any base64/encoding slip on either side shows up.
    signature = bytes(range(256)) + hashlib.sha256(request_id.encode()).digest()
    live_server.complete(request_id, [(correlation_id, CERTIFICATE_DER, signature)])

    for language in ((), ("en",)):
        run = java_client.ok("get", url, request_id, *language)
        assert run["status"] == "Success", run.describe()
        assert run["results.count"] == "1", run.describe()
        assert run["result.0.correlation_id"] == correlation_id, run.describe()
        assert base64.b64decode(run["result.0.certificate"]) == CERTIFICATE_DER, run.describe()
        assert base64.b64decode(run["result.0.signature"]) == signature, run.describe()


def test_unknown_request_id_faults_request_not_found(java_client, live_server):
    run = java_client.fault("get", live_server.soap_url, uuid.uuid4().hex)
    assert run["fault.code"] == "RequestNotFound", run.describe()
    assert run["fault.reason"], run.describe()


@pytest.mark.parametrize(
    "signer_id",
    [
        VALID_IDNP[:12] + str((int(VALID_IDNP[12]) + 1) % 10),  # wrong check digit
        "123",  # wrong length
        "20020012345X3",  # not digits
    ],
    ids=["check-digit", "length", "non-digit"],
)
def test_invalid_expected_signer_faults_invalid_parameter(java_client, live_server, signer_id):
    run = java_client.fault("post", live_server.soap_url, signer_id)
    assert run["fault.code"] == "InvalidParameter", run.describe()
    assert run["fault.reason"], run.describe()


def test_verify_signatures_answers_a_result_per_content(java_client, live_server):
    # The client posts a Hash content whose signature is four bytes of DER, no
    # XAdES: JAX-WS reads an invalid result with a message (Romanian, the
    # default), not a fault.
    run = java_client.ok("verify", live_server.soap_url)
    assert run["results.count"] == "1", run.describe()
    assert run["result.0.signatures_valid"] == "false", run.describe()
    assert run["result.0.correlation_id"] not in ("<absent>", "<null>"), run.describe()
    assert run["result.0.message"].startswith("Semnătura nu a putut fi citită"), run.describe()
