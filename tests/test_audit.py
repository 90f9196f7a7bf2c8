"""The audit trail: the hash chain, its anchors, what verify catches,
concurrent appends (on SQLite and PostgreSQL), the CLI."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from msign_soap.app import demo_certificate_checker
from msign_soap.cli import main
from msign_soap.config import load_config
from msign_soap.core.audit import GENESIS, AuditTrail, Event, Problem, row_hash
from msign_soap.core.audit_events import MAX_TEXT
from msign_soap.core.trust import ChainChecker
from msign_soap.errors import ConfigurationError, InvalidParameter
from msign_soap.pki import DemoPki
from msign_soap.signing import LocalTsa
from msign_soap.store import Store, open_store

from .conftest import FrozenClock, RecordingTsa
from .pki_support import seed_demo_pki

REQUEST = "0123456789abcdef0123456789abcdef"
OTHER_REQUEST = "fedcba9876543210fedcba9876543210"


@pytest.fixture
def store(tmp_path: Path, database_url: str | None) -> Iterator[Store]:
    store = open_store(database_url or f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    yield store
    store.close()


@pytest.fixture
def trail(store: Store, clock: FrozenClock, demo_tsa: LocalTsa) -> AuditTrail:
    return AuditTrail(store, clock, demo_tsa)


@pytest.fixture(scope="session")
def checker(demo_pki: DemoPki) -> ChainChecker:
    return demo_certificate_checker(demo_pki)


def fill(trail: AuditTrail, clock: FrozenClock) -> None:
    """Five events of a request's life, a second apart (rows 1 to 5)."""
    events = [
        (Event.REQUEST_POSTED, "demo", "10.0.0.7", {"content_type": "Hash", "contents": 2}),
        (Event.PAGE_OPENED, None, "192.0.2.10", {"lang": "ro"}),
        (Event.INSTRUMENT_CHOSEN, None, "192.0.2.10", {"instrument": "securesign"}),
        (Event.SIGNED, None, "192.0.2.10", {"contents": 2}),
        (Event.RESULTS_FETCHED, "demo", "10.0.0.7", {"status": "Success"}),
    ]
    for event, consumer, address, detail in events:
        trail.record(event, consumer=consumer, request_id=REQUEST, address=address, detail=detail)
        clock.advance(seconds=1)


def sql(store: Store, statement: str, *parameters: Any) -> None:
    """Run ``statement``, its parameters marked ``?`` whatever the database."""
    with store.db.connection_context():
        store.db.execute_sql(statement.replace("?", store.db.param), parameters)


def moment_of(at: str | datetime) -> datetime:
    """A time read by raw SQL: a string from SQLite, a datetime from PostgreSQL."""
    return at if isinstance(at, datetime) else datetime.fromisoformat(at)


def rebuild_chain(store: Store) -> None:
    """What someone who may write the database and knows the encoding does
    after deleting rows: renumber the rest and recompute every hash."""
    with store.db.connection_context():
        rows = store.db.execute_sql(
            "SELECT sequence, at, event, consumer, request_id, address, detail FROM audit_event ORDER BY sequence"
        ).fetchall()
        store.db.execute_sql("DELETE FROM audit_event")
        previous = GENESIS
        for sequence, (_, at, *fields) in enumerate(rows, start=1):
            digest = row_hash(sequence, previous, moment_of(at), *fields)
            store.db.execute_sql(
                "INSERT INTO audit_event (sequence, previous_hash, at, event, consumer, request_id, address, detail,"
                f" row_hash) VALUES ({', '.join([store.db.param] * 9)})",
                (sequence, previous, at, *fields, digest),
            )
            previous = digest


# -- the chain -------------------------------------------------------------------------


