"""The ``msign-soap`` command: ``serve``, ``wsdl``, ``verify``, ``demo-users``, ``purge``,
``delegation``, ``keystore``, ``local-signer``, ``consumer`` (:mod:`.cli_consumers`) and
``audit`` (:mod:`.cli_audit`)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from . import __version__
from .cli_audit import add_audit_commands
from .cli_consumers import add_consumer_commands
from .cli_progress import working
from .config import LOG_FORMATS, Config, load_config
from .errors import ConfigurationError, InvalidParameter
from .observability.logs import TEXT_FORMAT, use_log_format

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    from werkzeug.serving import make_server

    from .app import SOAP_PATH, create_app

    config = _config(
        args,
        host=args.host,
        port=args.port,
        production=args.production or None,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        client_ca=args.client_ca,
        soap_port=args.soap_port,
        trusted_proxies=tuple(args.trusted_proxy) or None,
        log_format=args.log_format,
    )
    use_log_format(config.log_format)  # main() set up the text format before the configuration was read
    config.data_dir.mkdir(parents=True, exist_ok=True)
    if args.workers > 1:
        return _serve_workers(config, args.workers)
    # Bind first: with --port 0 the demo PKI's URLs must name the real port.
    if config.tls_cert is not None:
        servers = _https_servers(config)
    else:
        servers = [make_server(config.host, config.port, _not_ready, threaded=True)]
    if config.public_url is None and config.port == 0:
        config = dataclasses.replace(config, port=servers[0].server_port)
    first = config.demo_pki and not (config.data_dir / "pki").exists()
    with working("First start: generating the demo PKI" if first else "Opening the database"):
        service = create_app(config)
    _mount(servers, service, config)
    stop = service.start_maintenance()
    host = f"[{config.host}]" if ":" in config.host else config.host
    scheme = "https" if config.tls_cert else "http"
    base = f"{scheme}://{host}:{servers[0].server_port}"
    soap = f"{scheme}://{host}:{servers[-1].server_port}{SOAP_PATH}"
    _announce(config, base, soap, mutual=len(servers) > 1)
    threads = [threading.Thread(target=s.serve_forever, name=f"listener-{s.server_port}") for s in servers[1:]]
    for thread in threads:
        thread.start()
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers[1:]:
            server.shutdown()
        for server in servers:
            server.server_close()
        stop.set()
        service.close()
    return 0


def _announce(config: Config, base: str, soap: str, *, mutual: bool = False, workers: int = 1) -> None:
    from .app import DEMO_PREFIX, demo_eservice_mounted

    print(f"msign-soap {__version__} serving on {base}", flush=True)
    print(f"WSDL: {soap}?singleWsdl" + (" (client certificate required)" if mutual else ""), flush=True)
    mode = "production" if config.production else "demo mode" if config.demo_mode else "no demo consumer"
    processes = f", {workers} worker processes" if workers > 1 else ""
    print(f"Data: {config.data_dir.resolve()} ({mode}{processes})", flush=True)
    if demo_eservice_mounted(config):
        print(f"Demo e-service: {base}{DEMO_PREFIX}/ (sign, come back, verify)", flush=True)


def _serve_workers(config: Config, workers: int) -> int:
    """Several processes on one port (gunicorn's arbiter, :func:`.wsgi.serve_workers`)."""
    import socket

    from .app import SOAP_PATH, create_app
    from .wsgi import serve_workers

    if config.tls_cert is not None:
        raise ConfigurationError(
            "--workers serves plain HTTP (behind a reverse proxy doing TLS, --trusted-proxy); "
            "for TLS with several workers run gunicorn on msign_soap.wsgi:application, one per listener"
        )
    listener = socket.create_server((config.host, config.port), family=_family(config.host), backlog=512)
    if config.public_url is None and config.port == 0:
        config = dataclasses.replace(config, port=listener.getsockname()[1])
    # Once, before the workers start: migrations, the demo PKI, the simulator's files.
    create_app(config).close()
    host = f"[{config.host}]" if ":" in config.host else config.host
    base = f"http://{host}:{listener.getsockname()[1]}"
    _announce(config, base, base + SOAP_PATH, workers=workers)
    serve_workers(config, listener, workers)  # the arbiter owns the socket
    return 0


def _family(host: str) -> Any:
    import socket

    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _https_servers(config: Config) -> list[Any]:
    """The page listener (HTTPS, no client certificate asked) and the SOAP listener
    (HTTPS on ``soap_port``, client certificates from ``client_ca``)."""
    from .tls import make_https_server

    assert config.tls_cert is not None and config.tls_key is not None and config.soap_port is not None
    cert, key = config.tls_cert, config.tls_key
    pages = make_https_server(config.host, config.port, _not_ready, certificate=cert, key=key)
    soap = make_https_server(
        config.host, config.soap_port, _not_ready, certificate=cert, key=key, client_ca=config.client_ca
    )
    return [pages, soap]


def _mount(servers: list[Any], service: Any, config: Config) -> None:
    """Give the listeners the service: with two, pages on the first and only
    ``/MSign.svc`` on the second; certificates forwarded by trusted proxies read."""
    from .app import SOAP_PATH
    from .tls import TrustedProxies

    def only(app: Any, soap: bool) -> Any:
        def route(environ: dict, start_response: Any) -> Any:
            if (environ.get("PATH_INFO", "").rstrip("/").lower() == SOAP_PATH.lower()) == soap:
                return app(environ, start_response)
            start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
            return [b"Not Found"]

        return route

    app = (
        TrustedProxies(service, config.trusted_proxies, config.client_cert_header)
        if config.trusted_proxies
        else service
    )
    if len(servers) == 1:
        servers[0].app = app
    else:
        servers[0].app, servers[1].app = only(app, soap=False), only(app, soap=True)


def _purge(args: argparse.Namespace) -> int:
    from .core import RequestService
    from .store import open_store

    config = _config(args)
    store = open_store(config.database)
    try:
        report = RequestService(store, config).run_maintenance()
    finally:
        store.close()
    print(
        f"expired {report.expired} requests, deleted the documents of {report.documents_deleted}, "
        f"purged {report.purged} (documents after {config.document_retention} s, results after "
        f"{config.result_retention} s; serve also does this every {config.maintenance_interval} s)"
    )
    return 0


def _not_ready(environ: dict, start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("Retry-After", "1")])
    return [b"starting"]


