"""The PKCS #11 backend of the cloud-key instruments: each user's key lives in
a token of an HSM (SoftHSM2 in the tests), unlocked by the user's PIN.

Layout of the HSM, one token per user:

- token label ``<provider>-<IDNP>`` (``securesign-2004001234567``); the user's
  PIN is the token's user PIN;
- on the token, a private key (RSA, or EC on a named curve) and the user's
  X.509 certificate under the same ``CKA_ID``; other certificates on the
  token (no private key of that ID) are offered as the chain.

Wrong PINs are counted by the service too
(:class:`~msign_soap.instruments.pin_counter.PinCounter`, ``pin_attempts`` /
``pin_lockout``), before the token is opened: SoftHSM2 never locks a token,
and an HSM's own limit may be laxer than the service's. A token the HSM
locked itself (``CKR_PIN_LOCKED``) gives
:class:`~msign_soap.errors.KeyLocked` until its security officer unblocks it.
Attempts at an IDNP without a token are not counted (nothing to lock; the
user is told the same as for a wrong PIN).

One session, opened with the PIN, signs the whole batch: RSA with
``CKM_SHA256_RSA_PKCS`` over the data to be signed, EC with ``CKM_ECDSA``
over its SHA-256 (the HSM returns raw ``r || s``, which
:meth:`~msign_soap.core.SigningService.finish` accepts).

Needs python-pkcs11 (the ``pkcs11`` extra); nothing imports this module
unless ``pkcs11_module`` is configured.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

import pkcs11
from cryptography.hazmat.primitives.asymmetric import rsa
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11

from ..core import SigningService
from ..core.signing import ECDSA_SHA256, RSA_SHA256, ToBeSigned
from ..core.trust import load_certificate
from ..errors import ConfigurationError, KeyLocked, SignerRejected, SigningError, WrongPin
from ..i18n import messages
from .api import CloudKeyInstrument
from .pin_counter import PinCounter

__all__ = ["Pkcs11CloudKey", "load_module", "token_label"]

log = logging.getLogger(__name__)

#: :attr:`KeyLocked.locked_until` of a token the HSM locked: until its officer unblocks it.
LOCKED_BY_HSM = datetime.max


def token_label(provider: str, idnp: str) -> str:
    """The label of the token holding ``idnp``'s key at ``provider``."""
    return f"{provider}-{idnp}"


def load_module(path: str | os.PathLike[str]) -> Any:
    """Load (once per process) and initialize the PKCS #11 module at ``path``.

    :raises ConfigurationError: the module cannot be loaded.
    """
    try:
        return pkcs11.lib(os.fspath(path))
    except (RuntimeError, OSError, p11.PKCS11Error) as e:
        raise ConfigurationError(f"cannot load the PKCS #11 module {path}: {e}") from e


class Pkcs11CloudKey(CloudKeyInstrument):
    """A cloud key of ``name`` (a provider) held in the tokens of ``module``.

    :param module: an initialized PKCS #11 module (:func:`load_module`).
    :param counter: counts wrong PINs (on the ``pin_counter`` table).
    """

    def __init__(self, name: str, module: Any, signing: SigningService, counter: PinCounter) -> None:
        super().__init__(name)
        self.module = module
        self.signing = signing
        self.counter = counter

    def sign(self, request_id: str, idnp: str, pin: str) -> None:
        # A request that cannot be signed any more must not cost a PIN attempt.
        self.signing.requests.open_request(request_id)
        token = self._token(idnp)
        attempt = self.counter.reserve(self.name, idnp)
        checked = False  # whether the token judged the PIN
        try:
            with token.open(user_pin=pin) as session:
                checked = True
                self.counter.forgive(attempt.id)
                log.info("request %s: %s token of %s opened", request_id, self.name, idnp)
                certificate, chain, key = _signing_key(session)
                _check_key(key, certificate)
                items = self.signing.prepare(request_id, certificate, chain)
                values = [_sign(key, item) for item in items]
        except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange):
            checked = True
            raise self.counter.wrong(attempt.id, self.name, idnp) from None
        except (p11.PinLocked, p11.PinExpired) as e:
            raise KeyLocked(
                messages.KEY_LOCKED, LOCKED_BY_HSM, f"the {self.name} token of {idnp} is locked ({type(e).__name__})"
            ) from None
        except p11.PKCS11Error as e:
            raise SigningError(f"the {self.name} token of {idnp} failed: {type(e).__name__} {e}") from e
        finally:
            if not checked:  # the HSM failed or locked the token: no PIN of the user's was wrong
                self.counter.release(attempt.id)
        self.signing.finish(request_id, values)

    def _token(self, idnp: str) -> Any:
        label = token_label(self.name, idnp)
        try:
            return self.module.get_token(token_label=label)
        except p11.NoSuchToken:
            # the same answer as a wrong PIN: who holds a key is nobody's business
            raise WrongPin(messages.WRONG_PIN, f"{self.name} holds no token for {idnp}") from None
        except p11.MultipleTokensReturned as e:
            raise ConfigurationError(f"several tokens are labelled {label}") from e
        except p11.PKCS11Error as e:
            raise SigningError(f"the PKCS #11 module failed: {type(e).__name__} {e}") from e


def _signing_key(session: Any) -> tuple[bytes, list[bytes], Any]:
    """The certificate whose private key is on the token, the other certificates, and that key."""
    certificates = [
        (bytes(c[Attribute.ID] or b""), bytes(c[Attribute.VALUE]))
        for c in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})
    ]
    keys = {bytes(k[Attribute.ID] or b""): k for k in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})}
    mine = [(key_id, der) for key_id, der in certificates if key_id in keys]
    if len(mine) != 1:
        raise SigningError(f"the token holds {len(mine)} certificates with a private key, not one")
    key_id, certificate = mine[0]
    return certificate, [der for i, der in certificates if i != key_id], keys[key_id]


def _check_key(key: Any, certificate: bytes) -> None:
    """Refuse an RSA key that does not belong to the certificate before anything is prepared."""
    try:
        public = load_certificate(certificate).public_key()
    except SignerRejected:
        return  # prepare() refuses it and ends the request
    if key.key_type == KeyType.RSA and isinstance(public, rsa.RSAPublicKey):
        modulus = int.from_bytes(bytes(key[Attribute.MODULUS]), "big")
        if modulus != public.public_numbers().n:
            raise SigningError("the private key on the token does not belong to its certificate")


def _sign(key: Any, item: ToBeSigned) -> bytes:
    if item.signature_algorithm == RSA_SHA256 and key.key_type == KeyType.RSA:
        return bytes(key.sign(item.data_to_be_signed, mechanism=Mechanism.SHA256_RSA_PKCS))
    if item.signature_algorithm == ECDSA_SHA256 and key.key_type == KeyType.EC:
        return bytes(key.sign(item.digest, mechanism=Mechanism.ECDSA))
    raise SigningError("the private key on the token does not match the certificate's key type")
