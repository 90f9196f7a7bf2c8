"""SOAP 1.1 as WCF's ``basicHttpBinding`` speaks it, on top of Spyne.

Input: DTDs and entity declarations are refused before parsing; the envelope
is parsed without entity expansion or network access, with ``huge_tree`` so
that large PDFs fit (our own body limit applies instead), then validated
against the schema of the published WSDL. ``mustUnderstand`` headers other
than the WS-Addressing ``Action`` are refused, and an ``Action`` header or a
``SOAPAction`` HTTP header that names another operation than the body is
refused too. Output: WCF's serialization (see :mod:`.wcf`) and WCF's fault
form (bare contract codes, ``xml:lang`` on ``faultstring``, no detail).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from lxml import etree
from spyne import Fault
from spyne.protocol.soap import Soap11

from ..constants import ADDRESSING_NAMESPACES, NS_SOAP_ENV, NS_XSI, TNS, action_for
from .faults import INTERNAL_ERROR, ContractFault, wire_code
from .wcf import UndecodableValue, is_complex, members, read_members, write_value

__all__ = ["WcfSoap11", "fault_envelope"]

log = logging.getLogger(__name__)

_DTD = re.compile(rb"<!(?!--|\[CDATA\[)")
_MUST_UNDERSTAND = f"{{{NS_SOAP_ENV}}}mustUnderstand"
_BODY = f"{{{NS_SOAP_ENV}}}Body"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_NS_IN_MESSAGE = re.compile(r"\{[^}]*\}")
_PREFIX = "s"
#: Reasons may quote what the caller sent; never echo more than this.
MAX_REASON = 500


def _schema_message(error: Any) -> str:
    """A libxml2 schema error without namespaces, line numbers or internal detail."""
    message = _NS_IN_MESSAGE.sub("", str(error.message))
    return message.replace("Element '", "element '").rstrip(".")


def _envelope() -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(f"{{{NS_SOAP_ENV}}}Envelope", nsmap={_PREFIX: NS_SOAP_ENV})
    return envelope, etree.SubElement(envelope, f"{{{NS_SOAP_ENV}}}Body")


def _append_fault(body: etree._Element, code: str, reason: str) -> None:
    element = etree.SubElement(body, f"{{{NS_SOAP_ENV}}}Fault")
    etree.SubElement(element, "faultcode").text = code
    faultstring = etree.SubElement(element, "faultstring")
    faultstring.set(_XML_LANG, "en-US")
    faultstring.text = reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"
    log.info("fault %s: %s", code, faultstring.text)


def fault_envelope(code: str, reason: str) -> bytes:
    """A whole fault message, for answers given before Spyne runs.

    :param code: the wire code, e.g. ``Client`` (prefixed here) or ``InvalidParameter``.
    """
    envelope, body = _envelope()
    _append_fault(body, f"{_PREFIX}:{code}" if code in ("Client", "Server") else code, reason)
    return etree.tostring(envelope)


class WcfSoap11(Soap11):
    """Spyne's SOAP 1.1 protocol, hardened and speaking WCF's dialect.

    :param schema: the contract's XML schema (from the published WSDL).
    :param max_body_bytes: for the message of the over-size fault.
    """

    def __init__(self, schema: etree.XMLSchema, max_body_bytes: int) -> None:
        super().__init__(
            validator=None,
            xml_declaration=False,
            cleanup_namespaces=False,
            huge_tree=True,
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
        )
        self.contract_schema = schema
        self.max_body_bytes = max_body_bytes

    # -- input ---------------------------------------------------------------

    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        body = b"".join(ctx.in_string)
        if _DTD.search(body):
            raise Fault("Client", "DTDs and entity declarations are not allowed in SOAP messages")
        ctx.in_string = [body]
        # lxml finds the encoding itself (BOM, XML declaration, else UTF-8);
        # Spyne would decode with the HTTP charset and fail on a mismatch.
        super().create_in_document(ctx, None)
        root, _ = ctx.in_document
        if root.getroottree().docinfo.doctype:
            raise Fault("Client", "DTDs and entity declarations are not allowed in SOAP messages")
        if etree.QName(root).localname == "Envelope" and etree.QName(root).namespace != NS_SOAP_ENV:
            raise Fault("VersionMismatch", f"Only SOAP 1.1 envelopes ({NS_SOAP_ENV}) are accepted")

    def decompose_incoming_envelope(self, ctx: Any, message: Any = Soap11.REQUEST) -> None:
        root, _ = ctx.in_document
        for child in root:
            if child.tag == _BODY and not any(isinstance(grandchild.tag, str) for grandchild in child):
                raise Fault("Client", "The SOAP Body is empty")
        super().decompose_incoming_envelope(ctx, message)

    def validate_body(self, ctx: Any, message: Any) -> None:
        body = ctx.in_body_doc
        operation = etree.QName(body).localname if etree.QName(body).namespace == TNS else None
        for header in ctx.in_header_doc or ():
            if not isinstance(header.tag, str):
                continue
            qname = etree.QName(header)
            if qname.namespace in ADDRESSING_NAMESPACES and qname.localname == "Action":
                action = (header.text or "").strip()
                if operation and action != action_for(operation):
                    raise Fault("Client", f"The Action header {action!r} does not match the operation {operation}")
            elif header.get(_MUST_UNDERSTAND) in ("1", "true"):
                raise Fault("MustUnderstand", f"The header {qname.localname} ({qname.namespace}) is not understood")
        soap_action = (ctx.transport.req_env.get("HTTP_SOAPACTION") or "").strip().strip('"')
        if soap_action and operation and soap_action != action_for(operation):
            raise Fault("Client", f"The SOAPAction {soap_action!r} does not match the operation {operation}")
        if not self.contract_schema.validate(body):
            error = self.contract_schema.error_log[0]
            raise ContractFault(
                "InvalidParameter", f"The message does not follow the contract: {_schema_message(error)}"
            )

    def deserialize(self, ctx: Any, message: Any) -> None:
        # Spyne's own reader costs a third of a request; the body has been
        # validated against the schema, so a direct walk is enough.
        self.event_manager.fire_event("before_deserialize", ctx)
        try:
            ctx.in_object = read_members(ctx.descriptor.in_message, ctx.in_body_doc)
        except UndecodableValue as e:
            raise ContractFault("InvalidParameter", f"{e.element} {e.rule}") from e
        self.event_manager.fire_event("after_deserialize", ctx)

    # -- output ----------------------------------------------------------------

    def serialize(self, ctx: Any, message: Any) -> None:
        self.event_manager.fire_event("before_serialize", ctx)
        envelope, body = _envelope()
        if ctx.out_error is not None:
            self._write_fault(body, ctx.out_error)
        else:
            out_message = ctx.descriptor.out_message
            wrapper = etree.SubElement(body, f"{{{TNS}}}{out_message.get_type_name()}", nsmap={None: TNS})
            for (name, cls), value in zip(members(out_message), ctx.out_object, strict=True):
                write_value(
                    wrapper, name, cls, value, nsmap={"i": NS_XSI} if is_complex(cls) or value is None else None
                )
        ctx.out_document = envelope
        ctx.out_body_doc = body
        self.event_manager.fire_event("after_serialize", ctx)

    def _write_fault(self, body: etree._Element, fault: Fault) -> None:
        code = wire_code(fault, _PREFIX)
        reason = fault.faultstring
        if code == f"{_PREFIX}:Server" and not getattr(fault, "safe", False):
            reason = INTERNAL_ERROR
        elif fault.faultcode == "Client.RequestTooLong":
            reason = f"The request body is larger than the limit of {self.max_body_bytes} bytes"
        elif fault.faultcode == "Client.XMLSyntaxError":
            reason = f"The message is not well-formed XML: {reason}"
        _append_fault(body, code, reason)
