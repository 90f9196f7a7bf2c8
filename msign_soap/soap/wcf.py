"""Read and write contract objects the way WCF's DataContractSerializer does.

Writing: members in contract order, every element in the service namespace
as the default namespace, ``EmitDefaultValue=false`` members omitted when null
or default, other null members written as ``i:nil="true"``. The XML text is
written directly, byte for byte as lxml serialized the same tree (character
data escaped as libxml2 escapes it, characters XML forbids refused): building
a tree cost a third of a GetSignResponse answering a signed document.

Reading: from an element already validated against the contract's schema, so
structure and lexical forms are known good; absent and nil members are
``None``, base64 is decoded strictly (as .NET's ``Convert.FromBase64String``).

What a contract type needs for either (its members' tags, omission rules and
readers or writers) is worked out once per type, not once per message.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from lxml import etree
from spyne import Array, Boolean, ByteArray, ComplexModelBase, DateTime, Integer, Unicode
from spyne.model.enum import EnumBase

from ..constants import NS_XSI, TNS

__all__ = [
    "XSI_DECLARATION",
    "XSI_NIL",
    "UndecodableValue",
    "edv",
    "is_complex",
    "members",
    "read_members",
    "write_value",
]

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


#: Characters XML 1.0 does not allow (libxml2 refuses them too).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escaped(text: str) -> str:
    """``text`` as XML character data, escaped as libxml2 writes it."""
    if _NOT_XML.search(text):
        raise ValueError("All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control characters")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _base64(value: Any) -> str:
    data = b"".join(value) if isinstance(value, (list, tuple)) else value
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _text_writer(cls: Any) -> Callable[[Any], str]:
    """The function giving the escaped character data of a value of simple type ``cls``."""
    if issubclass(cls, ByteArray):
        return _base64
    if issubclass(cls, Boolean):
        return lambda value: "true" if value else "false"
    if issubclass(cls, DateTime):
        return _format_datetime
    if issubclass(cls, Integer):
        return lambda value: str(int(value))
    if issubclass(cls, (Unicode, EnumBase)):
        return lambda value: _escaped(str(value))
    raise TypeError(f"no WCF form for {cls!r}")


#: Declares the ``i`` prefix of ``i:nil`` (on the result element, as WCF does).
XSI_DECLARATION = f' xmlns:i="{NS_XSI}"'


def write_value(parts: list[str], name: str, cls: Any, value: Any, declarations: str = "") -> None:
    """Append member ``name`` of type ``cls`` holding ``value`` to ``parts``, as XML text.

    Elements are unprefixed: the caller declares the service namespace as the
    default namespace, and the ``i`` prefix (:data:`XSI_DECLARATION`, which it
    may pass in ``declarations``). The caller decides about omission
    (EmitDefaultValue); this writes ``nil`` for ``None``.

    :raises ValueError: a string holds characters XML does not allow.
    """
    if value is None:
        parts.append(f'<{name}{declarations} i:nil="true"/>')
    else:
        _writer(cls)(parts, name, value, declarations)


class _Member:
    """A member of a complex type, with what writing and reading it needs (computed once)."""

    __slots__ = ("cls", "default", "name", "omit", "tag")

    def __init__(self, name: str, cls: Any) -> None:
        self.name = name
        self.tag = f"{{{TNS}}}{name}"
        self.cls = cls
        self.omit = edv(cls)
        self.default = _default_of(cls)


@functools.cache
def _members(cls: Any) -> tuple[_Member, ...]:
    return tuple(_Member(name, member_cls) for name, member_cls in members(cls))


def _end(parts: list[str], start: int, name: str, declarations: str) -> None:
    """Close the element opened at ``parts[start]``; one without content is written empty, as lxml does."""
    if len(parts) == start + 1:
        parts[start] = f"<{name}{declarations}/>"
    else:
        parts.append(f"</{name}>")


@functools.cache
def _writer(cls: Any) -> Callable[[list[str], str, Any, str], None]:
    """The function that appends an element of type ``cls`` holding a value other than ``None``."""
    if is_array(cls):
        ((item_name, item_cls),) = members(cls)

        def write_array(parts: list[str], name: str, value: Any, declarations: str) -> None:
            start = len(parts)
            parts.append(f"<{name}{declarations}>")
            for item in value:
                write_value(parts, item_name, item_cls, item)
            _end(parts, start, name, declarations)

        return write_array
    if is_complex(cls):

        def write_complex(parts: list[str], name: str, value: Any, declarations: str) -> None:
            start = len(parts)
            parts.append(f"<{name}{declarations}>")
            for member in _members(cls):
                member_value = getattr(value, member.name, None)
                if member.omit and (member_value is None or member_value == member.default):
                    continue
                write_value(parts, member.name, member.cls, member_value)
            _end(parts, start, name, declarations)

        return write_complex
    text = _text_writer(cls)

    def write_simple(parts: list[str], name: str, value: Any, declarations: str) -> None:
        parts.append(f"<{name}{declarations}>{text(value)}</{name}>")

    return write_simple


class UndecodableValue(ValueError):
    """A value the schema lets through but that cannot be decoded (bad base64)."""

    def __init__(self, element: str, rule: str) -> None:
        super().__init__(f"{element} {rule}")
        self.element = element
        self.rule = rule


def _read_base64(element: etree._Element) -> bytes:
    try:
        return base64.b64decode("".join((element.text or "").split()), validate=True)
    except (binascii.Error, ValueError) as e:
        raise UndecodableValue(etree.QName(element).localname, "is not valid base64") from e


def _text_reader(cls: Any) -> Callable[[etree._Element], Any]:
    if issubclass(cls, ByteArray):
        return _read_base64
    if issubclass(cls, Boolean):
        return lambda element: (element.text or "").strip() in ("true", "1")
    if issubclass(cls, Integer):
        return lambda element: int(element.text or "")
    if issubclass(cls, EnumBase):
        return lambda element: (element.text or "").strip()
    if issubclass(cls, Unicode):
        return lambda element: element.text or ""
    raise TypeError(f"no reader for {cls!r}")


def read_value(cls: Any, element: etree._Element) -> Any:
    """The value of ``element``, a member of type ``cls``; ``None`` when nil."""
    if element.get(XSI_NIL) in ("true", "1"):
        return None
    return _reader(cls)(element)


@functools.cache
def _reader(cls: Any) -> Callable[[etree._Element], Any]:
    """The function that reads a non-nil element of type ``cls``."""
    if is_array(cls):
        ((_, item_cls),) = members(cls)
        return lambda element: [read_value(item_cls, child) for child in element if isinstance(child.tag, str)]
    if is_complex(cls):
        names = tuple(name for name, _ in members(cls))
        return lambda element: SimpleNamespace(**dict(zip(names, read_members(cls, element), strict=True)))
    return _text_reader(cls)


def read_members(cls: Any, element: etree._Element) -> list[Any]:
    """The members of complex type ``cls`` from ``element``, in contract order."""
    children = {child.tag: child for child in element if isinstance(child.tag, str)}
    return [
        None if member.tag not in children else read_value(member.cls, children[member.tag]) for member in _members(cls)
    ]
