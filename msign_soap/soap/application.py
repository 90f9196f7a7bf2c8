"""The SOAP endpoint as a WSGI application: ``/MSign.svc``.

``GET ?wsdl`` and ``GET ?singleWsdl`` return the whole contract with
``soap:address`` set to the URL it was fetched from; a plain ``GET`` returns a
short help page, as WCF does; ``POST`` is SOAP 1.1.
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any, Callable, Iterable

from lxml import etree
from spyne import Application
from spyne.server.wsgi import WsgiApplication

from ..constants import NS_XSD, TNS
from ..core import RequestService
from ..errors import AuthenticationFailed, MSignError
from .faults import fault_for
from .protocol import WcfSoap11
from .service import MSignService
from .wsdl import with_address

__all__ = ["MSignApplication", "contract_schema", "create_soap_app", "published_wsdl"]

log = logging.getLogger(__name__)

#: Environ key under which a TLS front end hands over the client certificate serial.
CLIENT_SERIAL_KEY = "msign.client_certificate_serial"


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


class MSignApplication(Application):
    """Spyne application that maps domain errors to faults in one place."""

    def __init__(self, requests: RequestService, max_body_bytes: int, schema: etree.XMLSchema) -> None:
        super().__init__(
            [MSignService],
            tns=TNS,
            name="MSignService",
            in_protocol=WcfSoap11(schema, max_body_bytes),
            out_protocol=WcfSoap11(schema, max_body_bytes),
        )
        self.requests = requests

    def authenticate(self, ctx: Any, operation: str) -> Any:
        """The consumer calling, or :class:`AuthenticationFailed`.

        Until mutual TLS arrives, a caller without a client certificate is the
        demo consumer when the demo mode is on, and nobody otherwise.
        """
        serial = ctx.transport.req_env.get(CLIENT_SERIAL_KEY)
        if serial is None and self.requests.config.demo_mode:
            return self.requests.demo_consumer()
        raise AuthenticationFailed(serial)

    def call_wrapper(self, ctx: Any) -> Any:
        operation = ctx.descriptor.name if ctx.descriptor else None
        try:
            return super().call_wrapper(ctx)
        except MSignError as e:
            raise fault_for(e, operation) from e
        except Exception:
            log.exception("unexpected error in %s", operation)
            raise fault_for(MSignError("internal"), operation) from None


def create_soap_app(requests: RequestService) -> Callable[[dict, Callable], Iterable[bytes]]:
    """The WSGI application of the SOAP endpoint."""
    config = requests.config
    wsdl = published_wsdl()
    spyne_app = MSignApplication(requests, config.max_body_bytes, contract_schema(wsdl))
    soap = WsgiApplication(spyne_app, max_content_length=config.max_body_bytes)

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
        if not environ.get("CONTENT_TYPE"):
            environ["CONTENT_TYPE"] = "text/xml; charset=utf-8"
        return soap(environ, start_response)

    return app


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
