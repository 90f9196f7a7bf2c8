"""Certificates, keys and the demo PKI (CAs, demo people, TSA, OCSP, CRLs)."""

from .certificates import Identity, PrivateKey, load_certificates, load_private_key
from .demo import (
    CA_CERT_PATHS,
    CRL_PATHS,
    DEMO_PEOPLE,
    OCSP_PATH,
    DemoPerson,
    DemoPki,
    generate_demo_pki,
    load_demo_pki,
)
from .revocation import OcspResponder, Revocation, build_crl
from .services import TSA_PATH, create_pki_app

__all__ = [
    "CA_CERT_PATHS",
    "CRL_PATHS",
    "DEMO_PEOPLE",
    "OCSP_PATH",
    "TSA_PATH",
    "DemoPerson",
    "DemoPki",
    "Identity",
    "OcspResponder",
    "PrivateKey",
    "Revocation",
    "build_crl",
    "create_pki_app",
    "generate_demo_pki",
    "load_certificates",
    "load_demo_pki",
    "load_private_key",
]
