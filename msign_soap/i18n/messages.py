"""The user-facing messages of the SOAP contract, as message IDs."""

from __future__ import annotations

from . import N_

__all__ = ["CANCELLED", "EXPIRED", "FAILED"]

#: GetSignResponse.Message of an Expired request.
EXPIRED = N_("The signing request has expired")
#: GetSignResponse.Message of a Failure without a more specific reason.
FAILED = N_("Signing failed")
#: GetSignResponse.Message when the user cancelled.
CANCELLED = N_("The user cancelled the signing")
