"""XAdES-T over a precomputed digest: xmlsec1, signxml, the XSDs and openssl judge the output."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from lxml import etree

from msign_soap.errors import InvalidParameter, SigningError, TimestampError
from msign_soap.pki import DemoPki, Identity
from msign_soap.signing import LocalTsa, XadesDraft, finish_xades, prepare_xades, sign_xades_with_key
from msign_soap.signing.timestamp import Timestamper

from .conftest import IDNP, ForgedTsa, RecordingTsa, issue_certificate

REPO = Path(__file__).resolve().parent.parent
NS = {"ds": "http://www.w3.org/2000/09/xmldsig#", "xades": "http://uri.etsi.org/01903/v1.3.2#"}
SIGNED_PROPERTIES = "http://uri.etsi.org/01903/v1.3.2#:SignedProperties"
SIGNING_TIME = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
TSA_TIME = SIGNING_TIME + timedelta(seconds=5)
URI = "urn:msign:content:3408cc344e474a529f3425176a75d08e"
OTHER_URI = "urn:msign:content:1"
DOCUMENT = "Contract de prestări servicii nr. 17 din 28.11.2026\n".encode()
OTHER_DOCUMENT = b"Contract de prestari servicii nr. 18\n"
ZERO_SHA1 = base64.b64encode(b"\0" * 20).decode()

needs_xmlsec1 = pytest.mark.skipif(shutil.which("xmlsec1") is None, reason="xmlsec1 is not installed")
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


# -- the signers: the demo PKI, and what it does not issue ---------------------------


@dataclass(frozen=True)
class Pki:
    """The signers by label: ``rsa`` is the demo person Ion Popescu, ``ec`` his
    EC P-256 certificate, ``other_rsa`` (Maria Rusu) and ``other_ec`` hold keys
    that are not his, ``ed25519`` a key XAdES here cannot sign with; all chain
    to the demo root. ``files``: PEM files for the command-line verifiers."""

    demo: DemoPki
    rsa: Identity
    ec: Identity
    other_rsa: Identity
    other_ec: Identity
    ed25519: Identity
    files: dict[str, Path]


def _pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


@pytest.fixture(scope="module")
def pki(
    demo_pki: DemoPki, ec_signer: Identity, foreign_root: Identity, tmp_path_factory: pytest.TempPathFactory
) -> Pki:
    out = tmp_path_factory.mktemp("pki")
    files = {"root": out / "root.pem", "other_root": out / "other_root.pem", "tsa": out / "tsa.pem"}
    files["root"].write_bytes(_pem(demo_pki.root.certificate))
    files["other_root"].write_bytes(_pem(foreign_root.certificate))
    files["tsa"].write_bytes(_pem(demo_pki.tsa.certificate, demo_pki.issuing_ca.certificate))  # untrusted
    issuing = demo_pki.issuing_ca
    return Pki(
        demo=demo_pki,
        rsa=demo_pki.people[IDNP],
        ec=ec_signer,
        other_rsa=demo_pki.by_name("Maria Rusu"),
        other_ec=issue_certificate("Ion Popescu", ec.generate_private_key(ec.SECP256R1()), issuing, idnp=IDNP),
        ed25519=issue_certificate("Ion Popescu", ed25519.Ed25519PrivateKey.generate(), issuing, idnp=IDNP),
        files=files,
    )


@pytest.fixture()
def tsa(pki: Pki) -> RecordingTsa:
    """The demo TSA with its clock stopped at ``TSA_TIME``, noting what it time-stamps."""
    cert, key, chain = pki.demo.tsa.certificate, pki.demo.tsa.private_key, pki.demo.tsa.chain
    return RecordingTsa(LocalTsa(cert, key, chain, clock=lambda: TSA_TIME))


def sign(
    pki: Pki, tsa: Timestamper, signer: str = "rsa", document: bytes = DOCUMENT, algo: str = "sha1", **kw: Any
) -> bytes:
    who: Identity = getattr(pki, signer)
    kw = {"signing_time": SIGNING_TIME, "reference_uri": URI, "description": "Contract nr. 17", **kw}
    digest = hashlib.new(algo, document).digest()
    return sign_xades_with_key(digest, who.certificate_der, who.chain_der, who.private_key, tsa, **kw)


# -- external verifiers -------------------------------------------------------------


def xmlsec1_verify(
    xml: bytes, tmp_path: Path, trusted: Path, document: bytes = DOCUMENT, uris: Sequence[str] = (URI,)
) -> subprocess.CompletedProcess:
    """``xmlsec1 --verify`` with the data reference(s) mapped to the document on disk."""
    (tmp_path / "document.bin").write_bytes(document)
    (tmp_path / "signature.xml").write_bytes(xml)
    url_maps = [arg for uri in uris for arg in (f"--url-map:{uri}", str(tmp_path / "document.bin"))]
    command = [
        "xmlsec1", "--verify",
        "--trusted-pem", str(trusted),
        *url_maps,
        "--id-attr:Id", SIGNED_PROPERTIES,
        "--enabled-reference-uris", "same-doc,remote",
        str(tmp_path / "signature.xml"),
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def signxml_verify(xml: bytes, trusted: Path, document: bytes = DOCUMENT) -> None:
    """signxml's XAdES verifier, with SHA-1 allowed for the data reference only."""
    from signxml import DigestAlgorithm
    from signxml.xades import XAdESSignatureConfiguration, XAdESVerifier

    config = XAdESSignatureConfiguration(digest_algorithms=frozenset(DigestAlgorithm), expect_references=2)
    XAdESVerifier().verify(xml, ca_pem_file=str(trusted), expect_config=config, uri_resolver=lambda uri: document)


