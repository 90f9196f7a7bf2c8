"""The wire format of the simulated MSSP: the ETSI TS 102 204 (v1.1.2) mobile
signature messages written as JSON instead of the standard's SOAP — the
element names, modes and status codes are the standard's; the encoding, the
single endpoint and the ``Certificates`` extension are this project's.

Every message is one HTTP ``POST`` of ``application/json`` to the service
endpoint (``<mount>/rest/service``), whose only member names the message; the
answer names its response, or is a ``Fault``. All three requests carry
``AP_Info`` (``AP_ID``, ``AP_PWD``, ``AP_TransID``, ``Instant``): the AP's
identity and password authenticate it.

``MSS_SignatureReq`` (TS 102 204; only ``asynchClientServer``: the AP
polls with ``MSS_StatusReq``)::

    {"MSS_SignatureReq": {
        "MajorVersion": 1, "MinorVersion": 1,
        "AP_Info": {"AP_ID": "msign-soap", "AP_PWD": "…", "AP_TransID": "T3f…", "Instant": "2026-11-28T12:00:00Z"},
        "MobileUser": {"MSISDN": "37360000001", "UserIdentifier": "2004001234567"},
        "DataToBeSigned": {"MimeType": "application/octet-stream", "Encoding": "BASE64", "Data": "<SHA-256 digest>"},
        "DataToBeDisplayed": {"MimeType": "text/plain", "Encoding": "UTF-8", "Data": "Contract no. 12 (1/2) 4821"},
        "SignatureProfile": "urn:msign-soap:mss:profile:sha256",
        "MSS_Format": "http://uri.etsi.org/TS102204/v1.1.2#PKCS1",
        "MessagingMode": "asynchClientServer",
        "TimeOut": 180}}
    → {"MSS_SignatureResp": {"AP_Info": {…without AP_PWD}, "MSSP_Info": {"MSSP_ID": {"URI": "…"}},
        "MSSP_TransID": "…", "Status": {"StatusCode": {"Value": 100}, "StatusMessage": "REQUEST_OK"}}}

``DataToBeSigned`` is the 32-byte SHA-256 digest of what the AP wants signed;
the SIM signs it with PKCS #1 v1.5 (``DigestInfo`` of SHA-256) or, for an EC
key, ECDSA (DER); ``PKCS1`` is the only ``MSS_Format`` (the raw value, no
CMS). ``UserIdentifier`` (optional) is the holder's IDNP: a SIM whose
certificate names another person answers ``UNKNOWN_CLIENT``. ``TimeOut``
(seconds, 1–600, default 180) bounds how long the user has to answer.

``MSS_StatusReq``::

    {"MSS_StatusReq": {"AP_Info": {…}, "MSSP_TransID": "…"}}
    → {"MSS_StatusResp": {"AP_Info": {…}, "MSSP_Info": {…}, "MobileUser": {"MSISDN": "…"},
        "Status": {"StatusCode": {"Value": 504}, "StatusMessage": "OUTSTANDING_TRANSACTION"}}}

with ``"MSS_Signature": {"Base64Signature": "…"}`` once the status is
``500 SIGNATURE``. Other final states: ``401 USER_CANCEL`` (refused on the
phone), ``208 EXPIRED_TRANSACTION`` (no answer within ``TimeOut``),
``402 PIN_NR_BLOCKED`` (too many wrong PINs while the request was pending).

``MSS_ProfileReq`` (MSS_ProfileQuery), **extended**: the standard answers
the signature profiles a user's SIM supports; this MSSP also returns the
SIM's certificate and its issuers (``Certificates``, base64 DER, the SIM's
first), because the AP must name the signer's certificate in the signed
attributes (XAdES, PAdES) *before* it asks for the signature::

    {"MSS_ProfileReq": {"AP_Info": {…}, "MobileUser": {"MSISDN": "…", "UserIdentifier": "…"}}}
    → {"MSS_ProfileResp": {"AP_Info": {…}, "MSSP_Info": {…}, "SignatureProfile": ["urn:…"],
        "Certificates": ["MIIF…", "MIIE…"], "Status": {"StatusCode": {"Value": 100}, …}}}

Faults (an HTTP 4xx/5xx status and ``{"Fault": {"Code": {"Value": "Sender",
"SubCode": {"Value": "_101"}}, "Reason": "WRONG_PARAM", "Detail": "…"}}``):
``101 WRONG_PARAM``, ``102 MISSING_PARAM``, ``103 WRONG_DATA_LENGTH``,
``104 UNAUTHORIZED_ACCESS`` (HTTP 401), ``105 UNKNOWN_CLIENT``,
``109 UNSUPPORTED_PROFILE``, ``402 PIN_NR_BLOCKED`` (a new request for a blocked
SIM) and ``900 INTERNAL_ERROR`` (HTTP 500, ``Receiver``).

Left out: the SOAP binding, ``synch`` and ``asynchServerServer`` modes
(``MSS_Receipt``, notifications), ``MSS_Registration``, ``MSS_Handshake``,
PKCS #7 / XML signature formats, ``AdditionalServices``, MSSP roaming.

The verification code (:func:`verification_code`) is derived from the digest
as Estonia's Mobile-ID does it, so that the phone and the AP's page show the
same four digits without sending them.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_BODY",
    "MAX_DISPLAY_TEXT",
    "MSS_FORMAT_PKCS1",
    "SIGNATURE_PROFILE",
    "STATUS",
    "ApInfo",
    "Fault",
    "b64decode",
    "require",
    "status",
    "verification_code",
]

#: The one signature profile: a SHA-256 digest signed by the SIM's key.
SIGNATURE_PROFILE = "urn:msign-soap:mss:profile:sha256"
#: The one signature format: the raw signature value, base64.
MSS_FORMAT_PKCS1 = "http://uri.etsi.org/TS102204/v1.1.2#PKCS1"
#: Largest request body.
MAX_BODY = 64 * 1024
#: Longest DataToBeDisplayed a phone takes.
MAX_DISPLAY_TEXT = 160

#: TS 102 204 status codes used here, with their names.
STATUS = {
    100: "REQUEST_OK",
    101: "WRONG_PARAM",
    102: "MISSING_PARAM",
    103: "WRONG_DATA_LENGTH",
    104: "UNAUTHORIZED_ACCESS",
    105: "UNKNOWN_CLIENT",
    109: "UNSUPPORTED_PROFILE",
    208: "EXPIRED_TRANSACTION",
    401: "USER_CANCEL",
    402: "PIN_NR_BLOCKED",
    500: "SIGNATURE",
    504: "OUTSTANDING_TRANSACTION",
    900: "INTERNAL_ERROR",
}


class Fault(Exception):
    """A request the MSSP refuses: ``code`` is a TS 102 204 status code."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"{code} {STATUS[code]}: {detail}")
        self.code = code
        self.detail = detail

    @property
    def http_status(self) -> int:
        return 401 if self.code == 104 else 500 if self.code == 900 else 400

    def to_json(self) -> dict[str, Any]:
        side = "Receiver" if self.code == 900 else "Sender"
        return {
            "Fault": {
                "Code": {"Value": side, "SubCode": {"Value": f"_{self.code}"}},
                "Reason": STATUS[self.code],
                "Detail": self.detail,
            }
        }


