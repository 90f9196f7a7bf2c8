"""The demo e-service's long operations, timed: what its progress page
stands in front of.

The embedded default (demo PKI, SQLite in a temporary directory) and the
demo e-service mounted at ``/demo`` run on one threaded server on
127.0.0.1, as ``msign-soap serve`` runs them. A stand-in browser (Werkzeug's
test client, in process) posts the demo's form with a batch of PDFs, the
service's cloud key signs them (no browser: the sign page is not what is
timed), then the callback is posted and the demo's jobs are timed:

- **post**: the form to the 303 towards the sign page (upload, PostSignRequest
  through zeep over HTTP, the state file);
- **fetch**: the callback to the end of the fetch job (GetSignResponse with
  every signed PDF, files written, signers and time-stamps read);
- **verify** and **verify altered**: one VerifySignatures call per content.

Figures only; nothing passes or fails on time.

    python bench/demo_eservice.py [--contents N] [--size-mib S]
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MiB = 1024 * 1024
ION, ION_PIN = "2004001234567", "4567"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contents", type=int, default=10, help="PDFs in the batch (default 10)")
    parser.add_argument("--size-mib", type=float, default=1.0, help="size of each PDF in MiB (default 1)")
    args = parser.parse_args()
    logging.disable(logging.INFO)

    from werkzeug.test import Client

    from msign_demo_eservice import mountable
    from msign_soap.app import create_app
    from msign_soap.config import load_config
    from tests import pki_support
    from tests.conftest import minimal_pdf
    from tests.test_demo_eservice import Mount

    with tempfile.TemporaryDirectory() as directory, pki_support.serve() as (url, server):
        data = Path(directory) / "data"
        pki_support.seed_demo_pki(data)
        limits = {"soap_rate_limit": 0, "soap_address_rate_limit": 0, "pin_rate_limit": 0}
        service = create_app(load_config(environ={}, data_dir=data, **limits))
        demo = mountable(url, data)
        server.app = app = Mount(service, demo)
        client = Client(app)
        padding = int(args.size_mib * MiB)
        documents = [minimal_pdf(f"Act {i}", padding) for i in range(args.contents)]
        total = sum(len(d) for d in documents)
        print(f"batch: {args.contents} PDFs, {total / MiB:.1f} MiB in all")

        started = time.perf_counter()
        answer = client.post(
            "/demo/sign",
            data={
                "content_type": "Pdf",
                "lang": "en",
                "documents": [(io.BytesIO(d), f"act-{i}.pdf") for i, d in enumerate(documents)],
            },
            content_type="multipart/form-data",
        )
        post = time.perf_counter() - started
        assert answer.status_code == 303, answer.get_data(as_text=True)
        location = urlsplit(answer.headers["Location"])
        request_id = location.path.strip("/")
        relay_state = parse_qs(location.query)["RelayState"][0]

        started = time.perf_counter()
        service.instruments["securesign"].sign(request_id, ION, ION_PIN)
        signing = time.perf_counter() - started

        started = time.perf_counter()
        client.post("/demo/return", data={"RequestID": request_id, "RelayState": relay_state})
        demo.jobs.wait()
        fetch = time.perf_counter() - started
        record = demo.store.get(request_id)
        assert record["status"] == "Success" and len(record["results"]) == args.contents, record["status"]

        timings = {}
        for copy in ("original", "altered"):
            started = time.perf_counter()
            client.post(f"/demo/requests/{request_id}/verify", data={"copy": copy})
            demo.jobs.wait()
            timings[copy] = time.perf_counter() - started
            verdicts = [v["valid"] for v in demo.store.get(request_id)["verifications"][copy]["results"]]
            assert verdicts == [copy == "original"] * args.contents, verdicts
        service.close()

    print(f"post (form -> PostSignRequest -> 303):  {post * 1000:8.0f} ms")
    print(f"signing by the service (not the demo):  {signing * 1000:8.0f} ms")
    print(f"fetch job (callback -> results stored): {fetch * 1000:8.0f} ms")
    print(f"verify job ({args.contents} VerifySignatures):      {timings['original'] * 1000:8.0f} ms")
    print(f"verify altered copies job:              {timings['altered'] * 1000:8.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
