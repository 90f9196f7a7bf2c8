"""The sign page's state: the entry parameters stored with a request, its
CSRF key, and what the page shows of the request.

The browser enters with ``ReturnUrl``, ``RelayState``, ``Instrument``,
``MSISDN`` and ``lang`` (MSign web forms integration, contract §3.1); they are
kept in the database with the request, so any worker can serve any later step.
The page's forms carry an HMAC of the request ID under a random per-request
key (:meth:`SignSession.csrf_token`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import peewee as pw

from ..errors import InvalidParameter, RequestClosed, RequestNotFound
from ..i18n import messages
from .model import ContentType, SignStatus
from .requests import RequestService

__all__ = [
    "INSTRUMENTS",
    "MAX_RELAY_STATE",
    "MAX_RETURN_URL",
    "ContentInfo",
    "EntryParameters",
    "RequestSummary",
    "SignSession",
    "SignSessions",
    "check_return_url",
    "normalize_msisdn",
]

#: The instruments the contract names for ``Instrument``.
INSTRUMENTS = ("securesign", "mobile", "moldsign", "nationalid", "tax")
MAX_RETURN_URL = 2048
MAX_RELAY_STATE = 1024


def normalize_msisdn(value: str) -> str:
    """A Moldovan mobile number as ``373XXXXXXXX``.

    Accepted: ``373XXXXXXXX``, ``+373XXXXXXXX`` and ``0XXXXXXXX`` (eight digits
    after the ``0``); spaces are ignored.

    :raises InvalidParameter: anything else.
    """
    number = value.replace(" ", "")
    if number.startswith("+373"):
        number = number[1:]
    elif number.startswith("0") and len(number) == 9:
        number = "373" + number[1:]
    if len(number) != 11 or not number.startswith("373") or not (number.isascii() and number.isdigit()):
        raise InvalidParameter("MSISDN", "is not a Moldovan phone number (373 and 8 digits)")
    return number


#: A host name, IPv4 or bracketed IPv6 address, and an optional port.
_NETLOC = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)


def check_return_url(url: str | None, prefixes: tuple[str, ...] = (), *, production: bool = False) -> str:
    """``url`` if it is an absolute http(s) URL that starts with one of
    ``prefixes`` (any, when there are none).

    A prefix should end with ``/`` (or ``?``), so that ``https://a.md/`` does
    not also admit ``https://a.md.example.com``.

    :param production: also require https and a registered prefix (a
        consumer without prefixes sends nobody anywhere).
    :raises InvalidParameter: missing, not absolute http(s), too long, or not registered.
    """
    if not url:
        raise InvalidParameter("ReturnUrl", "is required")
    if len(url) > MAX_RETURN_URL:
        raise InvalidParameter("ReturnUrl", f"is longer than {MAX_RETURN_URL} characters")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise InvalidParameter("ReturnUrl", "contains spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a malformed port
    except ValueError as e:
        raise InvalidParameter("ReturnUrl", "is not a valid URL") from e
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidParameter("ReturnUrl", "is not an absolute http(s) URL")
    if "@" in parts.netloc:
        raise InvalidParameter("ReturnUrl", "must not contain a user name or password")
    if not _NETLOC.fullmatch(parts.netloc):
        # The origin goes into the result page's Content-Security-Policy.
        raise InvalidParameter("ReturnUrl", "has characters a host name cannot have")
    if production and parts.scheme.lower() != "https":
        raise InvalidParameter("ReturnUrl", "must be an https URL")
    if (prefixes or production) and not any(url.startswith(p) for p in prefixes):
        raise InvalidParameter("ReturnUrl", "is not registered for this e-service")
    return url


@dataclass(frozen=True)
class EntryParameters:
    """What the browser brought to ``/{RequestID}``, validated."""

    return_url: str
    relay_state: str | None = None
    instrument: str | None = None
    msisdn: str | None = None
    lang: str = "ro"


@dataclass(frozen=True)
class SignSession:
    """The entry parameters stored with a request, and its CSRF key."""

    request_id: str
    entry: EntryParameters
    csrf_secret: str

    def csrf_token(self) -> str:
        """The token every form of the page carries."""
        return hmac.new(bytes.fromhex(self.csrf_secret), self.request_id.encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, token: str | None) -> bool:
        """Whether ``token`` is this session's (compared in constant time)."""
        return bool(token) and hmac.compare_digest(self.csrf_token().encode(), (token or "").encode())


@dataclass(frozen=True)
class ContentInfo:
    position: int
    name: str | None
    correlation_id: str | None
    size: int
    #: A PDF whose bytes are still stored.
    downloadable: bool


@dataclass(frozen=True)
class RequestSummary:
    """What the sign page shows of a request."""

    request_id: str
    status: SignStatus
    content_type: ContentType
    content_description: str | None
    short_content_description: str
    contents: tuple[ContentInfo, ...]
    has_expected_signer: bool
    #: The consumer's registered ReturnUrl prefixes (empty: any http(s) URL).
    return_url_prefixes: tuple[str, ...]
    #: Message ID of the reason of a Failure or Expired request.
    reason: str | None
    #: ExpectedSigner.ID (the IDNP that must sign), if the request names one.
    expected_signer_id: str | None = None

    @property
    def description(self) -> str:
        return self.content_description or self.short_content_description


