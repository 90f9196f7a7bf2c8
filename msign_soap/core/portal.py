"""The service's own consumer: the signing portal's uploads (``/sign/upload``).

A citizen's PDF becomes a sign request of this consumer, which no SOAP caller
can be (it has no client certificate), and whose one registered ReturnUrl
prefix is the portal's own page, so that production's https-and-registered
rule holds for it as for any e-service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import peewee as pw

from ..errors import RequestNotFound
from .model import SignStatus
from .requests import RequestService

__all__ = ["PORTAL_CONSUMER", "PortalResult", "portal_consumer", "portal_result"]

#: The portal consumer's name (parentheses: no e-service is registered so).
PORTAL_CONSUMER = "(signing portal)"


@dataclass(frozen=True)
class PortalResult:
    """An uploaded document's request: its state, file name and, on Success, the signed PDF."""

    request_id: str
    status: SignStatus
    name: str
    signed: bytes | None
    #: msgid of the Failure reason.
    reason: str | None


def portal_consumer(requests: RequestService, return_prefix: str) -> Any:
    """The portal's consumer row, created on first use with ``return_prefix`` registered."""
    Consumer = requests.store.models.Consumer
    with requests.store.db.connection_context():
        consumer = Consumer.get_or_none(Consumer.name == PORTAL_CONSUMER)
        if consumer is None:
            try:
                consumer = Consumer.create(
                    name=PORTAL_CONSUMER, return_url_prefixes=return_prefix, created_at=requests.clock()
                )
            except pw.IntegrityError:  # created concurrently
                consumer = Consumer.get(Consumer.name == PORTAL_CONSUMER)
    return consumer


def portal_result(requests: RequestService, request_id: str) -> PortalResult:
    """The state of a portal request.

    :raises RequestNotFound: unknown, purged, or not the portal's.
    """
    m = requests.store.models
    with requests.store.db.connection_context():
        row = (
            m.SignRequest.select(m.SignRequest.status, m.SignRequest.failure_reason, m.SignContent.name)
            .join(m.Consumer, on=(m.SignRequest.consumer == m.Consumer.id))
            .switch(m.SignRequest)
            .join(m.SignContent, on=(m.SignContent.request == m.SignRequest.request_id))
            .where((m.SignRequest.request_id == request_id) & (m.Consumer.name == PORTAL_CONSUMER))
            .objects()
            .first()
        )
    if row is None:
        raise RequestNotFound()
    response = requests.get(portal_consumer(requests, ""), request_id, None)
    signed = response.results[0].signature if response.status is SignStatus.SUCCESS and response.results else None
    return PortalResult(request_id, response.status, row.name or "document.pdf", signed, row.failure_reason)
