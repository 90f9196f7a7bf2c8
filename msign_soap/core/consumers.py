"""The registry of consumers (the e-services calling the SOAP endpoint) and
how a call is attributed to one.

A consumer is identified as MSign identifies it, by its TLS client
certificate — by serial number **and issuer**, since a serial is unique only
within its CA — and may be limited to networks it calls from. Several
certificates per consumer let one be rotated without downtime. A disabled
consumer, an unknown certificate, or a call from outside the consumer's
networks is :class:`~msign_soap.errors.AuthenticationFailed`, naming the
serial. The demo consumer (the embedded default's caller without a
certificate) is :meth:`~.requests.RequestService.demo_consumer`.

Nothing is cached between calls: a consumer disabled on one host is refused
by every host at once.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import peewee as pw
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ..errors import AuthenticationFailed, InvalidParameter
from ..store import Store
from .audit import AuditTrail
from .audit_events import Event
from .webhooks import new_webhook_key

__all__ = ["ConsumerInfo", "ConsumerRegistry", "certificate_identity"]

log = logging.getLogger(__name__)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def certificate_identity(certificate: x509.Certificate) -> tuple[str, str]:
    """(serial number in upper-case hexadecimal, issuer as an RFC 4514 string)."""
    return format(certificate.serial_number, "X"), certificate.issuer.rfc4514_string()


@dataclass(frozen=True)
class ConsumerInfo:
    """A consumer as ``consumer list`` shows it."""

    name: str
    enabled: bool
    allowed_networks: tuple[str, ...]
    return_url_prefixes: tuple[str, ...]
    #: (serial, issuer, not after) of each certificate.
    certificates: tuple[tuple[str, str, datetime], ...]
    #: Where its completion webhook posts, if anywhere.
    webhook_url: str | None = None


class ConsumerRegistry:
    """Consumers, their certificates and networks, in the database."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock
        #: Every change is recorded in the audit trail, in its transaction.
        self.audit = AuditTrail(store, clock)

    # -- authentication ----------------------------------------------------

    def authenticate(self, certificate_der: bytes | None, address: str | None) -> Any:
        """The enabled consumer that ``certificate_der`` identifies, calling from ``address``.

        :raises AuthenticationFailed: no certificate, an unreadable or unknown
            one, a disabled consumer, or an address outside its networks.
        """
        if not certificate_der:
            raise AuthenticationFailed(None)
        try:
            certificate = x509.load_der_x509_certificate(certificate_der)
        except ValueError as e:
            raise AuthenticationFailed(None) from e
        serial, issuer = certificate_identity(certificate)
        m = self.store.models
        with self.store.db.connection_context():
            consumer = (
                m.Consumer.select()
                .join(m.ConsumerCertificate)
                .where((m.ConsumerCertificate.serial == serial) & (m.ConsumerCertificate.issuer == issuer))
                .first()
            )
        if consumer is None:
            log.info("call refused: certificate %s of %s is not registered", serial, issuer)
            raise AuthenticationFailed(serial)
        if not consumer.enabled:
            log.info("call refused: consumer %s is disabled", consumer.name)
            raise AuthenticationFailed(serial)
        networks = _networks(consumer.allowed_networks)
        if networks and not _address_in(address, networks):
            log.info("call refused: consumer %s called from %s, outside its networks", consumer.name, address)
            raise AuthenticationFailed(serial)
        return consumer

    # -- administration ----------------------------------------------------

    def add(
        self,
        name: str,
        certificate: x509.Certificate,
        allowed_networks: Sequence[str] = (),
        return_url_prefixes: Sequence[str] = (),
    ) -> Any:
        """Register a consumer with its first certificate.

        :raises InvalidParameter: a bad name, network or prefix, a name taken,
            or a certificate already registered.
        """
        name = _check_name(name)
        networks = "\n".join(str(n) for n in (parse_network(n) for n in allowed_networks))
        prefixes = "\n".join(check_prefix(p) for p in return_url_prefixes)
        m = self.store.models
        taken = InvalidParameter("name", f"{name!r} is already registered")
        try:
            with self.store.db.connection_context(), self.store.write():
                if m.Consumer.get_or_none(m.Consumer.name == name) is not None:
                    raise taken
                consumer = m.Consumer.create(
                    name=name, allowed_networks=networks, return_url_prefixes=prefixes, created_at=self.clock()
                )
                self._add_certificate(consumer, certificate, Event.CONSUMER_ADDED)
        except pw.IntegrityError as e:  # registered at the same moment by another process (PostgreSQL)
            raise taken from e
        return consumer

    def add_certificate(self, name: str, certificate: x509.Certificate) -> None:
        """Register another certificate of a consumer (rotation).

        :raises InvalidParameter: unknown consumer, or a certificate already registered.
        """
        with self.store.db.connection_context(), self.store.write():
            self._add_certificate(self._get(name), certificate, Event.CONSUMER_CERTIFICATE_ADDED)

    def remove_certificate(self, name: str, serial: str) -> int:
        """Forget a consumer's certificates with this serial (after a rotation); how many went.

        :raises InvalidParameter: unknown consumer.
        """
        m = self.store.models
        serial = serial.upper().lstrip("0")
        with self.store.db.connection_context(), self.store.write():
            consumer = self._get(name)
            removed = int(
                m.ConsumerCertificate.delete()
                .where((m.ConsumerCertificate.consumer == consumer.id) & (m.ConsumerCertificate.serial == serial))
                .execute()
            )
            detail = {"serial": serial, "removed": removed}
            self.audit.record(Event.CONSUMER_CERTIFICATE_REMOVED, consumer=consumer.name, detail=detail)
        return removed

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Enable or disable a consumer (its calls are refused at once).

        :raises InvalidParameter: unknown consumer.
        """
        m = self.store.models
        with self.store.db.connection_context(), self.store.write():
            consumer = self._get(name)
            m.Consumer.update(enabled=enabled).where(m.Consumer.id == consumer.id).execute()
            event = Event.CONSUMER_ENABLED if enabled else Event.CONSUMER_DISABLED
            self.audit.record(event, consumer=consumer.name)

    def set_webhook(self, name: str, url: str | None, *, https_only: bool = False) -> str | None:
        """Register (or, with ``None``, remove) a consumer's completion webhook;
        the new HMAC key, to give the e-service once (:mod:`.webhooks`).

        :param https_only: refuse http URLs (production).
        :raises InvalidParameter: unknown consumer, or not an absolute http(s) URL.
        """
        key = None
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in (("https",) if https_only else ("http", "https")) or not parts.hostname:
                wanted = "https" if https_only else "http(s)"
                raise InvalidParameter("webhook URL", f"{url!r} is not an absolute {wanted} URL")
            key = new_webhook_key()
        m = self.store.models
        with self.store.db.connection_context(), self.store.write():
            consumer = self._get(name, demo=True)  # the embedded default's e-services call as "demo"
            m.Consumer.update(webhook_url=url, webhook_key=key).where(m.Consumer.id == consumer.id).execute()
            self.audit.record(Event.CONSUMER_WEBHOOK, consumer=consumer.name, detail={"url": url})
        return key

    def list(self) -> list[ConsumerInfo]:
        """Every consumer but the demo one, by name."""
        m = self.store.models
        with self.store.db.connection_context():
            consumers = list(m.Consumer.select().where(m.Consumer.is_demo == False).order_by(m.Consumer.name))  # noqa: E712
            certificates = list(m.ConsumerCertificate.select().order_by(m.ConsumerCertificate.added_at))
        owned: dict[int, list[Any]] = {}
        for c in certificates:
            owned.setdefault(c.consumer_id, []).append((c.serial, c.issuer, c.not_after))
        return [
            ConsumerInfo(
                c.name,
                c.enabled,
                tuple(_lines(c.allowed_networks)),
                tuple(_lines(c.return_url_prefixes)),
                tuple(owned.get(c.id, ())),
                c.webhook_url,
            )
            for c in consumers
        ]

    # -- helpers -----------------------------------------------------------

    def _get(self, name: str, *, demo: bool = False) -> Any:
        m = self.store.models
        where = m.Consumer.name == name
        if not demo:
            where &= m.Consumer.is_demo == False  # noqa: E712
        consumer = m.Consumer.get_or_none(where)
        if consumer is None:
            raise InvalidParameter("name", f"no consumer {name!r} is registered")
        return consumer

    def _add_certificate(self, consumer: Any, certificate: x509.Certificate, event: Event) -> None:
        m = self.store.models
        serial, issuer = certificate_identity(certificate)
        owner = (
            m.Consumer.select(m.Consumer.name)
            .join(m.ConsumerCertificate)
            .where((m.ConsumerCertificate.serial == serial) & (m.ConsumerCertificate.issuer == issuer))
            .first()
        )
        if owner is not None:
            raise InvalidParameter(
                "certificate", f"serial {serial} of {issuer} is already registered to {owner.name!r}"
            )
        der = certificate.public_bytes(Encoding.DER)
        m.ConsumerCertificate.create(
            consumer=consumer.id,
            serial=serial,
            issuer=issuer,
            fingerprint=hashlib.sha256(der).hexdigest(),
            certificate=der,
            not_after=certificate.not_valid_after_utc.replace(tzinfo=None),
            added_at=self.clock(),
        )
        self.audit.record(event, consumer=consumer.name, detail={"serial": serial})


def parse_network(text: str) -> IpNetwork:
    """A network in CIDR notation (a bare address is a /32 or /128).

    :raises InvalidParameter: not a network, or host bits set (``10.0.0.1/8``).
    """
    try:
        return ipaddress.ip_network(text.strip())
    except ValueError as e:
        raise InvalidParameter("allowed network", f"{text!r} is not a network in CIDR notation ({e})") from e


def check_prefix(prefix: str) -> str:
    """A ReturnUrl prefix: an absolute http(s) URL ending with ``/`` or ``?``,
    so that ``https://a.md/`` does not also admit ``https://a.md.example.com``.

    :raises InvalidParameter: otherwise.
    """
    parts = urlsplit(prefix)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidParameter("ReturnUrl prefix", f"{prefix!r} is not an absolute http(s) URL")
    if not prefix.endswith(("/", "?")):
        raise InvalidParameter("ReturnUrl prefix", f"{prefix!r} must end with '/' or '?'")
    return prefix


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or any(ord(c) < 32 for c in name):
        raise InvalidParameter("name", "must be 1 to 100 printable characters")
    return name


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _networks(text: str | None) -> list[IpNetwork]:
    return [ipaddress.ip_network(line) for line in _lines(text)]


def _address_in(address: str | None, networks: Sequence[IpNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)
