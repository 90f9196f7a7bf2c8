"""The local signer's key: a certificate with its private key and chain, read
from a PKCS #12 file (RFC 7292) or taken from the demo PKI, and the
certificate model that ``GET /certificates`` shows of it (the MoldSign
desktop app's JSON, contract §3.3).

The key is unlocked once, when the daemon starts (the real app asks for the
token's PIN in a window of its own during each ``POST /sign/data``; a
command-line daemon has no such window).

Left out: PKCS #11 tokens (``--pkcs11-module``), more than one key per daemon.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from ..errors import ConfigurationError

__all__ = ["PROVIDER_PKCS12", "SignerKey", "load_pkcs12"]

#: ``providerId`` of a key read from a PKCS #12 file.
PROVIDER_PKCS12 = "PKCS12"
#: Largest PKCS #12 file read (a key with a long chain is a few KiB).
_MAX_PKCS12_BYTES = 1024 * 1024


@dataclass(frozen=True, eq=False)
class SignerKey:
    """A signing key held by the local signer.

    :ivar certificate: the signer's certificate.
    :ivar private_key: its private key (RSA or EC).
    :ivar chain: the issuer certificates, nearest first (may be empty).
    :ivar provider: ``providerId`` shown for it.
    """

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    chain: tuple[x509.Certificate, ...] = ()
    provider: str = PROVIDER_PKCS12

    @cached_property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @cached_property
    def chain_der(self) -> tuple[bytes, ...]:
        return tuple(c.public_bytes(serialization.Encoding.DER) for c in self.chain)

    @cached_property
    def certificate_id(self) -> str:
        """``certificateId``: the SHA-1 thumbprint of the certificate, in upper-case hex
        (how Windows certificate stores name certificates)."""
        return hashlib.sha1(self.certificate_der).hexdigest().upper()

    def model(self) -> dict[str, object]:
        """The certificate as ``GET /certificates`` lists it (``certificateModel`` entries)."""
        name = _common_name(self.certificate.subject)
        return {
            "certificateId": self.certificate_id,
            "label": name,
            "providerId": self.provider,
            "policy": _policies(self.certificate),
            "certificateName": name,
            "subjectDN": self.certificate.subject.rfc4514_string(),
            "issuerDN": self.certificate.issuer.rfc4514_string(),
            "authority": _common_name(self.certificate.issuer),
            # What the app's own checks said; the service checks everything again.
            "trusted": bool(self.chain),
            "verified": True,
            "privateKeyPresent": True,
            "certificateBase64": base64.b64encode(self.certificate_der).decode("ascii"),
        }

    def matches(self, model: object) -> bool:
        """Whether a ``certificate`` object of ``POST /sign/data`` names this key
        (by ``certificateId``, else by ``certificateBase64``)."""
        if not isinstance(model, dict):
            return False
        certificate_id = model.get("certificateId")
        if isinstance(certificate_id, str) and certificate_id:
            return certificate_id.upper() == self.certificate_id
        encoded = model.get("certificateBase64")
        return isinstance(encoded, str) and encoded == self.model()["certificateBase64"]


def load_pkcs12(path: str | Path, password: bytes | None) -> SignerKey:
    """Read the key, certificate and chain of a PKCS #12 file.

    :param password: the file's password (``None`` for none).
    :raises ConfigurationError: unreadable file, wrong password, no key or
        certificate, or a key that cannot sign (only RSA and EC can), or a
        certificate that is not the key's.
    """
    where = Path(path)
    try:
        with where.open("rb") as f:
            data = f.read(_MAX_PKCS12_BYTES + 1)
    except OSError as e:
        raise ConfigurationError(f"--p12: cannot read {where}: {e.strerror or e}") from e
    if len(data) > _MAX_PKCS12_BYTES:
        raise ConfigurationError(f"--p12: {where} is larger than {_MAX_PKCS12_BYTES} bytes")
    try:
        key, certificate, others = pkcs12.load_key_and_certificates(data, password)
    except (ValueError, TypeError) as e:
        raise ConfigurationError(f"--p12: {where} cannot be opened (wrong password, or not PKCS #12)") from e
    if key is None or certificate is None:
        raise ConfigurationError(f"--p12: {where} holds no private key with its certificate")
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigurationError(f"--p12: only RSA and EC keys can sign, not {type(key).__name__}")
    if key.public_key() != certificate.public_key():
        raise ConfigurationError(f"--p12: the certificate in {where} is not the private key's")
    return SignerKey(certificate, key, _order_chain(certificate, others))


def _order_chain(leaf: x509.Certificate, others: list[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    """The issuers of ``leaf`` among ``others``, nearest first (by name; a
    certificate that is no issuer on the way up is left out)."""
    chain: list[x509.Certificate] = []
    current = leaf
    remaining = list(others)
    while current.issuer != current.subject:
        issuer = next((c for c in remaining if c.subject == current.issuer), None)
        if issuer is None:
            break
        chain.append(issuer)
        remaining.remove(issuer)
        current = issuer
    return tuple(chain)


def _common_name(name: x509.Name) -> str:
    values = [a.value for a in name.get_attributes_for_oid(NameOID.COMMON_NAME) if isinstance(a.value, str)]
    return values[0] if values else name.rfc4514_string()


def _policies(certificate: x509.Certificate) -> str:
    try:
        policies = certificate.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except (x509.ExtensionNotFound, ValueError):
        return ""
    return ",".join(p.policy_identifier.dotted_string for p in policies)
