"""Namespaces, actions and other URIs of the MSign contract, in one place."""

from __future__ import annotations

__all__ = [
    "ADDRESSING_NAMESPACES",
    "CLIENT_ADDRESS_KEY",
    "CLIENT_CERTIFICATE_KEY",
    "client_address",
    "NS_SERIALIZATION",
    "NS_SOAP_ENV",
    "NS_WSDL",
    "NS_WSDL_SOAP",
    "NS_XSD",
    "NS_XSI",
    "OPERATIONS",
    "PORT_TYPE",
    "TNS",
    "action_for",
]

#: Target, schema and data-contract namespace of the MSign service.
TNS = "https://msign.gov.md"
#: WCF's DataContract serialization namespace (annotations in the WSDL).
NS_SERIALIZATION = "http://schemas.microsoft.com/2003/10/Serialization/"
NS_SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_XSD = "http://www.w3.org/2001/XMLSchema"
NS_WSDL = "http://schemas.xmlsoap.org/wsdl/"
NS_WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
NS_WSAW = "http://www.w3.org/2006/05/addressing/wsdl"

#: Namespaces of the WS-Addressing ``Action`` header that clients may send;
#: the first is the one WCF writes in message logs (AddressingVersion.None).
ADDRESSING_NAMESPACES = (
    "http://schemas.microsoft.com/ws/2005/05/addressing/none",
    "http://www.w3.org/2005/08/addressing",
    "http://schemas.xmlsoap.org/ws/2004/08/addressing",
)

PORT_TYPE = "IMSign"
#: Operations in contract order (portType and binding order of the WSDL).
OPERATIONS = ("PostSignRequest", "GetSignResponse", "VerifySignatures")


def action_for(operation: str, response: bool = False) -> str:
    """The SOAPAction / ``wsaw:Action`` URI of an operation or of its reply."""
    return f"{TNS}/{PORT_TYPE}/{operation}{'Response' if response else ''}"


#: WSGI environ key of the caller's verified TLS client certificate (DER), as
#: the HTTPS listener or a trusted reverse proxy hands it over (:mod:`msign_soap.tls`).
CLIENT_CERTIFICATE_KEY = "msign.client_certificate"
#: WSGI environ key of the caller's address: ``REMOTE_ADDR``, or the address a
#: trusted reverse proxy forwarded.
CLIENT_ADDRESS_KEY = "msign.client_address"


def client_address(environ: dict) -> str:
    """The caller's address: what the HTTPS listener or a trusted proxy set, else ``REMOTE_ADDR``."""
    return str(environ.get(CLIENT_ADDRESS_KEY) or environ.get("REMOTE_ADDR") or "")
