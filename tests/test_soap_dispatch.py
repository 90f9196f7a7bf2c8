"""The SOAP layer reads envelopes and calls the operations itself (no Spyne
per-request machinery): envelope structure, SOAP with attachments, many
requests at once on a threaded server."""

from __future__ import annotations

import re
import threading

import pytest
from lxml import etree
from werkzeug.test import Client

from .conftest import make_service

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
ACTION = "https://msign.gov.md/IMSign/"
HASH = "ZhKVycv51rL2QoQUUEqN7tMCBkE="
POST = (
    f'<s:Envelope xmlns:s="{ENV}"><s:Body><PostSignRequest xmlns="https://msign.gov.md"><request>'
    f"<ContentType>Hash</ContentType><Contents><SignContent><Content>{HASH}</Content></SignContent></Contents>"
    "<ShortContentDescription>Short</ShortContentDescription></request></PostSignRequest></s:Body></s:Envelope>"
)


def get_body(request_id: str) -> str:
    return (
        f'<s:Envelope xmlns:s="{ENV}"><s:Body><GetSignResponse xmlns="https://msign.gov.md">'
        f"<requestID>{request_id}</requestID></GetSignResponse></s:Body></s:Envelope>"
    )


def fault_of(status: int, content: bytes) -> tuple[str, str]:
    assert status == 500, content[:500]
    fault = etree.fromstring(content).find(f".//{{{ENV}}}Fault")
    return fault.findtext("faultcode"), fault.findtext("faultstring")


def post(service, body: bytes | str, content_type: str = "text/xml; charset=utf-8", **headers: str):
    return Client(service).post("/MSign.svc", data=body, headers={"Content-Type": content_type, **headers})


@pytest.mark.parametrize(
    "body, code, reason",
    [
        pytest.param(
            f'<s:Envelope xmlns:s="{ENV}"><s:Header/></s:Envelope>',
            "s:Client",
            "The SOAP Body is missing",
            id="header-without-body",
        ),
        pytest.param(
            f'<s:Envelope xmlns:s="{ENV}"><s:Body><s:Fault><faultcode>s:Client</faultcode>'
            "<faultstring>x</faultstring></s:Fault></s:Body></s:Envelope>",
            "s:Client",
            "A SOAP Fault is not a request",
            id="fault-as-request",
        ),
        pytest.param(
            f'<s:Envelope xmlns:s="{ENV}"/>',
            "s:Client",
            "Soap envelope is empty!",
            id="neither-header-nor-body",
        ),
        pytest.param(
            f'<s:Envelope xmlns:s="{ENV}"><s:Body>text only</s:Body></s:Envelope>',
            "s:Client",
            "The SOAP Body is empty",
            id="body-with-text-only",
        ),
        pytest.param(
            f'<s:Envelope xmlns:s="{ENV}"><s:Body><PostSignRequestResponse xmlns="https://msign.gov.md"/>'
            "</s:Body></s:Envelope>",
            "s:Client",
            "Requested resource '{https://msign.gov.md}PostSignRequestResponse' not found",
            id="contract-element-that-is-no-request",
        ),
    ],
)
def test_envelope_structure_faults(service, body, code, reason):
    response = post(service, body)
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert fault_of(response.status_code, response.get_data()) == (code, reason)


def test_answers_are_utf8_without_declaration(service):
    request_id = re.search(rb"[0-9a-f]{32}", post(service, POST).get_data()).group().decode()
    service.requests.fail(request_id)
    body = get_body(request_id).replace("</requestID>", "</requestID><language>ru</language>")
    response = post(service, body)
    assert response.status_code == 200
    assert not response.get_data().startswith(b"<?xml")
    assert "<Message>Подписание не удалось</Message>".encode() in response.get_data()
    assert int(response.headers["Content-Length"]) == len(response.get_data())


def multipart(soap: str, boundary: str = "MIME") -> bytes:
    part = f"Content-Type: text/xml; charset=UTF-8\r\nContent-ID: <root>\r\n\r\n{soap}"
    return f"--{boundary}\r\n{part}\r\n--{boundary}--\r\n".encode()


def test_soap_with_attachments_is_unpacked(service):
    response = post(
        service, multipart(POST), content_type='multipart/related; boundary=MIME; type="text/xml"; start="<root>"'
    )
    assert response.status_code == 200, response.get_data()
    assert re.search(rb"<PostSignRequestResult>[0-9a-f]{32}</PostSignRequestResult>", response.get_data())


def test_soap_with_attachments_needs_a_boundary(service):
    response = post(service, multipart(POST), content_type='multipart/related; type="text/xml"')
    assert fault_of(response.status_code, response.get_data()) == (
        "s:Client",
        "Missing 'boundary' value from Content-Type header",
    )


