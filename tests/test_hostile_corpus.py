"""The hostile-input corpus (issue 6): each input gets its specific SOAP fault,
or a page that says what is wrong, leaks nothing internal, and leaves the
database as it was.

The inputs and what must come back are data under ``tests/data/hostile/``:

- ``corpus.json``: committed inputs (the files beside it and in ``soap/``,
  ``pdf/``, ``xades/``), each with what it attacks and the expected answer;
- ``generated.json``: inputs too large to commit (30 MiB strings, deep
  nesting, oversized bodies, PDF bombs), built here from a recipe;
- ``strings.json``: SQL, HTML, template and Unicode payloads, put into every
  string field of the three operations (:data:`FIELDS`). The contract takes
  most as legitimate text: then the request is accepted, the value is stored
  and returned byte for byte, and the sign page shows it HTML-escaped; values
  XML 1.0 cannot carry are refused as not well-formed.

Everything is posted over HTTP to real servers on 127.0.0.1. "Fast" is not
measured (tests never fail on time): every call has a timeout, so a hang fails.
An input that shows a bug of the service is kept, marked ``xfail(strict=True)``
with the bug (``bug`` in the data), until the bug is fixed.
"""

from __future__ import annotations

import base64
import functools
import html
import http.client
import json
import re
import socket
import sqlite3
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
import requests
from lxml import etree
from markupsafe import escape as html_escape
from werkzeug.serving import make_server

from msign_soap.app import Service
from msign_soap.core import ExpectedSigner, SignContentInput, SignRequestInput

from .conftest import IDNP, make_service, minimal_pdf, sha1

HOSTILE = Path(__file__).parent / "data" / "hostile"
NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "https://msign.gov.md"
#: Seconds an answer may take before the call counts as a hang.
HANG_TIMEOUT = 60
SHA1_B64 = base64.b64encode(sha1("document")).decode()
NOT_WELL_FORMED = "The message is not well-formed XML"
#: The placeholder port of committed inputs that try to reach the network.
PLACEHOLDER_PORT = b"127.0.0.1:9/"
#: What no answer may contain: tracebacks, paths, Python exception names,
#: library names, SQL, the parser's own wording, a file the input tried to read.
INTERNAL_DETAIL = re.compile(
    r"Traceback|File \"|\.py\b|site-packages|/work/|/tmp/|/usr/|root:x:0|<string>|xmlParse|XML_PARSE_"
    r"|\blxml\b|libxml|peewee|sqlite|pyhanko|werkzeug\.|\bSELECT\b|\bINSERT\b|\b[A-Z][A-Za-z]+(?:Error|Exception)\b"
)
#: Markup that a page must never carry unescaped (the payloads' own).
RAW_MARKUP = ("<script>alert", "<img src=x", "<svg onload", '"><img', "<b onclick")


# -- the database, before and after ------------------------------------------------------------


Snapshot = dict[str, tuple[tuple[str, ...], Counter]]


def db_snapshot(path: Path) -> Snapshot:
    """Every row of every table of the SQLite database at ``path``."""
    connection = sqlite3.connect(path)
    try:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        snapshot: Snapshot = {}
        for table in sorted(tables):
            cursor = connection.execute(f'SELECT * FROM "{table}"')
            columns = tuple(d[0] for d in cursor.description)
            snapshot[table] = (columns, Counter(tuple(row) for row in cursor))
        return snapshot
    finally:
        connection.close()


def db_digest(snapshot: Snapshot) -> dict[str, tuple[int, int]]:
    """Row count and a hash of the rows of each table (for readable assertion messages)."""
    return {table: (sum(rows.values()), hash(frozenset(rows.items()))) for table, (_, rows) in snapshot.items()}


def changes_beyond(before: Snapshot, after: Snapshot, request_id: str | None) -> list[tuple[str, tuple]]:
    """Rows added, removed or changed that do not belong to request ``request_id``.

    Appended rows of an audit log (tables ``audit*``) are allowed too: an
    answered call may be recorded. Everything else is a change it had no
    business making.
    """
    beyond = []
    for table in sorted(set(before) | set(after)):
        columns, old = before.get(table, ((), Counter()))
        columns, new = after.get(table, (columns, Counter()))
        owner = columns.index("request_id") if "request_id" in columns else None
        for row in (new - old) + (old - new):
            if owner is not None and request_id is not None and row[owner] == request_id:
                continue
            if table.startswith("audit") and row in new and row not in old:
                continue
            beyond.append((table, row))
    return beyond


