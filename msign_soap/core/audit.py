"""The audit trail: an append-only, hash-chained record of what happened to
sign requests and consumers, its head time-stamped now and then (RFC 3161).

Each row holds a sequence number, a time, an :class:`Event`, the consumer's
name, the RequestID, the client's IP address and a few non-secret facts
(``detail``): never PINs, keys or document bytes (:mod:`.audit_events`
names the events and keeps secrets out). Its ``row_hash`` is
the SHA-256 of its canonical encoding: the compact JSON array of a version
label, the sequence number, the previous row's hash, the time and the other
fields (:func:`row_hash`), so each row commits to every row before it.

Appends are serialized across processes and hosts by the database: SQLite's
write lock taken at ``BEGIN IMMEDIATE``, on PostgreSQL a transaction-level
advisory lock, held while the head is read and the next row inserted; the
sequence number is the primary key, so even without the lock two appends
could not both extend the same head (no fork).

:meth:`AuditTrail.anchor` has a TSA time-stamp the head's hash and stores
the token with the number of rows it covers. :meth:`AuditTrail.verify`
recomputes the chain and checks every anchor: the token's imprint is the
hash of row ``row_count``, the TSA's CMS signature verifies with the
certificate the token carries (which must be a time-stamping certificate)
and, given a certificate checker, that certificate chains to its trust
anchors at the token's time.

Detected: a changed field (the row's hash), a deleted row (a gap in the
sequence), rows replaced by a recomputed chain (the next row's link, or an
anchor's head hash), rows cut off the end up to the latest anchor, a forged
or altered anchor. Left out: the chain has no secret key, so whoever may
write the database can rebuild it; what such a rewrite cannot match is the
anchors. Rows appended since the latest anchor, and a tail deleted together
with the anchors covering it, are only as safe as the database: each anchor
is logged (row count and head hash) so that a copy outside the database
exposes the latter. A TSA certificate is checked against the trust anchors
once per verification, at the time of its first token.
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import peewee as pw
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.validation.generic_cms import extract_certificate_info, extract_signer_info, validate_sig_integrity

from ..errors import ConfigurationError, MSignError, SignerRejected, TimestampError
from ..signing.timestamp import Timestamper, check_token_imprint
from ..store import Store
from ..store.prepared import Prepared, PreparedInsert
from ..store.transactions import advisory_lock
from .audit_events import Event, clean_detail, client_address, consumer_name, event_name, request_id_of
from .trust import CertificateChecker

__all__ = [
    "GENESIS",
    "Anchor",
    "AuditProblem",
    "AuditRecord",
    "AuditReport",
    "AuditTrail",
    "Event",
    "Problem",
    "clean_detail",
    "row_hash",
]

log = logging.getLogger(__name__)

#: The previous hash of the first row.
GENESIS = "0" * 64
_COLUMNS = ("sequence", "previous_hash", "at", "event", "consumer", "request_id", "address", "detail", "row_hash")
#: The first element of every row's canonical encoding (changes with the encoding).
_ENCODING = "msign-soap audit trail v1"
#: Key of the PostgreSQL advisory lock serializing appends ("msignaud").
#: Key of the lock around appends ("msignaud").
_LOCK_KEY = 0x6D7369676E617564
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


class Problem(enum.StrEnum):
    """What :meth:`AuditTrail.verify` found wrong."""

    #: A row's fields do not give its hash: a field was changed, or the row moved.
    EDITED = "edited"
    #: Rows are missing from the sequence: deleted.
    MISSING = "missing"
    #: A row's previous hash is not the hash of the row before: rows were
    #: replaced, or rewritten with recomputed hashes.
    UNLINKED = "unlinked"
    #: An anchor covers more rows than there are: the end was cut off.
    TRUNCATED = "truncated"
    #: The row an anchor covers is not the one time-stamped: the chain was rebuilt.
    ANCHOR_MISMATCH = "anchor mismatch"
    #: An anchor's token is not a valid time-stamp of its head hash.
    ANCHOR_INVALID = "anchor invalid"


@dataclass(frozen=True)
class AuditRecord:
    """One row of the trail; ``at`` is naive UTC."""

    sequence: int
    at: datetime
    event: str
    consumer: str | None
    request_id: str | None
    address: str | None
    detail: dict[str, Any]
    previous_hash: str
    row_hash: str

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (``at`` in ISO 8601 with ``Z``)."""
        return {**asdict(self), "at": _time_text(self.at) + "Z"}


