"""``ioc migrate``, ``ioc sink`` and ``ioc retention``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Callable
from datetime import timedelta

import psycopg

from common import config, metrics
from common.durations import duration_arg, format_duration
from common.errors import UserError
from schemas.topics import DEADLETTER_TOPIC, KPI_TOPIC
from sinks import migrate as migrations
from sinks.batch import SinkStats
from sinks.db import UNAVAILABLE, describe, unreachable
from sinks.options import SinkOptions
from sinks.retention import TABLES, RetentionResult, drop_old_chunks
from sinks.sink import default_group, run_sink


def register(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the ``migrate``, ``sink`` and ``retention`` subcommands."""
    _register_migrate(add_parser)
    _register_sink(add_parser)
    _register_retention(add_parser)


def _register_migrate(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    p = add_parser(
        "migrate",
        help="apply the TimescaleDB schema migrations (idempotent)",
        description="Apply sinks/migrations/NNNN_*.sql in order, each in its own transaction, "
        "under an advisory lock. Refuses a database migrated by newer code.",
    )
    _database_option(p)
    p.add_argument("--status", action="store_true", help="list migrations, apply nothing")
    p.set_defaults(handler=_migrate)


def _register_sink(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    p = add_parser(
        "sink",
        help="consume city.kpi.v1 and upsert KPI rows into TimescaleDB",
        description="Batched idempotent upsert of KPI rows; Kafka offsets are committed only "
        "after the database commit. A database outage pauses consumption and retries with "
        "back-off. Serves /metrics on IOC_SINK_METRICS_PORT (9465) unless --no-metrics.",
    )
    _database_option(p)
    p.add_argument("--topic", default=KPI_TOPIC, help="KPI topic (default %(default)s)")
    p.add_argument(
        "--deadletter-topic", default=DEADLETTER_TOPIC, help="dead-letter topic (%(default)s)"
    )
    p.add_argument(
        "--group",
        default=None,
        help=f"consumer group (default IOC_SINK_GROUP or {default_group()})",
    )
    p.add_argument("--batch-size", type=_positive_int, default=5000, help="rows per batch")
    p.add_argument(
        "--writers",
        type=_positive_int,
        default=2,
        help="transactions writing each batch side by side, one per group of partitions (2)",
    )
    p.add_argument(
        "--linger", type=float, default=0.1, help="seconds to wait for a batch to fill (0.1)"
    )
    stop = p.add_mutually_exclusive_group()
    stop.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="stop after no new message arrived for SECONDS (tests, demo)",
    )
    stop.add_argument(
        "--once", action="store_true", help="drain what is there and stop (= --until-idle 3)"
    )
    p.add_argument(
        "--archive-raw",
        action="store_true",
        help="also archive validated raw events of the three raw topics into raw_events",
    )
    p.add_argument(
        "--retention",
        type=duration_arg,
        metavar="AGE",
        help="drop chunks older than AGE (e.g. 90d) from kpi (and raw_events) every hour",
    )
    p.add_argument(
        "--migrate", action="store_true", help="apply pending migrations before starting"
    )
    p.add_argument("--no-metrics", action="store_true", help="do not serve /metrics")
    p.set_defaults(handler=_sink)


def _register_retention(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    p = add_parser(
        "retention",
        help="drop TimescaleDB chunks older than an age (drop_chunks)",
        description="Drop whole chunks whose time range ended more than AGE ago. The Apache "
        "edition of TimescaleDB has no retention policy; run this from cron or use "
        "`ioc sink --retention`.",
    )
    _database_option(p)
    p.add_argument(
        "--older-than", type=duration_arg, required=True, metavar="AGE", help="e.g. 30d, 12h, 2w"
    )
    p.add_argument("--table", choices=TABLES, default="kpi", help="hypertable (default kpi)")
    p.add_argument("--dry-run", action="store_true", help="list the chunks, drop nothing")
    p.set_defaults(handler=_retention)


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL URL (default IOC_DATABASE_URL or postgresql://ioc@127.0.0.1:15432/ioc)",
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be a positive integer")
    return value


def _url(args: argparse.Namespace) -> str:
    return str(args.database_url or config.load().database_url)


def _migrate(args: argparse.Namespace) -> int:
    url = _url(args)
    if args.status:
        for migration, applied in migrations.status(url):
            print(f"{'applied' if applied else 'pending'}  {migration.label}")
        return 0
    result = migrations.migrate(url)
    for migration in result.applied:
        print(f"applied {migration.label}")
    print(
        f"{describe(url)} is at schema version {result.version} "
        f"(timescaledb license: {result.license})"
    )
    return 0


def _sink(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = config.load()
    if not args.no_metrics:
        try:
            metrics.serve(metrics.SINK_REGISTRY, settings.ports.sink_metrics)
        except OSError as error:
            raise UserError(
                f"cannot serve /metrics on 127.0.0.1:{settings.ports.sink_metrics}: {error}. "
                "Another sink may run; set IOC_SINK_METRICS_PORT or pass --no-metrics."
            ) from error
    stats = asyncio.run(_sink_main(args, settings))
    print(
        f"sink: {stats.messages} messages, {stats.rows_written} rows written "
        f"({stats.rows_changed} new or changed) in {stats.batches} batches, "
        f"{stats.invalid} invalid and {stats.rejected} refused rows dead-lettered, "
        f"{stats.outages} database outages"
        + (f", {stats.raw_written} raw events archived" if args.archive_raw else "")
    )
    return 0


async def _sink_main(args: argparse.Namespace, settings: config.Settings) -> SinkStats:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    until_idle = 3.0 if args.once else args.until_idle
    options = SinkOptions(
        group_id=args.group,
        topic=args.topic,
        deadletter_topic=args.deadletter_topic,
        database_url=_url(args),
        batch_size=args.batch_size,
        writers=args.writers,
        linger=args.linger,
        until_idle=until_idle,
        archive_raw=args.archive_raw,
        retention=args.retention,
        migrate_first=args.migrate,
    )
    return await run_sink(settings, options, stop=stop)


def _retention(args: argparse.Namespace) -> int:
    url = _url(args)
    result = asyncio.run(_retention_main(url, args.table, args.older_than, args.dry_run))
    verb = "would drop" if result.dry_run else "dropped"
    print(
        f"{args.table}: {verb} {len(result.chunks)} chunks ({result.rows} rows) older than "
        f"{format_duration(result.older_than)}"
    )
    for chunk in result.chunks:
        span = f"[{chunk.range_start.isoformat()}, {chunk.range_end.isoformat()})"
        print(f"  {chunk.name}  {span}  {chunk.rows} rows")
    return 0


async def _retention_main(
    url: str, table: str, older_than: timedelta, dry_run: bool
) -> RetentionResult:
    try:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True, connect_timeout=10)
    except UNAVAILABLE as error:
        raise unreachable(url, error) from error
    async with conn:
        return await drop_old_chunks(conn, table, older_than, dry_run=dry_run)