class SignSessions:
    """The sign page's operations on the database.

    :param requests: the request lifecycle (its store and clock).
    """

    def __init__(self, requests: RequestService) -> None:
        self.requests = requests
        self.store = requests.store

    def summary(self, request_id: str) -> RequestSummary:
        """The request as the page shows it; an overdue Pending one is marked Expired.

        :raises RequestNotFound: unknown or purged request.
        """
        try:
            self.requests.open_request(request_id)
        except RequestClosed:
            pass
        m = self.store.models
        with self.store.db.connection_context():
            row = m.SignRequest.get_or_none(m.SignRequest.request_id == request_id)
            if row is None:
                raise RequestNotFound()
            consumer = m.Consumer.get_by_id(row.consumer_id)
            contents = list(
                m.SignContent.select(
                    m.SignContent.position,
                    m.SignContent.name,
                    m.SignContent.correlation_id,
                    m.SignContent.content_size,
                    m.SignContent.content.is_null(False).alias("stored"),
                )
                .where(m.SignContent.request == request_id)
                .order_by(m.SignContent.position)
                .dicts()
            )
        status = SignStatus(row.status)
        content_type = ContentType(row.content_type)
        reason = None
        if status is SignStatus.FAILURE:
            reason = row.failure_reason or messages.FAILED
        elif status is SignStatus.EXPIRED:
            reason = messages.EXPIRED
        return RequestSummary(
            request_id=row.request_id,
            status=status,
            content_type=content_type,
            content_description=row.content_description,
            short_content_description=row.short_content_description,
            contents=tuple(
                ContentInfo(
                    position=c["position"],
                    name=c["name"],
                    correlation_id=c["correlation_id"],
                    size=c["content_size"],
                    downloadable=content_type is ContentType.PDF and bool(c["stored"]) and not row.documents_deleted,
                )
                for c in contents
            ),
            has_expected_signer=bool(row.has_expected_signer),
            return_url_prefixes=tuple(
                p.strip() for p in (consumer.return_url_prefixes or "").splitlines() if p.strip()
            ),
            reason=reason,
            expected_signer_id=row.expected_signer_id,
        )

    def start(self, request_id: str, entry: EntryParameters) -> SignSession:
        """Store (or replace) the entry parameters of a request; an existing
        session keeps its CSRF key, so pages open in other tabs stay usable."""
        SignSession_ = self.store.models.SignSession
        now = self.requests.clock()
        fields = {
            "return_url": entry.return_url,
            "relay_state": entry.relay_state,
            "instrument": entry.instrument,
            "msisdn": entry.msisdn,
            "lang": entry.lang,
            "updated_at": now,
        }
        with self.store.db.connection_context():
            for _ in range(2):
                with self.store.write():
                    row = SignSession_.get_or_none(SignSession_.request == request_id)
                    if row is not None:
                        SignSession_.update(**fields).where(SignSession_.request == request_id).execute()
                        return SignSession(request_id, entry, row.csrf_secret)
                try:
                    with self.store.write():
                        secret = secrets.token_hex(32)
                        SignSession_.insert(request=request_id, csrf_secret=secret, created_at=now, **fields).execute()
                        return SignSession(request_id, entry, secret)
                except pw.IntegrityError:
                    continue  # started concurrently: update that one
        raise RequestNotFound()  # the request vanished (purged) meanwhile

    def session(self, request_id: str) -> SignSession | None:
        """The stored entry parameters of a request, if the browser has entered."""
        SignSession_ = self.store.models.SignSession
        with self.store.db.connection_context():
            row = SignSession_.get_or_none(SignSession_.request == request_id)
        if row is None:
            return None
        entry = EntryParameters(row.return_url, row.relay_state, row.instrument, row.msisdn, row.lang)
        return SignSession(request_id, entry, row.csrf_secret)

    def document(self, request_id: str, position: int) -> tuple[str | None, bytes]:
        """The name and bytes of a request's PDF content.

        :raises RequestNotFound: no such PDF content, or its bytes are deleted.
        """
        m = self.store.models
        with self.store.db.connection_context():
            row: Any = (
                m.SignContent.select(m.SignContent.name, m.SignContent.content, m.SignRequest.content_type)
                .join(m.SignRequest)
                .where(
                    (m.SignContent.request == request_id)
                    & (m.SignContent.position == position)
                    & (m.SignRequest.documents_deleted == False)  # noqa: E712
                )
                .objects()
                .first()
            )
        if row is None or row.content is None or row.content_type != ContentType.PDF.value:
            raise RequestNotFound()
        return row.name, bytes(row.content)

    def cancel(self, request_id: str) -> None:
        """End a Pending request as Failure because the user cancelled; a
        finished one stays as it is."""
        try:
            self.requests.fail(request_id, messages.CANCELLED, unless_expired=True)
        except RequestClosed:
            pass
