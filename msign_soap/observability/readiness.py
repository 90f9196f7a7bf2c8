"""Is the service ready to take traffic? The checks behind ``GET /readyz``.

Each dependency has one check, run concurrently with the others and bounded
by a short timeout (at most :data:`MAX_TIMEOUT` seconds):

- ``database``: a ``SELECT 1``;
- ``tsa``: an RFC 3161 request of a fixed imprint to ``tsa_url`` (an HTTP
  round trip, the token checked); the embedded TSA is in process and ready;
- ``ocsp``: with ``trust_anchors`` and revocation checks on, the OCSP and CRL
  URLs named in the trust anchors' and intermediates' certificates answer
  HTTP (any status: the server is reachable); the demo PKI's checker knows
  its revocations in process;
- ``mssp``: ``mssp_url`` answers HTTP (any status); the bundled simulator is
  in process.

A failing check gives a short, fixed reason (``timed out``, ``connection
refused``, …): the details go to the log, never to the caller. Results are
kept for :attr:`Readiness.cache_seconds`, one run happens at a time, and a
check still hanging from an earlier run is reported ``timed out`` without
being started again, so that polling ``/readyz`` multiplies neither the
service's outbound requests nor its threads.

Left out: the signers' own OCSP responders (only those named in the anchors'
certificates are known in advance), whether the MSSP accepts the service's
credentials, free disk space.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID

from ..errors import MSignError
from ..signing.timestamp import HttpTimestamper

__all__ = [
    "MAX_TIMEOUT",
    "CheckResult",
    "NotReady",
    "Readiness",
    "ReadinessReport",
    "database_check",
    "fixed_check",
    "reachable_check",
    "revocation_urls",
    "tsa_check",
]

log = logging.getLogger(__name__)

#: The longest any check may take, in seconds.
MAX_TIMEOUT = 2.0
#: The imprint the ``tsa`` check has stamped: SHA-256 of a fixed text.
READINESS_IMPRINT = hashlib.sha256(b"msign-soap readiness check").digest()
#: At most this many OCSP/CRL URLs are tried by the ``ocsp`` check.
MAX_URLS = 4

#: A check: given its timeout, returns a short note (``embedded`` …) or
#: ``None``, or raises :class:`NotReady`.
Check = Callable[[float], str | None]


class NotReady(Exception):
    """A dependency is not ready; ``reason`` is short and safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: ``error`` is set when it failed, ``detail`` may say how it passed."""

    ok: bool
    seconds: float
    error: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"ok": self.ok, "seconds": round(self.seconds, 4)}
        if self.error is not None:
            result["error"] = self.error
        if self.detail is not None:
            result["detail"] = self.detail
        return result


@dataclass(frozen=True)
class ReadinessReport:
    """Every check's result, by name."""

    checks: Mapping[str, CheckResult] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return all(result.ok for result in self.checks.values())

    def as_dict(self) -> dict[str, Any]:
        """``{"status": "ready" | "not ready", "checks": {name: {"ok", "seconds", …}}}``."""
        return {
            "status": "ready" if self.ready else "not ready",
            "checks": {name: result.as_dict() for name, result in self.checks.items()},
        }


class Readiness:
    """Runs ``checks`` concurrently, each with ``timeout`` (at most :data:`MAX_TIMEOUT`).

    :param cache_seconds: how long a report is given again instead of checking anew.
    """

    def __init__(self, checks: Mapping[str, Check], *, timeout: float = MAX_TIMEOUT, cache_seconds: float = 1.0):
        self.checks = dict(checks)
        self.timeout = min(timeout, MAX_TIMEOUT)
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._last: tuple[float, ReadinessReport] | None = None
        self._running: dict[str, threading.Thread] = {}

    def report(self) -> ReadinessReport:
        """The checks' results (those of a run less than ``cache_seconds`` ago, if any)."""
        with self._lock:
            if self._last is not None and time.monotonic() - self._last[0] < self.cache_seconds:
                return self._last[1]
            report = self._run()
            self._last = (time.monotonic(), report)
            return report

    def _run(self) -> ReadinessReport:
        started = time.perf_counter()
        results: dict[str, CheckResult] = {}
        threads: list[threading.Thread] = []
        for name, check in self.checks.items():
            previous = self._running.get(name)
            if previous is not None and previous.is_alive():
                continue  # still hanging since an earlier run: not one more thread
            # daemon threads: a check that hangs past its timeout never holds up the process's exit
            thread = threading.Thread(
                target=self._into, args=(results, name, check), name=f"msign-readiness-{name}", daemon=True
            )
            thread.start()
            threads.append(thread)
            self._running[name] = thread
        # a little over the checks' own timeout: theirs is per connect and read
        deadline = time.monotonic() + self.timeout + 0.5
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        report = {
            name: results.get(name) or CheckResult(False, time.perf_counter() - started, "timed out")
            for name in self.checks
        }
        for name, result in report.items():
            if not result.ok:
                log.warning("readiness: %s is not ready: %s", name, result.error)
        return ReadinessReport(report)

    def _into(self, results: dict[str, CheckResult], name: str, check: Check) -> None:
        results[name] = self._one(name, check)

    def _one(self, name: str, check: Check) -> CheckResult:
        started = time.perf_counter()
        try:
            detail = check(self.timeout)
        except NotReady as e:
            return CheckResult(False, time.perf_counter() - started, e.reason)
        except Exception:
            log.exception("readiness check %s failed", name)
            return CheckResult(False, time.perf_counter() - started, "check failed")
        return CheckResult(True, time.perf_counter() - started, detail=detail)


