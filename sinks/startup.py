"""What the sink needs before it starts: a reachable, migrated database, a connection pool
and Kafka clients, each with an error that says what to do."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import Any, Final

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from psycopg_pool import AsyncConnectionPool

from common import metrics
from common.errors import UserError
from sinks import migrate as migrations
from sinks.db import UNAVAILABLE, describe, unreachable
from sinks.options import Backoff

log = logging.getLogger("sinks.sink")

POOL_NAME: Final = "ioc-sink"


async def wait_for_database(url: str, backoff: Backoff, stop: asyncio.Event) -> bool:
    """Wait until TimescaleDB at ``url`` accepts a connection, retrying with ``backoff``
    (logged once when it starts and once when it ends); False when ``stop`` came first."""
    attempt = 0
    began = time.monotonic()
    while not stop.is_set():
        try:
            conn = await psycopg.AsyncConnection.connect(url, connect_timeout=3)
        except UNAVAILABLE as error:
            if attempt == 0:
                metrics.SINK_UP.set(0)
                metrics.SINK_ERRORS.labels(kind="unavailable").inc()
                log.warning(
                    "%s; waiting for it, retrying with back-off %.1f-%.0f s",
                    unreachable(url, error), backoff.minimum, backoff.maximum,
                )  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff.delay(attempt))
            attempt += 1
            continue
        await conn.close()
        if attempt:
            log.warning(
                "TimescaleDB at %s reachable after %.1f s: starting",
                describe(url), time.monotonic() - began,
            )  # fmt: skip
        return True
    return False


async def check_schema(database_url: str, *, migrate_first: bool = False) -> int:
    """Raise UserError unless the database is reachable and migrated (or migrate it)."""
    if migrate_first:
        result = await asyncio.to_thread(migrations.migrate, database_url)
        return result.version
    version = await asyncio.to_thread(migrations.current_version, database_url)
    needed = migrations.latest_version()
    if version < needed:
        raise UserError(
            f"database {describe(database_url)} is at schema version {version}, the sink needs "
            f"{needed}: run `.venv/bin/ioc migrate` first"
        )
    return version


def make_pool(
    database_url: str, *, max_size: int = 3
) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
    """A pool that fails fast while the server is down, so the sink's own back-off rules.

    psycopg_pool warns on every failed reconnection attempt; the sink logs each outage once
    when it starts and once when it ends, so the pool's logger keeps only its errors.
    """
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    return AsyncConnectionPool(
        database_url,
        min_size=1,
        max_size=max_size,
        open=False,
        timeout=3.0,
        reconnect_timeout=1.0,
        check=AsyncConnectionPool.check_connection,
        kwargs={"autocommit": True, "connect_timeout": 3},
        name=POOL_NAME,
    )


async def start_kafka(
    bootstrap: str, topics: Sequence[str], group_id: str, session_timeout_ms: int
) -> tuple[AIOKafkaConsumer, AIOKafkaProducer]:
    """A started consumer (manual commits, from the earliest offset) and producer."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=f"{group_id}-consumer",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=max(100, min(3000, session_timeout_ms // 3)),
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        await consumer.start()
        await producer.start()
    except KafkaConnectionError as error:
        await consumer.stop()
        await producer.stop()
        raise UserError(
            f"cannot reach Kafka at {bootstrap}: {error}. Start the local servers with "
            "`.venv/bin/ioc dev up`, or set IOC_KAFKA_BOOTSTRAP (or IOC_KAFKA_PORT)."
        ) from error
    return consumer, producer
