"""The WSGI entry point for gunicorn (or any WSGI server)::

    MSIGN_CONFIG=/etc/msign-soap.toml gunicorn --workers 4 --threads 8 \\
        --bind 127.0.0.1:8080 'msign_soap.wsgi:application'

The configuration is the TOML file named by ``MSIGN_CONFIG`` (optional), then
the ``MSIGN_*`` environment variables, as for ``msign-soap serve``. Each
worker process builds the service on its first request, runs its own
maintenance pass (expiry, deletion, purge, audit anchors: every step is a
conditional update, so workers and hosts may overlap) and shares nothing with
the others but the database — SQLite on one host, PostgreSQL for several.

Mutual TLS in gunicorn itself (``--certfile``, ``--keyfile``, ``--ca-certs``,
``--cert-reqs 1``: ask, verify, let a client without a certificate reach the
application's ``AuthenticationFailed``): gunicorn does not hand the verified
client certificate to the application, so :func:`~msign_soap.tls.with_peer_certificate`
takes it from the connection. One gunicorn serves one TLS configuration: run
the SOAP endpoint and the pages as two gunicorns (only the SOAP one asking
for certificates), or behind a reverse proxy with ``trusted_proxies``.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Config

__all__ = ["application", "serve_workers"]

WsgiApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]


class _Application:
    """The service of this process, built on the first request (after the fork)."""

    def __init__(self, config: Config | None = None) -> None:
        #: The configuration; ``None``: read it from the environment when building.
        self.config = config
        self._app: WsgiApp | None = None
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        app = self._app or self._build()
        return app(environ, start_response)

    def _build(self) -> WsgiApp:
        from .app import create_app
        from .config import load_config
        from .tls import TrustedProxies, with_peer_certificate

        with self._lock:
            if self._app is None:
                config = self.config or load_config(os.environ.get("MSIGN_CONFIG"))
                _log_as(config.log_format)
                service = create_app(config)
                service.start_maintenance()
                app: Any = service
                if config.trusted_proxies:
                    app = TrustedProxies(app, config.trusted_proxies, config.client_cert_header)
                self._app = with_peer_certificate(app)  # outermost: a trusted proxy's own one is replaced
            return self._app


def _log_as(log_format: str) -> None:
    """The service's log lines to standard error in ``log_format`` (``text``, ``json``),
    unless the server already set up the root logger."""
    import logging

    from .observability.logs import TEXT_FORMAT, use_log_format

    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format=TEXT_FORMAT)
    use_log_format(log_format)


#: What gunicorn serves: ``msign_soap.wsgi:application``.
application = _Application()


def serve_workers(config: Config, listener: socket.socket, workers: int, threads: int = 8) -> None:
    """``msign-soap serve --workers N``: gunicorn's arbiter on ``listener``
    (already bound; the arbiter takes it over and closes it), with ``workers`` processes of ``threads`` threads each,
    a dead worker replaced at once; returns when the arbiter stops (SIGINT, SIGTERM)."""
    from gunicorn.app.base import BaseApplication

    descriptor = listener.detach()  # gunicorn's from now on: it closes it when it stops

    class Arbiter(BaseApplication):  # type: ignore[misc]  # gunicorn has no type hints
        def load_config(self) -> None:
            settings = {
                "bind": [f"fd://{descriptor}"],
                "workers": workers,
                "worker_class": "gthread",
                "threads": threads,
                "timeout": 120,  # a large PDF's signing or verification is slow by nature
                "graceful_timeout": 30,
                "accesslog": None,
                "proc_name": "msign-soap",
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> WsgiApp:
            return _Application(config)

    Arbiter().run()
