"""``msign-soap serve --workers N``: several processes on one port over one
database; a worker killed with SIGKILL is replaced and nothing acknowledged is lost."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from .pki_support import seed_demo_pki
from .test_mtls import GET, POST

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the workers in /proc")


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def replaced(before: set[int], now: set[int]) -> bool:
    """Two workers again, the killed one (the lowest pid of ``before``) not among them."""
    return len(now) == 2 and min(before) not in now


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen]]:
    data = tmp_path_factory.mktemp("workers") / "data"
    seed_demo_pki(data)
    command = [
        sys.executable,
        "-m",
        "msign_soap.cli",
        "serve",
        "--workers",
        "2",
        "--port",
        "0",
        "--data-dir",
        str(data),
    ]
    log = (data.parent / "serve.log").open("w")  # what gunicorn says, shown when a check fails
    process = subprocess.Popen(
        command,
        # no terminal: gunicorn's arbiter takes SIGTTIN/SIGTTOU (which a terminal
        # sends a background process group) as "one worker more/less"
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "MSIGN_SOAP_RATE_LIMIT": "0", "MSIGN_SOAP_ADDRESS_RATE_LIMIT": "0"},
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(3)]
        url = re.search(r"serving on (http://\S+)", lines[0])
        assert url and "2 worker processes" in lines[2], lines
        deadline = time.monotonic() + 60
        while len(children(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        yield url.group(1) + "/MSign.svc", process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        log.close()
        if process.stdout is not None:
            process.stdout.close()


def call(url: str, operation: str, body: str) -> requests.Response:
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"https://msign.gov.md/IMSign/{operation}"'}
    return requests.post(url, data=body.encode(), headers=headers, timeout=60)


def test_a_killed_worker_is_replaced_and_nothing_is_lost(workers: tuple[str, subprocess.Popen]) -> None:
    url, arbiter = workers
    posted = []
    for round_ in range(3):
        for _ in range(20):
            answer = call(url, "PostSignRequest", POST)
            assert answer.status_code == 200, answer.text[:300]
            posted.append(re.search(r"<PostSignRequestResult>(\w+)<", answer.text).group(1))
        if round_ == 0:
            before = children(arbiter.pid)
            os.kill(min(before), signal.SIGKILL)
            deadline = time.monotonic() + 60
            # one snapshot decides: a scan of /proc may miss a process forked while it runs
            while not replaced(before, after := children(arbiter.pid)) and time.monotonic() < deadline:
                time.sleep(0.1)
            if not replaced(before, after):  # what gunicorn said
                pytest.fail(f"{before} -> {after}\n{(Path(arbiter.args[-1]).parent / 'serve.log').read_text()[-3000:]}")
    assert len(set(posted)) == len(posted) == 60
    for request_id in posted:
        answer = call(url, "GetSignResponse", GET.format(request_id))
        assert answer.status_code == 200 and "<Status>Pending</Status>" in answer.text
