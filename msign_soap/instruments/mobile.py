"""The ``mobile`` instrument: the user's phone signs, through a mobile
signature service provider (MSSP) reached over HTTP with ETSI TS 102 204
messages (:mod:`.mssp`); one transaction per content, as MSign does it.

A request goes through these steps, each kept in the database
(``mobile_signing``, ``mobile_transaction``), so that any worker can serve
any poll:

1. :meth:`MobileSignature.start` (the user sent the form with the phone
   number, and the IDNP when ExpectedSigner.ID is absent): an
   ``MSS_ProfileQuery`` gives the SIM's certificate, which
   :meth:`~msign_soap.core.SigningService.prepare` checks (trust,
   revocation, ExpectedSigner, delegation) and names in every draft; each
   content's data to be signed becomes a transaction — its SHA-256 digest,
   the text to display and the verification code — and the first is sent
   as an ``MSS_Signature``.
2. :meth:`MobileSignature.poll` (the progress page reloads itself): an
   ``MSS_StatusQuery`` about the current content. Still outstanding: nothing,
   unless its time (``mssp_timeout``) is up → ``Failure`` ("not confirmed in
   time"). Signed: the value is kept and the next content is sent; after the
   last, :meth:`~msign_soap.core.SigningService.finish` time-stamps every
   signature and ends the request ``Success``. Refused on the phone
   (``USER_CANCEL``), expired at the MSSP, or a blocked SIM PIN → ``Failure``
   with that reason. An MSSP that does not answer is retried at the next
   poll while the time lasts.

The phone shows the request's ShortContentDescription cut to
:data:`DISPLAY_DESCRIPTION` characters, "(k/N)" for a batch, and the
verification code: four digits derived from the digest
(:func:`verification_code`, Mobile-ID's algorithm) that the page shows too,
so the user can tell that the phone signs what the page asked for. The MSSP
derives the code itself from the digest it received; it is never sent.

Sending is claimed by a conditional UPDATE, so that two workers polling at
once send each content once; of two finishing the request, one succeeds.

Left out: cancelling a transaction at the MSSP (TS 102 204 has no such
message; after Cancel on the page the phone's request runs out), and
notifications from the MSSP (``asynchServerServer``): the page polls.
"""

from __future__ import annotations

import logging
import secrets
import unicodedata
from datetime import timedelta
from typing import Any

from peewee import IntegrityError, fn

from ..core import SigningService, SignStatus, signer_identity
from ..core.trust import load_certificate
from ..errors import MSignError, MsspError, RequestClosed, SignerRejected, SigningRefused
from ..i18n import messages
from ..store.transactions import locking
from .api import MobileInstrument, MobileProgress
from .mssp import EXPIRED, OUTSTANDING, PIN_BLOCKED, SIGNATURE, USER_CANCEL, MsspClient

__all__ = ["DISPLAY_DESCRIPTION", "MobileSignature", "display_text", "verification_code"]

log = logging.getLogger(__name__)

#: Characters of the ShortContentDescription a phone shows (a SIM toolkit
#: screen; the rest is cut with "…").
DISPLAY_DESCRIPTION = 40
#: How long a start blocks another start of the same request (a double submit).
_START_LEASE = timedelta(seconds=60)
#: A claim to send that never got the MSSP's answer (a worker died) may be taken over after this.
_SEND_LEASE = timedelta(seconds=30)

#: Failure reasons by TS 102 204 status code of the transaction.
_FAILURES = {
    USER_CANCEL: messages.MOBILE_REFUSED,
    EXPIRED: messages.MOBILE_TIMEOUT,
    PIN_BLOCKED: messages.MOBILE_PIN_BLOCKED,
}


def verification_code(digest: bytes) -> str:
    """The four digits shown on the page and on the phone: the top 6 bits
    of the digest's first byte and the low 7 bits of its last (Mobile-ID)."""
    return f"{((digest[0] >> 2) << 7) | (digest[-1] & 0x7F):04d}"


#: Control characters (line breaks …) are spaces on the phone, format characters nothing.
_VISIBLE = {"Cc": " ", "Cf": ""}


