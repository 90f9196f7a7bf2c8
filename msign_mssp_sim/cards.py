"""The simulator's SIM cards and access points, read from its directory.

``sims.json`` — the SIM cards, one per phone number::

    {"format": 1,
     "sims": [{"msisdn": "37360000001",
               "certificate": "<base64 DER>",
               "chain": ["<base64 DER of the issuer>", "…up to the root"],
               "key": "-----BEGIN ENCRYPTED PRIVATE KEY-----\\n…"}]}

``key`` is the SIM's private key as PKCS #8 PEM encrypted under the SIM's
PIN: the PIN the user types on the phone page decrypts it, so the simulator
keeps no PIN (a wrong one does not decrypt). A real SIM keeps its key in
hardware; this file is demo material.

An optional ``auto`` makes the phone answer by itself, for test automation
(the "autopilot"): ``"approve"`` signs each request as it arrives, with the
SIM PIN given in ``pin`` (required then); ``"refuse"`` refuses it at once;
``"silent"`` never answers, so that each request ends
``EXPIRED_TRANSACTION`` after its ``TimeOut``. Nobody can answer on such a
phone's page.

``access-points.json`` — the access points (APs) allowed to ask for
signatures, with their passwords (``AP_PWD``)::

    {"format": 1, "access_points": {"msign-soap": "<password>"}}

Whoever sets the simulator up writes both files (the msign-soap embedded
default writes them from its demo PKI); the simulator only reads them.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

__all__ = [
    "ACCESS_POINTS_FILE",
    "AUTO_APPROVE",
    "AUTO_REFUSE",
    "AUTO_SILENT",
    "SIMS_FILE",
    "SimCard",
    "SimulatorError",
    "load_access_points",
    "load_cards",
]

SIMS_FILE = "sims.json"
ACCESS_POINTS_FILE = "access-points.json"
_FORMAT = 1
#: The values of a SIM card's ``auto``: how its phone answers by itself.
AUTO_APPROVE = "approve"
AUTO_REFUSE = "refuse"
AUTO_SILENT = "silent"
_AUTOPILOTS = (AUTO_APPROVE, AUTO_REFUSE, AUTO_SILENT)


class SimulatorError(Exception):
    """The simulator's files are missing or damaged."""


@dataclass(frozen=True)
class SimCard:
    """A SIM card: its phone number, certificate (DER), issuers and locked key;
    ``auto`` (with ``auto_pin`` for ``approve``) when its phone answers by itself."""

    msisdn: str
    certificate: bytes
    chain: tuple[bytes, ...]
    encrypted_key: bytes
    auto: str | None = None
    auto_pin: str | None = None

    @property
    def holder(self) -> str:
        """The certificate's common name (for the phone page)."""
        names = x509.load_der_x509_certificate(self.certificate).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(names[0].value) if names else self.msisdn

    @property
    def serial_number(self) -> str | None:
        """The certificate subject's SERIALNUMBER (the holder's IDNP), if any."""
        subject = x509.load_der_x509_certificate(self.certificate).subject
        values = subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
        return str(values[0].value) if values else None

    def sign(self, pin: str, digest: bytes) -> bytes | None:
        """Sign a SHA-256 ``digest`` with the key unlocked by ``pin``; ``None``
        when the PIN does not unlock it."""
        try:
            key = serialization.load_pem_private_key(self.encrypted_key, pin.encode())
        except (ValueError, TypeError):
            return None
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        raise SimulatorError(f"the key of SIM {self.msisdn} cannot sign SHA-256 digests")


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise SimulatorError(f"cannot read {path}: {e}") from e
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise SimulatorError(f"{path} is not a format {_FORMAT} file")
    return data


def load_cards(directory: Path) -> dict[str, SimCard]:
    """The SIM cards of ``directory/sims.json`` by MSISDN.

    :raises SimulatorError: missing or damaged file.
    """
    path = directory / SIMS_FILE
    data = _read(path)
    cards = {}
    try:
        for entry in data["sims"]:
            card = SimCard(
                msisdn=str(entry["msisdn"]),
                certificate=base64.b64decode(entry["certificate"], validate=True),
                chain=tuple(base64.b64decode(c, validate=True) for c in entry["chain"]),
                encrypted_key=entry["key"].encode("ascii"),
                auto=entry.get("auto"),
                auto_pin=entry.get("pin"),
            )
            x509.load_der_x509_certificate(card.certificate)
            if card.auto is not None and card.auto not in _AUTOPILOTS:
                raise ValueError(f"auto of {card.msisdn} must be one of {', '.join(_AUTOPILOTS)}")
            if card.auto == AUTO_APPROVE and not isinstance(card.auto_pin, str):
                raise ValueError(f"auto approve of {card.msisdn} needs the SIM PIN in pin")
            cards[card.msisdn] = card
    except (KeyError, TypeError, AttributeError, ValueError, binascii.Error) as e:
        raise SimulatorError(f"{path} is damaged: {e!r}") from e
    return cards


def load_access_points(directory: Path) -> Mapping[str, str]:
    """The AP passwords of ``directory/access-points.json`` by AP_ID.

    :raises SimulatorError: missing or damaged file.
    """
    path = directory / ACCESS_POINTS_FILE
    points = _read(path).get("access_points")
    if not isinstance(points, dict) or not all(isinstance(v, str) and v for v in points.values()):
        raise SimulatorError(f"{path} is damaged: access_points must map AP_IDs to passwords")
    return dict(points)
