"""A throwaway database on the local TimescaleDB for a benchmark run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from common import config
from deploy.devstack.urls import admin_url, with_database
from sinks.migrate import migrate


def _create(admin: str, name: str) -> None:
    with psycopg.connect(with_database(admin, "postgres"), autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {} OWNER ioc").format(sql.Identifier(name)))
    with psycopg.connect(with_database(admin, name), autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")


@contextmanager
def kept_database(name: str) -> Iterator[str]:
    """Database ``name`` with every migration applied, created if missing and kept at the
    end (for benchmarks that fill it once and measure it several times); its URL as the
    application user."""
    settings = config.load()
    admin = admin_url(settings.database_url)
    with psycopg.connect(with_database(admin, "postgres"), autocommit=True) as c:
        found = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if found is None:
        _create(admin, name)
    url = with_database(settings.database_url, name)
    migrate(url)
    yield url


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new database ``<prefix>_<random>`` with TimescaleDB and every migration applied;
    its URL as the application user. Dropped at the end, whatever happened."""
    settings = config.load()
    admin = admin_url(settings.database_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        _create(admin, name)
        url = with_database(settings.database_url, name)
        migrate(url)
        yield url
    finally:
        with psycopg.connect(with_database(admin, "postgres"), autocommit=True) as c:
            c.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
