"""VerifySignatures: a batch of contents, one result each, in order.

``Hash``: each content's ``Content`` is the original hash and ``Signature``
the XAdES document (:func:`~msign_soap.verification.xades.verify_xades`);
``Pdf``: ``Signature`` is the signed PDF
(:func:`~msign_soap.verification.pades.verify_pdf`). Only a structurally
broken request is refused as a whole (:class:`InvalidParameter`): no
contents, a nil content, a missing ``Signature``, a missing ``Content`` for
``Hash``, a bad ``SignedContentType``, a too long or repeated
``CorrelationID``, more contents than ``max_contents``. Anything wrong with
one item's bytes is that item's invalid result.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..errors import InvalidParameter
from ..i18n import translate
from ..i18n.verdicts import VERDICT_MESSAGES
from .pades import verify_pdf
from .report import DocumentReport, Indication, SignatureReport, Verdict
from .trust import Trust
from .xades import verify_xades

__all__ = ["CONTENT_TYPES", "VerificationItem", "VerificationOutcome", "check_batch", "verify_batch", "verify_item"]

log = logging.getLogger(__name__)

#: ``SignedContentType`` values.
CONTENT_TYPES = ("Hash", "Pdf")
#: VerificationContent.CorrelationID's documented maximum length.
MAX_CORRELATION_ID = 36


@dataclass(frozen=True)
class VerificationItem:
    """One VerificationContent as received (``None`` = nil/absent)."""

    content: bytes | None
    correlation_id: str | None
    signature: bytes | None


@dataclass(frozen=True)
class VerificationOutcome:
    """One VerificationResult: the report and its localized message."""

    correlation_id: str | None
    report: DocumentReport
    message: str

    @property
    def valid(self) -> bool:
        return self.report.valid


def check_batch(content_type: str | None, items: Sequence[VerificationItem | None] | None, max_contents: int) -> None:
    """Refuse a structurally broken request.

    :raises InvalidParameter: naming the field, as ``Contents[1].Signature is required``.
    """
    if content_type is None:
        raise InvalidParameter("SignedContentType", "is required")
    if content_type not in CONTENT_TYPES:
        raise InvalidParameter("SignedContentType", "must be Hash or Pdf")
    if not items:
        raise InvalidParameter("Contents", "must hold at least one content")
    if len(items) > max_contents:
        raise InvalidParameter("Contents", f"holds more than {max_contents} contents ({len(items)})")
    seen: set[str] = set()
    for i, item in enumerate(items):
        where = f"Contents[{i}]"
        if item is None:
            raise InvalidParameter(where, "is nil")
        if item.signature is None or not item.signature:
            raise InvalidParameter(f"{where}.Signature", "is required")
        if content_type == "Hash" and not item.content:
            raise InvalidParameter(f"{where}.Content", "is required for Hash: the original hash")
        if item.correlation_id is not None:
            if len(item.correlation_id) > MAX_CORRELATION_ID:
                raise InvalidParameter(f"{where}.CorrelationID", f"is longer than {MAX_CORRELATION_ID} characters")
            if item.correlation_id in seen:
                raise InvalidParameter(f"{where}.CorrelationID", "repeats another content's CorrelationID")
            seen.add(item.correlation_id)


def verify_item(
    content_type: str, item: VerificationItem, trust: Trust, *, now: datetime | None = None
) -> DocumentReport:
    """The report of one (checked) item; never raises for bad input."""
    assert item.signature is not None  # check_batch
    try:
        if content_type == "Hash":
            assert item.content is not None
            return verify_xades(item.signature, item.content, trust, now=now)
        return verify_pdf(item.signature, trust, now=now)
    except Exception:  # a verifier bug must cost this item, not the batch
        log.exception("verification of %s content %s failed", content_type, item.correlation_id)
        # the error's text (paths, URLs) stays in the log: the detail reaches the public report page
        failed = SignatureReport(Verdict.MALFORMED, Indication.INDETERMINATE, "GENERIC", "internal verifier error")
        return DocumentReport(Verdict.MALFORMED, (failed,), "the verifier failed on this content")


def message(report: DocumentReport, language: str | None) -> str:
    """The report's message in ``language`` (ro default, ru, en)."""
    return translate(VERDICT_MESSAGES[report.verdict.value], language)


def verify_batch(
    content_type: str | None,
    items: Sequence[VerificationItem | None] | None,
    trust: Trust,
    language: str | None,
    *,
    max_contents: int,
    now: datetime | None = None,
) -> list[VerificationOutcome]:
    """Check the request, then verify each item in order.

    :raises InvalidParameter: the request is structurally broken (:func:`check_batch`).
    """
    check_batch(content_type, items, max_contents)
    assert content_type is not None and items is not None
    outcomes = []
    for item in items:
        assert item is not None
        report = verify_item(content_type, item, trust, now=now)
        for signature in report.signatures:
            log.info(
                "verified %s content %s: %s %s %s (%s)",
                content_type,
                item.correlation_id,
                signature.indication.value,
                signature.sub_indication or "",
                signature.subject or "",
                signature.detail,
            )
        if not report.signatures:
            log.info(
                "verified %s content %s: %s (%s)",
                content_type,
                item.correlation_id,
                report.verdict.value,
                report.detail,
            )
        outcomes.append(VerificationOutcome(item.correlation_id, report, message(report, language)))
    return outcomes
