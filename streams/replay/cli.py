"""``ioc replay``: recompute KPIs of a time range from the raw topics and diff them with the DB."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from common import config
from common.durations import seconds_arg
from common.errors import UserError
from streams.replay import report as reporting
from streams.replay import report_files
from streams.replay.run import Options, replay
from streams.replay.selection import (
    Selection,
    parse_entities,
    parse_kpis,
    parse_topics,
    parse_windows,
    topics_for_kpis,
)
from streams.replay.times import parse_time
from streams.routing import load_entity_registry

DESCRIPTION = """\
Re-read the raw topics with plain aiokafka (no consumer group), recompute the KPI rows of
every window inside [--from, --to) with the worker's own pipeline, and compare them with
the rows of the TimescaleDB table `kpi` by identity (kpi, entity, window): value exactly
(or within --tolerance), count and event_count exactly. Each difference (missing in the
database, extra there, or changed) is reported with its lineage (topic, partition,
offsets). Exit code: 0 all equal, 1 differences found, 2 error.

By default every partition is read from the beginning of retention, as the worker read it,
so lateness is decided exactly as the worker decided it (exact mode). --margin starts at
offsets_for_times(from - margin) instead (record time), which is faster and still exact
when producers' clocks are within margin - future skew of the broker's.
Records a worker judged by its wall clock rather than by their record time (stamped ahead
of it) are judged by the time it noted on city.clock.v1. Windows ending after a
partition's last event watermark are only closed by a worker's wall-clock idle advance;
they are not compared unless --include-open.
"""

EXAMPLES = """\
examples:
  ioc replay --from now-2h --to now-1h
  ioc replay --from 2026-03-10T06:00Z --to 2026-03-10T07:00Z --kpi farm.salinity_max_gl \\
      --entity district:vi-thanh --window 1m,15m --report audit.md
  ioc replay --from now-1d --to now --margin 15m --report day.json --into-table
"""


def register(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the ``replay`` subcommand."""
    p = add_parser(
        "replay",
        help="recompute KPIs of a time range from the raw topics and diff with TimescaleDB",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_selection(p)
    _add_recomputation(p)
    _add_outputs(p)
    _add_connections(p)
    p.set_defaults(handler=run)


def _add_selection(p: argparse.ArgumentParser) -> None:
    """The range and what to compare in it."""
    g = p.add_argument_group("selection")
    g.add_argument(
        "--from",
        dest="start",
        required=True,
        metavar="T1",
        help="range start (event time): ISO 8601 (UTC if no zone), now, now-2h",
    )
    g.add_argument(
        "--to", dest="end", required=True, metavar="T2", help="range end, exclusive (same forms)"
    )
    g.add_argument(
        "--topics",
        nargs="+",
        default=[],
        metavar="TOPIC",
        help="raw topics (portal, network, farm or full names; default all, or those of --kpi)",
    )
    g.add_argument("--kpi", action="append", default=[], help="KPI name (repeatable, or a,b)")
    g.add_argument(
        "--entity",
        action="append",
        default=[],
        metavar="KIND:ID",
        help="entity such as district:vi-thanh or sensor:vt-sal-001 (repeatable)",
    )
    g.add_argument(
        "--window", action="append", default=[], help="window kinds: 1m,15m,1h (default all)"
    )


def _add_recomputation(p: argparse.ArgumentParser) -> None:
    """How the worker's decisions are reproduced."""
    g = p.add_argument_group("recomputation")
    g.add_argument(
        "--grace",
        type=float,
        default=None,
        metavar="S",
        help="grace seconds, as the worker's (default IOC_GRACE_SECONDS or 30)",
    )
    g.add_argument(
        "--future-skew",
        type=float,
        default=None,
        metavar="S",
        help="allowed future skew seconds, as the worker's (default IOC_FUTURE_SKEW_SECONDS)",
    )
    start = g.add_mutually_exclusive_group()
    start.add_argument(
        "--from-beginning",
        action="store_true",
        help="read every partition from the beginning of retention (the default, exact)",
    )
    start.add_argument(
        "--margin",
        type=seconds_arg,
        metavar="DURATION",
        help="faster: start at offsets_for_times(T1 - DURATION), e.g. 15m; must exceed the "
        "future skew plus producer clock error",
    )
    g.add_argument(
        "--include-open",
        action="store_true",
        help="also compare windows ending after a partition's last event watermark",
    )
    g.add_argument(
        "--tolerance",
        type=_tolerance,
        default=0.0,
        metavar="REL",
        help="relative tolerance on value (default 0: exact)",
    )


def _add_outputs(p: argparse.ArgumentParser) -> None:
    """Reports, copies and progress."""
    g = p.add_argument_group("outputs")
    g.add_argument(
        "--report",
        action="append",
        default=[],
        type=_report_path,
        metavar="FILE",
        help="write the report to FILE.md, FILE.json or FILE.csv (repeatable)",
    )
    g.add_argument(
        "--max-shown", type=int, default=20, metavar="N", help="differences listed on stdout"
    )
    g.add_argument(
        "--republish",
        metavar="TOPIC",
        help="copy the raw records of the range (key, value, timestamp) to TOPIC (several "
        "topics: TOPIC.<raw topic>) for sandbox reprocessing; originals are untouched",
    )
    g.add_argument(
        "--into-table",
        action="store_true",
        help="write the recomputed rows that were compared into kpi_audit under a replay id",
    )
    g.add_argument("--replay-id", help="replay id for --into-table (default replay-<time>-<uuid>)")
    shown = g.add_mutually_exclusive_group()
    shown.add_argument(
        "--progress", action="store_true", default=None, help="progress line even without a TTY"
    )
    shown.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no progress line"
    )