@pytest.mark.postgresql
def test_each_row_is_chained_to_the_one_before(trail: AuditTrail, clock: FrozenClock) -> None:
    assert trail.verify().ok and trail.verify().rows == 0
    fill(trail, clock)
    events = trail.history(REQUEST)
    assert [e.sequence for e in events] == [1, 2, 3, 4, 5]
    assert events[0].previous_hash == GENESIS
    for before, after in zip(events, events[1:], strict=False):
        assert after.previous_hash == before.row_hash
    first = events[0]
    assert first.row_hash == row_hash(
        1,
        GENESIS,
        clock.now - timedelta(seconds=5),
        "request.posted",
        "demo",
        REQUEST,
        "10.0.0.7",
        '{"content_type":"Hash","contents":2}',
    )
    report = trail.verify()
    assert report.ok and report.rows == 5 and report.problem is None
    assert "intact: 5 rows" in str(report) and "never time-stamped" in str(report)


@pytest.mark.postgresql
def test_history_is_one_requests_events_in_order(trail: AuditTrail, clock: FrozenClock) -> None:
    trail.record(Event.REQUEST_POSTED, consumer="demo", request_id=REQUEST)
    trail.record(Event.REQUEST_POSTED, consumer="demo", request_id=OTHER_REQUEST)
    trail.record(Event.PIN_LOCKOUT, detail={"provider": "securesign", "idnp": "2004001234567"})
    clock.advance(minutes=5)
    trail.record(Event.EXPIRED, request_id=OTHER_REQUEST)
    trail.record(Event.CANCELLED, request_id=REQUEST, address="2001:DB8::1")
    trail.record(Event.FAILED, request_id=OTHER_REQUEST, address="::ffff:192.0.2.1")
    trail.record(Event.FAILED, request_id=REQUEST, detail={"reason": "CANCELLED"})
    history = trail.history(REQUEST)
    assert [(e.sequence, e.event) for e in history] == [
        (1, "request.posted"),
        (5, "request.cancelled"),
        (7, "request.failed"),
    ]
    assert history[1].address == "2001:db8::1"  # normalized
    assert trail.history(OTHER_REQUEST)[-1].address == "192.0.2.1"
    assert history[1].at == clock.now
    assert [e.event for e in trail.history(OTHER_REQUEST)] == ["request.posted", "request.expired", "request.failed"]
    assert trail.history("f" * 32) == []


@pytest.mark.postgresql
def test_times_are_stored_as_naive_utc(trail: AuditTrail) -> None:
    moment = datetime(2026, 11, 28, 14, 0, 0, 123456, tzinfo=UTC)
    aware = AuditTrail(trail.store, lambda: moment.astimezone(), trail.timestamper)
    recorded = aware.record(Event.PAGE_OPENED, request_id=REQUEST)
    assert recorded.at == datetime(2026, 11, 28, 14, 0, 0, 123456)
    assert trail.history(REQUEST)[0].at == recorded.at
    assert trail.verify().ok


# -- what verify catches -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statement", "parameters"),
    [
        pytest.param("UPDATE audit_event SET at = ? WHERE sequence = 3", ("2026-11-28 11:00:00",), id="time"),
        pytest.param("UPDATE audit_event SET event = ? WHERE sequence = 3", ("request.failed",), id="event"),
        pytest.param("UPDATE audit_event SET consumer = ? WHERE sequence = 3", ("demo",), id="consumer"),
        pytest.param("UPDATE audit_event SET request_id = ? WHERE sequence = 3", (OTHER_REQUEST,), id="request"),
        pytest.param("UPDATE audit_event SET address = ? WHERE sequence = 3", ("192.0.2.11",), id="address"),
        pytest.param("UPDATE audit_event SET address = NULL WHERE sequence = 3", (), id="address-removed"),
        pytest.param("UPDATE audit_event SET detail = ? WHERE sequence = 3", ('{"instrument":"tax"}',), id="detail"),
        pytest.param("UPDATE audit_event SET detail = ? WHERE sequence = 3", ("not JSON",), id="detail-garbage"),
        pytest.param("UPDATE audit_event SET previous_hash = ? WHERE sequence = 3", (GENESIS,), id="previous-hash"),
        pytest.param("UPDATE audit_event SET row_hash = ? WHERE sequence = 3", ("ab" * 32,), id="row-hash"),
        pytest.param("UPDATE audit_event SET at = ? WHERE sequence = 3", ("yesterday",), id="time-garbage"),
    ],
)
def test_an_edited_field_is_caught(trail: AuditTrail, clock: FrozenClock, statement: str, parameters: tuple) -> None:
    fill(trail, clock)
    sql(trail.store, statement, *parameters)
    report = trail.verify()
    assert not report.ok
    assert report.problem is not None
    assert (report.problem.kind, report.problem.sequence) == (Problem.EDITED, 3)
    assert str(report).startswith("audit trail NOT intact: edited at row 3")
    assert report.rows == 5


