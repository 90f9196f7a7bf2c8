"""Load and faults: many clients run the whole flow while a worker is killed.

Loopback only, bounded in time. ``--instances`` services (``msign-soap serve
--workers N`` each, on their own ports, over one database: SQLite in a data
directory, or ``--database-url postgresql://…`` shared by two instances) are
started; ``--clients`` client processes each repeat, until ``--seconds`` have
passed:

1. PostSignRequest (two SHA-1 hashes, ExpectedSigner = a demo person) to one
   instance — an acknowledged RequestID is recorded;
2. the sign page on the *next* instance: entry with a ReturnUrl, the
   ``securesign`` form, the person's PIN (the cloud-key path);
3. GetSignResponse from either instance.

A third of the way in, one worker process of the first instance is killed
with SIGKILL (its arbiter starts another). Afterwards every acknowledged
RequestID is fetched again: each must be found (none lost), once (none
duplicated), and be either Pending, or Success with a signature for every
content, or Failure/Expired with none (none half-signed). The figures:
completed flows and SOAP calls per second, p50/p99 latency per step, and the
SOAP calls per second of a canned server (the same bytes from memory, as
``bench/soap_throughput.py``'s) driven by the same clients with PostSignRequest
and GetSignResponse only — the ratio is information, the flows do more.

Figures only; nothing passes or fails on time.

    python bench/load.py [--seconds 20] [--clients 4] [--workers 2] [--instances 1]
                         [--database-url postgresql://…]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import multiprocessing as mp
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ION, ION_PIN = "2004001234567", "4567"  # a demo person and the PIN of their securesign key
RETURN_URL = "https://eservice.example.md/back"
ACTION = "https://msign.gov.md/IMSign/"
HEADERS = {"Content-Type": "text/xml; charset=utf-8"}


def post_body(n: int) -> bytes:
    contents = "".join(
        f"<SignContent><Content>{base64.b64encode(hashlib.sha1(f'{n}-{i}'.encode()).digest()).decode()}</Content>"
        f"<CorrelationID>c{i}</CorrelationID></SignContent>"
        for i in range(2)
    )
    return (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><PostSignRequest '
        f'xmlns="https://msign.gov.md"><request><ContentType>Hash</ContentType><Contents>{contents}</Contents>'
        f"<ExpectedSigner><ID>{ION}</ID></ExpectedSigner><ShortContentDescription>Load</ShortContentDescription>"
        "</request></PostSignRequest></s:Body></s:Envelope>"
    ).encode()


def get_body(request_id: str) -> bytes:
    return (
        '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><GetSignResponse '
        f'xmlns="https://msign.gov.md"><requestID>{request_id}</requestID></GetSignResponse></s:Body></s:Envelope>'
    ).encode()


def soap(session: requests.Session, base: str, operation: str, body: bytes) -> requests.Response:
    headers = {**HEADERS, "SOAPAction": f'"{ACTION}{operation}"'}
    return session.post(base + "/MSign.svc", data=body, headers=headers, timeout=60)


def sign_on_page(session: requests.Session, base: str, request_id: str) -> bool:
    """Enter the page, open the securesign form, send the PIN: whether it ended in the redirect."""
    entry = session.get(f"{base}/{request_id}", params={"ReturnUrl": RETURN_URL, "lang": "en"}, timeout=60)
    form = session.get(f"{base}/{request_id}/sign/securesign", timeout=60)
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    if entry.status_code != 200 or token is None:
        return False
    data = {"csrf": token.group(1), "lang": "en", "idnp": ION, "pin": ION_PIN}
    sent = session.post(f"{base}/{request_id}/sign/securesign", data=data, allow_redirects=False, timeout=120)
    return sent.status_code == 303


def client(index: int, bases: list[str], seconds: float, results: mp.Queue) -> None:
    """One client's flows until the time is up: its RequestIDs and step latencies."""
    times: dict[str, list[float]] = {"post": [], "sign": [], "get": []}
    acknowledged: list[str] = []
    errors = soap_calls = flows = 0
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
        home, other = bases[n % len(bases)], bases[(n + 1) % len(bases)]
        session = requests.Session()
        session.trust_env = False
        try:
            start = time.perf_counter()
            answer = soap(session, home, "PostSignRequest", post_body(index * 1_000_000 + n))
            soap_calls += 1
            found = re.search(rb"<PostSignRequestResult>(\w+)<", answer.content)
            if answer.status_code != 200 or found is None:
                errors += 1
                continue
            request_id = found.group(1).decode()
            acknowledged.append(request_id)
            times["post"].append(time.perf_counter() - start)
            start = time.perf_counter()
            signed = sign_on_page(session, other, request_id)
            times["sign"].append(time.perf_counter() - start)
            start = time.perf_counter()
            answer = soap(session, bases[n % 2 if len(bases) > 1 else 0], "GetSignResponse", get_body(request_id))
            soap_calls += 1
            times["get"].append(time.perf_counter() - start)
            if signed and b"<Status>Success</Status>" in answer.content:
                flows += 1
            else:
                errors += 1
        except requests.RequestException:
            errors += 1  # a killed worker's connection
        finally:
            session.close()
    results.put((acknowledged, times, errors, soap_calls, flows))


