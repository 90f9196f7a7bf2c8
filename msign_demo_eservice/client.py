"""The demo's only way to the signing service: the public MSign SOAP contract
(``PostSignRequest``, ``GetSignResponse``, ``VerifySignatures``; SOAP 1.1,
document/literal, namespace ``https://msign.gov.md``) through zeep, built from
the WSDL the service publishes at ``{service_url}/MSign.svc?singleWsdl``.

The answers are copied into small frozen dataclasses so that the rest of the
demo never touches zeep's objects. Left out: client certificates (mutual TLS,
which a production MSign requires of every consumer): the demo talks to the
embedded default, whose demo consumer answers plain HTTP callers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import requests
import zeep
import zeep.exceptions
from lxml import etree
from zeep.transports import Transport

from .errors import ServiceFault, ServiceUnreachable

__all__ = [
    "BINDING",
    "ContentToSign",
    "ContentToVerify",
    "MSignClient",
    "SignResponse",
    "SignResult",
    "VerificationCertificate",
    "VerificationResult",
]

#: The binding of the contract's WSDL (``wsdl:binding`` in ``https://msign.gov.md``).
BINDING = "{https://msign.gov.md}BasicHttpBinding_IMSign"
#: Where the contract puts the SOAP endpoint, relative to the service's base URL.
SOAP_PATH = "/MSign.svc"

T = TypeVar("T")


@dataclass(frozen=True)
class ContentToSign:
    """One ``SignContent``: a PDF document or a 20-byte SHA-1 hash."""

    content: bytes
    correlation_id: str
    name: str | None = None


@dataclass(frozen=True)
class SignResult:
    """One ``SignResult``: the signer's DER certificate and the signed PDF or XAdES."""

    correlation_id: str | None
    certificate: bytes | None
    signature: bytes | None


@dataclass(frozen=True)
class SignResponse:
    """``GetSignResponse``'s answer: ``Pending``, ``Success``, ``Failure`` or ``Expired``."""

    status: str
    message: str | None
    results: tuple[SignResult, ...]


@dataclass(frozen=True)
class ContentToVerify:
    """One ``VerificationContent``: a signed PDF, or a XAdES with the hash it signs."""

    signature: bytes
    correlation_id: str
    content: bytes | None = None


@dataclass(frozen=True)
class VerificationCertificate:
    """One signer of a verified content, as ``VerificationCertificate``."""

    certificate: bytes | None
    subject: str | None
    signature_valid: bool
    signed_at: datetime | None


@dataclass(frozen=True)
class VerificationResult:
    """One ``VerificationResult``: the verdict on a content and its signers."""

    correlation_id: str | None
    signatures_valid: bool
    message: str | None
    certificates: tuple[VerificationCertificate, ...]


class MSignClient:
    """A zeep client of the service at ``service_url`` (its base URL, without
    ``/MSign.svc``). The WSDL is fetched on first use, so the client may be
    made before the service listens (the embedded default mounts the demo in
    its own process).

    :param timeout: seconds for fetching the WSDL.
    :param operation_timeout: seconds for one operation (verifying a large
        PDF takes a while).
    """

    def __init__(self, service_url: str, *, timeout: float = 30, operation_timeout: float = 300) -> None:
        self.service_url = service_url.rstrip("/")
        self.wsdl_url = self.service_url + SOAP_PATH + "?singleWsdl"
        self._timeout = timeout
        self._operation_timeout = operation_timeout
        self._lock = threading.Lock()
        self._proxy: Any = None

    def _service(self) -> Any:
        with self._lock:
            if self._proxy is None:
                transport = Transport(timeout=self._timeout, operation_timeout=self._operation_timeout)
                client = _call(lambda: zeep.Client(self.wsdl_url, transport=transport))
                self._proxy = client.create_service(BINDING, self.service_url + SOAP_PATH)
            return self._proxy

    def post_sign_request(
        self,
        content_type: str,
        contents: Sequence[ContentToSign],
        short_description: str,
        *,
        description: str | None = None,
        expected_signer: str | None = None,
        signature_reason: str | None = None,
    ) -> str:
        """``PostSignRequest``: the new request's ``RequestID``.

        :raises ServiceFault: the service refused the request (``InvalidParameter`` …).
        :raises ServiceUnreachable: no SOAP answer.
        """
        request: dict[str, Any] = {
            "ContentType": content_type,
            "Contents": {
                "SignContent": [
                    {"Content": c.content, "CorrelationID": c.correlation_id, "Name": c.name} for c in contents
                ]
            },
            "ShortContentDescription": short_description,
        }
        if description:
            request["ContentDescription"] = description
        if expected_signer:
            request["ExpectedSigner"] = {"ID": expected_signer}
        if signature_reason:
            request["SignatureReason"] = signature_reason
        service = self._service()
        return str(_call(lambda: service.PostSignRequest(request=request)))

    def get_sign_response(self, request_id: str, language: str = "en") -> SignResponse:
        """``GetSignResponse``: the request's status, message and results.

        :raises ServiceFault: ``RequestNotFound``, ``AuthorizationFailed`` …
        :raises ServiceUnreachable: no SOAP answer.
        """
        service = self._service()
        answer = _call(lambda: service.GetSignResponse(requestID=request_id, language=language))
        items = answer.Results.SignResult if answer.Results is not None else []
        results = tuple(SignResult(r.CorrelationID, r.Certificate, r.Signature) for r in items or [])
        return SignResponse(str(answer.Status), answer.Message, results)

    def verify_signatures(
        self, content_type: str, contents: Sequence[ContentToVerify], language: str = "en"
    ) -> tuple[VerificationResult, ...]:
        """``VerifySignatures``: one verdict per content, in order.

        :raises ServiceFault: ``InvalidParameter`` (a structurally broken request).
        :raises ServiceUnreachable: no SOAP answer.
        """
        request = {
            "Contents": {
                "VerificationContent": [
                    {"Content": c.content, "CorrelationID": c.correlation_id, "Signature": c.signature}
                    for c in contents
                ]
            },
            "Language": language,
            "SignedContentType": content_type,
        }
        service = self._service()
        # zeep hands back the only member of VerificationResponse, the array of results
        answer = _call(lambda: service.VerifySignatures(request=request))
        items = answer.VerificationResult if answer is not None else []
        return tuple(_verification(r) for r in items or [])


def _verification(result: Any) -> VerificationResult:
    certificates = result.Certificates.VerificationCertificate if result.Certificates is not None else []
    return VerificationResult(
        result.CorrelationID,
        bool(result.SignaturesValid),
        result.Message,
        tuple(
            VerificationCertificate(c.Certificate, c.Subject, bool(c.SignatureValid), c.SignedAt)
            for c in certificates or []
        ),
    )


def _call(operation: Callable[[], T]) -> T:
    """Run one zeep call, its exceptions turned into the demo's."""
    try:
        return operation()
    except zeep.exceptions.Fault as e:
        code = str(e.code or "Server")
        raise ServiceFault(code.rpartition("}")[2].rpartition(":")[2], str(e.message)) from e
    except zeep.exceptions.TransportError as e:
        raise ServiceUnreachable(f"the signing service answered HTTP {e.status_code}") from e
    except requests.RequestException as e:
        raise ServiceUnreachable(f"the signing service cannot be reached: {e}") from e
    except (zeep.exceptions.Error, etree.XMLSyntaxError) as e:
        raise ServiceUnreachable(f"the signing service's answer is not the MSign contract: {e}") from e