def _add_connections(p: argparse.ArgumentParser) -> None:
    """Where Kafka and TimescaleDB are."""
    g = p.add_argument_group("connections")
    g.add_argument(
        "--bootstrap", help="Kafka bootstrap (default IOC_KAFKA_BOOTSTRAP or 127.0.0.1:19092)"
    )
    g.add_argument(
        "--database-url",
        help="PostgreSQL URL (default IOC_DATABASE_URL or postgresql://ioc@127.0.0.1:15432/ioc)",
    )


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError("the tolerance is relative: between 0 and 1")
    return value


def _report_path(text: str) -> Path:
    path = Path(text)
    if path.suffix.lower() not in reporting.FORMATS:
        raise argparse.ArgumentTypeError(f"{text}: use a .md, .json or .csv file name")
    return path


def options_from(args: argparse.Namespace, now: dt.datetime) -> Options:
    """Options from parsed arguments; UserError for values that do not make sense."""
    settings = config.load()
    try:
        start = parse_time(args.start, now)
        end = parse_time(args.end, now)
        if end <= start:
            raise ValueError(
                f"--to {end:%Y-%m-%dT%H:%M:%SZ} must be after --from {start:%Y-%m-%dT%H:%M:%SZ}"
            )
        kpis = parse_kpis(args.kpi)
        topics = parse_topics(args.topics) if args.topics else topics_for_kpis(kpis)
        selection = Selection(
            start=start.timestamp(),
            end=end.timestamp(),
            topics=topics,
            kpis=kpis,
            entities=parse_entities(args.entity),
            windows=parse_windows(args.window),
        )
    except ValueError as error:
        raise UserError(str(error)) from None
    if not selection.kpi_names():
        raise UserError("no KPI of the selected topics matches --kpi")
    if args.replay_id is not None and not args.into_table:
        raise UserError("--replay-id only makes sense with --into-table")
    progress = sys.stderr.isatty() if args.progress is None else bool(args.progress)
    return Options(
        selection=selection,
        bootstrap=args.bootstrap or settings.kafka_bootstrap,
        database_url=args.database_url or settings.database_url,
        grace_seconds=settings.grace_seconds if args.grace is None else args.grace,
        future_skew_seconds=(
            settings.future_skew_seconds if args.future_skew is None else args.future_skew
        ),
        margin_seconds=args.margin,
        include_open=args.include_open,
        tolerance=args.tolerance,
        republish=args.republish,
        into_table=args.into_table,
        replay_id=args.replay_id,
        progress=progress,
        fixed_districts=load_entity_registry(settings.entity_registry),
    )


def run(args: argparse.Namespace) -> int:
    """Run ``ioc replay``: 0 when every compared row is equal, 1 when any differs."""
    options = options_from(args, dt.datetime.now(dt.UTC))
    # aiokafka logs every failed connection attempt; failures surface as UserError instead.
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        result = asyncio.run(replay(options))
    finally:
        quiet.setLevel(level)
    for path in args.report:
        try:
            report_files.write(result, path)
        except OSError as error:
            raise UserError(f"cannot write the report {path}: {error}") from error
    print(reporting.summary(result, max(0, args.max_shown)))
    for path in args.report:
        print(f"report written to {path}")
    return 1 if result.differs else 0
