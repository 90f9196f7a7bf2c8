"""``msign-soap consumer``: register the e-services that call the SOAP endpoint.

``add`` registers a consumer with its client certificate (PEM or DER), the
networks it may call from and its ReturnUrl prefixes; ``add-cert`` and
``remove-cert`` rotate certificates; ``disable`` / ``enable`` take effect at
once on every host sharing the database; ``set-webhook`` registers the
completion webhook (:mod:`.core.webhooks`); ``list`` shows them all.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import Config

__all__ = ["add_consumer_commands"]


def add_consumer_commands(
    commands: Any,
    add_config_options: Callable[[argparse.ArgumentParser], None],
    config_of: Callable[[argparse.Namespace], Config],
) -> None:
    """Add ``consumer add|add-cert|remove-cert|disable|enable|list`` to ``commands``
    (the subparsers of ``msign-soap``), with the configuration options of ``serve``."""
    consumer = commands.add_parser("consumer", help="manage the e-services allowed to call the SOAP endpoint")
    actions = consumer.add_subparsers(dest="action", required=True)

    add = actions.add_parser("add", help="register a consumer with its client certificate")
    add.add_argument("--name", required=True, help="the e-service's name (unique)")
    add.add_argument("--cert", required=True, type=Path, help="its TLS client certificate (PEM or DER)")
    add.add_argument(
        "--allow-ip",
        action="append",
        default=[],
        metavar="CIDR",
        help="a network it may call from (repeatable; default: any address)",
    )
    add.add_argument(
        "--return-url-prefix",
        action="append",
        default=[],
        metavar="URL",
        help="a ReturnUrl prefix it may send users back to, ending with / or ? (repeatable; "
        "default: any URL, refused in production)",
    )
    add_cert = actions.add_parser("add-cert", help="register another certificate of a consumer (rotation)")
    add_cert.add_argument("--name", required=True)
    add_cert.add_argument("--cert", required=True, type=Path, help="the new certificate (PEM or DER)")
    remove_cert = actions.add_parser("remove-cert", help="forget a consumer's certificate after a rotation")
    remove_cert.add_argument("--name", required=True)
    remove_cert.add_argument("--serial", required=True, help="the certificate's serial number, hexadecimal")
    disable = actions.add_parser("disable", help="refuse a consumer's calls from now on")
    disable.add_argument("--name", required=True)
    enable = actions.add_parser("enable", help="accept a disabled consumer's calls again")
    enable.add_argument("--name", required=True)
    webhook = actions.add_parser(
        "set-webhook", help="post {RequestID, Status} to a URL when a request ends (prints the new HMAC key)"
    )
    webhook.add_argument("--name", required=True)
    target = webhook.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="the e-service's endpoint (https in production)")
    target.add_argument("--remove", action="store_true", help="no more webhooks")
    listing = actions.add_parser("list", help="list the consumers and their certificates")
    listing.add_argument("--json", action="store_true", help="print JSON")
    for action in (add, add_cert, remove_cert, disable, enable, webhook, listing):
        add_config_options(action)
        action.set_defaults(handler=lambda args: _consumer(args, config_of(args)))


def _consumer(args: argparse.Namespace, config: Config) -> int:
    from .core import utcnow
    from .core.consumers import ConsumerRegistry
    from .signing.certificates import load_certificates
    from .store import open_store

    store = open_store(config.database)
    try:
        registry = ConsumerRegistry(store, utcnow)
        if args.action == "add":
            [certificate, *_] = load_certificates(args.cert, "--cert")
            registry.add(args.name, certificate, args.allow_ip, args.return_url_prefix)
            print(f"consumer {args.name!r} added")
        elif args.action == "add-cert":
            [certificate, *_] = load_certificates(args.cert, "--cert")
            registry.add_certificate(args.name, certificate)
            print(f"certificate added to {args.name!r}")
        elif args.action == "remove-cert":
            removed = registry.remove_certificate(args.name, args.serial)
            print(f"removed {removed}")
            return 0 if removed else 1
        elif args.action == "set-webhook":
            key = registry.set_webhook(args.name, None if args.remove else args.url, https_only=config.production)
            if key is None:
                print(f"webhook of {args.name!r} removed")
            else:
                print(f"webhook of {args.name!r}: {args.url}")
                print(f"HMAC-SHA256 key (shown once; give it to the e-service): {key}")
        elif args.action in ("disable", "enable"):
            registry.set_enabled(args.name, args.action == "enable")
            print(f"consumer {args.name!r} {args.action}d")
        else:
            _print(registry.list(), as_json=args.json)
    finally:
        store.close()
    return 0


def _print(consumers: list[Any], *, as_json: bool) -> None:
    if as_json:
        import json

        rows = [
            {
                "name": c.name,
                "enabled": c.enabled,
                "allowed_networks": list(c.allowed_networks),
                "return_url_prefixes": list(c.return_url_prefixes),
                "webhook_url": c.webhook_url,
                "certificates": [
                    {"serial": serial, "issuer": issuer, "not_after": not_after.isoformat()}
                    for serial, issuer, not_after in c.certificates
                ],
            }
            for c in consumers
        ]
        json.dump(rows, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return
    for c in consumers:
        state = "enabled" if c.enabled else "disabled"
        print(f"{c.name}\t{state}\tnetworks: {', '.join(c.allowed_networks) or 'any'}")
        for prefix in c.return_url_prefixes:
            print(f"\treturn URL: {prefix}")
        if c.webhook_url:
            print(f"\twebhook: {c.webhook_url}")
        for serial, issuer, not_after in c.certificates:
            print(f"\tcertificate {serial} issued by {issuer}, valid until {not_after:%Y-%m-%d}")