def status(code: int) -> dict[str, Any]:
    """The ``Status`` element of a response."""
    return {"StatusCode": {"Value": code}, "StatusMessage": STATUS[code]}


def require(message: dict[str, Any], path: str) -> Any:
    """The member at ``path`` (``AP_Info.AP_ID``) of ``message``.

    :raises Fault: 102 MISSING_PARAM when absent, empty or ``null``.
    """
    value: Any = message
    for name in path.split("."):
        value = value.get(name) if isinstance(value, dict) else None
    if value is None or value == "":
        raise Fault(102, f"{path} is required")
    return value


def b64decode(value: Any, path: str) -> bytes:
    """``value`` (a base64 string) decoded.

    :raises Fault: 101 WRONG_PARAM when it is not base64.
    """
    if not isinstance(value, str):
        raise Fault(101, f"{path} must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise Fault(101, f"{path} is not base64") from e


@dataclass(frozen=True)
class ApInfo:
    """The ``AP_Info`` of a request."""

    ap_id: str
    password: str
    transaction_id: str
    instant: str

    def echo(self) -> dict[str, str]:
        """``AP_Info`` as a response repeats it (without the password)."""
        return {"AP_ID": self.ap_id, "AP_TransID": self.transaction_id, "Instant": self.instant}


def verification_code(digest: bytes) -> str:
    """The four digits the phone shows next to the request: the top 6 bits of
    the digest's first byte and the low 7 bits of its last, as a number below
    8192, zero-padded (Mobile-ID's algorithm)."""
    if not digest:
        return "0000"
    return f"{((digest[0] >> 2) << 7) | (digest[-1] & 0x7F):04d}"
