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
from .sessions import (
    INSTRUMENTS,
    ContentInfo,
    EntryParameters,
    RequestSummary,
    SignSession,
    SignSessions,
    check_return_url,
    normalize_msisdn,
)
from .signer_checks import SignerExpectation, SignerIdentity, check_expected_signer, signer_identity
from .signing import ECDSA_SHA256, RSA_SHA256, SigningService, ToBeSigned, content_uri, sign_item
from .trust import CertificateChecker, ChainChecker, RevokedCertificate
from .validation import Limits, validate_sign_request

__all__ = [
    "ANY_ROLE",
    "ECDSA_SHA256",
    "INSTRUMENTS",
    "RSA_SHA256",
    "CertificateChecker",
    "ChainChecker",
    "ContentInfo",
    "ContentType",
    "Delegation",
    "DelegationRegistry",
    "DelegatorType",
    "EntryParameters",
    "ExpectedSigner",
    "Limits",
    "MaintenanceReport",
    "RequestService",
    "RequestSummary",
    "RevokedCertificate",
    "SignContentInput",
    "SignRequestInput",
    "SignResponse",
    "SignResultOutput",
    "SignSession",
    "SignSessions",
    "SignStatus",
    "SignerExpectation",
    "SignerIdentity",
    "SigningService",
    "ToBeSigned",
    "check_expected_signer",
    "check_return_url",
    "content_uri",
    "is_valid_idn",
    "new_request_id",
    "normalize_msisdn",
    "sign_item",
    "signer_identity",
    "utcnow",
    "validate_sign_request",
]
