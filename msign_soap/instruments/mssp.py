"""A client of a mobile signature service provider (MSSP): the ETSI TS 102 204
(v1.1.2) messages ``MSS_Signature``, ``MSS_StatusQuery`` and
``MSS_ProfileQuery`` written as JSON instead of the standard's SOAP (element
names, modes and status codes are the standard's), over HTTP(S).

Wire format (the bundled simulator, ``msign_mssp_sim.protocol``, documents
the same): each message is a ``POST`` of ``application/json`` to
:attr:`MsspClient.url` whose one member names it; the answer names its
response or is a ``Fault`` (an HTTP 4xx/5xx status and
``{"Fault": {"Code": {"Value": "Sender", "SubCode": {"Value": "_105"}},
"Reason": "UNKNOWN_CLIENT", "Detail": "…"}}``). Every request carries
``AP_Info``: ``AP_ID`` and ``AP_PWD`` (:attr:`~msign_soap.config.Config.mssp_ap_id`,
``mssp_ap_password``), a fresh ``AP_TransID`` and the ``Instant``.

1. ``{"MSS_ProfileReq": {"AP_Info": …, "MobileUser": {"MSISDN": "373…",
   "UserIdentifier": "<IDNP>"}}}`` → ``MSS_ProfileResp`` with
   ``Certificates`` (base64 DER, the SIM's certificate first, then its
   issuers). ``Certificates`` extends the standard's profile query: the
   signer's certificate is named in the signed attributes (XAdES, PAdES)
   before the phone is asked to sign. ``UserIdentifier`` is optional.
2. ``{"MSS_SignatureReq": {"MajorVersion": 1, "MinorVersion": 1, "AP_Info": …,
   "MobileUser": {"MSISDN": …}, "DataToBeSigned": {"MimeType":
   "application/octet-stream", "Encoding": "BASE64", "Data": "<SHA-256
   digest>"}, "DataToBeDisplayed": {"MimeType": "text/plain", "Encoding":
   "UTF-8", "Data": "<text>"}, "SignatureProfile": "<profile URI>",
   "MSS_Format": "http://uri.etsi.org/TS102204/v1.1.2#PKCS1", "MessagingMode":
   "asynchClientServer", "TimeOut": <seconds>}}`` → ``MSS_SignatureResp``
   with ``MSSP_TransID`` and status ``100 REQUEST_OK``.
3. ``{"MSS_StatusReq": {"AP_Info": …, "MSSP_TransID": …}}`` →
   ``MSS_StatusResp`` with status ``504 OUTSTANDING_TRANSACTION`` (ask
   again), ``500 SIGNATURE`` and ``"MSS_Signature": {"Base64Signature": …}``
   (the raw PKCS #1 v1.5 / ECDSA value over the digest), ``401 USER_CANCEL``,
   ``208 EXPIRED_TRANSACTION`` or ``402 PIN_NR_BLOCKED``.

Left out: the SOAP binding, the ``synch`` and ``asynchServerServer`` modes
(receipts, notifications), PKCS #7 and XML signature formats (a signature
must be the raw value), ``AdditionalServices``, MSSP roaming. A real
operator whose MSSP speaks only SOAP needs a binding of its own behind the
same three methods.
"""

from __future__ import annotations

import base64
import binascii
import http.client
import json
import logging
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..errors import MsspError
from ..i18n import messages

__all__ = [
    "EXPIRED",
    "OUTSTANDING",
    "PIN_BLOCKED",
    "SIGNATURE",
    "SIGNATURE_PROFILE",
    "USER_CANCEL",
    "MssStatus",
    "MsspClient",
]

log = logging.getLogger(__name__)

#: The signature profile asked for: the SIM signs a SHA-256 digest.
SIGNATURE_PROFILE = "urn:msign-soap:mss:profile:sha256"
MSS_FORMAT_PKCS1 = "http://uri.etsi.org/TS102204/v1.1.2#PKCS1"

# TS 102 204 status codes of a transaction.
SIGNATURE = 500
OUTSTANDING = 504
USER_CANCEL = 401
EXPIRED = 208
PIN_BLOCKED = 402
_REQUEST_OK = 100
_UNKNOWN_CLIENT = 105

