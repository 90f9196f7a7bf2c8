"""PostSignRequest -> the core's signing flow -> GetSignResponse, in process.

A helper of ``bench/signing.py``: the service's WSGI app is called through
Werkzeug's test client (no HTTP); between the two SOAP calls the request is
signed as a cloud-key instrument will sign it, with
``service.signing.sign_with_key`` (prepare from the stored request, sign with
the key, finish, store the result). Each stage's time and peak RSS growth
(Linux ``/proc``) are recorded.
"""

from __future__ import annotations

import base64
import gc
import shutil
import time
from pathlib import Path
from typing import Any

ACTION = "https://msign.gov.md/IMSign/"


def reset_peak_rss() -> int:
    """Reset the process's peak RSS (the counter ru_maxrss reports; Linux >= 4.0) and return the current RSS."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return rss("VmRSS")


def rss(field: str = "VmHWM") -> int:
    """A memory figure of this process from ``/proc/self/status``, in bytes (default: the peak RSS)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))


class SoapRoundTrip:
    """A service on ``data_dir`` (seeded with a copy of the PKI in ``pki_dir``)
    whose requests ``person`` (a demo PKI identity) signs."""

    def __init__(self, person: Any, pki_dir: str, data_dir: Path) -> None:
        from werkzeug.test import Client

        from msign_soap.app import create_app
        from msign_soap.config import load_config

        shutil.copytree(pki_dir, data_dir / "pki")
        self.person = person
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
        """One round trip; per stage ``name``: its seconds, and ``name + " base"`` and
        ``name + " peak"``, the RSS at its start and the peak RSS during it, in bytes."""
        stages: dict[str, float] = {}
        gc.collect()
        mark = [reset_peak_rss(), time.perf_counter()]

        def lap(name: str) -> None:
            stages[name], stages[name + " base"], stages[name + " peak"] = time.perf_counter() - mark[1], mark[0], rss()
            gc.collect()  # the stage's garbage is not the next one's base (not timed)
            mark[:] = [reset_peak_rss(), time.perf_counter()]

        answer = self.call("PostSignRequest", body or self.post_body(pdf))
        request_id = answer.split(b"<PostSignRequestResult>")[1].split(b"<")[0].decode()
        lap("post")
        person = self.person
        self.service.signing.sign_with_key(request_id, person.certificate_der, person.chain_der, person.private_key)
        lap("sign")
        answer = self.call(
            "GetSignResponse",
            b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetSignResponse xmlns="'
            b'https://msign.gov.md"><requestID>%s</requestID></GetSignResponse></s:Body></s:Envelope>'
            % request_id.encode(),
        )
        lap("get")
        assert b"<Status>Success</Status>" in answer and b"<Signature>JVBER" in answer, answer[:2000]
        return stages
