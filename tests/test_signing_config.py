"""Production signing settings: configured trust anchors, an HTTP TSA, revocation,
PAdES level and visible appearance; and the signing code's independence of the demo PKI."""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext

import msign_soap
from msign_soap.app import Service, create_app
from msign_soap.config import load_config
from msign_soap.core import ChainChecker, ExpectedSigner, SignContentInput, SignRequestInput, SignStatus
from msign_soap.errors import ConfigurationError, SignerRejected
from msign_soap.i18n import messages
from msign_soap.pki import Identity, load_demo_pki
from msign_soap.signing import HttpTimestamper

from .conftest import make_service, minimal_pdf
from .pki_support import TEMPLATE_URL, LiveService, live_service, shared_demo_pki_template

ION = "2004001234567"
DOCUMENT = b"Contract no. 17\n"
XADES = "{http://uri.etsi.org/01903/v1.3.2#}"
PACKAGE = Path(msign_soap.__file__).parent


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """A demo-PKI service on loopback: its TSA at ``/tsa``, and a PKI of its
    own whose OCSP and CRL URLs point at it."""
    with live_service(tmp_path_factory.mktemp("live")) as running:
        yield running


@pytest.fixture(scope="module")
def anchors(live: LiveService, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The live PKI's root and issuing CA, as PEM files in a directory."""
    directory = tmp_path_factory.mktemp("anchors")
    assert live.service.pki is not None
    for name, identity in (("root.pem", live.service.pki.root), ("issuing.crt", live.service.pki.issuing_ca)):
        (directory / name).write_bytes(identity.certificate.public_bytes(serialization.Encoding.PEM))
    return directory


def production(tmp_path: Path, live: LiveService, anchors: Path, checker: Any = None, **settings: Any) -> Service:
    """A service without the demo PKI, trusting ``anchors``, stamping at the live TSA."""
    settings = {"revocation": "off", **settings}
    config = load_config(
        environ={},
        data_dir=tmp_path / "prod",
        demo_pki=False,
        trust_anchors=anchors,
        tsa_url=f"{live.url}/tsa",
        tsa_timeout=5,
        **settings,
    )
    service = create_app(config, checker=checker)
    assert service.pki is None
    return service


def ion(live: LiveService) -> Identity:
    assert live.service.pki is not None
    return live.service.pki.people[ION]


def post(service: Service, content_type: str, content: bytes) -> str:
    signer = ExpectedSigner(ION) if content_type == "Hash" else None
    request = SignRequestInput(
        content_type, [SignContentInput(content, "c-1")], "Contract no. 17", expected_signer=signer
    )
    return service.requests.post(service.requests.demo_consumer(), request)


def sign(service: Service, who: Identity, content_type: str, content: bytes) -> str:
    request_id = post(service, content_type, content)
    assert service.signing is not None
    service.signing.sign_with_key(request_id, who.certificate_der, who.chain_der, who.private_key)
    return request_id


def signature(service: Service, request_id: str) -> bytes:
    response = service.requests.get(service.requests.demo_consumer(), request_id, "en")
    assert response.status is SignStatus.SUCCESS
    [result] = response.results
    return bytes(result.signature)


def pdf_status(pdf: bytes, live: LiveService, **context: Any) -> Any:
    assert live.service.pki is not None
    root = asn1_x509.Certificate.load(live.service.pki.root.certificate_der)
    [embedded] = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
    return validate_pdf_signature(embedded, ValidationContext(trust_roots=[root], allow_fetching=False, **context))


# -- end to end ----------------------------------------------------------------


def test_hash_signed_with_configured_anchors_and_http_tsa(tmp_path, live, anchors):
    service = production(tmp_path, live, anchors)
    assert isinstance(service.timestamper, HttpTimestamper)
    assert isinstance(service.signing.checker, ChainChecker)
    before = live.seen.count("POST /tsa")
    request_id = sign(service, ion(live), "Hash", hashlib.sha256(DOCUMENT).digest())
    xml = signature(service, request_id)
    assert live.seen.count("POST /tsa") == before + 1
    # the token is the live TSA's
    stamp = etree.fromstring(xml).find(f".//{XADES}SignatureTimeStamp/{XADES}EncapsulatedTimeStamp")
    token = cms.ContentInfo.load(base64.b64decode(stamp.text))
    certificates = [c.chosen.dump() for c in token["content"]["certificates"]]
    assert live.service.pki.tsa.certificate_der in certificates
    if shutil.which("xmlsec1"):
        (tmp_path / "root.pem").write_bytes(live.service.pki.root.certificate.public_bytes(serialization.Encoding.PEM))
        (tmp_path / "document.bin").write_bytes(DOCUMENT)  # the Hash content is its digest
        (tmp_path / "signature.xml").write_bytes(xml)
        command = [
            "xmlsec1", "--verify", "--trusted-pem", str(tmp_path / "root.pem"),
            "--url-map:urn:msign:content:c-1", str(tmp_path / "document.bin"),
            "--id-attr:Id", "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
            "--enabled-reference-uris", "same-doc,remote", str(tmp_path / "signature.xml"),
        ]  # fmt: skip
        verified = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert verified.returncode == 0, verified.stderr
    service.close()


def test_pdf_signed_b_t_invisible_by_default(tmp_path, live, anchors):
    service = production(tmp_path, live, anchors)
    pdf = signature(service, sign(service, ion(live), "Pdf", minimal_pdf("Contract")))
    status = pdf_status(pdf, live)
    assert status.bottom_line and status.timestamp_validity and status.timestamp_validity.trusted
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    assert "/DSS" not in reader.root
    [(_, _, field)] = fields.enumerate_sig_fields(reader)
    assert _rect_area(field.get_object()) == 0
    service.close()


def test_pdf_signed_b_lt_with_visible_appearance(tmp_path, live, anchors):
    service = production(tmp_path, live, anchors, pades_level="B-LT", signature_appearance=True)
    pdf = signature(service, sign(service, ion(live), "Pdf", minimal_pdf("Contract")))
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    dss = DocumentSecurityStore.read_dss(reader)
    subjects = {c.subject.native["common_name"] for c in dss.load_certs()}
    assert {"Ion Popescu", "MSign Demo Issuing CA", "MSign Demo TSA"} <= subjects
    [(_, _, field)] = fields.enumerate_sig_fields(reader)
    widget = field.get_object()
    assert _rect_area(widget) > 0 and "/AP" in widget
    assert pdf_status(pdf, live).bottom_line
    service.close()


def test_b_lt_with_hard_revocation_embeds_fetched_ocsp(tmp_path, live, anchors):
    """A checker allowed to reach loopback (the live PKI's own OCSP responder) puts
    what it fetched into the DSS, enough to validate with hard-fail and no network."""
    assert live.service.pki is not None
    pki = live.service.pki
    checker = ChainChecker(
        [pki.root.certificate], [pki.issuing_ca.certificate], revocation="hard", allow_private_addresses=True
    )
    service = production(tmp_path, live, anchors, checker=checker, pades_level="B-LT")
    pdf = signature(service, sign(service, ion(live), "Pdf", minimal_pdf("Contract")))
    assert any(path.startswith(("POST /pki/ocsp", "GET /pki/ocsp", "GET /pki/crls")) for path in live.seen)
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    dss = DocumentSecurityStore.read_dss(reader)
    assert dss.ocsps or dss.crls
    context = dss.as_validation_context(
        {"trust_roots": [asn1_x509.Certificate.load(pki.root.certificate_der)], "revocation_mode": "hard-fail"}
    )
    [embedded] = reader.embedded_signatures
    assert validate_pdf_signature(embedded, context).bottom_line
    service.close()


def _rect_area(widget: Any) -> float:
    x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
    return abs(x2 - x1) * abs(y2 - y1)


# -- refusals ------------------------------------------------------------------


def test_certificate_not_under_the_anchors_is_refused(tmp_path, live, anchors):
    service = production(tmp_path, live, anchors)
    foreign = load_demo_pki(shared_demo_pki_template(), TEMPLATE_URL).people[ION]
    request_id = post(service, "Hash", hashlib.sha256(DOCUMENT).digest())
    with pytest.raises(SignerRejected) as refused:
        service.signing.sign_with_key(request_id, foreign.certificate_der, foreign.chain_der, foreign.private_key)
    assert refused.value.message_id == messages.CERTIFICATE_UNTRUSTED
    response = service.requests.get(service.requests.demo_consumer(), request_id, "en")
    assert response.status is SignStatus.FAILURE
    assert "not issued by a trusted authority" in response.message  # "… not trusted"
    service.close()


def test_hard_revocation_refuses_fetching_from_loopback(tmp_path, live, anchors):
    """The live PKI's OCSP and CRL URLs are on 127.0.0.1: a production checker will not go there."""
    service = production(tmp_path, live, anchors, revocation="hard")
    with pytest.raises(SignerRejected) as refused:
        sign(service, ion(live), "Hash", hashlib.sha256(DOCUMENT).digest())
    assert refused.value.message_id == messages.CERTIFICATE_UNTRUSTED
    assert "non-public address (127.0.0.1)" in str(refused.value.detail)
    service.close()


# -- settings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        pytest.param({"tsa_url": "ftp://tsa.example/"}, "tsa_url", id="tsa-url-scheme"),
        pytest.param({"tsa_url": "tsa.example"}, "tsa_url", id="tsa-url-relative"),
        pytest.param({"tsa_url": "http://tsa.example:99999/"}, "tsa_url", id="tsa-url-port"),
        pytest.param({"tsa_timeout": 0}, "tsa_timeout", id="timeout-zero"),
        pytest.param({"tsa_timeout": "soon"}, "tsa_timeout", id="timeout-text"),
        pytest.param({"trust_anchors": "/nonexistent/anchors"}, "trust_anchors", id="anchors-missing"),
        pytest.param({"revocation": "maybe"}, "revocation", id="revocation-unknown"),
        pytest.param({"pades_level": "B-LTA"}, "pades_level", id="level-unknown"),
        pytest.param({"signature_appearance": "sometimes"}, "signature_appearance", id="appearance-not-bool"),
    ],
)
def test_invalid_settings_name_the_setting(tmp_path, settings, named):
    with pytest.raises(ConfigurationError, match=named):
        load_config(environ={}, data_dir=tmp_path, **settings)


