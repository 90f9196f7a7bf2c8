"""Generation of the demo PKI with certomancer (see :mod:`msign_soap.pki.demo`).

Keys come from ``cryptography`` (certomancer only reads key files); the
certomancer configuration is built here, saved next to the result, and
turned into certificates in process.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml
from certomancer.registry import CertomancerConfig
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ..errors import ConfigurationError
from .demo import MANIFEST, MANIFEST_FORMAT

if TYPE_CHECKING:
    from .demo import DemoPerson

__all__ = ["NOT_BEFORE", "REVOCATION_REASON", "REVOKED_SINCE", "certomancer_config", "write_demo_pki"]

#: Every demo certificate is valid from this date, so that tests may pin
#: their clocks anywhere after it.
NOT_BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
#: When and why the revoked demo person's certificate was revoked.
REVOKED_SINCE = NOT_BEFORE + timedelta(days=1)
REVOCATION_REASON = x509.ReasonFlags.key_compromise

ARCH = "pki"
_ORGANIZATION = "msign-soap demo"
_YEAR = timedelta(days=365)
_CA_NAMES = {
    "root": "MSign Demo Root CA",
    "issuing": "MSign Demo Issuing CA",
    "tsa": "MSign Demo TSA",
    "ocsp": "MSign Demo OCSP Responder",
}


def _check_base_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError(f"the public base URL must be an absolute http(s) URL, not {url!r}")
    return url.rstrip("/")


def _date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _key_usage(*usages: str) -> dict[str, Any]:
    return {"id": "key_usage", "critical": True, "smart-value": {"schema": "key-usage", "params": list(usages)}}


def _crl_dp(repo: str) -> dict[str, Any]:
    return {
        "id": "crl_distribution_points",
        "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": [repo]}},
    }


def _aia(repo: str, ocsp: bool) -> dict[str, Any]:
    params: dict[str, Any] = {"ca-issuer-links": [{"repo": repo}]}
    if ocsp:
        params["ocsp-responder-names"] = [repo]
    return {"id": "authority_information_access", "smart-value": {"schema": "aia-urls", "params": params}}


def _random_serial() -> int:
    # 63 bits, the top one set: positive, fixed length, unpredictable
    return secrets.randbits(62) | (1 << 62)


def certomancer_config(base_url: str, people: Sequence[DemoPerson], now: datetime) -> dict[str, Any]:
    """The certomancer configuration of a demo PKI whose URLs live under ``base_url``.

    Keys are expected under ``keys/``: ``<label>.key.pem`` for the CAs, the TSA
    and the OCSP responder, ``<label>.pub.pem`` for the people and their SIM
    cards (certomancer never signs with their keys). A SIM card's certificate
    (``<label>-sim``) has its person's subject and its own key.
    """

    def validity(years: int) -> dict[str, str]:
        return {"valid-from": _date(NOT_BEFORE), "valid-to": _date(now + years * _YEAR)}

    def issued(subject: str, years: int, *extensions: dict[str, Any], **more: Any) -> dict[str, Any]:
        return {
            "subject": subject,
            "issuer": "issuing",
            "serial": _random_serial(),
            "validity": validity(years),
            "extensions": list(extensions),
            **more,
        }

    entities: dict[str, Any] = {
        label: {"common-name": name, "organization-name": _ORGANIZATION, "country-name": "MD"}
        for label, name in _CA_NAMES.items()
    }
    keys: dict[str, Any] = {label: {"path": f"{label}.key.pem"} for label in _CA_NAMES}
    certs: dict[str, Any] = {
        "root": {
            "subject": "root",
            "issuer": "root",
            "serial": _random_serial(),
            "validity": validity(20),
            "extensions": [
                {"id": "basic_constraints", "critical": True, "value": {"ca": True}},
                _key_usage("key_cert_sign", "crl_sign"),
            ],
        },
        "issuing": {
            "subject": "issuing",
            "issuer": "root",
            "serial": _random_serial(),
            "validity": validity(15),
            "extensions": [
                {"id": "basic_constraints", "critical": True, "value": {"ca": True, "path_len_constraint": 0}},
                _key_usage("key_cert_sign", "crl_sign"),
                _crl_dp("root"),
                _aia("root", ocsp=False),
            ],
        },
        "tsa": issued(
            "tsa",
            10,
            _key_usage("digital_signature"),
            {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]},
            _crl_dp("issuing"),
            _aia("issuing", ocsp=True),
        ),
        "ocsp": issued(
            "ocsp",
            10,
            _key_usage("digital_signature"),
            {"id": "extended_key_usage", "value": ["ocsp_signing"]},
            {"id": "ocsp_no_check", "value": None},
            _aia("issuing", ocsp=False),
        ),
    }
    for person in people:
        subject = {
            "common-name": person.name,
            "given-name": person.given_name,
            "surname": person.surname,
            "serial-number": person.idnp,
            "country-name": "MD",
        }
        if person.idno:
            subject["organization-name"] = f"{person.organization} {person.idno}"
            subject["organization-identifier"] = f"NTRMD-{person.idno}"
        entities[person.label] = subject
        keys[person.label] = {"path": f"{person.label}.pub.pem", "public-only": True}
        keys[person.sim_label] = {"path": f"{person.sim_label}.pub.pem", "public-only": True}
        revocation = (
            {"revoked-since": _date(REVOKED_SINCE), "reason": REVOCATION_REASON.name} if person.revoked else None
        )
        for label in (person.label, person.sim_label):
            certs[label] = issued(
                person.label,
                10,
                _key_usage("digital_signature", "non_repudiation"),
                _crl_dp("issuing"),
                _aia("issuing", ocsp=True),
                **{"subject-key": label},
                **({"revocation": revocation} if revocation else {}),
            )
    return {
        "external-url-prefix": base_url,
        "keysets": {"demo": {"path-prefix": "keys", "keys": keys}},
        "pki-architectures": {
            ARCH: {
                "keyset": "demo",
                "entities": entities,
                "certs": certs,
                "services": {
                    "ocsp": {"issuing": {"for-issuer": "issuing", "responder-cert": "ocsp", "signing-key": "ocsp"}},
                    "crl-repo": {
                        ca: {"for-issuer": ca, "signing-key": ca, "simulated-update-schedule": "PT1H"}
                        for ca in ("root", "issuing")
                    },
                    "cert-repo": {ca: {"for-issuer": ca, "publish-issued-certs": False} for ca in ("root", "issuing")},
                    "time-stamping": {"tsa": {"signing-cert": "tsa", "certs-to-embed": ["issuing", "root"]}},
                },
            }
        },
    }


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _write_keys(key_dir: Path, labels: Sequence[str]) -> None:
    key_dir.mkdir(mode=0o700)
    for label in labels:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_private(
            key_dir / f"{label}.key.pem",
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
        )
        (key_dir / f"{label}.pub.pem").write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )


def write_demo_pki(directory: Path, public_base_url: str, people: Sequence[DemoPerson], now: datetime) -> None:
    """Generate keys, certificates and the manifest of a demo PKI into ``directory``.

    :raises ConfigurationError: on an unusable URL.
    """
    base = _check_base_url(public_base_url)
    directory.mkdir(parents=True, exist_ok=True)
    config = certomancer_config(base, people, now)
    _write_keys(directory / "keys", [*_CA_NAMES, *(p.label for p in people), *(p.sim_label for p in people)])
    (directory / "certomancer.yml").write_text(
        yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    arch = CertomancerConfig(config, key_search_dir=str(directory)).get_pki_arch(ARCH)  # type: ignore[arg-type]
    (directory / "certs").mkdir()
    for label in config["pki-architectures"][ARCH]["certs"]:
        (directory / "certs" / f"{label}.crt").write_bytes(arch.get_cert(label).dump())
    manifest = {
        "format": MANIFEST_FORMAT,
        "public_base_url": base,
        "created": now.astimezone(UTC).isoformat(timespec="seconds"),
        "people": [
            {
                "label": p.label,
                "name": p.name,
                "idnp": p.idnp,
                **({"organization": p.organization, "idno": p.idno} if p.idno else {}),
            }
            for p in people
        ],
        "revocations": [
            {"label": p.label, "date": REVOKED_SINCE.isoformat(), "reason": REVOCATION_REASON.name}
            for p in people
            if p.revoked
        ],
        # the SIM cards of the mobile signature; a revoked person's is revoked too
        "sims": [
            {
                "label": p.sim_label,
                "idnp": p.idnp,
                "msisdn": p.msisdn,
                **(
                    {"revocation": {"date": REVOKED_SINCE.isoformat(), "reason": REVOCATION_REASON.name}}
                    if p.revoked
                    else {}
                ),
            }
            for p in people
        ],
    }
    # written last: its presence marks a complete PKI
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
