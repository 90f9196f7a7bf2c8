"""The demo PKI of the embedded default: CAs, demo people, TSA and OCSP responder.

Generated with certomancer on first use into ``<data_dir>/pki/`` and read
back from there afterwards; never regenerated while present (delete the
directory for a new one). Generation writes into a temporary sibling
directory and renames it into place, so two processes starting at once end
up sharing one complete PKI.

Hierarchy (RSA 2048, SHA-256, random 63-bit serial numbers; valid from
2026-01-01, the CAs for 20 and 15 years, the rest for 10 years from generation):

- ``MSign Demo Root CA`` (self-signed)
- ``MSign Demo Issuing CA`` (path length 0), which issues
- one certificate per demo person (key usage digitalSignature +
  nonRepudiation), the ``MSign Demo TSA`` (extended key usage
  id-kp-timeStamping, critical) and the ``MSign Demo OCSP Responder``
  (id-kp-OCSPSigning, id-pkix-ocsp-nocheck).

Demo people (subject ``CN=<name>, GN, SN, SERIALNUMBER=<IDNP>, C=MD``):

=================  ==============  ===========  =======  ==================================================
name               IDNP            MSISDN       SIM PIN  notes
=================  ==============  ===========  =======  ==================================================
Ion Popescu        2004001234567   37360000001  1111
Maria Rusu         2001002345678   37360000002  2222
Vasile Ceban       2002003456787   37360000003  3333     signs for ``Întreprinderea Demonstrativă SRL``,
                                                         IDNO 1003600150048: ``O=Întreprinderea
                                                         Demonstrativă SRL 1003600150048`` (as MSign
                                                         writes it) and ``organizationIdentifier=
                                                         NTRMD-1003600150048`` (ETSI EN 319 412-1 §5.1.4)
Elena Ciobanu      2003004567896   37360000004  4444     **revoked** (keyCompromise, since 2026-01-02):
                                                         listed in the CRL, ``revoked`` from OCSP
Andrei Munteanu    2005005678902   37360000005  5555
=================  ==============  ===========  =======  ==================================================

Each person also has a SIM card for the mobile signature: a second key and
certificate (label ``<person>-sim``, the same subject), held by the bundled
MSSP simulator under the phone number (MSISDN) and unlocked there by the SIM
PIN — the last digit of the MSISDN, four times. Elena Ciobanu's SIM
certificate is revoked with her other one. A PKI generated before SIM cards
existed has none (:attr:`DemoPki.sims` is empty); delete it to get them.

Certificates point (CRLDistributionPoints, AuthorityInfoAccess) at URLs under
the public base URL given at generation, in certomancer's layout (its PKI
architecture is named ``pki``), served by :mod:`msign_soap.pki.services`:

- ``/pki/ocsp/issuing`` — OCSP for the issuing CA's certificates
- ``/pki/crls/issuing/latest.crl``, ``/pki/crls/root/latest.crl`` — CRLs
- ``/pki/certs/issuing/ca.crt``, ``/pki/certs/root/ca.crt`` — CA certificates (DER)

Files: ``demo-pki.json`` (written last: its presence marks a complete PKI),
``certomancer.yml`` (the certomancer configuration it was generated from;
``certomancer --config certomancer.yml animate`` serves the same URLs),
``certs/<label>.crt`` (DER; the SIM cards' ``<label>-sim.crt``), ``keys/<label>.key.pem`` (PKCS #8, unencrypted,
mode 0600) and ``keys/<label>.pub.pem``. This is demo material: the private
keys of every "person" sit unprotected on disk.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from ..errors import ConfigurationError
from .certificates import Identity, load_certificates, load_private_key
from .revocation import Revocation

__all__ = [
    "CA_CERT_PATHS",
    "CRL_PATHS",
    "DEMO_PEOPLE",
    "OCSP_PATH",
    "DemoPerson",
    "DemoPki",
    "generate_demo_pki",
    "load_demo_pki",
]

log = logging.getLogger(__name__)

#: Where the demo services live, relative to the public base URL.
OCSP_PATH = "/pki/ocsp/issuing"
CRL_PATHS = {"issuing": "/pki/crls/issuing/latest.crl", "root": "/pki/crls/root/latest.crl"}
CA_CERT_PATHS = {"issuing": "/pki/certs/issuing/ca.crt", "root": "/pki/certs/root/ca.crt"}

MANIFEST = "demo-pki.json"
MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class DemoPerson:
    """A demo signer; see the table in the module docstring."""

    label: str
    given_name: str
    surname: str
    idnp: str
    #: The phone number of the person's mobile signature SIM card (``373XXXXXXXX``).
    msisdn: str
    organization: str | None = None
    idno: str | None = None
    revoked: bool = False

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.surname}"

    @property
    def sim_label(self) -> str:
        """The label of the SIM card's certificate and key files."""
        return f"{self.label}-sim"

    @property
    def sim_pin(self) -> str:
        """The documented PIN of the SIM card: the MSISDN's last digit, four times."""
        return self.msisdn[-1] * 4


