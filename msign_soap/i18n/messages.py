"""The user-facing messages of the SOAP contract, as message IDs."""

from __future__ import annotations

from . import N_

__all__ = [
    "CANCELLED",
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_NOT_YET_VALID",
    "CERTIFICATE_REVOKED",
    "CERTIFICATE_UNTRUSTED",
    "EXPIRED",
    "FAILED",
    "KEY_LOCKED",
    "NO_DELEGATION",
    "ORGANIZATION_MISMATCH",
    "SIGNATURE_MISMATCH",
    "SIGNER_MISMATCH",
    "WRONG_PIN",
]

#: GetSignResponse.Message of an Expired request.
EXPIRED = N_("The signing request has expired")
#: GetSignResponse.Message of a Failure without a more specific reason.
FAILED = N_("Signing failed")
#: GetSignResponse.Message when the user cancelled.
CANCELLED = N_("The user cancelled the signing")

# -- why the signing flow refused a signer (Failure) ---------------------------

#: The certificate's IDNP is not ExpectedSigner.ID (or it has none).
SIGNER_MISMATCH = N_("The certificate belongs to another person than the one expected to sign")
#: DelegatorType Organization: the certificate's IDNO is not DelegatorID.
ORGANIZATION_MISMATCH = N_("The certificate is not issued for the organization on whose behalf you sign")
#: DelegatorType Person: no registered delegation from DelegatorID to the signer.
NO_DELEGATION = N_("The signer holds no delegation to sign on behalf of the requested person")
CERTIFICATE_REVOKED = N_("The signer's certificate has been revoked")
CERTIFICATE_EXPIRED = N_("The signer's certificate has expired")
CERTIFICATE_NOT_YET_VALID = N_("The signer's certificate is not yet valid")
#: Not issued by a trusted CA, unreadable, or not meant for signing.
CERTIFICATE_UNTRUSTED = N_("The signer's certificate is not issued by a trusted authority for signing")
#: A signature value does not verify under the signer's certificate.
SIGNATURE_MISMATCH = N_("The signature does not match the signer's certificate")

# -- why a cloud key did not unlock (the request stays Pending) ----------------

#: A wrong PIN, or no cloud key for this IDNP: one message, so that the page
#: does not tell who holds a key.
WRONG_PIN = N_("The IDNP or the PIN is wrong")
#: Too many consecutive wrong PINs.
KEY_LOCKED = N_("Too many wrong PINs: the key is locked for a while, try again later")
