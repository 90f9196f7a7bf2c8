"""Namespaces, actions and other URIs of the MSign contract, in one place."""

from __future__ import annotations

__all__ = [
    "ADDRESSING_NAMESPACES",
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