def test_many_requests_at_once_on_fresh_server_threads(live_server):
    """Werkzeug's threaded server runs every request on a new thread: the
    shared schema, database pool and service objects must hold up."""
    answers: list[tuple[int, bytes, int, bytes]] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(10):
            posted = live_server.post_raw(POST, SOAPAction=f'"{ACTION}PostSignRequest"')
            request_id = re.search(rb"[0-9a-f]{32}", posted.content)
            got = live_server.post_raw(
                get_body(request_id.group().decode() if request_id else "0" * 32),
                SOAPAction=f'"{ACTION}GetSignResponse"',
            )
            with lock:
                answers.append((posted.status_code, posted.content, got.status_code, got.content))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(answers) == 80
    assert all(post_status == 200 and get_status == 200 for post_status, _, get_status, _ in answers), answers[:3]
    assert len({re.search(rb"[0-9a-f]{32}", posted).group() for _, posted, _, _ in answers}) == 80
    assert all(b"<Status>Pending</Status>" in got for _, _, _, got in answers)


_XXE = (
    '<?xml version="1.0"?><!DOCTYPE s:Envelope [<!ENTITY x "expanded">]>'
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
    '<PostSignRequest xmlns="https://msign.gov.md"><request><ContentType>Hash</ContentType>'
    '<Contents><SignContent><Content><xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:att"/>'
    "</Content></SignContent></Contents><ShortContentDescription>&x;</ShortContentDescription></request>"
    "</PostSignRequest></s:Body></s:Envelope>"
)


@pytest.mark.parametrize(
    ("soap_part", "encoding"),
    [
        pytest.param(_XXE.encode(), "8bit", id="dtd"),
        pytest.param(_XXE.replace("<!", "=3C!").encode(), "quoted-printable", id="dtd-quoted-printable"),
        pytest.param(_XXE.replace('"1.0"?>', '"1.0" encoding="UTF-16"?>').encode("utf-16"), "binary", id="dtd-utf16"),
    ],
)
def test_a_dtd_inside_soap_with_attachments_is_refused(service, soap_part, encoding):
    attachment = b"\x01" * 20
    body = (
        b"--MIME\r\nContent-Type: text/xml\r\nContent-ID: <root>\r\nContent-Transfer-Encoding: "
        + encoding.encode()
        + b"\r\n\r\n"
        + soap_part
        + b"\r\n--MIME\r\nContent-Type: application/octet-stream\r\nContent-ID: <att>\r\n"
        b"Content-Transfer-Encoding: binary\r\n\r\n" + attachment + b"\r\n--MIME--\r\n"
    )
    before = service.store.models.SignRequest.select().count()
    response = post(service, body, content_type='multipart/related; boundary=MIME; type="text/xml"; start="<root>"')
    assert response.status_code == 500, response.get_data()
    assert b"expanded" not in response.get_data()
    assert service.store.models.SignRequest.select().count() == before


def test_too_many_mime_parts_are_refused_before_unpacking(service):
    from msign_soap.soap.protocol import MAX_MIME_PARTS

    attachment = b"--MIME\r\nContent-Type: application/octet-stream\r\nContent-ID: <a%d>\r\n\r\nx\r\n"
    body = (
        multipart(POST).removesuffix(b"--MIME--\r\n")
        + b"".join(attachment % i for i in range(MAX_MIME_PARTS))
        + b"--MIME--\r\n"
    )
    response = post(service, body, content_type='multipart/related; boundary=MIME; type="text/xml"; start="<root>"')
    assert fault_of(response.status_code, response.get_data()) == (
        "s:Client",
        f"A multipart/related message may have at most {MAX_MIME_PARTS} parts",
    )


def test_an_attachment_without_content_id_is_a_client_fault(service):
    no_id = b"--MIME\r\nContent-Type: text/plain\r\n\r\nx\r\n--MIME--\r\n"
    body = multipart(POST).removesuffix(b"--MIME--\r\n") + no_id
    response = post(service, body, content_type='multipart/related; boundary=MIME; type="text/xml"; start="<root>"')
    assert fault_of(response.status_code, response.get_data()) == (
        "s:Client",
        "The multipart/related message is malformed",
    )


def test_each_caller_reads_its_own_schema_error(tmp_path, clock):
    """The contract schema keeps one error log, shared by the server's threads."""
    service = make_service(tmp_path, clock, soap_rate_limit=0, soap_address_rate_limit=0)  # 480 calls at once
    wrong: list[tuple[str, bytes]] = []

    def caller(n: int) -> None:
        for i in range(60):
            value = f"Bad{n}x{i}"
            response = post(service, POST.replace("<ContentType>Hash<", f"<ContentType>{value}<"))
            if value.encode() not in response.get_data():
                wrong.append((value, response.get_data()[:300]))

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    service.close()
    assert not wrong, wrong[:3]
