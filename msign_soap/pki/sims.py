"""The files of the bundled MSSP simulator (``msign_mssp_sim``), written from
the demo PKI: the demo people's SIM cards and the access point the service
signs in as.

The simulator reads them from its directory (``<data_dir>/mssp-sim``); the
formats are documented in ``msign_mssp_sim.cards``:

- ``sims.json``: per SIM card its MSISDN, certificate and issuers (base64
  DER), and its private key as PKCS #8 PEM encrypted under the SIM PIN
  (:attr:`~msign_soap.pki.demo.DemoPerson.sim_pin`); with the sandbox, also
  the phones of its fixed-outcome people (:mod:`.sandbox`), which answer by
  themselves (``auto``: ``approve`` with the ``pin`` they type, ``refuse``,
  ``silent``);
- ``access-points.json``: AP_ID → AP_PWD.

Both are written atomically (a temporary file renamed into place), so that
several workers starting at once agree. ``sims.json`` is rewritten when its
certificates are not the PKI's (a PKI generated anew); the access point's
password, once made, is kept.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from ..errors import ConfigurationError
from .certificates import Identity
from .demo import DEMO_PEOPLE, DemoPki
from .sandbox import SANDBOX_PEOPLE, sandbox_identity

__all__ = ["ACCESS_POINTS_FILE", "SIMS_FILE", "register_access_point", "write_demo_sims"]

SIMS_FILE = "sims.json"
ACCESS_POINTS_FILE = "access-points.json"
_FORMAT = 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write(path: Path, data: Any, *, exclusive: bool = False) -> bool:
    """Write ``data`` to ``path`` atomically; with ``exclusive``, only if
    ``path`` does not exist yet (False then)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:  # mkstemp: mode 0600
                json.dump(data, f, indent=1)
                f.write("\n")
            if not exclusive:
                os.replace(temporary, path)
                return True
            try:
                os.link(temporary, path)  # atomic, and fails if another process was first
            except FileExistsError:
                return False
            except OSError:  # a file system without hard links: first come, nearly atomic
                if path.exists():
                    return False
                os.replace(temporary, path)
            return True
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError as e:
        raise ConfigurationError(f"cannot write {path}: {e.strerror}") from e


def write_demo_sims(pki: DemoPki, directory: Path, *, sandbox: bool = False) -> bool:
    """Write the SIM cards of ``pki``'s demo people into ``directory/sims.json``
    unless it already holds them; True when written.

    :param sandbox: add the phones of the sandbox's fixed-outcome people,
        which answer by themselves (their ``auto`` member).
    :raises ConfigurationError: the file cannot be written.
    """
    path = directory / SIMS_FILE
    pins = {p.msisdn: p.sim_pin for p in DEMO_PEOPLE}
    cards: list[tuple[str, Identity, str, dict[str, str]]] = [
        (msisdn, sim, pins[msisdn], {}) for msisdn, sim in sorted(pki.sims.items())
    ]
    for person in SANDBOX_PEOPLE if sandbox else ():
        if person.msisdn and person.sim_pin and person.autopilot:
            auto = {"auto": person.autopilot}
            if person.autopilot == "approve":
                auto["pin"] = person.sim_pin  # the phone types it itself
            cards.append((person.msisdn, sandbox_identity(pki, person), person.sim_pin, auto))
    wanted = [(msisdn, _b64(sim.certificate_der), auto.get("auto")) for msisdn, sim, _, auto in cards]
    current = _read(path)
    if isinstance(current, dict) and current.get("format") == _FORMAT:
        held = [
            (s.get("msisdn"), s.get("certificate"), s.get("auto"))
            for s in current.get("sims", ())
            if isinstance(s, dict)
        ]
        if held == wanted:
            return False
    sims = []
    for msisdn, sim, pin, auto in cards:
        key = sim.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(pin.encode()),
        )
        sims.append(
            {
                "msisdn": msisdn,
                "certificate": _b64(sim.certificate_der),
                "chain": [_b64(c) for c in sim.chain_der],
                "key": key.decode("ascii"),
                **auto,
            }
        )
    _write(path, {"format": _FORMAT, "sims": sims})
    return True


def register_access_point(directory: Path, ap_id: str, password: str | None = None) -> str:
    """Let ``ap_id`` into the simulator of ``directory``; return its password:
    ``password`` if given, else the one it has, else a new random one.

    :raises ConfigurationError: the file cannot be written.
    """
    path = directory / ACCESS_POINTS_FILE
    for _ in range(2):
        existed = path.exists()  # as read: a file made after this by another worker must win
        current = _read(path)
        points: dict[str, str] = {}
        if isinstance(current, dict) and isinstance(current.get("access_points"), dict):
            points = {k: v for k, v in current["access_points"].items() if isinstance(v, str) and v}
        wanted = password or points.get(ap_id) or secrets.token_urlsafe(24)
        if points.get(ap_id) == wanted:
            return wanted
        points[ap_id] = wanted
        # the first process to make the file decides a new password; a later
        # change (another AP_ID, a configured password) replaces it
        if _write(path, {"format": _FORMAT, "access_points": points}, exclusive=not existed):
            return wanted
    raise ConfigurationError(f"{path} keeps changing")
