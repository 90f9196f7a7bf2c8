"""Storage of the signing flow between its two steps: drafts, prepared PDFs, the signer.

Everything :meth:`~.signing.SigningService.finish` needs is in the database
(tables ``sign_preparation`` and ``sign_draft``, schema version 2), so the
step may run in any worker. The drafts hold copies of the documents and are
deleted with them (:meth:`~.requests.RequestService.run_maintenance`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import RequestNotFound, SigningError
from ..signing import PadesDraft, XadesDraft
from ..store import Store
from .model import SignStatus
from .signer_checks import SignerIdentity

__all__ = ["DraftStore", "RequestToSign", "StoredDraft"]

_XADES, _PADES = "xades", "pades"


@dataclass(frozen=True)
class StoredDraft:
    """One content's draft, with the prepared document for PAdES.

    Loaded drafts hold it as a ``bytearray``, which
    :func:`~msign_soap.signing.finish_pades` signs in place.
    """

    draft: XadesDraft | PadesDraft
    prepared: bytes | bytearray | None = None


@dataclass(frozen=True)
class RequestToSign:
    """A request's row and its contents' rows (``position``, ``correlation_id``, ``name``, ``content``)."""

    row: Any
    contents: list[Any]


class DraftStore:
    """Reads and writes the signing flow's rows."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load_request(self, request_id: str) -> RequestToSign:
        """The request and its contents, documents included.

        :raises RequestNotFound: it has just been purged.
        """
        m = self.store.models
        with self.store.db.connection_context():
            row = m.SignRequest.get_or_none(m.SignRequest.request_id == request_id)
            if row is None:
                raise RequestNotFound()
            contents = list(
                m.SignContent.select().where(m.SignContent.request == request_id).order_by(m.SignContent.position)
            )
        return RequestToSign(row, contents)

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
        m = self.store.models
        with self.store.db.connection_context(), self.store.write():
            row = (
                m.SignRequest.select(m.SignRequest.status, m.SignRequest.expires_at)
                .where(m.SignRequest.request_id == request_id)
                .first()
            )
            if row is None or row.status != SignStatus.PENDING.value or row.expires_at <= now:
                return False
            m.SignDraft.delete().where(m.SignDraft.request == request_id).execute()
            m.SignPreparation.delete().where(m.SignPreparation.request == request_id).execute()
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
                    prepared=stored.prepared,
                )
        return True

    def load_drafts(self, request_id: str) -> tuple[bytes, list[StoredDraft]]:
        """The signer's certificate and the drafts, in content order.

        :raises SigningError: the request has not been prepared, or a draft is damaged.
        """
        m = self.store.models
        with self.store.db.connection_context():
            preparation = m.SignPreparation.get_or_none(m.SignPreparation.request == request_id)
            rows = list(m.SignDraft.select().where(m.SignDraft.request == request_id).order_by(m.SignDraft.position))
            count = m.SignContent.select().where(m.SignContent.request == request_id).count()
        if preparation is None or not rows:
            raise SigningError("The request has not been prepared for signing")
        if [r.position for r in rows] != list(range(count)):
            raise SigningError("The stored drafts do not match the request's contents")
        drafts = []
        for r in rows:
            if r.kind == _XADES:
                drafts.append(StoredDraft(XadesDraft.from_json(r.draft)))
            elif r.kind == _PADES and r.prepared is not None:
                # The one copy, writable; the row lets go of sqlite3's bytes at once.
                prepared, r.prepared = bytearray(r.prepared), None
                drafts.append(StoredDraft(PadesDraft.from_json(r.draft), prepared))
            else:
                raise SigningError(f"The stored draft {r.position} is damaged")
        return bytes(preparation.certificate), drafts
