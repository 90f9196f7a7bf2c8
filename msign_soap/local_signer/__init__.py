"""``msign-soap local-signer``: a stand-in for the MoldSign desktop app, the
signer on the user's machine that the ``moldsign`` and ``nationalid``
instruments of the sign page talk to over localhost (contract §3.3)."""

from .keys import PROVIDER_PKCS12, SignerKey, load_pkcs12
from .server import DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, LOOPBACK, LocalSignerApp, normalize_origin
from .signer import FORMAT_PADES, FORMAT_XADES, SignData, parse_sign_data

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_PORT",
    "FORMAT_PADES",
    "FORMAT_XADES",
    "LOOPBACK",
    "PROVIDER_PKCS12",
    "LocalSignerApp",
    "SignData",
    "SignerKey",
    "load_pkcs12",
    "normalize_origin",
    "parse_sign_data",
]
