"""One replay run: plan, read and recompute, fetch stored rows, compare, and optionally write."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from common.durations import format_duration
from schemas.topics import CLOCK_TOPIC
from sinks.db import UNAVAILABLE, describe, unreachable
from streams.pipeline import SourceRecord
from streams.replay import compare as comparing
from streams.replay.audit import new_replay_id, write_audit
from streams.replay.progress import Progress
from streams.replay.reading import (
    Span,
    open_consumer,
    partitions_of,
    plan,
    read,
    read_clock_notes,
)
from streams.replay.recompute import Identity, Recomputer, Result
from streams.replay.report import Report
from streams.replay.republish import Republisher, targets
from streams.replay.selection import Selection
from streams.windows import KpiResult


@dataclass(frozen=True)
class Options:
    """What ``ioc replay`` was asked to do.

    ``margin_seconds`` None is the exact mode (every partition from its beginning).
    """

    selection: Selection
    bootstrap: str
    database_url: str
    grace_seconds: float
    future_skew_seconds: float
    margin_seconds: float | None = None
    include_open: bool = False
    tolerance: float = 0.0
    republish: str | None = None
    into_table: bool = False
    replay_id: str | None = None
    progress: bool = False
    fixed_districts: Mapping[str, str] | None = None
    """The province's entity registry (``IOC_ENTITY_REGISTRY``), as the workers read it."""


def describe_mode(margin_seconds: float | None) -> str:
    """How start offsets were chosen, in words."""
    if margin_seconds is None:
        return "exact (every partition from the beginning of retention)"
    margin = format_duration(dt.timedelta(seconds=margin_seconds))
    return f"margin {margin} (from offsets_for_times(from - {margin}), broker time)"


def span_warnings(spans: Sequence[Span], exact: bool) -> list[str]:
    """Where the records read may not be all the worker saw."""
    out: list[str] = []
    for s in spans:
        where = f"{s.topic}[{s.partition}]"
        if s.how == "fallback":
            out.append(f"{where}: offsets_for_times gave no usable answer, read from the beginning")
        if exact and s.log_start > 0:
            out.append(
                f"{where}: records before offset {s.log_start} were deleted by retention; "
                "the worker saw them, so lateness right after that offset may differ"
            )
    return out


class _Feeder:
    """Receives record batches: recompute, show progress, republish."""

    def __init__(
        self, recomputer: Recomputer, progress: Progress, republisher: Republisher | None
    ) -> None:
        self.recomputer = recomputer
        self.progress = progress
        self.republisher = republisher

    async def __call__(self, topic: str, records: Sequence[SourceRecord]) -> None:
        self.recomputer.feed(topic, records)
        self.progress.advance(len(records))
        if self.republisher is not None:
            kept = self.recomputer.take_kept(topic)
            if kept:
                await self.republisher.send(topic, kept)


async def replay(options: Options) -> Report:
    """Run a replay; UserError when a server does not answer."""
    started = time.monotonic()
    started_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sel = options.selection
    url = options.database_url
    conn = await comparing.connect(url)
    try:
        try:
            await comparing.require_table(conn, "kpi", url)
            if options.into_table:
                await comparing.require_table(conn, "kpi_audit", url)
        except UNAVAILABLE as error:
            raise unreachable(url, error) from error
        consumer = await open_consumer(options.bootstrap)
        republisher: Republisher | None = None
        try:
            partitions = await partitions_of(consumer, [*sel.topics, CLOCK_TOPIC])
            notes = await read_clock_notes(consumer, partitions.pop(CLOCK_TOPIC, []))
            recomputer = Recomputer(
                sel,
                options.grace_seconds,
                options.future_skew_seconds,
                keep_records=options.republish is not None,
                partition_counts={t: len(ps) for t, ps in partitions.items()},
                clock_notes=notes,
                fixed_districts=options.fixed_districts,
            )
            since_ms = None
            if options.margin_seconds is not None:
                since_ms = int((sel.start - options.margin_seconds) * 1000)
            spans = await plan(consumer, partitions, since_ms=since_ms)
            if options.republish is not None:
                republisher = Republisher(options.bootstrap, targets(options.republish, sel.topics))
                await republisher.start({t: len(ps) for t, ps in partitions.items()})
            progress = Progress(sum(s.size for s in spans), enabled=options.progress)
            read_started = time.monotonic()
            events = await read(consumer, spans, _Feeder(recomputer, progress, republisher))
            result = recomputer.finish()
            read_seconds = time.monotonic() - read_started
            progress.close()
        finally:
            await consumer.stop()
            if republisher is not None:
                await republisher.close()
        replayed, comparison, stored = await _compare(conn, options, result)
        audit_rows = 0
        replay_id = None
        warnings = span_warnings(spans, options.margin_seconds is None)
        margin = options.margin_seconds
        if margin is not None and margin < options.future_skew_seconds:
            warnings.append(
                f"--margin {margin:g} s is shorter than the future skew "
                f"{options.future_skew_seconds:g} s: events produced before the start offset "
                "may still fall in the range; use a longer margin or the exact mode"
            )
        if options.into_table:
            replay_id = options.replay_id or new_replay_id(dt.datetime.now(dt.UTC))
            try:
                audit_rows, refused = await write_audit(conn, replayed.values(), replay_id)
            except UNAVAILABLE as error:
                raise unreachable(url, error) from error
            warnings += refused
    finally:
        await conn.close()
    errors = [
        f"{kind}:{entity_id} has windows in partitions {sorted(partitions)} of {topic} (an "
        "entity in two partitions: its key or district changed)"
        for (topic, kind, entity_id), partitions in sorted(result.split_entities.items())
    ]
    return Report(
        selection=sel,
        bootstrap=options.bootstrap,
        database=describe(url),
        grace_seconds=options.grace_seconds,
        future_skew_seconds=options.future_skew_seconds,
        mode=describe_mode(options.margin_seconds),
        include_open=options.include_open,
        tolerance=options.tolerance,
        spans=spans,
        stats=result.stats,
        comparison=comparison,
        rows_replayed=len(replayed),
        rows_stored=stored,
        events_read=events,
        clock_notes=notes.noted,
        read_seconds=read_seconds,
        total_seconds=time.monotonic() - started,
        started_at=started_at,
        warnings=warnings,
        errors=errors,
        missing_topics=[t for t in sel.topics if t not in partitions],
        replay_id=replay_id,
        audit_rows=audit_rows,
        republished=dict(republisher.sent) if republisher is not None else {},
    )


async def _compare(
    conn: psycopg.AsyncConnection[Any], options: Options, result: Result
) -> tuple[dict[Identity, KpiResult], comparing.Comparison, int]:
    """Recomputed rows taking part, the comparison, and how many stored rows were read."""
    if options.include_open:
        replayed = {**result.rows, **result.open_rows}
        comparer = comparing.Comparer(replayed, tolerance=options.tolerance)
    else:
        replayed = result.rows
        comparer = comparing.Comparer(
            replayed,
            tolerance=options.tolerance,
            comparable=lambda r: (
                r.window_end <= result.watermark_of(r.source_topic, r.source_partition)
            ),
            open_replay=result.open_rows.keys(),
        )
    try:
        async for row in comparing.stream_rows(conn, options.selection):
            comparer.add(row)
    except UNAVAILABLE as error:
        raise unreachable(options.database_url, error) from error
    return replayed, comparer.finish(), comparer.stored
