"""PostSignRequest and GetSignResponse throughput over HTTP, against a canned baseline.

Both servers are the same stack (Werkzeug's threaded server on 127.0.0.1, in a
child process): once serving the real service (Spyne, validation, SQLite), once
a WSGI app that reads the body and answers the very same response bytes
without doing anything. Clients are separate processes, each posting one
request after another for a fixed time (Werkzeug's server answers with
``Connection: close``, so every request opens a connection and a server
thread, on both sides alike). The ratio real/canned is the figure; goals are
>= 0.5x for PostSignRequest and >= 0.6x for GetSignResponse.

The service's rate limits are set far above what the clients reach: their
cost is measured, their refusals are not. The server processes' CPU time
per answered request is printed too (Linux:
from ``/proc``): on a shared machine it moves less than the rates do, and the
difference between the two servers is what the service itself costs.

    python bench/soap_throughput.py [--seconds 3] [--clients 4] [--rounds 5]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import multiprocessing as mp
import os
import statistics
import tempfile
import time
from pathlib import Path

ACTION = "https://msign.gov.md/IMSign/"
IDNP = "2004001234567"


def post_body(i: int = 0) -> bytes:
    import base64

    digest = base64.b64encode(hashlib.sha1(str(i).encode()).digest()).decode()
    return f"""<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
<PostSignRequest xmlns="https://msign.gov.md"><request xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
<ContentDescription>Benchmark request</ContentDescription><ContentType>Hash</ContentType>
<Contents><SignContent><Content>{digest}</Content><CorrelationID>3408cc344e474a529f3425176a75d08e</CorrelationID>
<Name i:nil="true"/></SignContent></Contents><ExpectedSigner><ID>{IDNP}</ID></ExpectedSigner>
<ShortContentDescription>Benchmark</ShortContentDescription></request></PostSignRequest></s:Body></s:Envelope>""".encode()


def get_body(request_id: str) -> bytes:
    return f"""<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
<GetSignResponse xmlns="https://msign.gov.md"><requestID>{request_id}</requestID><language>en</language>
</GetSignResponse></s:Body></s:Envelope>""".encode()


def _serve(mode: str, data_dir: str, canned: dict, ready: mp.Queue) -> None:
    import logging

    from werkzeug.serving import make_server

    logging.disable(logging.CRITICAL)
    if mode == "canned":

        def app(environ, start_response):
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            body = canned[environ.get("HTTP_SOAPACTION", "").strip('"')]
            start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))])
            return [body]
    else:
        from msign_soap.app import create_app
        from msign_soap.config import load_config

        # the rate limits run, but far above what the clients can reach
        unlimited = {"soap_rate_limit": 1e9, "soap_address_rate_limit": 1e9}
        app = create_app(load_config(environ={}, data_dir=Path(data_dir), **unlimited))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    ready.put(server.server_port)
    server.serve_forever()


def _client(port: int, action: str, body: bytes, seconds: float, results: mp.Queue) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'}
    done = errors = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        connection.request("POST", "/MSign.svc", body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status == 200:
            done += 1
        else:
            errors += 1
    connection.close()
    results.put((done, errors))


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` (all its threads), or ``None`` without ``/proc``."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    server: mp.Process, port: int, action: str, body: bytes, seconds: float, clients: int
) -> tuple[float, int, float | None]:
    """Requests answered per second, failed requests, and the server's CPU seconds per answered request."""
    results: mp.Queue = mp.Queue()
    workers = [mp.Process(target=_client, args=(port, action, body, seconds, results)) for _ in range(clients)]
    start = time.perf_counter()
    cpu_before = cpu_seconds(server.pid)
    for w in workers:
        w.start()
    totals = [results.get() for _ in workers]
    cpu_after = cpu_seconds(server.pid)
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    done = sum(d for d, _ in totals)
    cpu = None if cpu_before is None or cpu_after is None or not done else (cpu_after - cpu_before) / done
    return done / elapsed, sum(e for _, e in totals), cpu


def start_server(mode: str, data_dir: str, canned: dict) -> tuple[mp.Process, int]:
    ready: mp.Queue = mp.Queue()
    process = mp.Process(target=_serve, args=(mode, data_dir, canned, ready), daemon=True)
    process.start()
    return process, ready.get(timeout=60)


