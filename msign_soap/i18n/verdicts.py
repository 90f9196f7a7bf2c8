"""The messages of VerifySignatures (``VerificationResult.Message``) and of
the verification page, as message IDs: one per
:class:`~msign_soap.verification.Verdict` (by its value), at most 100
characters in every language (the contract's limit)."""

from __future__ import annotations

from . import N_

__all__ = ["VERDICT_MESSAGES"]

#: Message ID by :class:`~msign_soap.verification.Verdict` value.
VERDICT_MESSAGES: dict[str, str] = {
    "valid": N_("The signature is valid"),
    "malformed": N_("The signature could not be read: it is not a valid XAdES or PDF document"),
    "no-signatures": N_("The document contains no signatures"),
    "hash-mismatch": N_("The signature is not over the given hash"),
    "altered": N_("The document or the signature was altered after signing"),
    "revoked": N_("The signer's certificate was revoked at the time of signing"),
    "expired": N_("The signer's certificate was not valid (expired) at the time of signing"),
    "not-trusted": N_("The signer's certificate is not issued by a trusted authority"),
    "timestamp-invalid": N_("The signature's timestamp is not valid"),
    "revocation-unknown": N_("The revocation status of the signer's certificate could not be checked"),
}