DEMO_PEOPLE: tuple[DemoPerson, ...] = (
    DemoPerson("ion-popescu", "Ion", "Popescu", "2004001234567", "37360000001"),
    DemoPerson("maria-rusu", "Maria", "Rusu", "2001002345678", "37360000002"),
    DemoPerson(
        "vasile-ceban",
        "Vasile",
        "Ceban",
        "2002003456787",
        "37360000003",
        organization="Întreprinderea Demonstrativă SRL",
        idno="1003600150048",
    ),
    DemoPerson("elena-ciobanu", "Elena", "Ciobanu", "2003004567896", "37360000004", revoked=True),
    DemoPerson("andrei-munteanu", "Andrei", "Munteanu", "2005005678902", "37360000005"),
)


@dataclass(frozen=True, eq=False)
class DemoPki:
    """The demo PKI as read from its directory.

    :param people: the demo people's identities by IDNP.
    :param revocations: the certificates the issuing CA has revoked.
    :param sims: the demo people's SIM card identities (mobile signature) by
        MSISDN; empty for a PKI generated before SIM cards existed.
    """

    directory: Path
    public_base_url: str
    root: Identity
    issuing_ca: Identity
    tsa: Identity
    ocsp_responder: Identity
    people: Mapping[str, Identity]
    revocations: tuple[Revocation, ...] = field(default=())
    sims: Mapping[str, Identity] = field(default_factory=dict)

    @property
    def issued_serials(self) -> frozenset[int]:
        """Serial numbers of every certificate the issuing CA issued."""
        issued = [self.tsa, self.ocsp_responder, *self.people.values(), *self.sims.values()]
        return frozenset(i.serial_number for i in issued)

    def url(self, path: str) -> str:
        """The absolute URL of a service path (``OCSP_PATH`` …) of this PKI."""
        return self.public_base_url + path

    def by_name(self, name: str) -> Identity:
        """A demo person by display name (``"Ion Popescu"``).

        :raises KeyError: for a name that is not a demo person.
        """
        for identity in self.people.values():
            if identity.name == name:
                return identity
        raise KeyError(name)


def load_demo_pki(directory: str | os.PathLike[str], public_base_url: str) -> DemoPki:
    """Read the demo PKI in ``directory``, generating it first if absent.

    :param directory: where it lives (``<data_dir>/pki``).
    :param public_base_url: the URL its certificates should point at; used
        only when generating. An existing PKI keeps the URL it was made with
        (a warning is logged when that differs).
    :raises ConfigurationError: when the directory holds something else or a
        damaged PKI, or cannot be written.
    """
    directory = Path(directory)
    if not (directory / MANIFEST).is_file():
        _create(directory, public_base_url)
    pki = _read(directory)
    if pki.public_base_url != public_base_url.rstrip("/"):
        log.warning(
            "the demo PKI in %s points at %s, not at %s; delete it to generate one for the new URL",
            directory,
            pki.public_base_url,
            public_base_url,
        )
    return pki


