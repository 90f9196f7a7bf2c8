"""The sign page's time to first byte and total transfer size, over HTTP.

The service runs on Werkzeug's threaded server on 127.0.0.1 in a child
process (SQLite, demo PKI, as ``./scripts/serve``); the client measures, per
page, the time from sending the request to the first byte of the answer
(TTFB) and the bytes on the wire (status line, headers and body; the pages
have no other assets). Next to it, the same server answering the same bytes
from memory (a canned WSGI app): the difference is the page's own work.

Pages: the entry (``GET /{id}?ReturnUrl=…``, a 303 to the page), the
instrument choice of a hash request and of a two-PDF request, the cloud-key
form, and the result page of a finished request. Figures only.

    python bench/sign_page.py [--samples 200]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RETURN_URL = "https://eservice.example/back?x=1"


def _serve(mode: str, data_dir: str, canned: dict, ready: mp.Queue, paths: mp.Queue) -> None:
    import logging

    from werkzeug.serving import make_server

    logging.disable(logging.CRITICAL)
    if mode == "canned":

        def app(environ, start_response):
            status, headers, body = canned[environ["PATH_INFO"] + "?" + environ.get("QUERY_STRING", "")]
            start_response(status, headers)
            return [body]

        server = make_server("127.0.0.1", 0, app, threaded=True)
        ready.put(server.server_port)
    else:
        from msign_soap.app import create_app
        from msign_soap.config import load_config
        from msign_soap.core import SignContentInput, SignRequestInput
        from tests.conftest import minimal_pdf

        service = create_app(load_config(environ={}, data_dir=Path(data_dir)))
        server = make_server("127.0.0.1", 0, service, threaded=True)
        requests = service.requests

        def post(content_type: str, contents: list) -> str:
            request = SignRequestInput(content_type, contents, "Benchmark", content_description="Contract no. 17")
            return str(requests.post(requests.demo_consumer(), request))

        hash_id = post("Hash", [SignContentInput(hashlib.sha1(b"x").digest(), "h1", name="Invoice 7")])
        pdf_id = post("Pdf", [SignContentInput(minimal_pdf(f"Act {i}"), f"p{i}", name=f"Act {i}.pdf") for i in (1, 2)])
        finished_id = post("Hash", [SignContentInput(hashlib.sha1(b"y").digest(), "h1")])
        ready.put(server.server_port)
        paths.put((hash_id, pdf_id, finished_id))
    server.serve_forever()


def fetch(port: int, path: str, cookie: str | None = None) -> tuple[float, float, int, str, list, bytes]:
    """(TTFB s, total s, bytes on the wire, status, headers, body) of one GET."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Cookie": cookie} if cookie else {}
    start = time.perf_counter()
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()  # returns once the status line and headers are in
    first = time.perf_counter() - start
    body = response.read()
    total = time.perf_counter() - start
    header_list = response.getheaders()
    head = len(f"HTTP/1.1 {response.status} {response.reason}\r\n") + sum(len(k) + len(v) + 4 for k, v in header_list)
    connection.close()
    return first, total, head + 2 + len(body), f"{response.status} {response.reason}", header_list, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200, help="requests per page")
    args = parser.parse_args()
    mp.set_start_method("spawn")
    with tempfile.TemporaryDirectory() as data_dir:
        ready: mp.Queue = mp.Queue()
        paths: mp.Queue = mp.Queue()
        real = mp.Process(target=_serve, args=("real", data_dir, {}, ready, paths), daemon=True)
        real.start()
        port = ready.get(timeout=120)
        hash_id, pdf_id, finished_id = paths.get(timeout=60)
        query = urlencode({"ReturnUrl": RETURN_URL, "lang": "ro"})
        for request_id in (hash_id, pdf_id, finished_id):
            fetch(port, f"/{request_id}?{query}")  # the entry: stores the parameters
        pages = {
            "entry (303)": f"/{hash_id}?{query}",
            "choice, 1 hash": f"/{hash_id}/sign",
            "choice, 2 PDFs": f"/{pdf_id}/sign",
            "cloud-key form": f"/{hash_id}/sign/securesign",
        }

        _finish(data_dir, finished_id)
        pages["result (finished)"] = f"/{finished_id}/sign"
        canned = {}
        for name, path in pages.items():
            _, _, _, status, headers, body = fetch(port, path)
            assert status.startswith(("200", "303")), (name, status)
            kept = [(k, v) for k, v in headers if k.lower() not in ("date", "server", "connection")]
            canned[path if "?" in path else path + "?"] = (status, kept, body)
        baseline = mp.Process(target=_serve, args=("canned", data_dir, canned, ready, paths), daemon=True)
        baseline.start()
        canned_port = ready.get(timeout=60)

        print(f"Sign page over HTTP on 127.0.0.1, {args.samples} requests per page, median (p90) milliseconds")
        print(f"{'page':<20} {'TTFB':>14} {'total':>14} {'canned TTFB':>14} {'bytes':>8}")
        for name, path in pages.items():
            real_runs = [fetch(port, path) for _ in range(args.samples)]
            canned_runs = [fetch(canned_port, path) for _ in range(args.samples)]
            ttfb = [r[0] * 1000 for r in real_runs]
            total = [r[1] * 1000 for r in real_runs]
            base = [r[0] * 1000 for r in canned_runs]
            print(
                f"{name:<20} {_fmt(ttfb):>14} {_fmt(total):>14} {_fmt(base):>14} {real_runs[-1][2]:>8}",
                flush=True,
            )
        real.terminate()
        baseline.terminate()


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({statistics.quantiles(values, n=10)[-1]:.2f})"


def _finish(data_dir: str, request_id: str) -> None:
    """Sign the request with Ion's demo key (in this process, same database)."""
    from msign_soap.app import create_app
    from msign_soap.config import load_config

    service = create_app(load_config(environ={}, data_dir=Path(data_dir)))
    try:
        service.instruments["securesign"].sign(request_id, "2004001234567", "4567")
    finally:
        service.close()


if __name__ == "__main__":
    main()