def xades_schema() -> etree.XMLSchema:
    """xmldsig-core + XAdES 1.3.2 + XAdES 1.4.1 (ETSI 2016 editions), as signxml ships them."""
    import signxml

    base = Path(signxml.__file__).parent
    imports = [
        ("http://www.w3.org/2000/09/xmldsig#", base / "schemas" / "xmldsig-core-schema.xsd"),
        ("http://uri.etsi.org/01903/v1.3.2#", base / "xades" / "schemas" / "XAdES01903v132-201601.xsd"),
        ("http://uri.etsi.org/01903/v1.4.1#", base / "xades" / "schemas" / "XAdES01903v141-201601.xsd"),
    ]
    body = "".join(f'<xsd:import namespace="{ns}" schemaLocation="{path.as_uri()}"/>' for ns, path in imports)
    wrapper = (
        f'<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:msign:test">{body}</xsd:schema>'
    )
    return etree.XMLSchema(etree.fromstring(wrapper.encode()))


def c14n_signature_value(xml: bytes) -> bytes:
    value = etree.fromstring(xml).find("ds:SignatureValue", NS)
    return etree.tostring(value, method="c14n", exclusive=True)


def token_of(xml: bytes) -> bytes:
    return base64.b64decode(etree.fromstring(xml).findtext(".//xades:EncapsulatedTimeStamp", namespaces=NS))


def edit(xml: bytes, path: str, change: Callable[[etree._Element], object]) -> bytes:
    root = etree.fromstring(xml)
    change(root.find(path, NS))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def set_text(text: str) -> Callable[[etree._Element], object]:
    return lambda element: setattr(element, "text", text)


# -- the signature verifies --------------------------------------------------------

SIGNERS = [
    pytest.param("rsa", "sha1", id="rsa-sha1"),
    pytest.param("rsa", "sha256", id="rsa-sha256"),
    pytest.param("ec", "sha1", id="ec-sha1"),
    pytest.param("ec", "sha256", id="ec-sha256"),
]


@needs_xmlsec1
@pytest.mark.parametrize(("signer", "algo"), SIGNERS)
def test_xmlsec1_accepts(pki: Pki, tsa: RecordingTsa, tmp_path: Path, signer: str, algo: str) -> None:
    result = xmlsec1_verify(sign(pki, tsa, signer, algo=algo), tmp_path, pki.files["root"])
    assert result.returncode == 0, result.stderr
    assert "SignedInfo References (ok/all): 2/2" in result.stderr


@pytest.mark.parametrize(("signer", "algo"), SIGNERS)
def test_signxml_accepts(pki: Pki, tsa: RecordingTsa, signer: str, algo: str) -> None:
    signxml_verify(sign(pki, tsa, signer, algo=algo), pki.files["root"])


