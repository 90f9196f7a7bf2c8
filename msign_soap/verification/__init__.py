"""Verification of XAdES (over a given hash) and PAdES signatures."""

from .report import DocumentReport, Indication, SignatureReport, Verdict

__all__ = ["DocumentReport", "Indication", "SignatureReport", "Verdict"]