def test_rows_swapped_are_caught(trail: AuditTrail, clock: FrozenClock) -> None:
    fill(trail, clock)
    sql(trail.store, "UPDATE audit_event SET sequence = -2 WHERE sequence = 2")
    sql(trail.store, "UPDATE audit_event SET sequence = 2 WHERE sequence = 3")
    sql(trail.store, "UPDATE audit_event SET sequence = 3 WHERE sequence = -2")
    problem = trail.verify().problem
    assert problem is not None and (problem.kind, problem.sequence) == (Problem.EDITED, 2)


@pytest.mark.parametrize(
    ("deleted", "first_missing", "text"),
    [
        pytest.param((3,), 3, "row 3 is missing", id="middle"),
        pytest.param((2, 3), 2, "rows 2 to 3 are missing", id="two"),
        pytest.param((1,), 1, "row 1 is missing", id="first"),
    ],
)
def test_a_deleted_row_is_caught(
    trail: AuditTrail, clock: FrozenClock, deleted: tuple[int, ...], first_missing: int, text: str
) -> None:
    fill(trail, clock)
    for sequence in deleted:
        sql(trail.store, "DELETE FROM audit_event WHERE sequence = ?", sequence)
    report = trail.verify()
    assert report.problem is not None
    assert (report.problem.kind, report.problem.sequence) == (Problem.MISSING, first_missing)
    assert text in report.problem.detail
    assert report.rows == 5 - len(deleted)


@pytest.mark.postgresql
def test_a_row_rewritten_with_its_hash_breaks_the_next_link(trail: AuditTrail, clock: FrozenClock) -> None:
    fill(trail, clock)
    with trail.store.db.connection_context():
        [(at, previous)] = trail.store.db.execute_sql(
            "SELECT at, previous_hash FROM audit_event WHERE sequence = 3"
        ).fetchall()
    forged = row_hash(
        3,
        previous,
        moment_of(at),
        "instrument.chosen",
        None,
        REQUEST,
        "192.0.2.10",
        '{"instrument":"tax"}',
    )
    sql(
        trail.store,
        "UPDATE audit_event SET detail = ?, row_hash = ? WHERE sequence = 3",
        '{"instrument":"tax"}',
        forged,
    )
    problem = trail.verify().problem
    assert problem is not None and (problem.kind, problem.sequence) == (Problem.UNLINKED, 4)


def test_a_truncated_end_is_caught_after_an_anchor(
    trail: AuditTrail, clock: FrozenClock, checker: ChainChecker
) -> None:
    fill(trail, clock)
    anchor = trail.anchor()
    assert anchor is not None and anchor.row_count == 5
    trail.record(Event.RESULTS_FETCHED, consumer="demo", request_id=REQUEST)
    assert trail.verify(checker).ok
    sql(trail.store, "DELETE FROM audit_event WHERE sequence >= 5")
    report = trail.verify(checker)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.sequence) == (Problem.TRUNCATED, 5)
    assert "covers 5 rows, the trail has 4" in report.problem.detail
    assert report.rows == 4


