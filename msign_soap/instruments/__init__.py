"""Signing instruments: one interface (:mod:`.api`), one module per backend."""

from __future__ import annotations

from .api import (
    CLOUD_KEY,
    LOCAL_SIGNER,
    MOBILE,
    CloudKeyInstrument,
    Instrument,
    LocalSignerInstrument,
    LocalSignerProgress,
    MobileInstrument,
    MobileProgress,
)
from .cloudkey import (
    CLOUD_KEY_PROVIDERS,
    DEMO_PINS,
    SoftwareCloudKey,
    create_cloud_keys,
    demo_pin,
)
from .keystore import DEFAULT_KDF, DEMO_KDF, KdfParams, Keystore
from .local_signer import LOCAL_SIGNER_NAMES, LocalSigner, create_local_signers
from .mobile import MobileSignature
from .mssp import MsspClient

__all__ = [
    "CLOUD_KEY",
    "CLOUD_KEY_PROVIDERS",
    "DEFAULT_KDF",
    "DEMO_KDF",
    "DEMO_PINS",
    "LOCAL_SIGNER",
    "LOCAL_SIGNER_NAMES",
    "MOBILE",
    "CloudKeyInstrument",
    "Instrument",
    "KdfParams",
    "Keystore",
    "LocalSigner",
    "LocalSignerInstrument",
    "LocalSignerProgress",
    "MobileInstrument",
    "MobileProgress",
    "MobileSignature",
    "MsspClient",
    "SoftwareCloudKey",
    "create_cloud_keys",
    "create_local_signers",
    "demo_pin",
]