@dataclass(frozen=True)
class Anchor:
    """A time-stamp of the trail's head: ``row_count`` rows, the last with
    ``head_hash``; ``time`` is the token's (aware UTC), ``anchored_at`` the
    service's clock when it was stored (naive UTC)."""

    row_count: int
    head_hash: str
    time: datetime
    anchored_at: datetime


@dataclass(frozen=True)
class AuditProblem:
    """The first thing wrong: which row (for an anchor, the row count it covers), what, and a sentence."""

    kind: Problem
    sequence: int
    detail: str


@dataclass(frozen=True)
class AuditReport:
    """What :meth:`AuditTrail.verify` found.

    :ivar rows: the rows in the trail.
    :ivar anchors: the anchors stored.
    :ivar latest_anchor: the latest anchor checked good, if any.
    :ivar tsa_checked: whether the anchors' TSA certificates were checked
        against trust anchors (a certificate checker was given).
    """

    rows: int
    anchors: int
    problem: AuditProblem | None
    latest_anchor: Anchor | None
    tsa_checked: bool

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return self.problem is None

    def __str__(self) -> str:
        if self.problem is not None:
            p = self.problem
            return f"audit trail NOT intact: {p.kind.value} at row {p.sequence}: {p.detail}"
        text = f"audit trail intact: {_count(self.rows, 'row')}, {_count(self.anchors, 'anchor')}"
        if self.latest_anchor is not None:
            a = self.latest_anchor
            text += (
                f"; latest anchor: {_count(a.row_count, 'row')}, head {a.head_hash},"
                f" time-stamped {a.time.isoformat()}; {_count(self.rows - a.row_count, 'row')} since"
            )
        else:
            text += "; never time-stamped: a cut-off end is not detectable"
        if self.anchors and not self.tsa_checked:
            text += " (TSA certificate not checked against trust anchors)"
        return text

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        latest = self.latest_anchor
        return {
            "ok": self.ok,
            "rows": self.rows,
            "anchors": self.anchors,
            "tsa_checked": self.tsa_checked,
            "problem": None if self.problem is None else {**asdict(self.problem), "kind": self.problem.kind.value},
            "latest_anchor": None
            if latest is None
            else {
                "row_count": latest.row_count,
                "head_hash": latest.head_hash,
                "time": latest.time.isoformat(),
                "anchored_at": _time_text(latest.anchored_at) + "Z",
            },
        }


def row_hash(
    sequence: int,
    previous_hash: str,
    at: datetime | str,
    event: str,
    consumer: str | None,
    request_id: str | None,
    address: str | None,
    detail: str,
) -> str:
    """The SHA-256 (hexadecimal) of a row's canonical encoding: the compact
    JSON array (UTF-8, no spaces) of the version label and the arguments in
    this order, ``at`` as ``YYYY-MM-DDTHH:MM:SS.ffffff`` (naive UTC) and
    ``detail`` as stored (its canonical JSON text).
    """
    fields = [_ENCODING, sequence, previous_hash, _time_text(at), event, consumer, request_id, address, detail]
    encoded = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


