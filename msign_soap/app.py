"""The whole service as one WSGI application: ``create_app(config)``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import spyne.const

from .config import Config
from .core import ChainChecker, RequestService, RevokedCertificate, SigningService, utcnow
from .core.requests import Clock
from .core.trust import CertificateChecker, load_trust_anchors
from .errors import ConfigurationError
from .instruments import Instrument, create_cloud_keys
from .pki import TSA_PATH, DemoPki, build_crl, create_pki_app, load_demo_pki
from .signing.timestamp import HttpTimestamper, LocalTsa, Timestamper
from .soap import create_soap_app
from .store import Store, open_store
from .web import create_web_app

__all__ = ["Service", "create_app", "demo_certificate_checker"]

log = logging.getLogger(__name__)

SOAP_PATH = "/MSign.svc"
#: Paths of the demo PKI's services (TSA, OCSP, CRLs, CA certificates).
PKI_PREFIX = "/pki/"


def _tune_spyne() -> None:
    # Spyne logs every fault, expected ones included, with a traceback; the
    # SOAP layer logs faults itself, and unexpected errors with their traceback.
    logging.getLogger("spyne").setLevel(logging.CRITICAL)
    logging.getLogger("spyne.application.server").setLevel(logging.ERROR)
    # Spyne runs gc.collect() after a request at most once a second, to close
    # uploaded files early; this service keeps no files in its contexts, and
    # the full collection costs ~7% of a busy server's time.
    spyne.const.MIN_GC_INTERVAL = float("inf")


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
    #: The signing instruments by name (the cloud keys ``securesign`` and ``tax``).
    instruments: dict[str, Instrument] = field(default_factory=dict)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        return self.wsgi(environ, start_response)

    def start_maintenance(self) -> threading.Event:
        """Run the maintenance pass every ``maintenance_interval`` seconds in a
        daemon thread; set the returned event to stop it."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(self.config.maintenance_interval):
                try:
                    self.requests.run_maintenance()
                except Exception:
                    log.exception("maintenance pass failed")

        threading.Thread(target=loop, name="msign-maintenance", daemon=True).start()
        return stop

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
    if checker is None and config.trust_anchors is not None:
        roots, intermediates = load_trust_anchors(config.trust_anchors)
        checker = ChainChecker(roots, intermediates, revocation=config.revocation, timeout=config.tsa_timeout)
    elif checker is None and pki is not None:
        checker = demo_certificate_checker(pki)
    if config.pades_level == "B-LT" and checker is not None and not isinstance(checker, ChainChecker):
        raise ConfigurationError("pades_level B-LT needs a ChainChecker (its trust anchors gather the validation data)")
    store = open_store(config.database)
    requests = RequestService(store, config, clock)
    signing = SigningService(
        requests,
        timestamper,
        checker,
        pades_level=config.pades_level,
        appearance=config.signature_appearance,
        validation_context=checker.validation_context if isinstance(checker, ChainChecker) else None,
    )
    soap = create_soap_app(requests)
    instruments = create_cloud_keys(store, signing, config, pki)
    pages = create_web_app(requests, signing, instruments)

    def wsgi(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.rstrip("/").lower() == SOAP_PATH.lower():
            return soap(environ, start_response)
        if pki_app is not None and (path == TSA_PATH or path.startswith(PKI_PREFIX)):
            return pki_app(environ, start_response)
        return pages(environ, start_response)

    return Service(config, store, requests, wsgi, pki, timestamper, signing, instruments)


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