def display_text(description: str, position: int, total: int, code: str) -> str:
    """What the phone shows for content ``position`` (0-based) of ``total``."""
    # no control or format characters (a bidi override could move the verification code on the screen)
    visible = "".join(_VISIBLE.get(unicodedata.category(c), c) for c in description)
    text = " ".join(visible.split())
    if len(text) > DISPLAY_DESCRIPTION:
        text = text[: DISPLAY_DESCRIPTION - 1].rstrip() + "…"
    if total > 1:
        text += f" ({position + 1}/{total})"
    return f"{text} · {code}"


class MobileSignature(MobileInstrument):
    """The mobile signature ``name`` through ``client``'s MSSP, signing with ``signing``.

    :param timeout: seconds the user has for each content (``mssp_timeout``).
    """

    def __init__(self, name: str, client: MsspClient, signing: SigningService, *, timeout: int = 180) -> None:
        super().__init__(name)
        self.client = client
        self.signing = signing
        self.timeout = timedelta(seconds=timeout)
        self.store = signing.requests.store
        self.clock = signing.requests.clock

    # -- start -----------------------------------------------------------------------

    def start(self, request_id: str, msisdn: str, idnp: str | None) -> MobileProgress:
        self.signing.requests.open_request(request_id)
        if not self._claim_start(request_id, msisdn, idnp):
            log.info("request %s: a mobile signing is being started already", request_id)
            return self._progress(request_id)
        try:
            certificates = self.client.profile(msisdn, idnp)
            if idnp is not None and _holder(certificates[0]) != idnp:
                # as the MSSP would answer: who holds which number is nobody's business
                raise MsspError(messages.MOBILE_UNKNOWN_USER, f"the SIM of {msisdn} is not {idnp}'s")
            items = self.signing.prepare(request_id, certificates[0], certificates[1:])
            description = self._description(request_id)
            M = self.store.models.MobileTransaction
            rows: list[dict[str, Any]] = []
            for item in items:
                code = verification_code(item.digest)
                rows.append(
                    {
                        "request": request_id,
                        "position": item.position,
                        "digest": item.digest,
                        "verification_code": code,
                        "display_text": display_text(description, len(rows), len(items), code),
                        "ap_trans_id": _transaction_id(),
                    }
                )
            with self.store.db.connection_context(), self.store.write():
                M.delete().where(M.request == request_id).execute()
                M.insert_many(rows).execute()
                self._signing_row().update(total=len(rows)).where(self._signing_row().request == request_id).execute()
            self._send(self._transactions(request_id)[0], msisdn, idnp)
            log.info("request %s: %d contents sent to the phone %s one by one", request_id, len(rows), msisdn)
        except BaseException:
            self._forget(request_id)  # nothing reached the phone: the page offers the form again
            raise
        self._release(request_id)
        return self._progress(request_id)

    def _claim_start(self, request_id: str, msisdn: str, idnp: str | None) -> bool:
        S, T = self._signing_row(), self.store.models.MobileTransaction
        now = self.clock()
        fields = {
            "msisdn": msisdn,
            "user_identifier": idnp,
            "total": 0,
            "busy_until": now + _START_LEASE,
            "started_at": now,
            "notice": None,
        }
        db = self.store.db
        with db.connection_context():
            try:
                with self.store.write():
                    # locked on PostgreSQL: a start at the same moment reads this one's lease
                    row = locking(db, S.select().where(S.request == request_id)).first()
                    if row is not None and row.busy_until is not None and row.busy_until > now:
                        return False
                    # a new start replaces the last one: its transactions are forgotten
                    T.delete().where(T.request == request_id).execute()
                    if row is None:
                        S.insert(request=request_id, **fields).execute()
                    else:
                        S.update(**fields).where(S.request == request_id).execute()
            except IntegrityError:  # the first start, made at the same moment by another worker
                return False
        return True

    def _release(self, request_id: str) -> None:
        S = self._signing_row()
        with self.store.db.connection_context(), self.store.write():
            S.update(busy_until=None).where(S.request == request_id).execute()

    def _forget(self, request_id: str) -> None:
        S, T = self._signing_row(), self.store.models.MobileTransaction
        with self.store.db.connection_context(), self.store.write():
            T.delete().where(T.request == request_id).execute()
            S.delete().where(S.request == request_id).execute()

    # -- poll ------------------------------------------------------------------------

    def poll(self, request_id: str) -> MobileProgress | None:
        S = self._signing_row()
        with self.store.db.connection_context():
            session = S.get_or_none(S.request == request_id)
        if session is None:
            return None
        try:
            self.signing.requests.open_request(request_id)
        except RequestClosed:
            return self._progress(request_id)
        transactions = self._transactions(request_id)
        current = next((t for t in transactions if t.signature is None), None)
        if not transactions:
            being_started = session.busy_until is not None and session.busy_until > self.clock()
            return self._progress(request_id) if being_started else None
        if current is None:
            self._finish(request_id, transactions)
            return self._progress(request_id)
        if current.mssp_trans_id is None:
            self._send_or_fail(current, session)
            return self._progress(request_id)
        now = self.clock()
        try:
            status = self.client.status(current.mssp_trans_id)
        except MsspError as e:
            if e.code is not None:
                self._fail(request_id, messages.MOBILE_FAILED, e)
            elif current.deadline is not None and now > current.deadline:
                self._fail(request_id, messages.MOBILE_TIMEOUT, e)
            else:
                log.warning("request %s: status query failed: %s", request_id, e.detail)
                self._notice(request_id, e.message_id)
            return self._progress(request_id)
        if session.notice is not None:
            self._notice(request_id, None)
        if status.code == OUTSTANDING:
            if current.deadline is not None and now > current.deadline:
                self._fail(request_id, messages.MOBILE_TIMEOUT, f"content {current.position}: no answer in time")
        elif status.code == SIGNATURE and status.signature:
            if self._keep(current, status.signature):
                following = next((t for t in transactions if t.position > current.position), None)
                if following is None:
                    self._finish(request_id, self._transactions(request_id))
                else:
                    self._send_or_fail(following, session)
        else:
            reason = _FAILURES.get(status.code, messages.MOBILE_FAILED)
            self._fail(request_id, reason, f"content {current.position}: {status.code} {status.message}")
        return self._progress(request_id)

    def _send_or_fail(self, transaction: Any, session: Any) -> None:
        try:
            self._send(transaction, session.msisdn, session.user_identifier)
        except MsspError as e:
            if e.code is None and self._past_deadline(transaction):
                self._fail(transaction.request_id, messages.MOBILE_TIMEOUT, e)
            elif e.code is None:  # not reached: the next poll tries again
                log.warning("request %s: MSS_Signature failed: %s", transaction.request_id, e.detail)
                self._notice(transaction.request_id, e.message_id)
            else:
                reason = _FAILURES.get(e.code, messages.MOBILE_FAILED)
                self._fail(transaction.request_id, reason, e)
        else:
            if session.notice is not None:
                self._notice(transaction.request_id, None)

    def _past_deadline(self, transaction: Any) -> bool:
        """Whether the user's time for ``transaction`` (from its first sending) is up."""
        T = self.store.models.MobileTransaction
        with self.store.db.connection_context():
            deadline = T.select(T.deadline).where(T.id == transaction.id).scalar()
        return deadline is not None and self.clock() > deadline

    def _send(self, transaction: Any, msisdn: str, idnp: str | None) -> None:
        """Send ``transaction`` to the phone unless another worker is doing so."""
        T = self.store.models.MobileTransaction
        now = self.clock()
        ap_trans_id = _transaction_id()  # a fresh one for each attempt: the MSSP may have seen the last
        with self.store.db.connection_context(), self.store.write():
            claimed = (
                # the first attempt's deadline stays: retries do not give the user more time
                T.update(sent_at=now, deadline=fn.COALESCE(T.deadline, now + self.timeout), ap_trans_id=ap_trans_id)
                .where(
                    (T.id == transaction.id)
                    & T.mssp_trans_id.is_null()
                    & (T.sent_at.is_null() | (T.sent_at < now - _SEND_LEASE))
                )
                .execute()
            )
        if not claimed:
            return
        try:
            mssp_trans_id = self.client.signature(
                msisdn,
                bytes(transaction.digest),
                transaction.display_text,
                transaction_id=ap_trans_id,
                timeout=int(self.timeout.total_seconds()),
                user_identifier=idnp,
            )
        except MsspError:
            with self.store.db.connection_context(), self.store.write():
                T.update(sent_at=None).where((T.id == transaction.id) & (T.ap_trans_id == ap_trans_id)).execute()
            raise
        with self.store.db.connection_context(), self.store.write():
            T.update(mssp_trans_id=mssp_trans_id).where(T.id == transaction.id).execute()
        log.info(
            "request %s: content %d sent to %s (%s)",
            transaction.request_id,
            transaction.position,
            msisdn,
            mssp_trans_id,
        )

    def _keep(self, transaction: Any, signature: bytes) -> bool:
        """Store the phone's signature; False if another worker already did."""
        T = self.store.models.MobileTransaction
        with self.store.db.connection_context(), self.store.write():
            kept = (
                T.update(signature=signature)
                .where(
                    (T.id == transaction.id) & T.signature.is_null() & (T.mssp_trans_id == transaction.mssp_trans_id)
                )
                .execute()
            )
        return bool(kept)

    def _finish(self, request_id: str, transactions: list[Any]) -> None:
        try:
            self.signing.finish(request_id, [bytes(t.signature) for t in transactions])
            log.info("request %s: signed on the phone", request_id)
        except (RequestClosed, SigningRefused) as e:
            log.info("request %s: mobile signing ended: %s", request_id, e.reason)
        except MSignError as e:
            # a TSA that is down, say: the request stays Pending, the next poll tries again
            log.warning("request %s: finishing the mobile signatures failed: %s", request_id, e.reason)

    def _fail(self, request_id: str, reason: str, detail: object) -> None:
        log.info("request %s: mobile signing failed (%s): %s", request_id, reason, detail)
        try:
            self.signing.requests.fail(request_id, reason, unless_expired=True)
        except RequestClosed:
            pass

    def _notice(self, request_id: str, notice: str | None) -> None:
        S = self._signing_row()
        # written only when it changes: most polls find nothing to say
        changed = S.notice.is_null(False) if notice is None else (S.notice.is_null() | (S.notice != notice))
        with self.store.db.connection_context(), self.store.write():
            S.update(notice=notice).where((S.request == request_id) & changed).execute()

    # -- reading ---------------------------------------------------------------------

    def _signing_row(self) -> Any:
        return self.store.models.MobileSigning

    def _transactions(self, request_id: str) -> list[Any]:
        T = self.store.models.MobileTransaction
        with self.store.db.connection_context():
            return list(T.select().where(T.request == request_id).order_by(T.position))

    def _description(self, request_id: str) -> str:
        R = self.store.models.SignRequest
        with self.store.db.connection_context():
            return str(R.get_by_id(request_id).short_content_description)

    def _progress(self, request_id: str) -> MobileProgress:
        S, R = self._signing_row(), self.store.models.SignRequest
        with self.store.db.connection_context():
            session = S.get_or_none(S.request == request_id)
            request = R.get_or_none(R.request_id == request_id)
        transactions = self._transactions(request_id)
        current = next((t for t in transactions if t.signature is None), None)
        return MobileProgress(
            msisdn=session.msisdn if session else "",
            signed=sum(t.signature is not None for t in transactions),
            total=len(transactions) or (session.total if session else 0),
            verification_code=current.verification_code if current is not None else None,
            notice=session.notice if session else None,
            finished=request is None or request.status != SignStatus.PENDING.value,
        )


def _transaction_id() -> str:
    # an NCName, as TS 102 204 wants AP_TransID
    return "T" + secrets.token_hex(16)


def _holder(certificate: bytes) -> str | None:
    try:
        return signer_identity(load_certificate(certificate)).idnp
    except SignerRejected:
        return None
