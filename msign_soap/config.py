"""Service configuration: one frozen dataclass, built once, passed explicitly.

Values come, lowest precedence first, from the defaults below, an optional
TOML file, ``MSIGN_*`` environment variables and command-line options. Nothing
reads the environment at import time.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError

__all__ = ["CLOUD_KEY_PROVIDERS", "LOG_FORMATS", "PADES_LEVELS", "REVOCATION_MODES", "Config", "load_config"]

MiB = 1024 * 1024
#: Values of :attr:`Config.revocation`.
REVOCATION_MODES = ("hard", "soft", "off")
#: Values of :attr:`Config.pades_level` (the levels of :mod:`msign_soap.signing.pades`).
PADES_LEVELS = ("B-T", "B-LT")
#: The cloud-key instruments (the values :attr:`Config.pkcs11_providers` may hold).
CLOUD_KEY_PROVIDERS = ("securesign", "tax")
#: Values of :attr:`Config.log_format`.
LOG_FORMATS = ("text", "json")


@dataclass(frozen=True)
class Config:
    """Everything the service needs to know at start-up.

    Durations are in seconds, sizes in bytes.
    """

    #: Where the embedded default keeps its database and generated files.
    data_dir: Path = Path("msign-data")
    #: Peewee database URL; default: SQLite (WAL) in ``data_dir``.
    database_url: str | None = None
    #: Address and port to listen on (port 0: any free port).
    host: str = "127.0.0.1"
    port: int = 8080
    #: Absolute http(s) URL at which clients reach this service (behind a
    #: reverse proxy, say); certificates of the demo PKI point under it.
    #: Default: ``http://{host}:{port}``.
    public_url: str | None = None
    #: Generate (once, in ``data_dir/pki``) and serve the demo PKI: CAs, demo
    #: people, TSA at ``/tsa``, OCSP and CRLs under ``/pki/``.
    demo_pki: bool = True
    #: An HTTP caller without a client certificate is the demo consumer.
    demo_mode: bool = True
    #: A Pending request becomes Expired after this long.
    request_lifetime: int = 3600
    #: The posted document bytes are deleted this long after a request ends.
    document_retention: int = 3600
    #: A finished request (results included) is purged this long after it ends.
    result_retention: int = 7 * 24 * 3600
    #: How often the maintenance pass (expire, delete, purge) runs.
    maintenance_interval: int = 60
    #: How often (at most) the maintenance pass has the TSA time-stamp the
    #: audit trail's head, so that rows cut off the end are detected.
    audit_anchor_interval: int = 3600
    #: Largest HTTP request body accepted on the SOAP endpoint.
    max_body_bytes: int = 96 * MiB
    #: Most contents in one request.
    max_contents: int = 100
    #: Largest single Content (a decoded PDF).
    max_content_bytes: int = 64 * MiB
    #: Largest sum of all decoded Contents of one request.
    max_total_content_bytes: int = 64 * MiB
    #: Absolute http(s) URL of an RFC 3161 time-stamping authority; when set,
    #: signature time-stamps come from it instead of the demo PKI's embedded
    #: TSA (which ``demo_pki`` still serves at ``/tsa``).
    tsa_url: str | None = None
    #: Seconds to wait for the TSA (connecting, each read), and for each
    #: OCSP/CRL fetch of the production certificate checker.
    tsa_timeout: float = 10.0
    #: A directory of CA certificates (PEM or DER, ``*.pem``, ``*.crt``,
    #: ``*.cer``, ``*.der``), or one PEM file holding several: when set, a
    #: signer's certificate must chain to one of them instead of the demo
    #: PKI's root. Self-signed ones are the trust anchors, the others
    #: intermediates to build paths with (all are anchors if none is self-signed).
    trust_anchors: Path | None = None
    #: How the ``trust_anchors`` checker treats revocation: ``hard`` (an OCSP
    #: response or CRL, fetched from the certificate's own URLs, must say
    #: "good"), ``soft`` (refuse a revoked certificate, accept one whose status
    #: cannot be had) or ``off`` (no check). Fetches are bounded by
    #: ``tsa_timeout`` each; URLs on loopback, private or link-local addresses
    #: are refused (only the embedded default's own PKI may use them, and its
    #: checker knows its revocations without fetching).
    revocation: str = "hard"
    #: Let certificates send those fetches to loopback, private, link-local or
    #: reserved addresses (a PKI inside the operator's own network). Off: an
    #: attacker's certificate must not make the service call into its network.
    revocation_private_addresses: bool = False
    #: PAdES level of signed PDFs: ``B-T`` (signature time-stamp) or ``B-LT``
    #: (plus a Document Security Store with the certificates, CRLs and OCSP
    #: responses a verifier needs later).
    pades_level: str = "B-T"
    #: Draw a visible signature box (signer, date) on a signed PDF's last page.
    signature_appearance: bool = False
    #: Cloud keys (``securesign``, ``tax``): consecutive wrong PINs after
    #: which a key is locked, and for how many seconds.
    pin_attempts: int = 5
    pin_lockout: int = 900
    #: Path of a PKCS #11 module (``/usr/lib/softhsm/libsofthsm2.so``): when
    #: set, the cloud keys of ``pkcs11_providers`` live in its tokens, one per
    #: user, labelled ``<provider>-<IDNP>``, the user's PIN being the token's
    #: user PIN (:mod:`msign_soap.instruments.pkcs11`; needs the ``pkcs11`` extra).
    pkcs11_module: Path | None = None
    #: The cloud-key providers whose keys are in ``pkcs11_module`` (a list, or
    #: a comma-separated string); the others keep the software keystore.
    pkcs11_providers: tuple[str, ...] = ("securesign",)
    #: Absolute http(s) URL of the mobile signature service provider's (MSSP)
    #: endpoint, which takes ETSI TS 102 204 messages in JSON
    #: (:mod:`msign_soap.instruments.mssp`). Unset with ``demo_pki``: the
    #: bundled simulator, mounted at ``{public_url}/mssp-sim/``; unset without
    #: ``demo_pki``: no ``mobile`` instrument.
    mssp_url: str | None = None
    #: The service's ``AP_ID`` at the MSSP.
    mssp_ap_id: str = "msign-soap"
    #: The service's ``AP_PWD`` at the MSSP. With the bundled simulator and no
    #: password, one is made once and kept in ``data_dir/mssp-sim``.
    mssp_ap_password: str | None = None
    #: Seconds the user has to confirm one content on the phone (the
    #: ``TimeOut`` of each signature request; at most 600).
    mssp_timeout: int = 180
    #: Seconds to wait for the MSSP's answer to each HTTP request.
    mssp_http_timeout: float = 10.0
    #: Origin (``scheme://host:port``) of the signer on the user's machine that
    #: the ``moldsign`` and ``nationalid`` instruments' page talks to: the
    #: MoldSign app is at ``https://localhost.cts.md:18443``; the default is
    #: ``msign-soap local-signer``'s. The page's Content-Security-Policy lets
    #: its script connect to this origin only (and to the service).
    local_signer_url: str = "http://127.0.0.1:18443"
    #: Production mode: no demo consumer (every SOAP caller needs a registered
    #: client certificate), ReturnUrls must be https and match the consumer's
    #: registered prefixes, and ``serve`` refuses to start without TLS
    #: (``tls_cert``, ``tls_key``, ``client_ca``) or ``trusted_proxies``.
    production: bool = False
    #: The sandbox for integrators' tests (:mod:`msign_soap.sandbox`): people
    #: with fixed outcomes, phones that answer by themselves, and ``POST
    #: /sandbox/{RequestID}/complete``, which finishes a demo consumer's
    #: request without a browser. Only with ``demo_pki`` and ``demo_mode``;
    #: never with ``production`` (where it is off unless set, and refused if set).
    sandbox: bool = True
    #: The HTTPS listeners' certificate and key (PEM files). With them
    #: ``serve`` serves the pages over HTTPS on ``port``, without asking
    #: browsers for a certificate, and ``/MSign.svc`` over HTTPS on
    #: ``soap_port``, asking callers for a client certificate issued by
    #: ``client_ca`` (a PEM file of CA certificates).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    client_ca: Path | None = None
    soap_port: int | None = None
    #: Addresses (CIDR) of reverse proxies that terminate mutual TLS and
    #: forward the client certificate in ``client_cert_header`` (nginx:
    #: ``$ssl_client_escaped_cert``) and the caller's address in
    #: ``X-Forwarded-For``; from anyone else both headers are ignored.
    trusted_proxies: tuple[str, ...] = ()
    client_cert_header: str = "X-SSL-Client-Cert"
    #: Rate limits, per worker process, in calls per second (bursts of twice
    #: as many after a pause; 0: none): SOAP calls of each consumer, SOAP
    #: calls from each client address, and cloud-key PIN entries from each
    #: address. Refused SOAP calls get HTTP 503 with ``Retry-After``, refused
    #: PIN entries a page saying how long to wait; wrong PINs are also counted
    #: per key in the database.
    soap_rate_limit: float = 100.0
    soap_address_rate_limit: float = 200.0
    pin_rate_limit: float = 0.2
    #: Networks (CIDR) whose clients may read ``GET /metrics`` in production
    #: mode (outside it anyone may); a trusted proxy's ``X-Forwarded-For`` is
    #: the client's address. Default: loopback only.
    metrics_allowed: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    #: Log lines: ``text`` or ``json`` (one JSON object per line with the
    #: RequestID and consumer of the call: :mod:`msign_soap.observability.logs`).
    log_format: str = "text"
    #: Extra settings for later features, kept so that a file may carry them.
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (
            "request_lifetime",
            "document_retention",
            "result_retention",
            "maintenance_interval",
            "audit_anchor_interval",
            "max_body_bytes",
            "max_contents",
            "max_content_bytes",
            "max_total_content_bytes",
            "pin_attempts",
            "pin_lockout",
            "mssp_timeout",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigurationError(f"{name} must be a positive whole number, not {value!r}")
        if not 0 <= self.port < 65536:
            raise ConfigurationError(f"port must be between 0 (any free port) and 65535, not {self.port}")
        if self.max_total_content_bytes > self.max_body_bytes:
            raise ConfigurationError("max_total_content_bytes must not exceed max_body_bytes")
        if self.public_url is not None and not _is_base_url(self.public_url):
            raise ConfigurationError(
                f"public_url must be an absolute http:// or https:// URL without query, not {self.public_url!r}"
            )
        if self.tsa_url is not None and not _is_base_url(self.tsa_url, query=True):
            raise ConfigurationError(f"tsa_url must be an absolute http:// or https:// URL, not {self.tsa_url!r}")
        timeout = self.tsa_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 300:
            raise ConfigurationError(
                f"tsa_timeout must be a number of seconds above 0 and at most 300, not {timeout!r}"
            )
        if self.trust_anchors is not None and not Path(self.trust_anchors).exists():
            raise ConfigurationError(f"trust_anchors: {self.trust_anchors} does not exist")
        if self.revocation not in REVOCATION_MODES:
            raise ConfigurationError(
                f"revocation must be one of {', '.join(REVOCATION_MODES)}, not {self.revocation!r}"
            )
        if self.pades_level not in PADES_LEVELS:
            raise ConfigurationError(f"pades_level must be one of {', '.join(PADES_LEVELS)}, not {self.pades_level!r}")
        if self.pkcs11_module is not None and not Path(self.pkcs11_module).is_file():
            raise ConfigurationError(f"pkcs11_module: {self.pkcs11_module} is not a file")
        providers = self.pkcs11_providers
        if not isinstance(providers, tuple) or not all(p in CLOUD_KEY_PROVIDERS for p in providers):
            raise ConfigurationError(
                f"pkcs11_providers must name some of {', '.join(CLOUD_KEY_PROVIDERS)}, not {providers!r}"
            )
        if self.mssp_url is not None and not _is_base_url(self.mssp_url, query=True):
            raise ConfigurationError(f"mssp_url must be an absolute http:// or https:// URL, not {self.mssp_url!r}")
        if self.mssp_url is not None and self.mssp_ap_password is None:
            raise ConfigurationError("mssp_url needs mssp_ap_password (the service's AP_PWD at that MSSP)")
        if not isinstance(self.mssp_ap_id, str) or not self.mssp_ap_id.strip():
            raise ConfigurationError("mssp_ap_id must not be empty")
        if self.mssp_ap_password is not None and (
            not isinstance(self.mssp_ap_password, str) or not self.mssp_ap_password
        ):
            raise ConfigurationError("mssp_ap_password must not be empty")
        if self.mssp_timeout > 600:
            raise ConfigurationError(f"mssp_timeout must be at most 600 seconds, not {self.mssp_timeout}")
        timeout = self.mssp_http_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 300:
            raise ConfigurationError(
                f"mssp_http_timeout must be a number of seconds above 0 and at most 300, not {timeout!r}"
            )
        if not _is_origin(self.local_signer_url):
            raise ConfigurationError(
                "local_signer_url must be an origin such as https://localhost.cts.md:18443, "
                f"not {self.local_signer_url!r}"
            )
        if not isinstance(self.revocation_private_addresses, bool):
            raise ConfigurationError(
                f"revocation_private_addresses must be true or false, not {self.revocation_private_addresses!r}"
            )
        if not isinstance(self.sandbox, bool):
            raise ConfigurationError(f"sandbox must be true or false, not {self.sandbox!r}")
        if not isinstance(self.signature_appearance, bool):
            raise ConfigurationError(f"signature_appearance must be true or false, not {self.signature_appearance!r}")
        for name in ("soap_rate_limit", "soap_address_rate_limit", "pin_rate_limit"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigurationError(f"{name} must be a number of calls per second (0: no limit), not {value!r}")
        if not isinstance(self.metrics_allowed, tuple):
            raise ConfigurationError(f"metrics_allowed must be a list of networks, not {self.metrics_allowed!r}")
        for network in self.metrics_allowed:
            try:
                ipaddress.ip_network(network)
            except (TypeError, ValueError) as e:
                raise ConfigurationError(f"metrics_allowed: {network!r} is not a network in CIDR notation") from e
        if self.log_format not in LOG_FORMATS:
            raise ConfigurationError(f"log_format must be one of {', '.join(LOG_FORMATS)}, not {self.log_format!r}")
        self._check_listeners()

    def _check_listeners(self) -> None:
        tls = (self.tls_cert, self.tls_key, self.client_ca)
        if any(tls) and not all(tls):
            raise ConfigurationError("tls_cert, tls_key and client_ca go together (the SOAP listener asks for clients)")
        for name, path in zip(("tls_cert", "tls_key", "client_ca"), tls, strict=True):
            if path is not None and not Path(path).is_file():
                raise ConfigurationError(f"{name}: {path} is not a file")
        if all(tls) and self.soap_port is None:
            raise ConfigurationError("tls_cert needs soap_port: the SOAP endpoint listens on a port of its own")
        if self.soap_port is not None and (not all(tls) or not 0 <= self.soap_port < 65536):
            raise ConfigurationError("soap_port is the HTTPS port of the SOAP endpoint: a port, with tls_cert")
        for network in self.trusted_proxies:
            try:
                ipaddress.ip_network(network)
            except ValueError as e:
                raise ConfigurationError(f"trusted_proxies: {network!r} is not a network in CIDR notation") from e
        if self.production and self.demo_mode:
            raise ConfigurationError("production mode has no demo consumer: demo_mode must be off")
        if self.production and self.sandbox:
            raise ConfigurationError("production mode has no sandbox: sandbox must be off")
        if self.production and not all(tls) and not self.trusted_proxies:
            raise ConfigurationError(
                "production mode needs TLS (tls_cert, tls_key, client_ca, soap_port) "
                "or trusted_proxies (a reverse proxy doing mutual TLS)"
            )

    @property
    def base_url(self) -> str:
        """The effective public URL, without a trailing slash."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls_cert else 'http'}://{host}:{self.port}"

    @property
    def database(self) -> str:
        """The effective database URL."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'msign.sqlite3').resolve()}"


def _is_base_url(value: object, *, query: bool = False) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https") and bool(parts.hostname) and (query or not parts.query) and not parts.fragment
    )


def _is_origin(value: object) -> bool:
    """An absolute http(s) URL with nothing after the host and port (a trailing ``/`` aside)."""
    if not _is_base_url(value) or not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.path in ("", "/") and "@" not in parts.netloc and not parts.query


_FIELDS = {f.name: f for f in dataclasses.fields(Config) if f.name != "extra"}


def _coerce(name: str, value: Any) -> Any:
    kind = _FIELDS[name].type
    try:
        if kind == "bool" and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(value)
            return lowered in ("1", "true", "yes", "on")
        if kind in ("int", "int | None") and isinstance(value, str):
            return int(value)
        if kind == "float" and isinstance(value, str):
            return float(value)
        if kind in ("Path", "Path | None") and isinstance(value, str | os.PathLike):
            return Path(value)
        if kind == "tuple[str, ...]" and isinstance(value, str):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        if kind == "tuple[str, ...]" and isinstance(value, list):
            return tuple(value)
    except ValueError as e:
        raise ConfigurationError(f"{name}: {value!r} is not a valid {kind}") from e
    return value


def load_config(
    file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Config:
    """Build the configuration from a TOML file, ``MSIGN_*`` variables and overrides.

    :param file: a TOML file whose top-level keys are :class:`Config` fields.
    :param environ: the environment to read (``os.environ`` when omitted).
    :param overrides: values that win over everything else; ``None`` is ignored.
    :raises ConfigurationError: on an unknown key or an invalid value.
    """
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    if file is not None:
        try:
            with open(file, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigurationError(f"cannot read configuration file {file}: {e}") from e
        for key, value in data.items():
            if key in _FIELDS:
                values[key] = value
            elif isinstance(value, dict):
                extra[key] = value
            else:
                raise ConfigurationError(f"unknown configuration key {key!r} in {file}")
    env = os.environ if environ is None else environ
    for key, value in env.items():
        if key.startswith("MSIGN_"):
            name = key[len("MSIGN_") :].lower()
            if name in _FIELDS:
                values[name] = value
    values.update({k: v for k, v in overrides.items() if v is not None})
    if _coerce("production", values.get("production", False)):
        values.setdefault("demo_mode", False)  # production has no demo consumer
        values.setdefault("sandbox", False)  # nor a sandbox
    unknown = set(values) - set(_FIELDS)
    if unknown:
        raise ConfigurationError(f"unknown configuration keys: {', '.join(sorted(unknown))}")
    return Config(**{k: _coerce(k, v) for k, v in values.items()}, extra=extra)
