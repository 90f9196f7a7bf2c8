"""The whole service as one WSGI application: ``create_app(config)``."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .config import Config
from .core import ChainChecker, RequestService, RevokedCertificate, SigningService, utcnow
from .core.consumers import ConsumerRegistry
from .core.requests import Clock
from .core.trust import CertificateChecker, load_trust_anchors
from .errors import ConfigurationError, MSignError
from .instruments import Instrument, create_cloud_keys
from .instruments.local_signer import create_local_signers
from .instruments.mobile import MobileSignature
from .instruments.mssp import MsspClient
from .observability.endpoints import OPS_PATHS, OpsApp
from .observability.readiness import (
    Check,
    Readiness,
    database_check,
    fixed_check,
    reachable_check,
    revocation_urls,
    tsa_check,
)
from .pki import TSA_PATH, DemoPki, build_crl, create_pki_app, load_demo_pki
from .pki.sims import register_access_point, write_demo_sims
from .sandbox import SANDBOX_PREFIX, Sandbox, SandboxApp
from .signing.timestamp import HttpTimestamper, LocalTsa, Timestamper
from .soap import create_soap_app
from .store import Store, open_store
from .web import create_web_app
from .web.security import with_hardening_headers
from .web.upload import UPLOAD_PATH, UploadPage
from .web.verify import VERIFY_PATH, VerifyPage

__all__ = ["Service", "configured_checker", "create_app", "demo_certificate_checker", "sandbox_enabled"]

log = logging.getLogger(__name__)

SOAP_PATH = "/MSign.svc"
#: Paths of the demo PKI's services (TSA, OCSP, CRLs, CA certificates).
PKI_PREFIX = "/pki/"
#: Where the embedded default mounts the bundled MSSP simulator, and its package:
#: loaded by name only, as the service shares no code with it (it stands for
#: an operator reached over HTTP).
MSSP_SIM_PREFIX = "/mssp-sim"
#: Where the demo e-service (a separate package, loaded by name) is mounted.
DEMO_PREFIX = "/demo"
DEMO_MODULE = "msign_demo_eservice"
#: How often each process looks for completion webhooks to send.
WEBHOOK_POLL_SECONDS = 1.0
MSSP_SIM_MODULE = "msign_mssp_sim"
#: The simulator's directory in ``data_dir``: SIM cards, access points, state.
MSSP_SIM_DIRECTORY = "mssp-sim"


def _tune_spyne() -> None:
    # Spyne only defines the contract here (its per-request machinery does not
    # run, see soap/protocol.py) but chatters while it builds the interface;
    # the SOAP layer logs faults itself, and unexpected errors with their traceback.
    logging.getLogger("spyne").setLevel(logging.CRITICAL)
    logging.getLogger("spyne.application.server").setLevel(logging.ERROR)


@dataclass
class Service:
    """A running service: its WSGI app, its core and its database; with
    ``demo_pki``, the demo PKI; ``timestamper`` is what stamps signatures
    (the client of ``tsa_url``, else the demo PKI's TSA).

    ``signing`` is the two-step signing flow (:class:`~msign_soap.core.SigningService`)
    the sign page and the CLI use; without the demo PKI, ``trust_anchors``
    and ``tsa_url`` it has no trust anchors or TSA and refuses to sign
    (``NotAvailable``).
    """

    config: Config
    store: Store
    requests: RequestService
    wsgi: Callable[[dict, Callable], Iterable[bytes]]
    pki: DemoPki | None = None
    timestamper: Timestamper | None = None
    signing: SigningService | None = None
    #: The signing instruments by name (the cloud keys ``securesign`` and
    #: ``tax``, the mobile signature ``mobile``, the local signers
    #: ``moldsign`` and ``nationalid``).
    instruments: dict[str, Instrument] = field(default_factory=dict)
    #: The bundled MSSP simulator mounted at ``/mssp-sim/`` (demo PKI, no ``mssp_url``).
    mssp_simulator: Any = None
    #: The registered consumers (client certificates, networks).
    consumers: ConsumerRegistry | None = None
    #: The demo e-service mounted at ``/demo/`` (demo mode).
    demo_eservice: Any = None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        return self.wsgi(environ, start_response)

    def start_maintenance(self) -> threading.Event:
        """Run the maintenance pass every ``maintenance_interval`` seconds, and
        send due completion webhooks every :data:`WEBHOOK_POLL_SECONDS`, in
        daemon threads; set the returned event to stop them."""
        stop = threading.Event()
        anchored = time.monotonic()

        def loop() -> None:
            nonlocal anchored
            while not stop.wait(self.config.maintenance_interval):
                try:
                    self.requests.run_maintenance()
                except Exception:
                    log.exception("maintenance pass failed")
                if time.monotonic() - anchored >= self.config.audit_anchor_interval:
                    anchored = time.monotonic()
                    self.anchor_audit_trail()

        def deliver() -> None:
            while not stop.wait(WEBHOOK_POLL_SECONDS):
                try:
                    self.requests.webhooks.deliver_due()
                except Exception:
                    log.exception("webhook delivery pass failed")

        threading.Thread(target=loop, name="msign-maintenance", daemon=True).start()
        threading.Thread(target=deliver, name="msign-webhooks", daemon=True).start()
        return stop

    def anchor_audit_trail(self) -> None:
        """Have the TSA time-stamp the audit trail's head (nothing new: nothing done)."""
        try:
            self.requests.audit.anchor()
        except MSignError as e:  # the TSA is down, or none is configured: next time
            log.warning("the audit trail could not be anchored: %s", e.reason)

    def close(self) -> None:
        self.store.close()


def create_app(config: Config, clock: Clock = utcnow, checker: CertificateChecker | None = None) -> Service:
    """Load (or create) the demo PKI if enabled, open the database, migrate
    it, and build the WSGI application.

    Signatures are time-stamped by ``tsa_url`` if set, else by the demo PKI's
    TSA; signer certificates must chain to ``trust_anchors`` if set, else to
    the demo PKI's root.

    :param checker: decides which signer certificates are accepted; default:
        a :class:`ChainChecker` over ``trust_anchors``, else the demo PKI's
        (:func:`demo_certificate_checker`), none without either. For
        ``pades_level`` B-LT it must be a :class:`ChainChecker`.
    :raises ConfigurationError: unreadable trust anchors or demo PKI.
    """
    _tune_spyne()
    pki = load_demo_pki(config.data_dir / "pki", config.base_url) if config.demo_pki else None
    tsa = LocalTsa(pki.tsa.certificate, pki.tsa.private_key, pki.tsa.chain) if pki else None
    pki_app = create_pki_app(pki, tsa) if pki else None
    timestamper: Timestamper | None = tsa
    if config.tsa_url is not None:
        timestamper = HttpTimestamper(config.tsa_url, timeout=config.tsa_timeout)
    if checker is None:
        checker = configured_checker(config, pki)
    if config.pades_level == "B-LT" and checker is not None and not isinstance(checker, ChainChecker):
        raise ConfigurationError("pades_level B-LT needs a ChainChecker (its trust anchors gather the validation data)")
    store = open_store(config.database)
    requests = RequestService(store, config, clock)
    requests.audit.timestamper = timestamper
    signing = SigningService(
        requests,
        timestamper,
        checker,
        pades_level=config.pades_level,
        appearance=config.signature_appearance,
        validation_context=checker.validation_context if isinstance(checker, ChainChecker) else None,
    )
    # VerifySignatures trusts what signers must chain to (trust_anchors, else the demo PKI)
    consumers = ConsumerRegistry(store, clock)
    soap = create_soap_app(requests, consumers, checker if isinstance(checker, ChainChecker) else None)
    instruments = create_cloud_keys(store, signing, config, pki)
    simulator = None
    mssp_url, mssp_password = config.mssp_url, config.mssp_ap_password
    if pki is not None and mssp_url is None:
        simulator, mssp_password = _bundled_simulator(config, pki, clock, sandbox=sandbox_enabled(config))
        mssp_url = config.base_url + MSSP_SIM_PREFIX + "/rest/service" if simulator is not None else None
    if mssp_url is not None and mssp_password is not None:
        client = MsspClient(mssp_url, config.mssp_ap_id, mssp_password, timeout=config.mssp_http_timeout, clock=clock)
        instruments["mobile"] = MobileSignature("mobile", client, signing, timeout=config.mssp_timeout)
    if isinstance(checker, ChainChecker):  # results from the user's machine are verified against it
        instruments.update(create_local_signers(signing, checker))
    pages = create_web_app(requests, signing, instruments, config.local_signer_url)
    # a signed document and its original, as large as contents may be, and the form
    upload_limit = 2 * config.max_content_bytes + 64 * 1024
    verify_page = VerifyPage(pages, checker if isinstance(checker, ChainChecker) else None, upload_limit)
    upload_page = UploadPage(pages, config.max_content_bytes)
    demo = _demo_eservice(config)
    # the integrators' sandbox: demo consumer and demo PKI only, never in production
    sandbox = None
    if pki is not None and sandbox_enabled(config):
        sandbox = SandboxApp(Sandbox(requests, signing, instruments, pki))
    readiness = Readiness(_readiness_checks(config, store, pki, simulator is not None))
    # /metrics only for metrics_allowed in production; /healthz and /readyz for load balancers anywhere
    ops = OpsApp(requests.metrics.registry, readiness, config.metrics_allowed if config.production else None)

    def wsgi(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.rstrip("/").lower() == SOAP_PATH.lower():
            return soap(environ, start_response)
        if pki_app is not None and (path == TSA_PATH or path.startswith(PKI_PREFIX)):
            return pki_app(environ, start_response)
        if simulator is not None and (path == MSSP_SIM_PREFIX or path.startswith(MSSP_SIM_PREFIX + "/")):
            return _mounted(simulator, MSSP_SIM_PREFIX, environ, start_response)
        if demo is not None and (path == DEMO_PREFIX or path.startswith(DEMO_PREFIX + "/")):
            return _mounted(demo, DEMO_PREFIX, environ, start_response)
        if path.rstrip("/") == VERIFY_PATH:
            return verify_page(environ, start_response)
        if path.rstrip("/") == UPLOAD_PATH or path.startswith(UPLOAD_PATH + "/"):
            return upload_page(environ, start_response)
        if path in OPS_PATHS:
            return ops(environ, start_response)
        if sandbox is not None and path.startswith(SANDBOX_PREFIX + "/"):
            return sandbox(environ, start_response)
        return pages(environ, start_response)

    hardened = with_hardening_headers(wsgi, hsts=config.production)
    return Service(
        config, store, requests, hardened, pki, timestamper, signing, instruments, simulator, consumers, demo
    )


def sandbox_enabled(config: Config) -> bool:
    """Whether the sandbox (:mod:`msign_soap.sandbox`) exists: ``sandbox`` on,
    with the demo PKI and the demo consumer, and never in production."""
    return config.sandbox and config.demo_pki and config.demo_mode and not config.production


def _mounted(app: Any, prefix: str, environ: dict, start_response: Callable) -> Iterable[bytes]:
    """Call ``app`` mounted at ``prefix`` (its ``SCRIPT_NAME`` extended, ``PATH_INFO`` cut)."""
    path = environ.get("PATH_INFO", "")
    mounted = dict(environ, SCRIPT_NAME=environ.get("SCRIPT_NAME", "") + prefix, PATH_INFO=path[len(prefix) :] or "/")
    return app(mounted, start_response)  # type: ignore[no-any-return]


def demo_eservice_mounted(config: Config) -> bool:
    """Whether ``/demo/`` serves the demo e-service: in demo mode (it calls as
    the demo consumer), never in production, when its package is installed."""
    return config.demo_mode and not config.production and importlib.util.find_spec(DEMO_MODULE) is not None


def _demo_eservice(config: Config) -> Any:
    """The demo e-service, reaching the service at ``public_url``; none unless mounted."""
    if not demo_eservice_mounted(config):
        return None
    return importlib.import_module(DEMO_MODULE).mountable(config.base_url, config.data_dir)


def _bundled_simulator(config: Config, pki: DemoPki, clock: Clock, *, sandbox: bool) -> tuple[Any, str | None]:
    """The MSSP simulator over the demo people's SIM cards (written into
    ``data_dir/mssp-sim`` first; with ``sandbox``, also the sandbox people's
    phones that answer by themselves), and the service's AP password there;
    none (and no mobile signature) when its package is not installed."""
    try:
        module = importlib.import_module(MSSP_SIM_MODULE)
    except ImportError as e:
        log.warning("the bundled MSSP simulator is not installed (%s): no mobile signature", e)
        return None, None
    directory = config.data_dir / MSSP_SIM_DIRECTORY
    if not pki.sims:
        log.warning("the demo PKI in %s has no SIM cards (it predates them): delete it to have some", pki.directory)
    if write_demo_sims(pki, directory, sandbox=sandbox):
        log.info("wrote the demo SIM cards for the MSSP simulator into %s", directory)
    password = register_access_point(directory, config.mssp_ap_id, config.mssp_ap_password)
    try:
        simulator = module.create_simulator(directory, clock=clock)
    except module.SimulatorError as e:
        raise ConfigurationError(f"the MSSP simulator cannot start: {e}") from e
    return simulator, password


def _readiness_checks(config: Config, store: Store, pki: DemoPki | None, simulator: bool) -> dict[str, Check]:
    """What ``/readyz`` checks: the database, and the TSA, revocation sources and
    MSSP this configuration reaches over HTTP (those in process are ready)."""
    checks: dict[str, Check] = {"database": database_check(store.db)}
    if config.tsa_url is not None:
        checks["tsa"] = tsa_check(config.tsa_url, timeout=config.tsa_timeout)
    else:
        checks["tsa"] = fixed_check("embedded" if pki is not None else "not configured")
    if config.trust_anchors is not None and config.revocation != "off":
        roots, intermediates = load_trust_anchors(config.trust_anchors)
        checks["ocsp"] = reachable_check(revocation_urls([*roots, *intermediates]), timeout=config.tsa_timeout)
    elif config.trust_anchors is not None:
        checks["ocsp"] = fixed_check("revocation off")
    else:
        checks["ocsp"] = fixed_check("embedded" if pki is not None else "not configured")
    if simulator:
        checks["mssp"] = fixed_check("embedded")
    elif config.mssp_url is not None:
        checks["mssp"] = reachable_check([config.mssp_url], timeout=config.mssp_http_timeout)
    else:
        checks["mssp"] = fixed_check("not configured")
    return checks


def configured_checker(config: Config, pki: DemoPki | None) -> ChainChecker | None:
    """The checker of ``trust_anchors`` (with ``revocation``), else of the demo
    PKI, else none: what signers must chain to, and what VerifySignatures,
    the verification page and ``msign-soap verify`` trust.

    :raises ConfigurationError: unreadable trust anchors.
    """
    if config.trust_anchors is not None:
        roots, intermediates = load_trust_anchors(config.trust_anchors)
        return ChainChecker(
            roots,
            intermediates,
            revocation=config.revocation,
            timeout=config.tsa_timeout,
            allow_private_addresses=config.revocation_private_addresses,
        )
    if pki is not None:
        return demo_certificate_checker(pki)
    return None


def demo_certificate_checker(pki: DemoPki) -> ChainChecker:
    """Accept the demo PKI's certificates: chains to its root, minus its
    revocations (known here: nothing is fetched); B-LT embeds its current CRLs."""
    issuer = pki.issuing_ca.certificate.subject

    def crls() -> list[bytes]:
        now = datetime.now(UTC)
        return [build_crl(pki.issuing_ca, pki.revocations, now), build_crl(pki.root, (), now)]

    return ChainChecker(
        trust_roots=[pki.root.certificate],
        intermediates=[pki.issuing_ca.certificate],
        revoked=[RevokedCertificate(issuer, r.serial_number, r.date) for r in pki.revocations],
        crls=crls,
    )
