"""The demo PKI: certificate contents, generation and reuse, OCSP, CRLs, CA certificates."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import RevokedError
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy, RevocationCheckingRule

from msign_soap.app import create_app
from msign_soap.config import load_config
from msign_soap.core.identifiers import is_valid_idn
from msign_soap.errors import ConfigurationError
from msign_soap.pki import (
    CA_CERT_PATHS,
    CRL_PATHS,
    DEMO_PEOPLE,
    OCSP_PATH,
    DemoPki,
    Identity,
    OcspResponder,
    load_demo_pki,
)
from tests.pki_support import TEMPLATE_URL, LiveService, demo_pki_template, live_service, seed_demo_pki  # noqa: F401

ROOT = Path(__file__).parent.parent
ORGANIZATION_IDENTIFIER = x509.ObjectIdentifier("2.5.4.97")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """The service on loopback with a PKI generated for its own URL."""
    with live_service(tmp_path_factory.mktemp("live-pki") / "data") as live:
        yield live


@pytest.fixture(scope="module")
def pki(live: LiveService) -> DemoPki:
    assert live.service.pki is not None
    return live.service.pki


@pytest.fixture
def template_pki(demo_pki_template: Path) -> DemoPki:  # noqa: F811
    return load_demo_pki(demo_pki_template, TEMPLATE_URL)


def revoked_person(pki: DemoPki) -> Identity:
    (person,) = [p for p in pki.people.values() if p.revoked]
    return person


def revoked_sim(pki: DemoPki) -> Identity:
    (sim,) = [s for s in pki.sims.values() if s.revoked]
    return sim


def attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    assert len(values) <= 1
    return str(values[0].value) if values else None


def url_extensions(cert: x509.Certificate) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"crl": [], "ocsp": [], "ca_issuers": []}
    for ext in cert.extensions:
        if isinstance(ext.value, x509.CRLDistributionPoints):
            found["crl"] += [n.value for dp in ext.value for n in dp.full_name or ()]
        elif isinstance(ext.value, x509.AuthorityInformationAccess):
            for desc in ext.value:
                kind = "ocsp" if desc.access_method == x509.AuthorityInformationAccessOID.OCSP else "ca_issuers"
                found[kind].append(desc.access_location.value)
    return found


# -- certificate contents ---------------------------------------------------------------------------------------


def test_people_have_moldovan_subjects(template_pki: DemoPki) -> None:
    assert [p.idnp for p in DEMO_PEOPLE] == list(template_pki.people)
    for person in DEMO_PEOPLE:
        identity = template_pki.people[person.idnp]
        subject = identity.certificate.subject
        assert is_valid_idn(person.idnp)
        assert identity.name == person.name == attribute(subject, NameOID.COMMON_NAME)
        assert attribute(subject, NameOID.SERIAL_NUMBER) == person.idnp == identity.idnp
        assert attribute(subject, NameOID.COUNTRY_NAME) == "MD"
        assert attribute(subject, NameOID.GIVEN_NAME) == person.given_name
        assert attribute(subject, NameOID.SURNAME) == person.surname
        assert identity.revoked is person.revoked
        assert template_pki.by_name(person.name) is identity
    assert sum(p.revoked for p in template_pki.people.values()) == 1


def test_organization_signer_carries_idno_in_o_and_organization_identifier(template_pki: DemoPki) -> None:
    signers = [p for p in template_pki.people.values() if p.idno]
    assert len(signers) == 1
    (signer,) = signers
    assert signer.idno is not None and is_valid_idn(signer.idno)
    subject = signer.certificate.subject
    assert attribute(subject, NameOID.ORGANIZATION_NAME) == f"{signer.organization} {signer.idno}"
    assert attribute(subject, ORGANIZATION_IDENTIFIER) == f"NTRMD-{signer.idno}"
    for other in template_pki.people.values():
        if other is not signer:
            assert other.idno is None
            assert attribute(other.certificate.subject, NameOID.ORGANIZATION_NAME) is None


def test_key_usages(template_pki: DemoPki) -> None:
    def ext(cert: x509.Certificate, kind: type) -> x509.Extension:
        return cert.extensions.get_extension_for_class(kind)

    for person in template_pki.people.values():
        usage = ext(person.certificate, x509.KeyUsage)
        assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
        assert not usage.value.key_cert_sign
    tsa = ext(template_pki.tsa.certificate, x509.ExtendedKeyUsage)
    assert tsa.critical and list(tsa.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    ocsp_cert = template_pki.ocsp_responder.certificate
    assert list(ext(ocsp_cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    assert ext(ocsp_cert, x509.OCSPNoCheck)
    for ca in (template_pki.root, template_pki.issuing_ca):
        assert ext(ca.certificate, x509.BasicConstraints).value.ca
        assert ext(ca.certificate, x509.KeyUsage).value.key_cert_sign
    assert ext(template_pki.issuing_ca.certificate, x509.BasicConstraints).value.path_length == 0


def test_keys_match_and_chains_link(template_pki: DemoPki) -> None:
    identities = [template_pki.root, template_pki.issuing_ca, template_pki.tsa, template_pki.ocsp_responder]
    for identity in [*identities, *template_pki.people.values()]:
        assert identity.private_key.public_key() == identity.certificate.public_key()
        assert identity.certificate_der == identity.certificate.public_bytes(serialization.Encoding.DER)
        cert = identity.certificate
        for issuer in identity.chain:
            cert.verify_directly_issued_by(issuer)
            cert = issuer
        assert cert.subject == cert.issuer == template_pki.root.certificate.subject
    for person in template_pki.people.values():
        assert person.chain == (template_pki.issuing_ca.certificate, template_pki.root.certificate)
        assert person.chain_der == (template_pki.issuing_ca.certificate_der, template_pki.root.certificate_der)


def test_urls_point_under_the_public_base_url(pki: DemoPki, live: LiveService) -> None:
    assert pki.public_base_url == live.url
    for person in [*pki.people.values(), pki.tsa]:
        assert url_extensions(person.certificate) == {
            "crl": [live.url + CRL_PATHS["issuing"]],
            "ocsp": [live.url + OCSP_PATH],
            "ca_issuers": [live.url + CA_CERT_PATHS["issuing"]],
        }
    assert url_extensions(pki.issuing_ca.certificate) == {
        "crl": [live.url + CRL_PATHS["root"]],
        "ocsp": [],
        "ca_issuers": [live.url + CA_CERT_PATHS["root"]],
    }
    assert url_extensions(pki.root.certificate) == {"crl": [], "ocsp": [], "ca_issuers": []}


# -- generation and reuse ---------------------------------------------------------------------------------------


def test_second_load_reuses_the_same_pki(pki: DemoPki, live: LiveService) -> None:
    before = {p: p.stat().st_mtime_ns for p in pki.directory.rglob("*")}
    again = load_demo_pki(pki.directory, "http://elsewhere.example")
    assert again.public_base_url == live.url
    assert again.root.certificate_der == pki.root.certificate_der
    for idnp, person in pki.people.items():
        assert again.people[idnp].certificate_der == person.certificate_der
        assert again.people[idnp].private_key.private_numbers() == person.private_key.private_numbers()
    assert {p: p.stat().st_mtime_ns for p in pki.directory.rglob("*")} == before


def test_create_app_reuses_a_seeded_pki(tmp_path: Path, demo_pki_template: Path) -> None:  # noqa: F811
    seed_demo_pki(tmp_path / "data", demo_pki_template)
    service = create_app(load_config(environ={}, data_dir=tmp_path / "data"))
    try:
        assert service.pki is not None and service.timestamper is not None
        assert service.pki.root.certificate_der == (demo_pki_template / "certs" / "root.crt").read_bytes()
    finally:
        service.close()


def test_keys_are_private_files(template_pki: DemoPki) -> None:
    keys = list((template_pki.directory / "keys").glob("*.key.pem"))
    assert len(keys) == 4 + 2 * len(DEMO_PEOPLE)  # a person's key and their SIM card's
    assert {k.stat().st_mode & 0o777 for k in keys} == {0o600}


def test_concurrent_first_use_yields_one_pki(tmp_path: Path) -> None:
    directory = tmp_path / "data" / "pki"
    code = (
        "import hashlib, sys; from msign_soap.pki import load_demo_pki; "
        "p = load_demo_pki(sys.argv[1], 'http://127.0.0.1:8080'); "
        "print(hashlib.sha256(p.root.certificate_der + p.people['2004001234567'].certificate_der).hexdigest())"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(directory)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            env=env,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert len({out.strip() for out, _ in outputs}) == 1
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["pki"]  # no staging left over
    on_disk = hashlib.sha256(
        (directory / "certs" / "root.crt").read_bytes() + (directory / "certs" / "ion-popescu.crt").read_bytes()
    ).hexdigest()
    assert outputs[0][0].strip() == on_disk


def test_directory_with_other_content_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigurationError, match="not a demo PKI"):
        load_demo_pki(tmp_path / "pki", TEMPLATE_URL)


def test_damaged_pki_is_reported(tmp_path: Path, demo_pki_template: Path) -> None:  # noqa: F811
    directory = seed_demo_pki(tmp_path, demo_pki_template)
    (directory / "certs" / "tsa.crt").unlink()
    with pytest.raises(ConfigurationError, match="damaged"):
        load_demo_pki(directory, TEMPLATE_URL)


def test_demo_pki_can_be_switched_off(tmp_path: Path) -> None:
    service = create_app(load_config(environ={}, data_dir=tmp_path / "data", demo_pki=False))
    try:
        from werkzeug.test import Client

        assert service.pki is None and service.timestamper is None
        assert Client(service).get(CA_CERT_PATHS["root"]).status_code == 404
        assert not (tmp_path / "data" / "pki").exists()
    finally:
        service.close()


@pytest.mark.parametrize(
    ("settings", "base_url"),
    [
        pytest.param({}, "http://127.0.0.1:8080", id="default"),
        pytest.param({"host": "::1", "port": 9000}, "http://[::1]:9000", id="ipv6-host"),
        pytest.param({"public_url": "https://sign.example.md/msign/"}, "https://sign.example.md/msign", id="public"),
    ],
)
def test_public_base_url(settings: dict, base_url: str) -> None:
    assert load_config(environ={}, **settings).base_url == base_url


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("sign.example.md", id="relative"),
        pytest.param("ftp://sign.example.md", id="scheme"),
        pytest.param("https://sign.example.md/?a=1", id="query"),
        pytest.param("https://", id="no-host"),
        pytest.param("http://[::1", id="bad-ipv6"),
    ],
)
def test_bad_public_url_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError, match="public_url"):
        load_config(environ={}, public_url=url)


# -- revocation over HTTP ---------------------------------------------------------------------------------------


def validate(pki: DemoPki, person: Identity, ee_rule: RevocationCheckingRule) -> None:
    """Validate with pyhanko-certvalidator, fetching the issuing CA (AIA), CRLs and OCSP over HTTP."""
    policy = RevocationCheckingPolicy(
        ee_certificate_rule=ee_rule, intermediate_ca_cert_rule=RevocationCheckingRule.CRL_REQUIRED
    )
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(pki.root.certificate_der)],
        allow_fetching=True,
        revinfo_policy=CertRevTrustPolicy(policy),
        fetcher_backend=RequestsFetcherBackend(per_request_timeout=10),
    )
    validator = CertificateValidator(asn1_x509.Certificate.load(person.certificate_der), validation_context=context)
    asyncio.run(validator.async_validate_usage({"non_repudiation"}))


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(RevocationCheckingRule.CRL_REQUIRED, id="crl"),
        pytest.param(RevocationCheckingRule.OCSP_REQUIRED, id="ocsp"),
    ],
)
def test_chain_validates_and_revoked_signer_is_flagged(
    pki: DemoPki, live: LiveService, rule: RevocationCheckingRule
) -> None:
    live.seen.clear()
    validate(pki, pki.people[DEMO_PEOPLE[0].idnp], rule)
    with pytest.raises(RevokedError):
        validate(pki, revoked_person(pki), rule)
    assert f"GET {CA_CERT_PATHS['issuing']}" in live.seen
    assert f"GET {CRL_PATHS['root']}" in live.seen
    if rule is RevocationCheckingRule.OCSP_REQUIRED:
        assert f"POST {OCSP_PATH}" in live.seen
    else:
        assert f"GET {CRL_PATHS['issuing']}" in live.seen


def ocsp_request(pki: DemoPki, cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes | None = None) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    if nonce:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def check_ocsp_signature(pki: DemoPki, response: ocsp.OCSPResponse) -> None:
    (responder,) = response.certificates
    assert responder == pki.ocsp_responder.certificate
    responder.verify_directly_issued_by(pki.issuing_ca.certificate)
    public_key = responder.public_key()
    public_key.verify(  # type: ignore[union-attr,call-arg]
        response.signature, response.tbs_response_bytes, padding.PKCS1v15(), hashes.SHA256()
    )


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_ocsp_good_and_revoked(pki: DemoPki, live: LiveService, method: str) -> None:
    for person in pki.people.values():
        request = ocsp_request(pki, person.certificate, pki.issuing_ca.certificate, nonce=b"n" * 16)
        if method == "POST":
            reply = requests.post(
                live.url + OCSP_PATH,
                data=request,
                headers={"Content-Type": "application/ocsp-request"},
                timeout=30,
            )
        else:
            reply = requests.get(
                live.url + OCSP_PATH + "/" + quote(base64.b64encode(request).decode(), safe=""), timeout=30
            )
        assert reply.status_code == 200
        assert reply.headers["Content-Type"] == "application/ocsp-response"
        response = ocsp.load_der_ocsp_response(reply.content)
        assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
        check_ocsp_signature(pki, response)
        assert response.serial_number == person.serial_number
        assert response.next_update_utc is not None
        assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"n" * 16
        if person.revoked:
            assert response.certificate_status is ocsp.OCSPCertStatus.REVOKED
            assert response.revocation_reason is x509.ReasonFlags.key_compromise
        else:
            assert response.certificate_status is ocsp.OCSPCertStatus.GOOD


def test_ocsp_unknown_unauthorized_malformed(pki: DemoPki) -> None:
    responder = OcspResponder(pki.issuing_ca.certificate, pki.ocsp_responder, pki.issued_serials, pki.revocations)
    now = datetime.now(UTC)
    person = pki.people[DEMO_PEOPLE[0].idnp]
    stranger = x509.load_der_x509_certificate(person.certificate_der)
    known = ocsp.OCSPRequestBuilder().add_certificate(stranger, pki.issuing_ca.certificate, hashes.SHA256()).build()
    unknown = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        known.issuer_name_hash, known.issuer_key_hash, 12345, hashes.SHA256()
    )
    response = ocsp.load_der_ocsp_response(
        responder.respond(unknown.build().public_bytes(serialization.Encoding.DER), now)
    )
    assert response.certificate_status is ocsp.OCSPCertStatus.UNKNOWN
    check_ocsp_signature(pki, response)
    other_issuer = ocsp_request(pki, pki.issuing_ca.certificate, pki.root.certificate)
    response = ocsp.load_der_ocsp_response(responder.respond(other_issuer, now))
    assert response.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED
    response = ocsp.load_der_ocsp_response(responder.respond(b"\x30\x03garbage", now))
    assert response.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_openssl_ocsp_agrees(pki: DemoPki, live: LiveService, tmp_path: Path) -> None:
    write_pem(tmp_path / "root.pem", pki.root.certificate)
    write_pem(tmp_path / "issuing.pem", pki.issuing_ca.certificate)
    for person in pki.people.values():
        write_pem(tmp_path / "cert.pem", person.certificate)
        result = openssl(
            "ocsp", "-issuer", "issuing.pem", "-cert", "cert.pem", "-url", live.url + OCSP_PATH, "-CAfile", "root.pem",
            cwd=tmp_path,
        )  # fmt: skip
        assert "Response verify OK" in result.stderr + result.stdout
        assert f"cert.pem: {'revoked' if person.revoked else 'good'}" in result.stdout


def write_pem(path: Path, *certs: x509.Certificate) -> None:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs))


def openssl(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_crls(pki: DemoPki, live: LiveService) -> None:
    for name, issuer, revoked in [
        # the revoked person's certificate, and her SIM card's
        ("issuing", pki.issuing_ca, {revoked_person(pki).serial_number, revoked_sim(pki).serial_number}),
        ("root", pki.root, set()),
    ]:
        reply = requests.get(live.url + CRL_PATHS[name], timeout=30)
        assert reply.status_code == 200
        assert reply.headers["Content-Type"] == "application/pkix-crl"
        crl = x509.load_der_x509_crl(reply.content)
        assert crl.issuer == issuer.certificate.subject
        assert crl.is_signature_valid(issuer.certificate.public_key())  # type: ignore[arg-type]
        assert crl.next_update_utc is not None and crl.last_update_utc <= datetime.now(UTC) < crl.next_update_utc
        assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > 0
        assert {entry.serial_number for entry in crl} == revoked
        for entry in crl:
            reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
            assert reason is x509.ReasonFlags.key_compromise
        assert requests.get(live.url + CRL_PATHS[name], timeout=30).content == reply.content  # stable within the hour


def test_openssl_verify_with_fetched_crls(pki: DemoPki, live: LiveService, tmp_path: Path) -> None:
    for name in ("issuing", "root"):
        (tmp_path / f"{name}.crl").write_bytes(requests.get(live.url + CRL_PATHS[name], timeout=30).content)
        openssl("crl", "-inform", "DER", "-in", f"{name}.crl", "-out", f"{name}.crl.pem", cwd=tmp_path)
    write_pem(tmp_path / "root.pem", pki.root.certificate)
    write_pem(tmp_path / "issuing.pem", pki.issuing_ca.certificate)
    for person in pki.people.values():
        write_pem(tmp_path / "cert.pem", person.certificate)
        result = openssl(
            "verify", "-crl_check_all", "-CAfile", "root.pem", "-untrusted", "issuing.pem",
            "-CRLfile", "issuing.crl.pem", "-CRLfile", "root.crl.pem", "-purpose", "any", "cert.pem",
            cwd=tmp_path, check=False,
        )  # fmt: skip
        if person.revoked:
            assert result.returncode != 0 and "certificate revoked" in result.stdout + result.stderr
        else:
            assert result.returncode == 0, result.stdout + result.stderr


def test_ca_certificates(pki: DemoPki, live: LiveService) -> None:
    for name, identity in [("issuing", pki.issuing_ca), ("root", pki.root)]:
        reply = requests.get(live.url + CA_CERT_PATHS[name], timeout=30)
        assert reply.status_code == 200
        assert reply.headers["Content-Type"] == "application/pkix-cert"
        assert reply.content == identity.certificate_der


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        pytest.param("GET", "/pki/nothing", {}, b"", 404, id="unknown-path"),
        pytest.param("POST", CRL_PATHS["issuing"], {}, b"x", 405, id="crl-post"),
        pytest.param("GET", OCSP_PATH, {}, b"", 405, id="ocsp-get-without-request"),
        pytest.param("POST", OCSP_PATH, {"Content-Type": "text/plain"}, b"x", 400, id="ocsp-content-type"),
        pytest.param(
            "POST", OCSP_PATH, {"Content-Type": "application/ocsp-request"}, b"x" * 70000, 413, id="ocsp-too-large"
        ),
    ],
)
def test_endpoint_errors_are_short_text(
    live: LiveService, method: str, path: str, headers: dict, body: bytes, status: int
) -> None:
    reply = requests.request(method, live.url + path, headers=headers, data=body, timeout=30)
    assert reply.status_code == status
    assert reply.headers["Content-Type"].startswith("text/plain")
    assert len(reply.text) < 100 and "Traceback" not in reply.text


def test_ocsp_get_with_garbage_is_malformed(live: LiveService) -> None:
    reply = requests.get(live.url + OCSP_PATH + "/not-base64!", timeout=30)
    assert reply.status_code == 200
    assert ocsp.load_der_ocsp_response(reply.content).response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def test_manifest_lists_people_and_revocation(template_pki: DemoPki) -> None:
    manifest = json.loads((template_pki.directory / "demo-pki.json").read_text(encoding="utf-8"))
    assert [p["idnp"] for p in manifest["people"]] == [p.idnp for p in DEMO_PEOPLE]
    assert [r["label"] for r in manifest["revocations"]] == [p.label for p in DEMO_PEOPLE if p.revoked]
    assert (template_pki.directory / "certomancer.yml").is_file()
