"""The SOAP endpoint as a WSGI application: ``/MSign.svc``.

``GET ?wsdl`` and ``GET ?singleWsdl`` return the whole contract with
``soap:address`` set to the URL it was fetched from; a plain ``GET`` returns a
short help page, as WCF does; ``POST`` is SOAP 1.1 (:mod:`.protocol`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from importlib import resources
from typing import Any

from lxml import etree
from spyne import Application, Fault

from ..constants import CLIENT_CERTIFICATE_KEY, NS_XSD, TNS, client_address
from ..core import RequestService
from ..core.consumers import ConsumerRegistry
from ..core.ratelimit import RateLimiter
from ..errors import MSignError, RateLimited
from ..observability import CallContext as LogContext
from ..observability import annotate, bind, reset
from ..verification.trust import Trust
from .faults import INTERNAL_ERROR, ContractFault, ServerFault, ThrottledFault, fault_for
from .protocol import WcfSoap11, fault_envelope
from .service import MSignService
from .wsdl import with_address

__all__ = ["MSignApplication", "contract_schema", "create_soap_app", "published_wsdl"]

log = logging.getLogger(__name__)

_SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"
_CLOSE = [("Connection", "close")]


def published_wsdl() -> bytes:
    """The committed contract, ``wsdl/MSign.wsdl``, shipped as package data."""
    return (resources.files("msign_soap._wsdl") / "MSign.wsdl").read_bytes()


def contract_schema(wsdl: bytes) -> etree.XMLSchema:
    """The XML schema of the service namespace, from the WSDL's types."""
    root = etree.fromstring(wsdl)
    schema = root.find(f".//{{{NS_XSD}}}schema[@targetNamespace='{TNS}']")
    schema = etree.fromstring(etree.tostring(schema))
    for imported in schema.findall(f"{{{NS_XSD}}}import"):
        schema.remove(imported)  # only annotations use the Serialization namespace
    return etree.XMLSchema(schema)


class CallContext:
    """What an operation of :class:`MSignService` receives as ``ctx``.

    The attributes bear the names of Spyne's ``MethodContext`` that the
    operations and Spyne's ``call_wrapper`` chain use; the rest of Spyne's
    per-request machinery does not run (:mod:`.protocol`).
    """

    __slots__ = ("app", "descriptor", "function", "in_object", "transport")

    def __init__(self, app: MSignApplication, environ: dict, descriptor: Any, arguments: list[Any]) -> None:
        self.app = app
        self.transport = _Transport(environ)
        self.descriptor = descriptor
        self.function = descriptor.function
        self.in_object = arguments


class _Transport:
    __slots__ = ("req_env",)

    def __init__(self, environ: dict) -> None:
        self.req_env = environ


class MSignApplication(Application):
    """Spyne application of the contract: answers SOAP messages and maps
    domain errors to faults in one place."""

    def __init__(
        self,
        requests: RequestService,
        consumers: ConsumerRegistry,
        schema: etree.XMLSchema,
        trust: Trust | None = None,
    ) -> None:
        super().__init__([MSignService], tns=TNS, name="MSignService")
        self.requests = requests
        self.consumers = consumers
        rate = requests.config.soap_rate_limit
        #: Calls per second each consumer may make (``Config.soap_rate_limit``).
        self.by_consumer = RateLimiter(rate, max(1, int(2 * rate))) if rate else None
        self.soap = WcfSoap11(schema, {tag: handles[0] for tag, handles in self.interface.service_method_map.items()})
        #: What VerifySignatures trusts; ``None``: verification is not available.
        self.trust = trust

    def authenticate(self, ctx: Any, operation: str) -> Any:
        """The consumer calling, or :class:`~msign_soap.errors.AuthenticationFailed`.

        The client certificate and address are those the HTTPS listener or a
        trusted proxy put in the environ (:mod:`msign_soap.tls`); a caller
        without a certificate is the demo consumer in demo mode, nobody otherwise.
        """
        environ = ctx.transport.req_env
        certificate = environ.get(CLIENT_CERTIFICATE_KEY)
        if certificate is None and self.requests.config.demo_mode:
            consumer = self.requests.demo_consumer()
        else:
            consumer = self.consumers.authenticate(certificate, client_address(environ))
        annotate(consumer=consumer.name)
        if self.by_consumer is not None and (wait := self.by_consumer.take(str(consumer.id))):
            raise RateLimited(wait)
        return consumer

    def call_wrapper(self, ctx: Any) -> Any:
        operation = ctx.descriptor.name if ctx.descriptor else None
        try:
            return super().call_wrapper(ctx)
        except MSignError as e:
            raise fault_for(e, operation) from e
        except Exception:
            log.exception("unexpected error in %s", operation)
            raise fault_for(MSignError("internal"), operation) from None

    def respond(self, environ: dict, message: bytes) -> tuple[Fault | None, bytes]:
        """Answer the SOAP request ``message``: the fault if it failed, and the
        response or fault message."""
        try:
            descriptor, arguments = self.soap.read(
                message, environ.get("CONTENT_TYPE") or "", environ.get("HTTP_SOAPACTION") or ""
            )
            annotate(operation=descriptor.name)
            result = self.call_wrapper(CallContext(self, environ, descriptor, arguments))
        except Fault as fault:
            return fault, self.soap.write_fault(fault)
        return None, self.soap.write_answer(descriptor, result)


