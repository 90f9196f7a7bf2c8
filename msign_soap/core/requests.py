"""The sign-request lifecycle: post, read, finish, expire, purge.

State machine: ``Pending`` → ``Success`` | ``Failure`` | ``Expired``; a finished
request never changes again. Its posted document bytes are deleted after
``document_retention`` and the whole request after ``result_retention``
(then :class:`~msign_soap.errors.RequestNotFound`); the signing flow's drafts
(:mod:`.signing`) go with the documents. Every transition is one
conditional UPDATE, so concurrent workers (threads, processes, hosts sharing
one database) cannot finish a request twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import peewee as pw

from ..config import Config
from ..errors import AuthorizationFailed, InvalidParameter, MSignError, RequestClosed, RequestNotFound
from ..i18n import messages, translate
from ..observability import ServiceMetrics, current
from ..store import Store
from ..store.blobs import insert_with_blob
from ..store.prepared import Prepared, PreparedInsert, slot
from ..store.transactions import locking
from .audit import AuditTrail
from .audit_events import Event
from .identifiers import new_request_id
from .model import SignRequestInput, SignResponse, SignResultOutput, SignStatus
from .validation import Limits, validate_sign_request
from .webhooks import WebhookDispatcher

__all__ = ["Clock", "MaintenanceReport", "RequestService", "utcnow"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The current time as a naive UTC datetime (how the database stores times)."""
    return datetime.now(UTC).replace(tzinfo=None)


_REQUEST_COLUMNS = (
    "request_id",
    "consumer",
    "status",
    "content_type",
    "content_description",
    "short_content_description",
    "signature_reason",
    "has_expected_signer",
    "expected_signer_id",
    "delegator_type",
    "delegator_id",
    "delegated_role_id",
    "created_at",
    "expires_at",
    "documents_deleted",
)
_CONTENT_COLUMNS = (
    "request",
    "position",
    "correlation_id",
    "name",
    "multiple_signatures",
    "content",
    "content_size",
)


_REQUEST_ID = re.compile("[0-9a-f]{32}")


#: The audit event of each terminal state.
_FINISHED = {SignStatus.SUCCESS: Event.SIGNED, SignStatus.FAILURE: Event.FAILED, SignStatus.EXPIRED: Event.EXPIRED}


def _is_request_id(value: str) -> bool:
    return _REQUEST_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class MaintenanceReport:
    expired: int
    documents_deleted: int
    purged: int


