"""The sign-request lifecycle: validation, state machine, results, expiry."""

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
from .validation import Limits, validate_sign_request

__all__ = [
    "ContentType",
    "DelegatorType",
    "ExpectedSigner",
    "Limits",
    "MaintenanceReport",
    "RequestService",
    "SignContentInput",
    "SignRequestInput",
    "SignResponse",
    "SignResultOutput",
    "SignStatus",
    "is_valid_idn",
    "new_request_id",
    "utcnow",
    "validate_sign_request",
]