def _wsdl(args: argparse.Namespace) -> int:
    from .soap import MSignService, build_wsdl

    document = build_wsdl(MSignService)
    if args.output:
        Path(args.output).write_bytes(document)
    else:
        sys.stdout.buffer.write(document)
    return 0


def _demo_users(args: argparse.Namespace) -> int:
    import json

    from .instruments.cloudkey import CLOUD_KEY_PROVIDERS, demo_pin
    from .pki import DEMO_PEOPLE, load_demo_pki

    config = _config(args)
    if not config.demo_pki:
        raise ConfigurationError("demo_pki is off: this data directory has no demo people")
    # the same PKI serve uses (generated now if serve has not run yet)
    pki = load_demo_pki(config.data_dir / "pki", config.base_url)
    people: list[dict[str, Any]] = []
    for person in DEMO_PEOPLE:
        identity = pki.people[person.idnp]
        people.append(
            {
                "name": person.name,
                "idnp": person.idnp,
                "organization": person.organization,
                "idno": person.idno,
                "revoked": person.revoked,
                "certificate_serial": format(identity.serial_number, "x"),
                "pins": {provider: demo_pin(provider, person.idnp) for provider in CLOUD_KEY_PROVIDERS},
                # the mobile signature: the SIM of this phone number, its PIN (asked on the simulator's phone page)
                "msisdn": person.msisdn,
                "sim_pin": person.sim_pin,
            }
        )
    if args.json:
        print(json.dumps(people, ensure_ascii=False, indent=2))
        return 0
    for p in people:
        pins = ", ".join(f"{provider} PIN {pin}" for provider, pin in p["pins"].items())
        pins += f", mobile +{p['msisdn']} SIM PIN {p['sim_pin']}"
        extra = f" ({p['organization']}, IDNO {p['idno']})" if p["organization"] else ""
        print(f"{p['name']}{extra}: IDNP {p['idnp']}, {pins}{' — certificate REVOKED' if p['revoked'] else ''}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    import json

    from .app import configured_checker
    from .i18n import normalize_language
    from .pki import load_demo_pki
    from .verification.batch import VerificationItem, verify_batch
    from .verification.pades import is_pdf

    try:
        document = Path(args.file).read_bytes()
    except OSError as e:
        raise ConfigurationError(f"cannot read {args.file}: {e.strerror}") from e
    if args.hash is not None:
        try:
            content: bytes | None = bytes.fromhex(args.hash)
        except ValueError as e:
            raise ConfigurationError("--hash must be hexadecimal (the SHA-1 of the signed document)") from e
        kind = "Hash"
    elif is_pdf(document):
        content, kind = None, "Pdf"
    else:
        raise ConfigurationError(f"{args.file} is not a PDF; to verify a XAdES signature give --hash")
    config = _config(args)
    pki = load_demo_pki(config.data_dir / "pki", config.base_url) if config.demo_pki else None
    trust = configured_checker(config, pki)
    if trust is None:
        raise ConfigurationError("no trust anchors: set trust_anchors (or use the demo PKI)")
    language = normalize_language(args.lang)
    with working(f"Verifying {Path(args.file).name} ({len(document):,} bytes)"):
        [outcome] = verify_batch(kind, [VerificationItem(content, None, document)], trust, language, max_contents=1)
    if args.json:
        print(json.dumps({"message": outcome.message, **outcome.report.as_dict()}, ensure_ascii=False, indent=2))
    else:
        print(f"{args.file}: {outcome.message}")
        for i, signature in enumerate(outcome.report.signatures, start=1):
            print(f"  signature {i}{f' ({signature.name})' if signature.name else ''}: {signature.subject or '-'}")
            signed = signature.signed_at.isoformat() if signature.signed_at else "no valid timestamp"
            print(f"    signed at: {signed}; level: {signature.level or '-'}")
            indication = " / ".join(filter(None, [signature.indication.value, signature.sub_indication]))
            print(f"    {indication}: {signature.detail}")
    return 0 if outcome.valid else 1


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that opens the service's data takes."""
    parser.add_argument("--config", help="TOML configuration file")
    parser.add_argument("--data-dir", type=Path, help="data directory (default ./msign-data)")
    parser.add_argument("--database-url", help="database URL (default SQLite in the data directory)")


def _config(args: argparse.Namespace, **overrides: Any) -> Config:
    return load_config(args.config, data_dir=args.data_dir, database_url=args.database_url, **overrides)


def _delegation(args: argparse.Namespace) -> int:
    from .core import DelegationRegistry
    from .store import open_store

    store = open_store(_config(args).database)
    try:
        registry = DelegationRegistry(store)
        if args.action == "add":
            d = registry.add(args.delegator, args.signer, args.role)
            print(f"{d.delegator_idnp} -> {d.signer_idnp} role {d.role_id or 'any'}")
        elif args.action == "remove":
            removed = registry.remove(args.delegator, args.signer, args.role)
            print(f"removed {removed}")
            if not removed:
                return 1
        else:
            for d in registry.find(args.delegator, args.signer):
                added = d.created_at.strftime("%Y-%m-%d %H:%M:%S") if d.created_at else ""
                print(f"{d.delegator_idnp}\t{d.signer_idnp}\t{d.role_id or 'any'}\t{added}")
    except InvalidParameter as e:
        print(f"msign-soap: {e.reason}", file=sys.stderr)
        return 2
    finally:
        store.close()
    return 0


def _add_delegation_commands(commands: Any) -> None:
    delegation = commands.add_parser(
        "delegation", help="manage who may sign on behalf of whom (ExpectedSigner DelegatorType=Person)"
    )
    actions = delegation.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="let --signer sign on behalf of --delegator")
    add.add_argument("--role", type=int, default=0, help="DelegatedRoleID it is limited to (default 0: any role)")
    remove = actions.add_parser("remove", help="remove delegations from --delegator to --signer")
    remove.add_argument("--role", type=int, help="only the one for this role (default: all of them)")
    listing = actions.add_parser("list", help="list delegations (tab-separated: delegator, signer, role, added)")
    for action, required in ((add, True), (remove, True), (listing, False)):
        action.add_argument("--delegator", required=required, help="IDNP of the person delegating")
        action.add_argument("--signer", required=required, help="IDNP of the person signing")
        _add_config_options(action)
        action.set_defaults(handler=_delegation)