def test_settings_from_the_environment(tmp_path):
    environ = {
        "MSIGN_TSA_URL": "https://tsa.example/rfc3161?x=1",
        "MSIGN_TSA_TIMEOUT": "2.5",
        "MSIGN_TRUST_ANCHORS": str(tmp_path),
        "MSIGN_REVOCATION": "soft",
        "MSIGN_PADES_LEVEL": "B-LT",
        "MSIGN_SIGNATURE_APPEARANCE": "yes",
    }
    config = load_config(environ=environ, data_dir=tmp_path)
    assert (config.tsa_url, config.tsa_timeout, config.trust_anchors) == (environ["MSIGN_TSA_URL"], 2.5, tmp_path)
    assert (config.revocation, config.pades_level, config.signature_appearance) == ("soft", "B-LT", True)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param({}, "no certificate", id="empty"),
        pytest.param(
            {"junk.pem": b"-----BEGIN CERTIFICATE-----\nbm9wZQ==\n-----END CERTIFICATE-----\n"}, "junk.pem", id="junk"
        ),
    ],
)
def test_unreadable_trust_anchors(tmp_path, files, message):
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    for name, data in files.items():
        (anchors / name).write_bytes(data)
    config = load_config(environ={}, data_dir=tmp_path / "data", demo_pki=False, trust_anchors=anchors)
    with pytest.raises(ConfigurationError, match=f"trust_anchors.*{message}"):
        create_app(config)


