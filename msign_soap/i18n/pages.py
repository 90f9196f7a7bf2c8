"""Texts of the sign page chosen in Python (instrument names, error pages),
as message IDs; the templates hold the rest as ``_("…")`` calls."""

from __future__ import annotations

from . import N_

__all__ = [
    "ATTEMPTS_LEFT",
    "BAD_CSRF",
    "BAD_CSRF_TITLE",
    "DOCUMENT_K_OF_N",
    "ENTER_MSISDN",
    "INSTRUMENT_NAMES",
    "INVALID_IDNP",
    "INVALID_MSISDN",
    "INVALID_REQUEST_TITLE",
    "INVALID_RETURN_URL",
    "LOCAL_DOCUMENT_CHANGED",
    "LOCAL_INVALID_SIGNATURE",
    "LOCAL_NO_TIMESTAMP",
    "LOCAL_WRONG_DOCUMENT",
    "MISSING_RETURN_URL",
    "NOT_FOUND",
    "NOT_FOUND_TITLE",
    "REQUEST_FINISHED",
    "MISSING_PIN",
    "RELAY_STATE_TOO_LONG",
    "TOO_MANY_ATTEMPTS",
    "NO_SESSION",
    "SERVER_ERROR",
    "SERVER_ERROR_TITLE",
    "SIGNING_FAILED",
]

#: Card titles of the contract's instruments.
INSTRUMENT_NAMES = {
    "securesign": N_("Cloud signature (SecureSign)"),
    "mobile": N_("Mobile signature"),
    "moldsign": N_("Electronic signature token (MoldSign)"),
    "nationalid": N_("Electronic identity card"),
    "tax": N_("Cloud signature (tax service)"),
}

NOT_FOUND_TITLE = N_("Signing request not found")
#: A result or a form for a request that has ended (its page shows how).
REQUEST_FINISHED = N_("This signing request is already finished.")
NOT_FOUND = N_("There is no such signing request. It may have been removed; start again from the e-service.")
INVALID_REQUEST_TITLE = N_("The e-service sent an invalid request")
MISSING_RETURN_URL = N_("The e-service did not say where to return (ReturnUrl is missing).")
INVALID_RETURN_URL = N_("The return address (ReturnUrl) is not valid or not registered for this e-service.")
RELAY_STATE_TOO_LONG = N_("The e-service's RelayState is too long (at most 1024 characters).")
INVALID_MSISDN = N_("The phone number (MSISDN) is not a valid Moldovan number (+373 and 8 digits).")
NO_SESSION = N_("Open this page from the e-service that asked for your signature.")
BAD_CSRF_TITLE = N_("The form has expired")
BAD_CSRF = N_("The form could not be verified. Go back to the signing page and try again.")
SERVER_ERROR_TITLE = N_("Something went wrong")
SERVER_ERROR = N_("The page could not be shown because of an internal error. Please try again later.")

# The cloud-key form (securesign, tax).
INVALID_IDNP = N_("Enter the IDNP: 13 digits.")
MISSING_PIN = N_("Enter the PIN.")
#: PIN entries from one address came too fast (a rate limit, not the key's lock).
TOO_MANY_ATTEMPTS = N_("Too many attempts from your connection. Wait a minute and try again.")
#: ``{n}``: wrong PINs left before the key is locked.
ATTEMPTS_LEFT = N_("Attempts left before the key is locked: {n}.")
SIGNING_FAILED = N_("The documents could not be signed because of an internal error. Please try again later.")

# The mobile signature form and progress page (templates/mobile_*.html).
ENTER_MSISDN = N_("Enter the mobile phone number: 8 digits after +373.")
#: ``{k}`` of ``{n}`` contents is being signed on the phone.
DOCUMENT_K_OF_N = N_("Document {k} of {n}")

# Why a local signer's result (moldsign, nationalid) was not accepted; the
# request stays Pending (errors.ResultRejected).
LOCAL_WRONG_DOCUMENT = N_("The signing application returned a signature of another document.")
LOCAL_INVALID_SIGNATURE = N_("The signing application returned a signature that is not valid.")
LOCAL_NO_TIMESTAMP = N_("The signature from the signing application has no valid time-stamp.")
LOCAL_DOCUMENT_CHANGED = N_("The signing application changed the document besides signing it.")
