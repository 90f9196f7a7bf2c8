"""Storage of the signing flow between its two steps: drafts, prepared PDFs, the signer.

Everything :meth:`~.signing.SigningService.finish` needs is in the database
(tables ``sign_preparation`` and ``sign_draft``, schema version 2), so the
step may run in any worker. A PAdES draft keeps only what its prepared PDF
appends to the content's document (the incremental update with the empty
signature, some kilobytes); loading puts the two together again. Drafts are
deleted with the documents (:meth:`~.requests.RequestService.run_maintenance`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import RequestNotFound, SigningError
from ..signing import PadesDraft, XadesDraft
from ..store import Store
from ..store.blobs import read_blob_into
from ..store.transactions import locking
from .model import SignStatus
from .signer_checks import SignerIdentity

__all__ = ["DraftStore", "RequestToSign", "StoredDraft"]

_XADES, _PADES = "xades", "pades"


@dataclass(frozen=True)
class StoredDraft:
    """One content's draft, with the prepared document for PAdES.

    The prepared document must begin with the content's document, as
    :func:`~msign_soap.signing.prepare_pades` makes it (only the rest is
    stored). Loaded drafts hold it as a ``bytearray``, which
    :func:`~msign_soap.signing.finish_pades` signs in place.
    """

    draft: XadesDraft | PadesDraft
    prepared: bytes | bytearray | memoryview | None = None


@dataclass(frozen=True)
class RequestToSign:
    """A request's row and its contents' rows (``id``, ``position``, ``correlation_id``, ``name``, ``content_size``)."""

    row: Any
    contents: list[Any]


class DraftStore:
    """Reads and writes the signing flow's rows."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load_request(self, request_id: str) -> RequestToSign:
        """The request and its contents, without their documents (see :meth:`document`).

        :raises RequestNotFound: it has just been purged.
        """
        m = self.store.models
        with self.store.db.connection_context():
            row = m.SignRequest.get_or_none(m.SignRequest.request_id == request_id)
            if row is None:
                raise RequestNotFound()
            contents = list(
                m.SignContent.select(
                    m.SignContent.id,
                    m.SignContent.position,
                    m.SignContent.correlation_id,
                    m.SignContent.name,
                    m.SignContent.content_size,
                )
                .where(m.SignContent.request == request_id)
                .order_by(m.SignContent.position)
            )
        return RequestToSign(row, contents)

    def document(self, content: Any) -> bytearray | None:
        """A content's document (a row of :meth:`load_request`), or ``None`` once deleted.

        Read straight into the buffer returned (:func:`.read_blob_into`): a
        SELECT would hold a second copy for a moment, enough to grow the heap
        by the size of the document.
        """
        document = bytearray(content.content_size)
        with self.store.db.connection_context(), memoryview(document) as view:
            if not read_blob_into(self.store.db, self.store.models.SignContent, "content", content.id, view):
                return None
        return document

    def replace(
        self,
        request_id: str,
        certificate: bytes,
        identity: SignerIdentity,
        drafts: Sequence[StoredDraft],
        now: datetime,
    ) -> bool:
        """Store the drafts and the signer, replacing an earlier preparation, in one transaction.

        :return: ``False`` (and nothing written) when the request is no longer
            Pending or its lifetime has run out.
        """
        m, db = self.store.models, self.store.db
        with db.connection_context(), self.store.write():
            # locked on PostgreSQL: another preparation (a double submit) waits, then replaces this one
            query = m.SignRequest.select(m.SignRequest.status, m.SignRequest.expires_at)
            row = locking(db, query.where(m.SignRequest.request_id == request_id)).first()
            if row is None or row.status != SignStatus.PENDING.value or row.expires_at <= now:
                return False
            m.SignDraft.delete().where(m.SignDraft.request == request_id).execute()
            m.SignPreparation.delete().where(m.SignPreparation.request == request_id).execute()
            sizes = dict(
                m.SignContent.select(m.SignContent.position, m.SignContent.content_size)
                .where(m.SignContent.request == request_id)
                .tuples()
            )
            m.SignPreparation.create(
                request=request_id,
                certificate=certificate,
                signer_idnp=identity.idnp,
                signer_idno=identity.idno,
                prepared_at=now,
            )
            for position, stored in enumerate(drafts):
                m.SignDraft.create(
                    request=request_id,
                    position=position,
                    kind=_XADES if isinstance(stored.draft, XadesDraft) else _PADES,
                    draft=stored.draft.to_json(),
                    prepared=None if stored.prepared is None else stored.prepared[sizes[position] :],
                )
        return True

    def load_drafts(self, request_id: str) -> tuple[bytes, list[StoredDraft]]:
        """The signer's certificate and the drafts, in content order.

        :raises SigningError: the request has not been prepared, or a draft is
            damaged, or a PDF's document has been deleted.
        """
        m = self.store.models
        with self.store.db.connection_context():
            preparation = m.SignPreparation.get_or_none(m.SignPreparation.request == request_id)
            rows = list(
                m.SignDraft.select(m.SignDraft.position, m.SignDraft.kind, m.SignDraft.draft)
                .where(m.SignDraft.request == request_id)
                .order_by(m.SignDraft.position)
            )
            count = m.SignContent.select().where(m.SignContent.request == request_id).count()
            if preparation is None or not rows:
                raise SigningError("The request has not been prepared for signing")
            if [r.position for r in rows] != list(range(count)):
                raise SigningError("The stored drafts do not match the request's contents")
            drafts = []
            for r in rows:
                if r.kind == _XADES:
                    drafts.append(StoredDraft(XadesDraft.from_json(r.draft)))
                elif r.kind == _PADES:
                    draft = PadesDraft.from_json(r.draft)
                    drafts.append(StoredDraft(draft, self._prepared_document(request_id, r.position, draft)))
                else:
                    raise SigningError(f"The stored draft {r.position} is damaged")
        return bytes(preparation.certificate), drafts

    def _prepared_document(self, request_id: str, position: int, draft: PadesDraft) -> bytearray:
        """The prepared PDF, writable: the content's document and the stored update, in one buffer.

        The document is read straight into the buffer (:func:`.read_blob_into`);
        a draft stored whole (before schema version 8) is taken as it is.
        """
        m = self.store.models
        row = (
            m.SignContent.select(m.SignContent.id, m.SignContent.content_size, m.SignDraft.prepared)
            .join(m.SignDraft, on=(m.SignDraft.request == m.SignContent.request) & (m.SignDraft.position == position))
            .where((m.SignContent.request == request_id) & (m.SignContent.position == position))
            .tuples()
            .first()
        )
        if row is None or row[2] is None:
            raise SigningError(f"The stored draft {position} is damaged")
        content_id, size, update = row
        if len(update) == draft.prepared_size:
            return bytearray(update)
        if size + len(update) != draft.prepared_size:
            raise SigningError(f"The stored draft {position} does not match its document")
        prepared = bytearray(draft.prepared_size)
        prepared[size:] = update
        with memoryview(prepared) as view:
            if not read_blob_into(self.store.db, m.SignContent, "content", content_id, view[:size]):
                raise SigningError(f"The document of content {position} has been deleted")
        return prepared
