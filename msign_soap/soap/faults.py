"""The one place where domain errors become SOAP faults.

Contract faults carry the bare codes of the MSign documentation
(``InvalidParameter``, not ``s:Client.InvalidParameter``) so that WCF's
``FaultException.Code.Name`` and zeep's ``Fault.code`` equal them exactly.
SOAP-level problems (malformed XML, an unexpected header) use the standard
SOAP 1.1 codes ``s:Client`` / ``s:Server`` / ``s:MustUnderstand``; anything
unexpected is logged and leaves as ``s:Server`` with no detail.
"""

from __future__ import annotations

from spyne import Fault

from ..errors import (
    AuthenticationFailed,
    AuthorizationFailed,
    InvalidParameter,
    MSignError,
    NotAvailable,
    RateLimited,
    RequestNotFound,
)

__all__ = [
    "CONTRACT_CODES",
    "INTERNAL_ERROR",
    "ContractFault",
    "ServerFault",
    "ThrottledFault",
    "fault_for",
    "wire_code",
]

#: Fault codes defined by the MSign contract.
CONTRACT_CODES = ("AuthenticationFailed", "AuthorizationFailed", "InvalidParameter", "RequestNotFound")

INTERNAL_ERROR = "The server could not process the request because of an internal error"

#: AuthenticationFailed reasons, worded per operation as the contract documents them.
_AUTHENTICATION_REASONS = {
    "PostSignRequest": "Invalid authentication certificate provided, Unknown service consumer: {serial}",
    "GetSignResponse": "Invalid authentication certificate provided, Unknown or unregistered system: {serial}",
    "VerifySignatures": "Invalid authentication certificate provided or Unknown service consumer: {serial}",
}


class ContractFault(Fault):
    """A fault whose code is sent as is, unprefixed."""


class ServerFault(Fault):
    """A ``Server`` fault whose reason is safe to show (says nothing internal)."""

    safe = True

    def __init__(self, reason: str) -> None:
        super().__init__("Server", reason)


class ThrottledFault(ServerFault):
    """A rate limit refused the call: sent with HTTP 503 and ``Retry-After``,
    which WCF clients raise as ``ServerTooBusyException``."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def fault_for(error: MSignError, operation: str | None) -> Fault:
    """The fault a caller receives for ``error`` raised in ``operation``."""
    if isinstance(error, AuthenticationFailed):
        template = _AUTHENTICATION_REASONS.get(operation or "", _AUTHENTICATION_REASONS["PostSignRequest"])
        return ContractFault("AuthenticationFailed", template.format(serial=error.serial))
    if isinstance(error, AuthorizationFailed):
        return ContractFault("AuthorizationFailed", error.reason)
    if isinstance(error, InvalidParameter):
        return ContractFault("InvalidParameter", error.reason)
    if isinstance(error, RequestNotFound):
        return ContractFault("RequestNotFound", error.reason)
    if isinstance(error, NotAvailable):
        return ServerFault(error.reason)
    if isinstance(error, RateLimited):
        return ThrottledFault(error.reason, error.retry_after)
    return Fault("Server", INTERNAL_ERROR)


def wire_code(fault: Fault, soap_prefix: str) -> str:
    """The ``faultcode`` text of ``fault`` as it goes on the wire."""
    if isinstance(fault, ContractFault):
        return fault.faultcode
    code = fault.faultcode.split(".", 1)[0]
    if code not in ("Client", "Server", "MustUnderstand", "VersionMismatch"):
        code = "Server"
    return f"{soap_prefix}:{code}"
