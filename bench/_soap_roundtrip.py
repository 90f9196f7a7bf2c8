"""PostSignRequest -> stored content -> PAdES -> stored result -> GetSignResponse, in process.

A helper of ``bench/signing.py``: the service's WSGI app is called through
Werkzeug's test client (no HTTP). The core has no glue from a stored request
to its signed result yet, so :meth:`SoapRoundTrip.run` plays it: it reads the
stored content, signs it and calls ``service.requests.complete()``.
"""

from __future__ import annotations

import base64
import shutil
import time
from collections.abc import Callable
from pathlib import Path

ACTION = "https://msign.gov.md/IMSign/"


class SoapRoundTrip:
    """A service on ``data_dir`` (seeded with a copy of the PKI in ``pki_dir``)
    whose stored PDFs ``sign`` signs for the holder of ``certificate``."""

    def __init__(self, sign: Callable[[bytes], bytes], certificate: bytes, pki_dir: str, data_dir: Path) -> None:
        from werkzeug.test import Client

        from msign_soap.app import create_app
        from msign_soap.config import load_config

        shutil.copytree(pki_dir, data_dir / "pki")
        self.sign, self.certificate = sign, certificate
        self.service = create_app(load_config(environ={}, data_dir=data_dir))
        self.client = Client(self.service)

    @staticmethod
    def post_body(pdf: bytes) -> bytes:
        return (
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><PostSignRequest '
            b'xmlns="https://msign.gov.md"><request><ContentType>Pdf</ContentType><Contents><SignContent><Content>'
            + base64.b64encode(pdf)
            + b"</Content><CorrelationID>bench</CorrelationID><Name>bench.pdf</Name></SignContent></Contents>"
            b"<ShortContentDescription>Benchmark</ShortContentDescription></request></PostSignRequest></s:Body>"
            b"</s:Envelope>"
        )

    def call(self, operation: str, body: bytes) -> bytes:
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{ACTION}{operation}"'}
        response = self.client.post("/MSign.svc", data=body, headers=headers)
        assert response.status_code == 200, response.get_data()[:2000]
        return response.get_data()

    def run(self, pdf: bytes | None, body: bytes | None = None) -> dict[str, float]:
        stages, mark = {}, [time.perf_counter()]

        def lap(name: str) -> None:
            stages[name] = time.perf_counter() - mark[0]
            mark[0] = time.perf_counter()

        answer = self.call("PostSignRequest", body or self.post_body(pdf))
        request_id = answer.split(b"<PostSignRequestResult>")[1].split(b"<")[0].decode()
        lap("post")
        m = self.service.store.models
        with self.service.store.db.connection_context():
            content = bytes(m.SignContent.get(m.SignContent.request == request_id).content)
        lap("read")
        signed = self.sign(content)
        del content
        lap("sign")
        self.service.requests.complete(request_id, [(self.certificate, signed)])
        lap("complete")
        answer = self.call(
            "GetSignResponse",
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetSignResponse xmlns="'
            b'https://msign.gov.md"><requestID>%s</requestID></GetSignResponse></s:Body></s:Envelope>'
            % request_id.encode(),
        )
        lap("get")
        start, end = answer.index(b"<Signature>") + 11, answer.index(b"</Signature>")
        assert end - start == (len(signed) + 2) // 3 * 4, "GetSignResponse returned another document"
        assert answer[start : start + 4000] == base64.b64encode(signed[:3000]), "GetSignResponse returned another one"
        return stages
