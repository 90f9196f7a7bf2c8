"""pyHanko's verdict on a PDF signature in the terms of ETSI EN 319 102-1:
the indication, sub-indication and :class:`~msign_soap.verification.report.Verdict`
of a :class:`~pyhanko.sign.validation.status.PdfSignatureStatus` (or of a
document time-stamp's status), first failure first: integrity, later
changes, time-stamps, then the signer's certificate.

Left out: the sub-indications of the validation of signature policies and
of proofs of existence, which :mod:`~msign_soap.verification.pades` does
not perform.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESSubIndic
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel
from pyhanko.sign.validation.status import (
    ModificationInfo,
    PdfSignatureStatus,
    SignatureCoverageLevel,
    SignatureStatus,
)

from .report import Indication, Verdict

__all__ = [
    "CLOCK_SKEW",
    "PERMITTED",
    "Failure",
    "indication_of",
    "integrity_failure",
    "modification_failure",
    "timestamp_failure",
    "trust_failure",
    "trust_text",
]

#: The most a later revision may change: add signatures, DSS, document time-stamps.
PERMITTED = ModificationLevel.FORM_FILLING
_EXPIRY = {
    AdESIndeterminate.OUT_OF_BOUNDS_NO_POE,
    AdESIndeterminate.OUT_OF_BOUNDS_NOT_REVOKED,
    AdESIndeterminate.EXPIRED,
    AdESIndeterminate.NOT_YET_VALID,
    AdESFailure.NOT_YET_VALID,
}
_REVOCATION_UNKNOWN = {AdESIndeterminate.TRY_LATER, AdESIndeterminate.REVOCATION_OUT_OF_BOUNDS_NO_POE}
#: How far in the future of the verifier's clock a time-stamp may be.
CLOCK_SKEW = timedelta(minutes=5)
#: What failed: the verdict, the indication, its sub-indication, why.
Failure = tuple[Verdict, Indication, str, str]


def integrity_failure(status: SignatureStatus) -> Failure | None:
    """The message digest (``HASH_FAILURE``) or the signature value (``SIG_CRYPTO_FAILURE``) fails."""
    if not status.intact:
        return Verdict.ALTERED, Indication.TOTAL_FAILED, "HASH_FAILURE", "the signed bytes have changed"
    if not status.valid:
        return Verdict.ALTERED, Indication.TOTAL_FAILED, "SIG_CRYPTO_FAILURE", "the signature value does not verify"
    return None


def modification_failure(status: ModificationInfo) -> Failure | None:
    """The signature does not cover its whole revision, or a later revision
    changed more than :data:`PERMITTED` or the DocMDP permissions allow."""
    if status.coverage not in (SignatureCoverageLevel.ENTIRE_FILE, SignatureCoverageLevel.ENTIRE_REVISION):
        return (
            Verdict.ALTERED,
            Indication.TOTAL_FAILED,
            "FORMAT_FAILURE",
            "the /ByteRange does not cover the whole revision that holds the signature",
        )
    level = status.modification_level
    if level is None or level > PERMITTED or status.docmdp_ok is False:
        diff = status.diff_result
        why = str(diff) if diff is not None and not isinstance(diff, DiffResult) else None
        what = why or f"changes of level {level.name if level else 'unknown'}"
        return (
            Verdict.ALTERED,
            Indication.TOTAL_FAILED,
            "HASH_FAILURE",
            f"a later revision made changes the signature does not permit: {what}",
        )
    return None


def timestamp_failure(status: PdfSignatureStatus, now: datetime | None) -> Failure | None:
    """A signature (or content) time-stamp is present and not over this
    signature, does not verify, is not trusted, or is in the future of ``now``."""
    for what, ts in (("signature", status.timestamp_validity), ("content", status.content_timestamp_validity)):
        if ts is None:
            continue
        if not ts.intact:
            why = f"the {what} time-stamp is not over this signature"
            return Verdict.TIMESTAMP_INVALID, Indication.TOTAL_FAILED, "HASH_FAILURE", why
        if not ts.valid:
            why = f"the {what} time-stamp's signature does not verify"
            return Verdict.TIMESTAMP_INVALID, Indication.TOTAL_FAILED, "SIG_CRYPTO_FAILURE", why
        if not ts.trusted:
            sub = _sub_name(ts.trust_problem_indic) or "NO_CERTIFICATE_CHAIN_FOUND"
            why = f"the {what} time-stamp's certificate is not trusted: {trust_text(ts)}"
            return Verdict.TIMESTAMP_INVALID, Indication.INDETERMINATE, sub, why
        if ts.timestamp > (now or datetime.now(UTC)) + CLOCK_SKEW:
            why = f"the {what} time-stamp's time {ts.timestamp.isoformat()} is in the future"
            return Verdict.TIMESTAMP_INVALID, Indication.TOTAL_FAILED, "FORMAT_FAILURE", why
    return None


def trust_failure(status: PdfSignatureStatus, signed_at: datetime | None) -> Failure | None:
    """Why the signer's certificate fails, as EN 319 102-1 says with and
    without a proof of the signing time (a valid time-stamp)."""
    if status.trusted:
        return None
    indic = status.trust_problem_indic
    text = trust_text(status)
    proven = signed_at is not None
    revocation = status.revocation_details
    if revocation is not None:
        if revocation.ca_revoked:
            return Verdict.REVOKED, Indication.INDETERMINATE, "REVOKED_CA_NO_POE", f"an issuer is {text}"
        if proven:
            return Verdict.REVOKED, Indication.TOTAL_FAILED, "REVOKED", f"{text}, before the time-stamp"
        return (
            Verdict.REVOKED,
            Indication.INDETERMINATE,
            "REVOKED_NO_POE",
            f"{text}; no time-stamp proves when it signed",
        )
    if indic in _EXPIRY:
        signer = status.signing_cert.native["tbs_certificate"]["validity"]
        if signed_at is not None and not signer["not_before"] <= signed_at <= signer["not_after"]:
            sub = "EXPIRED" if signed_at > signer["not_after"] else "NOT_YET_VALID"
            why = f"the certificate is not valid at the time-stamp's time {signed_at.isoformat()}"
            return Verdict.EXPIRED, Indication.TOTAL_FAILED, sub, why
        return Verdict.EXPIRED, *indication_of(indic), f"not valid at the signing time: {text}"
    if indic in _REVOCATION_UNKNOWN:
        return Verdict.REVOCATION_UNKNOWN, Indication.INDETERMINATE, "TRY_LATER", f"no revocation status: {text}"
    return Verdict.NOT_TRUSTED, *indication_of(indic), f"not trusted: {text}"


def indication_of(indic: AdESSubIndic | None) -> tuple[Indication, str]:
    """The indication and sub-indication pyHanko's certificate-validation problem stands for."""
    if isinstance(indic, AdESFailure):
        return Indication.TOTAL_FAILED, indic.name
    if isinstance(indic, AdESIndeterminate):
        return Indication.INDETERMINATE, indic.name
    return Indication.INDETERMINATE, "NO_CERTIFICATE_CHAIN_FOUND"


def _sub_name(indic: AdESSubIndic | None) -> str | None:
    return indic.name if isinstance(indic, AdESFailure | AdESIndeterminate) else None


def trust_text(status: SignatureStatus) -> str:
    """Why a certificate is not trusted, for the report's detail."""
    if status.revocation_details is not None:
        return f"revoked since {status.revocation_details.revocation_date.isoformat()}"
    if status.validation_path is None:
        return "no path to a trust anchor"
    return _sub_name(status.trust_problem_indic) or "validation failed"
