"""Audit trail cost on SQLite (WAL): appends per second from one process and
from two at once, and how long ``audit verify`` takes per row and per anchor.

- **append**: :meth:`AuditTrail.record` of a typical event (consumer,
  RequestID, address, two facts), each its own write transaction, as the
  service records them;
- **append, 2 processes**: two processes appending to one database file at
  once (the write lock serializes them), total rate;
- **verify**: :meth:`AuditTrail.verify` of the trail, without anchors, then
  with one anchor per ``--anchor-every`` rows, time-stamped by the demo
  PKI's TSA and checked with the demo PKI's trust anchors.

Figures only; nothing passes or fails on time.

    python bench/audit.py [--rows N] [--anchor-every N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from msign_soap.app import demo_certificate_checker
from msign_soap.core import utcnow
from msign_soap.core.audit import AuditTrail, Event
from msign_soap.pki import generate_demo_pki, load_demo_pki
from msign_soap.signing import LocalTsa
from msign_soap.store import open_store

WRITER = """
import sys
from msign_soap.core import utcnow
from msign_soap.core.audit import AuditTrail, Event
from msign_soap.store import open_store

store = open_store(sys.argv[1])
trail = AuditTrail(store, utcnow)
print("ready", flush=True)
sys.stdin.readline()
for i in range(int(sys.argv[2])):
    trail.record(Event.RESULTS_FETCHED, consumer="bench", request_id="%032x" % i, address="10.0.0.1",
                 detail={"status": "Success", "contents": 3})
store.close()
"""


def append(trail: AuditTrail, count: int) -> float:
    start = time.perf_counter()
    for i in range(count):
        trail.record(
            Event.RESULTS_FETCHED,
            consumer="bench",
            request_id=f"{i:032x}",
            address="10.0.0.1",
            detail={"status": "Success", "contents": 3},
        )
    return time.perf_counter() - start


def append_in_two_processes(url: str, count: int) -> float:
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for writer in writers:
        assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
    start = time.perf_counter()
    for writer in writers:
        assert writer.stdin is not None
        writer.stdin.write("go\n")
        writer.stdin.close()
    for writer in writers:
        if writer.wait() != 0:
            raise SystemExit("a writer failed")
        assert writer.stdout is not None
        writer.stdout.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20000, help="rows to append (default 20000)")
    parser.add_argument("--anchor-every", type=int, default=1000, help="rows between anchors (default 1000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        generate_demo_pki(Path(directory) / "pki", "http://127.0.0.1:8080")
        pki = load_demo_pki(Path(directory) / "pki", "http://127.0.0.1:8080")
        tsa = LocalTsa(pki.tsa.certificate, pki.tsa.private_key, pki.tsa.chain)
        checker = demo_certificate_checker(pki)

        url = f"sqlite:///{directory}/one.sqlite3"
        store = open_store(url)
        trail = AuditTrail(store, utcnow, tsa)
        seconds = append(trail, args.rows)
        print(f"append, 1 process:   {args.rows / seconds:8.0f} rows/s ({seconds * 1e6 / args.rows:.0f} µs per row)")

        start = time.perf_counter()
        report = trail.verify()
        seconds = time.perf_counter() - start
        assert report.ok, report
        print(f"verify, no anchors:  {args.rows / seconds:8.0f} rows/s ({seconds:.2f} s for {args.rows} rows)")

        # the same trail again, anchored every --anchor-every rows
        store.close()
        url = f"sqlite:///{directory}/anchored.sqlite3"
        store = open_store(url)
        trail = AuditTrail(store, utcnow, tsa)
        for _ in range(args.rows // args.anchor_every):
            append(trail, args.anchor_every)
            trail.anchor()
        anchors = args.rows // args.anchor_every
        start = time.perf_counter()
        report = trail.verify(checker)
        seconds = time.perf_counter() - start
        assert report.ok and report.anchors == anchors, report
        print(f"verify, {anchors} anchors: {seconds:.2f} s for {report.rows} rows (trust checked)")
        start = time.perf_counter()
        report = trail.verify()
        seconds_unchecked = time.perf_counter() - start
        print(f"verify, {anchors} anchors: {seconds_unchecked:.2f} s without the TSA's trust check")
        store.close()

        url = f"sqlite:///{directory}/two.sqlite3"
        open_store(url).close()
        half = args.rows // 2
        seconds = append_in_two_processes(url, half)
        print(f"append, 2 processes: {2 * half / seconds:8.0f} rows/s together")
        store = open_store(url)
        report = AuditTrail(store, utcnow).verify()
        store.close()
        assert report.ok and report.rows == 2 * half, report
        print(f"  then verify: {report}")


if __name__ == "__main__":
    main()
