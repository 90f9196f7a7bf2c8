"""Schema migrations: numbered steps applied in order, each in a transaction.

Add a step by appending a function to :data:`MIGRATIONS`; never edit one that
has shipped. Version 1 creates the initial schema; version 2 adds the signing
flow's tables (preparations, drafts) and delegations; version 3 the sign
page's sessions; version 4 the cloud keys; version 5 the PIN counters of
PKCS #11 tokens; version 6 the mobile signature's transactions; version 7
the local signer's accepted results; version 8 moves results out of the
contents' rows into a table of their own; version 9 gives consumers their
client certificates and allowed networks; version 10 adds the audit trail
and its anchors; version 11 the completion webhooks.

Steps create tables from the *current* models, so a fresh database gets every
column at once while an old one gets them step by step. A step that adds a
column to an existing table must therefore use :func:`add_column_if_missing`,
which does nothing on a database created with that column already.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import peewee as pw
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as run_migrations

from ..errors import MSignError
from .models import Models
from .transactions import advisory_lock, write_transaction

__all__ = ["MIGRATIONS", "add_column_if_missing", "current_version", "migrate"]


def add_column_if_missing(db: pw.Database, model: type[pw.Model], field_name: str) -> bool:
    """Add ``model.field_name``'s column to its table unless it is there; True if added.

    A NOT NULL column with a default is added by one ``ALTER TABLE … ADD
    COLUMN … NOT NULL DEFAULT …``, which fills the rows there. Peewee's way
    (add it nullable, fill it, then make it NOT NULL) rebuilds the table on
    SQLite, and inside the migration's transaction SQLite cannot turn off its
    foreign keys: dropping the old table would cascade to every row that
    references it (adding a column to ``consumer`` deleted every request).

    :raises MSignError: the default cannot be written as an SQL literal.
    """
    field = model._meta.fields[field_name]
    table = model._meta.table_name
    if field.column_name in {column.name for column in db.get_columns(table)}:
        return False
    if field.null or field.default is None:
        run_migrations(SchemaMigrator.from_database(db).add_column(table, field.column_name, field))
        return True
    context = db.get_sql_context()
    context.literal("ALTER TABLE ").sql(pw.Entity(table)).literal(" ADD COLUMN ").sql(field.ddl(context))
    sql, params = context.query()
    db.execute_sql(f"{sql} DEFAULT {_sql_literal(field.default)}", params)
    return True


def _sql_literal(value: object) -> str:
    """``value`` as a literal of DDL, which takes no bound parameters."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise MSignError(f"a column default of type {type(value).__name__} cannot be written in DDL")


def _initial_schema(db: pw.Database, models: Models) -> None:
    db.create_tables([models.Consumer, models.SignRequest, models.SignContent])


def _signing_flow(db: pw.Database, models: Models) -> None:
    db.create_tables([models.SignPreparation, models.SignDraft, models.Delegation])


def _sign_page(db: pw.Database, models: Models) -> None:
    db.create_tables([models.SignSession])


def _cloud_keys(db: pw.Database, models: Models) -> None:
    # safe: databases started before this step existed created the table themselves
    db.create_tables([models.CloudKey], safe=True)


def _pin_counters(db: pw.Database, models: Models) -> None:
    db.create_tables([models.PinCounter])


def _mobile_signatures(db: pw.Database, models: Models) -> None:
    db.create_tables([models.MobileSigning, models.MobileTransaction])


def _local_signer_results(db: pw.Database, models: Models) -> None:
    db.create_tables([models.LocalSignerResult])


def _results_table(db: pw.Database, models: Models) -> None:
    db.create_tables([models.SignResult])
    content = models.SignContent._meta.table_name
    if "signature" not in {column.name for column in db.get_columns(content)}:
        return  # created without the old columns
    result = models.SignResult._meta.table_name
    db.execute_sql(
        f"INSERT INTO {result} (request_id, position, certificate, signature) "  # noqa: S608 -- our table names
        f"SELECT request_id, position, certificate, signature FROM {content} WHERE signature IS NOT NULL"
    )
    db.execute_sql(f"UPDATE {content} SET certificate = NULL, signature = NULL WHERE signature IS NOT NULL")  # noqa: S608


def _consumer_certificates(db: pw.Database, models: Models) -> None:
    db.create_tables([models.ConsumerCertificate])
    add_column_if_missing(db, models.Consumer, "allowed_networks")


def _audit_trail(db: pw.Database, models: Models) -> None:
    db.create_tables([models.AuditEvent, models.AuditAnchor])


def _webhooks(db: pw.Database, models: Models) -> None:
    add_column_if_missing(db, models.Consumer, "webhook_url")
    add_column_if_missing(db, models.Consumer, "webhook_key")
    db.create_tables([models.WebhookDelivery])


MIGRATIONS: list[Callable[[pw.Database, Models], None]] = [
    _initial_schema,
    _signing_flow,
    _sign_page,
    _cloud_keys,
    _pin_counters,
    _mobile_signatures,
    _local_signer_results,
    _results_table,
    _consumer_certificates,
    _audit_trail,
    _webhooks,
]


#: Key of the PostgreSQL advisory lock around the schema version's table ("msignmig").
_LOCK_KEY = 0x6D7369676E6D6967


def current_version(db: pw.Database, models: Models) -> int:
    """The highest applied migration, 0 for an empty database."""
    if not models.SchemaVersion.table_exists():
        return 0
    return models.SchemaVersion.select(pw.fn.MAX(models.SchemaVersion.version)).scalar() or 0


def migrate(db: pw.Database, models: Models) -> int:
    """Bring the schema up to date; returns the version reached.

    Safe to run from several processes and hosts at once: the versions'
    table is made under a lock, each step records its version in the same
    transaction, and a step another process already applied is skipped (the
    primary key on the version refuses a second record).
    """
    with write_transaction(db):
        # PostgreSQL fails one of two concurrent CREATE TABLE IF NOT EXISTS (a duplicate type name)
        advisory_lock(db, _LOCK_KEY)
        db.create_tables([models.SchemaVersion], safe=True)
    for version, step in enumerate(MIGRATIONS, start=1):
        if version <= current_version(db, models):
            continue
        try:
            with write_transaction(db):
                # naive UTC, as every time stored: PostgreSQL would keep an aware one in its session's zone
                applied_at = datetime.now(UTC).replace(tzinfo=None)
                models.SchemaVersion.create(version=version, applied_at=applied_at)
                step(db, models)
        except pw.IntegrityError:
            continue  # applied concurrently by another process
    return current_version(db, models)
