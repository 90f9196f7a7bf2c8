"""Does the service keep answering while a large VerifySignatures batch runs?

One server (Werkzeug's threaded server on 127.0.0.1, in a child process, the
embedded default: SQLite, demo PKI) answers GetSignResponse calls from one
client process, one after another, for a few seconds: first alone, then
while another client posts VerifySignatures batches of PDFs signed by five
people each. Printed: GetSignResponse calls per second and their latency
(median, p90, max) in both phases, and how long each batch took. Figures
only.

    python bench/verify_load.py [--batch 10] [--seconds 5]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ACTION = "https://msign.gov.md/IMSign/"
SIGNERS = ("2004001234567", "2001002345678", "2002003456787", "2005005678902", "2004001234567")


def _serve(data_dir: str, ready: mp.Queue) -> None:
    import logging

    from werkzeug.serving import make_server

    from msign_soap.app import create_app
    from msign_soap.config import load_config

    logging.disable(logging.CRITICAL)
    service = create_app(load_config(environ={}, data_dir=Path(data_dir)))
    server = make_server("127.0.0.1", 0, service, threaded=True)
    ready.put(server.server_port)
    server.serve_forever()


def call(port: int, operation: str, body: bytes) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{ACTION}{operation}"'}
    connection.request("POST", "/MSign.svc", body=body, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    assert response.status == 200, data[:500]
    return data


def get_body(request_id: str) -> bytes:
    return (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        f'<GetSignResponse xmlns="https://msign.gov.md"><requestID>{request_id}</requestID></GetSignResponse>'
        "</s:Body></s:Envelope>"
    ).encode()


def verify_body(pdfs: list[bytes]) -> bytes:
    items = "".join(
        f"<VerificationContent><CorrelationID>p{i}</CorrelationID><Signature>{base64.b64encode(pdf).decode()}"
        "</Signature></VerificationContent>"
        for i, pdf in enumerate(pdfs)
    )
    return (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        f'<VerifySignatures xmlns="https://msign.gov.md"><request><Contents>{items}</Contents>'
        "<Language>en</Language><SignedContentType>Pdf</SignedContentType></request></VerifySignatures>"
        "</s:Body></s:Envelope>"
    ).encode()


def _poll(port: int, body: bytes, seconds: float, results: mp.Queue) -> None:
    latencies = []
    end = time.perf_counter() + seconds
    while (start := time.perf_counter()) < end:
        call(port, "GetSignResponse", body)
        latencies.append(time.perf_counter() - start)
    results.put(latencies)


def _verify(port: int, body: bytes, stop: mp.Event, results: mp.Queue) -> None:
    durations = []
    while not stop.is_set():
        start = time.perf_counter()
        answer = call(port, "VerifySignatures", body)
        durations.append(time.perf_counter() - start)
        assert answer.count(b"<SignaturesValid>true</SignaturesValid>") == body.count(b"<VerificationContent>")
    results.put(durations)


def prepare(data_dir: str, batch: int) -> tuple[str, list[bytes]]:
    """A Pending request to poll, and ``batch`` PDFs with five signatures each."""
    from msign_soap.app import create_app
    from msign_soap.config import load_config
    from msign_soap.core import ExpectedSigner, SignContentInput, SignRequestInput
    from tests.conftest import minimal_pdf

    service = create_app(load_config(environ={}, data_dir=Path(data_dir)))
    requests = service.requests
    try:
        pending = requests.post(
            requests.demo_consumer(),
            SignRequestInput("Hash", [SignContentInput(b"\x01" * 20, "h")], "Bench"),
        )
        document = minimal_pdf("Five signers")
        for idnp in SIGNERS:
            request_id = requests.post(
                requests.demo_consumer(),
                SignRequestInput(
                    "Pdf",
                    [SignContentInput(document, multiple_signatures=True)],
                    "Bench",
                    expected_signer=ExpectedSigner(idnp),
                ),
            )
            who = service.pki.people[idnp]
            service.signing.sign_with_key(request_id, who.certificate_der, who.chain_der, who.private_key)
            document = requests.get(requests.demo_consumer(), request_id, "en").results[0].signature
        return str(pending), [bytes(document)] * batch
    finally:
        service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=10, help="PDFs per VerifySignatures call")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each phase")
    args = parser.parse_args()
    mp.set_start_method("spawn")
    with tempfile.TemporaryDirectory() as data_dir:
        pending, pdfs = prepare(data_dir, args.batch)
        ready: mp.Queue = mp.Queue()
        server = mp.Process(target=_serve, args=(data_dir, ready), daemon=True)
        server.start()
        port = ready.get(timeout=120)
        poll_body, verify_request = get_body(pending), verify_body(pdfs)
        call(port, "VerifySignatures", verify_body(pdfs[:1]))  # warm up

        results: mp.Queue = mp.Queue()
        alone = mp.Process(target=_poll, args=(port, poll_body, args.seconds, results))
        alone.start()
        quiet = results.get()
        alone.join()

        stop = mp.Event()
        verifier = mp.Process(target=_verify, args=(port, verify_request, stop, results))
        verifier.start()
        time.sleep(0.5)  # the first batch is under way
        poller = mp.Process(target=_poll, args=(port, poll_body, args.seconds, results))
        poller.start()
        busy = results.get()
        poller.join()
        stop.set()
        batches = results.get()
        verifier.join()
        server.terminate()

    def row(name: str, latencies: list[float]) -> str:
        ms = sorted(x * 1000 for x in latencies)
        rate = len(ms) / args.seconds
        p90 = statistics.quantiles(ms, n=10)[-1]
        return f"{name:<34} {rate:>8.0f}/s {statistics.median(ms):>9.2f} {p90:>9.2f} {ms[-1]:>9.2f}"

    print(f"GetSignResponse, one client, {args.seconds:g} s per phase   calls      median ms    p90 ms    max ms")
    print(row("alone", quiet))
    print(row(f"during VerifySignatures ({args.batch} PDFs)", busy))
    each = ", ".join(f"{d:.2f}" for d in batches)
    print(f"VerifySignatures of {args.batch} PDFs x 5 signatures: {len(batches)} batches, seconds each: {each}")


if __name__ == "__main__":
    main()
