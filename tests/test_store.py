"""Storage: migrations, SQLite WAL, persistence across restarts, configuration."""

from __future__ import annotations

import threading

import pytest

from msign_soap.config import load_config
from msign_soap.errors import ConfigurationError
from msign_soap.store import open_store
from msign_soap.store.migrations import MIGRATIONS, current_version

from .conftest import make_service, sha1


def test_fresh_database_reaches_the_latest_version(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/db.sqlite3")
    with store.db.connection_context():
        assert current_version(store.db, store.models) == len(MIGRATIONS)
        assert store.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    store.close()


def test_migrations_are_idempotent_and_concurrent(tmp_path):
    url = f"sqlite:///{tmp_path}/db.sqlite3"
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


def test_requests_survive_a_restart(tmp_path, clock):
    from msign_soap.core import SignContentInput, SignRequestInput

    first = make_service(tmp_path, clock)
    consumer = first.requests.demo_consumer()
    request_id = first.requests.post(consumer, SignRequestInput("Hash", [SignContentInput(sha1("x"), "c")], "Short"))
    first.close()
    second = make_service(tmp_path, clock)
    try:
        assert second.requests.demo_consumer().id == consumer.id
        assert second.requests.get(second.requests.demo_consumer(), request_id, None).status.value == "Pending"
    finally:
        second.close()


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


def test_add_column_if_missing_adds_once(tmp_path):
    import peewee as pw

    from msign_soap.store.migrations import add_column_if_missing

    db = pw.SqliteDatabase(str(tmp_path / "db.sqlite3"))

    class Old(pw.Model):
        name = pw.CharField()

        class Meta:
            database = db
            table_name = "thing"

    class New(Old):
        note = pw.TextField(null=True)

        class Meta:
            database = db
            table_name = "thing"

    db.create_tables([Old])
    Old.create(name="kept")
    assert add_column_if_missing(db, New, "note") is True
    assert add_column_if_missing(db, New, "note") is False  # a fresh database already has it
    assert [(t.name, t.note) for t in New.select()] == [("kept", None)]
    db.close()


def test_a_schema_7_database_is_upgraded_in_place(tmp_path, clock):
    """Version 8 moves results out of the contents' rows; a draft stored whole still finishes."""
    from msign_soap.core import ExpectedSigner, SignContentInput, SignRequestInput, SignStatus, sign_item

    from .conftest import minimal_pdf

    service = make_service(tmp_path, clock)
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
    with db.connection_context():  # back to version 7: results in sign_content, drafts stored whole
        db.execute_sql("ALTER TABLE sign_content ADD COLUMN certificate BLOB")
        db.execute_sql("ALTER TABLE sign_content ADD COLUMN signature BLOB")
        db.execute_sql(
            "UPDATE sign_content SET certificate = (SELECT certificate FROM sign_result r WHERE "
            "r.request_id = sign_content.request_id AND r.position = sign_content.position), signature = "
            "(SELECT signature FROM sign_result r WHERE r.request_id = sign_content.request_id AND "
            "r.position = sign_content.position)"
        )
        db.execute_sql("DROP TABLE sign_result")
        db.execute_sql("DELETE FROM schema_version WHERE version >= 8")  # later steps re-run harmlessly
        [(update,)] = db.execute_sql("SELECT prepared FROM sign_draft WHERE request_id = ?", (pending,)).fetchall()
        db.execute_sql("UPDATE sign_draft SET prepared = ? WHERE request_id = ?", (pdf + update, pending))
    service.close()

    upgraded = make_service(tmp_path, clock)
    try:
        with upgraded.store.db.connection_context():
            assert current_version(upgraded.store.db, upgraded.store.models) == len(MIGRATIONS)
            leftover = upgraded.store.db.execute_sql("SELECT COUNT(*) FROM sign_content WHERE signature IS NOT NULL")
            assert leftover.fetchone()[0] == 0
        assert upgraded.requests.get(consumer, done, None).results == expected
        upgraded.signing.finish(pending, [sign_item(ion.private_key, i) for i in items])
        answer = upgraded.requests.get(consumer, pending, None)
        assert answer.status is SignStatus.SUCCESS and answer.results[0].signature.startswith(pdf)
    finally:
        upgraded.close()