# -- servers -----------------------------------------------------------------------------------


@dataclass
class Server:
    """A service answering HTTP on 127.0.0.1."""

    url: str
    db: Path
    service: Service | None = None
    #: Values the inputs' placeholders (``{REQUEST_ID}`` …) stand for.
    known: dict[str, str] = field(default_factory=dict)


def _db_path(service: Service) -> Path:
    return Path(service.config.database.split("///", 1)[1])


@contextmanager
def serving(service: Service) -> Iterator[Server]:
    # the demo consumer is created on the first call: before, not during, a test's snapshots
    if service.config.demo_mode:
        service.requests.demo_consumer()
    server = make_server("127.0.0.1", 0, service, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{server.server_port}", _db_path(service), service)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        service.close()


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Default limits, and the requests the inputs' placeholders name."""
    with serving(make_service(tmp_path_factory.mktemp("default"))) as server:
        assert server.service is not None
        lifecycle = server.service.requests
        demo = lifecycle.demo_consumer()

        def post(consumer: Any) -> str:
            signer = ExpectedSigner(IDNP)
            return lifecycle.post(
                consumer, SignRequestInput("Hash", [SignContentInput(sha1("x"))], "Short", None, signer)
            )

        entered, failed = post(demo), post(demo)
        lifecycle.fail(failed)
        entry = f"{server.url}/{entered}?ReturnUrl=https://e.example/"
        assert requests.get(entry, allow_redirects=False, timeout=HANG_TIMEOUT).status_code == 303
        pending = post(demo)
        server.known = {
            "{REQUEST_ID}": pending,
            "{REQUEST_ID_UPPER}": pending.upper(),
            "{ENTERED_REQUEST_ID}": entered,
            "{FAILED_REQUEST_ID}": failed,
            "{OTHER_REQUEST_ID}": post(lifecycle.add_consumer("another e-service")),
        }
        yield server


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Limits small enough to exceed in a test: 64 KiB bodies, 16 KiB per content, 32 KiB in all."""
    service = make_service(
        tmp_path_factory.mktemp("small"),
        max_body_bytes=64 * 1024,
        max_content_bytes=16 * 1024,
        max_total_content_bytes=32 * 1024,
    )
    with serving(service) as server:
        yield server


@pytest.fixture(scope="module")
def closed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Demo mode off: no caller without a registered client certificate is known."""
    with serving(make_service(tmp_path_factory.mktemp("closed"), demo_mode=False)) as server:
        yield server


# -- messages ------------------------------------------------------------------------------------


def envelope(operation: str, inner: str) -> str:
    """A SOAP 1.1 envelope around ``operation`` (in the contract's namespace) holding ``inner``."""
    return (
        f'<s:Envelope xmlns:s="{NS_SOAP}"><s:Body><{operation} xmlns="{TNS}" '
        f'xmlns:i="http://www.w3.org/2001/XMLSchema-instance">{inner}</{operation}></s:Body></s:Envelope>'
    )


def sign_content(content: str = SHA1_B64, *, correlation_id: str | None = None, name: str | None = None) -> str:
    """One SignContent (members in contract order: Content, CorrelationID, Name)."""
    parts = [f"<SignContent><Content>{content}</Content>"]
    if correlation_id is not None:
        parts.append(f"<CorrelationID>{correlation_id}</CorrelationID>")
    if name is not None:
        parts.append(f"<Name>{name}</Name>")
    parts.append("</SignContent>")
    return "".join(parts)


def post_message(
    short: str = "Contract no. 12",
    *,
    content_type: str = "Hash",
    contents: str | None = None,
    description: str | None = None,
    signer: str | None = f"<ID>{IDNP}</ID>",
    reason: str | None = None,
) -> str:
    """A valid PostSignRequest; each argument is the XML text of its element.

    :param contents: the SignContent elements (default: one SHA-1 hash).
    :param description: ContentDescription, left out when ``None``.
    :param signer: the ExpectedSigner's members, left out when ``None``.
    :param reason: SignatureReason, left out when ``None``.
    """
    parts = ["<request>"]
    if description is not None:
        parts.append(f"<ContentDescription>{description}</ContentDescription>")
    parts.append(f"<ContentType>{content_type}</ContentType>")
    parts.append(f"<Contents>{sign_content() if contents is None else contents}</Contents>")
    if signer is not None:
        parts.append(f"<ExpectedSigner>{signer}</ExpectedSigner>")
    parts.append(f"<ShortContentDescription>{short}</ShortContentDescription>")
    if reason is not None:
        parts.append(f"<SignatureReason>{reason}</SignatureReason>")
    parts.append("</request>")
    return envelope("PostSignRequest", "".join(parts))


def get_message(request_id: str, language: str = "en") -> str:
    """A GetSignResponse for ``request_id`` (XML text, placeholders allowed)."""
    return envelope("GetSignResponse", f"<requestID>{request_id}</requestID><language>{language}</language>")


def verify_message(
    signature: str,
    *,
    content_type: str = "Pdf",
    content: str | None = None,
    correlation_id: str | None = None,
    language: str | None = None,
) -> str:
    """A VerifySignatures of one content; ``signature`` and ``content`` are base64."""
    item = ["<VerificationContent>"]
    if content is not None:
        item.append(f"<Content>{content}</Content>")
    if correlation_id is not None:
        item.append(f"<CorrelationID>{correlation_id}</CorrelationID>")
    item.append(f"<Signature>{signature}</Signature></VerificationContent>")
    language_element = "" if language is None else f"<Language>{language}</Language>"
    return envelope(
        "VerifySignatures",
        f"<request><Contents>{''.join(item)}</Contents>{language_element}"
        f"<SignedContentType>{content_type}</SignedContentType></request>",
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


#: Wrappers putting a committed file's bytes into a message (``"wrap"`` in the data).
WRAPS: dict[str, Callable[[bytes], str]] = {
    "PostSignRequest-Pdf": lambda data: post_message(content_type="Pdf", contents=sign_content(_b64(data))),
    "VerifySignatures-Pdf": lambda data: verify_message(_b64(data)),
    "VerifySignatures-Hash": lambda data: verify_message(_b64(data), content_type="Hash", content=SHA1_B64),
}


# -- the string fields ---------------------------------------------------------------------------

#: Where a field's value goes in a :class:`FieldSpec`'s template.
VALUE = "{VALUE}"


@dataclass(frozen=True)
class FieldSpec:
    """A string field of an operation, and what becomes of text put into it.

    Exactly one outcome applies: ``refused`` (a fault), ``answered`` (another
    operation's answer), else PostSignRequest accepts the value and ``stored``
    names where it is kept.
    """

    #: A valid message of the operation with :data:`VALUE` as the field's text.
    template: str
    #: (table, column) of the value: ``sign_request`` or the first ``sign_content``.
    stored: tuple[str, str] | None = None
    #: The sign page shows the value.
    shown: bool = False
    #: The value comes back in an answer (GetSignResponse's or VerifySignatures' CorrelationID).
    echoed: bool = False
    #: The operation, if not PostSignRequest: its answer is checked instead of the database.
    answered: str | None = None
    #: (faultcode, part of the reason) when no such value can be valid.
    refused: tuple[str, str] | None = None

    def build(self, xml_text: str) -> str:
        """The message with ``xml_text`` (already XML text) in the field."""
        return self.template.replace(VALUE, xml_text)

    def build_bytes(self, xml_text: bytes) -> bytes:
        """:meth:`build` for large values (:func:`insert`)."""
        return insert(self.template, xml_text)


def insert(template: str, xml_text: bytes) -> bytes:
    """``template`` with ``xml_text`` in place of :data:`VALUE`: one join, no large strings."""
    before, after = template.split(VALUE)
    return b"".join((before.encode(), xml_text, after.encode()))


#: A PDF without signatures, base64, for VerifySignatures (its result: not valid).
UNSIGNED_PDF_B64 = _b64(minimal_pdf())


FIELDS: dict[str, FieldSpec] = {
    "ShortContentDescription": FieldSpec(
        post_message(VALUE), stored=("sign_request", "short_content_description"), shown=True
    ),
    "ContentDescription": FieldSpec(
        post_message(description=VALUE), stored=("sign_request", "content_description"), shown=True
    ),
    "SignatureReason": FieldSpec(post_message(reason=VALUE), stored=("sign_request", "signature_reason")),
    "CorrelationID": FieldSpec(
        post_message(contents=sign_content(correlation_id=VALUE)),
        stored=("sign_content", "correlation_id"),
        shown=True,
        echoed=True,
    ),
    "Name": FieldSpec(post_message(contents=sign_content(name=VALUE)), stored=("sign_content", "name"), shown=True),
    "ExpectedSigner.ID": FieldSpec(
        post_message(signer=f"<ID>{VALUE}</ID>"),
        refused=("InvalidParameter", "ExpectedSigner.ID is not a valid IDNP"),
    ),
    "ExpectedSigner.DelegatorID": FieldSpec(
        post_message(signer=f"<DelegatorID>{VALUE}</DelegatorID><DelegatorType>Person</DelegatorType><ID>{IDNP}</ID>"),
        refused=("InvalidParameter", "ExpectedSigner.DelegatorID is not a valid IDNP"),
    ),
    "requestID": FieldSpec(get_message(VALUE), refused=("RequestNotFound", "Cannot find such request")),
    "language": FieldSpec(get_message("{FAILED_REQUEST_ID}", VALUE), answered="GetSignResponse"),
    "VerificationContent.CorrelationID": FieldSpec(
        verify_message(UNSIGNED_PDF_B64, correlation_id=VALUE), answered="VerifySignatures", echoed=True
    ),
    "VerificationRequest.Language": FieldSpec(
        verify_message(UNSIGNED_PDF_B64, language=VALUE), answered="VerifySignatures"
    ),
}


# -- generated inputs ----------------------------------------------------------------------------

MiB = 1024 * 1024


def _string(recipe: dict[str, Any]) -> bytes:
    """``count`` times ``char`` in the field named ``field`` (a key of :data:`FIELDS`)."""
    return FIELDS[recipe["field"]].build_bytes(escape(recipe["char"]).encode() * recipe["count"])


def _base64(recipe: dict[str, Any]) -> bytes:
    """``count`` base64 characters as the Content of a Hash request."""
    return insert(post_message(contents=sign_content(VALUE)), b"A" * recipe["count"])


def _nesting(recipe: dict[str, Any]) -> bytes:
    """``depth`` nested elements inside the field named ``field``."""
    depth = recipe["depth"]
    return FIELDS[recipe["field"]].build_bytes(b"<a>" * depth + b"</a>" * depth)


def _contents(recipe: dict[str, Any]) -> bytes:
    """``count`` SignContent in one PostSignRequest."""
    return insert(post_message(contents=VALUE), sign_content().encode() * recipe["count"])


def _header_flood(recipe: dict[str, Any]) -> bytes:
    """``count`` header entries (one namespace, no mustUnderstand) before a GetSignResponse of an unknown ID."""
    body = get_message("0" * 32).encode()
    entries = b'<s:Header xmlns:h="urn:flood">' + b"<h:Entry>x</h:Entry>" * recipe["count"] + b"</s:Header>"
    return body.replace(b"<s:Body>", entries + b"<s:Body>", 1)


def _attribute_flood(recipe: dict[str, Any]) -> bytes:
    """``count`` attributes ``a0``, ``a1`` … on the GetSignResponse element."""
    attributes = b"".join(b' a%d="x"' % i for i in range(recipe["count"]))
    return get_message("0" * 32).encode().replace(b"<GetSignResponse", b"<GetSignResponse" + attributes, 1)


def _long_name(recipe: dict[str, Any]) -> bytes:
    """An operation element whose name is ``count`` characters long."""
    name = b"A" * recipe["count"]
    return b"".join((b'<s:Envelope xmlns:s="', NS_SOAP.encode(), b'"><s:Body><', name, b"/></s:Body></s:Envelope>"))


def _namespace_flood(recipe: dict[str, Any]) -> bytes:
    """``count`` namespace declarations on the Envelope around a GetSignResponse."""
    declarations = b"".join(b' xmlns:n%d="urn:%d"' % (i, i) for i in range(recipe["count"]))
    return get_message("0" * 32).encode().replace(b"<s:Envelope", b"<s:Envelope" + declarations, 1)


def _gzip(recipe: dict[str, Any]) -> bytes:
    """A GetSignResponse padded with whitespace to ``count`` bytes, gzip-compressed."""
    message = get_message("0" * 32).encode()
    head, tail = message.split(b"<s:Body>")
    padding = recipe["count"] - len(message)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)  # gzip framing
    chunks = [compressor.compress(head)]
    chunks.extend(compressor.compress(b" " * MiB) for _ in range(padding // MiB))
    chunks.append(compressor.compress(b" " * (padding % MiB) + b"<s:Body>" + tail))
    chunks.append(compressor.flush())
    return b"".join(chunks)


def _body(recipe: dict[str, Any]) -> bytes:
    """A PostSignRequest of exactly ``count`` bytes (its ContentDescription padded)."""
    template = post_message(description=VALUE)
    return insert(template, b"x" * (recipe["count"] - len(insert(template, b""))))


def _pdf_of_size(size: int, text: str) -> bytes:
    """A valid PDF of exactly ``size`` bytes."""
    padding = size - len(minimal_pdf(text))
    for _ in range(5):  # the padding's comment and /Length cost a few bytes of their own
        pdf = minimal_pdf(text, padding)
        if len(pdf) == size:
            return pdf
        padding += size - len(pdf)
    raise AssertionError(f"no PDF of {size} bytes")


def _pdfs(recipe: dict[str, Any]) -> bytes:
    """A Pdf PostSignRequest with one valid PDF of each of ``sizes`` bytes."""
    contents = "".join(
        sign_content(_b64(_pdf_of_size(size, f"Document {i}")), correlation_id=str(i))
        for i, size in enumerate(recipe["sizes"], 1)
    )
    return post_message(content_type="Pdf", contents=contents).encode()


def _deep_arrays_pdf() -> bytes:
    """A valid PDF whose catalog holds 100,000 nested arrays."""
    depth = 100_000
    return minimal_pdf("Deep", catalog=b"/Deep " + b"[" * depth + b"]" * depth + b" ")


def _flate_bomb_pdf() -> bytes:
    """A PDF whose cross-reference stream inflates to 200 MiB of zeros (about 200 KB deflated)."""
    compressor = zlib.compressobj(9)
    zeros = bytes(MiB)
    stream = b"".join([*(compressor.compress(zeros) for _ in range(200)), compressor.flush()])
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    out += b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    out += b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
    xref = len(out)
    dictionary = b"<< /Type /XRef /Size 4 /W [1 4 2] /Root 1 0 R /Filter /FlateDecode /Length %d >>" % len(stream)
    out += b"3 0 obj\n" + dictionary + b"\nstream\n" + stream + b"\nendstream\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


#: The hostile PDFs of ``"kind": "pdf"`` recipes, by ``recipe``; each is built once.
PDF_RECIPES: dict[str, Callable[[], bytes]] = {
    "deep-arrays": functools.cache(_deep_arrays_pdf),
    "flate-bomb": functools.cache(_flate_bomb_pdf),
}


def _pdf(recipe: dict[str, Any]) -> bytes:
    """A hostile PDF (``recipe``) put into a message by the wrapper ``wrap``."""
    return WRAPS[recipe["wrap"]](PDF_RECIPES[recipe["recipe"]]()).encode()


BUILDERS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "string": _string,
    "base64": _base64,
    "nesting": _nesting,
    "contents": _contents,
    "header-flood": _header_flood,
    "attribute-flood": _attribute_flood,
    "long-name": _long_name,
    "namespace-flood": _namespace_flood,
    "gzip": _gzip,
    "body": _body,
    "pdfs": _pdfs,
    "pdf": _pdf,
}


def build(recipe: dict[str, Any]) -> bytes:
    """The message a ``build`` recipe of generated.json describes.

    ``raw-http`` (:func:`_raw_http`) and the page recipes ``upload`` and
    ``form`` (:func:`_page`) are sent, not built, elsewhere.
    """
    builder = BUILDERS.get(recipe["kind"])
    if builder is None:
        raise ValueError(f"no builder for recipe kind {recipe['kind']!r}")
    return builder(recipe)


# -- the corpus ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One hostile input and what must come back (an entry of corpus.json or generated.json)."""

    id: str
    attack: str
    expect: dict[str, Any]
    file: str | None = None
    build: dict[str, Any] | None = None
    wrap: str | None = None
    target: str = "soap"
    request: dict[str, Any] | None = None
    server: str = "default"
    headers: dict[str, str] = field(default_factory=dict)
    network: bool = False
    timeout: float = HANG_TIMEOUT
    #: A bug of the service this input shows (the test is then a strict xfail until it is fixed).
    bug: str | None = None


def _load(name: str) -> list[Item]:
    return [Item(**entry) for entry in json.loads((HOSTILE / name).read_text(encoding="utf-8"))["items"]]


ITEMS = _load("corpus.json") + _load("generated.json")
PAYLOADS = json.loads((HOSTILE / "strings.json").read_text(encoding="utf-8"))["payloads"]


def _param(item: Item) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=item.bug)] if item.bug else []
    return pytest.param(item, id=item.id, marks=marks)


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def _fill(data: bytes, server: Server) -> bytes:
    for placeholder, value in server.known.items():
        data = data.replace(placeholder.encode(), value.encode())
    return data


