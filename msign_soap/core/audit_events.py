"""What an audit event may say: the events (:class:`Event`), and the checks
that keep secrets out of the trail.

The audit trail (:mod:`.audit`) keeps, per event, the consumer's name, the
RequestID, the client's IP address and a few facts (``detail``): never PINs,
keys or document bytes. :func:`clean_detail` refuses bytes, nested values,
names such as ``pin`` or ``key`` and long runs of Base64 or hexadecimal, and
replaces control and format characters (a bidi override would mislead
whoever reads ``audit show``). A PIN given as an innocent-looking fact
cannot be told from one; the event vocabulary names the facts each event gives.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import unicodedata
from collections.abc import Mapping

from ..errors import InvalidParameter

__all__ = [
    "MAX_DETAIL_ITEMS",
    "MAX_TEXT",
    "Event",
    "clean_detail",
    "client_address",
    "consumer_name",
    "event_name",
    "request_id_of",
]

#: Most facts in one event's detail, and the longest text kept of one.
MAX_DETAIL_ITEMS = 16
MAX_TEXT = 200
_DETAIL_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
#: Names of facts that would be secrets.
_SECRET_NAME = re.compile(r"(?:^|_)(?:pin|password|passphrase|secret|private|key|token)(?:_|$)")
#: A run of Base64 or hexadecimal this long is encoded bytes, not a fact.
_ENCODED = re.compile(r"[A-Za-z0-9+/=_-]{80,}")
_REQUEST_ID = re.compile(r"[0-9a-f]{32}")
#: Consumer names are at most this long (``Consumer.name``).
_CONSUMER_NAME_LENGTH = 100


class Event(enum.StrEnum):
    """What happened. Each member says where the service records it and the
    facts it gives in ``detail``."""

    #: ``RequestService.post``: a consumer posted a request (``content_type``, ``contents``).
    REQUEST_POSTED = "request.posted"
    #: ``WebApp.on_entry``: a browser entered the sign page (``instrument`` asked for, ``lang``).
    PAGE_OPENED = "page.opened"
    #: The user submitted an instrument's form (``instrument``): ``WebApp.on_instrument``
    #: (cloud keys), ``web.mobile.submit``, ``web.local_signer.accept`` (first result).
    INSTRUMENT_CHOSEN = "instrument.chosen"
    #: ``RequestService.complete``, once the request is Success (``contents``).
    SIGNED = "request.signed"
    #: ``RequestService.fail``, once the request is Failure (``reason``: the message ID).
    FAILED = "request.failed"
    #: ``SignSessions.cancel``: the user cancelled (then also FAILED, reason ``CANCELLED``).
    CANCELLED = "request.cancelled"
    #: A Pending request past its lifetime marked Expired: ``RequestService._finish``
    #: with EXPIRED, and each request ``run_maintenance`` expires.
    EXPIRED = "request.expired"
    #: ``RequestService.get`` answering a finished request (``status``).
    RESULTS_FETCHED = "results.fetched"
    #: ``MSignService.VerifySignatures`` and ``VerifyPage`` (``content_type``, ``contents``, ``valid``).
    VERIFICATION_CALLED = "verification.called"
    #: ``ConsumerRegistry.add`` (``serial`` of the certificate).
    CONSUMER_ADDED = "consumer.added"
    #: ``ConsumerRegistry.add_certificate`` (``serial``).
    CONSUMER_CERTIFICATE_ADDED = "consumer.certificate_added"
    #: ``ConsumerRegistry.remove_certificate`` (``serial``, ``removed``).
    CONSUMER_CERTIFICATE_REMOVED = "consumer.certificate_removed"
    #: ``ConsumerRegistry.set_enabled`` with False.
    CONSUMER_DISABLED = "consumer.disabled"
    #: ``ConsumerRegistry.set_enabled`` with True.
    CONSUMER_ENABLED = "consumer.enabled"
    #: ``ConsumerRegistry.set_webhook`` (``url``, or none when removed; never the key).
    CONSUMER_WEBHOOK = "consumer.webhook"
    #: ``PinCounter.wrong`` and ``PinCounter.reserve`` locking a key
    #: (``provider``, ``idnp``, ``until``; ``reason``: ``wrong PIN`` or ``parallel attempts``).
    PIN_LOCKOUT = "pin.lockout"


def clean_detail(detail: Mapping[str, object] | None) -> dict[str, str | int | bool | None]:
    """The facts of ``detail`` fit for the trail: names ``[a-z][a-z0-9_]*``
    (at most 40 characters, none naming a secret), values text, whole
    numbers, booleans or None; texts without control or format characters,
    at most :data:`MAX_TEXT` characters (longer ones are cut).

    :raises InvalidParameter: naming the fact: bytes, a nested or other
        value, a secret's name, encoded bytes in a text, too many facts.
    """
    cleaned: dict[str, str | int | bool | None] = {}
    items = dict(detail or {})
    if len(items) > MAX_DETAIL_ITEMS:
        raise InvalidParameter("detail", f"has more than {MAX_DETAIL_ITEMS} facts ({len(items)})")
    for name, value in items.items():
        field = f"detail[{name!r}]"
        if not isinstance(name, str) or not _DETAIL_NAME.fullmatch(name):
            raise InvalidParameter(field, "is not a fact's name (a-z, digits, _)")
        if _SECRET_NAME.search(name):
            raise InvalidParameter(field, "names a secret: the audit trail keeps no PINs, keys or passwords")
        if isinstance(value, bytes | bytearray | memoryview):
            raise InvalidParameter(field, "is bytes: the audit trail keeps no document bytes or keys")
        if isinstance(value, str):
            if _ENCODED.search(value):
                raise InvalidParameter(field, "looks like encoded bytes: the audit trail keeps none")
            cleaned[name] = _printable(value, MAX_TEXT)
        elif value is None or isinstance(value, bool) or (isinstance(value, int) and abs(value) < 2**63):
            cleaned[name] = value
        else:
            raise InvalidParameter(
                field, f"must be text, a whole number, a boolean or None, not {type(value).__name__}"
            )
    return cleaned


def event_name(event: Event | str) -> str:
    """The name of ``event``.

    :raises InvalidParameter: it is not an :class:`Event`.
    """
    try:
        return Event(event).value
    except ValueError as e:
        raise InvalidParameter("event", f"is not an audit event: {event!r}") from e


def request_id_of(request_id: str | None) -> str | None:
    """``request_id``, checked.

    :raises InvalidParameter: it is not a RequestID.
    """
    if request_id is not None and not _REQUEST_ID.fullmatch(request_id):
        raise InvalidParameter("request_id", "is not a RequestID (32 lowercase hexadecimal digits)")
    return request_id


def client_address(address: str | None) -> str | None:
    """``address`` normalized (an IPv4-mapped IPv6 address as IPv4); None for none or empty.

    :raises InvalidParameter: it is not an IP address.
    """
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError as e:
        raise InvalidParameter("address", f"is not an IP address: {address[:50]!r}") from e
    # an IPv4 client of a dual-stack listener as the IPv4 address it is
    return str(ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped else ip)


def consumer_name(name: str | None) -> str | None:
    """A consumer's name as the trail keeps it: control and format characters
    replaced, cut to the 100 characters a name may have."""
    return None if name is None else _printable(name, _CONSUMER_NAME_LENGTH)


def _printable(text: str, limit: int) -> str:
    """``text`` with control and format characters (a bidi override …) replaced, cut to ``limit``."""
    shown = "".join("\ufffd" if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
