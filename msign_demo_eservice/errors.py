"""The demo e-service's errors: one root, :class:`DemoError`, with the
service's SOAP faults and unreachable service apart from bad input."""

from __future__ import annotations

__all__ = ["BadInput", "DemoError", "NotFound", "ServiceFault", "ServiceUnreachable"]


class DemoError(Exception):
    """Anything the demo e-service reports to its user."""


class BadInput(DemoError):
    """The user's form or the sign page's callback is not acceptable.

    :param field: the form field at fault (``None``: the form as a whole).
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(DemoError):
    """No such request (or file) in the demo's state."""


class ServiceFault(DemoError):
    """The signing service answered with a SOAP fault.

    :param code: the fault code's local name (``InvalidParameter``,
        ``RequestNotFound``, ``Client``, …).
    :param reason: the fault's reason text, as the service wrote it.
    """

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class ServiceUnreachable(DemoError):
    """The signing service could not be reached, or answered with no SOAP message."""