DIGEST_MISMATCH = "data and digest do not match"
SIGNATURE_MISMATCH = "signature verification failed"
REJECTED = [
    pytest.param(lambda xml: xml, OTHER_DOCUMENT, "root", DIGEST_MISMATCH, id="other-document"),
    pytest.param(
        lambda xml: edit(xml, ".//xades:Description", set_text("Contract nr. 18")), DOCUMENT, "root",
        DIGEST_MISMATCH, id="tampered-description",
    ),
    pytest.param(
        lambda xml: edit(xml, ".//xades:SigningTime", set_text("2026-11-27T12:00:00Z")), DOCUMENT, "root",
        DIGEST_MISMATCH, id="tampered-signing-time",
    ),
    pytest.param(
        lambda xml: edit(xml, "ds:SignedInfo/ds:Reference/ds:DigestValue", set_text(ZERO_SHA1)),
        DOCUMENT, "root", DIGEST_MISMATCH, id="tampered-data-digest",
    ),
    pytest.param(
        lambda xml: edit(xml, "ds:SignedInfo/ds:Reference", lambda e: e.set("URI", OTHER_URI)),
        DOCUMENT, "root", SIGNATURE_MISMATCH, id="retargeted-reference",
    ),
    pytest.param(
        lambda xml: edit(xml, "ds:SignatureValue", set_text(ZERO_SHA1)),
        DOCUMENT, "root", SIGNATURE_MISMATCH, id="tampered-signature-value",
    ),
    pytest.param(lambda xml: xml, DOCUMENT, "other_root", "certificate verification failed", id="untrusted-root"),
]  # fmt: skip


@needs_xmlsec1
@pytest.mark.parametrize(("mutate", "document", "trusted", "error"), REJECTED)
def test_xmlsec1_rejects(
    pki: Pki, tsa: RecordingTsa, tmp_path: Path, mutate: Callable, document: bytes, trusted: str, error: str
) -> None:
    xml = mutate(sign(pki, tsa))
    result = xmlsec1_verify(xml, tmp_path, pki.files[trusted], document, uris=(URI, OTHER_URI))
    assert result.returncode != 0
    assert error in result.stderr


@needs_xmlsec1
def test_xmlsec1_rejects_a_digest_of_another_document(pki: Pki, tsa: RecordingTsa, tmp_path: Path) -> None:
    xml = sign(pki, tsa, document=OTHER_DOCUMENT)
    assert xmlsec1_verify(xml, tmp_path, pki.files["root"], OTHER_DOCUMENT).returncode == 0
    result = xmlsec1_verify(xml, tmp_path, pki.files["root"], DOCUMENT)
    assert result.returncode != 0
    assert "data and digest do not match" in result.stderr


# -- XML schema -----------------------------------------------------------------------


@pytest.mark.parametrize(("signer", "algo"), SIGNERS)
def test_schema_valid(pki: Pki, tsa: RecordingTsa, signer: str, algo: str) -> None:
    schema = xades_schema()
    assert schema.validate(etree.fromstring(sign(pki, tsa, signer, algo=algo))), schema.error_log


def _move_description_last(element: etree._Element) -> None:
    element.getparent().append(element)


@pytest.mark.parametrize(
    ("path", "change"),
    [
        pytest.param(".//xades:SigningTime", set_text("yesterday"), id="bad-signing-time"),
        pytest.param(".//xades:Description", _move_description_last, id="misordered-data-object-format"),
        pytest.param(".//xades:IssuerSerialV2", set_text("not base64!"), id="bad-issuer-serial"),
        pytest.param(".//xades:SignedProperties", lambda e: e.set("Id", "1-not-an-ncname"), id="bad-id"),
    ],
)
def test_schema_rejects(pki: Pki, tsa: RecordingTsa, path: str, change: Callable) -> None:
    """The schema check is not vacuous: the XAdES part is validated, not skipped as lax content."""
    assert not xades_schema().validate(etree.fromstring(edit(sign(pki, tsa), path, change)))


# -- the signature time-stamp -----------------------------------------------------


@needs_openssl
@pytest.mark.parametrize("signer", ["rsa", "ec"])
def test_timestamp_verifies_with_openssl(pki: Pki, tsa: RecordingTsa, tmp_path: Path, signer: str) -> None:
    xml = sign(pki, tsa, signer)
    imprint = hashlib.sha256(c14n_signature_value(xml)).digest()
    token = token_of(xml)
    tst_info = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hashed_message"].native == imprint
    assert tst_info["gen_time"].native == TSA_TIME
    assert tsa.imprints == [imprint]

    (tmp_path / "token.der").write_bytes(token)
    for digest, verdict in [(imprint, 0), (hashlib.sha256(DOCUMENT).digest(), 1)]:
        command = [
            "openssl", "ts", "-verify", "-token_in", "-in", str(tmp_path / "token.der"),
            "-digest", digest.hex(), "-CAfile", str(pki.files["root"]), "-untrusted", str(pki.files["tsa"]),
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == verdict, result.stderr
        assert ("Verification: OK" if verdict == 0 else "Verification: FAILED") in result.stdout


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda tsa, imprint: tsa.timestamp(hashlib.sha256(imprint).digest()), id="other-imprint"),
        pytest.param(lambda tsa, imprint: b"\x30\x03\x02\x01\x00", id="not-a-token"),
        pytest.param(lambda tsa, imprint: b"garbage", id="garbage"),
    ],
)
def test_finish_refuses_a_token_over_something_else(pki: Pki, tsa: RecordingTsa, token: Callable) -> None:
    with pytest.raises(TimestampError):
        sign(pki, ForgedTsa(lambda imprint: token(tsa, imprint)))


