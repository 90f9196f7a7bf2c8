"""PostSignRequest validates every rule before storing anything."""

from __future__ import annotations

import copy

import pytest
import stdnum.md.idno
import zeep

from msign_soap.core import is_valid_idn

from .conftest import IDNP, WsgiTransport, make_service, minimal_pdf, sha1, soap_client

#: A valid IDNO of an organization (check digit computed independently by python-stdnum).
IDNO = "1003600012345"[:12] + stdnum.md.idno.calc_check_digit("1003600012345"[:12])


def hash_request(**changes) -> dict:
    request = {
        "ContentDescription": "Long description",
        "ContentType": "Hash",
        "Contents": {"SignContent": [{"Content": sha1("a"), "CorrelationID": "c1", "Name": "a.txt"}]},
        "ExpectedSigner": {"ID": IDNP},
        "ShortContentDescription": "Short",
        "SignatureReason": None,
    }
    request.update(changes)
    return request


def pdf_request(**changes) -> dict:
    request = hash_request(
        ContentType="Pdf",
        ExpectedSigner=None,
        Contents={"SignContent": [{"Content": minimal_pdf(), "Name": "doc.pdf"}]},
    )
    request.update(changes)
    return request


def content(data, **extra) -> dict:
    return {"SignContent": [{"Content": data, **extra}]}


def counts(service) -> tuple[int, int]:
    m = service.store.models
    with service.store.db.connection_context():
        return m.SignRequest.select().count(), m.SignContent.select().count()


INVALID = [
    pytest.param(None, "request is required", id="nil-request"),
    pytest.param(hash_request(Contents=None), "Contents must contain at least one SignContent", id="nil-contents"),
    pytest.param(
        hash_request(Contents={"SignContent": []}),
        "Contents must contain at least one SignContent",
        id="empty-contents",
    ),
    pytest.param(hash_request(Contents=content(None)), "Contents[1].Content is required", id="nil-content"),
    pytest.param(
        hash_request(Contents=content(b"x" * 19)),
        "Contents[1].Content must be a 20-byte SHA-1 hash",
        id="hash-19-bytes",
    ),
    pytest.param(
        hash_request(Contents=content(b"x" * 21)),
        "Contents[1].Content must be a 20-byte SHA-1 hash",
        id="hash-21-bytes",
    ),
    pytest.param(
        hash_request(Contents=content(b"")), "Contents[1].Content must be a 20-byte SHA-1 hash", id="hash-empty"
    ),
    pytest.param(
        hash_request(Contents={"SignContent": [{"Content": sha1("a")}, {"Content": b"short"}]}),
        "Contents[2].Content must be a 20-byte",
        id="second-hash-bad",
    ),
    pytest.param(
        pdf_request(Contents=content(b"hello world")), "Contents[1].Content is not a PDF document", id="pdf-not-pdf"
    ),
    pytest.param(
        pdf_request(Contents=content(minimal_pdf()[:-30])),
        "Contents[1].Content is not a complete PDF document",
        id="pdf-truncated",
    ),
    pytest.param(
        pdf_request(Contents=content(b"%PDF-1.7\nnothing here\n%%EOF\n")),
        "Contents[1].Content is not a readable PDF document",
        id="pdf-no-xref",
    ),
    pytest.param(
        hash_request(Contents=content(sha1("a"), CorrelationID="x" * 37)),
        "Contents[1].CorrelationID is longer than 36 characters",
        id="correlation-id-37",
    ),
    pytest.param(
        hash_request(
            Contents={
                "SignContent": [
                    {"Content": sha1("a"), "CorrelationID": "same"},
                    {"Content": sha1("b"), "CorrelationID": "same"},
                ]
            }
        ),
        "Contents[2].CorrelationID 'same' is not unique within the request",
        id="correlation-id-duplicate",
    ),
    pytest.param(
        hash_request(Contents=content(sha1("a"), Name="n" * 257)),
        "Contents[1].Name is longer than 256 characters",
        id="name-257",
    ),
    pytest.param(
        hash_request(ContentDescription="d" * 513),
        "ContentDescription is longer than 512 characters",
        id="content-description-513",
    ),
    pytest.param(
        hash_request(ShortContentDescription="s" * 91),
        "ShortContentDescription is longer than 90 characters",
        id="short-description-91",
    ),
    pytest.param(
        hash_request(ShortContentDescription=None), "ShortContentDescription is required", id="short-description-nil"
    ),
    pytest.param(
        hash_request(ShortContentDescription="   "), "ShortContentDescription is required", id="short-description-blank"
    ),
    pytest.param(
        pdf_request(SignatureReason="r" * 256),
        "SignatureReason is longer than 255 characters",
        id="signature-reason-256",
    ),
    pytest.param(
        hash_request(ExpectedSigner={"ID": IDNP[:-1] + str((int(IDNP[-1]) + 1) % 10)}),
        "ExpectedSigner.ID is not a valid IDNP",
        id="idnp-check-digit",
    ),
    pytest.param(
        hash_request(ExpectedSigner={"ID": IDNP[:12]}), "ExpectedSigner.ID is not a valid IDNP", id="idnp-12-digits"
    ),
    pytest.param(
        hash_request(ExpectedSigner={"ID": "200400123456X"}), "ExpectedSigner.ID is not a valid IDNP", id="idnp-letter"
    ),
    pytest.param(
        hash_request(ExpectedSigner={"ID": "２００４００１２３４５６７"}),
        "ExpectedSigner.ID is not a valid IDNP",
        id="idnp-fullwidth-digits",
    ),
    pytest.param(
        hash_request(ExpectedSigner={"ID": None}),
        "ExpectedSigner.ID is required when ContentType is Hash",
        id="idnp-missing-for-hash",
    ),
    pytest.param(
        hash_request(ExpectedSigner={"ID": IDNP, "DelegatorType": "Person"}),
        "ExpectedSigner.DelegatorID is required when DelegatorType is Person",
        id="delegator-id-missing",
    ),
    pytest.param(
        hash_request(ExpectedSigner={"ID": IDNP, "DelegatorType": "Organization", "DelegatorID": "123"}),
        "ExpectedSigner.DelegatorID is not a valid IDNO",
        id="delegator-idno-invalid",
    ),
    pytest.param(
        hash_request(ExpectedSigner={"ID": IDNP, "DelegatorID": IDNO}),
        "ExpectedSigner.DelegatorID must be empty when DelegatorType is None",
        id="delegator-id-without-type",
    ),
    pytest.param(
        hash_request(ExpectedSigner={"ID": IDNP, "DelegatedRoleID": -1}),
        "ExpectedSigner.DelegatedRoleID must not be negative",
        id="negative-role",
    ),
]


