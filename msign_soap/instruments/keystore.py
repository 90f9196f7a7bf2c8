"""The software keystore of the cloud-key instruments: private keys held by
the service, each encrypted under its holder's PIN.

Encryption of one key (format ``v1``):

- the PIN (NFC, UTF-8) is stretched with **scrypt** (RFC 7914) and a random
  16-byte salt of its own into a 256-bit key; the parameters are stored with
  the key, so that they may be raised for new keys without touching old ones.
  Default :data:`DEFAULT_KDF`: ``n=2**15, r=8, p=1`` (32 MiB, some 50–100 ms
  per PIN check on one core);
- the PKCS #8 DER private key is sealed with **AES-256-GCM** under a random
  96-bit nonce, with the associated data binding it to its record
  (format, provider, IDNP, SHA-256 of the certificate): a blob copied onto
  another record does not open.

The GCM tag check *is* the PIN check: nothing else about the PIN is stored, a
wrong PIN and a damaged blob look the same, and the comparison is the
library's constant-time one. An unknown IDNP costs one derivation as well,
so that timing does not tell who holds a key. A copy of the database and the
configuration cannot sign without the PIN; it can, however, be used to guess
PINs offline at the KDF's cost, so a 4-digit PIN protects a stolen copy for
minutes, not years. Production keys belong in the PKCS #11 backend (an HSM
enforces the attempt counter itself) or need long PINs.

Wrong PINs are counted in the key's own row by
:class:`~msign_soap.instruments.pin_counter.PinCounter`, before the
derivation; ``max_attempts`` consecutive wrong ones lock the key for
``lockout``.

Demo keys (:func:`provision_demo_keys`) use :data:`DEMO_KDF`, a cheap setting:
their PINs are published and their keys lie unencrypted in the demo PKI's
directory anyway.

The keys live in the ``cloud_key`` table (schema version 4).
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..errors import ConfigurationError, WrongPin
from ..i18n import messages
from ..store import Store
from .pin_counter import PinCounter

__all__ = [
    "DEFAULT_KDF",
    "DEMO_KDF",
    "CloudKeyRecord",
    "KdfParams",
    "Keystore",
    "provision",
]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

FORMAT = "v1"
_SALT_BYTES = 16
_NONCE_BYTES = 12


@dataclass(frozen=True)
class KdfParams:
    """scrypt's cost: ``n`` (CPU/memory, a power of 2), ``r`` (block size), ``p`` (parallelism)."""

    n: int
    r: int = 8
    p: int = 1


#: Keys imported for real people: 32 MiB of memory per derivation.
DEFAULT_KDF = KdfParams(n=2**15)
#: Demo keys, whose PINs are public: about 1 ms.
DEMO_KDF = KdfParams(n=2**10)


@dataclass(frozen=True)
class CloudKeyRecord:
    """A key as the keystore holds it (the private key still sealed)."""

    provider: str
    idnp: str
    certificate_der: bytes
    chain_der: tuple[bytes, ...]
    failed_attempts: int
    locked_until: datetime | None