# -- two steps, two processes ------------------------------------------------------

PREPARE = """
import sys, datetime
from msign_soap.signing import prepare_xades
cert, digest, *chain = (open(p, "rb").read() for p in sys.argv[3:])
draft = prepare_xades(digest, cert, chain, signing_time=datetime.datetime.fromisoformat(sys.argv[1]),
                      reference_uri=sys.argv[2], description="Contract nr. 17")
sys.stdout.write(draft.to_json())
"""

FINISH = """
import sys
from msign_soap.pki import load_demo_pki
from msign_soap.signing import LocalTsa, XadesDraft, finish_xades
draft = XadesDraft.from_json(sys.stdin.read())
tsa = load_demo_pki(sys.argv[2], sys.argv[3]).tsa
sys.stdout.buffer.write(
    finish_xades(draft, open(sys.argv[1], "rb").read(), LocalTsa(tsa.certificate, tsa.private_key, tsa.chain))
)
"""


def _python(code: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", code, *args], input=stdin.encode(), capture_output=True, cwd=REPO, env=env, timeout=120
    )


@needs_xmlsec1
@pytest.mark.parametrize("signer", ["rsa", "ec"])
def test_prepare_and_finish_in_different_processes(pki: Pki, tmp_path: Path, signer: str) -> None:
    who: Identity = getattr(pki, signer)
    files = []
    for number, data in enumerate([who.certificate_der, hashlib.sha1(DOCUMENT).digest(), *who.chain_der]):
        files.append(tmp_path / f"input{number}")
        files[-1].write_bytes(data)
    prepared = _python(PREPARE, SIGNING_TIME.isoformat(), URI, *map(str, files))
    assert prepared.returncode == 0, prepared.stderr.decode()
    stored = prepared.stdout.decode()
    assert json.loads(stored)["signature_algorithm"].endswith("rsa-sha256" if signer == "rsa" else "ecdsa-sha256")

    # The signer (a phone, a card) sees only the data to be signed.
    signed_info = XadesDraft.from_json(stored).signed_info
    if signer == "rsa":
        value = who.private_key.sign(signed_info, padding.PKCS1v15(), hashes.SHA256())
    else:
        value = who.private_key.sign(signed_info, ec.ECDSA(hashes.SHA256()))
    (tmp_path / "value").write_bytes(value)

    # The demo TSA, read from the demo PKI's directory.
    demo = [str(pki.demo.directory), pki.demo.public_base_url]
    finished = _python(FINISH, str(tmp_path / "value"), *demo, stdin=stored)
    assert finished.returncode == 0, finished.stderr.decode()
    assert finished.stdout.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    result = xmlsec1_verify(finished.stdout, tmp_path, pki.files["root"])
    assert result.returncode == 0, result.stderr


def test_draft_json_round_trip(pki: Pki) -> None:
    draft = prepare_xades(
        hashlib.sha1(DOCUMENT).digest(), pki.rsa.certificate_der, signing_time=SIGNING_TIME, reference_uri=URI
    )
    assert XadesDraft.from_json(draft.to_json()) == draft
    assert draft.signed_info_digest == hashlib.sha256(draft.signed_info).digest()