def start_instances(args: argparse.Namespace, data: Path) -> list[tuple[subprocess.Popen, str]]:
    """``--instances`` services on free ports; (process, base URL) each."""
    instances = []
    environment = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "MSIGN_SOAP_RATE_LIMIT": "0",  # the clients are one address and one consumer
        "MSIGN_SOAP_ADDRESS_RATE_LIMIT": "0",
        "MSIGN_PIN_RATE_LIMIT": "0",
    }
    for _ in range(args.instances):
        command = [sys.executable, "-m", "msign_soap.cli", "serve", "--port", "0", "--data-dir", str(data)]
        command += ["--workers", str(args.workers)]
        if args.database_url:
            command += ["--database-url", args.database_url]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=environment, cwd=ROOT
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        base = re.search(r"serving on (http://\S+)", line)
        if base is None:
            raise SystemExit(f"the service did not start: {line!r}")
        for _ in range(2):
            process.stdout.readline()
        instances.append((process, base.group(1)))
    return instances


def workers_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError):
                continue
    return sorted(found)


def check(bases: list[str], acknowledged: list[str]) -> dict[str, int]:
    """Every acknowledged RequestID fetched again: lost, duplicated, half-signed, and the statuses."""
    counts = {"lost": 0, "duplicated": len(acknowledged) - len(set(acknowledged)), "half-signed": 0}
    session = requests.Session()
    session.trust_env = False
    for n, request_id in enumerate(sorted(set(acknowledged))):
        answer = soap(session, bases[n % len(bases)], "GetSignResponse", get_body(request_id))
        text = answer.text
        if answer.status_code != 200:
            counts["lost"] += 1
            continue
        status = re.search(r"<Status>(\w+)</Status>", text)
        name = status.group(1) if status else "?"
        counts[name] = counts.get(name, 0) + 1
        signatures = len(re.findall(r"<Signature>[^<]+</Signature>", text))
        if (name == "Success" and signatures != 2) or (name != "Success" and signatures):
            counts["half-signed"] += 1
    return counts


def canned_rate(clients: int, seconds: float) -> float:
    """SOAP calls per second of a server answering the same bytes from memory."""
    from werkzeug.serving import make_server

    answers = {
        f"{ACTION}PostSignRequest": b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        b'<PostSignRequestResponse xmlns="https://msign.gov.md"><PostSignRequestResult>'
        + b"0" * 32
        + b"</PostSignRequestResult></PostSignRequestResponse></s:Body></s:Envelope>",
        f"{ACTION}GetSignResponse": b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
        b'<GetSignResponseResponse xmlns="https://msign.gov.md"><GetSignResponseResult><Status>Pending</Status>'
        b"</GetSignResponseResult></GetSignResponseResponse></s:Body></s:Envelope>",
    }

    def app(environ: dict, start_response: object) -> list[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        body = answers[environ.get("HTTP_SOAPACTION", "").strip('"')]
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))])  # type: ignore[operator]
        return [body]

    ready: mp.Queue = mp.Queue()

    def serve() -> None:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        ready.put(server.server_port)
        server.serve_forever()

    process = mp.get_context("fork").Process(target=serve, daemon=True)
    process.start()
    base = f"http://127.0.0.1:{ready.get(timeout=30)}"
    results: mp.Queue = mp.Queue()
    pool = [mp.Process(target=_canned_client, args=(base, seconds, results)) for _ in range(clients)]
    for p in pool:
        p.start()
    calls = sum(results.get(timeout=seconds + 60) for _ in pool)
    for p in pool:
        p.join()
    process.kill()
    return calls / seconds