def fixed_check(detail: str) -> Check:
    """A dependency that is always ready (in process, or not configured), noted ``detail``."""

    def check(timeout: float) -> str:
        return detail

    return check


def database_check(db: Any) -> Check:
    """``SELECT 1`` on the Peewee database ``db``."""

    def check(timeout: float) -> None:
        try:
            with db.connection_context():
                db.execute_sql("SELECT 1").fetchall()
        except Exception as e:  # the driver's own errors (sqlite3, psycopg2) as well as Peewee's
            log.warning("readiness: the database check failed: %s", e)
            raise NotReady("database error") from e

    return check


def tsa_check(url: str, *, timeout: float = MAX_TIMEOUT, headers: Mapping[str, str] | None = None) -> Check:
    """An RFC 3161 time-stamp of :data:`READINESS_IMPRINT` from the TSA at ``url``.

    :param timeout: the TSA's own timeout (``tsa_timeout``), if shorter than the check's.
    """

    def check(limit: float) -> None:
        try:
            HttpTimestamper(url, timeout=min(timeout, limit), headers=headers).timestamp(READINESS_IMPRINT)
        except MSignError as e:
            log.warning("readiness: the TSA check failed: %s", e.reason)
            raise NotReady(_reason(e, "no valid time-stamp")) from e

    return check


def reachable_check(urls: Iterable[str], *, timeout: float = MAX_TIMEOUT) -> Check:
    """Each of ``urls`` (at most :data:`MAX_URLS`) answers an HTTP ``GET``
    with any status; the body is not read.

    :param timeout: the configured timeout of these servers, if shorter than the check's.
    """
    targets = list(dict.fromkeys(urls))[:MAX_URLS]

    def check(limit: float) -> str | None:
        deadline = time.monotonic() + min(timeout, limit)
        for url in targets:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NotReady("timed out")
            _reach(url, remaining)
        return None if targets else "nothing to reach"

    return check


def _reach(url: str, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "msign-soap readiness"}, method="GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return
    except urllib.error.HTTPError as e:  # it answered
        e.close()
    except (OSError, http.client.HTTPException, ValueError) as e:
        log.warning("readiness: %s cannot be reached: %s", url, e)
        raise NotReady(_reason(e, "unreachable")) from e


def _reason(error: BaseException, default: str) -> str:
    """A short reason for ``error`` (or what caused it) that names no host, path or secret."""
    seen: BaseException | None = error
    while seen is not None:
        cause = seen.reason if isinstance(seen, urllib.error.URLError) else None
        if isinstance(seen, urllib.error.HTTPError):
            return f"HTTP {seen.code}"
        if isinstance(seen, TimeoutError):
            return "timed out"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, socket.gaierror):
            return "name not resolved"
        if isinstance(seen, ssl.SSLError):
            return "TLS error"
        if isinstance(seen, ConnectionError | http.client.HTTPException):
            return "connection failed"
        seen = cause if isinstance(cause, BaseException) else seen.__cause__
    return default


def revocation_urls(certificates: Iterable[x509.Certificate]) -> list[str]:
    """The http(s) OCSP and CRL distribution point URLs the ``certificates`` name, in order, once each."""
    urls: list[str] = []
    for certificate in certificates:
        try:
            access = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
            urls += [
                d.access_location.value
                for d in access
                if d.access_method == AuthorityInformationAccessOID.OCSP
                and isinstance(d.access_location, x509.UniformResourceIdentifier)
            ]
        except (x509.ExtensionNotFound, ValueError):
            pass
        try:
            points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
            for point in points:
                urls += [n.value for n in point.full_name or () if isinstance(n, x509.UniformResourceIdentifier)]
        except (x509.ExtensionNotFound, ValueError):
            pass
    return [url for url in dict.fromkeys(urls) if url.lower().startswith(("http://", "https://"))]
