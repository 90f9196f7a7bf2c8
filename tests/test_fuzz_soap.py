"""Property-based fuzzing of the SOAP input (issue 6), with Hypothesis.

Messages are built from the contract's element names (the WSDL's types) with
random values and random structure: elements left out, repeated, reordered,
nil, nested where text belongs, unknown elements and attributes, random text,
random base64, random enumeration values, random headers and SOAPAction, and
plain random bytes and damaged envelopes. Each is posted in process into the
WSGI app (werkzeug's test ``Client``).

The property: the answer is HTTP 200 with the operation's response envelope,
or HTTP 500 with a SOAP 1.1 Fault whose ``faultcode`` is one of the
contract's (``AuthenticationFailed``, ``AuthorizationFailed``,
``InvalidParameter``, ``RequestNotFound``) or SOAP 1.1's own codes for a
caller's mistake (``s:Client``, ``s:MustUnderstand``, ``s:VersionMismatch``):
never ``s:Server``, never an exception out of the app. A refused message
changes no table; an accepted PostSignRequest adds only its own request's rows.

The budget is fixed (``max_examples``, ``derandomize``: the same examples on
every run, no example database written) so that CI time stays bounded.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from lxml import etree
from werkzeug.test import Client

from msign_soap.app import Service
from msign_soap.core import ExpectedSigner, SignContentInput, SignRequestInput

from .conftest import IDNP, make_service
from .test_hostile_corpus import PAYLOADS, changes_beyond, db_digest, db_snapshot

NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_ADDRESSING = "http://schemas.microsoft.com/ws/2005/05/addressing/none"
TNS = "https://msign.gov.md"
OPERATIONS = ("PostSignRequest", "GetSignResponse", "VerifySignatures")
#: The fault codes a caller may get for anything it sends.
ALLOWED_FAULTS = {
    "AuthenticationFailed",
    "AuthorizationFailed",
    "InvalidParameter",
    "RequestNotFound",
    "s:Client",
    "s:MustUnderstand",
    "s:VersionMismatch",
}
# Hypothesis caches what it learns of the code under ./.hypothesis, from
# pytest's collection on (before any fixture runs): keep that out of the tree.
_HYPOTHESIS_HOME = Path(tempfile.mkdtemp(prefix="msign-hypothesis-"))
atexit.register(shutil.rmtree, _HYPOTHESIS_HOME, True)
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
FUZZ_SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: The contract's complex types: members in order, each (name, type, optional: minOccurs 0).
COMPLEX: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "PostSignRequest": (("request", "SignRequest", False),),
    "SignRequest": (
        ("ContentDescription", "string", True),
        ("ContentType", "ContentType", False),
        ("Contents", "ArrayOfSignContent", False),
        ("ExpectedSigner", "ExpectedSigner", True),
        ("ShortContentDescription", "string", False),
        ("SignatureReason", "string", True),
    ),
    "ArrayOfSignContent": (("SignContent", "SignContent", False),),
    "SignContent": (
        ("Content", "hash", False),
        ("CorrelationID", "string", True),
        ("MultipleSignatures", "boolean", True),
        ("Name", "string", True),
    ),
    "ExpectedSigner": (
        ("DelegatedRoleID", "int", True),
        ("DelegatorID", "delegator-id", True),
        ("DelegatorType", "DelegatorType", True),
        ("ID", "idn", False),
    ),
    "GetSignResponse": (("requestID", "request-id", True), ("language", "language", True)),
    "VerifySignatures": (("request", "VerificationRequest", False),),
    "VerificationRequest": (
        ("Contents", "ArrayOfVerificationContent", False),
        ("Language", "language", True),
        ("SignedContentType", "ContentType", False),
    ),
    "ArrayOfVerificationContent": (("VerificationContent", "VerificationContent", False),),
    "VerificationContent": (
        ("Content", "hash", True),
        ("CorrelationID", "string", True),
        ("Signature", "base64", False),
    ),
}
ARRAYS = {"ArrayOfSignContent", "ArrayOfVerificationContent"}
ELEMENT_NAMES = sorted({name for members in COMPLEX.values() for name, _, _ in members} | set(COMPLEX))

# -- values -------------------------------------------------------------------------------------

#: Any text XML 1.0 can carry (lxml refuses the rest when building).
xml_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff") | st.sampled_from("\t\n\r"),
    max_size=40,
)
payloads = st.sampled_from([p["text"] for p in PAYLOADS if "text" in p])
texts = st.one_of(payloads, xml_text, st.just("Contract no. 12"), st.just(""))
HASHES = [base64.b64encode(hashlib.new(name, b"document").digest()).decode() for name in ("sha1", "sha256")]
base64_values = st.one_of(
    st.binary(max_size=48).map(lambda data: base64.b64encode(data).decode()),
    st.just(base64.b64encode(b"%PDF-1.7\n1 0 obj\n<< >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n").decode()),
    st.text("ABCDEFabcdef0123456789+/=-_! \n", max_size=40),
)
#: Values of each simple type: as the contract has them, then anything.
VALID: dict[str, st.SearchStrategy[str]] = {
    "string": texts,
    "hash": st.sampled_from(HASHES),
    "base64": base64_values,
    "boolean": st.sampled_from(["false", "true"]),
    "int": st.integers(0, 100).map(str),
    "ContentType": st.sampled_from(["Hash", "Hash", "Pdf"]),
    "DelegatorType": st.just("None"),
    "idn": st.just(IDNP),
    "delegator-id": st.just(""),
    "language": st.sampled_from(["ro", "ru", "en"]) | texts,
    "request-id": st.sampled_from(["{KNOWN}", "{OTHER}", "0" * 32]) | texts,
}
ANY: dict[str, st.SearchStrategy[str]] = {
    "string": texts,
    "hash": base64_values,
    "base64": base64_values,
    "boolean": st.sampled_from(["true", "false", "1", "0", "yes", "", " true "]) | texts,
    "int": st.integers(-(2**40), 2**40).map(str) | texts,
    "ContentType": st.sampled_from(["Hash", "Pdf", "Xml", "hash", " Hash", ""]) | texts,
    "DelegatorType": st.sampled_from(["None", "Person", "Organization", "Admin", ""]) | texts,
    "idn": st.sampled_from([IDNP, "1003600012340", "2004001234560", ""]) | texts,
    "delegator-id": st.sampled_from([IDNP, "1003600012340", "2004001234560", ""]) | texts,
    "language": VALID["language"],
    "request-id": VALID["request-id"],
}

# -- messages -----------------------------------------------------------------------------------


@st.composite
def random_tree(draw: st.DrawFn, depth: int = 0) -> etree._Element:
    """A small element tree with names from the contract (or not) and random text."""
    name = draw(st.sampled_from(ELEMENT_NAMES) | st.sampled_from(["script", "a", "Ὀδυσσεύς"]))
    namespace = draw(st.sampled_from([TNS, TNS, "", "urn:other", NS_SOAP]))
    element = etree.Element(f"{{{namespace}}}{name}" if namespace else name)
    element.text = draw(texts)
    if depth < 2:
        for child in draw(st.lists(random_tree(depth + 1), max_size=2)):
            element.append(child)
    return element


#: How a message departs from the contract: not at all (values as the
#: contract has them), in its values, or in its structure too.
MODES = st.sampled_from(["valid", "valid", "values", "structure"])


@st.composite
def contract_element(draw: st.DrawFn, name: str, kind: str, mode: str, depth: int = 0) -> etree._Element:
    """Element ``name`` of type ``kind``: as the contract has it in mode
    ``valid``, with any values in ``values``, misshapen in ``structure``."""
    element = etree.Element(f"{{{TNS}}}{name}")
    shape = "ok"
    if mode == "structure":
        shape = draw(st.sampled_from(["ok"] * 6 + ["nil", "nil-with-content", "nested", "attribute", "empty"]))
    if shape in ("nil", "nil-with-content"):
        element.set(f"{{{NS_XSI}}}nil", draw(st.sampled_from(["true", "1", "false", "yes"])))
        if shape == "nil":
            return element
    if shape == "attribute":
        attribute = draw(st.sampled_from(["role", "id", f"{{{NS_XSI}}}type", f"{{{NS_XSI}}}schemaLocation"]))
        element.set(attribute, draw(texts))
    if shape == "empty":
        return element
    if kind not in COMPLEX:
        if shape == "nested":
            element.append(draw(random_tree()))
        else:
            element.text = draw((VALID if mode == "valid" else ANY)[kind])
        return element
    children: list[etree._Element] = []
    for child_name, child_kind, optional in COMPLEX[kind]:
        if kind in ARRAYS:
            copies = draw(st.integers(1 if mode == "valid" else 0, 3))
        elif mode == "structure":
            copies = draw(st.sampled_from([1, 1, 1, 1, 0, 2]))
        else:
            copies = draw(st.sampled_from([1, 1, 1, 0])) if optional else 1
        children += [draw(contract_element(child_name, child_kind, mode, depth + 1)) for _ in range(copies)]
    if mode == "structure" and draw(st.sampled_from([False] * 4 + [True])):
        children = list(draw(st.permutations(children)))
    if mode == "structure" and draw(st.sampled_from([False] * 4 + [True])):
        children.insert(draw(st.integers(0, len(children))), draw(random_tree()))
    for child in children:
        element.append(child)
    return element


@st.composite
def envelopes(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    """A SOAP message (bytes) and its HTTP headers."""
    operation = draw(st.sampled_from(OPERATIONS))
    mode = draw(MODES)
    namespace = NS_SOAP if mode == "valid" else draw(st.sampled_from([NS_SOAP] * 10 + [NS_SOAP12, "urn:not-soap"]))
    envelope = etree.Element(f"{{{namespace}}}Envelope", nsmap={"s": namespace, "i": NS_XSI})
    header = draw(st.sampled_from(["none"] * 6 + ["action", "other-action", "must-understand", "plain"]))
    if header != "none":
        entries = etree.SubElement(envelope, f"{{{namespace}}}Header")
        if header in ("action", "other-action"):
            action = etree.SubElement(entries, f"{{{NS_ADDRESSING}}}Action")
            action.set(f"{{{namespace}}}mustUnderstand", "1")
            named = operation if header == "action" else draw(st.sampled_from(OPERATIONS))
            action.text = f"{TNS}/IMSign/{named}"
        else:
            entry = etree.SubElement(entries, "{urn:x}Security")
            if header == "must-understand":
                entry.set(f"{{{namespace}}}mustUnderstand", draw(st.sampled_from(["1", "true", "0"])))
    body = etree.SubElement(envelope, f"{{{namespace}}}Body")
    bodies = 1 if mode == "valid" else draw(st.sampled_from([1] * 8 + [0, 2]))
    for _ in range(bodies):
        body.append(draw(contract_element(operation, operation, mode)))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16", "iso-8859-1"]))
    message = etree.tostring(envelope, encoding=encoding, xml_declaration=draw(st.booleans()) or encoding != "utf-8")
    content_type = draw(
        st.sampled_from(
            ["text/xml; charset=utf-8"] * 8
            + ["text/xml", "application/soap+xml", "text/plain", "multipart/related; boundary=x", ""]
        )
    )
    if encoding == "utf-16" and content_type == "text/xml; charset=utf-8":
        content_type = "text/xml; charset=utf-16"
    headers = {"Content-Type": content_type}
    action_header = draw(st.sampled_from(["none"] * 4 + ["right", "other", "random"]))
    if action_header == "right":
        headers["SOAPAction"] = f'"{TNS}/IMSign/{operation}"'
    elif action_header == "other":
        headers["SOAPAction"] = f'"{TNS}/IMSign/{draw(st.sampled_from(OPERATIONS))}"'
    elif action_header == "random":
        headers["SOAPAction"] = draw(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60))
    return message, headers


# -- the property -------------------------------------------------------------------------------


class Fuzzed:
    """The service under fuzzing, the requests its messages may name, and a client."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.db = Path(service.config.database.split("///", 1)[1])
        self.client = Client(service)
        requests = service.requests
        self.known = {
            "{KNOWN}": self.post_hash(requests.demo_consumer()),
            "{OTHER}": self.post_hash(requests.add_consumer("another e-service")),
        }

    def post_hash(self, consumer: Any) -> str:
        content = SignContentInput(hashlib.sha1(b"x").digest())
        return self.service.requests.post(
            consumer, SignRequestInput("Hash", [content], "Short", None, ExpectedSigner(IDNP))
        )

    def answer(self, message: bytes, headers: dict[str, str]) -> None:
        """Post ``message``; assert the property."""
        for placeholder, value in self.known.items():
            message = message.replace(placeholder.encode(), value.encode())
        before = db_snapshot(self.db)
        response = self.client.post("/MSign.svc", data=message, headers=headers)
        status, body = response.status_code, response.get_data()
        after = db_snapshot(self.db)
        root = etree.fromstring(body)
        assert root.tag == f"{{{NS_SOAP}}}Envelope", body[:500]
        [answer] = root.find(f"{{{NS_SOAP}}}Body")
        if status == 200:
            operation = etree.QName(answer).localname.removesuffix("Response")
            assert etree.QName(answer).namespace == TNS and operation in OPERATIONS, body[:500]
            request_id = answer.findtext(f"{{{TNS}}}PostSignRequestResult") if operation == "PostSignRequest" else None
            assert changes_beyond(before, after, request_id) == []
            return
        assert status == 500, body[:500]
        assert answer.tag == f"{{{NS_SOAP}}}Fault", body[:500]
        code = answer.findtext("faultcode")
        assert code in ALLOWED_FAULTS, (code, answer.findtext("faultstring"))
        assert db_digest(after) == db_digest(before)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    service = make_service(tmp_path_factory.mktemp("fuzz"))
    try:
        yield Fuzzed(service)
    finally:
        service.close()


