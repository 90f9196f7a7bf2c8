"""Certificates and keys as the service holds them (RFC 5280 X.509, PKCS #8).

Generic helpers that production uses too, independent of the demo PKI: an
:class:`Identity` (a certificate, its private key and its chain) and readers
for PEM or DER certificate and key files.

Left out: PKCS #12 files and hardware keys (PKCS #11 lives with the signing
instruments).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from ..errors import ConfigurationError
from ..signing.certificates import load_certificates

__all__ = ["Identity", "PrivateKey", "load_certificates", "load_private_key"]

#: The private key types the service signs with.
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey


@dataclass(frozen=True, eq=False)
class Identity:
    """A certificate with its private key and the chain above it.

    :param name: a display name (the subject's common name).
    :param certificate: the certificate.
    :param private_key: its private key.
    :param chain: the issuer certificates, nearest first, up to and including
        the root; empty for a root.
    :param idnp: the personal code (IDNP) of a person, if any.
    :param idno: the registration code (IDNO) of the organization the
        certificate's holder signs for, if any.
    :param organization: that organization's name, without the IDNO.
    :param revoked: whether the issuer has revoked the certificate.
    """

    name: str
    certificate: x509.Certificate
    private_key: PrivateKey
    chain: tuple[x509.Certificate, ...] = ()
    idnp: str | None = None
    idno: str | None = None
    organization: str | None = None
    revoked: bool = False

    @cached_property
    def certificate_der(self) -> bytes:
        """The certificate, DER-encoded."""
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @cached_property
    def chain_der(self) -> tuple[bytes, ...]:
        """The chain, DER-encoded, nearest issuer first."""
        return tuple(c.public_bytes(serialization.Encoding.DER) for c in self.chain)

    @property
    def serial_number(self) -> int:
        """The certificate's serial number."""
        return self.certificate.serial_number


def load_private_key(
    path: str | os.PathLike[str], password: bytes | None = None, *, trusted: bool = False
) -> PrivateKey:
    """Read a private key from a PEM or DER (PKCS #8 or traditional) file.

    :param path: the file.
    :param password: the password of an encrypted key.
    :param trusted: skip the RSA consistency check (about 30 ms a key) for a
        key this service generated itself.
    :raises ConfigurationError: when the file cannot be read, is not a key,
        or holds a key of a type the service cannot sign with.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigurationError(f"cannot read private key from {path}: {e.strerror}") from e
    load = serialization.load_pem_private_key if b"-----BEGIN" in data else serialization.load_der_private_key
    try:
        key = load(data, password, unsafe_skip_rsa_key_validation=trusted)
    except (ValueError, TypeError) as e:
        raise ConfigurationError(f"{path} holds no readable private key") from e
    if not isinstance(key, PrivateKey):
        raise ConfigurationError(f"{path}: unsupported key type {type(key).__name__}")
    return key