def _canned_client(base: str, seconds: float, results: mp.Queue) -> None:
    session = requests.Session()
    session.trust_env = False
    calls, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        soap(session, base, "PostSignRequest", post_body(calls))
        soap(session, base, "GetSignResponse", get_body("0" * 32))
        calls += 2
    results.put(calls)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the clients run (default 20)")
    parser.add_argument("--clients", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes per instance (default 2)")
    parser.add_argument("--instances", type=int, default=1, help="service instances on one database (default 1)")
    parser.add_argument("--database-url", help="postgresql://… shared by the instances (default SQLite)")
    args = parser.parse_args()
    if args.instances > 1 and not args.database_url:
        parser.error("several instances share a PostgreSQL database: give --database-url")

    from tests.pki_support import seed_demo_pki

    with tempfile.TemporaryDirectory(prefix="msign-load-") as tmp:
        data = Path(tmp) / "data"
        seed_demo_pki(data)
        instances = start_instances(args, data)
        bases = [base for _, base in instances]
        try:
            results: mp.Queue = mp.Queue()
            clients = [mp.Process(target=client, args=(i, bases, args.seconds, results)) for i in range(args.clients)]
            started = time.monotonic()
            for p in clients:
                p.start()
            time.sleep(args.seconds / 3)
            arbiter = instances[0][0].pid
            victims = workers_of(arbiter)
            if victims:
                os.kill(victims[0], signal.SIGKILL)
            gathered = [results.get(timeout=args.seconds + 300) for _ in clients]
            elapsed = time.monotonic() - started
            for p in clients:
                p.join()
            replaced = sorted(set(workers_of(arbiter)) - set(victims))
            acknowledged = [rid for acked, *_ in gathered for rid in acked]
            times = {k: [t for _, ts, *_ in gathered for t in ts[k]] for k in ("post", "sign", "get")}
            errors = sum(g[2] for g in gathered)
            soap_calls = sum(g[3] for g in gathered)
            flows = sum(g[4] for g in gathered)
            counts = check(bases, acknowledged)
        finally:
            for process, _ in instances:
                process.send_signal(signal.SIGTERM)
            for process, _ in instances:
                process.wait(timeout=60)
                if process.stdout is not None:
                    process.stdout.close()
    canned = canned_rate(args.clients, min(args.seconds, 10.0))
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"{args.instances} instance(s) x {args.workers} workers on {database}, {args.clients} clients, "
        f"{args.seconds:g} s, {os.cpu_count()} cores; one worker SIGKILLed at {args.seconds / 3:.0f} s "
        f"(pid {victims[0] if victims else '-'}; replaced by {replaced or 'none'})"
    )
    print(f"flows completed (post, sign on the page, get Success): {flows} = {flows / elapsed:.1f}/s; errors {errors}")
    rate = soap_calls / elapsed
    print(
        f"SOAP calls: {rate:.0f}/s; canned server, same clients, post+get only: {canned:.0f}/s ({rate / canned:.2f}x)"
    )
    for step, values in times.items():
        p50, p99 = percentile(values, 0.5) * 1000, percentile(values, 0.99) * 1000
        print(f"  {step:5s} n={len(values):5d}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms")
    statuses = {k: v for k, v in counts.items() if k not in ("lost", "duplicated", "half-signed")}
    print(
        f"acknowledged {len(acknowledged)}: lost {counts['lost']}, duplicated {counts['duplicated']}, "
        f"half-signed {counts['half-signed']}; statuses {statuses}"
    )


if __name__ == "__main__":
    if not Path("/proc").is_dir():
        raise SystemExit("finds the worker to kill in /proc (Linux)")
    main()
