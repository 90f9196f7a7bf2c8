"""The ``msign-soap`` command as a user runs it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import requests

from .conftest import IDNP, sha1, soap_client

ROOT = Path(__file__).parent.parent


def test_serve_runs_the_embedded_default(tmp_path):
    data = tmp_path / "msign-data"
    process = subprocess.Popen(
        [sys.executable, "-m", "msign_soap.cli", "serve", "--port", "0", "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    try:
        lines = []
        for line in process.stdout:  # readiness: the server prints its WSDL URL once it listens
            lines.append(line)
            if line.startswith("WSDL:"):
                break
        match = re.search(r"WSDL: (http://127\.0\.0\.1:\d+/MSign\.svc)\?singleWsdl", "".join(lines))
        assert match, "".join(lines)
        client = soap_client(match.group(1))
        request_id = client.PostSignRequest(
            request={
                "ContentType": "Hash",
                "Contents": {"SignContent": [{"Content": sha1("x")}]},
                "ShortContentDescription": "Short",
                "ExpectedSigner": {"ID": IDNP},
            }
        )
        assert client.GetSignResponse(requestID=request_id).Status == "Pending"
        assert (data / "msign.sqlite3").is_file()
        # The demo PKI was generated for the port actually bound, and is served there.
        base = match.group(1).rsplit("/", 1)[0]
        from cryptography import x509

        issuing = x509.load_der_x509_certificate(requests.get(base + "/pki/certs/issuing/ca.crt", timeout=10).content)
        urls = [
            d.full_name[0].value for d in issuing.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        ]
        assert urls and all(url.startswith(base + "/pki/") for url in urls), urls
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def test_serve_refuses_a_bad_configuration(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "msign_soap.cli", "serve", "--port", "70000", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "port must be between 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_wsdl_command_prints_the_committed_contract():
    result = subprocess.run([sys.executable, "-m", "msign_soap.cli", "wsdl"], capture_output=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout == (ROOT / "wsdl" / "MSign.wsdl").read_bytes()


def test_demo_users_prints_the_people_and_pins_of_the_data_directory(tmp_path):
    import json

    from msign_soap.core import ExpectedSigner, SignStatus

    from .conftest import make_service
    from .pki_support import seed_demo_pki
    from .test_signing_flow import post, status

    seed_demo_pki(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-m", "msign_soap.cli", "demo-users", "--json", "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    people = {p["name"]: p for p in json.loads(result.stdout)}
    assert set(people) == {"Ion Popescu", "Maria Rusu", "Vasile Ceban", "Elena Ciobanu", "Andrei Munteanu"}
    assert people["Elena Ciobanu"]["revoked"] and not people["Ion Popescu"]["revoked"]
    assert people["Vasile Ceban"]["idno"] == "1003600150048"
    assert people["Ion Popescu"]["msisdn"] == "37360000001" and people["Ion Popescu"]["sim_pin"] == "1111"
    # the printed PINs open that person's keys in this data directory
    maria = people["Maria Rusu"]
    service = make_service(tmp_path)
    try:
        for provider, pin in maria["pins"].items():
            request_id = post(service, signer=ExpectedSigner(maria["idnp"]))
            service.instruments[provider].sign(request_id, maria["idnp"], pin)
            assert status(service, request_id).status == SignStatus.SUCCESS
    finally:
        service.close()


def test_verify_command(tmp_path):
    import hashlib
    import json

    from msign_soap.core import ExpectedSigner, SignContentInput

    from .conftest import make_service, minimal_pdf
    from .pki_support import seed_demo_pki
    from .test_signing_flow import ION, post, sign, status

    data = tmp_path / "data"
    seed_demo_pki(data)
    service = make_service(tmp_path)
    try:
        request_id = post(service, "Pdf", [SignContentInput(minimal_pdf("Act"))], signer=ExpectedSigner(ION))
        sign(service, request_id)
        pdf = status(service, request_id).results[0].signature
        request_id = post(service, contents=[SignContentInput(hashlib.sha1(b"doc").digest(), "c1")])
        sign(service, request_id)
        xades = status(service, request_id).results[0].signature
    finally:
        service.close()
    (tmp_path / "signed.pdf").write_bytes(pdf)
    (tmp_path / "altered.pdf").write_bytes(pdf.replace(b"(Act)", b"(Axt)"))
    (tmp_path / "signature.xml").write_bytes(xades)

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "msign_soap.cli", "verify", *args, "--data-dir", str(data)]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    valid = run(str(tmp_path / "signed.pdf"), "--lang", "en", "--json")
    assert valid.returncode == 0, valid.stderr
    report = json.loads(valid.stdout)
    assert (report["valid"], report["message"]) == (True, "The signature is valid")
    assert [s["subject"].endswith("SERIALNUMBER=" + ION) for s in report["signatures"]] == [True]

    altered = run(str(tmp_path / "altered.pdf"), "--lang", "en")
    assert altered.returncode == 1
    assert "altered" in altered.stdout

    assert run(str(tmp_path / "signature.xml"), "--hash", hashlib.sha1(b"doc").hexdigest()).returncode == 0
    wrong = run(str(tmp_path / "signature.xml"), "--hash", hashlib.sha1(b"other").hexdigest(), "--lang", "en")
    assert wrong.returncode == 1
    assert wrong.stdout.splitlines()[0].endswith(": The signature is not over the given hash")
    assert "HASH_FAILURE" in wrong.stdout

    empty_hash = run(str(tmp_path / "signature.xml"), "--hash", "")
    assert empty_hash.returncode == 2 and "Content is required" in empty_hash.stderr
    assert "Traceback" not in empty_hash.stderr

    no_hash = run(str(tmp_path / "signature.xml"))
    assert no_hash.returncode == 2 and "--hash" in no_hash.stderr and "Traceback" not in no_hash.stderr