class Keystore:
    """The sealed keys of one store.

    :param clock: naive UTC now (the request service's clock).
    :param max_attempts: consecutive wrong PINs before a key locks.
    :param lockout: how long a locked key stays locked.
    :param kdf: the cost of keys added from now on.
    """

    def __init__(
        self,
        store: Store,
        clock: Any,
        *,
        max_attempts: int = 5,
        lockout: timedelta = timedelta(minutes=15),
        kdf: KdfParams = DEFAULT_KDF,
    ) -> None:
        self.store = store
        self.clock = clock
        self.kdf = kdf
        self.CloudKey = store.models.CloudKey
        self.counter = PinCounter(store, self.CloudKey, clock, max_attempts=max_attempts, lockout=lockout)

    # -- adding keys -----------------------------------------------------------

    def add(
        self,
        provider: str,
        idnp: str,
        certificate_der: bytes,
        chain_der: Sequence[bytes],
        private_key: PrivateKey,
        pin: str,
        *,
        kdf: KdfParams | None = None,
    ) -> bool:
        """Seal ``private_key`` under ``pin`` and store it; False (nothing
        changed) if ``provider`` already holds a key for ``idnp``.

        :raises ConfigurationError: an empty PIN, or a key that does not
            belong to the certificate.
        """
        if not pin:
            raise ConfigurationError("the PIN must not be empty")
        try:
            public_key = x509.load_der_x509_certificate(bytes(certificate_der)).public_key()
        except ValueError as e:
            raise ConfigurationError(f"unreadable certificate: {e}") from e
        if public_key != private_key.public_key():
            raise ConfigurationError("the private key does not belong to the certificate")
        kdf = kdf or self.kdf
        salt = os.urandom(_SALT_BYTES)
        nonce = os.urandom(_NONCE_BYTES)
        pkcs8 = private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        sealed = AESGCM(_derive(pin, salt, kdf)).encrypt(nonce, pkcs8, _aad(provider, idnp, certificate_der))
        row = {
            "provider": provider,
            "idnp": idnp,
            "certificate": bytes(certificate_der),
            "chain": _pack(chain_der),
            "encrypted_key": nonce + sealed,
            "salt": salt,
            "kdf": "scrypt",
            "kdf_n": kdf.n,
            "kdf_r": kdf.r,
            "kdf_p": kdf.p,
            "failed_attempts": 0,
            "locked_until": None,
            "created_at": self.clock(),
        }
        with self.store.db.connection_context(), self.store.write():
            return bool(self.CloudKey.insert(**row).on_conflict_ignore().execute())

    def held(self, provider: str) -> set[str]:
        """The IDNPs ``provider`` holds a key for."""
        model = self.CloudKey
        with self.store.db.connection_context():
            return {r.idnp for r in model.select(model.idnp).where(model.provider == provider)}

    def record(self, provider: str, idnp: str) -> CloudKeyRecord | None:
        """The record of ``idnp``'s key at ``provider``, if any."""
        with self.store.db.connection_context():
            row = self._row(provider, idnp)
        if row is None:
            return None
        return CloudKeyRecord(
            provider,
            idnp,
            bytes(row.certificate),
            _unpack(bytes(row.chain)),
            row.failed_attempts,
            row.locked_until,
        )

    # -- unlocking ---------------------------------------------------------------

    def unlock(self, provider: str, idnp: str, pin: str) -> tuple[bytes, tuple[bytes, ...], PrivateKey]:
        """The certificate, chain and private key of ``idnp`` at ``provider``, if ``pin`` opens it.

        :raises WrongPin: no such key, or a wrong PIN (counted).
        :raises KeyLocked: locked now, or by this wrong PIN.
        """
        row = self.counter.reserve(provider, idnp)
        if row is None:
            _derive(pin, os.urandom(_SALT_BYTES), self.kdf)  # as slow as a real check
            raise WrongPin(messages.WRONG_PIN, f"{provider} holds no key for {idnp}")
        certificate = bytes(row.certificate)
        sealed = bytes(row.encrypted_key)
        kdf = KdfParams(row.kdf_n, row.kdf_r, row.kdf_p)
        try:
            key = _derive(pin, bytes(row.salt), kdf)
            pkcs8 = AESGCM(key).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], _aad(provider, idnp, certificate))
        except (InvalidTag, ValueError):
            raise self.counter.wrong(row.id, provider, idnp) from None
        self.counter.forgive(row.id)
        try:
            # GCM authenticated the bytes we sealed: the RSA consistency check (~30 ms) adds nothing.
            private_key = serialization.load_der_private_key(pkcs8, password=None, unsafe_skip_rsa_key_validation=True)
        except (ValueError, UnsupportedAlgorithm) as e:
            raise ConfigurationError(f"the sealed key of {idnp} at {provider} is damaged") from e
        if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ConfigurationError(f"the sealed key of {idnp} at {provider} is of an unsupported type")
        return certificate, _unpack(bytes(row.chain)), private_key

    def _row(self, provider: str, idnp: str) -> Any:
        model = self.CloudKey
        return model.get_or_none((model.provider == provider) & (model.idnp == idnp))


def provision(
    keystore: Keystore,
    provider: str,
    people: Iterable[tuple[str, bytes, Sequence[bytes], PrivateKey]],
    pin: Any,
    kdf: KdfParams,
) -> int:
    """Add the keys of ``people`` (IDNP, certificate, chain, key) that
    ``provider`` does not hold yet, each under ``pin(idnp)``; the number added.

    Idempotent, and safe when several processes provision at once (the unique
    index keeps the first).
    """
    held = keystore.held(provider)
    added = 0
    for idnp, certificate, chain, key in people:
        if idnp not in held:
            added += keystore.add(provider, idnp, certificate, chain, key, pin(idnp), kdf=kdf)
    return added


def _derive(pin: str, salt: bytes, kdf: KdfParams) -> bytes:
    secret = unicodedata.normalize("NFC", pin).encode()
    try:
        return Scrypt(salt=salt, length=32, n=kdf.n, r=kdf.r, p=kdf.p).derive(secret)
    except (ValueError, MemoryError) as e:
        raise ConfigurationError(f"unusable scrypt parameters {kdf}") from e


def _aad(provider: str, idnp: str, certificate_der: bytes) -> bytes:
    digest = hashlib.sha256(bytes(certificate_der)).hexdigest()
    return f"msign-cloud-key {FORMAT}\0{provider}\0{idnp}\0{digest}".encode()


def _pack(chain: Sequence[bytes]) -> bytes:
    return b"".join(len(c).to_bytes(4, "big") + bytes(c) for c in chain)


def _unpack(packed: bytes) -> tuple[bytes, ...]:
    out = []
    while packed:
        size = int.from_bytes(packed[:4], "big")
        out.append(packed[4 : 4 + size])
        packed = packed[4 + size :]
    return tuple(out)
