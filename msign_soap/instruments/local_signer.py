"""The local-signer instruments ``moldsign`` and ``nationalid``: the key is on
the user's machine (a token or an eID card behind the MoldSign app, or
``msign-soap local-signer``), the sign page's script has it sign each content
(contract §3.3) and posts each result here. Nothing the browser posts is
trusted: :meth:`LocalSigner.accept` checks it all before keeping it.

For a ``Hash`` content the result is a XAdES document, accepted when
:func:`~msign_soap.verification.xades.verify_xades` over *this* content's
hash finds it VALID (the data reference is over the hash, the signature and
its properties verify, a path to the service's trust anchors, not revoked)
with a valid signature time-stamp (XAdES-T).

For a ``Pdf`` content the result is a PDF, accepted when

- it starts with the exact bytes posted for the content and adds exactly one
  incremental update (revision) to them;
- that update adds exactly one signature, and nothing else: of the objects
  the document had, it may change only the catalog's form (``/AcroForm``)
  and PAdES declarations, the form's field list, a page's annotation list
  (the new widget), the document information and XMP metadata; anything else
  it overwrites (page content, resources, other fields) is another change;
- the new signature's ``/ByteRange`` covers the whole file;
- :func:`~msign_soap.verification.pades.verify_pdf` finds the new signature
  VALID and time-stamped, and every earlier signature not altered by it (an
  earlier signature's own trust is the document's business, as when the
  service signs it).

Then, for both, the signer: its certificate must satisfy the request's
ExpectedSigner and delegation (:mod:`msign_soap.core.signer_checks`, as
for every instrument), and be the same for every content of the batch.

Outcomes (the decision of issue 4):

- a result that is not a valid time-stamped signature of the content —
  another document or hash, a damaged or altered signature, no time-stamp,
  other changes to the PDF — raises :class:`~msign_soap.errors.ResultRejected`
  and is not kept; the request stays ``Pending``: the fault is the signing
  application's (or the page's), and the user may try again;
- a refused *signer* — untrusted, revoked, expired, another person than
  ExpectedSigner, no delegation, another signer than the batch's earlier
  contents — ends the request ``Failure`` with the reason, as the other
  instruments do (:class:`~msign_soap.errors.SignerRejected`);
- the last content's result ends the request ``Success`` with every result
  (:meth:`~msign_soap.core.RequestService.complete`); the results wait in
  the database until then (:class:`LocalSignerResult` rows), so any worker
  can take any content, and are deleted once the request ends here.

Left out: a result for a request whose documents were deleted (never while
it is ``Pending``), PAdES levels above B-T in the result (a DSS update after
the signature is "another change"), a check of what a visible signature's
appearance stream draws inside its widget. Results kept for a request that
then ends otherwise (cancelled, expired, signed with another instrument) stay
until the request is purged (``result_retention``).
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, timedelta
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.xref import TrailerDictionary
from pyhanko.sign.fields import enumerate_sig_fields

from ..core import RequestService, SignerExpectation, SigningService, check_expected_signer, signer_identity
from ..core.model import ContentType, SignStatus
from ..core.trust import load_certificate
from ..errors import RequestClosed, RequestNotFound, ResultRejected, SignerRejected
from ..i18n import messages, pages
from ..store.transactions import locking
from ..verification.dss import PDF_DAMAGE
from ..verification.pades import verify_pdf
from ..verification.report import DocumentReport, SignatureReport, Verdict
from ..verification.trust import Trust
from ..verification.xades import verify_xades
from .api import LocalSignerInstrument, LocalSignerProgress

__all__ = ["LOCAL_SIGNER_NAMES", "MAX_XADES_BYTES", "PDF_GROWTH", "LocalSigner", "create_local_signers"]

log = logging.getLogger(__name__)

#: The contract's instruments that sign on the user's machine.
LOCAL_SIGNER_NAMES = ("moldsign", "nationalid")
#: Largest XAdES document accepted (a signature with a chain and a token is ~10 KiB).
MAX_XADES_BYTES = 1024 * 1024
#: Most bytes a signature may add to a PDF (the CMS with chain and token,
#: a visible appearance).
PDF_GROWTH = 4 * 1024 * 1024
#: How much earlier than the request a result's time-stamp may be (clocks differ).
CLOCK_SKEW = timedelta(minutes=5)

# What a result's verdict means: the result is refused (the request stays
# Pending), or the signer is (the request ends Failure).
_RESULT_VERDICTS = {
    Verdict.MALFORMED: pages.LOCAL_INVALID_SIGNATURE,
    Verdict.NO_SIGNATURES: pages.LOCAL_INVALID_SIGNATURE,
    Verdict.ALTERED: pages.LOCAL_INVALID_SIGNATURE,
    Verdict.HASH_MISMATCH: pages.LOCAL_WRONG_DOCUMENT,
    Verdict.TIMESTAMP_INVALID: pages.LOCAL_NO_TIMESTAMP,
}
_SIGNER_VERDICTS = {
    Verdict.REVOKED: messages.CERTIFICATE_REVOKED,
    Verdict.EXPIRED: messages.CERTIFICATE_EXPIRED,
    Verdict.NOT_TRUSTED: messages.CERTIFICATE_UNTRUSTED,
    Verdict.REVOCATION_UNKNOWN: messages.CERTIFICATE_UNTRUSTED,
}
# The one change a signature's update may make: a new signature field (and
# the form and widget that come with it), nothing that fills another field.
# What a signature's update may change in objects the document already had
# (any other overwritten object is "another change"): the catalog gains an
# /AcroForm, the /Extensions and /Version that declare PAdES (ESIC, ISO
# 32002) and XMP /Metadata, the form its /Fields and /SigFlags, a page its
# /Annots (the new widget); the document information dictionary and the XMP
# metadata stream may change (dates, producer): neither is shown on a page.
_CATALOG_KEYS = frozenset({"/AcroForm", "/Extensions", "/Version", "/Metadata"})
_ACROFORM_KEYS = frozenset({"/Fields", "/SigFlags", "/DR", "/DA"})
_PAGE_KEYS = frozenset({"/Annots"})
# What pyHanko's lenient reader raises on damaged files.


class LocalSigner(LocalSignerInstrument):
    """A local-signer instrument ``name`` (``moldsign`` or ``nationalid``).

    :param signing: the signing flow (its requests, delegations).
    :param trust: the service's trust anchors and revocation sources (the
        signing flow's :class:`~msign_soap.core.ChainChecker`).
    """

    def __init__(self, name: str, signing: SigningService, trust: Trust) -> None:
        super().__init__(name)
        self.signing = signing
        self.trust = trust

    @property
    def requests(self) -> RequestService:
        return self.signing.requests

    def progress(self, request_id: str) -> LocalSignerProgress:
        m = self.requests.store.models
        with self.requests.store.db.connection_context():
            status = m.SignRequest.select(m.SignRequest.status).where(m.SignRequest.request_id == request_id).scalar()
            if status is None:
                raise RequestNotFound()
            total = m.SignContent.select().where(m.SignContent.request == request_id).count()
            accepted = [
                r.position
                for r in m.LocalSignerResult.select(m.LocalSignerResult.position)
                .where(m.LocalSignerResult.request == request_id)
                .order_by(m.LocalSignerResult.position)
            ]
        if status == SignStatus.SUCCESS.value:
            return LocalSignerProgress(tuple(range(total)), total, finished=True)
        return LocalSignerProgress(tuple(accepted), total, finished=status != SignStatus.PENDING.value)

    def hashes(self, request_id: str) -> tuple[bytes, ...]:
        m = self.requests.store.models
        with self.requests.store.db.connection_context():
            request = m.SignRequest.get_or_none(m.SignRequest.request_id == request_id)
            if request is None:
                raise RequestNotFound()
            if request.content_type != ContentType.HASH.value:
                return ()
            rows = list(
                m.SignContent.select(m.SignContent.content)
                .where(m.SignContent.request == request_id)
                .order_by(m.SignContent.position)
            )
        if any(row.content is None for row in rows):
            return ()
        return tuple(bytes(row.content) for row in rows)

    def accept(self, request_id: str, position: int, document: bytes) -> LocalSignerProgress:
        self.requests.open_request(request_id)
        request, content = self._load(request_id, position)
        document = bytes(document)
        if request.content_type == ContentType.HASH.value:
            signature = self._check_xades(document, content)
        else:
            signature = self._check_pdf(document, content)
        assert signature.certificate is not None and signature.signed_at is not None  # _judge
        created = request.created_at.replace(tzinfo=UTC)
        if signature.signed_at < created - CLOCK_SKEW:
            # an old signature over the same bytes must not answer a new request
            raise ResultRejected(
                pages.LOCAL_INVALID_SIGNATURE, f"time-stamped {signature.signed_at}, before the request ({created})"
            )
        certificate = signature.certificate
        try:
            identity = signer_identity(load_certificate(certificate))
            check_expected_signer(identity, SignerExpectation.of(request), self.signing.delegations.allows)
            self._check_same_signer(request_id, position, certificate)
        except SignerRejected as e:
            log.info("request %s: local signer's signer refused: %s (%s)", request_id, e.message_id, e.detail)
            self._fail(request_id, e.message_id)
            raise
        self._keep(request_id, position, certificate, document)
        log.info("request %s: %s result for content %d accepted (%s)", request_id, self.name, position, identity.idnp)
        return self._complete_if_all_in(request_id)

    # -- the checks ----------------------------------------------------------

    def _check_xades(self, document: bytes, content: Any) -> SignatureReport:
        if len(document) > MAX_XADES_BYTES:
            raise ResultRejected(pages.LOCAL_INVALID_SIGNATURE, f"a XAdES document of {len(document)} bytes")
        report = verify_xades(document, bytes(content.content), self.trust)
        return self._judge(report, content.request_id, len(report.signatures) - 1)

    def _check_pdf(self, document: bytes, content: Any) -> SignatureReport:
        original = bytes(content.content)
        if len(document) > len(original) + PDF_GROWTH:
            raise ResultRejected(pages.LOCAL_DOCUMENT_CHANGED, f"{len(document) - len(original)} bytes added")
        if len(document) <= len(original) or not document.startswith(original):
            raise ResultRejected(pages.LOCAL_WRONG_DOCUMENT, "does not start with the posted PDF")
        field_name = _new_signature_field(original, document)
        report = verify_pdf(document, self.trust)
        for index, signature in enumerate(report.signatures):
            if signature.name != field_name and signature.verdict in (Verdict.ALTERED, Verdict.MALFORMED):
                raise ResultRejected(
                    pages.LOCAL_DOCUMENT_CHANGED, f"earlier signature {signature.name}: {signature.detail}"
                )
            if signature.name == field_name:
                return self._judge(report, content.request_id, index)
        raise ResultRejected(pages.LOCAL_INVALID_SIGNATURE, f"verification did not find {field_name}")

    def _judge(self, report: DocumentReport, request_id: str, index: int) -> SignatureReport:
        """The signature at ``index`` of ``report`` if VALID and time-stamped; else refuse the result or the signer."""
        if index < 0:
            raise ResultRejected(_RESULT_VERDICTS.get(report.verdict, pages.LOCAL_INVALID_SIGNATURE), report.detail)
        signature = report.signatures[index]
        if signature.verdict in _SIGNER_VERDICTS:
            reason = _SIGNER_VERDICTS[signature.verdict]
            log.info("request %s: local signer's certificate refused: %s", request_id, signature.detail)
            self._fail(request_id, reason)
            raise SignerRejected(reason, signature.detail)
        if not signature.valid:
            raise ResultRejected(
                _RESULT_VERDICTS.get(signature.verdict, pages.LOCAL_INVALID_SIGNATURE), signature.detail
            )
        if signature.signed_at is None or signature.certificate is None:
            raise ResultRejected(pages.LOCAL_NO_TIMESTAMP, "no signature time-stamp")
        return signature

    def _check_same_signer(self, request_id: str, position: int, certificate: bytes) -> None:
        m = self.requests.store.models
        with self.requests.store.db.connection_context():
            others = {
                bytes(r.certificate)
                for r in m.LocalSignerResult.select(m.LocalSignerResult.certificate).where(
                    (m.LocalSignerResult.request == request_id) & (m.LocalSignerResult.position != position)
                )
            }
        if others and others != {certificate}:
            raise SignerRejected(messages.SIGNER_CHANGED, f"content {position} signed by another certificate")

    # -- storage -------------------------------------------------------------

    def _load(self, request_id: str, position: int) -> tuple[Any, Any]:
        m = self.requests.store.models
        with self.requests.store.db.connection_context():
            request = m.SignRequest.get_or_none(m.SignRequest.request_id == request_id)
            content = m.SignContent.get_or_none(
                (m.SignContent.request == request_id) & (m.SignContent.position == position)
            )
        if request is None or content is None:
            raise RequestNotFound()
        if content.content is None:
            raise RequestClosed(request_id, request.status)
        return request, content

    def _keep(self, request_id: str, position: int, certificate: bytes, document: bytes) -> None:
        m, db = self.requests.store.models, self.requests.store.db
        with db.connection_context():
            with self.requests.store.write():
                # locked on PostgreSQL: the same result sent again at once waits, then replaces this one
                query = m.SignRequest.select(m.SignRequest.status).where(m.SignRequest.request_id == request_id)
                status = locking(db, query).scalar()
                if status != SignStatus.PENDING.value:
                    raise RequestClosed(request_id, str(status))
                # a result sent again (the page retried) replaces the earlier one
                m.LocalSignerResult.delete().where(
                    (m.LocalSignerResult.request == request_id) & (m.LocalSignerResult.position == position)
                ).execute()
                m.LocalSignerResult.insert(
                    request=request_id,
                    position=position,
                    certificate=certificate,
                    signature=document,
                    accepted_at=self.requests.clock(),
                ).execute()

    def _complete_if_all_in(self, request_id: str) -> LocalSignerProgress:
        # Counted after the insert's commit: of two workers keeping the last
        # two results at once, at least one sees them all; complete() lets
        # only one of them end the request.
        m = self.requests.store.models
        with self.requests.store.db.connection_context():
            total = m.SignContent.select().where(m.SignContent.request == request_id).count()
            rows = list(
                m.LocalSignerResult.select()
                .where(m.LocalSignerResult.request == request_id)
                .order_by(m.LocalSignerResult.position)
            )
        accepted = tuple(r.position for r in rows)
        if accepted != tuple(range(total)):
            return LocalSignerProgress(accepted, total)
        if len({bytes(r.certificate) for r in rows}) != 1:
            self._fail(request_id, messages.SIGNER_CHANGED)
            raise SignerRejected(messages.SIGNER_CHANGED, "the batch's results name several signers")
        try:
            self.requests.complete(
                request_id, [(bytes(r.certificate), bytes(r.signature)) for r in rows], unless_expired=True
            )
        except RequestClosed as e:
            if e.status != SignStatus.SUCCESS.value:
                raise
        self._forget(request_id)
        return LocalSignerProgress(accepted, total, finished=True)

    def _fail(self, request_id: str, reason: str) -> None:
        # RequestClosed when it ended meanwhile: that, not the refusal, is then the outcome
        self.requests.fail(request_id, reason, unless_expired=True)
        self._forget(request_id)

    def _forget(self, request_id: str) -> None:
        """Drop the kept results of a request that has ended (the copies of its documents)."""
        m = self.requests.store.models
        with self.requests.store.db.connection_context(), self.requests.store.write():
            m.LocalSignerResult.delete().where(m.LocalSignerResult.request == request_id).execute()


def create_local_signers(signing: SigningService, trust: Trust) -> dict[str, LocalSignerInstrument]:
    """The ``moldsign`` and ``nationalid`` instruments, by name, checking
    results against ``trust`` (the signing flow's checker)."""
    return {name: LocalSigner(name, signing, trust) for name in LOCAL_SIGNER_NAMES}


def _new_signature_field(original: bytes, signed: bytes) -> str:
    """The name of the one signature ``signed`` adds to ``original``, checking
    that it adds one revision holding only that signature, which covers the
    whole file.

    :raises ResultRejected: otherwise.
    """
    try:
        before = PdfFileReader(io.BytesIO(original), strict=False)
        after = PdfFileReader(io.BytesIO(signed), strict=False)
        old = {name for name, _, _ in enumerate_sig_fields(before, filled_status=True)}
        new = [(name, ref) for name, _, ref in enumerate_sig_fields(after, filled_status=True)]
        revisions = before.xrefs.total_revisions
        if after.xrefs.total_revisions != revisions + 1:
            raise ResultRejected(
                pages.LOCAL_DOCUMENT_CHANGED, f"{after.xrefs.total_revisions - revisions} revisions added, not one"
            )
        added = [(name, ref) for name, ref in new if name not in old]
        if len(added) != 1 or len(new) != len(old) + 1:
            raise ResultRejected(pages.LOCAL_INVALID_SIGNATURE, f"{len(new) - len(old)} signatures added, not one")
        [(field_name, field_ref)] = added
        byte_range = list(field_ref.get_object()["/V"].get_object()["/ByteRange"])
        if len(byte_range) != 4 or byte_range[0] != 0 or byte_range[2] + byte_range[3] != len(signed):
            raise ResultRejected(pages.LOCAL_DOCUMENT_CHANGED, f"the new signature covers {byte_range}, not the file")
        change = _other_change(before, after, field_ref)
    except PDF_DAMAGE as e:
        raise ResultRejected(pages.LOCAL_INVALID_SIGNATURE, f"unreadable PDF: {type(e).__name__}: {e}") from e
    if change is not None:
        raise ResultRejected(pages.LOCAL_DOCUMENT_CHANGED, change)
    return str(field_name)


def _other_change(before: PdfFileReader, after: PdfFileReader, field_ref: generic.IndirectObject) -> str | None:
    """What the last revision of ``after`` changes in the objects of ``before``
    besides adding the signature field ``field_ref``, or ``None``.

    New objects are free (the signature, its field and widget, appearance
    streams, a new form): they show only through the objects that refer to
    them, which this checks. (pyHanko's difference analysis does the like
    between two signed revisions, but needs a form in the older one.)
    """
    last = after.xrefs.total_revisions - 1
    if after.xrefs.refs_freed_in_revision(last):
        return "the update frees objects"
    field = field_ref.reference
    widgets = {field} | {kid.reference for kid in _raw_list(field_ref.get_object(), "/Kids")}
    root = _reference(before.trailer, "/Root")
    if _reference(after.trailer, "/Root") != root:
        # a new catalog would show other pages, and nothing of the original refers to it
        return "replaces the document catalog"
    info = _reference(before.trailer, "/Info")
    metadata = _reference(before.root, "/Metadata")
    acroform = _reference(before.root, "/AcroForm")
    for ref in after.xrefs.explicit_refs_in_revision(last):
        try:
            before.xrefs.get_last_change(ref)
        except KeyError:
            continue  # a new object
        old, new = before.get_object(ref), after.get_object(ref)
        if ref in (info, metadata):
            continue
        if ref == root:
            problem = _dict_change(old, new, _CATALOG_KEYS) or _form_change(before.root, after.root, widgets)
        elif ref == acroform:
            problem = _dict_change(old, new, _ACROFORM_KEYS) or _list_change(old, new, "/Fields", widgets)
        elif ref == field:  # an empty signature field of the document, filled
            problem = _dict_change(old, new, frozenset({"/V", "/AP", "/F"}))
        elif isinstance(old, generic.DictionaryObject) and old.get("/Type") == "/Page":
            problem = _dict_change(old, new, _PAGE_KEYS) or _list_change(old, new, "/Annots", widgets)
        elif isinstance(old, generic.ArrayObject) and isinstance(new, generic.ArrayObject):
            # an indirect /Annots or /Fields array
            extra = _appended(old, new)
            problem = None if extra is not None and extra <= widgets else f"changes the array {ref}"
        else:
            problem = f"overwrites object {ref.idnum} {ref.generation}"
        if problem:
            return problem
    return None


def _reference(container: generic.DictionaryObject | TrailerDictionary, key: str) -> generic.Reference | None:
    value = container.raw_get(key) if key in container else None
    return value.reference if isinstance(value, generic.IndirectObject) else None


def _raw_list(container: generic.PdfObject, key: str) -> list[generic.IndirectObject]:
    if not isinstance(container, generic.DictionaryObject) or key not in container:
        return []
    value = container[key]
    return [i for i in _raw_items(value) if isinstance(i, generic.IndirectObject)] if isinstance(value, list) else []


def _raw_items(array: list[Any]) -> list[Any]:
    """The items of a PDF array as written (references not followed)."""
    if isinstance(array, generic.ArrayObject):
        return [array.raw_get(i) for i in range(len(array))]
    return list(array)


def _dict_change(old: generic.PdfObject, new: generic.PdfObject, allowed: frozenset[str]) -> str | None:
    if not isinstance(old, generic.DictionaryObject) or not isinstance(new, generic.DictionaryObject):
        return "replaces a dictionary"
    for key in (set(old) | set(new)) - allowed:
        if (old.raw_get(key) if key in old else None) != (new.raw_get(key) if key in new else None):
            return f"changes {key}"
    return None


def _appended(old: list[Any], new: list[Any]) -> set[generic.Reference] | None:
    """The references ``new`` appends to ``old``, or ``None`` if it is not ``old`` plus references."""
    old, new = _raw_items(old), _raw_items(new)
    if len(new) < len(old) or new[: len(old)] != old:
        return None
    extra = new[len(old) :]
    if not all(isinstance(item, generic.IndirectObject) for item in extra):
        return None
    return {item.reference for item in extra}


def _list_change(
    old: generic.DictionaryObject, new: generic.DictionaryObject, key: str, widgets: set[generic.Reference]
) -> str | None:
    """``new[key]`` must be ``old[key]`` (or nothing) plus some of ``widgets``."""
    before = old[key] if key in old else generic.ArrayObject()
    after = new[key] if key in new else generic.ArrayObject()
    if not isinstance(before, list) or not isinstance(after, list):
        return f"{key} is not an array"
    extra = _appended(before, after)
    return None if extra is not None and extra <= widgets else f"changes {key}"


def _form_change(
    old_root: generic.DictionaryObject, new_root: generic.DictionaryObject, widgets: set[generic.Reference]
) -> str | None:
    """The catalog's /AcroForm: only the keys a signature needs, its /Fields
    the old ones plus the new field (checked here when the form is new or direct)."""
    new_form = new_root["/AcroForm"] if "/AcroForm" in new_root else None
    if new_form is None:
        return None if "/AcroForm" not in old_root else "removes the form"
    old_form = old_root["/AcroForm"] if "/AcroForm" in old_root else generic.DictionaryObject()
    if not isinstance(new_form, generic.DictionaryObject):
        return "the form is not a dictionary"
    return _dict_change(old_form, new_form, _ACROFORM_KEYS) or _list_change(old_form, new_form, "/Fields", widgets)
