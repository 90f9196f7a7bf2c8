"""The ``msign-soap`` command: ``serve``, ``wsdl``, ``demo-users``, ``delegation`` and ``keystore``."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path
from typing import Any

from . import __version__
from .config import Config, load_config
from .errors import ConfigurationError, InvalidParameter

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    from werkzeug.serving import make_server

    from .app import SOAP_PATH, create_app

    config = _config(args, host=args.host, port=args.port)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    # Bind first: with --port 0 the demo PKI's URLs must name the real port.
    server = make_server(config.host, config.port, _not_ready, threaded=True)
    if config.public_url is None and config.port == 0:
        config = dataclasses.replace(config, port=server.server_port)
    service = create_app(config)
    server.app = service
    stop = service.start_maintenance()
    host = f"[{config.host}]" if ":" in config.host else config.host
    base = f"http://{host}:{server.server_port}"
    print(f"msign-soap {__version__} serving on {base}", flush=True)
    print(f"WSDL: {base}{SOAP_PATH}?singleWsdl", flush=True)
    print(f"Data: {config.data_dir.resolve()} ({'demo mode' if config.demo_mode else 'production'})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        service.close()
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
            }
        )
    if args.json:
        print(json.dumps(people, ensure_ascii=False, indent=2))
        return 0
    for p in people:
        pins = ", ".join(f"{provider} PIN {pin}" for provider, pin in p["pins"].items())
        extra = f" ({p['organization']}, IDNO {p['idno']})" if p["organization"] else ""
        print(f"{p['name']}{extra}: IDNP {p['idnp']}, {pins}{' — certificate REVOKED' if p['revoked'] else ''}")
    return 0


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="msign-soap", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service (embedded default: SQLite + demo mode)")
    _add_config_options(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080; 0 picks a free one)")
    serve.set_defaults(handler=_serve)

    wsdl = commands.add_parser("wsdl", help="print the WSDL generated from the service definition")
    wsdl.add_argument("-o", "--output", help="write to this file instead of standard output")
    wsdl.set_defaults(handler=_wsdl)

    demo = commands.add_parser("demo-users", help="list the demo people of the embedded default, with their PINs")
    demo.add_argument("--json", action="store_true", help="print JSON (a list of objects) for test automation")
    _add_config_options(demo)
    demo.set_defaults(handler=_demo_users)

    _add_delegation_commands(commands)
    _add_keystore_commands(commands)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args))
    except ConfigurationError as e:
        print(f"msign-soap: {e.reason}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