def _tamper_json(key: str, value: Callable[[Any], Any]) -> Callable[[str], str]:
    def tamper(text: str) -> str:
        data = json.loads(text)
        data[key] = value(data[key])
        return json.dumps(data)

    return tamper


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda text: "{not json", id="not-json"),
        pytest.param(lambda text: "[]", id="not-an-object"),
        pytest.param(_tamper_json("format", lambda v: "msign-xades-draft/0"), id="other-format"),
        pytest.param(lambda text: json.dumps({"format": "msign-xades-draft/1"}), id="missing-fields"),
        pytest.param(_tamper_json("signed_info", lambda v: "!!!"), id="signed-info-not-base64"),
        pytest.param(_tamper_json("xml", lambda v: v.replace("2026-11-28T12", "2026-11-28T13")), id="xml-changed"),
        pytest.param(_tamper_json("xml", lambda v: v.replace("urn:msign", "urn:other")), id="signed-info-changed"),
        pytest.param(_tamper_json("xml", lambda v: v[:-20]), id="xml-truncated"),
        pytest.param(_tamper_json("xml", lambda v: '<!DOCTYPE x [<!ENTITY e "e">]>' + v), id="xml-with-dtd"),
        pytest.param(_tamper_json("certificate", lambda v: base64.b64encode(b"x").decode()), id="other-certificate"),
        pytest.param(_tamper_json("signature_algorithm", lambda v: v.replace("rsa", "ecdsa")), id="other-algorithm"),
    ],
)
def test_draft_json_refuses_damage(pki: Pki, tamper: Callable[[str], str]) -> None:
    draft = prepare_xades(
        hashlib.sha1(DOCUMENT).digest(), pki.rsa.certificate_der, signing_time=SIGNING_TIME, reference_uri=URI
    )
    with pytest.raises(SigningError):
        XadesDraft.from_json(tamper(draft.to_json()))


# -- the signature value -------------------------------------------------------------


def _prepare(pki: Pki, signer: str = "rsa", digest: bytes | None = None, **kw: Any) -> XadesDraft:
    kw = {"signing_time": SIGNING_TIME, "reference_uri": URI, **kw}
    digest = hashlib.sha1(DOCUMENT).digest() if digest is None else digest
    who: Identity = getattr(pki, signer)
    return prepare_xades(digest, who.certificate_der, who.chain_der, **kw)


def _rsa_value(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _raw_ecdsa(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


@pytest.mark.parametrize(
    ("signer", "value"),
    [
        pytest.param("rsa", lambda pki, d: _rsa_value(pki.other_rsa.private_key, d.signed_info), id="rsa-other-key"),
        pytest.param("rsa", lambda pki, d: _rsa_value(pki.rsa.private_key, d.signed_info + b" "), id="rsa-other-data"),
        pytest.param(
            "rsa",
            lambda pki, d: pki.rsa.private_key.sign(d.signed_info, padding.PKCS1v15(), hashes.SHA1()),
            id="rsa-sha1-value",
        ),
        pytest.param("rsa", lambda pki, d: b"", id="rsa-empty"),
        pytest.param(
            "ec",
            lambda pki, d: pki.other_ec.private_key.sign(d.signed_info, ec.ECDSA(hashes.SHA256())),
            id="ec-other-key",
        ),
        pytest.param("ec", lambda pki, d: _raw_ecdsa(pki.other_ec.private_key, d.signed_info), id="ec-other-key-raw"),
        pytest.param("ec", lambda pki, d: _rsa_value(pki.rsa.private_key, d.signed_info), id="ec-given-rsa-value"),
        pytest.param("ec", lambda pki, d: b"\0" * 64, id="ec-zeros"),
        pytest.param("ec", lambda pki, d: b"garbage", id="ec-garbage"),
    ],
)
def test_finish_refuses_a_wrong_value(pki: Pki, tsa: RecordingTsa, signer: str, value: Callable) -> None:
    draft = _prepare(pki, signer)
    with pytest.raises(SigningError, match="does not match the signer certificate"):
        finish_xades(draft, value(pki, draft), tsa)
    assert tsa.imprints == []  # nothing was time-stamped


@needs_xmlsec1
@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda key, data: key.sign(data, ec.ECDSA(hashes.SHA256())), id="der"),
        pytest.param(_raw_ecdsa, id="raw-r-s"),
    ],
)
def test_finish_takes_both_ecdsa_forms(pki: Pki, tsa: RecordingTsa, tmp_path: Path, form: Callable) -> None:
    draft = _prepare(pki, "ec")
    xml = finish_xades(draft, form(pki.ec.private_key, draft.signed_info), tsa)
    value = base64.b64decode(etree.fromstring(xml).findtext("ds:SignatureValue", namespaces=NS))
    assert len(value) == 64  # XMLDSig 1.1: r || s, 32 octets each on P-256
    assert xmlsec1_verify(xml, tmp_path, pki.files["root"]).returncode == 0


