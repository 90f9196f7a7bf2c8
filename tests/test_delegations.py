"""Who signs: IDNP/IDNO from certificates, ExpectedSigner rules, delegations and their CLI."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from msign_soap.core import (
    DelegationRegistry,
    DelegatorType,
    ExpectedSigner,
    SignContentInput,
    SignerExpectation,
    SignerIdentity,
    SignRequestInput,
    SignStatus,
    check_expected_signer,
    signer_identity,
)
from msign_soap.core.signer_checks import idno_from_organization_identifier, idnp_from_serial_number
from msign_soap.errors import InvalidParameter, SignerRejected
from msign_soap.i18n import messages

ION, MARIA, ANDREI = "2004001234567", "2001002345678", "2005005678902"
IDNO = "1003600150048"


# -- reading the certificate ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "idnp"),
    [
        pytest.param("2004001234567", ION, id="bare"),
        pytest.param("PNOMD-2004001234567", ION, id="etsi-pno"),
        pytest.param("IDCMD-2004001234567", ION, id="etsi-idc"),
        pytest.param(" pnomd-2004001234567 ", ION, id="lower-case-spaces"),
        pytest.param("PNORO-2004001234567", None, id="another-country"),
        pytest.param("PASMD-2004001234567", None, id="passport-number"),
        pytest.param("200400123456", None, id="twelve-digits"),
        pytest.param("PNOMD2004001234567", None, id="no-hyphen"),
        pytest.param("", None, id="empty"),
    ],
)
def test_idnp_from_serial_number(value, idnp):
    assert idnp_from_serial_number(value) == idnp


@pytest.mark.parametrize(
    ("value", "idno"),
    [
        pytest.param("NTRMD-1003600150048", IDNO, id="etsi-ntr"),
        pytest.param("1003600150048", IDNO, id="bare"),
        pytest.param("VATMD-1003600150048", None, id="vat"),
        pytest.param("NTRRO-1003600150048", None, id="another-country"),
    ],
)
def test_idno_from_organization_identifier(value, idno):
    assert idno_from_organization_identifier(value) == idno


def certificate(*attributes: tuple[x509.ObjectIdentifier, str]) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


@pytest.mark.parametrize(
    ("attributes", "identity"),
    [
        pytest.param([(NameOID.SERIAL_NUMBER, "PNOMD-" + ION)], SignerIdentity(ION, None), id="person"),
        pytest.param(
            [(NameOID.SERIAL_NUMBER, ION), (NameOID.ORGANIZATION_IDENTIFIER, "NTRMD-" + IDNO)],
            SignerIdentity(ION, IDNO),
            id="organization-identifier",
        ),
        pytest.param(
            [(NameOID.SERIAL_NUMBER, ION), (NameOID.ORGANIZATION_NAME, f"Întreprinderea SRL {IDNO}")],
            SignerIdentity(ION, IDNO),
            id="idno-at-the-end-of-o",
        ),
        pytest.param(
            [(NameOID.ORGANIZATION_NAME, "Întreprinderea SRL 1003600150049")],
            SignerIdentity(None, None),
            id="bad-check-digit-in-o",
        ),
        pytest.param(
            [(NameOID.SERIAL_NUMBER, "PNORO-" + ION), (NameOID.SERIAL_NUMBER, "IDCMD-" + MARIA)],
            SignerIdentity(MARIA, None),
            id="first-moldovan-serial-number",
        ),
        pytest.param([(NameOID.COMMON_NAME, "Nobody")], SignerIdentity(None, None), id="nothing"),
    ],
)
def test_signer_identity(attributes, identity):
    assert signer_identity(certificate(*attributes)) == identity


# -- the rules -------------------------------------------------------------------


def delegated(pairs: set[tuple[str, str, int]]) -> Any:
    return lambda delegator, signer, role: (delegator, signer, role) in pairs


RULES = [
    pytest.param(SignerIdentity(ION, None), SignerExpectation(ION), None, id="expected-signer"),
    pytest.param(SignerIdentity(MARIA, None), SignerExpectation(ION), messages.SIGNER_MISMATCH, id="other-person"),
    pytest.param(SignerIdentity(None, None), SignerExpectation(ION), messages.SIGNER_MISMATCH, id="no-idnp"),
    pytest.param(SignerIdentity(None, None), SignerExpectation(None), None, id="anyone-for-pdf"),
    pytest.param(
        SignerIdentity(ION, IDNO), SignerExpectation(ION, DelegatorType.ORGANIZATION, IDNO), None, id="organization"
    ),
    pytest.param(
        SignerIdentity(ION, None),
        SignerExpectation(ION, DelegatorType.ORGANIZATION, IDNO),
        messages.ORGANIZATION_MISMATCH,
        id="no-organization",
    ),
    pytest.param(
        SignerIdentity(MARIA, None), SignerExpectation(MARIA, DelegatorType.PERSON, ION), None, id="delegated"
    ),
    pytest.param(
        SignerIdentity(ANDREI, None),
        SignerExpectation(ANDREI, DelegatorType.PERSON, ION),
        messages.NO_DELEGATION,
        id="not-delegated",
    ),
    pytest.param(
        SignerIdentity(None, None),
        SignerExpectation(None, DelegatorType.PERSON, ION),
        messages.NO_DELEGATION,
        id="delegation-needs-an-idnp",
    ),
]


@pytest.mark.parametrize(("identity", "expected", "refusal"), RULES)
def test_check_expected_signer(identity, expected, refusal):
    lookup = delegated({(ION, MARIA, 0)})
    if refusal is None:
        check_expected_signer(identity, expected, lookup)
    else:
        with pytest.raises(SignerRejected) as refused:
            check_expected_signer(identity, expected, lookup)
        assert refused.value.message_id == refusal


# -- the registry ----------------------------------------------------------------


@pytest.fixture
def registry(service) -> DelegationRegistry:
    return service.signing.delegations


@pytest.mark.postgresql
def test_add_find_remove(registry, clock):
    first = registry.add(ION, MARIA)
    assert (first.role_id, first.created_at) == (0, clock.now)
    assert registry.add(ION, MARIA) == first  # adding twice changes nothing
    registry.add(ION, MARIA, 7)
    registry.add(ANDREI, MARIA, 2)
    assert [(d.delegator_idnp, d.role_id) for d in registry.find(signer=MARIA)] == [(ION, 0), (ION, 7), (ANDREI, 2)]
    assert [d.signer_idnp for d in registry.find(delegator=ANDREI)] == [MARIA]
    assert registry.remove(ION, MARIA, 7) == 1
    assert registry.remove(ION, MARIA, 7) == 0
    assert registry.remove(ANDREI, MARIA) == 1
    assert [(d.delegator_idnp, d.role_id) for d in registry.find()] == [(ION, 0)]


@pytest.mark.parametrize(
    ("registered", "requested", "allowed"),
    [
        pytest.param(0, 0, True, id="any-role-for-no-role"),
        pytest.param(0, 5, True, id="any-role-for-a-role"),
        pytest.param(5, 5, True, id="same-role"),
        pytest.param(3, 5, False, id="other-role"),
        pytest.param(3, 0, True, id="a-role-for-no-role"),
    ],
)
def test_roles(registry, registered, requested, allowed):
    registry.add(ION, MARIA, registered)
    assert registry.allows(ION, MARIA, requested) is allowed
    assert registry.allows(MARIA, ION, requested) is False  # a delegation has a direction


@pytest.mark.parametrize(
    ("delegator", "signer", "role", "field"),
    [
        pytest.param("2004001234568", MARIA, 0, "delegator", id="bad-check-digit"),
        pytest.param(ION, "123", 0, "signer", id="short-signer"),
        pytest.param(ION, ION, 0, "signer", id="self"),
        pytest.param(ION, MARIA, -1, "role", id="negative-role"),
    ],
)
def test_add_refuses(registry, delegator, signer, role, field):
    with pytest.raises(InvalidParameter) as refused:
        registry.add(delegator, signer, role)
    assert refused.value.field == field
    assert registry.find() == []


# -- through the signing flow -----------------------------------------------------


@pytest.mark.parametrize(
    ("registered", "requested", "outcome"),
    [
        pytest.param(None, 5, SignStatus.FAILURE, id="none"),
        pytest.param(0, 5, SignStatus.SUCCESS, id="any-role"),
        pytest.param(5, 5, SignStatus.SUCCESS, id="same-role"),
        pytest.param(3, 5, SignStatus.FAILURE, id="other-role"),
    ],
)
def test_person_delegation_in_the_flow(service, registered, requested, outcome):
    if registered is not None:
        service.signing.delegations.add(ION, MARIA, registered)
    signer = ExpectedSigner(MARIA, "Person", ION, requested)
    request = SignRequestInput("Hash", [SignContentInput(hashlib.sha1(b"x").digest())], "Short", expected_signer=signer)
    consumer = service.requests.demo_consumer()
    request_id = service.requests.post(consumer, request)
    maria = service.pki.people[MARIA]
    try:
        service.signing.sign_with_key(request_id, maria.certificate_der, maria.chain_der, maria.private_key)
    except SignerRejected as e:
        assert e.message_id == messages.NO_DELEGATION
    response = service.requests.get(consumer, request_id, "en")
    assert response.status is outcome
    if outcome is SignStatus.FAILURE:
        assert response.message == messages.NO_DELEGATION


# -- the command line ---------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "msign_soap.cli", "delegation", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_cli_round_trip(tmp_path):
    data = ["--data-dir", str(tmp_path / "data")]
    assert cli("add", "--delegator", ION, "--signer", MARIA, *data).returncode == 0
    added = cli("add", "--delegator", ION, "--signer", ANDREI, "--role", "4", *data)
    assert added.returncode == 0 and added.stdout.strip() == f"{ION} -> {ANDREI} role 4"
    listed = cli("list", *data)
    assert [line.split("\t")[:3] for line in listed.stdout.splitlines()] == [[ION, MARIA, "any"], [ION, ANDREI, "4"]]
    assert cli("list", "--signer", ANDREI, *data).stdout.count("\n") == 1
    assert cli("remove", "--delegator", ION, "--signer", ANDREI, *data).returncode == 0
    assert cli("remove", "--delegator", ION, "--signer", ANDREI, *data).returncode == 1  # nothing left to remove
    assert [line.split("\t")[1] for line in cli("list", *data).stdout.splitlines()] == [MARIA]
    assert not (tmp_path / "data" / "pki").exists()  # the registry needs no PKI


def test_cli_takes_the_service_options(tmp_path):
    database = tmp_path / "elsewhere.sqlite3"
    config = tmp_path / "msign.toml"
    config.write_text(f'database_url = "sqlite:///{database}"\n')
    assert cli("add", "--delegator", ION, "--signer", MARIA, "--config", str(config)).returncode == 0
    url = ["--database-url", f"sqlite:///{database}"]
    assert cli("list", *url).stdout.startswith(f"{ION}\t{MARIA}\tany\t")
    # what the service reads
    from msign_soap.store import open_store

    store = open_store(f"sqlite:///{database}")
    try:
        assert DelegationRegistry(store).allows(ION, MARIA)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["add", "--delegator", "2004001234568", "--signer", MARIA], "delegator must be", id="bad-idnp"),
        pytest.param(["add", "--delegator", ION, "--signer", ION], "must differ", id="self"),
    ],
)
def test_cli_refuses(tmp_path, args, message):
    result = cli(*args, "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 2 and message in result.stderr


def test_cli_needs_delegator_and_signer(tmp_path):
    result = cli("add", "--delegator", ION, "--data-dir", str(tmp_path))
    assert result.returncode == 2 and "--signer" in result.stderr
    assert not Path(tmp_path / "msign.sqlite3").exists()


def test_schema_version_2_adds_the_tables_to_a_version_1_database(tmp_path):
    import peewee as pw

    from msign_soap.store import define_models, migrate
    from msign_soap.store.migrations import MIGRATIONS

    db = pw.SqliteDatabase(tmp_path / "v1.sqlite3")
    models = define_models(db)
    with db.connection_context():
        db.create_tables([models.SchemaVersion])
        models.SchemaVersion.create(version=1, applied_at=datetime.now(UTC))
        MIGRATIONS[0](db, models)
        assert not models.Delegation.table_exists()
        assert migrate(db, models) == len(MIGRATIONS)
        assert all(m.table_exists() for m in (models.Delegation, models.SignDraft, models.SignPreparation))
