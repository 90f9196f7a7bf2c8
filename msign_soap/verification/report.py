"""What verifying a signature found: the ETSI EN 319 102-1 indication and
sub-indication kept for logs and the report page, and the :class:`Verdict`
the caller is told (one localized message each).

Left out: the full EN 319 102-1 validation report (ETSI TS 119 102-2 XML);
the report page and the logs carry the indications instead.
"""

from __future__ import annotations

import base64
import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["DocumentReport", "Indication", "SignatureReport", "Verdict"]


class Indication(enum.Enum):
    """The main status indication of ETSI EN 319 102-1 §5.1.3."""

    TOTAL_PASSED = "TOTAL-PASSED"
    TOTAL_FAILED = "TOTAL-FAILED"
    INDETERMINATE = "INDETERMINATE"


class Verdict(enum.Enum):
    """Why a signature is (not) valid, in the words the caller is told.

    Several sub-indications map to one verdict; the order of the members is
    the order of precedence when a document's signatures disagree (the first
    non-valid one in this order speaks for the document).
    """

    MALFORMED = "malformed"  #: not a XAdES document / PDF we can read
    NO_SIGNATURES = "no-signatures"  #: a PDF without a signature
    HASH_MISMATCH = "hash-mismatch"  #: XAdES: the data reference is not over the given Content
    ALTERED = "altered"  #: a digest or the signature value does not verify, or a later change is not permitted
    REVOKED = "revoked"  #: the signer's certificate was revoked at signing time
    EXPIRED = "expired"  #: the signer's certificate was expired (or not yet valid) at signing time
    NOT_TRUSTED = "not-trusted"  #: no path to a trust anchor
    TIMESTAMP_INVALID = "timestamp-invalid"  #: the signature timestamp does not verify or is not over this signature
    REVOCATION_UNKNOWN = "revocation-unknown"  #: hard revocation mode and no status could be had
    VALID = "valid"


@dataclass(frozen=True)
class SignatureReport:
    """One signature's result.

    :ivar verdict: what the caller is told.
    :ivar indication: ETSI EN 319 102-1 main indication.
    :ivar sub_indication: its sub-indication (``HASH_FAILURE``,
        ``SIG_CRYPTO_FAILURE``, ``REVOKED``, ``NO_CERTIFICATE_CHAIN_FOUND``,
        ``FORMAT_FAILURE``, …), ``None`` when passed.
    :ivar detail: why, in English, for logs and the report page.
    :ivar certificate: the signer's certificate (DER), when one was found.
    :ivar subject: its subject in the contract's display form
        (``…, SERIALNUMBER=…, CN=…``), when a certificate was found.
    :ivar signed_at: the time of a *valid* signature timestamp, else ``None``.
    :ivar claimed_signing_time: the signing time the signer claims (not proof).
    :ivar level: the baseline level reached, e.g. ``XAdES-BASELINE-T``,
        ``PAdES-BASELINE-LT``, when known.
    :ivar name: which signature (a PDF's signature field name), when there are several.
    """

    verdict: Verdict
    indication: Indication
    sub_indication: str | None = None
    detail: str = ""
    certificate: bytes | None = None
    subject: str | None = None
    signed_at: datetime | None = None
    claimed_signing_time: datetime | None = None
    level: str | None = None
    name: str | None = None

    @property
    def valid(self) -> bool:
        return self.verdict is Verdict.VALID

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: enums by value, times in ISO 8601, the certificate in base64."""
        return {
            "name": self.name,
            "valid": self.valid,
            "verdict": self.verdict.value,
            "indication": self.indication.value,
            "sub_indication": self.sub_indication,
            "detail": self.detail,
            "subject": self.subject,
            "signed_at": None if self.signed_at is None else self.signed_at.isoformat(),
            "claimed_signing_time": None
            if self.claimed_signing_time is None
            else self.claimed_signing_time.isoformat(),
            "level": self.level,
            "certificate": None if self.certificate is None else base64.b64encode(self.certificate).decode(),
        }


@dataclass(frozen=True)
class DocumentReport:
    """The result for one content: every signature found, in document order.

    :ivar verdict: ``VALID`` when there is at least one signature and all
        are valid; otherwise the first verdict in :class:`Verdict` order among
        the signatures, or the document's own (``MALFORMED``,
        ``NO_SIGNATURES``) when it has none.
    """

    verdict: Verdict
    signatures: tuple[SignatureReport, ...] = ()
    detail: str = ""

    @property
    def valid(self) -> bool:
        return self.verdict is Verdict.VALID

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with every signature's :meth:`SignatureReport.as_dict`."""
        return {
            "valid": self.valid,
            "verdict": self.verdict.value,
            "detail": self.detail,
            "signatures": [s.as_dict() for s in self.signatures],
        }

    @classmethod
    def of(cls, signatures: tuple[SignatureReport, ...] | list[SignatureReport]) -> DocumentReport:
        """The report of a document with these signatures (``NO_SIGNATURES`` when none)."""
        found = tuple(signatures)
        if not found:
            return cls(Verdict.NO_SIGNATURES, (), "the document contains no signature")
        order = list(Verdict)
        worst = min((s.verdict for s in found), key=order.index)
        return cls(worst, found)

    @classmethod
    def unreadable(cls, detail: str) -> DocumentReport:
        """The report of input that is not a signature document at all."""
        return cls(Verdict.MALFORMED, (), detail)