@pytest.mark.postgresql
def test_a_rebuilt_chain_does_not_match_its_anchor(
    trail: AuditTrail, clock: FrozenClock, checker: ChainChecker
) -> None:
    fill(trail, clock)
    trail.anchor()
    trail.record(Event.RESULTS_FETCHED, consumer="demo", request_id=REQUEST)
    sql(trail.store, "DELETE FROM audit_event WHERE sequence = 2")
    rebuild_chain(trail.store)  # six rows less one, renumbered and rehashed: a chain without a flaw
    report = trail.verify(checker)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.sequence) == (Problem.ANCHOR_MISMATCH, 5)


# -- anchors ---------------------------------------------------------------------------------


@pytest.mark.postgresql
def test_anchoring_is_idempotent_until_the_trail_grows(store: Store, clock: FrozenClock, demo_tsa: LocalTsa) -> None:
    tsa = RecordingTsa(demo_tsa)
    trail = AuditTrail(store, clock, tsa)
    assert trail.anchor() is None  # nothing to time-stamp
    fill(trail, clock)
    first = trail.anchor()
    assert first is not None and trail.anchor() == first
    assert tsa.imprints == [bytes.fromhex(first.head_hash)]
    assert first.head_hash == trail.history(REQUEST)[-1].row_hash
    assert first.time.tzinfo is not None and first.anchored_at == clock.now
    trail.record(Event.RESULTS_FETCHED, consumer="demo", request_id=REQUEST)
    second = trail.anchor()
    assert second is not None and second.row_count == 6 and len(tsa.imprints) == 2
    report = trail.verify()
    assert report.ok and report.anchors == 2 and report.latest_anchor == second
    assert "0 rows since" in str(report)


def test_anchoring_needs_a_tsa(store: Store, clock: FrozenClock) -> None:
    with pytest.raises(ConfigurationError, match="no TSA"):
        AuditTrail(store, clock).anchor()


