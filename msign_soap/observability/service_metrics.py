"""The service's metrics: what ``GET /metrics`` shows.

================================================  ==========================================
``msign_soap_requests_total``                     SOAP calls by ``operation`` (``-`` when the
                                                  message was never read), ``consumer`` (its
                                                  registered name, ``-`` when unknown) and
                                                  ``status`` (``ok`` or the fault)
``msign_soap_request_seconds``                    SOAP call latency by ``operation``
``msign_sign_requests_finished_total``            requests ended, by ``status`` (``Success``,
                                                  ``Failure``, ``Expired``) and ``instrument``
                                                  (``-`` when no instrument ended it)
``msign_signatures_total``                        signatures the service assembled, by
                                                  ``kind`` (``xades``, ``pades``)
``msign_verifications_total``                     verified contents (VerifySignatures,
                                                  ``/verify``) by ``content_type`` and ``valid``
``msign_http_requests_total``                     sign-page responses by ``route`` (the route's
                                                  template) and HTTP ``code``
================================================  ==========================================

Every label takes a bounded set of values: operations and instruments of
the contract, registered consumers, route templates (never a raw path), status
codes. The ``status`` of a SOAP call is ``ok``, a contract fault code
(``AuthenticationFailed``, ``AuthorizationFailed``, ``InvalidParameter``,
``RequestNotFound``), ``RateLimited`` (HTTP 503), ``NotAvailable`` (a feature
not configured) or the SOAP code of any other fault (``Client``, ``Server``,
``MustUnderstand``, ``VersionMismatch``).
"""

from __future__ import annotations

from .metrics import Registry

__all__ = ["UNKNOWN", "ServiceMetrics"]

#: The label value of what is not known (an unauthenticated caller, no instrument).
UNKNOWN = "-"


class ServiceMetrics:
    """The counters and histograms of one service (one per process and service)."""

    def __init__(self) -> None:
        self.registry = Registry()
        self.soap_requests = self.registry.counter(
            "msign_soap_requests_total",
            "SOAP calls by operation, consumer and status.",
            ("operation", "consumer", "status"),
        )
        self.soap_seconds = self.registry.histogram(
            "msign_soap_request_seconds", "Time to answer a SOAP call, in seconds.", ("operation",)
        )
        self.sign_requests_finished = self.registry.counter(
            "msign_sign_requests_finished_total",
            "Sign requests ended, by status (Success, Failure, Expired) and instrument.",
            ("status", "instrument"),
        )
        self.signatures = self.registry.counter(
            "msign_signatures_total", "Signatures the service assembled, by kind (xades, pades).", ("kind",)
        )
        self.verifications = self.registry.counter(
            "msign_verifications_total", "Verified contents by content type and validity.", ("content_type", "valid")
        )
        self.http_requests = self.registry.counter(
            "msign_http_requests_total", "Sign-page responses by route template and HTTP status.", ("route", "code")
        )

    def soap_call(self, operation: str | None, consumer: str | None, status: str, seconds: float) -> None:
        """Count one SOAP call and its latency."""
        operation = operation or UNKNOWN
        self.soap_requests.inc(operation, consumer or UNKNOWN, status)
        self.soap_seconds.observe(seconds, operation)

    def sign_request_finished(self, status: str, instrument: str | None) -> None:
        """Count a request that reached a terminal state."""
        self.sign_requests_finished.inc(status, instrument or UNKNOWN)

    def verification(self, content_type: str, valid: bool) -> None:
        """Count one verified content."""
        self.verifications.inc(content_type, "true" if valid else "false")

    def page(self, route: str | None, code: int) -> None:
        """Count one sign-page response."""
        self.http_requests.inc(route or UNKNOWN, str(code))