def one_call(port: int, action: str, body: bytes) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request(
        "POST",
        "/MSign.svc",
        body=body,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'},
    )
    response = connection.getresponse()
    data = response.read()
    connection.close()
    assert response.status == 200, data
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one measurement")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--rounds", type=int, default=5, help="alternating real/canned rounds")
    args = parser.parse_args()
    mp.set_start_method("spawn")

    with tempfile.TemporaryDirectory() as data_dir:
        # The real server first: it gives the exact bytes the canned one replays.
        real, real_port = start_server("real", data_dir, {})
        post_response = one_call(real_port, ACTION + "PostSignRequest", post_body())
        request_id = post_response.split(b"<PostSignRequestResult>")[1].split(b"<")[0].decode()
        _complete(data_dir, request_id)
        get_response = one_call(real_port, ACTION + "GetSignResponse", get_body(request_id))
        canned = {ACTION + "PostSignRequest": post_response, ACTION + "GetSignResponse": get_response}
        baseline, canned_port = start_server("canned", data_dir, canned)
        bodies = {"PostSignRequest": post_body(), "GetSignResponse": get_body(request_id)}

        # Rounds alternate which server goes first, so that drift in the
        # machine's load affects both sides alike; the median ratio is reported.
        rounds: dict[str, list[tuple[float, float]]] = {op: [] for op in bodies}
        cpu: dict[str, list[tuple[float | None, float | None]]] = {op: [] for op in bodies}
        errors = 0
        for round_number in range(args.rounds):
            for op, body in bodies.items():
                order = [("real", real, real_port), ("canned", baseline, canned_port)]
                if round_number % 2:
                    order.reverse()
                rates, costs = {}, {}
                for name, process, port in order:
                    rates[name], failed, costs[name] = measure(
                        process, port, ACTION + op, body, args.seconds, args.clients
                    )
                    errors += failed
                rounds[op].append((rates["real"], rates["canned"]))
                cpu[op].append((costs["real"], costs["canned"]))
        for process in (real, baseline):
            process.terminate()
            process.join()

    print(
        f"{args.rounds} rounds x {args.seconds:g} s per server and operation, {args.clients} client processes "
        f"posting one request after another, {mp.cpu_count()} cores; GetSignResponse reads a finished "
        f"request ({len(get_response)} bytes)"
    )
    print(f"{'operation':<18}{'real req/s':>12}{'canned req/s':>14}{'ratio':>8}{'goal':>7}   per-round ratios")
    for op, goal in (("PostSignRequest", 0.5), ("GetSignResponse", 0.6)):
        ratios = [r / c for r, c in rounds[op]]
        real_rate = statistics.median(r for r, _ in rounds[op])
        canned_rate = statistics.median(c for _, c in rounds[op])
        print(
            f"{op:<18}{real_rate:>12.0f}{canned_rate:>14.0f}{statistics.median(ratios):>7.2f}x{goal:>6.1f}x   "
            + " ".join(f"{r:.2f}" for r in ratios)
        )
    if all(None not in pair for op in bodies for pair in cpu[op]):
        print(f"{'server CPU ms/req':<18}{'real':>12}{'canned':>14}{'real-canned':>13}")
        for op in bodies:
            real_cpu = statistics.median(r for r, _ in cpu[op]) * 1000
            canned_cpu = statistics.median(c for _, c in cpu[op]) * 1000
            print(f"{op:<18}{real_cpu:>12.3f}{canned_cpu:>14.3f}{real_cpu - canned_cpu:>13.3f}")
    print(f"errors: {errors}")


def _complete(data_dir: str, request_id: str) -> None:
    """Finish the request the way the signing flow will: a certificate and a XAdES-sized signature."""
    from msign_soap.config import load_config
    from msign_soap.core import RequestService
    from msign_soap.store import open_store

    store = open_store(load_config(environ={}, data_dir=Path(data_dir)).database)
    requests = RequestService(store, load_config(environ={}, data_dir=Path(data_dir)))
    requests.complete(request_id, [(b"\x30\x82" + bytes(1500), b"<?xml version='1.0'?>" + b"x" * 8000)])
    store.close()


if __name__ == "__main__":
    main()
