"""TimescaleDB locally: PostgreSQL 17 from the chroot, data under the cache, trust on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from common.errors import UserError
from deploy.devstack.chroot import (
    chroot_root,
    ensure_chroot,
    in_chroot_as,
    numeric_ids,
    require_root,
)
from deploy.devstack.process import HOST
from deploy.devstack.server import Progress, Server

PG_BIN = "/usr/lib/postgresql/17/bin"
PGDATA = "/var/lib/ioc/pgdata"
CONFIGURED = "ioc-configured"
APP_ROLE = "ioc"
APP_DB = "ioc"
GRAFANA_ROLE = "ioc_grafana"
GRAFANA_STATEMENT_TIMEOUT = "10s"
"""Longest statement of the read-only role (as migration 0006 sets it)."""

SETTINGS = """
# written by `ioc dev up` (local development only)
listen_addresses = '127.0.0.1'
unix_socket_directories = '/tmp'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
timescaledb.max_background_workers = 24
max_worker_processes = 32
max_connections = 200
shared_buffers = '128MB'
max_wal_size = '256MB'
min_wal_size = '64MB'
log_min_messages = warning
"""

HBA = """# written by `ioc dev up`: trust on loopback, for local development only
local all all trust
host all all 127.0.0.1/32 trust
"""


def _url(user: str, port: int, dbname: str) -> str:
    return f"postgresql://{user}@{HOST}:{port}/{dbname}"


def bootstrap(port: int) -> None:
    """Create roles ioc and ioc_grafana (statement timeout 10 s), database ioc with timescaledb;
    idempotent."""
    with psycopg.connect(_url("postgres", port, "postgres"), autocommit=True) as conn:
        for role in (APP_ROLE, GRAFANA_ROLE):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (APP_DB,)).fetchone()
        if not found:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(APP_DB), sql.Identifier(APP_ROLE)
                )
            )
    with psycopg.connect(_url("postgres", port, APP_DB), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        conn.execute(f"GRANT CONNECT ON DATABASE {APP_DB} TO {GRAFANA_ROLE}")
        conn.execute(f"GRANT USAGE ON SCHEMA public TO {GRAFANA_ROLE}")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {GRAFANA_ROLE}")
        conn.execute(
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {APP_ROLE} IN SCHEMA public "
            f"GRANT SELECT ON TABLES TO {GRAFANA_ROLE}"
        )
        conn.execute(
            f"ALTER ROLE {GRAFANA_ROLE} SET statement_timeout = '{GRAFANA_STATEMENT_TIMEOUT}'"
        )


class Postgres(Server):
    """PostgreSQL 17 + TimescaleDB (Apache edition) running from the chroot."""

    name = "postgres"
    program = "postgres"
    port_env = "IOC_PG_PORT"
    start_timeout = 60.0

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.root = chroot_root()

    def _query(self, user: str, dbname: str, query: str) -> str | None:
        try:
            with psycopg.connect(_url(user, self.port, dbname), connect_timeout=3) as conn:
                row = conn.execute(query).fetchone()
        except psycopg.Error:
            return None
        return None if row is None else str(row[0])

    def healthy(self) -> bool:
        """Role ioc connects to database ioc and timescaledb is installed there."""
        found = self._query(
            APP_ROLE, APP_DB, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        )
        return found is not None

    def ready(self) -> bool:
        """The superuser can connect (roles and database may not exist yet)."""
        return self._query("postgres", "postgres", "SELECT 1") is not None

    def version(self) -> str:
        """PostgreSQL server version and timescaledb extension version."""
        server = self._query(APP_ROLE, APP_DB, "SHOW server_version") or "?"
        ext = self._query(
            APP_ROLE, APP_DB, "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        )
        return f"PostgreSQL {server.split()[0]}, timescaledb {ext or '?'}"

    def _ids(self) -> tuple[int, int]:
        return numeric_ids(self.root)

    def prepare(self, progress: Progress) -> None:
        """Build the chroot if needed, then initdb the cluster once."""
        require_root("starting the TimescaleDB chroot")
        self.root = ensure_chroot(progress)
        data = self.root / PGDATA.lstrip("/")
        if (data / CONFIGURED).exists():
            return
        uid, gid = self._ids()
        if data.exists():
            shutil.rmtree(data)
        data.mkdir(parents=True)
        os.chown(data, uid, gid)
        data.chmod(0o700)
        progress("postgres: initdb (once)")
        initdb = [
            f"{PG_BIN}/initdb",
            "-D",
            PGDATA,
            "-U",
            "postgres",
            "--locale=C.UTF-8",
            "--encoding=UTF8",
            "--auth=trust",
        ]
        out = subprocess.run(
            in_chroot_as(self.root, uid, gid, initdb), capture_output=True, text=True
        )
        if out.returncode != 0:
            raise UserError(f"postgres: initdb failed:\n{out.stdout}{out.stderr}")
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(SETTINGS)
        (data / "pg_hba.conf").write_text(HBA)
        (data / CONFIGURED).write_text("")
        for path in (data / "postgresql.conf", data / "pg_hba.conf", data / CONFIGURED):
            os.chown(path, uid, gid)

    def command(self) -> list[str]:
        """postgres in the foreground, inside the chroot, as the chroot's postgres user."""
        uid, gid = self._ids()
        return in_chroot_as(
            self.root, uid, gid, [f"{PG_BIN}/postgres", "-D", PGDATA, "-p", str(self.port)]
        )

    def after_start(self) -> None:
        """Create the roles and the application database."""
        bootstrap(self.port)

    def adopt(self) -> bool:
        """A postgres answering as superuser but not yet set up: set it up."""
        if not self.ready():
            return False
        self.after_start()
        return self.healthy()

    @property
    def data_dir(self) -> Path:
        """Cluster data directory as seen from outside the chroot."""
        return self.root / PGDATA.lstrip("/")
