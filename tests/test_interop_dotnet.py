"""Interop: a real .NET WCF client (Mono) generated from the reference WSDL.

``tests/interop/dotnet/build.sh`` runs Mono's ``svcutil`` on
``tests/data/MSign.reference.wsdl`` (the real service's ?singleWsdl) and
compiles the generated proxy together with ``Client.cs`` -- i.e. exactly what an
integrator's WCF application contains -- and these tests point that client at
the live msign-soap server (``live_server`` fixture from ``conftest.py``).

The client prints one ``key=value`` per line; see ``Client.cs`` for the escaping
(``\\N`` = null as WCF deserialized it, bytes in base64).

Needs ``mono``, ``mcs``, ``svcutil`` and Mono's System.ServiceModel (Debian:
``mono-devel libmono-system-servicemodel4.0a-cil``). Without them the tests
are skipped, unless ``CI`` is set, in which case they fail.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from .conftest import issue_certificate, minimal_pdf

pytestmark = pytest.mark.interop

HERE = Path(__file__).resolve().parent
DOTNET_DIR = HERE / "interop" / "dotnet"
BUILD_SCRIPT = DOTNET_DIR / "build.sh"

# Valid IDNP: 13 digits, check digit = sum(d[i] * (7, 3, 1)[i % 3]) % 10.
VALID_IDNP = "2002001234563"

NULL = "\\N"  # the client's marker for a null value

SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"

# Codes that only say "something went wrong": not an MSign contract code; acceptable
# only as a standard SOAP 1.1 code qualified with the envelope namespace (s:Server).
GENERIC_FAULT_CODES = {"", "Server", "Client", "Receiver", "Sender", "InternalError"}

CLIENT_TIMEOUT = 120  # seconds; generous for a cold Mono JIT on a loaded CI box


def idnp_check_digit(first12: str) -> int:
    return sum(int(d) * (7, 3, 1)[i % 3] for i, d in enumerate(first12)) % 10


def test_hard_coded_idnp_is_valid():
    assert f'ValidIdnp = "{VALID_IDNP}"' in (DOTNET_DIR / "Client.cs").read_text()
    assert len(VALID_IDNP) == 13 and VALID_IDNP.isdigit()
    assert idnp_check_digit(VALID_IDNP[:12]) == int(VALID_IDNP[12])


# --------------------------------------------------------------------------
# Building and running the client
# --------------------------------------------------------------------------


def _missing_mono_tools() -> list[str]:
    missing = [tool for tool in ("mono", "mcs", "svcutil") if shutil.which(tool) is None]
    mono = shutil.which("mono")
    if mono is not None:
        prefix = Path(os.path.realpath(mono)).parent.parent
        candidates = [
            prefix / "lib" / "mono" / "4.5" / "System.ServiceModel.dll",
            *map(
                Path,
                glob.glob(
                    str(prefix / "lib" / "mono" / "gac" / "System.ServiceModel" / "*" / "System.ServiceModel.dll")
                ),
            ),
        ]
        if not any(path.exists() for path in candidates):
            missing.append("System.ServiceModel.dll (libmono-system-servicemodel4.0a-cil)")
    return missing


@dataclass
class ClientRun:
    args: tuple
    returncode: int
    values: dict
    stdout: str
    stderr: str
    seconds: float

    def __getitem__(self, key):
        return self.values[key]

    def get(self, key, default=None):
        return self.values.get(key, default)

    def describe(self) -> str:
        return (
            f"mono MSignClient.exe {' '.join(self.args)}\n"
            f"exit={self.returncode} after {self.seconds:.1f}s\n"
            f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        )


def _unescape(value: str):
    if value == NULL:
        return None
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append({"n": "\n", "r": "\r", "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def parse_output(stdout: str) -> dict:
    values = {}
    for line in stdout.splitlines():
        if not line:
            continue
        key, sep, value = line.partition("=")
        assert sep, f"unexpected client output line: {line!r}"
        values[key] = _unescape(value)
    return values


class DotnetClient:
    def __init__(self, exe: Path):
        self.exe = exe
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        self.env = env

    def run(self, *args: str) -> ClientRun:
        started = time.monotonic()
        proc = subprocess.run(
            ["mono", str(self.exe), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=CLIENT_TIMEOUT,
        )
        run = ClientRun(args, proc.returncode, {}, proc.stdout, proc.stderr, time.monotonic() - started)
        run.values = parse_output(proc.stdout)
        return run

    def ok(self, *args: str) -> ClientRun:
        run = self.run(*args)
        assert run.returncode == 0, f"client {args[0]} failed:\n{run.describe()}"
        return run

    def fault(self, *args: str) -> ClientRun:
        run = self.run(*args)
        assert run.returncode == 3, f"client {args[0]}: expected a FaultException:\n{run.describe()}"
        return run


@pytest.fixture(scope="module")
def dotnet_client(tmp_path_factory) -> DotnetClient:
    missing = _missing_mono_tools()
    if missing:
        reason = "Mono/WCF tooling not installed: " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason + " (required when CI is set)", pytrace=False)
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("dotnet-client")
    proc = subprocess.run(
        ["sh", str(BUILD_SCRIPT), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    exe = out / "MSignClient.exe"
    assert proc.returncode == 0 and exe.is_file(), (
        f"build.sh failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    )
    return DotnetClient(exe)


# --------------------------------------------------------------------------
# Test data
# --------------------------------------------------------------------------


def self_signed_certificate_der() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return issue_certificate("Interop Test Signer", key, idnp=VALID_IDNP).certificate_der


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------


def post_hash(client: DotnetClient, soap_url: str) -> ClientRun:
    run = client.ok("post", soap_url)
    assert run["request_id"], run.describe()
    assert run["contents.count"] == "1"
    assert run["content.0.name"] is None  # sent as <Name i:nil="true"/>
    assert len(base64.b64decode(run["content.0.content"])) == 20  # SHA-1
    return run


def assert_pending(run: ClientRun) -> None:
    assert run["status"] == "Pending", run.describe()
    assert run["message"] is None, run.describe()
    assert run["results.count"] is None, run.describe()  # Results nil


def test_post_hash_request_is_pending(dotnet_client, live_server):
    posted = post_hash(dotnet_client, live_server.soap_url)
    assert_pending(dotnet_client.ok("get", live_server.soap_url, posted["request_id"]))


def test_post_pdf_request_is_pending(dotnet_client, live_server, tmp_path):
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(minimal_pdf("msign-soap interop", version="1.4"))
    posted = dotnet_client.ok("post-pdf", live_server.soap_url, str(pdf))
    assert posted["request_id"], posted.describe()
    assert posted["content.0.name"] == "doc.pdf"
    assert base64.b64decode(posted["content.0.content"]) == pdf.read_bytes()
    assert_pending(dotnet_client.ok("get", live_server.soap_url, posted["request_id"]))
    assert_pending(dotnet_client.ok("get", live_server.soap_url, posted["request_id"], "en"))


def test_completed_request_round_trips_every_field(dotnet_client, live_server):
    posted = post_hash(dotnet_client, live_server.soap_url)
    request_id = posted["request_id"]
    correlation_id = posted["content.0.correlation_id"]
    assert correlation_id and len(correlation_id) == 32

    certificate = self_signed_certificate_der()
    # Every byte value, so any base64/encoding slip on either side shows up.
    signature = bytes(range(256)) + hashlib.sha256(request_id.encode()).digest()
    live_server.complete(request_id, [(correlation_id, certificate, signature)])

    for language in ((), ("en",)):
        run = dotnet_client.ok("get", live_server.soap_url, request_id, *language)
        assert run["status"] == "Success", run.describe()
        assert run["results.count"] == "1", run.describe()
        assert run["result.0.correlation_id"] == correlation_id
        assert base64.b64decode(run["result.0.certificate"]) == certificate
        assert base64.b64decode(run["result.0.signature"]) == signature


def test_unknown_request_id_faults_request_not_found(dotnet_client, live_server):
    run = dotnet_client.fault("get", live_server.soap_url, uuid.uuid4().hex)
    assert run["fault.code"] == "RequestNotFound", run.describe()
    assert run["fault.reason"], run.describe()
    assert run["fault.type"] == "System.ServiceModel.FaultException"


@pytest.mark.parametrize(
    "signer_id",
    [
        VALID_IDNP[:12] + str((int(VALID_IDNP[12]) + 1) % 10),  # wrong check digit
        "123",  # wrong length
        "20020012345X3",  # not digits
    ],
)
def test_invalid_expected_signer_faults_invalid_parameter(dotnet_client, live_server, signer_id):
    run = dotnet_client.fault("post", live_server.soap_url, signer_id)
    assert run["fault.code"] == "InvalidParameter", run.describe()
    assert run["fault.reason"], run.describe()


def test_verify_signatures_answers_a_result_per_content(dotnet_client, live_server):
    """The client posts a Hash content with a signature that is no XAdES at all:
    WCF reads the contract's answer, an invalid result with a message (in
    Romanian, the default), not a fault."""
    run = dotnet_client.ok("verify", live_server.soap_url)
    assert run["results.count"] == "1", run.describe()
    assert run["result.0.signatures_valid"] == "false", run.describe()
    assert run["result.0.correlation_id"], run.describe()
    assert run["result.0.message"].startswith("Semnătura nu a putut fi citită"), run.describe()