def rogue_tsa() -> LocalTsa:
    """A TSA of its own making: a self-signed time-stamping certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Rogue TSA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )
    return LocalTsa(certificate, key)


def flip_signature(token: bytes) -> bytes:
    """The token with the last byte of its signature (the last thing in it) changed."""
    return token[:-1] + bytes([token[-1] ^ 1])


#: Ways to forge the latest anchor: (column, new value from the anchor's token and head hash).
FORGERIES: list[Any] = [
    pytest.param("token", lambda tsa, token, head: flip_signature(token), "does not verify", id="signature-altered"),
    pytest.param(
        "token",
        lambda tsa, token, head: tsa.timestamp(hashlib.sha256(b"another head").digest()),
        "not a time-stamp of the head hash",
        id="other-imprint",
    ),
    pytest.param("token", lambda tsa, token, head: b"\x30\x03\x02\x01\x00", "not a time-stamp", id="not-a-token"),
    pytest.param(
        "token",
        lambda tsa, token, head: rogue_tsa().timestamp(bytes.fromhex(head)),
        "not trusted",
        id="untrusted-tsa",
    ),
    pytest.param("head_hash", lambda tsa, token, head: "ab" * 32, "not a time-stamp", id="head-hash-edited"),
]


@pytest.mark.parametrize(("column", "forge", "text"), FORGERIES)
def test_a_forged_anchor_is_caught(
    trail: AuditTrail,
    clock: FrozenClock,
    checker: ChainChecker,
    demo_tsa: LocalTsa,
    column: str,
    forge: Callable[[LocalTsa, bytes, str], Any],
    text: str,
) -> None:
    fill(trail, clock)
    trail.anchor()
    with trail.store.db.connection_context():
        [(token, head)] = trail.store.db.execute_sql("SELECT token, head_hash FROM audit_anchor").fetchall()
    sql(trail.store, f"UPDATE audit_anchor SET {column} = ?", forge(demo_tsa, bytes(token), head))  # noqa: S608
    report = trail.verify(checker)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.sequence) == (Problem.ANCHOR_INVALID, 5)
    assert text in report.problem.detail


def test_without_trust_anchors_an_anchor_is_only_checked_for_its_signature(
    trail: AuditTrail, clock: FrozenClock, checker: ChainChecker
) -> None:
    fill(trail, clock)
    trail.timestamper = rogue_tsa()
    trail.anchor()
    report = trail.verify()
    assert report.ok and not report.tsa_checked
    assert "not checked against trust anchors" in str(report)
    assert not trail.verify(checker).ok


@pytest.mark.postgresql
def test_an_anchor_moved_to_hide_a_cut_is_caught(trail: AuditTrail, clock: FrozenClock) -> None:
    fill(trail, clock)
    trail.anchor()
    sql(trail.store, "DELETE FROM audit_event WHERE sequence = 5")
    sql(trail.store, "UPDATE audit_anchor SET row_count = 4")
    problem = trail.verify().problem
    assert problem is not None and (problem.kind, problem.sequence) == (Problem.ANCHOR_MISMATCH, 4)


# -- what an event may hold ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        pytest.param({"detail": {"document": b"%PDF-1.7"}}, "detail['document']", id="bytes"),
        pytest.param({"detail": {"signature": bytearray(b"\x30\x82")}}, "detail['signature']", id="bytearray"),
        pytest.param({"detail": {"content": memoryview(b"abc")}}, "detail['content']", id="memoryview"),
        pytest.param({"detail": {"pin": "1234"}}, "detail['pin']", id="pin"),
        pytest.param({"detail": {"sim_pin": 1234}}, "detail['sim_pin']", id="pin-suffix"),
        pytest.param({"detail": {"private_key": "x"}}, "detail['private_key']", id="private-key"),
        pytest.param({"detail": {"password": "x"}}, "detail['password']", id="password"),
        pytest.param({"detail": {"certificate": "MIIB" + "A" * 100}}, "detail['certificate']", id="base64"),
        pytest.param({"detail": {"digest": "ab" * 48}}, "detail['digest']", id="hex"),
        pytest.param({"detail": {"nested": {"a": 1}}}, "detail['nested']", id="nested"),
        pytest.param({"detail": {"items": [1, 2]}}, "detail['items']", id="list"),
        pytest.param({"detail": {"ratio": 0.5}}, "detail['ratio']", id="float"),
        pytest.param({"detail": {"count": 2**70}}, "detail['count']", id="huge-number"),
        pytest.param({"detail": {"Bad-Name": 1}}, "detail['Bad-Name']", id="name"),
        pytest.param({"detail": {f"fact_{i}": i for i in range(17)}}, "detail", id="too-many"),
        pytest.param({"request_id": "not-a-request"}, "request_id", id="request-id"),
        pytest.param({"address": "localhost"}, "address", id="address"),
    ],
)
def test_secrets_and_bytes_are_refused(trail: AuditTrail, arguments: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        trail.record(Event.VERIFICATION_CALLED, **arguments)
    assert refused.value.field == field
    assert trail.verify().rows == 0


def test_an_unknown_event_is_refused(trail: AuditTrail) -> None:
    with pytest.raises(InvalidParameter, match="not an audit event"):
        trail.record("request.deleted")
    assert trail.record("request.posted", request_id=REQUEST).event == "request.posted"


@pytest.mark.postgresql
def test_texts_are_cut_and_stripped_of_control_characters(trail: AuditTrail) -> None:
    recorded = trail.record(
        Event.FAILED,
        consumer="e-service\u202e",
        request_id=REQUEST,
        detail={"reason": "x " * MAX_TEXT, "note": "a\nb", "count": 3, "valid": True, "instrument": None},
    )
    [stored] = trail.history(REQUEST)
    assert stored.detail == recorded.detail
    assert len(stored.detail["reason"]) == MAX_TEXT and stored.detail["reason"].endswith("…")
    assert stored.detail["note"] == "a\ufffdb"
    assert stored.detail["count"] == 3 and stored.detail["valid"] is True and stored.detail["instrument"] is None
    assert stored.consumer == "e-service\ufffd"


# -- two processes ---------------------------------------------------------------------------

WRITER = """
import sys
from datetime import UTC, datetime
from msign_soap.core.audit import AuditTrail, Event
from msign_soap.store import open_store

url, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = open_store(url)
trail = AuditTrail(store, lambda: datetime.now(UTC).replace(tzinfo=None))
print("ready", flush=True)
sys.stdin.readline()
for i in range(count):
    trail.record(Event.RESULTS_FETCHED, consumer=name, request_id="%032x" % i, detail={"i": i})
store.close()
print("done", flush=True)
"""


@pytest.mark.postgresql
def test_two_processes_appending_at_once_make_one_chain(tmp_path: Path, database_url: str | None) -> None:
    url = database_url or f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    open_store(url).close()  # migrated before the writers start
    count = 300
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url, name, str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in ("alpha", "beta")
    ]
    try:
        for writer in writers:  # both have opened the database
            assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
        for writer in writers:  # then both go
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.close()
        for writer in writers:
            assert writer.wait(timeout=120) == 0
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
            assert writer.stdout is not None
            writer.stdout.close()
    store = open_store(url)
    try:
        report = AuditTrail(store, FrozenClock()).verify()
        assert report.ok, str(report)
        assert report.rows == 2 * count
        with store.db.connection_context():
            rows = store.db.execute_sql(
                "SELECT sequence, previous_hash, consumer, detail FROM audit_event ORDER BY sequence"
            ).fetchall()
    finally:
        store.close()
    assert [r[0] for r in rows] == list(range(1, 2 * count + 1))  # no gap
    assert len({r[1] for r in rows}) == 2 * count  # no two rows extend the same one: no fork
    for name in ("alpha", "beta"):
        assert [json.loads(r[3])["i"] for r in rows if r[2] == name] == list(range(count))


# -- the command line ------------------------------------------------------------------------


def test_the_cli_verifies_shows_and_anchors(tmp_path: Path, clock: FrozenClock, capsys: Any) -> None:
    data = tmp_path / "data"
    seed_demo_pki(data)
    options = ["--data-dir", str(data)]
    store = open_store(load_config(environ={}, data_dir=data).database)
    try:
        fill(AuditTrail(store, clock), clock)
    finally:
        store.close()

    assert main(["audit", "verify", *options]) == 0
    assert "audit trail intact: 5 rows" in capsys.readouterr().out

    assert main(["audit", "anchor", *options]) == 0
    assert capsys.readouterr().out.startswith("5 rows time-stamped ")
    assert main(["audit", "verify", "--json", *options]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["tsa_checked"] and report["latest_anchor"]["row_count"] == 5

    assert main(["audit", "show", "--request", REQUEST, *options]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    assert lines[0] == '2026-11-28T12:00:00.000000Z  request.posted  demo  10.0.0.7  content_type="Hash" contents=2'
    assert lines[2] == '2026-11-28T12:00:02.000000Z  instrument.chosen  -  192.0.2.10  instrument="securesign"'
    assert main(["audit", "show", "--request", REQUEST, "--json", *options]) == 0
    events = json.loads(capsys.readouterr().out)
    assert [e["event"] for e in events][-1] == "results.fetched" and events[-1]["detail"] == {"status": "Success"}

    assert main(["audit", "show", "--request", OTHER_REQUEST, *options]) == 1
    assert "no events" in capsys.readouterr().err
    assert main(["audit", "show", "--request", "nonsense", *options]) == 2
    assert "request_id is not a RequestID" in capsys.readouterr().err

    store = open_store(load_config(environ={}, data_dir=data).database)
    sql(store, "DELETE FROM audit_event WHERE sequence = 5")
    store.close()
    assert main(["audit", "verify", *options]) == 1
    assert "NOT intact: truncated at row 5" in capsys.readouterr().out


def test_the_cli_needs_a_tsa_to_anchor(tmp_path: Path, capsys: Any) -> None:
    options = ["--data-dir", str(tmp_path / "data")]
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MSIGN_DEMO_PKI", "false")
        env.setenv("MSIGN_DEMO_MODE", "false")
        assert main(["audit", "anchor", *options]) == 2
    assert "no TSA" in capsys.readouterr().err
