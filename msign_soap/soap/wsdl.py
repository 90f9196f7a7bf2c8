"""Generate the service's WSDL in the exact form WCF's ``?singleWsdl`` has.

The document is built from the Spyne types and service methods: the schema
lists each operation's wrapper elements followed by the types they reach,
depth first, each complex or simple type followed by its global nillable
element (the DataContract convention); then messages, port type, binding and
service. The result equals the real service's WSDL but for ``soap:address``;
``wsdl/MSign.wsdl`` in the repository is this output, checked by the tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lxml import etree
from spyne import Boolean, ByteArray, DateTime, Integer32, Unicode
from spyne.model.enum import EnumBase

from ..constants import NS_SERIALIZATION, NS_WSDL, NS_WSDL_SOAP, NS_XSD, PORT_TYPE, TNS, action_for
from .types import enumeration_values
from .wcf import edv, is_array, is_complex

__all__ = ["PLACEHOLDER_ADDRESS", "build_wsdl", "with_address"]

#: The address written into the generated document; replaced when served.
PLACEHOLDER_ADDRESS = "http://localhost:8080/MSign.svc"

_ROOT_NSMAP = {
    "wsdl": NS_WSDL,
    "wsam": "http://www.w3.org/2007/05/addressing/metadata",
    "wsx": "http://schemas.xmlsoap.org/ws/2004/09/mex",
    "wsap": "http://schemas.xmlsoap.org/ws/2004/08/addressing/policy",
    "msc": "http://schemas.microsoft.com/ws/2005/12/wsdl/contract",
    "wsp": "http://schemas.xmlsoap.org/ws/2004/09/policy",
    "xsd": NS_XSD,
    "soap": NS_WSDL_SOAP,
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
    "soap12": "http://schemas.xmlsoap.org/wsdl/soap12/",
    "soapenc": "http://schemas.xmlsoap.org/soap/encoding/",
    "tns": TNS,
    "wsa10": "http://www.w3.org/2005/08/addressing",
    "wsaw": "http://www.w3.org/2006/05/addressing/wsdl",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
}

_PRIMITIVES = (
    (ByteArray, "xs:base64Binary"),
    (Boolean, "xs:boolean"),
    (DateTime, "xs:dateTime"),
    (Integer32, "xs:int"),
    (Unicode, "xs:string"),
)

#: WCF's standard Serialization schema, imported by every DataContract WSDL.
_SERIALIZATION_SCHEMA = """\
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="http://schemas.microsoft.com/2003/10/Serialization/" \
attributeFormDefault="qualified" elementFormDefault="qualified" targetNamespace="http://schemas.microsoft.com/2003/10/Serialization/">
<xs:element name="anyType" nillable="true" type="xs:anyType"/>
<xs:element name="anyURI" nillable="true" type="xs:anyURI"/>
<xs:element name="base64Binary" nillable="true" type="xs:base64Binary"/>
<xs:element name="boolean" nillable="true" type="xs:boolean"/>
<xs:element name="byte" nillable="true" type="xs:byte"/>
<xs:element name="dateTime" nillable="true" type="xs:dateTime"/>
<xs:element name="decimal" nillable="true" type="xs:decimal"/>
<xs:element name="double" nillable="true" type="xs:double"/>
<xs:element name="float" nillable="true" type="xs:float"/>
<xs:element name="int" nillable="true" type="xs:int"/>
<xs:element name="long" nillable="true" type="xs:long"/>
<xs:element name="QName" nillable="true" type="xs:QName"/>
<xs:element name="short" nillable="true" type="xs:short"/>
<xs:element name="string" nillable="true" type="xs:string"/>
<xs:element name="unsignedByte" nillable="true" type="xs:unsignedByte"/>
<xs:element name="unsignedInt" nillable="true" type="xs:unsignedInt"/>
<xs:element name="unsignedLong" nillable="true" type="xs:unsignedLong"/>
<xs:element name="unsignedShort" nillable="true" type="xs:unsignedShort"/>
<xs:element name="char" nillable="true" type="tns:char"/>
<xs:simpleType name="char"><xs:restriction base="xs:int"/></xs:simpleType>
<xs:element name="duration" nillable="true" type="tns:duration"/>
<xs:simpleType name="duration"><xs:restriction base="xs:duration">
<xs:pattern value="\\-?P(\\d*D)?(T(\\d*H)?(\\d*M)?(\\d*(\\.\\d*)?S)?)?"/>
<xs:minInclusive value="-P10675199DT2H48M5.4775808S"/>
<xs:maxInclusive value="P10675199DT2H48M5.4775807S"/>
</xs:restriction></xs:simpleType>
<xs:element name="guid" nillable="true" type="tns:guid"/>
<xs:simpleType name="guid"><xs:restriction base="xs:string">
<xs:pattern value="[\\da-fA-F]{8}-[\\da-fA-F]{4}-[\\da-fA-F]{4}-[\\da-fA-F]{4}-[\\da-fA-F]{12}"/>
</xs:restriction></xs:simpleType>
<xs:attribute name="FactoryType" type="xs:QName"/>
<xs:attribute name="Id" type="xs:ID"/>
<xs:attribute name="Ref" type="xs:IDREF"/>
</xs:schema>"""


def _xs(tag: str) -> str:
    return f"{{{NS_XSD}}}{tag}"


def _wsdl(tag: str) -> str:
    return f"{{{NS_WSDL}}}{tag}"


def _soap(tag: str) -> str:
    return f"{{{NS_WSDL_SOAP}}}{tag}"


def _type_ref(cls: Any) -> str:
    if is_complex(cls) or issubclass(cls, EnumBase):
        return f"tns:{cls.get_type_name()}"
    for base, name in _PRIMITIVES:
        if issubclass(cls, base):
            return name
    raise TypeError(f"no XSD type for {cls!r}")


def _serialization_appinfo(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> None:
    appinfo = etree.SubElement(etree.SubElement(parent, _xs("annotation")), _xs("appinfo"))
    marker = etree.SubElement(appinfo, f"{{{NS_SERIALIZATION}}}{tag}", nsmap={None: NS_SERIALIZATION})
    for key, value in attrs.items():
        marker.set(key, value)
    marker.text = text


def _member(sequence: etree._Element, name: str, cls: Any, many: bool = False) -> None:
    element = etree.SubElement(sequence, _xs("element"))
    if cls.Attributes.min_occurs == 0 or many:
        element.set("minOccurs", "0")
    if many:
        element.set("maxOccurs", "unbounded")
    element.set("name", name)
    if cls.Attributes.nillable or many:
        element.set("nillable", "true")
    element.set("type", _type_ref(cls))
    if edv(cls):
        _serialization_appinfo(element, "DefaultValue", EmitDefaultValue="false")


class _SchemaWriter:
    def __init__(self, schema: etree._Element) -> None:
        self.schema = schema
        self.done: set[str] = set()

    def wrapper(self, name: str, members: Iterable[tuple[str, Any]]) -> None:
        element = etree.SubElement(self.schema, _xs("element"), name=name)
        sequence = etree.SubElement(etree.SubElement(element, _xs("complexType")), _xs("sequence"))
        members = list(members)
        for member, cls in members:
            _member(sequence, member, cls)
        self.reached(cls for _, cls in members)

    def reached(self, classes: Iterable[Any]) -> None:
        for cls in classes:
            if (is_complex(cls) or issubclass(cls, EnumBase)) and cls.get_type_name() not in self.done:
                self.define(cls)

    def define(self, cls: Any) -> None:
        name = cls.get_type_name()
        self.done.add(name)
        if issubclass(cls, EnumBase):
            simple = etree.SubElement(self.schema, _xs("simpleType"), name=name)
            restriction = etree.SubElement(simple, _xs("restriction"), base="xs:string")
            for value in cls.__values__:
                enumeration = etree.SubElement(restriction, _xs("enumeration"), value=value)
                number = enumeration_values.get(name, {}).get(value)
                if number is not None:
                    _serialization_appinfo(enumeration, "EnumerationValue", str(number))
            self._global_element(name)
            return
        sequence = etree.SubElement(etree.SubElement(self.schema, _xs("complexType"), name=name), _xs("sequence"))
        if is_array(cls):
            ((item, item_cls),) = cls._type_info.items()
            _member(sequence, item, item_cls, many=True)
            members = [item_cls]
        else:
            for member, member_cls in cls._type_info.items():
                _member(sequence, member, member_cls)
            members = list(cls._type_info.values())
        self._global_element(name)
        self.reached(members)

    def _global_element(self, name: str) -> None:
        etree.SubElement(self.schema, _xs("element"), name=name, nillable="true", type=f"tns:{name}")


def _operations(service: Any) -> list[Any]:
    return [method for method in service.public_methods.values()]


def build_wsdl(service: Any) -> bytes:
    """The WSDL of ``service`` (a Spyne ServiceBase) as UTF-8 bytes."""
    root = etree.Element(_wsdl("definitions"), nsmap=_ROOT_NSMAP)
    root.set("name", "MSignService")
    root.set("targetNamespace", TNS)
    types = etree.SubElement(root, _wsdl("types"))
    schema = etree.SubElement(types, _xs("schema"), nsmap={"xs": NS_XSD})
    schema.set("elementFormDefault", "qualified")
    schema.set("targetNamespace", TNS)
    etree.SubElement(schema, _xs("import"), namespace=NS_SERIALIZATION)
    writer = _SchemaWriter(schema)
    operations = _operations(service)
    for method in operations:
        writer.wrapper(method.name, method.in_message._type_info.items())
        writer.wrapper(f"{method.name}Response", method.out_message._type_info.items())
    # Built under its own xs/tns declarations (tns is rebound there), as WCF writes it.
    serialization = etree.fromstring(_SERIALIZATION_SCHEMA.replace("\n", ""))
    copy = etree.SubElement(types, _xs("schema"), nsmap={"xs": NS_XSD, "tns": NS_SERIALIZATION})
    for key, value in serialization.attrib.items():
        copy.set(key, value)
    copy.extend(serialization)

    for method in operations:
        for direction, element in (("Input", method.name), ("Output", f"{method.name}Response")):
            message = etree.SubElement(root, _wsdl("message"), name=f"{PORT_TYPE}_{method.name}_{direction}Message")
            etree.SubElement(message, _wsdl("part"), name="parameters", element=f"tns:{element}")
    port_type = etree.SubElement(root, _wsdl("portType"), name=PORT_TYPE)
    for method in operations:
        operation = etree.SubElement(port_type, _wsdl("operation"), name=method.name)
        for direction, response in (("input", False), ("output", True)):
            node = etree.SubElement(operation, _wsdl(direction))
            node.set(f"{{{_ROOT_NSMAP['wsaw']}}}Action", action_for(method.name, response))
            node.set("message", f"tns:{PORT_TYPE}_{method.name}_{direction.capitalize()}Message")
    binding_name = f"BasicHttpBinding_{PORT_TYPE}"
    binding = etree.SubElement(root, _wsdl("binding"), name=binding_name, type=f"tns:{PORT_TYPE}")
    etree.SubElement(binding, _soap("binding"), transport="http://schemas.xmlsoap.org/soap/http")
    for method in operations:
        operation = etree.SubElement(binding, _wsdl("operation"), name=method.name)
        etree.SubElement(operation, _soap("operation"), soapAction=action_for(method.name), style="document")
        for direction in ("input", "output"):
            etree.SubElement(etree.SubElement(operation, _wsdl(direction)), _soap("body"), use="literal")
    service_element = etree.SubElement(root, _wsdl("service"), name="MSignService")
    port = etree.SubElement(service_element, _wsdl("port"), name=binding_name, binding=f"tns:{binding_name}")
    etree.SubElement(port, _soap("address"), location=PLACEHOLDER_ADDRESS)

    etree.indent(root, space="  ")
    body = etree.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode("utf-8")


def with_address(wsdl: bytes, address: str) -> bytes:
    """``wsdl`` with its ``soap:address`` set to ``address`` (XML-escaped)."""
    escaped = address.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    old = f'location="{PLACEHOLDER_ADDRESS}"'.encode()
    if wsdl.count(old) != 1:
        raise ValueError("the WSDL has no single placeholder soap:address")
    return wsdl.replace(old, f'location="{escaped}"'.encode())
