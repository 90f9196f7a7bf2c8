"""HTTPS listeners that hand the caller's TLS client certificate to the WSGI
app, and a middleware that does the same for a certificate forwarded by a
trusted reverse proxy.

Implements, on Werkzeug's server: TLS 1.2 and 1.3 (RFC 5246, RFC 8446) with the
server's certificate; optional client authentication (the CertificateRequest
of RFC 8446 §4.3.2 / RFC 5246 §7.4.4), the presented chain validated by OpenSSL
against the configured CAs (RFC 5280 §6 as OpenSSL does it: signatures,
validity, basic constraints, key usage, and the ``clientAuth`` extended key
usage when the certificate has one). The verified leaf reaches the app as DER
in ``environ[CLIENT_CERTIFICATE_KEY]``. Behind a proxy, :class:`TrustedProxies`
reads ``X-Forwarded-For`` and a forwarded certificate (nginx
``$ssl_client_escaped_cert``, Apache ``%{SSL_CLIENT_CERT}s``, HAProxy
``%[ssl_c_der,base64]``) from configured proxy addresses only.

Left out: revocation checks of client certificates (the consumer registry
enables and disables consumers); the list of acceptable CA names in the
CertificateRequest (Python's :mod:`ssl` cannot set it; clients pick their
certificate without it); TLS post-handshake authentication; the RFC 7239
``Forwarded`` header; Unix-socket peers (never trusted as proxies).

Unlike Werkzeug's own HTTPS server, the TLS handshake runs in the connection's
worker thread with a time limit (:data:`HANDSHAKE_TIMEOUT`): Werkzeug
handshakes inside ``accept()``, so one client that connects and sends nothing
stalls the whole listener.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import ssl
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler

# Re-exported: the environ keys this module fills in (the caller's verified
# certificate as DER; its address, IPv4-mapped IPv6 addresses unwrapped).
from .constants import CLIENT_ADDRESS_KEY, CLIENT_CERTIFICATE_KEY
from .errors import ConfigurationError

__all__ = [
    "CLIENT_ADDRESS_KEY",
    "CLIENT_CERTIFICATE_KEY",
    "HANDSHAKE_TIMEOUT",
    "MAX_CERTIFICATE_HEADER",
    "ClientCertificateRequestHandler",
    "HTTPSServer",
    "ThreadedHTTPSServer",
    "TrustedProxies",
    "with_peer_certificate",
    "make_https_server",
    "make_server_context",
]

log = logging.getLogger(__name__)

#: Seconds a client has to complete the TLS handshake.
HANDSHAKE_TIMEOUT = 10.0
#: The largest forwarded certificate header read, in characters: a URL-encoded
#: PEM of a 4096-bit RSA certificate with the usual extensions is about 3 KiB.
MAX_CERTIFICATE_HEADER = 16 * 1024

WsgiApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"
_PEM_END = "-----END CERTIFICATE-----"
#: What Apache's ``%{SSL_CLIENT_CERT}s`` gives when there is no certificate.
_NO_CERTIFICATE = frozenset({"", "(null)"})


def make_server_context(certificate: Path, key: Path, client_ca: Path | None = None) -> ssl.SSLContext:
    """A TLS server context (TLS 1.2 or later) with the server's certificate.

    :param certificate: PEM file with the server's certificate, followed by
        any intermediate certificates to send.
    :param key: PEM file with its private key, unencrypted.
    :param client_ca: PEM file with one or more CA certificates: when given,
        clients are asked for a certificate and one they present must chain
        to these CAs, or the handshake fails; a client presenting none still
        connects (so that the application can answer it with a fault).
    :raises ConfigurationError: a file is missing or unreadable, the key does
        not match the certificate or is encrypted, or ``client_ca`` holds no
        CA certificate.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_RENEGOTIATION

    def encrypted_key() -> str:
        # Without a callback OpenSSL would prompt on the terminal: a service hangs.
        raise ConfigurationError(f"The TLS key {key} is encrypted; give it unencrypted")

    try:
        context.load_cert_chain(certificate, key, password=encrypted_key)
    except OSError as e:  # ssl.SSLError included
        raise ConfigurationError(f"Cannot load the TLS certificate {certificate} with key {key}: {e}") from e
    if client_ca is not None:
        try:
            context.load_verify_locations(cafile=client_ca)
        except OSError as e:
            raise ConfigurationError(f"Cannot load the client CA certificates {client_ca}: {e}") from e
        if not context.cert_store_stats()["x509_ca"]:
            raise ConfigurationError(f"{client_ca} holds no CA certificate")
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


class ClientCertificateRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler, completing the TLS handshake itself and
    adding :data:`CLIENT_CERTIFICATE_KEY` and :data:`CLIENT_ADDRESS_KEY` to
    the environ."""

    #: Seconds a client has to complete the handshake.
    handshake_timeout: float | None = HANDSHAKE_TIMEOUT

    def handle(self) -> None:
        """Complete the TLS handshake, then serve the connection as Werkzeug does."""
        connection = self.connection
        if isinstance(connection, ssl.SSLSocket):
            try:
                connection.settimeout(self.handshake_timeout)
                connection.do_handshake()
                connection.settimeout(self.timeout)
            except ssl.SSLCertVerificationError as e:
                self.log("warning", "Refused a client certificate: %s", e.verify_message)
                return
            except (ConnectionError, ssl.SSLEOFError, ssl.SSLZeroReturnError) as e:
                # Health checks and port scans: not worth a line.
                self.log("debug", "TLS handshake abandoned: %s", e)
                return
            except OSError as e:  # other ssl.SSLError, TimeoutError
                self.log("info", "TLS handshake failed: %s", str(e) or type(e).__name__)
                return
        super().handle()

    def make_environ(self) -> dict[str, Any]:
        """Werkzeug's environ, plus the verified peer certificate (when one
        was presented) and the client address."""
        environ = super().make_environ()
        environ[CLIENT_ADDRESS_KEY] = _canonical(environ["REMOTE_ADDR"])
        if isinstance(self.connection, ssl.SSLSocket):
            der = self.connection.getpeercert(binary_form=True)
            if der:
                environ[CLIENT_CERTIFICATE_KEY] = der
        return environ


class HTTPSServer(BaseWSGIServer):
    """Werkzeug's single-threaded server over TLS, handshaking in the handler
    rather than in ``accept()``."""

    def __init__(
        self,
        host: str,
        port: int,
        app: WsgiApp,
        ssl_context: ssl.SSLContext,
        handler: type[WSGIRequestHandler] = ClientCertificateRequestHandler,
    ) -> None:
        # Werkzeug would wrap the listening socket, whose accept() then
        # handshakes in the serving loop; wrap each accepted socket instead.
        super().__init__(host, port, app, handler)
        self.ssl_context = ssl_context  # Werkzeug reads it: "https" URL scheme, TLS errors logged
        self._tls = ssl_context

    def get_request(self) -> tuple[Any, Any]:
        """Accept a connection, wrapped for TLS with the handshake left to the handler."""
        connection, address = self.socket.accept()
        try:
            wrapped = self._tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        except BaseException:
            connection.close()
            raise
        return wrapped, address


class ThreadedHTTPSServer(HTTPSServer, ThreadedWSGIServer):
    """:class:`HTTPSServer` with a thread per connection, as Werkzeug's
    :class:`~werkzeug.serving.ThreadedWSGIServer`."""


def make_https_server(
    host: str,
    port: int,
    app: WsgiApp,
    *,
    certificate: Path,
    key: Path,
    client_ca: Path | None = None,
    threaded: bool = True,
) -> HTTPSServer:
    """An HTTPS server on ``host:port`` (``0``: a free port, see
    ``server_port``); run it with ``serve_forever()``, stop it with
    ``shutdown()`` and ``server_close()``.

    Without ``client_ca`` no client is ever asked for a certificate (the sign
    page: browsers show no certificate picker). With it, the server asks for
    one, refuses the handshake of a client whose certificate does not chain to
    ``client_ca``, and puts a verified one in ``environ[CLIENT_CERTIFICATE_KEY]``.

    :param certificate: PEM file of the server's certificate (and intermediates).
    :param key: PEM file of its unencrypted private key.
    :param client_ca: PEM file of the CA certificates client certificates must chain to.
    :param threaded: a thread per connection (:class:`ThreadedHTTPSServer`).
    :raises ConfigurationError: see :func:`make_server_context`.
    """
    context = make_server_context(certificate, key, client_ca)
    server_class = ThreadedHTTPSServer if threaded else HTTPSServer
    return server_class(host, port, app, context)


class TrustedProxies:
    """WSGI middleware taking the client certificate and address that a
    reverse proxy forwards, from the proxy's addresses only.

    From an address in ``proxies``: the certificate in ``header`` becomes
    ``environ[CLIENT_CERTIFICATE_KEY]``, replacing one the server set (that is
    the proxy's own certificate); without a readable certificate there is
    none. The client address is the right-most address of ``X-Forwarded-For``
    that is not a trusted proxy, or the left-most if all are; ``REMOTE_ADDR``
    without the header or if an address in it is unreadable. From any other
    address both headers are removed, and the certificate and address are the
    connection's own.

    The proxy must replace, never append to, a ``header`` or
    ``X-Forwarded-For`` sent by its client (nginx ``proxy_set_header``,
    Apache ``RequestHeader set``).

    :param app: the application to call.
    :param proxies: proxy addresses or networks (``"10.0.0.5"``, ``"10.1.0.0/16"``).
    :param header: the header carrying the certificate: URL-encoded PEM
        (nginx), PEM with its line breaks replaced by spaces (Apache), or
        base64 DER (HAProxy); ``(null)`` or empty means none.
    :raises ConfigurationError: a proxy is not an address or network (host
        bits set in a network included), or the header name is unusable.
    """

    def __init__(self, app: WsgiApp, proxies: Sequence[str | _Network], header: str = "X-SSL-Client-Cert") -> None:
        self.app = app
        self.networks = tuple(_network(proxy) for proxy in proxies)
        if not header or "_" in header or not header.isascii() or not header.replace("-", "").isalnum():
            # Werkzeug and gunicorn drop headers whose names hold "_".
            raise ConfigurationError(f"{header!r} is not a usable header name: use letters, digits and '-'")
        self.header = header
        self.environ_key = "HTTP_" + header.upper().replace("-", "_")

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        remote = environ.get("REMOTE_ADDR", "")
        address = _address(remote)
        if address is not None and self.trusts(address):
            environ.pop(CLIENT_CERTIFICATE_KEY, None)
            der = self._forwarded_certificate(environ.get(self.environ_key), remote)
            if der is not None:
                environ[CLIENT_CERTIFICATE_KEY] = der
            environ[CLIENT_ADDRESS_KEY] = self._forwarded_client(environ.get("HTTP_X_FORWARDED_FOR")) or str(address)
        else:
            environ.pop(self.environ_key, None)
            environ.pop("HTTP_X_FORWARDED_FOR", None)
            environ[CLIENT_ADDRESS_KEY] = _canonical(remote)
        return self.app(environ, start_response)

    def trusts(self, address: _Address) -> bool:
        """Whether ``address`` is one of the configured proxies."""
        return any(address in network for network in self.networks)

    def _forwarded_certificate(self, value: str | None, proxy: str) -> bytes | None:
        if value is None or value.strip() in _NO_CERTIFICATE:
            return None
        try:
            return _decode_certificate(value)
        except ValueError as e:
            log.warning("Ignored the %s header from proxy %s: %s", self.header, proxy, e)
            return None

    def _forwarded_client(self, value: str | None) -> str | None:
        if not value:
            return None
        farthest = None
        for hop in reversed(value.split(",")):
            address = _address(hop.strip(), with_port=True)
            if address is None:
                log.info("Unreadable address in X-Forwarded-For; using the proxy's address")
                return None
            if not self.trusts(address):
                return str(address)
            farthest = address
        return str(farthest) if farthest else None


def with_peer_certificate(app: WsgiApp) -> WsgiApp:
    """``app`` given the verified client certificate of a WSGI server that does
    TLS itself and exposes the connection (gunicorn: ``environ["gunicorn.socket"]``),
    and the client address; what :class:`ClientCertificateRequestHandler`
    does for Werkzeug's server. Put it outside :class:`TrustedProxies`."""

    def wrapped(environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        connection = environ.get("gunicorn.socket")
        if isinstance(connection, ssl.SSLSocket):
            der = connection.getpeercert(binary_form=True)
            if der:
                environ[CLIENT_CERTIFICATE_KEY] = der
        environ.setdefault(CLIENT_ADDRESS_KEY, _canonical(environ.get("REMOTE_ADDR", "")))
        return app(environ, start_response)

    return wrapped


def _decode_certificate(value: str) -> bytes:
    """The DER of the one certificate in a forwarded header value.

    :raises ValueError: with a message that quotes nothing of ``value``.
    """
    if len(value) > MAX_CERTIFICATE_HEADER:
        raise ValueError(f"longer than {MAX_CERTIFICATE_HEADER} characters")
    text = value.strip()
    if "%" in text:
        text = unquote(text, errors="strict").strip()  # UnicodeDecodeError is a ValueError
    if "-----" in text:
        if not (text.startswith(_PEM_BEGIN) and text.endswith(_PEM_END)) or text.count("-----BEGIN") != 1:
            raise ValueError("not one PEM certificate")
        text = text[len(_PEM_BEGIN) : -len(_PEM_END)]
    try:
        der = base64.b64decode("".join(text.split()), validate=True)
        x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError) as e:
        raise ValueError("not an X.509 certificate") from e
    return der


def _network(proxy: str | _Network) -> _Network:
    if isinstance(proxy, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return proxy
    try:
        return ipaddress.ip_network(proxy.strip())
    except ValueError as e:
        raise ConfigurationError(f"Trusted proxy {proxy!r} is not an IP address or network: {e}") from e


def _address(text: str, *, with_port: bool = False) -> _Address | None:
    """The IP address in ``text`` (IPv4-mapped IPv6 unwrapped), or None.

    :param with_port: also read ``1.2.3.4:80`` and ``[2001:db8::1]:80``, as
        some proxies write X-Forwarded-For.
    """
    if with_port:
        if text.startswith("["):
            text = text[1:].partition("]")[0]
        elif text.count(":") == 1:
            text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _canonical(remote: str) -> str:
    """``REMOTE_ADDR`` in canonical form (a dual-stack listener's
    ``::ffff:10.0.0.1`` is ``10.0.0.1``); as is when it is not an address."""
    address = _address(remote)
    return remote if address is None else str(address)
