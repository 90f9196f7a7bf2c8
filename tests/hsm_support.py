"""SoftHSM2 tokens for the PKCS #11 cloud keys: Ion Popescu's demo RSA key
(``securesign``) and an EC key for Andrei Munteanu made in the token.

A process initializes a PKCS #11 module once, and SoftHSM2 reads
``SOFTHSM2_CONF`` then: the whole suite shares one configuration (the
session fixture ``softhsm`` in ``conftest.py``), made before the module is loaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from msign_soap.pki import load_demo_pki

from .pki_support import TEMPLATE_URL, shared_demo_pki_template

ION = "2004001234567"
ANDREI = "2005005678902"
SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")
PIN = "4567"
SO_PIN = "12345678"


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing under CI")
    pytest.skip(f"{what} is not installed")


def make_softhsm(directory: Path) -> Path:
    """SoftHSM2 with Ion's demo RSA key (``securesign``) and an EC key for Andrei made in the token."""
    if not SOFTHSM.is_file() or shutil.which("softhsm2-util") is None:
        _missing("softhsm2")
    try:
        import pkcs11
    except ImportError:
        _missing("python-pkcs11")
    from pkcs11 import Attribute, KeyType, ObjectClass
    from pkcs11.util.ec import encode_ec_public_key, encode_named_curve_parameters
    from pkcs11.util.rsa import decode_rsa_private_key
    from pkcs11.util.x509 import decode_x509_certificate

    from .conftest import issue_certificate

    (directory / "tokens").mkdir()
    conf = directory / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {directory / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    # read at C_Initialize, once per process: nothing else in the suite loads SoftHSM2
    os.environ["SOFTHSM2_CONF"] = str(conf)
    for idnp in (ION, ANDREI):
        subprocess.run(
            [
                "softhsm2-util",
                "--init-token",
                "--free",
                "--label",
                f"securesign-{idnp}",
                "--pin",
                PIN,
                "--so-pin",
                SO_PIN,
            ],
            check=True,
            capture_output=True,
        )
    module = pkcs11.lib(str(SOFTHSM))
    pki = load_demo_pki(shared_demo_pki_template(), TEMPLATE_URL)

    ion = pki.people[ION]
    with module.get_token(token_label=f"securesign-{ION}").open(user_pin=PIN, rw=True) as session:
        pkcs1 = ion.private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
        key = decode_rsa_private_key(pkcs1)
        key.update({Attribute.TOKEN: True, Attribute.ID: b"\x01", Attribute.LABEL: "signing", Attribute.SIGN: True})
        session.create_object(key)
        for key_id, der in ((b"\x01", ion.certificate_der), (b"\x02", pki.issuing_ca.certificate_der)):
            certificate = decode_x509_certificate(der)
            certificate.update({Attribute.TOKEN: True, Attribute.ID: key_id, Attribute.LABEL: "certificate"})
            session.create_object(certificate)

    with module.get_token(token_label=f"securesign-{ANDREI}").open(user_pin=PIN, rw=True) as session:
        parameters = session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True
        )
        public, _ = parameters.generate_keypair(store=True, id=b"\x01", label="signing")
        public_key = serialization.load_der_public_key(encode_ec_public_key(public))
        der = _issue(pki, public_key, ANDREI, issue_certificate)
        session.create_object(
            {
                **decode_x509_certificate(der),
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.TOKEN: True,
                Attribute.ID: b"\x01",
                Attribute.LABEL: "signing",
            }
        )
    return SOFTHSM


def _issue(pki: Any, public_key: Any, idnp: str, issue_certificate: Any) -> bytes:
    """A certificate for ``public_key`` from the demo issuing CA, its IDNP written ETSI-style."""
    return issue_certificate("Andrei Munteanu (HSM)", public_key, pki.issuing_ca, idnp="PNOMD-" + idnp).certificate_der
