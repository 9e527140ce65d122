"""Versioned SQL migrations: ``sinks/migrations/NNNN_name.sql`` applied in order, once.

Applied versions are recorded in ``schema_migrations`` with a checksum of the file. Each
migration runs in its own transaction; a session advisory lock keeps two migrators apart.
A database that is ahead of the code (a version this code does not know), or a migration
edited after it was applied, stops the run with a message instead of guessing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import TupleRow

from common.errors import UserError
from sinks.db import UNAVAILABLE, describe, unreachable

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: Key of the session advisory lock held while migrating ("ioc" "migrate" in ASCII).
LOCK_KEY = 0x696F63_6D6967
LOCK_TIMEOUT = "60s"
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_CREATE_TABLE = b"""
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    int         PRIMARY KEY,
    name       text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    checksum   text        NOT NULL
)
"""


@dataclass(frozen=True)
class Migration:
    """One SQL file of ``sinks/migrations``."""

    version: int
    name: str
    sql: bytes

    @property
    def checksum(self) -> str:
        """sha256 of the file's bytes."""
        return hashlib.sha256(self.sql).hexdigest()

    @property
    def label(self) -> str:
        """``0001_kpi`` style name."""
        return f"{self.version:04d}_{self.name}"


@dataclass(frozen=True)
class MigrateResult:
    """What a run did: the migrations it applied and the schema version afterwards."""

    applied: list[Migration]
    version: int
    license: str


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in ``directory``, ordered; versions must be 1, 2, 3, ... without gaps."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise UserError(f"migration file {path} is not named NNNN_lower_snake.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path.read_bytes()))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise UserError(
                f"migrations in {directory} must be numbered 0001, 0002, ... without gaps or "
                f"duplicates; found {migration.label} where version {expected} was expected"
            )
    return found


def latest_version(directory: Path = MIGRATIONS_DIR) -> int:
    """The newest schema version this code knows."""
    migrations = load_migrations(directory)
    return migrations[-1].version if migrations else 0


def applied_versions(conn: psycopg.Connection[TupleRow]) -> dict[int, tuple[str, str]]:
    """version -> (name, checksum) recorded in ``schema_migrations`` (empty when none)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return {}
    rows = conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
    return {int(v): (str(n), str(c)) for v, n, c in rows}


def current_version(database_url: str) -> int:
    """The newest schema version applied to ``database_url`` (0 for an empty database)."""
    try:
        with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
            return max(applied_versions(conn), default=0)
    except UNAVAILABLE as error:
        raise unreachable(database_url, error) from error


def _check_history(applied: dict[int, tuple[str, str]], known: list[Migration], where: str) -> None:
    known_by_version = {m.version: m for m in known}
    newest_known = known[-1].version if known else 0
    ahead = sorted(v for v in applied if v > newest_known)
    if ahead:
        name = applied[ahead[-1]][0]
        raise UserError(
            f"database {where} is at schema version {ahead[-1]} ({name}) but this code knows "
            f"only up to {newest_known}: it was migrated by a newer smartcity-ioc. Upgrade "
            "this checkout (git pull) instead of running an older one against it."
        )
    for version, (name, checksum) in sorted(applied.items()):
        migration = known_by_version.get(version)
        if migration is None:
            raise UserError(
                f"database {where} records migration {version} ({name}) that is "
                "missing from sinks/migrations: restore the file"
            )
        if migration.checksum != checksum:
            raise UserError(
                f"migration {migration.label} was edited after it was applied to {where} "
                "(checksum differs). Never edit an applied migration: restore it and add a "
                "new NNNN_*.sql file with the change."
            )


def migrate(database_url: str, directory: Path = MIGRATIONS_DIR) -> MigrateResult:
    """Apply every pending migration to ``database_url``; idempotent. Raises UserError."""
    known = load_migrations(directory)
    where = describe(database_url)
    try:
        conn = psycopg.connect(database_url, autocommit=True, connect_timeout=10)
    except UNAVAILABLE as error:
        raise unreachable(database_url, error) from error
    with conn:
        conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'".encode())
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        except pg_errors.LockNotAvailable:
            raise UserError(
                f"another `ioc migrate` holds the migration lock on {where} for over "
                f"{LOCK_TIMEOUT}: wait for it to finish and run again"
            ) from None
        try:
            conn.execute(_CREATE_TABLE)
            applied = applied_versions(conn)
            _check_history(applied, known, where)
            done = [m for m in known if m.version not in applied]
            for migration in done:
                _apply(conn, migration, database_url)
            license_row = conn.execute(
                "SELECT current_setting('timescaledb.license', true)"
            ).fetchone()
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    version = max([*applied, *(m.version for m in done)], default=0)
    license_name = str(license_row[0]) if license_row and license_row[0] else "none"
    return MigrateResult(applied=done, version=version, license=license_name)


def _apply(conn: psycopg.Connection[TupleRow], migration: Migration, database_url: str) -> None:
    where = describe(database_url)
    try:
        with conn.transaction():
            conn.execute(migration.sql)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.checksum),
            )
    except pg_errors.InsufficientPrivilege as error:
        raise UserError(
            f"migration {migration.label} on {where}: {error.diag.message_primary}. A "
            "superuser must run `CREATE EXTENSION IF NOT EXISTS timescaledb` in that database "
            "once (ioc dev up does it for the local one), or make the role the owner."
        ) from error
    except UNAVAILABLE as error:
        raise unreachable(database_url, error) from error
    except psycopg.Error as error:
        raise UserError(
            f"migration {migration.label} failed on {where} and was rolled back: "
            f"{error.diag.message_primary or error}"
        ) from error


def status(database_url: str, directory: Path = MIGRATIONS_DIR) -> list[tuple[Migration, bool]]:
    """Every known migration with whether ``database_url`` has it applied."""
    known = load_migrations(directory)
    try:
        with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
            applied = applied_versions(conn)
    except UNAVAILABLE as error:
        raise unreachable(database_url, error) from error
    _check_history(applied, known, describe(database_url))
    return [(m, m.version in applied) for m in known]
