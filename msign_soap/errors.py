"""The domain errors of msign-soap.

Every error a caller may see is an :class:`MSignError`; the SOAP layer maps
each subclass to the fault code of the MSign contract in exactly one place
(:mod:`msign_soap.soap.faults`).
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "AuthorizationFailed",
    "ConfigurationError",
    "InvalidDocument",
    "InvalidParameter",
    "MSignError",
    "NotAvailable",
    "RequestNotFound",
    "SigningError",
    "TimestampError",
]


class MSignError(Exception):
    """Root of the domain errors; ``reason`` is safe to show to a caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidParameter(MSignError):
    """An input parameter breaks a rule of the contract.

    :param field: the offending parameter, as a path (``Contents[2].Name``).
    :param rule: what is wrong with it, as a sentence fragment.
    """

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field} {rule}")
        self.field = field
        self.rule = rule


class AuthenticationFailed(MSignError):
    """The caller is not a known, enabled consumer.

    :param serial: the serial number of the certificate presented, if any.
    """

    def __init__(self, serial: str | None) -> None:
        super().__init__(f"Unknown service consumer: {serial or '(no client certificate)'}")
        self.serial = serial or "(no client certificate)"


class AuthorizationFailed(MSignError):
    """The caller may not see this request: another consumer posted it."""

    def __init__(self) -> None:
        super().__init__("This signature request was not initiated by this system")


class RequestNotFound(MSignError):
    """No request with this ID exists (never did, or was purged)."""

    def __init__(self) -> None:
        super().__init__("Cannot find such request")


class NotAvailable(MSignError):
    """The operation exists in the contract but this server cannot do it yet."""


class ConfigurationError(MSignError):
    """The configuration is invalid; raised at start-up, never per request."""


class SigningError(MSignError):
    """A signature could not be produced: the signer's value does not verify,
    the signer's key is of an unsupported type, or a stored draft is damaged.
    """


class InvalidDocument(MSignError):
    """A document to sign cannot be read or cannot take a signature (a
    damaged or encrypted PDF, one whose certification forbids more
    signatures); the caller names the offending parameter.
    """


class TimestampError(MSignError):
    """A time-stamp could not be obtained: the TSA is unreachable, refused the
    request, or answered with a token that does not match it (imprint, nonce).
    """