@settings(FUZZ_SETTINGS, max_examples=1200)
@given(message=envelopes())
def test_contract_shaped_messages(fuzzed: Fuzzed, message: tuple[bytes, dict[str, str]]) -> None:
    fuzzed.answer(*message)


@settings(FUZZ_SETTINGS, max_examples=400)
@given(
    message=envelopes(),
    edits=st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 16), st.binary(max_size=8)), min_size=1, max_size=4),
)
def test_damaged_messages(
    fuzzed: Fuzzed, message: tuple[bytes, dict[str, str]], edits: list[tuple[int, int, bytes]]
) -> None:
    """Envelopes with bytes cut out and random bytes put in (truncated, broken tags, bad encodings)."""
    data, headers = message
    for position, removed, inserted in edits:
        at = position % (len(data) + 1)
        data = data[:at] + inserted + data[at + removed :]
    fuzzed.answer(data, headers)


#: Pieces of XML syntax, put together at random.
XML_PIECES = [
    "<",
    ">",
    "</",
    "/>",
    "=",
    '"',
    "'",
    "&",
    ";",
    "&#",
    "&#x",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<?xml ",
    "?>",
    "<!DOCTYPE ",
    "<!ENTITY ",
    "SYSTEM ",
    "file:///etc/passwd",
    " ",
    "\n",
    "x",
    "s:",
    "Envelope",
    "Body",
    "Header",
    "xmlns",
    "xmlns:s=",
    NS_SOAP,
    TNS,
    *OPERATIONS,
    "request",
    "ContentType",
    "Hash",
    "\u00e9",
    "\U0001f600",
    "\x00",
]


@settings(FUZZ_SETTINGS, max_examples=400)
@given(
    data=st.binary(max_size=2048)
    | st.lists(st.sampled_from(XML_PIECES), max_size=80).map(lambda pieces: "".join(pieces).encode()),
    content_type=st.sampled_from(
        ["text/xml; charset=utf-8", "application/octet-stream", "multipart/related; boundary=b"]
    ),
)
def test_random_bodies(fuzzed: Fuzzed, data: bytes, content_type: str) -> None:
    """Random bytes, and random pieces of XML syntax."""
    fuzzed.answer(data, {"Content-Type": content_type})