@pytest.mark.parametrize(
    ("signer", "key"),
    [
        pytest.param("rsa", "ec", id="ec-key-for-rsa-certificate"),
        pytest.param("ec", "rsa", id="rsa-key-for-ec-certificate"),
        pytest.param("rsa", "other_rsa", id="other-rsa-key"),
        pytest.param("ec", "other_ec", id="other-ec-key"),
    ],
)
def test_sign_with_key_refuses_a_foreign_key(pki: Pki, tsa: RecordingTsa, signer: str, key: str) -> None:
    draft_cert: Identity = getattr(pki, signer)
    with pytest.raises(SigningError):
        sign_xades_with_key(
            hashlib.sha1(DOCUMENT).digest(), draft_cert.certificate_der, [], getattr(pki, key).private_key, tsa,
            signing_time=SIGNING_TIME, reference_uri=URI,
        )  # fmt: skip


# -- inputs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("algo", "uri"),
    [
        pytest.param("sha1", "http://www.w3.org/2000/09/xmldsig#sha1", id="sha1-20-bytes"),
        pytest.param("sha256", "http://www.w3.org/2001/04/xmlenc#sha256", id="sha256-32-bytes"),
    ],
)
def test_digest_method_follows_the_digest_length(pki: Pki, algo: str, uri: str) -> None:
    digest = hashlib.new(algo, DOCUMENT).digest()
    root = etree.fromstring(_prepare(pki, digest=digest).xml)
    reference = root.find("ds:SignedInfo/ds:Reference", NS)
    assert reference.find("ds:DigestMethod", NS).get("Algorithm") == uri
    assert base64.b64decode(reference.findtext("ds:DigestValue", namespaces=NS)) == digest
    assert reference.find("ds:Transforms", NS) is None


@pytest.mark.parametrize("size", [0, 16, 19, 21, 28, 48, 64])
def test_other_digest_lengths_are_refused(pki: Pki, size: int) -> None:
    with pytest.raises(
        InvalidParameter, match=f"digest must be a 20-byte SHA-1 or 32-byte SHA-256 digest, not {size} bytes"
    ):
        _prepare(pki, digest=b"\x01" * size)


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        pytest.param({"reference_uri": ""}, "reference_uri", id="empty-uri"),
        pytest.param({"reference_uri": "#local"}, "reference_uri", id="same-document-uri"),
        pytest.param({"reference_uri": "urn:msign:a b"}, "reference_uri", id="uri-with-space"),
        pytest.param({"reference_uri": "urn:msign:\x01"}, "reference_uri", id="uri-with-control"),
        pytest.param({"description": "nul \x00 byte"}, "description", id="description-with-nul"),
        pytest.param({"mime_type": "text/plain\x07"}, "mime_type", id="mime-type-with-control"),
    ],
)
def test_prepare_refuses_bad_parameters(pki: Pki, kw: dict, field: str) -> None:
    with pytest.raises(InvalidParameter) as raised:
        _prepare(pki, **kw)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("certificate", "message"),
    [
        pytest.param(lambda pki: b"not a certificate", "not a DER-encoded X.509 certificate", id="garbage"),
        pytest.param(lambda pki: pki.rsa.certificate.public_bytes(serialization.Encoding.PEM), "not a DER", id="pem"),
        pytest.param(lambda pki: pki.ed25519.certificate_der, "only RSA and EC keys can sign", id="ed25519-key"),
    ],
)
def test_prepare_refuses_unusable_certificates(pki: Pki, certificate: Callable, message: str) -> None:
    with pytest.raises(SigningError, match=message):
        prepare_xades(hashlib.sha1(DOCUMENT).digest(), certificate(pki), signing_time=SIGNING_TIME, reference_uri=URI)


def test_prepare_refuses_a_bad_chain_certificate(pki: Pki) -> None:
    with pytest.raises(SigningError, match="chain certificate"):
        prepare_xades(b"\0" * 20, pki.rsa.certificate_der, [b"junk"], signing_time=SIGNING_TIME, reference_uri=URI)


# -- what the document says -------------------------------------------------------


