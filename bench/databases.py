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
    """Database ``name``, kept at the end (for benchmarks that fill it once and measure it
    several times, or compare it with a copy that differs in one thing); its URL as the
    application user. Created with every migration applied if missing; an existing one is
    used as it is (``ioc migrate`` brings it up to date)."""
    settings = config.load()
    admin = admin_url(settings.database_url)
    with psycopg.connect(with_database(admin, "postgres"), autocommit=True) as c:
        found = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    url = with_database(settings.database_url, name)
    if found is None:
        _create(admin, name)
        migrate(url)
    yield url


@contextmanager
def fresh_database(prefix: str, extra_sql: str | None = None) -> Iterator[str]:
    """A new database ``<prefix>_<random>`` with TimescaleDB and every migration applied,
    then ``extra_sql`` if given (a what-if schema change for an experiment, e.g. another
    set of indexes); its URL as the application user. Dropped at the end, whatever
    happened."""
    settings = config.load()
    admin = admin_url(settings.database_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        _create(admin, name)
        url = with_database(settings.database_url, name)
        migrate(url)
        if extra_sql:
            with psycopg.connect(url, autocommit=True) as c:
                c.execute(extra_sql.encode())
        yield url
    finally:
        with psycopg.connect(with_database(admin, "postgres"), autocommit=True) as c:
            c.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
