"""The completion webhook (beyond MSign): the e-service learns that a request
ended even when its user closed the tab.

A consumer may register a URL and gets an HMAC key (``msign-soap consumer
set-webhook``). When one of its requests reaches a terminal state (Success,
Failure, Expired), a delivery is queued in the transaction that ends it (one
per request: a request ends once). :class:`WebhookDispatcher` POSTs::

    {"RequestID": "…", "Status": "Success"}

with ``Content-Type: application/json`` and the headers

- ``X-MSign-Signature: sha256=<hex>``: HMAC-SHA256 of ``<timestamp>.<body>``
  with the consumer's key (the timestamp bound in, so that an old delivery
  cannot be replayed as new);
- ``X-MSign-Timestamp``: seconds since the epoch;
- ``X-MSign-Delivery``: the delivery's id, the same on every retry.

A 2xx answer delivers it; anything else (or no answer within the timeout) is
tried again after 10 s, 20 s, 40 s … (at most an hour apart), for a day, then
given up. Deliveries are claimed with a lease (a conditional update), so
several workers and hosts send each one once; should a worker die after the
POST but before recording it, the lease runs out and it is sent again — the
receiver deduplicates by ``X-MSign-Delivery``. GetSignResponse stays the
source of truth: the webhook says *that* a request ended, not its results.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests

from ..store import Store

__all__ = ["WebhookDispatcher", "new_webhook_key", "signature_of"]

log = logging.getLogger(__name__)

#: First retry after this long; each next one after twice as long, up to :data:`MAX_BACKOFF`.
FIRST_BACKOFF = timedelta(seconds=10)
MAX_BACKOFF = timedelta(hours=1)
#: A delivery not done by then is given up.
GIVE_UP_AFTER = timedelta(days=1)
#: How long a worker holds a delivery it is sending.
LEASE = timedelta(seconds=60)


def new_webhook_key() -> str:
    """A fresh HMAC key, hexadecimal (256 bits)."""
    return secrets.token_hex(32)


def signature_of(key: str, timestamp: str, body: bytes) -> str:
    """The ``X-MSign-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(bytes.fromhex(key), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass(frozen=True)
class _Due:
    id: int
    request_id: str
    status: str
    attempts: int
    created_at: datetime
    url: str
    key: str


class WebhookDispatcher:
    """Queues and sends the completion webhooks of one database.

    :param timeout: seconds to wait for a receiver's answer.
    :param post: how to POST (``requests.post``'s signature); tests may count calls.
    """

    def __init__(
        self,
        store: Store,
        clock: Callable[[], datetime],
        *,
        timeout: float = 10.0,
        post: Callable[..., Any] = requests.post,
    ) -> None:
        self.store = store
        self.clock = clock
        self.timeout = timeout
        self.post = post

    def enqueue(self, request_id: str, status: str) -> None:
        """Queue the webhook of a request that has just ended, if its consumer has one.

        Call it in the transaction that ends the request.
        """
        m = self.store.models
        consumer = (
            m.Consumer.select(m.Consumer.id)
            .join(m.SignRequest, on=(m.SignRequest.consumer == m.Consumer.id))
            .where((m.SignRequest.request_id == request_id) & m.Consumer.webhook_url.is_null(False))
            .first()
        )
        if consumer is None:
            return
        now = self.clock()
        m.WebhookDelivery.insert(
            consumer=consumer.id, request_id=request_id, status=status, created_at=now, next_attempt_at=now
        ).on_conflict_ignore().execute()

    def deliver_due(self, limit: int = 20) -> int:
        """Send the deliveries that are due (at most ``limit``); how many were delivered."""
        delivered = 0
        for due in self._due(limit):
            if self._claim(due.id):
                delivered += self._send(due)
        return delivered

    # -- helpers -----------------------------------------------------------

    def _due(self, limit: int) -> list[_Due]:
        m = self.store.models
        now = self.clock()
        with self.store.db.connection_context():
            rows = (
                m.WebhookDelivery.select(m.WebhookDelivery, m.Consumer.webhook_url, m.Consumer.webhook_key)
                .join(m.Consumer)
                .where(
                    m.WebhookDelivery.next_attempt_at.is_null(False)
                    & (m.WebhookDelivery.next_attempt_at <= now)
                    & (m.WebhookDelivery.lease_until.is_null() | (m.WebhookDelivery.lease_until <= now))
                )
                .order_by(m.WebhookDelivery.next_attempt_at)
                .limit(limit)
            )
            return [
                _Due(
                    r.id,
                    r.request_id,
                    r.status,
                    r.attempts,
                    r.created_at,
                    r.consumer.webhook_url,
                    r.consumer.webhook_key,
                )
                for r in rows
                if r.consumer.webhook_url and r.consumer.webhook_key
            ]

    def _claim(self, delivery_id: int) -> bool:
        """Take the delivery for :data:`LEASE` unless another worker holds it."""
        m = self.store.models
        now = self.clock()
        free = m.WebhookDelivery.lease_until.is_null() | (m.WebhookDelivery.lease_until <= now)
        with self.store.db.connection_context(), self.store.write():
            taken = (
                m.WebhookDelivery.update(lease_until=now + LEASE)
                .where((m.WebhookDelivery.id == delivery_id) & m.WebhookDelivery.delivered_at.is_null() & free)
                .execute()
            )
        return bool(taken)

    def _send(self, due: _Due) -> int:
        body = json.dumps({"RequestID": due.request_id, "Status": due.status}, separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "X-MSign-Delivery": str(due.id),
            "X-MSign-Timestamp": timestamp,
            "X-MSign-Signature": signature_of(due.key, timestamp, body),
        }
        error: str | None = None
        try:
            answer = self.post(due.url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False)
            if not 200 <= answer.status_code < 300:
                error = f"HTTP {answer.status_code}"
        except requests.RequestException as e:
            error = type(e).__name__
        self._record(due, error)
        return error is None

    def _record(self, due: _Due, error: str | None) -> None:
        m = self.store.models
        now = self.clock()
        attempts = due.attempts + 1
        changes: dict[str, Any] = {"attempts": attempts, "lease_until": None, "last_error": error}
        if error is None:
            changes.update(delivered_at=now, next_attempt_at=None)
            log.info("webhook of request %s delivered (attempt %d)", due.request_id, attempts)
        else:
            retry = now + min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (attempts - 1))
            gave_up = retry > due.created_at + GIVE_UP_AFTER
            changes["next_attempt_at"] = None if gave_up else retry
            log.warning(
                "webhook of request %s not delivered (attempt %d: %s)%s",
                due.request_id,
                attempts,
                error,
                "; given up" if gave_up else f"; next at {retry:%H:%M:%S}",
            )
        with self.store.db.connection_context(), self.store.write():
            m.WebhookDelivery.update(**changes).where(m.WebhookDelivery.id == due.id).execute()
