"""SOAP 1.1 as WCF's ``basicHttpBinding`` speaks it.

Input: DTDs and entity declarations are refused before parsing; the envelope
is parsed without entity expansion or network access, with ``huge_tree`` so
that large PDFs fit (our own body limit applies instead), then validated
against the schema of the published WSDL. ``mustUnderstand`` headers other
than the WS-Addressing ``Action`` are refused, and an ``Action`` header or a
``SOAPAction`` HTTP header that names another operation than the body is
refused too. Output: WCF's serialization (see :mod:`.wcf`) and WCF's fault
form (bare contract codes, ``xml:lang`` on ``faultstring``, no detail).

Messages are read and written here directly: Spyne defines the contract (the
types and the operations' descriptors) but its per-request machinery (method
contexts, events, generic readers and writers) does not run, as it cost more
than the rest of a request. Left out: SOAP encoding's ``href`` references
(SOAP 1.1 section 5), which document/literal messages never carry. SOAP with
attachments (``multipart/related``) is unpacked by Spyne's reader, as it
always was.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from lxml import etree
from spyne import Fault
from spyne.protocol.soap.mime import collapse_swa
from werkzeug.http import parse_options_header

from ..constants import ADDRESSING_NAMESPACES, NS_SOAP_ENV, TNS, action_for
from ..verification.xmldsig import syntax_message
from .faults import INTERNAL_ERROR, ContractFault, wire_code
from .wcf import XSI_DECLARATION, UndecodableValue, is_complex, members, read_members, write_value

__all__ = ["WcfSoap11", "fault_envelope"]

log = logging.getLogger(__name__)

_DTD = re.compile(rb"<!(?!--|\[CDATA\[)")
#: Most MIME parts (the SOAP part and its attachments) of a multipart/related message.
MAX_MIME_PARTS = 16
_DTD_REFUSED = "DTDs and entity declarations are not allowed in SOAP messages"
_MUST_UNDERSTAND = f"{{{NS_SOAP_ENV}}}mustUnderstand"
_ENVELOPE = f"{{{NS_SOAP_ENV}}}Envelope"
_HEADER = f"{{{NS_SOAP_ENV}}}Header"
_BODY = f"{{{NS_SOAP_ENV}}}Body"
_FAULT = f"{{{NS_SOAP_ENV}}}Fault"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# a namespace in Clark notation, not libxml2's set of allowed values ({'Hash', 'Pdf'})
_NS_IN_MESSAGE = re.compile(r"\{[^}'\s,]*\}")
#: Namespace declarations a message may make: WCF and zeep use a handful;
#: schema validation costs time quadratic in those in scope.
MAX_NAMESPACES = 256

_PREFIX = "s"
#: An answer's envelope around the operation's response element, as lxml wrote it.
_ANSWER_START = f'<{_PREFIX}:Envelope xmlns:{_PREFIX}="{NS_SOAP_ENV}"><{_PREFIX}:Body>'
_ANSWER_END = f"</{_PREFIX}:Body></{_PREFIX}:Envelope>"
#: Reasons may quote what the caller sent; never echo more than this.
MAX_REASON = 500
#: The one parser configuration SOAP input goes through (a parser object is
#: made per message: lxml parsers must not be used by two threads at once).
_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "attribute_defaults": False,
    "huge_tree": True,
    "remove_comments": True,
    "remove_pis": True,
    "strip_cdata": True,
}


def _namespace_declarations(message: bytes) -> int:
    """How many namespace declarations ``message`` makes (up to one more than
    :data:`MAX_NAMESPACES`); for a message whose bytes hold that many
    ``xmlns`` — a base64 PDF may, by chance."""
    count = 0
    events = etree.iterparse(io.BytesIO(message), events=("start-ns",), **_PARSER_OPTIONS)
    try:
        for _event in events:
            count += 1
            if count > MAX_NAMESPACES:
                break
    except etree.XMLSyntaxError:
        pass  # the parse proper says what is wrong
    return count


def _schema_message(error: Any) -> str:
    """A libxml2 schema error without namespaces, line numbers or internal detail."""
    message = _NS_IN_MESSAGE.sub("", str(error.message))
    return message.replace("Element '", "element '").rstrip(".")


def _envelope() -> tuple[etree._Element, etree._Element]:
    envelope = etree.Element(_ENVELOPE, nsmap={_PREFIX: NS_SOAP_ENV})
    return envelope, etree.SubElement(envelope, _BODY)


def _append_fault(body: etree._Element, code: str, reason: str) -> None:
    element = etree.SubElement(body, _FAULT)
    etree.SubElement(element, "faultcode").text = code
    faultstring = etree.SubElement(element, "faultstring")
    faultstring.set(_XML_LANG, "en-US")
    faultstring.text = reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"
    log.info("fault %s: %s", code, faultstring.text)


def fault_envelope(code: str, reason: str) -> bytes:
    """A whole fault message, for answers given before a message is read.

    :param code: the wire code, e.g. ``Client`` (prefixed here) or ``InvalidParameter``.
    """
    envelope, body = _envelope()
    _append_fault(body, f"{_PREFIX}:{code}" if code in ("Client", "Server") else code, reason)
    return etree.tostring(envelope)


class WcfSoap11:
    """Reads requests and writes answers of the operations in ``operations``.

    :param schema: the contract's XML schema (from the published WSDL).
    :param operations: Spyne's method descriptors by the qualified tag of
        their request element (``{https://msign.gov.md}PostSignRequest``).
    """

    def __init__(self, schema: etree.XMLSchema, operations: Mapping[str, Any]) -> None:
        self.contract_schema = schema
        # The schema keeps one error log: validating and reading it is one step.
        self._schema_lock = threading.Lock()
        self.operations = dict(operations)

    # -- input ---------------------------------------------------------------

    def read(self, message: bytes, content_type: str = "", soap_action: str = "") -> tuple[Any, list[Any]]:
        """The descriptor of the operation ``message`` calls, and its arguments.

        :param content_type: the HTTP ``Content-Type`` (only ``multipart/related`` matters).
        :param soap_action: the HTTP ``SOAPAction`` header, if any.
        :raises spyne.Fault: anything wrong with the message, as the caller
            will receive it (:meth:`write_fault`).
        """
        header, body = self._envelope_parts(self._parse(message, content_type))
        self._check(header, body, soap_action)
        descriptor = self.operations.get(body.tag)
        if descriptor is None:  # a global element of the contract that is not a request
            raise Fault("Client", f"Requested resource {body.tag!r} not found")
        try:
            return descriptor, read_members(descriptor.in_message, body)
        except UndecodableValue as e:
            raise ContractFault("InvalidParameter", f"{e.element} {e.rule}") from e

    def _parse(self, message: bytes, content_type: str) -> etree._Element:
        if _DTD.search(message):
            raise Fault("Client", _DTD_REFUSED)
        if content_type.split(";", 1)[0].strip().lower() == "multipart/related":
            message = _unpack_attachments(message, content_type)
        # lxml finds the encoding itself (BOM, XML declaration, else UTF-8);
        # the HTTP charset is not trusted over it.
        if message.count(b"xmlns") > MAX_NAMESPACES and _namespace_declarations(message) > MAX_NAMESPACES:
            raise Fault("Client", f"The message declares more than {MAX_NAMESPACES} XML namespaces")
        try:
            root = etree.fromstring(message, etree.XMLParser(**_PARSER_OPTIONS))
        except etree.XMLSyntaxError as e:
            raise Fault("Client", f"The message is not well-formed XML: {syntax_message(e)}") from e
        if root.getroottree().docinfo.doctype:  # e.g. UTF-16, which the byte scan cannot see
            raise Fault("Client", _DTD_REFUSED)
        if etree.QName(root).localname == "Envelope" and etree.QName(root).namespace != NS_SOAP_ENV:
            raise Fault("VersionMismatch", f"Only SOAP 1.1 envelopes ({NS_SOAP_ENV}) are accepted")
        return root

    @staticmethod
    def _envelope_parts(root: etree._Element) -> tuple[list[etree._Element], etree._Element]:
        """The header entries and the body's (first) element."""
        if any(child.tag == _BODY and not _elements(child) for child in root):
            raise Fault("Client", "The SOAP Body is empty")
        if root.tag != _ENVELOPE:
            raise Fault("Client", f"No {_ENVELOPE} element was found!")
        headers = [child for child in root if child.tag == _HEADER]
        bodies = [child for child in root if child.tag == _BODY]
        if not headers and not bodies:
            raise Fault("Client", "Soap envelope is empty!")
        if not bodies:
            raise Fault("Client", "The SOAP Body is missing")
        body = _elements(bodies[0])[0]
        if body.tag == _FAULT:
            raise Fault("Client", "A SOAP Fault is not a request")
        return (_elements(headers[0]) if headers else []), body

    def _check(self, header: Sequence[etree._Element], body: etree._Element, soap_action: str) -> None:
        """Headers and SOAPAction against the body, the body against the contract."""
        qname = etree.QName(body)
        operation = qname.localname if qname.namespace == TNS else None
        for entry in header:
            entry_name = etree.QName(entry)
            if entry_name.namespace in ADDRESSING_NAMESPACES and entry_name.localname == "Action":
                action = (entry.text or "").strip()
                if operation and action != action_for(operation):
                    raise Fault("Client", f"The Action header {action!r} does not match the operation {operation}")
            elif entry.get(_MUST_UNDERSTAND) in ("1", "true"):
                raise Fault(
                    "MustUnderstand",
                    f"The header {entry_name.localname} ({entry_name.namespace}) is not understood",
                )
        soap_action = soap_action.strip().strip('"')
        if soap_action and operation and soap_action != action_for(operation):
            raise Fault("Client", f"The SOAPAction {soap_action!r} does not match the operation {operation}")
        with self._schema_lock:
            valid = self.contract_schema.validate(body)
            error = None if valid else self.contract_schema.error_log[0]
        if error is not None:
            raise ContractFault(
                "InvalidParameter", f"The message does not follow the contract: {_schema_message(error)}"
            )

    # -- output ----------------------------------------------------------------

    @staticmethod
    def write_answer(descriptor: Any, result: Any) -> bytes:
        """The response message of the operation of ``descriptor`` returning ``result``.

        :raises ValueError: ``result`` holds a string XML does not allow.
        """
        out_message = descriptor.out_message
        names = members(out_message)
        values = [result] if len(names) <= 1 else result
        wrapper = out_message.get_type_name()
        parts = [_ANSWER_START, f'<{wrapper} xmlns="{TNS}">']
        for (name, cls), value in zip(names, values, strict=True):
            write_value(parts, name, cls, value, XSI_DECLARATION if is_complex(cls) or value is None else "")
        parts.append(f"</{wrapper}>{_ANSWER_END}")
        return "".join(parts).encode("utf-8")

    @staticmethod
    def write_fault(fault: Fault) -> bytes:
        """The fault message for ``fault``; an unsafe ``Server`` reason is replaced by a generic one."""
        code = wire_code(fault, _PREFIX)
        reason = fault.faultstring
        if code == f"{_PREFIX}:Server" and not getattr(fault, "safe", False):
            reason = INTERNAL_ERROR
        envelope, body = _envelope()
        _append_fault(body, code, reason)
        return etree.tostring(envelope, encoding="UTF-8")


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


class _Attachments:
    """The one attribute of a Spyne method context that :func:`collapse_swa` reads."""

    def __init__(self, message: bytes) -> None:
        self.in_string = [message]


def _unpack_attachments(message: bytes, content_type: str) -> bytes:
    """The SOAP part of a ``multipart/related`` message, attachments put back in place.

    Spyne parses and writes the whole envelope again for every attachment:
    more than :data:`MAX_MIME_PARTS` parts are refused before that.
    """
    mime_type, parameters = parse_options_header(content_type)
    boundary = parameters.get("boundary")
    if boundary and message.count(b"--" + boundary.encode("latin-1", "replace")) > MAX_MIME_PARTS + 1:
        raise Fault("Client", f"A multipart/related message may have at most {MAX_MIME_PARTS} parts")
    try:
        (envelope,) = collapse_swa(_Attachments(message), (mime_type, parameters), NS_SOAP_ENV)
    except (AttributeError, KeyError, TypeError, ValueError, etree.XMLSyntaxError) as e:
        # e.g. a part without Content-ID: Spyne's reader assumes one
        raise Fault("Client", "The multipart/related message is malformed") from e
    return envelope.encode("utf-8") if isinstance(envelope, str) else envelope
