"""Signing instruments: one interface (:mod:`.api`), one module per backend."""

from __future__ import annotations

from .api import CLOUD_KEY, CloudKeyInstrument, Instrument
from .cloudkey import (
    CLOUD_KEY_PROVIDERS,
    DEMO_PINS,
    SoftwareCloudKey,
    create_cloud_keys,
    demo_pin,
)
from .keystore import DEFAULT_KDF, DEMO_KDF, KdfParams, Keystore

__all__ = [
    "CLOUD_KEY",
    "CLOUD_KEY_PROVIDERS",
    "DEFAULT_KDF",
    "DEMO_KDF",
    "DEMO_PINS",
    "CloudKeyInstrument",
    "Instrument",
    "KdfParams",
    "Keystore",
    "SoftwareCloudKey",
    "create_cloud_keys",
    "demo_pin",
]