def test_document_shape(pki: Pki, tsa: RecordingTsa) -> None:
    xml = sign(pki, tsa, "rsa", description="Contract nr. 17 — semnat")
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = etree.fromstring(xml)
    sig_id = root.get("Id")
    assert sig_id.startswith("xmldsig-")
    references = root.findall("ds:SignedInfo/ds:Reference", NS)
    assert [r.get("URI") for r in references] == [URI, f"#{sig_id}-signedprops"]
    assert references[1].get("Type") == "http://uri.etsi.org/01903#SignedProperties"
    assert root.find("ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm").endswith("#rsa-sha256")
    assert root.find("ds:SignedInfo/ds:CanonicalizationMethod", NS).get("Algorithm").endswith("xml-exc-c14n#")
    qualifying = root.find("ds:Object/xades:QualifyingProperties", NS)
    assert qualifying.get("Target") == f"#{sig_id}"
    assert qualifying.findtext(".//xades:SigningTime", namespaces=NS) == "2026-11-28T12:00:00Z"
    data_format = qualifying.find(".//xades:DataObjectFormat", NS)
    assert data_format.get("ObjectReference") == f"#{references[0].get('Id')}"
    assert data_format.findtext("xades:Description", namespaces=NS) == "Contract nr. 17 — semnat"
    assert data_format.findtext("xades:MimeType", namespaces=NS) == "application/octet-stream"
    certificates = [base64.b64decode(c.text) for c in root.iterfind("ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS)]
    assert certificates == [pki.rsa.certificate_der, *pki.rsa.chain_der]  # Ion Popescu, issuing CA, root

    cert_id = qualifying.find(".//xades:SigningCertificateV2/xades:Cert", NS)
    assert cert_id.find("xades:CertDigest/ds:DigestMethod", NS).get("Algorithm").endswith("#sha256")
    digest = base64.b64decode(cert_id.findtext("xades:CertDigest/ds:DigestValue", namespaces=NS))
    assert digest == hashlib.sha256(pki.rsa.certificate_der).digest()
    issuer_serial = tsp.IssuerSerial.load(base64.b64decode(cert_id.findtext("xades:IssuerSerialV2", namespaces=NS)))
    assert issuer_serial["serial_number"].native == pki.rsa.certificate.serial_number
    assert issuer_serial["issuer"][0].name == "directory_name"
    assert issuer_serial["issuer"][0].chosen.native == asn1_x509.Certificate.load(pki.rsa.certificate_der).issuer.native

    stamp = qualifying.find("xades:UnsignedProperties/xades:UnsignedSignatureProperties/xades:SignatureTimeStamp", NS)
    assert stamp.get("Id") == f"{sig_id}-ts"
    assert stamp.find("ds:CanonicalizationMethod", NS).get("Algorithm").endswith("xml-exc-c14n#")


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        pytest.param(
            {"description": None}, {"Description": None, "MimeType": "application/octet-stream"}, id="no-description"
        ),
        pytest.param({"mime_type": "application/pdf"}, {"MimeType": "application/pdf"}, id="mime-type"),
        pytest.param(
            {"signing_time": datetime(2026, 11, 28, 14, 0)}, {"SigningTime": "2026-11-28T14:00:00Z"}, id="naive-is-utc"
        ),
        pytest.param(
            {"signing_time": datetime(2026, 11, 28, 14, 0, 0, 999, tzinfo=UTC)},
            {"SigningTime": "2026-11-28T14:00:00Z"},
            id="microseconds-dropped",
        ),
        pytest.param(
            {"signing_time": datetime.fromisoformat("2026-11-28T16:00:00+02:00")},
            {"SigningTime": "2026-11-28T14:00:00Z"},
            id="chisinau-time-to-utc",
        ),
    ],
)
def test_signed_properties_follow_the_parameters(pki: Pki, kw: dict, expected: dict) -> None:
    root = etree.fromstring(_prepare(pki, **kw).xml)
    for name, text in expected.items():
        assert root.findtext(f".//xades:{name}", namespaces=NS) == text


def test_ids_are_unique_per_signature(pki: Pki) -> None:
    first, second = (etree.fromstring(_prepare(pki).xml) for _ in range(2))
    assert first.get("Id") != second.get("Id")
    assert not set(first.xpath("//@Id")) & set(second.xpath("//@Id"))