def _raw_http(server: Server, recipe: dict[str, Any], timeout: float) -> Answer:
    """A POST written by hand, for framing no HTTP library would send."""
    host, port = server.url.removeprefix("http://").split(":")
    head = (
        f"POST /MSign.svc HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/xml; charset=utf-8\r\n"
        f"Content-Length: {recipe['content_length']}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head.encode() + recipe["body"].encode())
        response = http.client.HTTPResponse(sock)
        try:
            response.begin()
            return Answer(response.status, response.getheader("Content-Type", ""), response.read())
        finally:
            response.close()


def _page(server: Server, item: Item) -> Answer:
    spec = dict(item.request or {})
    if item.build is not None:  # a form or an upload over a limit
        if item.build["kind"] == "upload":
            spec = {"method": "POST", "path": "/verify?lang=en", "form": {"lang": "en"}}
            upload = b"%PDF-1.7\n" + b"0" * item.build["count"]
            files = {"signature": ("big.pdf", upload)}
        else:
            spec = {"method": "POST", "path": item.build["path"], "form": {"lang": "en"}}
            spec["form"][item.build["field"]] = "x" * item.build["count"]
            spec["form"]["ReturnUrl"] = "https://e.example/"
            attached = item.build.get("file")
            files = {} if attached is None else {"signature": (Path(attached).name, (HOSTILE / attached).read_bytes())}
    else:
        files = {
            key: (spec.get("file_name") or Path(path).name, (HOSTILE / path).read_bytes())
            for key, path in spec.get("files", {}).items()
        }
    url = server.url + _fill(spec["path"].encode(), server).decode()
    response = requests.request(
        spec["method"], url, data=spec.get("form"), files=files or None, allow_redirects=False, timeout=item.timeout
    )
    return Answer(response.status_code, response.headers.get("Content-Type", ""), response.content)


def send(item: Item, server: Server, port: int | None = None) -> Answer:
    """Post ``item`` to ``server`` (its network placeholders pointed at ``port``)."""
    if item.target == "page":
        return _page(server, item)
    if item.build is not None and item.build["kind"] == "raw-http":
        return _raw_http(server, item.build, item.timeout)
    if item.build is not None:
        data = build(item.build)
    else:
        assert item.file is not None
        data = (HOSTILE / item.file).read_bytes()
        if item.wrap is not None:
            data = WRAPS[item.wrap](data).encode()
    data = _fill(data, server)
    if port is not None:
        data = data.replace(PLACEHOLDER_PORT, f"127.0.0.1:{port}/".encode())
    headers = {"Content-Type": "text/xml; charset=utf-8", **item.headers}
    if item.build is not None and item.build["kind"] == "gzip":
        headers["Content-Encoding"] = "gzip"
    response = requests.post(server.url + "/MSign.svc", data=data, headers=headers, timeout=item.timeout)
    return Answer(response.status_code, response.headers.get("Content-Type", ""), response.content)


# -- checks --------------------------------------------------------------------------------------


def fault_of(answer: Answer) -> tuple[str, str]:
    """The faultcode and faultstring of a SOAP 1.1 fault answer."""
    assert answer.status == 500, answer.text[:1000]
    assert answer.content_type.startswith("text/xml"), answer.content_type
    fault = etree.fromstring(answer.body).find(f"{{{NS_SOAP}}}Body/{{{NS_SOAP}}}Fault")
    assert fault is not None, answer.text[:1000]
    return fault.findtext("faultcode") or "", fault.findtext("faultstring") or ""


def result_of(answer: Answer, operation: str) -> etree._Element:
    """The result element of a successful answer of ``operation``."""
    assert answer.status == 200, answer.text[:1000]
    result = etree.fromstring(answer.body).find(
        f"{{{NS_SOAP}}}Body/{{{TNS}}}{operation}Response/{{{TNS}}}{operation}Result"
    )
    assert result is not None, answer.text[:1000]
    return result


def assert_nothing_internal(answer: Answer) -> None:
    found = INTERNAL_DETAIL.search(html.unescape(answer.text))
    assert found is None, f"internal detail {found.group(0)!r} in {answer.text[:1500]}"


def assert_page(answer: Answer, status: int, text: str) -> None:
    assert answer.status == status, answer.text[:1000]
    assert text in html.unescape(answer.text), answer.text[:3000]
    for markup in RAW_MARKUP:
        assert markup not in answer.text


def assert_verified_invalid(answer: Answer) -> list[etree._Element]:
    results = result_of(answer, "VerifySignatures").findall(f"{{{TNS}}}Results/{{{TNS}}}VerificationResult")
    assert results, answer.text[:1000]
    for result in results:
        assert result.findtext(f"{{{TNS}}}SignaturesValid") == "false"
        assert result.findtext(f"{{{TNS}}}Message")
    return results


def sign_page(server: Server, request_id: str) -> str:
    """The sign page of a request, entered as an e-service's browser would."""
    entry = requests.get(
        f"{server.url}/{request_id}?ReturnUrl=https://e.example/cb&lang=en", allow_redirects=False, timeout=HANG_TIMEOUT
    )
    assert entry.status_code == 303, entry.text[:1000]
    page = requests.get(f"{server.url}/{request_id}/sign?lang=en", timeout=HANG_TIMEOUT)
    assert page.status_code == 200, page.text[:1000]
    return page.text


def assert_shown_escaped(page: str, value: str) -> None:
    assert str(html_escape(value)) in page
    if any(c in value for c in "<>\"'&"):
        assert value not in page


def stored(server: Server, request_id: str, table: str, column: str) -> Any:
    """A column of the request's row (``sign_request``) or first content's (``sign_content``)."""
    assert server.service is not None
    m = server.service.store.models
    with server.service.store.db.connection_context():
        if table == "sign_request":
            return getattr(m.SignRequest.get_by_id(request_id), column)
        return getattr(m.SignContent.get(m.SignContent.request == request_id), column)


def check(item: Item, answer: Answer, server: Server) -> str | None:
    """Assert the expected answer; the new request's ID if one was accepted."""
    expect = item.expect
    if item.target == "page":
        assert_page(answer, expect["status"], expect["text"])
        return None
    if "faultcode" in expect:
        code, reason = fault_of(answer)
        assert (code, expect["reason"] in reason) == (expect["faultcode"], True), reason
        return None
    assert answer.status == expect["status"] == 200, answer.text[:1000]
    if "signatures_valid" in expect:
        assert_verified_invalid(answer)
        return None
    if "status_element" in expect:
        result = result_of(answer, "GetSignResponse")
        assert result.findtext(f"{{{TNS}}}Status") == expect["status_element"]
        assert result.findtext(f"{{{TNS}}}Message")
        return None
    request_id = result_of(answer, "PostSignRequest").text or ""
    for column, value in expect.get("stored", {}).items():
        assert stored(server, request_id, "sign_request", column) == value
    if "page_shows" in expect:
        assert_shown_escaped(sign_page(server, request_id), expect["page_shows"])
    return request_id


# -- the tests -----------------------------------------------------------------------------------


def server_for(item: Item, request: pytest.FixtureRequest) -> Server:
    server: Server = request.getfixturevalue(f"{item.server}_server")
    return server


@pytest.mark.parametrize("item", [_param(item) for item in ITEMS])
def test_hostile_input(item: Item, request: pytest.FixtureRequest) -> None:
    """The expected fault or page, nothing internal in it, no network reached,
    the database unchanged (an accepted request adds only its own rows)."""
    server = server_for(item, request)
    port, connected = request.getfixturevalue("listener") if item.network else (None, None)
    before = db_snapshot(server.db)
    answer = send(item, server, port)
    request_id = check(item, answer, server)
    assert_nothing_internal(answer)
    if connected is not None:
        assert not connected.is_set(), "the service connected to the address in the input"
    after = db_snapshot(server.db)
    if answer.status in (200, 303):
        assert changes_beyond(before, after, request_id) == []
    else:
        assert db_digest(after) == db_digest(before)


def test_corpus_covers_the_issue() -> None:
    """At least 50 inputs, every category issue 6 names, all three operations and both pages."""
    ids = " ".join(item.id for item in ITEMS)
    assert len(ITEMS) >= 50
    for category in ("xxe", "billion-laughs", "quadratic", "oversized", "deep-nesting", "base64", "pdf-", "30mib"):
        assert category in ids, category
    messages = " ".join((HOSTILE / i.file).read_text("latin-1") for i in ITEMS if i.file and i.file.endswith(".xml"))
    for operation in ("PostSignRequest", "GetSignResponse", "VerifySignatures"):
        assert f"<{operation} " in messages, operation
    paths = " ".join(str((i.request or {}).get("path", "")) for i in ITEMS if i.target == "page")
    assert "/verify" in paths and "/{REQUEST_ID}" in paths


def _payload_params() -> list[Any]:
    return [pytest.param(name, payload, id=f"{name}-{payload['id']}") for name in FIELDS for payload in PAYLOADS]


@pytest.mark.parametrize("name, payload", _payload_params())
def test_string_payload_in_every_field(default_server: Server, name: str, payload: dict[str, Any]) -> None:
    """Metacharacters are text: stored and returned byte for byte, shown escaped,
    changing nothing else; what XML forbids is refused as not well-formed."""
    server, spec = default_server, FIELDS[name]
    value: str | None = payload.get("text")
    xml_text = payload.get("xml") or escape(value or "")
    before = db_snapshot(server.db)
    answer = _post(server, spec.build(xml_text))
    request_id = None
    if payload.get("forbidden"):
        code, reason = fault_of(answer)
        assert (code, reason.startswith(NOT_WELL_FORMED)) == ("s:Client", True), reason
    elif spec.refused is not None:
        code, reason = fault_of(answer)
        assert (code, spec.refused[1] in reason) == (spec.refused[0], True), reason
        assert_nothing_internal(answer)
    elif spec.answered == "GetSignResponse":
        assert result_of(answer, "GetSignResponse").findtext(f"{{{TNS}}}Status") == "Failure"
    elif spec.answered == "VerifySignatures":
        [result] = assert_verified_invalid(answer)
        if spec.echoed:
            assert (result.findtext(f"{{{TNS}}}CorrelationID") or "").encode() == (value or "").encode()
    else:
        assert spec.stored is not None and value is not None
        request_id = result_of(answer, "PostSignRequest").text or ""
        assert (stored(server, request_id, *spec.stored) or "").encode() == value.encode()
        if spec.shown:
            assert_shown_escaped(sign_page(server, request_id), value)
        if spec.echoed:
            assert server.service is not None
            server.service.requests.fail(request_id)
            results = result_of(_post(server, get_message(request_id)), "GetSignResponse")
            echoed = results.findtext(f"{{{TNS}}}Results/{{{TNS}}}SignResult/{{{TNS}}}CorrelationID") or ""
            assert echoed.encode() == value.encode()
    after = db_snapshot(server.db)
    if answer.status == 200:
        assert changes_beyond(before, after, request_id) == []
    else:
        assert db_digest(after) == db_digest(before)


def _post(server: Server, message: str) -> Answer:
    data = _fill(message.encode("utf-8"), server)
    response = requests.post(
        server.url + "/MSign.svc", data=data, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=HANG_TIMEOUT
    )
    return Answer(response.status_code, response.headers.get("Content-Type", ""), response.content)


def test_hostile_return_url_and_relay_state_are_escaped_on_the_result_page(default_server: Server) -> None:
    """A ReturnUrl that is a valid URL but breaks out of an HTML attribute, and
    a RelayState holding a script: accepted, and only ever written escaped."""
    server = default_server
    return_url = 'https://e.example/cb?x="><img/src=x/onerror=alert(1)>'
    relay_state = "<script>alert(1)</script>"
    before = db_snapshot(server.db)
    request_id = result_of(_post(server, post_message()), "PostSignRequest").text or ""
    entry = requests.get(
        f"{server.url}/{request_id}",
        params={"ReturnUrl": return_url, "RelayState": relay_state, "lang": "en"},
        allow_redirects=False,
        timeout=HANG_TIMEOUT,
    )
    assert entry.status_code == 303, entry.text[:1000]
    assert server.service is not None
    server.service.requests.fail(request_id)
    page = requests.get(f"{server.url}/{request_id}/sign?lang=en", timeout=HANG_TIMEOUT).text
    assert f'action="{html_escape(return_url)}"' in page
    assert f'value="{html_escape(relay_state)}"' in page
    for markup in ('"><img', relay_state):
        assert markup not in page
    assert changes_beyond(before, db_snapshot(server.db), request_id) == []
