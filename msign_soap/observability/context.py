"""What the current call is about — its RequestID, consumer, instrument — for
log lines and metrics, carried in a :class:`contextvars.ContextVar`.

The SOAP endpoint and the sign page :func:`bind` a fresh :class:`CallContext`
for the duration of each HTTP request and fill it in as they learn things
(:func:`annotate`); :class:`~msign_soap.observability.logs.JsonFormatter`
writes it into every line logged meanwhile, and the request lifecycle reads
the instrument of the step that ends a request. Outside a call (the
maintenance thread, the CLI) there is none and :func:`annotate` does nothing.

A thread started during a call does not see the call's context (Python gives
new threads an empty one); code that hands work to a thread passes what it
needs explicitly.
"""

from __future__ import annotations

import re
from contextvars import ContextVar, Token

__all__ = ["CallContext", "annotate", "annotate_request_id", "bind", "current", "reset"]

_REQUEST_ID = re.compile("[0-9a-f]{32}")


class CallContext:
    """What is known about the current call; ``None``: not known (yet).

    :ivar request_id: the sign request it concerns (32 lowercase hex digits).
    :ivar consumer: the name of the calling consumer (SOAP).
    :ivar instrument: the instrument of a sign-page step (``securesign`` …).
    :ivar operation: the SOAP operation.
    :ivar route: the sign page's route template (``/{request_id}/sign``).
    """

    __slots__ = ("consumer", "instrument", "operation", "request_id", "route")

    def __init__(self) -> None:
        self.request_id: str | None = None
        self.consumer: str | None = None
        self.instrument: str | None = None
        self.operation: str | None = None
        self.route: str | None = None


_current: ContextVar[CallContext | None] = ContextVar("msign_call", default=None)


def bind(context: CallContext) -> Token[CallContext | None]:
    """Make ``context`` the current call's; give the token to :func:`reset` when the call ends."""
    return _current.set(context)


def reset(token: Token[CallContext | None]) -> None:
    """End the call :func:`bind` started."""
    _current.reset(token)


def current() -> CallContext | None:
    """The current call's context, if a call is under way."""
    return _current.get()


def annotate(
    *,
    consumer: str | None = None,
    instrument: str | None = None,
    operation: str | None = None,
    route: str | None = None,
) -> None:
    """Note what is now known about the current call (nothing outside a call)."""
    context = _current.get()
    if context is None:
        return
    if consumer is not None:
        context.consumer = consumer
    if instrument is not None:
        context.instrument = instrument
    if operation is not None:
        context.operation = operation
    if route is not None:
        context.route = route


def annotate_request_id(value: object) -> None:
    """Note the RequestID the current call concerns, if ``value`` is one
    (32 lowercase hex digits): what a caller sends is not written into the
    logs unless it has that shape."""
    context = _current.get()
    if context is not None and isinstance(value, str) and _REQUEST_ID.fullmatch(value):
        context.request_id = value
