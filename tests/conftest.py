"""Shared fixtures: the real local servers, unique topics and fresh databases.

Integration tests (marked ``pytest.mark.integration``) ask for ``settings`` (or a fixture built
on it); the first such request starts the local servers exactly as ``ioc dev up`` does when
they are not answering, so a plain ``pytest`` works. Unit tests never touch a server.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterator

import psycopg
import pytest
from psycopg import sql

from common import config
from deploy.devstack.aio import run_sync
from deploy.devstack.stack import ensure_dev_servers
from deploy.devstack.urls import admin_url, with_database


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers even when pytest runs without pyproject.toml."""
    config.addinivalue_line("markers", "integration: needs the real local servers")
    config.addinivalue_line("markers", "slow: fault-injection tests that take tens of seconds")


def _slug(prefix: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", prefix.lower()).strip("_")[:30] or "t"


@pytest.fixture(scope="session")
def settings() -> config.Settings:
    """Settings pointing at the local servers (started on first use if not answering)."""
    ensure_dev_servers()
    return config.load()


@pytest.fixture(scope="session")
def kafka_bootstrap(settings: config.Settings) -> str:
    """Bootstrap address of the Kafka-protocol broker."""
    return settings.kafka_bootstrap


@pytest.fixture(scope="session")
def database_url(settings: config.Settings) -> str:
    """URL of the application database ``ioc`` as role ``ioc``."""
    return settings.database_url


@pytest.fixture(scope="session")
def admin_database_url(settings: config.Settings) -> str:
    """URL of the ``ioc`` database as superuser ``postgres`` (IOC_ADMIN_DATABASE_URL wins)."""
    return admin_url(settings.database_url)


@pytest.fixture(scope="session")
def new_topic(kafka_bootstrap: str) -> Iterator[Callable[..., str]]:
    """Factory: ``new_topic(prefix, partitions=4) -> name`` creates a uniquely named topic on
    the shared dev broker (it keeps topics on disk: they are deleted at session end)."""
    from aiokafka.admin import AIOKafkaAdminClient

    created: list[str] = []

    async def admin_call(action: Callable[[AIOKafkaAdminClient], Awaitable[object]]) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await action(admin)
        finally:
            await admin.close()

    def create(prefix: str, partitions: int = 4) -> str:
        from tests.streams.support import create_topics

        name = f"{prefix}.{uuid.uuid4().hex[:10]}"
        run_sync(lambda: create_topics(kafka_bootstrap, [name], partitions))
        created.append(name)
        return name

    yield create
    if created:
        run_sync(lambda: admin_call(lambda admin: admin.delete_topics(created)))


@pytest.fixture(scope="session")
def new_database(admin_database_url: str, database_url: str) -> Iterator[Callable[..., str]]:
    """Factory: ``new_database(prefix="test") -> url`` makes a fresh database for role ioc.

    The database is owned by ``ioc``, has the timescaledb extension (created by the superuser)
    and grants read access on future ``ioc`` tables to ``ioc_grafana``. Dropped at session end.
    """
    created: list[str] = []

    def create(prefix: str = "test") -> str:
        name = f"ioc_{_slug(prefix)}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(with_database(admin_database_url, "postgres"), autocommit=True) as c:
            c.execute(sql.SQL("CREATE DATABASE {} OWNER ioc").format(sql.Identifier(name)))
        created.append(name)
        with psycopg.connect(with_database(admin_database_url, name), autocommit=True) as c:
            c.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
            c.execute(
                sql.SQL("GRANT CONNECT ON DATABASE {} TO ioc_grafana").format(sql.Identifier(name))
            )
            c.execute("GRANT USAGE ON SCHEMA public TO ioc_grafana")
            c.execute(
                "ALTER DEFAULT PRIVILEGES FOR ROLE ioc IN SCHEMA public "
                "GRANT SELECT ON TABLES TO ioc_grafana"
            )
        return with_database(database_url, name)

    yield create
    if created:
        with psycopg.connect(with_database(admin_database_url, "postgres"), autocommit=True) as c:
            for name in created:
                c.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