def _keystore_import(args: argparse.Namespace) -> int:
    import getpass
    from datetime import timedelta

    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import Encoding

    from .core import utcnow
    from .core.signer_checks import signer_identity
    from .instruments import Keystore
    from .pki import load_private_key
    from .signing.certificates import load_certificates
    from .store import open_store

    certificates = load_certificates(args.cert, "--cert")
    chain = load_certificates(args.chain, "--chain") if args.chain else certificates[1:]
    key = load_private_key(args.key)
    holder = signer_identity(certificates[0]).idnp
    if holder != args.idnp:
        raise ConfigurationError(f"--cert: the certificate names IDNP {holder or '(none)'}, not {args.idnp}")
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigurationError("--key: only RSA and EC keys can sign")
    pin = getpass.getpass("PIN: ")
    if pin != getpass.getpass("PIN again: "):
        raise ConfigurationError("the two PINs differ")
    if len(pin) < args.min_pin_length:
        raise ConfigurationError(f"the PIN must be at least {args.min_pin_length} characters long")
    config = _config(args)
    store = open_store(config.database)
    try:
        keystore = Keystore(
            store, utcnow, max_attempts=config.pin_attempts, lockout=timedelta(seconds=config.pin_lockout)
        )
        der = [c.public_bytes(Encoding.DER) for c in (certificates[0], *chain)]
        if not keystore.add(args.provider, args.idnp, der[0], der[1:], key, pin):
            print(f"msign-soap: {args.provider} already holds a key for {args.idnp}", file=sys.stderr)
            return 1
    finally:
        store.close()
    print(f"{args.provider}: key of {args.idnp} imported")
    return 0


