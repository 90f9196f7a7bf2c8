"""The cloud-key instruments ``securesign`` and ``tax``: keys held by the
service in its software keystore (:mod:`.keystore`), unlocked by the user's
IDNP and PIN; one PIN signs the whole batch through
:meth:`~msign_soap.core.SigningService.sign_with_key` (XAdES-T over a
``Hash``, PAdES-T over a ``Pdf``). The two are providers of the same kind,
each with its own keys. A provider named in ``pkcs11_providers`` keeps its
keys in the tokens of ``pkcs11_module`` instead (:mod:`.pkcs11`).

Demo keys: on the embedded default (``demo_pki`` on) every demo person of
:mod:`msign_soap.pki.demo` gets a key at both providers, created once (the
first start with an empty keystore; several processes may start at once):

==============  ===============================  ======================
provider        demo PIN                         Ion Popescu (2004001234567)
==============  ===============================  ======================
``securesign``  the last 4 digits of the IDNP    ``4567``
``tax``         the last 6 digits of the IDNP    ``234567``
==============  ===============================  ======================

Elena Ciobanu's key works, but her certificate is revoked: signing with it
ends the request ``Failure``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ..config import CLOUD_KEY_PROVIDERS
from ..core import SigningService
from ..errors import ConfigurationError
from ..store import Store
from .api import CloudKeyInstrument, Instrument
from .keystore import DEMO_KDF, Keystore, provision
from .pin_counter import PinCounter

if TYPE_CHECKING:
    from ..config import Config
    from ..pki import DemoPki

__all__ = ["CLOUD_KEY_PROVIDERS", "DEMO_PINS", "SoftwareCloudKey", "create_cloud_keys", "demo_pin"]

log = logging.getLogger(__name__)

#: How a demo person's PIN follows from the IDNP, per provider.
DEMO_PINS: dict[str, Callable[[str], str]] = {
    "securesign": lambda idnp: idnp[-4:],
    "tax": lambda idnp: idnp[-6:],
}


def demo_pin(provider: str, idnp: str) -> str:
    """The documented PIN of a demo person's key at ``provider``."""
    return DEMO_PINS[provider](idnp)


class SoftwareCloudKey(CloudKeyInstrument):
    """A cloud key of ``name`` (a provider) held in ``keystore``, signing with ``signing``."""

    def __init__(self, name: str, keystore: Keystore, signing: SigningService) -> None:
        super().__init__(name)
        self.keystore = keystore
        self.signing = signing

    def sign(self, request_id: str, idnp: str, pin: str) -> None:
        # A request that cannot be signed any more must not cost a PIN attempt.
        self.signing.requests.open_request(request_id)
        certificate, chain, private_key = self.keystore.unlock(self.name, idnp, pin)
        log.info("request %s: %s key of %s unlocked", request_id, self.name, idnp)
        self.signing.sign_with_key(request_id, certificate, chain, private_key)


def create_cloud_keys(
    store: Store, signing: SigningService, config: Config, pki: DemoPki | None
) -> dict[str, Instrument]:
    """The cloud-key instruments of a service, by name; with the demo PKI,
    first give its people their demo keys (once). The providers of
    ``pkcs11_providers`` sign with the tokens of ``pkcs11_module`` when it is set.

    :raises ConfigurationError: the PKCS #11 module cannot be loaded.

    """
    keystore = Keystore(
        store,
        signing.requests.clock,
        max_attempts=config.pin_attempts,
        lockout=timedelta(seconds=config.pin_lockout),
    )
    if pki is not None:
        people = [
            (idnp, who.certificate_der, who.chain_der, who.private_key)
            for idnp, who in sorted(pki.people.items())
            if isinstance(who.private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
        ]
        for provider in CLOUD_KEY_PROVIDERS:
            added = provision(keystore, provider, people, DEMO_PINS[provider], DEMO_KDF)
            if added:
                log.info("gave %d demo people a %s key (demo PINs: see %s)", added, provider, __name__)
    instruments: dict[str, Instrument] = {
        name: SoftwareCloudKey(name, keystore, signing) for name in CLOUD_KEY_PROVIDERS
    }
    if config.pkcs11_module is not None:
        try:
            from .pkcs11 import Pkcs11CloudKey, load_module
        except ImportError as e:  # python-pkcs11 is an optional dependency
            raise ConfigurationError(
                f"pkcs11_module needs python-pkcs11 (pip install 'msign-soap[pkcs11]'): {e}"
            ) from e
        module = load_module(config.pkcs11_module)
        counter = PinCounter(
            store,
            store.models.PinCounter,
            signing.requests.clock,
            max_attempts=config.pin_attempts,
            lockout=timedelta(seconds=config.pin_lockout),
            create=True,
        )
        for name in config.pkcs11_providers:
            instruments[name] = Pkcs11CloudKey(name, module, signing, counter)
            log.info("%s keys are in the PKCS #11 tokens of %s", name, config.pkcs11_module)
    return instruments
