"""The sink: consume city.kpi.v1 in batches and write into TimescaleDB, exactly once in effect.

:func:`run_sink` checks the database and Kafka (:mod:`sinks.startup`), then runs one
:class:`~sinks.batch_loop.BatchLoop` per consumer group (KPI rows, and with ``archive_raw``
the raw events) and the retention task side by side until ``stop`` is set. It runs inside
any asyncio program; ``ioc sink`` (sinks.cli) wraps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from common import metrics
from common.config import Settings, load
from sinks.batch import SinkStats
from sinks.batch_loop import BatchLoop
from sinks.db import UNAVAILABLE, describe, unreachable
from sinks.options import SinkOptions
from sinks.retention import drop_old_chunks
from sinks.stages import KpiStage, RawStage
from sinks.startup import check_schema, make_pool, start_kafka, wait_for_database

log = logging.getLogger("sinks.sink")


def default_group() -> str:
    """Consumer group of the sink: IOC_SINK_GROUP, else ``smartcity-ioc-sink``."""
    return load().sink_group


async def _retention_task(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
    tables: Sequence[str],
    older_than: timedelta,
    every: float,
    stats: SinkStats,
    stop: asyncio.Event,
) -> None:
    while not stop.is_set():
        for table in tables:
            try:
                async with pool.connection() as conn:
                    result = await drop_old_chunks(conn, table, older_than, count_rows=False)
            except UNAVAILABLE as error:
                log.warning("retention on %s skipped, database unreachable: %s", table, error)
                continue
            stats.chunks_dropped += len(result.chunks)
            if result.chunks:
                log.info("retention: dropped %d chunks of %s", len(result.chunks), table)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


DEFAULTS = SinkOptions()


async def run_sink(
    settings: Settings, options: SinkOptions = DEFAULTS, *, stop: asyncio.Event | None = None
) -> SinkStats:
    """Run the sink until ``stop`` is set (or, with ``options.until_idle``, idle that long).

    A database that is not there at start is waited for with ``options.backoff``, as an
    outage later is. Raises UserError when Kafka is not there at start, or the schema is not
    migrated (``options.migrate_first`` migrates it instead).
    """
    stop = stop if stop is not None else asyncio.Event()
    url = options.database_url or settings.database_url
    group = options.group_id or default_group()
    if not await wait_for_database(url, options.backoff, stop):
        return SinkStats()
    await check_schema(url, migrate_first=options.migrate_first)
    stats = SinkStats()
    pool = make_pool(url, max_size=options.writers * (2 if options.archive_raw else 1) + 1)
    try:
        await pool.open(wait=True, timeout=10.0)
    except UNAVAILABLE as error:
        await pool.close()
        raise unreachable(url, error) from error
    metrics.SINK_UP.set(1)
    stoppers: list[Callable[[], Awaitable[None]]] = [pool.close]
    try:
        groups: list[tuple[Any, Sequence[str], str]] = [(KpiStage(), [options.topic], group)]
        if options.archive_raw:
            groups.append((RawStage(options.raw_topics), options.raw_topics, f"{group}-raw"))
        loops: list[BatchLoop[Any]] = []
        for stage, topics, group_id in groups:
            consumer, producer = await start_kafka(
                settings.kafka_bootstrap, topics, group_id, options.session_timeout_ms
            )
            stoppers += [consumer.stop, producer.stop]
            loops.append(
                BatchLoop(
                    stage, consumer, producer, pool, options,
                    stats=stats, stop=stop, where=describe(url),
                )
            )  # fmt: skip
        await _run_side_by_side(loops, pool, options, stats, stop)
    finally:
        metrics.SINK_UP.set(0)
        for stopper in reversed(stoppers):
            with contextlib.suppress(Exception):
                await stopper()
    return stats


async def _run_side_by_side(
    loops: Sequence[BatchLoop[Any]],
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
    options: SinkOptions,
    stats: SinkStats,
    stop: asyncio.Event,
) -> None:
    """The loops and the retention task in one task group; the first error stops them all
    and is raised as itself (not wrapped in an ExceptionGroup)."""

    async def loops_then_stop() -> None:
        try:
            await asyncio.gather(*(loop.run() for loop in loops))
        finally:
            stop.set()

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(loops_then_stop())
            if options.retention is not None:
                tables = ["kpi", "raw_events"] if options.archive_raw else ["kpi"]
                group.create_task(
                    _retention_task(
                        pool, tables, options.retention, options.retention_every, stats, stop
                    )
                )
    except BaseExceptionGroup as errors:
        raise errors.exceptions[0] from None
