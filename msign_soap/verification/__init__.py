"""Verification of XAdES (over a given hash) and PAdES signatures."""

from .names import display_name, display_subject
from .pades import verify_pdf
from .report import DocumentReport, Indication, SignatureReport, Verdict
from .trust import Trust, validation_context_at
from .xades import verify_xades

__all__ = [
    "DocumentReport",
    "Indication",
    "SignatureReport",
    "Trust",
    "Verdict",
    "display_name",
    "display_subject",
    "validation_context_at",
    "verify_pdf",
    "verify_xades",
]
