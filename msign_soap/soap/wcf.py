"""Read and write contract objects the way WCF's DataContractSerializer does.

Writing: members in contract order, every element in the service namespace
as the default namespace, ``EmitDefaultValue=false`` members omitted when null
or default, other null members written as ``i:nil="true"``.

Reading: from an element already validated against the contract's schema, so
structure and lexical forms are known good; absent and nil members are
``None``, base64 is decoded strictly (as .NET's ``Convert.FromBase64String``).
"""

from __future__ import annotations

import base64
import binascii
import functools
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from lxml import etree
from spyne import Array, Boolean, ByteArray, ComplexModelBase, DateTime, Integer, Unicode
from spyne.model.enum import EnumBase

from ..constants import NS_XSI, TNS

__all__ = ["XSI_NIL", "UndecodableValue", "edv", "is_complex", "members", "read_members", "write_value"]

XSI_NIL = f"{{{NS_XSI}}}nil"


def edv(cls: Any) -> bool:
    """Whether the member type is marked ``EmitDefaultValue=false``."""
    return getattr(cls.Attributes, "emit_default", True) is False


def is_array(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, Array)


def is_complex(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, ComplexModelBase)


@functools.cache
def members(cls: Any) -> tuple[tuple[str, Any], ...]:
    """The (name, type) members of a Spyne complex type, in contract order.

    Cached: Spyne's ordered dict builds a new list on every ``items()``.
    """
    return tuple(cls._type_info.items())


def _default_of(cls: Any) -> Any:
    if issubclass(cls, Boolean):
        return False
    if issubclass(cls, Integer):
        return 0
    if issubclass(cls, EnumBase):
        return cls.__values__[0]
    return None


def _format_datetime(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def _text(cls: Any, value: Any) -> str:
    if issubclass(cls, ByteArray):
        data = b"".join(value) if isinstance(value, (list, tuple)) else value
        return base64.b64encode(data).decode("ascii")
    if issubclass(cls, Boolean):
        return "true" if value else "false"
    if issubclass(cls, DateTime):
        return _format_datetime(value)
    if issubclass(cls, (Integer, Unicode, EnumBase)):
        return str(value)
    raise TypeError(f"no WCF form for {cls!r}")


def write_value(parent: etree._Element, name: str, cls: Any, value: Any, nsmap: dict | None = None) -> None:
    """Append member ``name`` of type ``cls`` holding ``value`` to ``parent``.

    The caller decides about omission (EmitDefaultValue); this writes ``nil``
    for ``None``.
    """
    element = etree.SubElement(parent, f"{{{TNS}}}{name}", nsmap=nsmap)
    if value is None:
        element.set(XSI_NIL, "true")
        return
    if is_array(cls):
        ((item_name, item_cls),) = members(cls)
        for item in value:
            write_value(element, item_name, item_cls, item)
    elif is_complex(cls):
        for member, member_cls in members(cls):
            member_value = getattr(value, member, None)
            if edv(member_cls) and (member_value is None or member_value == _default_of(member_cls)):
                continue
            write_value(element, member, member_cls, member_value)
    else:
        element.text = _text(cls, value)


class UndecodableValue(ValueError):
    """A value the schema lets through but that cannot be decoded (bad base64)."""

    def __init__(self, element: str, rule: str) -> None:
        super().__init__(f"{element} {rule}")
        self.element = element
        self.rule = rule


def _read_text(cls: Any, element: etree._Element) -> Any:
    text = element.text or ""
    if issubclass(cls, ByteArray):
        try:
            return base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError) as e:
            raise UndecodableValue(etree.QName(element).localname, "is not valid base64") from e
    if issubclass(cls, Boolean):
        return text.strip() in ("true", "1")
    if issubclass(cls, Integer):
        return int(text)
    if issubclass(cls, EnumBase):
        return text.strip()
    if issubclass(cls, Unicode):
        return text
    raise TypeError(f"no reader for {cls!r}")


def read_value(cls: Any, element: etree._Element) -> Any:
    """The value of ``element``, a member of type ``cls``; ``None`` when nil."""
    if element.get(XSI_NIL) in ("true", "1"):
        return None
    if is_array(cls):
        ((_, item_cls),) = members(cls)
        return [read_value(item_cls, child) for child in element if isinstance(child.tag, str)]
    if is_complex(cls):
        names = (name for name, _ in members(cls))
        return SimpleNamespace(**dict(zip(names, read_members(cls, element), strict=True)))
    return _read_text(cls, element)


def read_members(cls: Any, element: etree._Element) -> list[Any]:
    """The members of complex type ``cls`` from ``element``, in contract order."""
    children = {etree.QName(child).localname: child for child in element if isinstance(child.tag, str)}
    return [
        None if name not in children else read_value(member_cls, children[name]) for name, member_cls in members(cls)
    ]