def test_production_without_tsa_is_not_available(tmp_path, anchors):
    """Anchors alone do not make signing available: a TSA must be named too."""
    service = create_app(load_config(environ={}, data_dir=tmp_path, demo_pki=False, trust_anchors=anchors))
    assert service.signing is not None and service.signing.timestamper is None
    service.close()


# -- independence of the demo PKI ----------------------------------------------

SIGNING_MODULES = sorted(
    ["msign_soap.core.signing", "msign_soap.core.trust"]
    + [f"msign_soap.signing.{p.stem}" for p in (PACKAGE / "signing").glob("*.py") if p.stem != "__init__"]
)


def test_signing_code_does_not_import_the_demo_pki():
    code = (
        "import sys\n"
        f"for name in {SIGNING_MODULES!r}:\n"
        "    __import__(name)\n"
        "leaked = sorted(m for m in sys.modules if m == 'msign_soap.pki' or m.startswith('msign_soap.pki.'))\n"
        "assert not leaked, leaked\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize(
    "path",
    [PACKAGE / "core" / "signing.py", PACKAGE / "core" / "trust.py", *sorted((PACKAGE / "signing").glob("*.py"))],
)
def test_no_import_of_the_pki_package_in_signing_code(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            assert "pki" not in module.split("."), f"{path.name}:{node.lineno} imports {module}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                assert not alias.name.startswith("msign_soap.pki"), f"{path.name}:{node.lineno}"


def test_b_lt_on_the_embedded_default_embeds_the_demo_crls(tmp_path):
    service = make_service(tmp_path, pades_level="B-LT")
    assert service.pki is not None
    ion_demo = service.pki.people[ION]
    pdf = signature(service, sign(service, ion_demo, "Pdf", minimal_pdf("Contract")))
    dss = DocumentSecurityStore.read_dss(PdfFileReader(io.BytesIO(pdf), strict=False))
    assert len(dss.crls) == 2
    service.close()
