"""``msign-soap audit``: check the audit trail, show a request's history, time-stamp the head.

``verify`` recomputes the hash chain and checks every anchor's time-stamp
against the service's trust anchors (``trust_anchors``, else the demo PKI's)
and exits 1 when anything is wrong; ``show --request ID`` prints a request's
events; ``anchor`` has the TSA (``tsa_url``, else the demo PKI's) time-stamp
the trail's head now. See :mod:`msign_soap.core.audit`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from .cli_progress import working
from .config import Config

__all__ = ["add_audit_commands"]


def add_audit_commands(
    commands: Any,
    add_config_options: Callable[[argparse.ArgumentParser], None],
    config_of: Callable[[argparse.Namespace], Config],
) -> None:
    """Add ``audit verify|show|anchor`` to ``commands`` (the subparsers of
    ``msign-soap``), with the configuration options of ``serve``."""
    audit = commands.add_parser("audit", help="check the audit trail, show a request's history, time-stamp the trail")
    actions = audit.add_subparsers(dest="action", required=True)
    verify = actions.add_parser(
        "verify", help="check that no event was edited, deleted or cut off the end (exit 1: something was)"
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    show = actions.add_parser("show", help="print a request's events, oldest first")
    show.add_argument("--request", required=True, metavar="ID", help="the RequestID")
    show.add_argument("--json", action="store_true", help="print JSON (a list of events)")
    actions.add_parser("anchor", help="have the TSA time-stamp the trail's head now")
    handlers = {"verify": _verify, "show": _show, "anchor": _anchor}
    for name, action in actions.choices.items():
        add_config_options(action)
        handler = handlers[name]
        action.set_defaults(handler=lambda args, handler=handler: handler(args, config_of(args)))


def _verify(args: argparse.Namespace, config: Config) -> int:
    from .app import configured_checker

    trail, store = _open(config, with_tsa=False)
    try:
        with working("Checking the audit trail"):
            report = trail.verify(configured_checker(config, _demo_pki(config)))
    finally:
        store.close()
    print(json.dumps(report.as_dict(), indent=2) if args.json else report)
    return 0 if report.ok else 1


def _show(args: argparse.Namespace, config: Config) -> int:
    trail, store = _open(config, with_tsa=False)
    try:
        events = trail.history(args.request)
    finally:
        store.close()
    if args.json:
        print(json.dumps([e.as_dict() for e in events], ensure_ascii=False, indent=2))
    elif not events:
        print(f"msign-soap: no events of request {args.request}", file=sys.stderr)
    for e in [] if args.json else events:
        detail = " ".join(f"{name}={json.dumps(value, ensure_ascii=False)}" for name, value in e.detail.items())
        columns = (e.as_dict()["at"], e.event, e.consumer or "-", e.address or "-", detail)
        print("  ".join(columns).rstrip())
    return 0 if events else 1


def _anchor(args: argparse.Namespace, config: Config) -> int:
    from .errors import TimestampError

    trail, store = _open(config, with_tsa=True)
    try:
        anchor = trail.anchor()
    except TimestampError as e:
        print(f"msign-soap: {e.reason}", file=sys.stderr)
        return 1
    finally:
        store.close()
    if anchor is None:
        print("the audit trail is empty: nothing to time-stamp")
    else:
        print(f"{anchor.row_count} rows time-stamped {anchor.time.isoformat()} (head {anchor.head_hash})")
    return 0


def _open(config: Config, *, with_tsa: bool) -> tuple[Any, Any]:
    """The trail (with the configured TSA if asked) and its store, to close."""
    from .core import utcnow
    from .core.audit import AuditTrail
    from .signing.timestamp import HttpTimestamper, LocalTsa, Timestamper
    from .store import open_store

    timestamper: Timestamper | None = None
    if with_tsa and config.tsa_url is not None:
        timestamper = HttpTimestamper(config.tsa_url, timeout=config.tsa_timeout)
    elif with_tsa and config.demo_pki:
        pki = _demo_pki(config)
        assert pki is not None
        timestamper = LocalTsa(pki.tsa.certificate, pki.tsa.private_key, pki.tsa.chain)
    store = open_store(config.database)
    return AuditTrail(store, utcnow, timestamper), store


def _demo_pki(config: Config) -> Any:
    """The demo PKI the service uses (generated now if serve has not run yet), if enabled."""
    from .pki import load_demo_pki

    return load_demo_pki(config.data_dir / "pki", config.base_url) if config.demo_pki else None