@pytest.mark.parametrize("request_body, reason", INVALID)
def test_invalid_parameter_names_the_field_and_stores_nothing(service, client, request_body, reason):
    before = counts(service)
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.PostSignRequest(request=copy.deepcopy(request_body))
    assert caught.value.code == "InvalidParameter"
    assert caught.value.message.startswith(reason), caught.value.message
    assert counts(service) == before


VALID = [
    pytest.param(hash_request(), id="hash-sha1"),
    pytest.param(hash_request(Contents=content(b"\x01" * 32)), id="hash-sha256-extension"),
    pytest.param(hash_request(ExpectedSigner=None), id="hash-without-expected-signer"),
    pytest.param(pdf_request(), id="pdf"),
    pytest.param(pdf_request(ExpectedSigner={"ID": None}), id="pdf-expected-signer-without-id"),
    pytest.param(
        pdf_request(SignatureReason="r" * 255, Contents=content(minimal_pdf(), MultipleSignatures=True)),
        id="pdf-reason-255-cosign",
    ),
    pytest.param(
        hash_request(
            ShortContentDescription="s" * 90,
            ContentDescription="d" * 512,
            Contents=content(sha1("a"), CorrelationID="c" * 36, Name="n" * 256),
        ),
        id="all-lengths-at-the-limit",
    ),
    pytest.param(
        hash_request(
            ExpectedSigner={"ID": IDNP, "DelegatorType": "Organization", "DelegatorID": IDNO, "DelegatedRoleID": 3}
        ),
        id="delegated-by-organization",
    ),
    pytest.param(
        hash_request(ExpectedSigner={"ID": IDNP, "DelegatorType": "Person", "DelegatorID": IDNP}),
        id="delegated-by-person",
    ),
    pytest.param(
        hash_request(Contents={"SignContent": [{"Content": sha1(str(i)), "CorrelationID": str(i)} for i in range(10)]}),
        id="batch-of-10",
    ),
]


@pytest.mark.parametrize("request_body", VALID)
def test_valid_requests_are_stored(service, client, request_body):
    request_id = client.PostSignRequest(request=request_body)
    contents = request_body["Contents"]["SignContent"]
    assert counts(service) == (1, len(contents))
    m = service.store.models
    with service.store.db.connection_context():
        stored = list(
            m.SignContent.select().where(m.SignContent.request == request_id).order_by(m.SignContent.position)
        )
    assert [bytes(row.content) for row in stored] == [c["Content"] for c in contents]
    assert [row.correlation_id for row in stored] == [c.get("CorrelationID") for c in contents]