class RequestService:
    """Operations on sign requests, shared by the SOAP endpoint, the pages and the CLI.

    :param store: the database.
    :param config: limits and retention times.
    :param clock: returns the current naive-UTC time (tests pin it).

    Every change of a request's state is recorded in :attr:`audit`, in the
    transaction that makes it, and counted in :attr:`metrics`.
    """

    def __init__(self, store: Store, config: Config, clock: Clock = utcnow) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        #: The audit trail (the service gives it a TSA for its anchors).
        self.audit = AuditTrail(store, clock)
        #: Queues each terminal state's completion webhook; the service sends them.
        self.webhooks = WebhookDispatcher(store, clock)
        #: The service's metrics (the SOAP endpoint, the pages and the signing flow count here too).
        self.metrics = ServiceMetrics()
        self._demo_consumer: Any = None
        m = store.models
        self._select_request = Prepared(
            store.db,
            m.SignRequest.select(
                m.SignRequest.request_id,
                m.SignRequest.consumer,
                m.SignRequest.status,
                m.SignRequest.expires_at,
                m.SignRequest.failure_reason,
            ).where(m.SignRequest.request_id == slot("request_id")),
        )
        # GetSignResponse reads a request and its results in one statement.
        self._select_request_results = Prepared(
            store.db,
            m.SignRequest.select(
                m.SignRequest.request_id,
                m.SignRequest.consumer,
                m.SignRequest.status,
                m.SignRequest.expires_at,
                m.SignRequest.failure_reason,
                m.SignContent.position,
                m.SignContent.correlation_id,
                m.SignResult.certificate,
                m.SignResult.signature,
            )
            .join(m.SignContent, pw.JOIN.LEFT_OUTER, on=(m.SignContent.request == m.SignRequest.request_id))
            .join(
                m.SignResult,
                pw.JOIN.LEFT_OUTER,
                on=(m.SignResult.request == m.SignRequest.request_id)
                & (m.SignResult.position == m.SignContent.position),
            )
            .where(m.SignRequest.request_id == slot("request_id"))
            .order_by(m.SignContent.position),
        )
        self._insert_request = PreparedInsert(store.db, m.SignRequest, _REQUEST_COLUMNS)
        self._insert_content = PreparedInsert(store.db, m.SignContent, _CONTENT_COLUMNS)
        self.limits = Limits(
            max_contents=config.max_contents,
            max_content_bytes=config.max_content_bytes,
            max_total_content_bytes=config.max_total_content_bytes,
        )

    # -- consumers -------------------------------------------------------

    def demo_consumer(self) -> Any:
        """The built-in demo consumer of the embedded default, created on first use.

        Its row never changes once created, so it is read once per process.
        """
        if self._demo_consumer is None:
            self._demo_consumer = self._load_demo_consumer()
        return self._demo_consumer

    def _load_demo_consumer(self) -> Any:
        Consumer = self.store.models.Consumer
        with self.store.db.connection_context():
            consumer = Consumer.get_or_none(Consumer.is_demo == True)  # noqa: E712
            if consumer is None:
                try:
                    consumer = Consumer.create(name="demo", is_demo=True, created_at=self.clock())
                except pw.IntegrityError:  # created concurrently
                    consumer = Consumer.get(Consumer.is_demo == True)  # noqa: E712
        return consumer

    def add_consumer(self, name: str, return_url_prefixes: Sequence[str] = ()) -> Any:
        """Register a consumer; certificates arrive with mutual TLS."""
        with self.store.db.connection_context():
            return self.store.models.Consumer.create(
                name=name, return_url_prefixes="\n".join(return_url_prefixes), created_at=self.clock()
            )

    # -- the contract's operations ------------------------------------------

    def post(self, consumer: Any, request: SignRequestInput | None, *, address: str | None = None) -> str:
        """Validate and store a sign request; return its new RequestID.

        :raises InvalidParameter: nothing is stored then.
        """
        valid = validate_sign_request(request, self.limits)
        now = self.clock()
        signer = valid.expected_signer
        request_id = new_request_id()
        with self.store.db.connection_context(), self.store.write():
            self._insert_request.execute(
                {
                    "request_id": request_id,
                    "consumer": consumer.id,
                    "status": SignStatus.PENDING.value,
                    "content_type": valid.content_type.value,
                    "content_description": valid.content_description,
                    "short_content_description": valid.short_content_description,
                    "signature_reason": valid.signature_reason,
                    "has_expected_signer": signer is not None,
                    "expected_signer_id": signer.id if signer else None,
                    "delegator_type": valid.delegator_type.value,
                    "delegator_id": signer.delegator_id if signer else None,
                    "delegated_role_id": (signer.delegated_role_id or 0) if signer else 0,
                    "created_at": now,
                    "expires_at": now + timedelta(seconds=self.config.request_lifetime),
                    "documents_deleted": False,
                }
            )
            self._insert_content.execute(
                *(
                    {
                        "request": request_id,
                        "position": position,
                        "correlation_id": c.correlation_id,
                        "name": c.name,
                        "multiple_signatures": c.multiple_signatures,
                        "content": c.content,
                        "content_size": len(c.content),
                    }
                    for position, c in enumerate(valid.contents)
                )
            )
            detail = {"content_type": valid.content_type.value, "contents": len(valid.contents)}
            self.audit.record(
                Event.REQUEST_POSTED, consumer=consumer.name, request_id=request_id, address=address, detail=detail
            )
        log.info(
            "request %s posted by %s with %d contents",
            request_id,
            consumer.name,
            len(valid.contents),
            extra={"request_id": request_id, "consumer": consumer.name},
        )
        return request_id

    def get(
        self, consumer: Any, request_id: str | None, language: str | None, *, address: str | None = None
    ) -> SignResponse:
        """The state of a request and, once finished, its results (a fetch of
        a finished request is audited).

        :raises InvalidParameter: when ``request_id`` is nil or empty.
        :raises RequestNotFound: unknown or purged request.
        :raises AuthorizationFailed: another consumer posted it.
        """
        if not request_id:
            raise InvalidParameter("requestID", "is required")
        if not _is_request_id(request_id):
            raise RequestNotFound()
        with self.store.db.connection_context():
            rows = self._select_request_results.rows(request_id)
            if not rows:
                raise RequestNotFound()
            row = rows[0]
            if row.consumer != consumer.id:
                raise AuthorizationFailed()
            if row.status == SignStatus.PENDING.value and row.expires_at <= self.clock():
                self._finish(row.request_id, SignStatus.EXPIRED, finished_at=row.expires_at)
                rows = self._select_request_results.rows(request_id)
                row = rows[0]
        status = SignStatus(row.status)
        if status is SignStatus.PENDING:
            return SignResponse(status=status)
        self.audit.record(
            Event.RESULTS_FETCHED,
            consumer=consumer.name,
            request_id=request_id,
            address=address,
            detail={"status": status.value},
        )
        contents = [r for r in rows if r.position is not None]
        if status is SignStatus.SUCCESS:
            results = [SignResultOutput(c.correlation_id, bytes(c.certificate), bytes(c.signature)) for c in contents]
            return SignResponse(status=status, results=results)
        reason = messages.EXPIRED if status is SignStatus.EXPIRED else (row.failure_reason or messages.FAILED)
        return SignResponse(
            status=status,
            message=translate(reason, language),
            results=[SignResultOutput(c.correlation_id) for c in contents],
        )

    # -- transitions used by the signing flow -----------------------------

    def complete(
        self,
        request_id: str,
        results: Sequence[tuple[bytes, bytes | bytearray | memoryview]],
        *,
        unless_expired: bool = False,
    ) -> None:
        """Mark a Pending request Success with one (certificate, signature) per content.

        All results are written in the transaction that changes the state,
        each without a whole copy in the database driver (:func:`.insert_with_blob`).

        :param unless_expired: refuse a request whose lifetime has run out
            even though no one has marked it Expired yet, and mark it so.
        :raises RequestNotFound: unknown request.
        :raises RequestClosed: the request is no longer Pending (or has just
            expired, with ``unless_expired``).
        :raises MSignError: the count is wrong.
        """
        m = self.store.models
        closed: SignStatus | None = None
        with self.store.db.connection_context(), self.store.write():
            self._load(request_id)
            count = m.SignContent.select().where(m.SignContent.request == request_id).count()
            if len(results) != count:
                raise MSignError(f"request {request_id} has {count} contents, got {len(results)} results")
            if self._finish(request_id, SignStatus.SUCCESS, unexpired_at=self.clock() if unless_expired else None):
                for position, (certificate, signature) in enumerate(results):
                    values = {"request": request_id, "position": position, "certificate": certificate}
                    insert_with_blob(self.store.db, m.SignResult, values, "signature", signature)
            else:
                closed = self._close_if_expired(request_id)  # committed, unlike a raise in here
        if closed is not None:
            raise RequestClosed(request_id, closed.value)

    def fail(self, request_id: str, reason: str = messages.FAILED, *, unless_expired: bool = False) -> None:
        """Mark a Pending request Failure; ``reason`` is a message ID of :mod:`~msign_soap.i18n.messages`.

        :param unless_expired: as for :meth:`complete`.
        :raises RequestClosed: the request is no longer Pending (or has just
            expired, with ``unless_expired``).
        """
        closed: SignStatus | None = None
        with self.store.db.connection_context(), self.store.write():
            self._load(request_id)
            unexpired_at = self.clock() if unless_expired else None
            if not self._finish(request_id, SignStatus.FAILURE, unexpired_at=unexpired_at, failure_reason=reason):
                closed = self._close_if_expired(request_id)
        if closed is not None:
            raise RequestClosed(request_id, closed.value)

    def expire(self, request_id: str) -> None:
        """End a Pending request's lifetime now: it is marked Expired as the
        maintenance pass marks an overdue one (the sandbox's ``expire`` outcome).

        :raises RequestNotFound: unknown request.
        :raises RequestClosed: the request is no longer Pending.
        """
        closed: SignStatus | None = None
        with self.store.db.connection_context(), self.store.write():
            end = min(self._load(request_id).expires_at, self.clock())  # an overdue one ended then
            if not self._finish(request_id, SignStatus.EXPIRED, expires_at=end, finished_at=end):
                closed = SignStatus(self._load(request_id).status)
        if closed is not None:
            raise RequestClosed(request_id, closed.value)

    def open_request(self, request_id: str) -> Any:
        """The row of a request the signing flow may still work on.

        A Pending request whose lifetime has run out is marked Expired here.

        :return: the request's row (``request_id``, ``status``, ``expires_at`` …).
        :raises RequestNotFound: unknown request.
        :raises RequestClosed: not Pending, or has just expired.
        """
        with self.store.db.connection_context():
            row = self._load(request_id)
            if row.status == SignStatus.PENDING.value and row.expires_at > self.clock():
                return row
            with self.store.write():
                status = self._close_if_expired(request_id)
        raise RequestClosed(request_id, status.value)

    def run_maintenance(self) -> MaintenanceReport:
        """Expire overdue requests, delete old documents, purge old results."""
        m, db = self.store.models, self.store.db
        now = self.clock()
        with db.connection_context():
            overdue = m.SignRequest.select(m.SignRequest.request_id, m.SignRequest.expires_at).where(
                (m.SignRequest.status == SignStatus.PENDING.value) & (m.SignRequest.expires_at <= now)
            )
            expired = sum(
                self._finish(r.request_id, SignStatus.EXPIRED, unexpired_at=None, finished_at=r.expires_at)
                for r in list(overdue)
            )
            # Locking reads: another worker's pass waits, then finds the work done.
            with self.store.write():
                stale = m.SignRequest.select(m.SignRequest.request_id).where(
                    (m.SignRequest.finished_at <= now - timedelta(seconds=self.config.document_retention))
                    & (m.SignRequest.documents_deleted == False)  # noqa: E712
                )
                ids = [r.request_id for r in locking(db, stale.order_by(m.SignRequest.request_id))]
                if ids:
                    # drafts hold copies of the documents (prepared PDFs), and so do
                    # the local signer's results of a request that ended otherwise
                    m.SignDraft.delete().where(m.SignDraft.request.in_(ids)).execute()
                    m.LocalSignerResult.delete().where(m.LocalSignerResult.request.in_(ids)).execute()
                    m.SignContent.update(content=None).where(m.SignContent.request.in_(ids)).execute()
                    m.SignRequest.update(documents_deleted=True).where(m.SignRequest.request_id.in_(ids)).execute()
            with self.store.write():
                old = m.SignRequest.select(m.SignRequest.request_id).where(
                    m.SignRequest.finished_at <= now - timedelta(seconds=self.config.result_retention)
                )
                purge = [r.request_id for r in locking(db, old.order_by(m.SignRequest.request_id))]
                if purge:
                    m.SignDraft.delete().where(m.SignDraft.request.in_(purge)).execute()
                    m.SignSession.delete().where(m.SignSession.request.in_(purge)).execute()
                    m.SignPreparation.delete().where(m.SignPreparation.request.in_(purge)).execute()
                    m.SignResult.delete().where(m.SignResult.request.in_(purge)).execute()
                    m.SignContent.delete().where(m.SignContent.request.in_(purge)).execute()
                    m.SignRequest.delete().where(m.SignRequest.request_id.in_(purge)).execute()
        report = MaintenanceReport(expired=expired, documents_deleted=len(ids), purged=len(purge))
        if expired or ids or purge:
            log.info("maintenance: %s", report)
        return report

    # -- helpers -----------------------------------------------------------

    def _load(self, request_id: str) -> Any:
        if not _is_request_id(request_id):
            raise RequestNotFound()
        row = self._select_request.one(request_id)
        if row is None:
            raise RequestNotFound()
        return row

    def _finish(
        self, request_id: str, status: SignStatus, *, unexpired_at: datetime | None = None, **fields: Any
    ) -> bool:
        SignRequest = self.store.models.SignRequest
        fields.setdefault("finished_at", self.clock())
        condition = (SignRequest.request_id == request_id) & (SignRequest.status == SignStatus.PENDING.value)
        if unexpired_at is not None:
            condition &= SignRequest.expires_at > unexpired_at
        with self.store.write():
            changed = SignRequest.update(status=status.value, **fields).where(condition).execute()
            if changed:
                event, detail = _FINISHED[status], {}
                if status is SignStatus.FAILURE:
                    detail["reason"] = fields.get("failure_reason") or messages.FAILED
                self.audit.record(event, request_id=request_id, detail=detail)
                self.webhooks.enqueue(request_id, status.value)
        if changed:
            log.info("request %s is now %s", request_id, status.value, extra={"request_id": request_id})
            # the instrument of the page step that ended it; none for expiry, cancel, the CLI
            context = current()
            self.metrics.sign_request_finished(status.value, context.instrument if context else None)
        return bool(changed)

    def _close_if_expired(self, request_id: str) -> SignStatus:
        """The state of a request that could not be moved on: a Pending one
        past its lifetime is marked Expired (call inside a write transaction)."""
        row = self._load(request_id)
        if row.status == SignStatus.PENDING.value and row.expires_at <= self.clock():
            self._finish(request_id, SignStatus.EXPIRED, finished_at=row.expires_at)
            row = self._load(request_id)
        return SignStatus(row.status)
