"""The MSign SOAP contract: Spyne types, the IMSign service, WSDL, faults."""

from .application import MSignApplication, contract_schema, create_soap_app, published_wsdl
from .service import MSignService
from .wsdl import build_wsdl, with_address

__all__ = [
    "MSignApplication",
    "MSignService",
    "build_wsdl",
    "contract_schema",
    "create_soap_app",
    "published_wsdl",
    "with_address",
]
