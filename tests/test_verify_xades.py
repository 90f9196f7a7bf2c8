"""XAdES verification over a given hash: a valid twin, and the attacks derived from it.

Every attack item starts from a twin signed in this run by the project's
signer with the demo PKI, checks that the twin verifies VALID, then mutates
it (or the hash, or the trust) and asserts the verdict, the ETSI indication
and sub-indication, and what the detail names.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import functools
import hashlib
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lxml import etree

from msign_soap.app import demo_certificate_checker
from msign_soap.core import ChainChecker
from msign_soap.pki import DemoPki, Identity, build_crl
from msign_soap.pki.generate import NOT_BEFORE, REVOKED_SINCE
from msign_soap.signing import LocalTsa, sign_xades_with_key
from msign_soap.verification import DocumentReport, Indication, Verdict
from msign_soap.verification.names import display_name, display_subject
from msign_soap.verification.trust import Trust
from msign_soap.verification.xades import verify_xades
from msign_soap.verification.xmldsig import MAX_DOCUMENT_BYTES

from .test_xades import needs_xmlsec1, xmlsec1_verify

NS = {"ds": "http://www.w3.org/2000/09/xmldsig#", "xades": "http://uri.etsi.org/01903/v1.3.2#"}
SIGNED_PROPERTIES_TYPE = "http://uri.etsi.org/01903#SignedProperties"
SIGNING_TIME = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
TSA_TIME = SIGNING_TIME + timedelta(seconds=5)
URI = "urn:msign:content:3408cc344e474a529f3425176a75d08e"
DOCUMENT = "Contract de prestări servicii nr. 17 din 28.11.2026\n".encode()
OTHER_DOCUMENT = b"Contract de prestari servicii nr. 18\n"
METADATA_URL = "http://169.254.169.254/latest/meta-data/"
#: The short-lived certificate's last day, and a time-stamp inside it.
SHORT_LIVED_UNTIL = datetime(2026, 6, 30, tzinfo=UTC)
INSIDE_SHORT_LIFE = datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


# -- PKI pieces the demo PKI does not issue ----------------------------------------------


def issue(
    common_name: str,
    issuer: Identity | None,
    *,
    key: Any = None,
    not_before: datetime = NOT_BEFORE,
    not_after: datetime | None = None,
    ca: bool = False,
    tsa: bool = False,
    fetch_url: str | None = None,
) -> Identity:
    """A certificate from ``issuer`` (self-signed without one): a signer by
    default, a CA, or a TSA; ``fetch_url`` goes into its OCSP, CA-issuers and
    CRL distribution point URLs."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "MD"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, "2004001234567"),
        ]
    )
    usage = dict.fromkeys(
        ["key_encipherment", "data_encipherment", "key_agreement", "encipher_only", "decipher_only"], False
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after or datetime.now(UTC) + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca, content_commitment=not ca and not tsa, key_cert_sign=ca, crl_sign=ca, **usage
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.certificate.public_key())  # type: ignore[arg-type]
        builder = builder.add_extension(aki, critical=False)
    if tsa:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    if fetch_url:
        url = x509.UniformResourceIdentifier(fetch_url)
        access = [
            x509.AccessDescription(x509.AuthorityInformationAccessOID.OCSP, url),
            x509.AccessDescription(x509.AuthorityInformationAccessOID.CA_ISSUERS, url),
        ]
        builder = builder.add_extension(x509.AuthorityInformationAccess(access), critical=False)
        point = x509.DistributionPoint([url], None, None, None)
        builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
    signing_key = issuer.private_key if issuer else key
    chain = (issuer.certificate, *issuer.chain) if issuer else ()
    return Identity(common_name, builder.sign(signing_key, hashes.SHA256()), key, chain)


def pinned_tsa(identity: Identity, at: datetime) -> LocalTsa:
    return LocalTsa(identity.certificate, identity.private_key, identity.chain, clock=lambda: at)


def crls_without_revocations(pki: DemoPki) -> Callable[[], list[bytes]]:
    def crls() -> list[bytes]:
        now = datetime.now(UTC)
        return [build_crl(pki.issuing_ca, (), now), build_crl(pki.root, (), now)]

    return crls


# -- the corpus: twins and the attacks on them -------------------------------------------


@dataclass(frozen=True)
class Case:
    """What is verified: the XAdES document, the hash the e-service holds, the trust."""

    xml: bytes
    content: bytes
    trust: Trust
    now: datetime | None = None

    def verify(self) -> DocumentReport:
        return verify_xades(self.xml, self.content, self.trust, now=self.now)