@pytest.mark.parametrize(
    ("signer", "method"),
    [
        pytest.param("rsa", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", id="rsa"),
        pytest.param("ec", "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256", id="ec"),
    ],
)
def test_signature_method_follows_the_key(pki: Pki, signer: str, method: str) -> None:
    draft = _prepare(pki, signer)
    assert draft.signature_algorithm == method
    assert f'<ds:SignatureMethod Algorithm="{method}">'.encode() in draft.signed_info


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"signed_info": b"<ds:SignedInfo/>"}, id="signed-info"),
        pytest.param({"certificate": b"other"}, id="certificate"),
        pytest.param({"xml": b"<ds:Signature xmlns:ds='http://www.w3.org/2000/09/xmldsig#'/>"}, id="xml"),
    ],
)
def test_finish_refuses_an_inconsistent_draft(pki: Pki, tsa: RecordingTsa, change: dict) -> None:
    draft = _prepare(pki)
    value = _rsa_value(pki.rsa.private_key, draft.signed_info)
    with pytest.raises(SigningError, match="draft is damaged"):
        finish_xades(dataclasses.replace(draft, **change), value, tsa)


@needs_xmlsec1
def test_finish_restores_leading_zeros_of_an_rsa_value(pki: Pki, tsa: RecordingTsa, tmp_path: Path) -> None:
    """Some tokens return the RSA value as a minimal integer; XMLDSig wants the modulus length."""
    for _ in range(5000):  # about 1 in 256 values starts with a zero octet
        draft = _prepare(pki)
        value = _rsa_value(pki.rsa.private_key, draft.signed_info)
        if value[0] == 0:
            break
    else:  # pragma: no cover
        pytest.fail("no RSA value with a leading zero octet")
    xml = finish_xades(draft, value.lstrip(b"\0"), tsa)
    assert base64.b64decode(etree.fromstring(xml).findtext("ds:SignatureValue", namespaces=NS)) == value
    assert xmlsec1_verify(xml, tmp_path, pki.files["root"]).returncode == 0


# -- texts that need escaping, and drafts laid out otherwise --------------------------------

ESCAPED = "& < > \" ' \t \r\n \r \u021b \U0001f58b \ue000id\ue001"


@pytest.mark.parametrize(
    "kw",
    [
        pytest.param({"description": ESCAPED}, id="description"),
        pytest.param({"mime_type": ESCAPED}, id="mime-type"),
        pytest.param({"reference_uri": "urn:x:&<>\"'\u021b\U0001f58b\ue000digest\ue001"}, id="reference-uri"),
        pytest.param({"description": ""}, id="empty-description"),
    ],
)
def test_prepare_escapes_what_xml_escapes(pki: Pki, tsa: RecordingTsa, kw: dict) -> None:
    """prepare_xades fills its texts into templates: lxml reads back the values and
    canonicalizes the document to the same data to be signed and signed properties."""
    draft = _prepare(pki, **{"description": "Contract nr. 17", **kw})
    assert XadesDraft.from_json(draft.to_json()) == draft  # lxml's c14n of SignedInfo and SignedProperties
    root = etree.fromstring(draft.xml)
    assert root.find("ds:SignedInfo/ds:Reference", NS).get("URI") == kw.get("reference_uri", URI)
    data_format = root.find(".//xades:DataObjectFormat", NS)
    assert (data_format.findtext("xades:Description", namespaces=NS) or "") == kw.get("description", "Contract nr. 17")
    assert data_format.findtext("xades:MimeType", namespaces=NS) == kw.get("mime_type", "application/octet-stream")
    xml = finish_xades(draft, _rsa_value(pki.rsa.private_key, draft.signed_info), tsa)
    signxml_verify(xml, pki.files["root"])


class SameTokens:
    """The same token for the same imprint, so that two documents can be compared."""

    def __init__(self, inner: Timestamper) -> None:
        self.inner, self.tokens = inner, {}

    def timestamp(self, message_imprint: bytes, hash_algorithm: str = "sha256") -> bytes:
        return self.tokens.setdefault(message_imprint, self.inner.timestamp(message_imprint, hash_algorithm))


@needs_xmlsec1
def test_finish_takes_a_draft_laid_out_otherwise(pki: Pki, tsa: RecordingTsa, tmp_path: Path) -> None:
    """A draft finish_xades cannot cut as prepare_xades writes them goes through lxml, to the same document."""
    draft = _prepare(pki, description="Contract nr. 17")
    other = draft.xml.replace(b'-sigvalue"/>', b'-sigvalue"></ds:SignatureValue>')
    assert other != draft.xml
    value, stamper = _rsa_value(pki.rsa.private_key, draft.signed_info), SameTokens(tsa)
    xml = finish_xades(dataclasses.replace(draft, xml=other), value, stamper)
    assert xml == finish_xades(draft, value, stamper)
    assert xmlsec1_verify(xml, tmp_path, pki.files["root"]).returncode == 0
