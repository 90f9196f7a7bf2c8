"""Large documents: a 40 MB PDF goes through PostSignRequest over HTTP."""

from __future__ import annotations

import hashlib

import pytest

from .conftest import minimal_pdf, soap_client

pytestmark = pytest.mark.slow


def test_40_mb_pdf_is_accepted(live_server):
    pdf = minimal_pdf("Large", padding=40 * 1024 * 1024)
    assert len(pdf) > 40 * 1024 * 1024
    client = soap_client(live_server.soap_url)
    request_id = client.PostSignRequest(
        request={
            "ContentType": "Pdf",
            "Contents": {"SignContent": [{"Content": pdf, "Name": "large.pdf", "CorrelationID": "big"}]},
            "ShortContentDescription": "Large document",
        }
    )
    m = live_server.service.store.models
    with live_server.service.store.db.connection_context():
        row = m.SignContent.get(m.SignContent.request == request_id)
        assert row.content_size == len(pdf)
        assert hashlib.sha256(bytes(row.content)).digest() == hashlib.sha256(pdf).digest()
    assert client.GetSignResponse(requestID=request_id).Status == "Pending"
