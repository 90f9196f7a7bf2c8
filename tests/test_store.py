"""Storage: migrations (on SQLite and PostgreSQL), SQLite WAL, persistence
across restarts, configuration."""

from __future__ import annotations

import os
import threading

import pytest

from msign_soap.config import load_config
from msign_soap.errors import ConfigurationError
from msign_soap.store import open_store
from msign_soap.store.migrations import MIGRATIONS, current_version

from .conftest import make_service, sha1

pytestmark = pytest.mark.postgresql


@pytest.fixture
def url(tmp_path, database_url) -> str:
    """A database URL: an SQLite file, or a fresh PostgreSQL database."""
    return database_url or f"sqlite:///{tmp_path}/db.sqlite3"


def test_fresh_database_reaches_the_latest_version(url):
    from msign_soap.core import utcnow

    store = open_store(url)
    db = store.db
    with db.connection_context():
        assert current_version(db, store.models) == len(MIGRATIONS)
        # naive UTC, as every time stored (the test server's zone is not UTC)
        applied_at = store.models.SchemaVersion.get_by_id(1).applied_at
        assert applied_at.tzinfo is None and abs((utcnow() - applied_at).total_seconds()) < 600
        if url.startswith("sqlite"):
            assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    store.close()


def test_migrations_are_idempotent_and_concurrent(url):
    errors: list[BaseException] = []

    def open_once() -> None:
        try:
            open_store(url).close()
        except BaseException as e:  # noqa: BLE001 -- reported below
            errors.append(e)

    threads = [threading.Thread(target=open_once) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    store = open_store(url)
    with store.db.connection_context():
        assert store.models.SchemaVersion.select().count() == len(MIGRATIONS)
    store.close()


def test_requests_survive_a_restart(tmp_path, clock, database_url):
    from msign_soap.core import SignContentInput, SignRequestInput

    first = make_service(tmp_path, clock, database_url=database_url)
    consumer = first.requests.demo_consumer()
    request_id = first.requests.post(consumer, SignRequestInput("Hash", [SignContentInput(sha1("x"), "c")], "Short"))
    first.close()
    second = make_service(tmp_path, clock, database_url=database_url)
    try:
        assert second.requests.demo_consumer().id == consumer.id
        assert second.requests.get(second.requests.demo_consumer(), request_id, None).status.value == "Pending"
    finally:
        second.close()


def test_postgresql_tests_run_under_ci():
    """CI installs PostgreSQL (``scripts/test-setup``): there the PostgreSQL
    tests must run, never be skipped for want of it."""
    from .postgres_support import postgres_missing

    reason = postgres_missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the PostgreSQL tests")
        pytest.skip(reason)


def test_the_test_server_is_a_throwaway_on_loopback(postgres_url):
    store = open_store(postgres_url)
    try:
        with store.db.connection_context():
            settings = {
                name: store.db.execute_sql(f"SHOW {name}").fetchone()[0]
                for name in ("listen_addresses", "fsync", "TimeZone", "server_version_num")
            }
    finally:
        store.close()
    assert settings["listen_addresses"] == "127.0.0.1" and settings["fsync"] == "off"
    assert settings["TimeZone"] != "UTC"  # times stored as aware datetimes would shift
    print(f"PostgreSQL {settings['server_version_num']}")


def test_unsupported_database_url(tmp_path):
    with pytest.raises(ConfigurationError, match="unsupported database URL scheme: mysql"):
        open_store("mysql://localhost/db")


def test_config_from_file_environment_and_overrides(tmp_path):
    file = tmp_path / "msign.toml"
    file.write_text("port = 9000\nrequest_lifetime = 600\n[future_section]\nkey = 1\n")
    config = load_config(
        file, environ={"MSIGN_PORT": "9100", "MSIGN_DEMO_MODE": "false", "OTHER": "x"}, data_dir=tmp_path
    )
    assert (config.port, config.request_lifetime, config.demo_mode) == (9100, 600, False)
    assert config.extra == {"future_section": {"key": 1}}
    assert config.database == f"sqlite:///{(tmp_path / 'msign.sqlite3').resolve()}"


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"MSIGN_PORT": "eighty"}, "port: 'eighty' is not a valid int"),
        ({"MSIGN_DEMO_MODE": "maybe"}, "demo_mode: 'maybe' is not a valid bool"),
        ({"MSIGN_REQUEST_LIFETIME": "0"}, "request_lifetime must be a positive whole number"),
        ({"MSIGN_PORT": "70000"}, "port must be between 0"),
        ({"MSIGN_MAX_BODY_BYTES": "10"}, "max_total_content_bytes must not exceed max_body_bytes"),
    ],
)
def test_invalid_configuration_is_refused_with_a_clear_message(environ, message):
    with pytest.raises(ConfigurationError, match=message):
        load_config(environ=environ)


def test_unknown_key_in_file(tmp_path):
    file = tmp_path / "msign.toml"
    file.write_text("prot = 1\n")
    with pytest.raises(ConfigurationError, match="unknown configuration key 'prot'"):
        load_config(file, environ={})


