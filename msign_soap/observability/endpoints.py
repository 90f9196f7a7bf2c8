"""The operations endpoints, as a WSGI application:

- ``GET /healthz`` — ``200 ok`` while the process serves (nothing else checked);
- ``GET /readyz`` — the dependencies' checks (:mod:`.readiness`): ``200`` with
  ``{"status": "ready", "checks": {…}}``, or ``503`` with ``"not ready"`` and
  each failing check's ``error``;
- ``GET /metrics`` — the Prometheus text format 0.0.4 (:mod:`.metrics`). When
  ``allowed`` networks are given (production mode: ``metrics_allowed``),
  other client addresses get ``403``.

``HEAD`` is answered like ``GET`` without a body; other methods get ``405``.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable, Sequence

from ..constants import client_address
from .metrics import CONTENT_TYPE, Registry
from .readiness import Readiness

__all__ = ["HEALTH_PATH", "METRICS_PATH", "OPS_PATHS", "READY_PATH", "OpsApp"]

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
#: The paths :class:`OpsApp` answers.
OPS_PATHS = frozenset((HEALTH_PATH, READY_PATH, METRICS_PATH))

_TEXT = "text/plain; charset=utf-8"


class OpsApp:
    """``/healthz``, ``/readyz`` and ``/metrics`` of a service.

    :param registry: the metrics to expose.
    :param readiness: the dependency checks.
    :param allowed: networks (CIDR) whose clients may read ``/metrics``;
        ``None``: everyone.
    """

    def __init__(self, registry: Registry, readiness: Readiness, allowed: Sequence[str] | None = None) -> None:
        self.registry = registry
        self.readiness = readiness
        self.allowed = None if allowed is None else [ipaddress.ip_network(n) for n in allowed]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method not in ("GET", "HEAD"):
            return _answer(
                start_response, "405 Method Not Allowed", _TEXT, b"method not allowed\n", [("Allow", "GET, HEAD")]
            )
        if path == HEALTH_PATH:
            status, content_type, body = "200 OK", _TEXT, b"ok\n"
        elif path == READY_PATH:
            report = self.readiness.report()
            status = "200 OK" if report.ready else "503 Service Unavailable"
            content_type, body = "application/json", json.dumps(report.as_dict()).encode()
        elif path == METRICS_PATH and not self.may_read_metrics(client_address(environ)):
            status, content_type, body = "403 Forbidden", _TEXT, b"forbidden\n"
        elif path == METRICS_PATH:
            status, content_type, body = "200 OK", CONTENT_TYPE, self.registry.exposition()
        else:
            status, content_type, body = "404 Not Found", _TEXT, b"not found\n"
        return _answer(start_response, status, content_type, b"" if method == "HEAD" else body, length=len(body))

    def may_read_metrics(self, address: str) -> bool:
        """Whether a client at ``address`` may read ``/metrics``."""
        if self.allowed is None:
            return True
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.allowed)


def _answer(
    start_response: Callable,
    status: str,
    content_type: str,
    body: bytes,
    headers: list[tuple[str, str]] | None = None,
    *,
    length: int | None = None,
) -> list[bytes]:
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body) if length is None else length)),
            ("Cache-Control", "no-store"),
            *(headers or []),
        ],
    )
    return [body]