@pytest.mark.parametrize(
    "settings, request_body, reason",
    [
        pytest.param(
            {"max_contents": 2},
            hash_request(Contents={"SignContent": [{"Content": sha1(str(i))} for i in range(3)]}),
            "Contents has 3 items; at most 2 are allowed",
            id="batch-limit",
        ),
        pytest.param(
            {"max_content_bytes": 1000},
            pdf_request(Contents=content(minimal_pdf("x" * 2000))),
            "Contents[1].Content is larger than the limit of 1000 bytes",
            id="content-limit",
        ),
        pytest.param(
            {"max_total_content_bytes": 1000, "max_content_bytes": 1000},
            pdf_request(Contents={"SignContent": [{"Content": minimal_pdf()}, {"Content": minimal_pdf()}]}),
            "Contents total",
            id="total-limit",
        ),
    ],
)
def test_configured_limits(tmp_path, clock, settings, request_body, reason):
    svc = make_service(tmp_path, clock, **settings)
    try:
        client = soap_client("http://testserver/MSign.svc", WsgiTransport(svc))
        with pytest.raises(zeep.exceptions.Fault) as caught:
            client.PostSignRequest(request=request_body)
        assert caught.value.code == "InvalidParameter"
        assert caught.value.message.startswith(reason), caught.value.message
        assert counts(svc) == (0, 0)
    finally:
        svc.close()


@pytest.mark.parametrize("value", ["2004001234567", IDNO, "0000000000000", "1234567890128"])
def test_idn_check_agrees_with_python_stdnum(value):
    assert is_valid_idn(value) == stdnum.md.idno.is_valid(value)


def test_idn_check_agrees_with_python_stdnum_on_every_check_digit():
    for prefix in ("200400123456", "100360001234", "098765432109"):
        for digit in "0123456789":
            assert is_valid_idn(prefix + digit) == stdnum.md.idno.is_valid(prefix + digit), prefix + digit


def test_nil_sign_content_item(live_server):
    # zeep drops None list items, so this one is written by hand, as WCF would.
    body = (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        '<PostSignRequest xmlns="https://msign.gov.md"><request xmlns:i="http://www.w3.org/2001/XMLSchema-instance">'
        '<ContentType>Hash</ContentType><Contents><SignContent i:nil="true"/></Contents>'
        "<ShortContentDescription>Short</ShortContentDescription></request></PostSignRequest></s:Body></s:Envelope>"
    )
    before = counts(live_server.service)
    response = live_server.post_raw(body)
    assert response.status_code == 500
    assert "<faultcode>InvalidParameter</faultcode>" in response.text
    assert "Contents[1] is nil" in response.text
    assert counts(live_server.service) == before


@pytest.fixture(scope="module")
def signed_pdf() -> bytes:
    """A PDF signed once (PAdES-T) by a demo person of the shared demo PKI."""
    from datetime import UTC, datetime

    from msign_soap.pki import load_demo_pki
    from msign_soap.signing import LocalTsa, sign_pades_with_key

    from .pki_support import TEMPLATE_URL, shared_demo_pki_template

    pki = load_demo_pki(shared_demo_pki_template(), TEMPLATE_URL)
    signer = pki.people[IDNP]
    tsa = LocalTsa(pki.tsa.certificate, pki.tsa.private_key, pki.tsa.chain)
    signed = sign_pades_with_key(
        minimal_pdf(),
        signer.certificate_der,
        signer.chain_der,
        signer.private_key,
        tsa,
        signing_time=datetime.now(UTC),
        reason="First signature",
    )
    return bytes(signed)


def test_already_signed_pdf_is_refused_without_multiple_signatures(service, client, signed_pdf):
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.PostSignRequest(request=pdf_request(Contents=content(signed_pdf, MultipleSignatures=False)))
    assert caught.value.code == "InvalidParameter"
    assert caught.value.message == (
        "Contents[1].Content is already signed (1 signature(s)); set MultipleSignatures to true to co-sign it"
    )
    assert counts(service) == (0, 0)


def test_already_signed_pdf_is_accepted_for_co_signing(service, client, signed_pdf):
    client.PostSignRequest(request=pdf_request(Contents=content(signed_pdf, MultipleSignatures=True)))
    assert counts(service) == (1, 1)