def test_add_column_if_missing_adds_once(url):
    import peewee as pw
    from playhouse.db_url import connect

    from msign_soap.store.migrations import add_column_if_missing
    from msign_soap.store.transactions import write_transaction

    db = connect(url)
    if isinstance(db, pw.SqliteDatabase):
        db.pragma("foreign_keys", 1, permanent=True)

    class Old(pw.Model):
        name = pw.CharField()

        class Meta:
            database = db
            table_name = "thing"

    class New(Old):
        note = pw.TextField(null=True)
        label = pw.TextField(default="it's")
        count = pw.IntegerField(default=3)

        class Meta:
            database = db
            table_name = "thing"

    class Part(pw.Model):
        thing = pw.ForeignKeyField(Old, on_delete="CASCADE")

        class Meta:
            database = db
            table_name = "part"

    db.create_tables([Old, Part])
    Part.create(thing=Old.create(name="kept"))
    with write_transaction(db):  # as the migrations do
        assert add_column_if_missing(db, New, "note") is True
        # NOT NULL with a default: SQLite must not rebuild "thing", which would cascade to "part"
        assert add_column_if_missing(db, New, "label") is True
        assert add_column_if_missing(db, New, "count") is True
    assert add_column_if_missing(db, New, "note") is False  # a fresh database already has it
    assert [(t.name, t.note, t.label, t.count) for t in New.select()] == [("kept", None, "it's", 3)]
    assert Part.select().count() == 1
    with pytest.raises(pw.IntegrityError), db.atomic():
        db.execute_sql("UPDATE thing SET label = NULL")
    db.close()


def test_a_schema_7_database_is_upgraded_in_place(tmp_path, clock, database_url):
    """Version 8 moves results out of the contents' rows (a draft stored whole
    still finishes), version 9 adds a column to the consumers' table, version
    10 makes the audit trail's tables."""
    import peewee as pw

    from msign_soap.core import ExpectedSigner, SignContentInput, SignRequestInput, SignStatus, sign_item

    from .conftest import minimal_pdf

    service = make_service(tmp_path, clock, database_url=database_url)
    consumer, ion = service.requests.demo_consumer(), service.pki.people["2004001234567"]
    done = service.requests.post(consumer, SignRequestInput("Hash", [SignContentInput(sha1("x"), "c")], "Short"))
    service.signing.sign_with_key(done, ion.certificate_der, ion.chain_der, ion.private_key)
    expected = service.requests.get(consumer, done, None).results
    pdf = minimal_pdf()
    pending = service.requests.post(
        consumer, SignRequestInput("Pdf", [SignContentInput(pdf)], "Short", expected_signer=ExpectedSigner(ion.idnp))
    )
    items = service.signing.prepare(pending, ion.certificate_der, ion.chain_der)
    db = service.store.db
    blob, param = ("BYTEA" if isinstance(db, pw.PostgresqlDatabase) else "BLOB"), db.param
    with db.connection_context():  # back to version 7: results in sign_content, drafts stored whole
        db.execute_sql(f"ALTER TABLE sign_content ADD COLUMN certificate {blob}")
        db.execute_sql(f"ALTER TABLE sign_content ADD COLUMN signature {blob}")
        db.execute_sql(
            "UPDATE sign_content SET certificate = (SELECT certificate FROM sign_result r WHERE "
            "r.request_id = sign_content.request_id AND r.position = sign_content.position), signature = "
            "(SELECT signature FROM sign_result r WHERE r.request_id = sign_content.request_id AND "
            "r.position = sign_content.position)"
        )
        db.execute_sql("DROP TABLE sign_result")
        # version 9: no consumer certificates or networks; version 10: no audit trail
        for table in ("consumer_certificate", "audit_event", "audit_anchor"):
            db.execute_sql(f"DROP TABLE {table}")
        db.execute_sql("ALTER TABLE consumer DROP COLUMN allowed_networks")
        db.execute_sql("DELETE FROM schema_version WHERE version >= 8")
        [(update,)] = db.execute_sql(
            f"SELECT prepared FROM sign_draft WHERE request_id = {param}", (pending,)
        ).fetchall()
        db.execute_sql(f"UPDATE sign_draft SET prepared = {param} WHERE request_id = {param}", (pdf + update, pending))
    service.close()

    upgraded = make_service(tmp_path, clock, database_url=database_url)
    try:
        db, models = upgraded.store.db, upgraded.store.models
        with db.connection_context():
            assert current_version(db, models) == len(MIGRATIONS)
            leftover = db.execute_sql("SELECT COUNT(*) FROM sign_content WHERE signature IS NOT NULL")
            assert leftover.fetchone()[0] == 0
            assert models.Consumer.get_by_id(consumer.id).allowed_networks == ""
            assert models.AuditEvent.select().count() == 0
        assert upgraded.requests.get(consumer, done, None).results == expected
        upgraded.signing.finish(pending, [sign_item(ion.private_key, i) for i in items])
        answer = upgraded.requests.get(consumer, pending, None)
        assert answer.status is SignStatus.SUCCESS and answer.results[0].signature.startswith(pdf)
        assert [r.event for r in upgraded.requests.audit.history(pending)] == ["request.signed", "results.fetched"]
    finally:
        upgraded.close()