class Corpus:
    """The twins, each signed once per module by the project's signer."""

    def __init__(self, demo: DemoPki, foreign_root: Identity) -> None:
        self.demo = demo
        self.foreign_root = foreign_root
        self.trust = demo_certificate_checker(demo)
        self.tsa = pinned_tsa(demo.tsa, TSA_TIME)
        self.ion = demo.by_name("Ion Popescu")
        self.maria = demo.by_name("Maria Rusu")

    def sign(self, who: Identity, tsa: LocalTsa | None = None, signing_time: datetime = SIGNING_TIME) -> bytes:
        digest = hashlib.sha1(DOCUMENT).digest()
        return sign_xades_with_key(
            digest, who.certificate_der, who.chain_der, who.private_key, tsa or self.tsa,
            signing_time=signing_time, reference_uri=URI, description="Contract nr. 17",
        )  # fmt: skip

    @functools.cached_property
    def valid(self) -> Case:
        """Ion Popescu (demo PKI, RSA), the demo TSA, the demo trust."""
        return Case(self.sign(self.ion), hashlib.sha1(DOCUMENT).digest(), self.trust)

    @functools.cached_property
    def foreign(self) -> Case:
        """A signer under a self-made CA, verified by a trust that adds that CA."""
        signer = issue("Ion Popescu", self.foreign_root)
        trust = ChainChecker(
            [self.demo.root.certificate, self.foreign_root.certificate],
            [self.demo.issuing_ca.certificate],
            crls=crls_without_revocations(self.demo),
        )
        return Case(self.sign(signer), hashlib.sha1(DOCUMENT).digest(), trust)

    @functools.cached_property
    def elena(self) -> Case:
        """Elena Ciobanu (revoked in the demo PKI), verified by a trust whose CRLs do not list her."""
        trust = ChainChecker(
            [self.demo.root.certificate], [self.demo.issuing_ca.certificate], crls=crls_without_revocations(self.demo)
        )
        return Case(self.sign(self.demo.by_name("Elena Ciobanu")), hashlib.sha1(DOCUMENT).digest(), trust)

    @functools.cached_property
    def short_lived_signer(self) -> Identity:
        return issue("Ion Popescu", self.demo.issuing_ca, not_after=SHORT_LIVED_UNTIL)

    @functools.cached_property
    def short_lived(self) -> Case:
        """A certificate valid until June 2026, time-stamped inside its life."""
        tsa = pinned_tsa(self.demo.tsa, INSIDE_SHORT_LIFE)
        xml = self.sign(self.short_lived_signer, tsa, INSIDE_SHORT_LIFE - timedelta(seconds=5))
        return Case(xml, hashlib.sha1(DOCUMENT).digest(), self.trust)

    @functools.cached_property
    def metadata(self) -> Case:
        """A demo-issued certificate whose OCSP, CA-issuers and CRL URLs name the
        cloud metadata address; the demo trust fetches nothing."""
        signer = issue("Ion Popescu", self.demo.issuing_ca, fetch_url=METADATA_URL)
        return Case(self.sign(signer), hashlib.sha1(DOCUMENT).digest(), self.trust)

    def fetching_trust(self, **kw: Any) -> ChainChecker:
        """The demo anchors, with revocation fetched over the network."""
        return ChainChecker([self.demo.root.certificate], [self.demo.issuing_ca.certificate], timeout=2, **kw)


@pytest.fixture(scope="module")
def corpus(demo_pki: DemoPki, foreign_root: Identity) -> Corpus:
    return Corpus(demo_pki, foreign_root)


# -- editing a signature ----------------------------------------------------------------------

Change = Callable[[etree._Element], "etree._Element | None"]