def _create(directory: Path, public_base_url: str) -> None:
    if directory.is_dir() and any(directory.iterdir()):
        if (directory / MANIFEST).is_file():
            return  # another process has just renamed its PKI into place
        raise ConfigurationError(f"{directory} exists and is not a demo PKI (no {MANIFEST})")
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    except OSError as e:
        raise ConfigurationError(f"cannot create the demo PKI in {directory}: {e.strerror}") from e
    try:
        generate_demo_pki(staging, public_base_url)
        try:
            # atomic; replaces an empty directory, fails on a non-empty one
            os.rename(staging, directory)
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise ConfigurationError(f"cannot create the demo PKI in {directory}: {e.strerror}") from e
            if not (directory / MANIFEST).is_file():
                raise ConfigurationError(f"{directory} exists and is not a demo PKI (no {MANIFEST})") from e
            # another process finished first: use its PKI
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _read(directory: Path) -> DemoPki:
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"unknown format {manifest.get('format')!r}")

        def identity(label: str, chain: tuple[x509.Certificate, ...], **details: Any) -> Identity:
            (certificate,) = load_certificates(directory / "certs" / f"{label}.crt")
            key = load_private_key(directory / "keys" / f"{label}.key.pem", trusted=True)
            name = details.pop("name", None) or _common_name(certificate)
            return Identity(name, certificate, key, chain, **details)

        root = identity("root", ())
        issuing = identity("issuing", (root.certificate,))
        below = (issuing.certificate, root.certificate)
        revoked = {r["label"]: r for r in manifest["revocations"]}
        people = {}
        for p in manifest["people"]:
            person = identity(
                p["label"],
                below,
                name=p["name"],
                idnp=p["idnp"],
                idno=p.get("idno"),
                organization=p.get("organization"),
                revoked=p["label"] in revoked,
            )
            people[p["idnp"]] = person
        serials = {p["label"]: people[p["idnp"]].serial_number for p in manifest["people"]}
        revocations = [
            Revocation(serials[label], datetime.fromisoformat(r["date"]), x509.ReasonFlags[r["reason"]])
            for label, r in revoked.items()
        ]
        sims = {}
        for s in manifest.get("sims", ()):  # absent from PKIs made before SIM cards
            sim_revocation = s.get("revocation")
            sims[s["msisdn"]] = identity(
                s["label"],
                below,
                name=people[s["idnp"]].name,
                idnp=s["idnp"],
                idno=people[s["idnp"]].idno,
                organization=people[s["idnp"]].organization,
                revoked=sim_revocation is not None,
            )
            if sim_revocation is not None:
                revocations.append(
                    Revocation(
                        sims[s["msisdn"]].serial_number,
                        datetime.fromisoformat(sim_revocation["date"]),
                        x509.ReasonFlags[sim_revocation["reason"]],
                    )
                )
        return DemoPki(
            directory=directory,
            public_base_url=manifest["public_base_url"],
            root=root,
            issuing_ca=issuing,
            tsa=identity("tsa", below),
            ocsp_responder=identity("ocsp", below),
            people=people,
            revocations=tuple(revocations),
            sims=sims,
        )
    except (OSError, ValueError, KeyError, TypeError, ConfigurationError) as e:
        raise ConfigurationError(
            f"the demo PKI in {directory} is damaged ({e}); delete the directory to generate a new one"
        ) from e


def _common_name(certificate: x509.Certificate) -> str:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value) if names else certificate.subject.rfc4514_string()


def generate_demo_pki(directory: str | os.PathLike[str], public_base_url: str, now: datetime | None = None) -> None:
    """Generate a new demo PKI into ``directory`` (created or empty).

    Most callers want :func:`load_demo_pki`, which generates only when needed
    and does so atomically.

    :param directory: the target directory.
    :param public_base_url: absolute ``http(s)://`` URL the certificates point at.
    :param now: generation time, from which validity ends are counted.
    :raises ConfigurationError: on an unusable URL.
    """
    # certomancer is needed only here, not to read an existing PKI
    from .generate import write_demo_pki

    write_demo_pki(Path(directory), public_base_url, DEMO_PEOPLE, now or datetime.now(UTC))