_MAX_REPLY = 1024 * 1024


@dataclass(frozen=True)
class MssStatus:
    """What ``MSS_StatusResp`` said of a transaction.

    :ivar code: the TS 102 204 status code (:data:`OUTSTANDING`, :data:`SIGNATURE`, …).
    :ivar message: its name (``OUTSTANDING_TRANSACTION`` …).
    :ivar signature: the signature value, with :data:`SIGNATURE`.
    """

    code: int
    message: str
    signature: bytes | None = None


def _fault_message(code: int | None) -> str:
    if code == _UNKNOWN_CLIENT:
        return messages.MOBILE_UNKNOWN_USER
    if code == PIN_BLOCKED:
        return messages.MOBILE_PIN_BLOCKED
    return messages.MOBILE_UNAVAILABLE


class MsspClient:
    """Talks to the MSSP at ``url`` as the access point ``ap_id``.

    :param timeout: seconds to wait for connecting and for each read.
    :param clock: naive-UTC now, for ``Instant``.
    """

    def __init__(
        self,
        url: str,
        ap_id: str,
        ap_password: str,
        *,
        timeout: float = 10.0,
        clock: Callable[[], datetime] | None = None,
        signature_profile: str = SIGNATURE_PROFILE,
    ) -> None:
        self.url = url
        self.ap_id = ap_id
        self.ap_password = ap_password
        self.timeout = timeout
        self.clock = clock
        self.signature_profile = signature_profile

    def profile(self, msisdn: str, user_identifier: str | None = None) -> list[bytes]:
        """The certificates of ``msisdn``'s SIM, its own first (DER).

        :param user_identifier: the holder's IDNP, if the MSSP should check it.
        :raises MsspError: no such mobile user (``UNKNOWN_CLIENT``,
            :data:`~msign_soap.i18n.messages.MOBILE_UNKNOWN_USER`), or the
            MSSP failed or cannot be reached.
        """
        answer = self._send("MSS_ProfileReq", {"MobileUser": _user(msisdn, user_identifier)}, "MSS_ProfileResp")
        _expect_ok(answer)
        values = answer.get("Certificates")
        if not isinstance(values, list) or not values:
            raise MsspError(messages.MOBILE_UNAVAILABLE, "MSS_ProfileResp has no Certificates")
        return [_b64decode(v, "Certificates") for v in values]

    def signature(
        self,
        msisdn: str,
        digest: bytes,
        text: str,
        *,
        transaction_id: str,
        timeout: int,
        user_identifier: str | None = None,
    ) -> str:
        """Ask ``msisdn``'s phone to sign ``digest`` (SHA-256), showing ``text``;
        return the ``MSSP_TransID`` to ask about.

        :param transaction_id: the AP_TransID, unique for this AP.
        :param timeout: seconds the user has to answer.
        :raises MsspError: the MSSP refused the request or cannot be reached.
        """
        content = {
            "MajorVersion": 1,
            "MinorVersion": 1,
            "MobileUser": _user(msisdn, user_identifier),
            "DataToBeSigned": {
                "MimeType": "application/octet-stream",
                "Encoding": "BASE64",
                "Data": base64.b64encode(digest).decode("ascii"),
            },
            "DataToBeDisplayed": {"MimeType": "text/plain", "Encoding": "UTF-8", "Data": text},
            "SignatureProfile": self.signature_profile,
            "MSS_Format": MSS_FORMAT_PKCS1,
            "MessagingMode": "asynchClientServer",
            "TimeOut": timeout,
        }
        answer = self._send("MSS_SignatureReq", content, "MSS_SignatureResp", transaction_id)
        _expect_ok(answer)
        mssp_transaction = answer.get("MSSP_TransID")
        if not isinstance(mssp_transaction, str) or not mssp_transaction:
            raise MsspError(messages.MOBILE_UNAVAILABLE, "MSS_SignatureResp has no MSSP_TransID")
        return mssp_transaction

    def status(self, mssp_transaction_id: str) -> MssStatus:
        """Where the transaction ``mssp_transaction_id`` stands.

        :raises MsspError: the MSSP refused the query or cannot be reached.
        """
        answer = self._send("MSS_StatusReq", {"MSSP_TransID": mssp_transaction_id}, "MSS_StatusResp")
        code, message = _status(answer)
        signature = None
        if code == SIGNATURE:
            value = _member(answer, "MSS_Signature", "Base64Signature")
            signature = _b64decode(value, "MSS_Signature.Base64Signature")
        return MssStatus(code, message, signature)

    # -- HTTP ----------------------------------------------------------------------

    def _send(self, kind: str, content: dict[str, Any], answer: str, transaction_id: str | None = None) -> Any:
        now = self.clock() if self.clock else datetime.now(UTC)
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
        ap_info = {
            "AP_ID": self.ap_id,
            "AP_PWD": self.ap_password,
            "AP_TransID": transaction_id or "Q" + secrets.token_hex(12),
            "Instant": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        body = json.dumps({kind: {"AP_Info": ap_info, **content}}).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        source = f"the MSSP at {self.url}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as reply:
                data = reply.read(_MAX_REPLY + 1)
        except urllib.error.HTTPError as e:
            try:
                with e:
                    data = e.read(_MAX_REPLY + 1)
            except (OSError, http.client.HTTPException) as read_error:
                raise MsspError(messages.MOBILE_UNAVAILABLE, f"{source} broke off its answer: {read_error}") from e
            code, reason = _fault(data)
            log.warning("%s answered %s to %s: %s", source, e.code, kind, reason)
            raise MsspError(_fault_message(code), f"{source}: {reason}", code=code) from e
        except urllib.error.URLError as e:
            raise MsspError(messages.MOBILE_UNAVAILABLE, f"{source} cannot be reached: {e.reason}") from e
        except (OSError, http.client.HTTPException) as e:
            raise MsspError(messages.MOBILE_UNAVAILABLE, f"{source} cannot be reached: {e}") from e
        if len(data) > _MAX_REPLY:
            raise MsspError(messages.MOBILE_UNAVAILABLE, f"{source} answered more than {_MAX_REPLY} bytes")
        try:
            message = json.loads(data)
        except ValueError as e:
            raise MsspError(messages.MOBILE_UNAVAILABLE, f"{source} did not answer JSON") from e
        if not isinstance(message, dict) or not isinstance(message.get(answer), dict):
            raise MsspError(messages.MOBILE_UNAVAILABLE, f"{source} did not answer {answer}")
        return message[answer]


def _user(msisdn: str, user_identifier: str | None) -> dict[str, str]:
    user = {"MSISDN": msisdn}
    if user_identifier:
        user["UserIdentifier"] = user_identifier
    return user


def _member(value: Any, *names: str) -> Any:
    """``value[names[0]][names[1]]…``, or None where a level is missing or not an object."""
    for name in names:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value


def _status(answer: dict[str, Any]) -> tuple[int, str]:
    code = _member(answer, "Status", "StatusCode", "Value")
    if isinstance(code, str) and code.isascii() and code.isdigit():
        code = int(code)
    if not isinstance(code, int) or isinstance(code, bool):
        raise MsspError(messages.MOBILE_UNAVAILABLE, "the MSSP's answer has no Status")
    return code, str(_member(answer, "Status", "StatusMessage") or "")


def _expect_ok(answer: dict[str, Any]) -> None:
    code, message = _status(answer)
    if code != _REQUEST_OK:
        raise MsspError(_fault_message(code), f"the MSSP answered {code} {message}", code=code)


def _fault(data: bytes) -> tuple[int | None, str]:
    """The status code and reason of a ``Fault`` body (``None`` if it is none)."""
    try:
        fault = json.loads(data)["Fault"]
        subcode = str(fault["Code"]["SubCode"]["Value"])
        reason = f"{subcode} {fault.get('Reason', '')}: {fault.get('Detail', '')}"
        digits = subcode.rsplit(":", 1)[-1].lstrip("_")
        return (int(digits) if digits.isdigit() else None), reason
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, "no TS 102 204 fault"


def _b64decode(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise MsspError(messages.MOBILE_UNAVAILABLE, f"the MSSP's {name} is not base64")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise MsspError(messages.MOBILE_UNAVAILABLE, f"the MSSP's {name} is not base64") from e