def _add_keystore_commands(commands: Any) -> None:
    keystore = commands.add_parser("keystore", help="manage the cloud keys (securesign, tax) of the software keystore")
    actions = keystore.add_subparsers(dest="action", required=True)
    add = actions.add_parser("import", help="seal a key under a PIN asked on the terminal and store it")
    add.add_argument("--provider", required=True, choices=("securesign", "tax"), help="the cloud-key instrument")
    add.add_argument("--idnp", required=True, help="IDNP of the key's holder")
    add.add_argument("--cert", required=True, help="the certificate (PEM or DER; more PEM certificates: its chain)")
    add.add_argument("--chain", help="the issuer certificates (PEM), nearest first")
    add.add_argument("--key", required=True, help="the private key (PEM or DER, unencrypted)")
    add.add_argument("--min-pin-length", type=int, default=4, help="refuse shorter PINs (default 4)")
    _add_config_options(add)
    add.set_defaults(handler=_keystore_import)


def _local_signer(args: argparse.Namespace) -> int:
    import getpass

    from werkzeug.serving import make_server

    from .local_signer import LOOPBACK, LocalSignerApp, SignerKey, load_pkcs12
    from .signing.timestamp import HttpTimestamper

    key: SignerKey
    if args.p12 is not None:
        if args.password_file is not None:
            try:
                password = Path(args.password_file).read_bytes().rstrip(b"\r\n")
            except OSError as e:
                raise ConfigurationError(f"--password-file: cannot read {args.password_file}: {e.strerror}") from e
        else:
            password = getpass.getpass(f"Password of {args.p12}: ").encode()
        key = load_pkcs12(args.p12, password or None)
    else:
        from cryptography.hazmat.primitives.asymmetric import ec, rsa

        from .pki import load_demo_pki

        config = _config(args)
        pki = load_demo_pki(config.data_dir / "pki", config.base_url)
        person = pki.people.get(args.demo_person)
        if person is None or not isinstance(person.private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ConfigurationError(f"--demo-person: {args.demo_person} is not a demo person (msign-soap demo-users)")
        key = SignerKey(person.certificate, person.private_key, person.chain, provider="DEMO")
    origins = args.allow_origin or [_DEFAULT_PAGE_ORIGIN]
    try:
        app = LocalSignerApp(key, HttpTimestamper(args.tsa_url), origins, max_body_bytes=args.max_body_bytes)
    except InvalidParameter as e:
        raise ConfigurationError(e.reason) from e
    server = make_server(LOOPBACK, args.port, app, threaded=True)
    print(f"msign-soap local signer on http://{LOOPBACK}:{server.server_port}", flush=True)
    print(f"Key: {key.certificate.subject.rfc4514_string()}", flush=True)
    print(f"Pages allowed: {', '.join(sorted(app.allowed_origins))}; time-stamps: {args.tsa_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


#: The sign page's origin on the embedded default (``./scripts/serve``).
_DEFAULT_PAGE_ORIGIN = "http://127.0.0.1:8080"


def _add_local_signer_command(commands: Any) -> None:
    from .local_signer import DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT

    signer = commands.add_parser(
        "local-signer",
        help="a signer on this machine for the moldsign and nationalid instruments (the MoldSign app's protocol)",
    )
    key = signer.add_mutually_exclusive_group(required=True)
    key.add_argument("--p12", type=Path, help="PKCS #12 file with the key, its certificate and chain")
    key.add_argument("--demo-person", metavar="IDNP", help="sign with a demo person's key from the data directory")
    signer.add_argument("--password-file", type=Path, help="file holding the PKCS #12 password (default: ask)")
    signer.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any free one)"
    )
    signer.add_argument(
        "--allow-origin",
        action="append",
        metavar="ORIGIN",
        help=f"origin of the sign page that may use it (repeatable; default {_DEFAULT_PAGE_ORIGIN})",
    )
    signer.add_argument(
        "--tsa-url",
        default=_DEFAULT_PAGE_ORIGIN + "/tsa",
        help=f"RFC 3161 time-stamping authority (default {_DEFAULT_PAGE_ORIGIN}/tsa, the embedded default's)",
    )
    signer.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help=f"largest request body (default {DEFAULT_MAX_BODY_BYTES})",
    )
    _add_config_options(signer)
    signer.set_defaults(handler=_local_signer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="msign-soap", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service (embedded default: SQLite + demo mode)")
    _add_config_options(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080; 0 picks a free one)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (gunicorn's arbiter; a dead one is replaced); default 1: one process",
    )
    serve.add_argument(
        "--production",
        action="store_true",
        help="no demo consumer, https ReturnUrls of registered prefixes; needs TLS or --trusted-proxy",
    )
    serve.add_argument("--tls-cert", type=Path, help="HTTPS: the server's certificate (PEM, intermediates after it)")
    serve.add_argument("--tls-key", type=Path, help="HTTPS: its private key (PEM, unencrypted)")
    serve.add_argument(
        "--client-ca", type=Path, help="HTTPS: CA certificates (PEM) of the consumers' client certificates"
    )
    serve.add_argument(
        "--soap-port", type=int, help="HTTPS: the port of /MSign.svc, which asks for client certificates"
    )
    serve.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="CIDR",
        help="a reverse proxy whose forwarded client certificate and address are believed (repeatable)",
    )
    serve.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        help="log lines as text (default) or JSON objects with the RequestID and consumer",
    )
    serve.set_defaults(handler=_serve)

    wsdl = commands.add_parser("wsdl", help="print the WSDL generated from the service definition")
    wsdl.add_argument("-o", "--output", help="write to this file instead of standard output")
    wsdl.set_defaults(handler=_wsdl)

    verify = commands.add_parser(
        "verify", help="verify a signed PDF, or a XAdES signature with the signed document's hash (exit 1: not valid)"
    )
    verify.add_argument("file", help="the signed PDF or the XAdES document")
    verify.add_argument("--hash", help="for XAdES: the signed document's hash, hexadecimal (SHA-1)")
    verify.add_argument("--lang", default="ro", help="language of the message: ro (default), ru, en")
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    _add_config_options(verify)
    verify.set_defaults(handler=_verify)

    demo = commands.add_parser("demo-users", help="list the demo people of the embedded default, with their PINs")
    demo.add_argument("--json", action="store_true", help="print JSON (a list of objects) for test automation")
    _add_config_options(demo)
    demo.set_defaults(handler=_demo_users)

    purge = commands.add_parser(
        "purge", help="expire overdue requests, delete old documents and purge old results now (serve does it too)"
    )
    _add_config_options(purge)
    purge.set_defaults(handler=_purge)

    _add_delegation_commands(commands)
    _add_keystore_commands(commands)
    _add_local_signer_command(commands)
    add_audit_commands(commands, _add_config_options, _config)
    add_consumer_commands(commands, _add_config_options, _config)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=TEXT_FORMAT)
    try:
        return int(args.handler(args))
    except (ConfigurationError, InvalidParameter) as e:
        print(f"msign-soap: {e.reason}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
