"""The sign-request lifecycle: validation, state machine, results, expiry,
and the two-step signing flow with its signer checks."""

from .delegations import ANY_ROLE, Delegation, DelegationRegistry
from .identifiers import is_valid_idn, new_request_id
from .model import (
    ContentType,
    DelegatorType,
    ExpectedSigner,
    SignContentInput,
    SignRequestInput,
    SignResponse,
    SignResultOutput,
    SignStatus,
)
from .requests import MaintenanceReport, RequestService, utcnow
from .signer_checks import SignerExpectation, SignerIdentity, check_expected_signer, signer_identity
from .signing import ECDSA_SHA256, RSA_SHA256, SigningService, ToBeSigned, content_uri, sign_item
from .trust import CertificateChecker, ChainChecker, RevokedCertificate
from .validation import Limits, validate_sign_request

__all__ = [
    "ANY_ROLE",
    "ECDSA_SHA256",
    "RSA_SHA256",
    "CertificateChecker",
    "ChainChecker",
    "ContentType",
    "Delegation",
    "DelegationRegistry",
    "DelegatorType",
    "ExpectedSigner",
    "Limits",
    "MaintenanceReport",
    "RequestService",
    "RevokedCertificate",
    "SignContentInput",
    "SignRequestInput",
    "SignResponse",
    "SignResultOutput",
    "SignStatus",
    "SignerExpectation",
    "SignerIdentity",
    "SigningService",
    "ToBeSigned",
    "check_expected_signer",
    "content_uri",
    "is_valid_idn",
    "new_request_id",
    "sign_item",
    "signer_identity",
    "utcnow",
    "validate_sign_request",
]
