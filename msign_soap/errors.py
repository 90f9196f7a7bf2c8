"""The domain errors of msign-soap.

Every error a caller may see is an :class:`MSignError`; the SOAP layer maps
each subclass to the fault code of the MSign contract in exactly one place
(:mod:`msign_soap.soap.faults`).
"""

from __future__ import annotations

from datetime import datetime

__all__ = [
    "AuthenticationFailed",
    "AuthorizationFailed",
    "ConfigurationError",
    "InvalidDocument",
    "InvalidParameter",
    "KeyLocked",
    "MSignError",
    "MsspError",
    "NotAvailable",
    "PinRejected",
    "RateLimited",
    "RequestClosed",
    "RequestNotFound",
    "ResultRejected",
    "SignatureMismatch",
    "SignerRejected",
    "SigningError",
    "SigningRefused",
    "TimestampError",
    "UserFacingError",
    "WrongPin",
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


class RateLimited(MSignError):
    """Too many calls from one consumer or address; try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many requests; retry in {retry_after} s")
        self.retry_after = retry_after


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


class RequestClosed(MSignError):
    """The request is no longer Pending (or has just expired): it cannot be
    prepared or finished any more.

    :param status: its state now, ``Success``, ``Failure`` or ``Expired``.
    """

    def __init__(self, request_id: str, status: str) -> None:
        super().__init__(f"The signing request is {status}, not Pending")
        self.request_id = request_id
        self.status = status


class UserFacingError(MSignError):
    """An error the user is told about in their language.

    :param message_id: the message ID (:mod:`msign_soap.i18n.messages` or
        :mod:`~msign_soap.i18n.pages`) to show; translate it to show it.
    :param detail: what exactly failed, for the log (never shown to the user).
    """

    def __init__(self, message_id: str, detail: str | None = None) -> None:
        super().__init__(message_id)
        self.message_id = message_id
        self.detail = detail


class SigningRefused(UserFacingError):
    """The signing flow refused the signer or the signature and has ended the
    request as ``Failure``; ``message_id`` is stored as the failure reason."""


class SignerRejected(SigningRefused):
    """The signer's certificate failed a check: validity, trust, revocation,
    the expected signer, the organization or the delegation."""


class SignatureMismatch(SigningRefused):
    """A signature value does not verify under the certificate it was prepared for."""


class PinRejected(UserFacingError):
    """A cloud key did not unlock; the request is untouched (still ``Pending``)."""


class WrongPin(PinRejected):
    """The PIN is wrong, or no key is held for this IDNP (one message for both).

    :param attempts_left: wrong PINs left before the key is locked; ``None``
        when there is no key.
    """

    def __init__(self, message_id: str, detail: str | None = None, *, attempts_left: int | None = None) -> None:
        super().__init__(message_id, detail)
        self.attempts_left = attempts_left


class KeyLocked(PinRejected):
    """Too many consecutive wrong PINs: the key refuses every PIN until ``locked_until`` (naive UTC)."""

    def __init__(self, message_id: str, locked_until: datetime, detail: str | None = None) -> None:
        super().__init__(message_id, detail)
        self.locked_until = locked_until


class MsspError(UserFacingError):
    """The mobile signature service provider (MSSP) did not take a request,
    or could not be reached; the sign request is untouched (still ``Pending``).

    :param code: the ETSI TS 102 204 status code of the MSSP's fault, if it answered one.
    """

    def __init__(self, message_id: str, detail: str | None = None, *, code: int | None = None) -> None:
        super().__init__(message_id, detail)
        self.code = code


class ResultRejected(UserFacingError):
    """A signature made outside the service (the local signer's) is not
    accepted for a content: over another document, not valid, without a
    valid time-stamp, or with other changes to the PDF. Nothing is stored;
    the request stays ``Pending``; ``message_id`` is one of :mod:`msign_soap.i18n.pages`.
    """