def _c14n(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def edit(case: Case, *changes: Change) -> Case:
    """``case`` with its document changed by each ``change(root)`` in turn
    (in place, or returning a new root)."""
    root = etree.fromstring(case.xml)
    for change in changes:
        new = change(root)
        if new is not None:
            root = new
    return dataclasses.replace(case, xml=etree.tostring(root, encoding="UTF-8"))


def find(root: etree._Element, path: str) -> etree._Element:
    element = root.find(path, NS)
    assert element is not None, path
    return element


def set_text(path: str, text: str) -> Change:
    def change(root: etree._Element) -> None:
        find(root, path).text = text

    return change


def resign(who: Identity, hash_algorithm: hashes.HashAlgorithm | None = None) -> Change:
    """Sign the (changed) SignedInfo again with ``who``'s RSA key."""

    def change(root: etree._Element) -> None:
        assert isinstance(who.private_key, rsa.RSAPrivateKey)
        data = _c14n(find(root, "ds:SignedInfo"))
        value = who.private_key.sign(data, padding.PKCS1v15(), hash_algorithm or hashes.SHA256())
        find(root, "ds:SignatureValue").text = _b64(value)

    return change


def redigest_properties(root: etree._Element) -> None:
    """Make the SignedProperties reference match the (changed) SignedProperties."""
    reference = find(root, f"ds:SignedInfo/ds:Reference[@Type='{SIGNED_PROPERTIES_TYPE}']")
    digest = hashlib.sha256(_c14n(find(root, ".//xades:SignedProperties"))).digest()
    find(reference, "ds:DigestValue").text = _b64(digest)


def restamp(tsa: LocalTsa, covered: Callable[[], bytes] | None = None) -> Change:
    """Replace the time-stamp token by one from ``tsa`` over ``covered()``
    (default: the canonical SignatureValue, as it should be)."""

    def change(root: etree._Element) -> None:
        data = _c14n(find(root, "ds:SignatureValue")) if covered is None else covered()
        find(root, ".//xades:EncapsulatedTimeStamp").text = _b64(tsa.timestamp(hashlib.sha256(data).digest()))

    return change


def swap_certificate(who: Identity) -> Change:
    return set_text("ds:KeyInfo/ds:X509Data/ds:X509Certificate", _b64(who.certificate_der))


def set_algorithm(path: str, algorithm: str) -> Change:
    def change(root: etree._Element) -> None:
        find(root, path).set("Algorithm", algorithm)

    return change


def add_base64_transform(root: etree._Element) -> None:
    transforms = etree.fromstring(
        f'<ds:Transforms xmlns:ds="{NS["ds"]}">'
        '<ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#base64"/></ds:Transforms>'
    )
    find(root, "ds:SignedInfo/ds:Reference").insert(0, transforms)


def strip_timestamp(root: etree._Element) -> None:
    unsigned = find(root, ".//xades:UnsignedProperties")
    unsigned.getparent().remove(unsigned)


def name_certificate(who: Identity) -> Change:
    return set_text(
        ".//xades:SigningCertificateV2/xades:Cert/xades:CertDigest/ds:DigestValue",
        _b64(hashlib.sha256(who.certificate_der).digest()),
    )


# wrapping


def _props(root: etree._Element) -> etree._Element:
    return find(root, "ds:Object/xades:QualifyingProperties/xades:SignedProperties")


def _fake_properties(original: etree._Element) -> etree._Element:
    """A copy of SignedProperties without its Id, claiming another signing time."""
    fake = copy.deepcopy(original)
    del fake.attrib["Id"]
    find(fake, ".//xades:SigningTime").text = "2026-01-01T00:00:00Z"
    return fake


def move_properties_within(root: etree._Element) -> None:
    """The signed SignedProperties moved to a new ds:Object; a fake in its place."""
    original = _props(root)
    original.addprevious(_fake_properties(original))
    etree.SubElement(root, f"{{{NS['ds']}}}Object").append(original)


def move_properties_outside(root: etree._Element) -> etree._Element:
    """The signed SignedProperties moved out of the signature into a wrapper; a fake in its place."""
    original = _props(root)
    original.addprevious(_fake_properties(original))
    wrapper = etree.Element("Envelope")
    wrapper.append(root)
    wrapper.append(original)
    return wrapper


def duplicate_properties(root: etree._Element) -> None:
    """A second, altered SignedProperties without Id in another ds:Object."""
    etree.SubElement(root, f"{{{NS['ds']}}}Object").append(_fake_properties(_props(root)))


def duplicate_id(root: etree._Element) -> None:
    """Another element of the signature carries SignedProperties' Id."""
    etree.SubElement(root, f"{{{NS['ds']}}}Object", Id=_props(root).get("Id"))


def extra_reference(root: etree._Element) -> None:
    extra = copy.deepcopy(find(root, "ds:SignedInfo/ds:Reference"))
    extra.set("URI", "urn:msign:content:other")
    del extra.attrib["Id"]
    find(root, "ds:SignedInfo").append(extra)


# the time-stamp


def tamper_token(root: etree._Element) -> None:
    element = find(root, ".//xades:EncapsulatedTimeStamp")
    token = bytearray(base64.b64decode(element.text or ""))
    token[-10] ^= 0xFF  # inside the TSA's signature value, the token's last field
    element.text = _b64(bytes(token))


# not a signature document


def raw(data: Callable[[bytes], bytes]) -> Callable[[Corpus, Case], Case]:
    return lambda corpus, case: dataclasses.replace(case, xml=data(case.xml))


def _body(xml: bytes) -> bytes:
    return xml.split(b"?>", 1)[1]


def with_doctype(xml: bytes) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE ds:Signature [<!ENTITY e "Contract">]>' + _body(xml)


def with_external_entity(xml: bytes) -> bytes:
    body = _body(xml).replace(b"Contract nr. 17", b"&xxe;")
    return b'<!DOCTYPE ds:Signature [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + body


def utf16_with_doctype(xml: bytes) -> bytes:
    text = with_doctype(xml).decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    return text.encode("utf-16")


def billion_laughs(xml: bytes) -> bytes:
    entities = '<!ENTITY l0 "lol">' + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    return f"<!DOCTYPE ds:Signature [{entities}]>".encode() + _body(xml).replace(b"Contract nr. 17", b"&l9;")


def two_signatures(xml: bytes) -> bytes:
    return b"<Signatures>" + _body(xml) * 2 + b"</Signatures>"


# -- what is expected --------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """A verdict, with the ETSI indication and sub-indication of the one
    signature (``None`` for input that is not a signature document at all,
    which gets no signature report), and a piece of the detail."""

    verdict: Verdict
    indication: Indication | None
    sub_indication: str | None
    detail: str

    def check(self, report: DocumentReport) -> None:
        assert report.verdict is self.verdict, report
        assert not report.valid
        if self.indication is None:
            assert report.signatures == ()
            assert self.detail in report.detail, report.detail
            return
        (signature,) = report.signatures
        got = (signature.verdict, signature.indication, signature.sub_indication)
        assert got == (self.verdict, self.indication, self.sub_indication), signature
        assert self.detail in signature.detail, signature.detail
        assert signature.certificate is not None and signature.subject


ALTERED, FAILED, UNSURE = Verdict.ALTERED, Indication.TOTAL_FAILED, Indication.INDETERMINATE
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
C14N_11 = "http://www.w3.org/2006/12/xml-c14n11"
DATA_REFERENCE = "ds:SignedInfo/ds:Reference"


def malformed(detail: str) -> Expect:
    return Expect(Verdict.MALFORMED, None, None, detail)


def _other_signature_value(corpus: Corpus) -> bytes:
    return _c14n(find(etree.fromstring(corpus.sign(corpus.ion)), "ds:SignatureValue"))


def _rogue_tsa(corpus: Corpus) -> LocalTsa:
    return pinned_tsa(issue("Rogue TSA", corpus.foreign_root, tsa=True), TSA_TIME)


def _claimed_after_expiry(corpus: Corpus, case: Case) -> Case:
    """Signed without a time-stamp, claiming a time after the certificate expired, checked on a day it was valid."""
    resigned = corpus.sign(corpus.short_lived_signer, signing_time=SIGNING_TIME)
    return edit(dataclasses.replace(case, xml=resigned, now=INSIDE_SHORT_LIFE), strip_timestamp)


OTHER_SHA1 = _b64(hashlib.sha1(OTHER_DOCUMENT).digest())
NOT_VERIFIED = "signature value does not verify"
NOT_NAMED = "not the signing certificate"
NOT_OVER = "not over this signature"
REFUSED = "DTDs and entity declarations"
UNREADABLE = "not well-formed XML"
HASH_MISMATCH = Verdict.HASH_MISMATCH
TS_INVALID = Verdict.TIMESTAMP_INVALID

#: (twin, attack(corpus, twin) -> case, expected); the twin is a Corpus property.
ATTACKS = [
    # the data object
    pytest.param(
        "valid", lambda c, t: edit(t, set_text(f"{DATA_REFERENCE}/ds:DigestValue", OTHER_SHA1)),
        Expect(ALTERED, FAILED, "SIG_CRYPTO_FAILURE", NOT_VERIFIED),
        id="altered-data-digest",
    ),
    pytest.param(
        "valid", lambda c, t: dataclasses.replace(t, content=hashlib.sha1(OTHER_DOCUMENT).digest()),
        Expect(HASH_MISMATCH, FAILED, "HASH_FAILURE", "not the given hash"),
        id="wrong-hash-in-content",
    ),
    pytest.param(
        "valid", lambda c, t: dataclasses.replace(t, content=hashlib.sha256(DOCUMENT).digest()),
        Expect(HASH_MISMATCH, FAILED, "HASH_FAILURE", "sha1 (20 bytes); Content is 32 bytes"),
        id="sha256-content-for-sha1-reference",
    ),
    pytest.param(
        "valid", lambda c, t: edit(t, set_algorithm(f"{DATA_REFERENCE}/ds:DigestMethod", SHA256), resign(c.ion)),
        Expect(HASH_MISMATCH, FAILED, "HASH_FAILURE", "20 bytes, not a sha256 digest"),
        id="sha1-value-as-sha256-resigned",
    ),
    pytest.param(
        "valid", lambda c, t: edit(t, add_base64_transform, resign(c.ion)),
        Expect(HASH_MISMATCH, FAILED, "HASH_FAILURE", "has transforms"),
        id="data-reference-with-transforms-resigned",
    ),
    # signature wrapping
    pytest.param(
        "valid", lambda c, t: edit(t, move_properties_within),
        Expect(ALTERED, FAILED, "FORMAT_FAILURE", "points at another element"),
        id="wrapping-signed-properties-moved",
    ),
    pytest.param(
        "valid", lambda c, t: edit(t, move_properties_outside),
        Expect(ALTERED, FAILED, "FORMAT_FAILURE", "outside this signature"),
        id="wrapping-id-outside-signature",
    ),
    pytest.param(
        "valid", lambda c, t: edit(t, duplicate_properties),
        Expect(ALTERED, FAILED, "FORMAT_FAILURE", "2 SignedProperties"),
        id="wrapping-signed-properties-duplicated",
    ),
    pytest.param(
        "valid", lambda c, t: edit(t, duplicate_id),
        Expect(ALTERED, FAILED, "FORMAT_FAILURE", "names 2 elements"),
        id="wrapping-id-duplicated",
    ),
    pytest.param(
        "valid", lambda c, t: edit(t, extra_reference),
        Expect(ALTERED, FAILED, "FORMAT_FAILURE", "3 references"),
        id="wrapping-extra-reference",
    ),
    pytest.param(
        "valid", lambda c, t: edit(t, extra_reference, resign(c.ion)),
        Expect(ALTERED, FAILED, "FORMAT_FAILURE", "3 references"),
        id="wrapping-extra-reference-resigned",
    ),
    # the signer's certificate
    pytest.param(
        "valid", lambda c, t: edit(t, swap_certificate(c.maria)),
        Expect(ALTERED, FAILED, "SIG_CRYPTO_FAILURE", NOT_VERIFIED),
        id="keyinfo-swapped",
    ),
    pytest.param(
        "valid", lambda c, t: edit(t, swap_certificate(c.maria), resign(c.maria), restamp(c.tsa)),
        Expect(ALTERED, UNSURE, "NO_SIGNING_CERTIFICATE_FOUND", NOT_NAMED),
        id="keyinfo-swapped-resigned",
    ),
    pytest.param(
        "valid",
        lambda c, t: edit(t, name_certificate(c.maria), redigest_properties, resign(c.ion), restamp(c.tsa)),
        Expect(ALTERED, UNSURE, "NO_SIGNING_CERTIFICATE_FOUND", NOT_NAMED),
        id="signing-certificate-names-another",
    ),
    # SignedProperties
    pytest.param(
        "valid", lambda c, t: edit(t, set_text(".//xades:SigningTime", "2026-11-27T12:00:00Z")),
        Expect(ALTERED, FAILED, "HASH_FAILURE", "SignedProperties changed"),
        id="signed-properties-signing-time",
    ),
    pytest.param(
        "valid", lambda c, t: edit(t, set_text(".//xades:Description", "Contract nr. 18")),
        Expect(ALTERED, FAILED, "HASH_FAILURE", "SignedProperties changed"),
        id="signed-properties-description",
    ),
    # the time-stamp
    pytest.param(
        "valid", lambda c, t: edit(t, restamp(c.tsa, covered=lambda: b"other data")),
        Expect(TS_INVALID, FAILED, "HASH_FAILURE", NOT_OVER),
        id="timestamp-over-other-data",
    ),
    pytest.param(
        "valid", lambda c, t: edit(t, restamp(c.tsa, covered=lambda: _other_signature_value(c))),
        Expect(TS_INVALID, FAILED, "HASH_FAILURE", NOT_OVER),
        id="timestamp-of-another-signature",
    ),
    pytest.param(
        "valid", lambda c, t: edit(t, restamp(_rogue_tsa(c))),
        Expect(TS_INVALID, UNSURE, "NO_CERTIFICATE_CHAIN_FOUND", "TSA certificate is not trusted"),
        id="timestamp-by-untrusted-tsa",
    ),
    pytest.param(
        "valid", lambda c, t: edit(t, tamper_token),
        Expect(TS_INVALID, FAILED, "SIG_CRYPTO_FAILURE", "does not verify"),
        id="timestamp-token-tampered",
    ),
    pytest.param(
        "valid", lambda c, t: edit(t, set_text(".//xades:EncapsulatedTimeStamp", _b64(b"garbage"))),
        Expect(TS_INVALID, FAILED, "FORMAT_FAILURE", "not an RFC 3161"),
        id="timestamp-garbage",
    ),
    # trust, revocation, validity
    pytest.param(
        "foreign", lambda c, t: dataclasses.replace(t, trust=c.trust),
        Expect(Verdict.NOT_TRUSTED, UNSURE, "NO_CERTIFICATE_CHAIN_FOUND", "validation path"),
        id="untrusted-chain",
    ),
    pytest.param(
        "elena", lambda c, t: dataclasses.replace(t, trust=c.trust),
        Expect(Verdict.REVOKED, FAILED, "REVOKED", "revoked at 00:00:00 on 2026-01-02"),
        id="revoked-signer",
    ),
    pytest.param(
        "short_lived", lambda c, t: dataclasses.replace(t, xml=c.sign(c.short_lived_signer)),
        Expect(Verdict.EXPIRED, FAILED, "EXPIRED", "expired 2026-06-30"),
        id="expired-at-timestamp-time",
    ),
    pytest.param(
        "short_lived", lambda c, t: edit(dataclasses.replace(t, now=SIGNING_TIME), strip_timestamp),
        Expect(Verdict.EXPIRED, UNSURE, "OUT_OF_BOUNDS_NO_POE", "expired 2026-06-30"),
        id="expired-now-without-timestamp",
    ),
    pytest.param(
        "short_lived", _claimed_after_expiry,
        Expect(Verdict.EXPIRED, FAILED, "EXPIRED", "claimed signing time"),
        id="claimed-time-after-expiry-without-timestamp",
    ),
    pytest.param(
        "metadata", lambda c, t: dataclasses.replace(t, trust=c.fetching_trust(revocation="hard")),
        Expect(Verdict.NOT_TRUSTED, UNSURE, "CERTIFICATE_CHAIN_GENERAL_FAILURE", "169.254.169.254"),
        id="metadata-address-hard",
    ),
    pytest.param(
        "metadata", lambda c, t: dataclasses.replace(t, trust=c.fetching_trust(revocation="soft")),
        Expect(Verdict.NOT_TRUSTED, UNSURE, "CERTIFICATE_CHAIN_GENERAL_FAILURE", "169.254.169.254"),
        id="metadata-address-soft",
    ),
    # a weak algorithm, signed by the signer's own key
    pytest.param(
        "valid",
        lambda c, t: edit(t, set_algorithm("ds:SignedInfo/ds:SignatureMethod", RSA_SHA1), resign(c.ion, hashes.SHA1())),
        Expect(Verdict.MALFORMED, FAILED, "CRYPTO_CONSTRAINTS_FAILURE", "too weak"),
        id="rsa-sha1-signature",
    ),
    # shapes this verifier does not read
    pytest.param(
        "valid", lambda c, t: edit(t, lambda r: find(r, "ds:KeyInfo").addnext(copy.deepcopy(find(r, "ds:KeyInfo")))),
        Expect(Verdict.MALFORMED, FAILED, "FORMAT_FAILURE", "is not SignedInfo, SignatureValue, KeyInfo"),
        id="keyinfo-twice",
    ),
    pytest.param(
        "valid",
        lambda c, t: edit(t, set_algorithm("ds:SignedInfo/ds:CanonicalizationMethod", C14N_11), resign(c.ion)),
        Expect(Verdict.MALFORMED, FAILED, "FORMAT_FAILURE", "unsupported canonicalization"),
        id="c14n-1.1-resigned",
    ),
    # not a signature document
    pytest.param("valid", raw(with_doctype), malformed(REFUSED), id="doctype"),
    pytest.param("valid", raw(with_external_entity), malformed(REFUSED), id="external-entity"),
    pytest.param("valid", raw(billion_laughs), malformed(REFUSED), id="billion-laughs"),
    pytest.param("valid", raw(utf16_with_doctype), malformed(REFUSED), id="doctype-utf16"),
    pytest.param("valid", raw(lambda x: b"%PDF-1.7\n" + x), malformed(UNREADABLE), id="not-xml"),
    pytest.param("valid", raw(lambda x: b""), malformed(UNREADABLE), id="empty"),
    pytest.param("valid", raw(lambda x: x[: len(x) // 2]), malformed(UNREADABLE), id="truncated"),
    pytest.param("valid", raw(lambda x: x + b" " * MAX_DOCUMENT_BYTES), malformed("more than"), id="too-large"),
    pytest.param("valid", raw(two_signatures), malformed("found 2"), id="two-signatures"),
    pytest.param("valid", raw(lambda x: b"<a/>"), malformed("found 0"), id="no-signature"),
]  # fmt: skip


@pytest.mark.parametrize(("twin", "attack", "expected"), ATTACKS)
def test_attack(
    corpus: Corpus, connects: list[Any], twin: str, attack: Callable[[Corpus, Case], Case], expected: Expect
) -> None:
    valid: Case = getattr(corpus, twin)
    assert valid.verify().valid, valid.verify()  # the twin, in this run
    expected.check(attack(corpus, valid).verify())
    assert connects == []  # nothing in the corpus makes the verifier connect anywhere


# -- the valid twins ------------------------------------------------------------------------------


TWINS = ["valid", "foreign", "elena", "short_lived", "metadata"]


@pytest.mark.parametrize("twin", TWINS)
def test_twin_is_valid(corpus: Corpus, twin: str) -> None:
    case: Case = getattr(corpus, twin)
    report = case.verify()
    assert report.verdict is Verdict.VALID and report.valid
    (signature,) = report.signatures
    assert (signature.indication, signature.sub_indication, signature.level) == (
        Indication.TOTAL_PASSED, None, "XAdES-BASELINE-T",
    )  # fmt: skip
    signer = x509.load_der_x509_certificate(signature.certificate or b"")
    assert signature.subject == display_subject(signer)
    assert signature.signed_at == (INSIDE_SHORT_LIFE if twin == "short_lived" else TSA_TIME)
    assert signature.claimed_signing_time == signature.signed_at - timedelta(seconds=5)


def test_report_of_the_demo_signer(corpus: Corpus) -> None:
    (signature,) = corpus.valid.verify().signatures
    assert signature.certificate == corpus.ion.certificate_der
    assert signature.subject == "G=Ion, SN=Popescu, CN=Ion Popescu, C=MD, SERIALNUMBER=2004001234567"


@needs_xmlsec1
@pytest.mark.parametrize(("twin", "root"), [("valid", "demo"), ("metadata", "demo"), ("foreign", "foreign")])
def test_xmlsec1_agrees_on_the_twins(corpus: Corpus, tmp_path: Path, twin: str, root: str) -> None:
    anchor = corpus.demo.root if root == "demo" else corpus.foreign_root
    (tmp_path / "root.pem").write_bytes(anchor.certificate.public_bytes(serialization.Encoding.PEM))
    case: Case = getattr(corpus, twin)
    result = xmlsec1_verify(case.xml, tmp_path, tmp_path / "root.pem", DOCUMENT, uris=(URI,))
    assert result.returncode == 0, result.stderr


@needs_xmlsec1
@pytest.mark.parametrize(
    "change",
    [
        pytest.param(set_text(f"{DATA_REFERENCE}/ds:DigestValue", _b64(b"\0" * 20)), id="altered-data-digest"),
        pytest.param(set_text(".//xades:SigningTime", "2026-11-27T12:00:00Z"), id="signed-properties-altered"),
    ],
)
def test_xmlsec1_agrees_on_altered(corpus: Corpus, tmp_path: Path, change: Change) -> None:
    (tmp_path / "root.pem").write_bytes(corpus.demo.root.certificate.public_bytes(serialization.Encoding.PEM))
    case = edit(corpus.valid, change)
    assert case.verify().verdict is Verdict.ALTERED
    assert xmlsec1_verify(case.xml, tmp_path, tmp_path / "root.pem", DOCUMENT, uris=(URI,)).returncode != 0


# -- more that verifies ------------------------------------------------------------------------------


def test_sha256_content(corpus: Corpus) -> None:
    xml = sign_xades_with_key(
        hashlib.sha256(DOCUMENT).digest(), corpus.ion.certificate_der, corpus.ion.chain_der, corpus.ion.private_key,
        corpus.tsa, signing_time=SIGNING_TIME, reference_uri=URI,
    )  # fmt: skip
    assert verify_xades(xml, hashlib.sha256(DOCUMENT).digest(), corpus.trust).valid
    assert verify_xades(xml, hashlib.sha1(DOCUMENT).digest(), corpus.trust).verdict is Verdict.HASH_MISMATCH


def test_ec_signer(corpus: Corpus, ec_signer: Identity) -> None:
    xml = corpus.sign(ec_signer)
    assert verify_xades(xml, hashlib.sha1(DOCUMENT).digest(), corpus.trust).valid


def test_revoked_after_the_timestamp_is_valid(corpus: Corpus) -> None:
    """Elena Ciobanu's certificate was revoked on 2026-01-02: a signature
    time-stamped the day before stays valid, one claimed then but time-stamped
    later does not."""
    elena = corpus.demo.by_name("Elena Ciobanu")
    before = REVOKED_SINCE - timedelta(hours=12)
    early = corpus.sign(elena, pinned_tsa(corpus.demo.tsa, before), signing_time=before)
    report = verify_xades(early, hashlib.sha1(DOCUMENT).digest(), corpus.trust)
    assert report.valid, report
    assert report.signatures[0].signed_at == before
    backdated = corpus.sign(elena, signing_time=before)  # time-stamped at TSA_TIME
    assert verify_xades(backdated, hashlib.sha1(DOCUMENT).digest(), corpus.trust).verdict is Verdict.REVOKED


def test_without_timestamp_revocation_is_judged_now(corpus: Corpus) -> None:
    """A claimed signing time before the revocation proves nothing."""
    backdated = corpus.sign(corpus.demo.by_name("Elena Ciobanu"), signing_time=REVOKED_SINCE - timedelta(hours=12))
    case = edit(Case(backdated, hashlib.sha1(DOCUMENT).digest(), corpus.trust), strip_timestamp)
    (signature,) = case.verify().signatures
    assert (signature.verdict, signature.indication, signature.sub_indication) == (
        Verdict.REVOKED, Indication.INDETERMINATE, "REVOKED_NO_POE",
    )  # fmt: skip


def test_baseline_b_is_valid_and_judged_now(corpus: Corpus) -> None:
    case = edit(corpus.valid, strip_timestamp)
    report = case.verify()
    assert report.valid
    (signature,) = report.signatures
    assert (signature.level, signature.signed_at, signature.claimed_signing_time) == (
        "XAdES-BASELINE-B", None, SIGNING_TIME,
    )  # fmt: skip


def test_short_lived_without_timestamp_inside_its_life(corpus: Corpus) -> None:
    """The pinned clock decides for a signature without a time-stamp."""
    case = edit(dataclasses.replace(corpus.short_lived, now=INSIDE_SHORT_LIFE + timedelta(days=1)), strip_timestamp)
    assert case.verify().valid, case.verify()


def test_naive_now_is_utc(corpus: Corpus) -> None:
    case = edit(corpus.short_lived, strip_timestamp)
    naive = (INSIDE_SHORT_LIFE + timedelta(days=1)).replace(tzinfo=None)
    assert verify_xades(case.xml, case.content, case.trust, now=naive).valid


def test_keyinfo_in_another_order(corpus: Corpus) -> None:
    """The signer's certificate need not come first in KeyInfo (other producers put the chain first)."""

    def reverse(root: etree._Element) -> None:
        data = find(root, "ds:KeyInfo/ds:X509Data")
        data[:] = list(reversed(data))

    report = edit(corpus.valid, reverse).verify()
    assert report.valid
    assert report.signatures[0].certificate == corpus.ion.certificate_der


def test_signing_certificate_v1(corpus: Corpus) -> None:
    """XAdES 1.3.2 ``SigningCertificate`` (SHA-1 digest, IssuerSerial), as older producers write it."""
    ion = corpus.ion.certificate

    def to_v1(root: etree._Element) -> None:
        v2 = find(root, ".//xades:SigningCertificateV2")
        v1 = etree.fromstring(
            f'<xades:SigningCertificate xmlns:xades="{NS["xades"]}" xmlns:ds="{NS["ds"]}"><xades:Cert>'
            '<xades:CertDigest><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/>'
            f"<ds:DigestValue>{_b64(hashlib.sha1(corpus.ion.certificate_der).digest())}</ds:DigestValue></xades:CertDigest>"
            f"<xades:IssuerSerial><ds:X509IssuerName>{ion.issuer.rfc4514_string()}</ds:X509IssuerName>"
            f"<ds:X509SerialNumber>{ion.serial_number}</ds:X509SerialNumber></xades:IssuerSerial>"
            "</xades:Cert></xades:SigningCertificate>"
        )
        v2.getparent().replace(v2, v1)

    report = edit(corpus.valid, to_v1, redigest_properties, resign(corpus.ion), restamp(corpus.tsa)).verify()
    assert report.valid, report

    def other_serial(root: etree._Element) -> None:
        find(root, ".//ds:X509SerialNumber").text = "1"

    wrong = edit(corpus.valid, to_v1, other_serial, redigest_properties, resign(corpus.ion), restamp(corpus.tsa))
    assert wrong.verify().signatures[0].sub_indication == "NO_SIGNING_CERTIFICATE_FOUND"


def test_wrapped_in_another_element(corpus: Corpus) -> None:
    """The one ds:Signature may sit inside a container (ASiC's XAdESSignatures)."""

    def wrap(root: etree._Element) -> etree._Element:
        container = etree.Element("{http://uri.etsi.org/02918/v1.2.1#}XAdESSignatures")
        container.append(root)
        return container

    report = edit(corpus.valid, wrap).verify()
    assert report.valid, report


# -- no fetch to the metadata address ---------------------------------------------------------------


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every outgoing connection attempt, refused (socket level)."""
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise OSError("outgoing connections are blocked in this test")

    def refuse_create(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        attempts.append(address)
        raise OSError("outgoing connections are blocked in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse_create)
    return attempts


@pytest.mark.parametrize("revocation", ["hard", "soft"])
def test_metadata_address_is_never_fetched(corpus: Corpus, connects: list[Any], revocation: str) -> None:
    valid = corpus.metadata
    assert valid.verify().valid  # the demo trust fetches nothing
    report = dataclasses.replace(valid, trust=corpus.fetching_trust(revocation=revocation)).verify()
    assert report.verdict is Verdict.NOT_TRUSTED
    assert "169.254.169.254" in report.signatures[0].detail
    assert connects == []


def test_the_guard_sees_fetches(corpus: Corpus, connects: list[Any]) -> None:
    """Not vacuous: with private addresses allowed, the same verification tries the metadata address."""
    trust = corpus.fetching_trust(revocation="soft", allow_private_addresses=True)
    dataclasses.replace(corpus.metadata, trust=trust).verify()  # soft: valid, the fetches having failed
    assert ("169.254.169.254", 80) in connects


# -- the subject's display form ---------------------------------------------------------------


def _name(*attributes: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])


def test_display_name_of_the_contract_sample() -> None:
    """The msign-contract.md §2.4 sample, its subject encoded CN first."""
    name = _name(
        (NameOID.COMMON_NAME, "Nume Prenume"),
        (NameOID.SERIAL_NUMBER, "IDNP"),
        (NameOID.LOCALITY_NAME, "Chișinău"),
        (NameOID.STATE_OR_PROVINCE_NAME, "Republica Moldova"),
        (x509.ObjectIdentifier("2.5.4.20"), "022250234"),
        (NameOID.STREET_ADDRESS, "Piața Marii Adunări Naționale 1"),
        (NameOID.TITLE, "Functia"),
        (NameOID.POSTAL_CODE, "MD-2033"),
        (NameOID.COUNTRY_NAME, "MD"),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, "IT"),
        (NameOID.ORGANIZATION_NAME, "Centrul de Guvernare Electronică (e-government) 1010600034203"),
    )
    assert display_name(name) == (
        "O=Centrul de Guvernare Electronică (e-government) 1010600034203, OU=IT, C=MD, PostalCode=MD-2033, "
        "T=Functia, STREET=Piața Marii Adunări Naționale 1, Phone=022250234, S=Republica Moldova, L=Chișinău, "
        "SERIALNUMBER=IDNP, CN=Nume Prenume"
    )


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        pytest.param(_name((NameOID.COMMON_NAME, "A, B")), 'CN="A, B"', id="comma-quoted"),
        pytest.param(_name((NameOID.COMMON_NAME, 'say "hi"')), 'CN="say ""hi"""', id="quotes-doubled"),
        pytest.param(_name((NameOID.COMMON_NAME, " padded")), 'CN=" padded"', id="leading-space-quoted"),
        pytest.param(_name((NameOID.COMMON_NAME, "a+b=c;d#<e>")), 'CN="a+b=c;d#<e>"', id="specials-quoted"),
        pytest.param(
            _name((NameOID.GIVEN_NAME, "Ion"), (NameOID.SURNAME, "Popescu"), (NameOID.EMAIL_ADDRESS, "i@p.md")),
            "E=i@p.md, SN=Popescu, G=Ion", id="given-surname-email",
        ),
        pytest.param(
            _name((NameOID.ORGANIZATION_IDENTIFIER, "NTRMD-1003600150048"), (NameOID.DOMAIN_COMPONENT, "md")),
            "DC=md, OID.2.5.4.97=NTRMD-1003600150048", id="unknown-oid-and-dc",
        ),
        pytest.param(
            x509.Name([x509.RelativeDistinguishedName([
                x509.NameAttribute(NameOID.COMMON_NAME, "A"), x509.NameAttribute(NameOID.SERIAL_NUMBER, "1"),
            ]), x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "MD")])]),
            "C=MD, CN=A + SERIALNUMBER=1", id="multi-valued-rdn",
        ),
    ],
)  # fmt: skip
def test_display_name(name: x509.Name, shown: str) -> None:
    assert display_name(name) == shown


def test_display_subject_of_a_demo_organization_signer(demo_pki: DemoPki) -> None:
    vasile = demo_pki.by_name("Vasile Ceban").certificate
    assert display_subject(vasile) == (
        "OID.2.5.4.97=NTRMD-1003600150048, G=Vasile, SN=Ceban, CN=Vasile Ceban, "
        "O=Întreprinderea Demonstrativă SRL 1003600150048, C=MD, SERIALNUMBER=2002003456787"
    )