def create_soap_app(
    requests: RequestService, consumers: ConsumerRegistry, trust: Trust | None = None
) -> Callable[[dict, Callable], Iterable[bytes]]:
    """The WSGI application of the SOAP endpoint.

    :param consumers: who may call (by client certificate and address).
    :param trust: the trust anchors and revocation policy of VerifySignatures
        (without them it answers that verification is not available).
    """
    config = requests.config
    wsdl = published_wsdl()
    soap = MSignApplication(requests, consumers, contract_schema(wsdl), trust)
    rate = config.soap_address_rate_limit
    by_address = RateLimiter(rate, max(1, int(2 * rate))) if rate else None
    metrics = requests.metrics

    def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method in ("GET", "HEAD"):
            query = environ.get("QUERY_STRING", "").split("=", 1)[0].split("&", 1)[0].lower()
            if query in ("wsdl", "singlewsdl"):
                body = with_address(wsdl, _own_url(environ))
                content_type = "text/xml; charset=utf-8"
            else:
                body = _HELP.encode()
                content_type = "text/html; charset=utf-8"
            start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
            return [] if method == "HEAD" else [body]
        if method != "POST":
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD, POST"), ("Content-Length", "0")])
            return []
        # the call's RequestID and consumer for the logs, its outcome for the metrics
        call = LogContext()
        token = bind(call)
        started = time.perf_counter()
        status = "Server"  # should anything escape
        try:
            status, answer = post(environ, start_response)
            return answer
        finally:
            reset(token)
            metrics.soap_call(call.operation, call.consumer, status, time.perf_counter() - started)

    def post(environ: dict, start_response: Callable) -> tuple[str, list[bytes]]:
        """The metrics' status of a SOAP call (:func:`_status`), and the answer."""
        if by_address is not None and (wait := by_address.take(client_address(environ))):
            reason = RateLimited(wait).reason
            headers = [("Retry-After", str(wait))]
            return "RateLimited", _fault(start_response, "Server", reason, headers, "503 Service Unavailable")
        try:
            request_body = _read_body(environ, config.max_body_bytes)
        except ValueError:
            return "Client", _fault(start_response, "Client", "The Content-Length header is not a whole number", _CLOSE)
        if request_body is None:
            reason = f"The request body is larger than the limit of {config.max_body_bytes} bytes"
            return "Client", _fault(start_response, "Client", reason, _CLOSE)
        return _answer(soap, environ, request_body, start_response)

    return app


def _read_body(environ: dict, limit: int) -> bytes | None:
    """The whole request body, or ``None`` when it is larger than ``limit``.

    Reads chunked bodies (no Content-Length) too, never more than ``limit + 1``
    bytes; a declared length over the limit is refused without reading.

    :raises ValueError: the Content-Length is not a whole number.
    """
    stream = environ["wsgi.input"]
    declared = environ.get("CONTENT_LENGTH")
    if declared:
        if not declared.strip().isdigit():
            raise ValueError(declared)  # reading to the end would wait for the client to close
        length = int(declared)
        if length > limit:
            return None
        return stream.read(length)
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(65536, limit + 1 - size))
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        size += len(chunk)
    return None


def _fault(
    start_response: Callable,
    code: str,
    reason: str,
    headers: list | None = None,
    status: str = "500 Internal Server Error",
) -> list[bytes]:
    body = fault_envelope(code, reason)
    start_response(status, [("Content-Type", _SOAP_CONTENT_TYPE), ("Content-Length", str(len(body)))] + (headers or []))
    return [body]


def _answer(soap: MSignApplication, environ: dict, message: bytes, start_response: Callable) -> tuple[str, list[bytes]]:
    """Answer a SOAP request; should anything unexpected escape, a SOAP fault, not an HTML page.

    :return: the call's status for the metrics (:func:`_status`), and the answer.
    """
    try:
        fault, answer = soap.respond(environ, message)
    except Exception:
        log.exception("unexpected error in the SOAP stack")
        return "Server", _fault(start_response, "Server", INTERNAL_ERROR)
    headers = [("Content-Type", _SOAP_CONTENT_TYPE), ("Content-Length", str(len(answer)))]
    if isinstance(fault, ThrottledFault):
        start_response("503 Service Unavailable", [*headers, ("Retry-After", str(fault.retry_after))])
    else:
        start_response("200 OK" if fault is None else "500 Internal Server Error", headers)
    return _status(fault), [answer]


#: The SOAP 1.1 fault codes a status may be (anything else counts as ``Server``).
_SOAP_CODES = frozenset(("Client", "Server", "MustUnderstand", "VersionMismatch"))


def _status(fault: Fault | None) -> str:
    """A call's ``status`` label: ``ok``, the contract's fault code, ``RateLimited``,
    ``NotAvailable``, or the SOAP fault code."""
    if fault is None:
        return "ok"
    if isinstance(fault, ThrottledFault):
        return "RateLimited"
    if isinstance(fault, ContractFault):
        return str(fault.faultcode)
    if isinstance(fault, ServerFault):
        return "NotAvailable"
    code = str(fault.faultcode).split(".", 1)[0]
    return code if code in _SOAP_CODES else "Server"


def _own_url(environ: dict) -> str:
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    return f"{scheme}://{host}{path}"


_HELP = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>MSignService</title></head>
<body><h1>MSignService</h1>
<p>This is the MSign SOAP 1.1 endpoint. The contract is at <a href="?singleWsdl">?singleWsdl</a>
(also <a href="?wsdl">?wsdl</a>).</p></body></html>
"""