class AuditTrail:
    """The audit trail of one database.

    :param store: the database.
    :param clock: the current time, naive UTC (the request service's clock).
    :param timestamper: the TSA that :meth:`anchor` asks; none: no anchoring.
    """

    def __init__(self, store: Store, clock: Callable[[], datetime], timestamper: Timestamper | None = None) -> None:
        self.store = store
        self.clock = clock
        self.timestamper = timestamper
        model = store.models.AuditEvent
        # SQL made once: appends sit on the SOAP operations' path.
        self._select_head = Prepared(
            store.db, model.select(model.sequence, model.row_hash).order_by(model.sequence.desc()).limit(1)
        )
        self._insert = PreparedInsert(store.db, model, _COLUMNS)

    def record(
        self,
        event: Event | str,
        *,
        consumer: str | None = None,
        request_id: str | None = None,
        address: str | None = None,
        detail: Mapping[str, object] | None = None,
    ) -> AuditRecord:
        """Append an event.

        Call it outside any transaction or inside a write one
        (``store.write()``): then the event is stored, or rolled back, with
        what it records. On SQLite a transaction that has read without the
        write lock cannot take it afterwards.

        :param consumer: the consumer's name.
        :param request_id: the RequestID concerned.
        :param address: the client's IP address.
        :param detail: a few non-secret facts (see :func:`clean_detail`).
        :raises InvalidParameter: an unknown event, a malformed RequestID or
            address, a fact refused by :func:`clean_detail`.
        """
        name = event_name(event)
        consumer = consumer_name(consumer)
        request_id = request_id_of(request_id)
        address = client_address(address)
        facts = clean_detail(detail)
        text = json.dumps(facts, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        at = _naive_utc(self.clock())
        db = self.store.db
        # Inside the caller's write transaction as it is (a savepoint costs two statements).
        with db.connection_context(), contextlib.nullcontext() if db.in_transaction() else self.store.write():
            self._lock()
            head = self._select_head.one()
            sequence, previous = (head.sequence + 1, head.row_hash) if head else (1, GENESIS)
            digest = row_hash(sequence, previous, at, name, consumer, request_id, address, text)
            row = {
                "sequence": sequence,
                "previous_hash": previous,
                "at": at,
                "event": name,
                "consumer": consumer,
                "request_id": request_id,
                "address": address,
                "detail": text,
                "row_hash": digest,
            }
            try:
                self._insert.execute(row)
            except pw.IntegrityError as e:  # only without the lock: refused rather than forked
                raise MSignError(f"audit row {sequence} was appended concurrently") from e
        return AuditRecord(sequence, at, name, consumer, request_id, address, facts, previous, digest)

    def history(self, request_id: str) -> list[AuditRecord]:
        """The events of a request, in the order they happened.

        :raises InvalidParameter: ``request_id`` is not a RequestID.
        """
        model = self.store.models.AuditEvent
        wanted = request_id_of(request_id)
        with self.store.db.connection_context():
            rows = model.select().where(model.request_id == wanted).order_by(model.sequence)
            return [_record(row) for row in rows]

    def records(self, event: Event | str | None = None) -> list[AuditRecord]:
        """The whole trail in order, or only its events of one kind."""
        model = self.store.models.AuditEvent
        with self.store.db.connection_context():
            rows = model.select().order_by(model.sequence)
            if event is not None:
                rows = rows.where(model.event == event_name(event))
            return [_record(row) for row in rows]

    def anchor(self) -> Anchor | None:
        """Have the TSA time-stamp the head's hash, unless the latest anchor
        already covers the head; the anchor, or None for an empty trail.

        :raises ConfigurationError: no time-stamper.
        :raises TimestampError: the TSA gave no token.
        """
        if self.timestamper is None:
            raise ConfigurationError("the audit trail has no TSA to anchor it (set tsa_url, or use the demo PKI)")
        m = self.store.models
        with self.store.db.connection_context():
            head = _head(m.AuditEvent)
            if head is None:
                return None
            latest = m.AuditAnchor.select().order_by(m.AuditAnchor.row_count.desc()).first()
            if latest is not None and latest.row_count >= head.sequence:
                return _anchor(latest)
            # no lock held while the TSA answers: appends go on meanwhile
            token = self.timestamper.timestamp(bytes.fromhex(head.row_hash))
            anchored_at = _naive_utc(self.clock())
            try:
                with self.store.write():
                    m.AuditAnchor.insert(
                        row_count=head.sequence, head_hash=head.row_hash, token=token, anchored_at=anchored_at
                    ).execute()
            except pw.IntegrityError:  # another process anchored this head meanwhile
                return _anchor(m.AuditAnchor.get(m.AuditAnchor.row_count == head.sequence))
        log.info("audit trail anchored: %d rows, head %s", head.sequence, head.row_hash)
        return Anchor(head.sequence, head.row_hash, _token_time(token), anchored_at)

    def verify(self, checker: CertificateChecker | None = None) -> AuditReport:
        """Recompute the chain and check the anchors (see the module docstring).

        :param checker: checks the TSA certificates of the anchors (the
            service's trust anchors); none: only their signatures are checked.
        :return: the report, with the first problem found.
        """
        m = self.store.models
        with self.store.db.connection_context():
            # anchors first: rows only grow, so every anchor read covers rows read after it
            anchors = list(m.AuditAnchor.select().order_by(m.AuditAnchor.row_count))
            anchored = {a.row_count for a in anchors}
            heads: dict[int, str] = {}
            rows, previous = 0, GENESIS
            for row in m.AuditEvent.select().order_by(m.AuditEvent.sequence).iterator():
                problem = _row_problem(row, rows + 1, previous)
                if problem is not None:
                    total = m.AuditEvent.select().count()
                    return AuditReport(total, len(anchors), problem, None, checker is not None)
                if row.sequence in anchored:
                    heads[row.sequence] = row.row_hash
                rows, previous = row.sequence, row.row_hash
        latest: Anchor | None = None
        tokens = _AnchorTokens(checker)
        for stored in anchors:
            problem = _anchor_problem(stored, rows, heads, tokens)
            if problem is not None:
                return AuditReport(rows, len(anchors), problem, latest, checker is not None)
            latest = _anchor(stored)
        return AuditReport(rows, len(anchors), None, latest, checker is not None)

    def _lock(self) -> None:
        """Serialize appends (inside the write transaction): held until it ends,
        so the next append on any host reads this one's row."""
        advisory_lock(self.store.db, _LOCK_KEY)


# -- checks -------------------------------------------------------------------


def _row_problem(row: Any, expected: int, previous: str) -> AuditProblem | None:
    if row.sequence != expected:
        missing = f"row {expected} is" if row.sequence == expected + 1 else f"rows {expected} to {row.sequence - 1} are"
        return AuditProblem(Problem.MISSING, expected, f"{missing} missing: deleted")
    fields = (row.at, row.event, row.consumer, row.request_id, row.address, row.detail)
    if row_hash(row.sequence, row.previous_hash, *fields) != row.row_hash:
        return AuditProblem(Problem.EDITED, row.sequence, "its fields do not give its hash: changed, or moved")
    if row.previous_hash != previous:
        return AuditProblem(
            Problem.UNLINKED,
            row.sequence,
            f"it does not follow row {expected - 1}: rows before it were replaced or rewritten",
        )
    return None


def _anchor_problem(anchor: Any, rows: int, heads: dict[int, str], tokens: _AnchorTokens) -> AuditProblem | None:
    count = anchor.row_count
    token_problem = tokens.problem(bytes(anchor.token), anchor.head_hash)
    if token_problem is not None:
        return AuditProblem(Problem.ANCHOR_INVALID, count, token_problem)
    if count > rows:
        return AuditProblem(
            Problem.TRUNCATED,
            count,
            f"an anchor time-stamped {_token_time(bytes(anchor.token)).isoformat()} covers {count} rows, "
            f"the trail has {rows}: its end was cut off",
        )
    if heads.get(count) != anchor.head_hash:
        return AuditProblem(
            Problem.ANCHOR_MISMATCH, count, "it is not the row time-stamped then: the chain was rebuilt up to here"
        )
    return None


class _AnchorTokens:
    """Checks the anchors' tokens, remembering what the tokens of one TSA
    share: which of their certificates signed (a time-stamping one?) and the
    checker's verdict on it.

    :param checker: checks the TSA certificates; none: only signatures are checked.
    """

    def __init__(self, checker: CertificateChecker | None) -> None:
        self.checker = checker
        self._signers: dict[bytes, tuple[asn1_x509.Certificate, list[asn1_x509.Certificate]] | str] = {}
        self._trusted: dict[bytes, str | None] = {}

    def problem(self, token: bytes, head_hash: str) -> str | None:
        """Why ``token`` is not a good time-stamp of ``head_hash``; None when it is."""
        try:
            check_token_imprint(token, bytes.fromhex(head_hash))
        except (TimestampError, ValueError):
            return "its token is not a time-stamp of the head hash it names"
        try:
            signed_data = cms.ContentInfo.load(token)["content"]
            tst_info = signed_data["encap_content_info"]["content"]
            signer_info = extract_signer_info(signed_data)
            signer = self._signer(signed_data, signer_info)
            if isinstance(signer, str):
                return signer
            certificate, others = signer
            digest = hashlib.new(signer_info["digest_algorithm"]["algorithm"].native, tst_info.contents).digest()
            intact, valid = validate_sig_integrity(signer_info, certificate, "tst_info", digest)
            time = _aware(tst_info.parsed["gen_time"].native)
        except (ValueError, TypeError, KeyError, AttributeError, NotImplementedError) as e:
            return f"its token does not verify ({e})"
        if not (intact and valid):
            return "the TSA's signature on its token does not verify"
        return self._trust(certificate, others, time)

    def _signer(
        self, signed_data: cms.SignedData, signer_info: cms.SignerInfo
    ) -> tuple[asn1_x509.Certificate, list[asn1_x509.Certificate]] | str:
        """The certificate that signed and the others, or why it may not sign tokens."""
        key = signed_data["certificates"].dump() + signer_info["sid"].dump()  # DER: self-delimiting
        if key not in self._signers:
            certificates = extract_certificate_info(signed_data)
            usages = certificates.signer_cert.extended_key_usage_value
            if usages is None or "time_stamping" not in usages.native:
                self._signers[key] = "its token is not signed with a time-stamping certificate"
            else:
                self._signers[key] = (certificates.signer_cert, certificates.other_certs)
        return self._signers[key]

    def _trust(
        self, certificate: asn1_x509.Certificate, others: list[asn1_x509.Certificate], time: datetime
    ) -> str | None:
        if self.checker is None:
            return None
        der = certificate.dump()
        if der not in self._trusted:
            try:
                self.checker.check(der, [c.dump() for c in others], time)
                self._trusted[der] = None
            except SignerRejected as e:
                self._trusted[der] = f"the TSA certificate of its token is not trusted ({e.detail or e.reason})"
        return self._trusted[der]


# -- helpers ------------------------------------------------------------------


def _head(model: Any) -> Any:
    """The last row's sequence number and hash; None for an empty trail."""
    return model.select(model.sequence, model.row_hash).order_by(model.sequence.desc()).first()


def _record(row: Any) -> AuditRecord:
    try:
        detail = json.loads(row.detail)
    except ValueError:
        detail = {"unreadable": row.detail}
    return AuditRecord(
        row.sequence,
        row.at,
        row.event,
        row.consumer,
        row.request_id,
        row.address,
        detail if isinstance(detail, dict) else {"unreadable": row.detail},
        row.previous_hash,
        row.row_hash,
    )


def _anchor(row: Any) -> Anchor:
    return Anchor(row.row_count, row.head_hash, _token_time(bytes(row.token)), row.anchored_at)


def _token_time(token: bytes) -> datetime:
    """The ``genTime`` of a token already checked readable, aware UTC."""
    info = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed
    return _aware(info["gen_time"].native)


def _naive_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _time_text(at: datetime | str) -> str:
    """How a row's time enters its hash; what is not a datetime (an edited cell) as it is."""
    return _naive_utc(at).strftime(_TIME_FORMAT) if isinstance(at, datetime) else str(at)
