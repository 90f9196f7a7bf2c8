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
    "MOBILE_FAILED",
    "MOBILE_PIN_BLOCKED",
    "MOBILE_REFUSED",
    "MOBILE_TIMEOUT",
    "MOBILE_UNAVAILABLE",
    "MOBILE_UNKNOWN_USER",
    "NO_DELEGATION",
    "ORGANIZATION_MISMATCH",
    "SIGNATURE_MISMATCH",
    "SIGNER_CHANGED",
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
#: A local signer's result for one content names another signer than those before it.
SIGNER_CHANGED = N_("All the documents must be signed by the same person")

# -- why a cloud key did not unlock (the request stays Pending) ----------------

#: A wrong PIN, or no cloud key for this IDNP: one message, so that the page
#: does not tell who holds a key.
WRONG_PIN = N_("The IDNP or the PIN is wrong")
#: Too many consecutive wrong PINs.
KEY_LOCKED = N_("Too many wrong PINs: the key is locked for a while, try again later")

# -- how a mobile signature ended the request (Failure) ------------------------

#: The user pressed "refuse" on the phone (TS 102 204 USER_CANCEL).
MOBILE_REFUSED = N_("The signing was refused on the phone")
#: Nobody answered on the phone within ``mssp_timeout``.
MOBILE_TIMEOUT = N_("The signing was not confirmed on the phone in time")
#: Too many wrong SIM PINs (PIN_BLOCKED).
MOBILE_PIN_BLOCKED = N_("The PIN of the mobile signature is blocked")
#: Any other refusal by the mobile signature service provider.
MOBILE_FAILED = N_("The mobile signature service could not sign")

# -- why a mobile signature did not start (the request stays Pending) ----------

#: The MSSP knows no mobile signature for this MSISDN (and IDNP).
MOBILE_UNKNOWN_USER = N_("No mobile signature is registered for this phone number and IDNP")
#: The MSSP cannot be reached or does not accept the service.
MOBILE_UNAVAILABLE = N_("The mobile signature service does not answer; try again later")
