"""The sandbox's fixed-outcome people: who they are, and their certificates
from the demo PKI's issuing CA.

:mod:`msign_soap.sandbox` drives requests to their outcomes and documents
them for integrators; this module holds their data, so that
:mod:`msign_soap.pki.sims` can give the bundled MSSP simulator their phones.

Their certificates are not part of the generated demo PKI (which stays as
it is, with its five demo people): they are issued on the fly by the demo
issuing CA, for an EC P-256 key derived from that CA's private key and the
person's label. The key, the serial number and the validity follow from the
PKI alone, and the CA signs with RSA PKCS #1 v1.5, which is deterministic:
every process computes byte for byte the same certificate, so that the
simulator's ``sims.json`` (compared by certificate) stays put when several
workers start. The subject is a demo person's (``GN``, ``SN``, ``CN``,
``C=MD``, ``SERIALNUMBER=<IDNP>``); key usage digitalSignature and
nonRepudiation; the CRL distribution point and CA issuer of the demo PKI.
Left out: an OCSP URL (the demo OCSP responder answers ``unknown`` for
certificates its manifest does not list; the CRL says they are not revoked).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from ..errors import ConfigurationError
from .certificates import Identity
from .demo import CA_CERT_PATHS, CRL_PATHS, DemoPki

__all__ = [
    "APPROVE",
    "AUTOPILOTS",
    "EXPIRE",
    "LOCK",
    "OUTCOMES",
    "REFUSE",
    "SANDBOX_PEOPLE",
    "TIME_OUT",
    "SandboxPerson",
    "sandbox_identity",
]

#: The outcomes a sandbox person stands for.
APPROVE = "approve"
REFUSE = "refuse"
TIME_OUT = "time-out"
EXPIRE = "expire"
LOCK = "lock"
OUTCOMES = (APPROVE, REFUSE, TIME_OUT, EXPIRE, LOCK)

#: How each autopilot phone of the simulator answers (``sims.json``'s ``auto``).
AUTOPILOTS = {APPROVE: "approve", REFUSE: "refuse", TIME_OUT: "silent"}

# The P-256 group order: a derived scalar must lie in [1, n - 1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@dataclass(frozen=True)
class SandboxPerson:
    """A fixed-outcome person of the sandbox.

    :ivar label: a short name, unique among them (it seeds the key).
    :ivar given_name: ``GN`` of the certificate.
    :ivar surname: ``SN`` of the certificate.
    :ivar idnp: a valid IDNP (check digit 7-3-1).
    :ivar outcome: one of :data:`OUTCOMES`.
    :ivar msisdn: the phone of a SIM card in the bundled simulator that
        answers by itself (:data:`AUTOPILOTS`), if any.
    """

    label: str
    given_name: str
    surname: str
    idnp: str
    outcome: str
    msisdn: str | None = None

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.surname}"

    @property
    def sim_pin(self) -> str | None:
        """The SIM's PIN, as the demo people's: the MSISDN's last digit, four times."""
        return self.msisdn[-1] * 4 if self.msisdn else None

    @property
    def autopilot(self) -> str | None:
        """How the phone answers by itself (``approve``, ``refuse``, ``silent``), if there is one."""
        return AUTOPILOTS.get(self.outcome) if self.msisdn else None


SANDBOX_PEOPLE: tuple[SandboxPerson, ...] = (
    SandboxPerson("sandbox-approve", "Sandbox", "Approve", "2009000000018", APPROVE, "37360000011"),
    SandboxPerson("sandbox-refuse", "Sandbox", "Refuse", "2009000000029", REFUSE, "37360000012"),
    SandboxPerson("sandbox-time-out", "Sandbox", "Time-Out", "2009000000030", TIME_OUT, "37360000013"),
    SandboxPerson("sandbox-expire", "Sandbox", "Expire", "2009000000041", EXPIRE),
    SandboxPerson("sandbox-lock", "Sandbox", "Lock", "2009000000052", LOCK),
)


def sandbox_identity(pki: DemoPki, person: SandboxPerson) -> Identity:
    """``person``'s key and certificate, issued by ``pki``'s issuing CA (the
    same every time for the same PKI; see the module docstring).

    :raises ConfigurationError: the issuing CA's key is not RSA (its
        signatures would differ from one process to the next).
    """
    issuer = pki.issuing_ca
    ca_key = issuer.private_key
    if not isinstance(ca_key, rsa.RSAPrivateKey):
        raise ConfigurationError("the sandbox needs a demo PKI whose issuing CA has an RSA key")
    secret = ca_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    seed = hashlib.sha512(b"msign-soap sandbox person v1\0" + person.label.encode() + b"\0" + secret).digest()
    key = ec.derive_private_key(int.from_bytes(seed[:48], "big") % (_P256_ORDER - 1) + 1, ec.SECP256R1())
    serial = int.from_bytes(seed[48:56], "big") >> 1 or 1  # positive, at most 63 bits, as the PKI's
    ca = issuer.certificate
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.GIVEN_NAME, person.given_name),
            x509.NameAttribute(NameOID.SURNAME, person.surname),
            x509.NameAttribute(NameOID.COMMON_NAME, person.name),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "MD"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, person.idnp),
        ]
    )
    crl = x509.DistributionPoint([x509.UniformResourceIdentifier(pki.url(CRL_PATHS["issuing"]))], None, None, None)
    ca_issuers = x509.AccessDescription(
        AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(pki.url(CA_CERT_PATHS["issuing"]))
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(ca.not_valid_before_utc)
        # a day short of the CA's end: never outlives its issuer
        .not_valid_after(ca.not_valid_after_utc - timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.CRLDistributionPoints([crl]), critical=False)
        .add_extension(x509.AuthorityInformationAccess([ca_issuers]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return Identity(person.name, certificate, key, (ca, *issuer.chain), idnp=person.idnp)
