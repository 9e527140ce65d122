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


@contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A new database ``<prefix>_<random>`` with TimescaleDB and every migration applied;
    its URL as the application user. Dropped at the end, whatever happened."""
    settings = config.load()
    admin = admin_url(settings.database_url)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(with_database(admin, "postgres"), autocommit=True) as c:
        c.execute(sql.SQL("CREATE DATABASE {} OWNER ioc").format(sql.Identifier(name)))
    try:
        with psycopg.connect(with_database(admin, name), autocommit=True) as c:
            c.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        url = with_database(settings.database_url, name)
        migrate(url)
        yield url
    finally:
        with psycopg.connect(with_database(admin, "postgres"), autocommit=True) as c:
            c.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
