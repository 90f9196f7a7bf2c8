"""A throwaway PostgreSQL server for the test session, and a fresh database per test.

The server is Debian's ``postgresql`` (``scripts/test-setup`` installs it):
``initdb`` into a temporary directory, started with ``pg_ctl`` on a free port
of 127.0.0.1 only, trust authentication (no password: a test cluster on
loopback that lives as long as the session), and without fsync, synchronous
commits or full-page writes (durability a test does not need, at a cost it
does). PostgreSQL refuses to run as root, so when the tests run as root every
server command runs as the ``postgres`` user (``runuser``); otherwise as the
current user.

Its time zone is Moldova's, not UTC: the service stores naive UTC times, and
an aware datetime reaching a ``timestamp`` column is converted to the
session's zone, which this exposes.

Without PostgreSQL's binaries the PostgreSQL tests are skipped, except under
CI, where they fail: CI installs them, and must not silently test less.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

__all__ = ["PostgresCluster", "postgres_binaries", "postgres_cluster", "postgres_missing", "postgres_url"]

#: Where Debian installs each major version's server programs.
DEBIAN_BINARIES = Path("/usr/lib/postgresql")
#: The server's time zone (see the module docstring).
TIME_ZONE = "Europe/Chisinau"
#: The user the server runs as when the tests run as root.
SERVER_USER = "postgres"


def postgres_binaries() -> Path | None:
    """The ``bin`` directory of the newest installed PostgreSQL, or None."""
    found = [d / "bin" for d in DEBIAN_BINARIES.glob("*") if (d / "bin" / "initdb").is_file()]
    found += [Path(p).parent for p in (shutil.which("initdb"),) if p]
    found = [d for d in found if (d / "pg_ctl").is_file()]
    return max(found, key=_major_version, default=None)


def _major_version(directory: Path) -> int:
    name = directory.parent.name
    return int(name) if name.isdigit() else 0


def postgres_missing() -> str | None:
    """Why PostgreSQL cannot run here, or None."""
    if postgres_binaries() is None:
        return f"PostgreSQL is not installed (no initdb and pg_ctl under {DEBIAN_BINARIES}/*/bin or on PATH)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"the tests run as root and there is no {SERVER_USER!r} user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            return "the tests run as root and runuser is missing"
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed (pip install -e '.[test]')"
    return None


def _free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresCluster:
    """A PostgreSQL server in a temporary directory, for one test session.

    :param binaries: the directory of ``initdb``, ``pg_ctl`` and ``postgres``.
    """

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.root = Path(tempfile.mkdtemp(prefix="msign-postgres-"))
        self.as_root = os.geteuid() == 0
        self.user = SERVER_USER if self.as_root else pwd.getpwuid(os.geteuid()).pw_name
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "server.log"
        self.port = 0

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", SERVER_USER, "--"] if self.as_root else []
        return subprocess.run([*prefix, *command], capture_output=True, text=True, check=False, timeout=120)

    def _check(self, what: str, result: subprocess.CompletedProcess[str]) -> None:
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-4000:] if self.log.is_file() else ""
            raise RuntimeError(f"PostgreSQL {what} failed ({result.returncode}):\n{result.stdout}{result.stderr}{log}")

    def start(self) -> None:
        """Make the cluster and start its server on a free port of 127.0.0.1."""
        self.sockets.mkdir()
        if self.as_root:
            entry = pwd.getpwnam(SERVER_USER)
            for path in (self.root, self.sockets):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        initdb = self._run(
            str(self.binaries / "initdb"),
            "--pgdata",
            str(self.data),
            "--username",
            self.user,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        self._check("initdb", initdb)
        options = (
            "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            f"-c timezone={TIME_ZONE} -c max_connections=200 -k {self.sockets}"
        )
        for _ in range(3):  # the port may be taken between choosing and binding it
            self.port = _free_port()
            started = self._run(
                str(self.binaries / "pg_ctl"),
                "start",
                "--wait",
                "--pgdata",
                str(self.data),
                "--log",
                str(self.log),
                "-o",
                f"-p {self.port} {options}",
            )
            if started.returncode == 0:
                return
        self._check("start", started)

    def stop(self) -> None:
        """Stop the server at once and remove the cluster."""
        if self.data.is_dir():
            self._run(str(self.binaries / "pg_ctl"), "stop", "--pgdata", str(self.data), "--mode", "immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str) -> str:
        """The service's ``database_url`` of ``database``."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def _admin(self, statement: str) -> None:
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname="postgres")
        try:
            connection.autocommit = True  # CREATE and DROP DATABASE refuse a transaction
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def create_database(self) -> str:
        """A new empty database; its name."""
        name = f"test_{uuid.uuid4().hex[:16]}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending connections still open to it."""
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """The session's PostgreSQL server, started on first use."""
    reason = postgres_missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; the PostgreSQL tests must run in CI")
        pytest.skip(reason)
    binaries = postgres_binaries()
    assert binaries is not None
    cluster = PostgresCluster(binaries)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """The URL of a fresh, empty database, dropped after the test."""
    name = postgres_cluster.create_database()
    try:
        yield postgres_cluster.url(name)
    finally:
        postgres_cluster.drop_database(name)
