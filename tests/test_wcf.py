"""The WCF writer writes answers as text: byte for byte what lxml serializes for
the same tree, for every kind of member (nil, omitted, empty, escaped, arrays)."""

from __future__ import annotations

import base64
import random
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from lxml import etree
from spyne import Application, Boolean, ByteArray, DateTime, Integer
from spyne.model.enum import EnumBase

from msign_soap.constants import NS_SOAP_ENV, NS_XSI, TNS
from msign_soap.soap.protocol import WcfSoap11
from msign_soap.soap.service import MSignService
from msign_soap.soap.wcf import edv, is_array, is_complex, members

NIL = f"{{{NS_XSI}}}nil"


@pytest.fixture(scope="module")
def descriptors() -> dict[str, Any]:
    app = Application([MSignService], tns=TNS, name="MSignService")
    return {tag.split("}")[1]: handles[0] for tag, handles in app.interface.service_method_map.items()}


def _default(cls: Any) -> Any:
    if issubclass(cls, Boolean):
        return False
    if issubclass(cls, Integer):
        return 0
    if issubclass(cls, EnumBase):
        return cls.__values__[0]
    return None


def _text(cls: Any, value: Any) -> str:
    if issubclass(cls, ByteArray):
        return base64.b64encode(value).decode()
    if issubclass(cls, Boolean):
        return "true" if value else "false"
    if issubclass(cls, DateTime):
        value = value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
        text = value.strftime("%Y-%m-%dT%H:%M:%S")
        return text + (f".{value.microsecond:06d}".rstrip("0") if value.microsecond else "") + "Z"
    return str(value)


def _tree(parent: etree._Element, name: str, cls: Any, value: Any, nsmap: dict | None = None) -> None:
    """The reference: the same answer built as an lxml tree."""
    element = etree.SubElement(parent, f"{{{TNS}}}{name}", nsmap=nsmap)
    if value is None:
        element.set(NIL, "true")
    elif is_array(cls):
        ((item_name, item_cls),) = members(cls)
        for item in value:
            _tree(element, item_name, item_cls, item)
    elif is_complex(cls):
        for member, member_cls in members(cls):
            member_value = getattr(value, member, None)
            if edv(member_cls) and (member_value is None or member_value == _default(member_cls)):
                continue
            _tree(element, member, member_cls, member_value)
    else:
        element.text = _text(cls, value)


def reference(descriptor: Any, result: Any) -> bytes:
    envelope = etree.Element(f"{{{NS_SOAP_ENV}}}Envelope", nsmap={"s": NS_SOAP_ENV})
    body = etree.SubElement(envelope, f"{{{NS_SOAP_ENV}}}Body")
    out = descriptor.out_message
    wrapper = etree.SubElement(body, f"{{{TNS}}}{out.get_type_name()}", nsmap={None: TNS})
    ((name, cls),) = members(out)
    _tree(wrapper, name, cls, result, {"i": NS_XSI} if is_complex(cls) or result is None else None)
    return etree.tostring(envelope, encoding="UTF-8")


def result(**values: Any) -> SimpleNamespace:
    return SimpleNamespace(**values)


@pytest.mark.parametrize(
    "operation, value",
    [
        pytest.param("PostSignRequest", "3408cc344e474a529f3425176a75d08e", id="request-id"),
        pytest.param("PostSignRequest", None, id="nil-result"),
        pytest.param("PostSignRequest", "", id="empty-string"),
        pytest.param("PostSignRequest", "a<b>&c\r\n\t\"'é ]]> \u2028 😀", id="escaped-text"),
        pytest.param("GetSignResponse", result(Message=None, Results=None, Status="Pending"), id="pending"),
        pytest.param(
            "GetSignResponse", result(Message="Подписание не удалось", Results=[], Status="Failure"), id="empty-array"
        ),
        pytest.param(
            "GetSignResponse",
            result(
                Message=None,
                Results=[None, result(Certificate=None, CorrelationID=None, Signature=None)],
                Status="Failure",
            ),
            id="nil-item-and-all-members-omitted",
        ),
        pytest.param(
            "GetSignResponse",
            result(
                Message=None,
                Results=[result(Certificate=b"\x30\x82", CorrelationID="c1", Signature=b"<x/>")],
                Status="Success",
            ),
            id="success",
        ),
        pytest.param(
            "VerifySignatures",
            result(
                Results=[
                    result(
                        Certificates=[
                            result(
                                Certificate=b"cert",
                                SignatureValid=True,
                                SignedAt=datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=timezone(timedelta(hours=2))),
                                Subject="CN=Ion & Maria <test>",
                            ),
                            result(Certificate=b"", SignatureValid=False, SignedAt=None, Subject=""),
                        ],
                        CorrelationID=None,
                        Message="Semnătura este validă",
                        SignaturesValid=False,
                    )
                ]
            ),
            id="verification",
        ),
    ],
)
def test_text_writer_writes_what_lxml_writes(descriptors, operation, value):
    descriptor = descriptors[operation]
    assert WcfSoap11.write_answer(descriptor, value) == reference(descriptor, value)


@pytest.mark.parametrize("text", ["\x00", "a\x01b", "\x0b", "\ufffe", "\ud800"], ids=repr)
def test_characters_xml_forbids_are_refused(descriptors, text):
    with pytest.raises(ValueError):
        WcfSoap11.write_answer(descriptors["PostSignRequest"], text)


def test_random_answers(descriptors):
    rnd = random.Random(20261128)
    alphabet = ["a", " ", "&", "<", ">", "\r", "\n", "\t", '"', "é", "Ж", "\u2028", "😀", "]]>", "\x7f", "\x85"]

    def text() -> str | None:
        return None if rnd.random() < 0.2 else "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 8)))

    def blob() -> bytes | None:
        return None if rnd.random() < 0.2 else rnd.randbytes(rnd.randint(0, 30))

    def items(make: Any) -> list | None:
        return (
            None if rnd.random() < 0.2 else [None if rnd.random() < 0.1 else make() for _ in range(rnd.randint(0, 3))]
        )

    for _ in range(300):
        signed = result(
            Message=text(),
            Results=items(lambda: result(Certificate=blob(), CorrelationID=text(), Signature=blob())),
            Status="Success",
        )
        verified = result(
            Results=items(
                lambda: result(
                    Certificates=items(
                        lambda: result(
                            Certificate=blob(), SignatureValid=rnd.random() < 0.5, SignedAt=None, Subject=text()
                        )
                    ),
                    CorrelationID=text(),
                    Message=text(),
                    SignaturesValid=rnd.random() < 0.5,
                )
            )
        )
        for operation, value in (
            ("GetSignResponse", signed),
            ("VerifySignatures", verified),
            ("PostSignRequest", text()),
        ):
            descriptor = descriptors[operation]
            assert WcfSoap11.write_answer(descriptor, value) == reference(descriptor, value)
