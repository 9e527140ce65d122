"""One replay run: plan, read and recompute, fetch stored rows, compare, and optionally write."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from common.durations import format_duration
from schemas.topics import CLAIMS_TOPIC, CLOCK_TOPIC
from sinks.db import UNAVAILABLE, describe, unreachable
from streams.clocknotes import NoteBook
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
    read_claims,
    read_clock_notes,
)
from streams.replay.recompute import Identity, Recomputer, Result
from streams.replay.report import Report
from streams.replay.republish import Republisher, targets
from streams.replay.selection import Selection
from streams.routing import EntityClaims
from streams.window_rows import KpiRow


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
    url = options.database_url
    conn = await comparing.connect(url)
    try:
        await _require_tables(conn, options)
        reading = await _read(options)
        replayed, comparison, stored = await _compare(conn, options, reading.result)
        warnings = _warnings(options, reading.spans)
        replay_id, audit_rows = None, 0
        if options.into_table:
            replay_id, audit_rows, refused = await _audit(conn, options, replayed)
            warnings += refused
    finally:
        await conn.close()
    sel = options.selection
    return Report(
        selection=sel,
        bootstrap=options.bootstrap,
        database=describe(url),
        grace_seconds=options.grace_seconds,
        future_skew_seconds=options.future_skew_seconds,
        mode=describe_mode(options.margin_seconds),
        include_open=options.include_open,
        tolerance=options.tolerance,
        spans=reading.spans,
        stats=reading.result.stats,
        comparison=comparison,
        rows_replayed=len(replayed),
        rows_stored=stored,
        events_read=reading.events,
        clock_notes=reading.notes.noted,
        read_seconds=reading.seconds,
        total_seconds=time.monotonic() - started,
        started_at=started_at,
        warnings=warnings,
        errors=_split_errors(reading.result),
        missing_topics=[t for t in sel.topics if t not in reading.partitions],
        replay_id=replay_id,
        audit_rows=audit_rows,
        republished=reading.republished,
    )


@dataclass(frozen=True)
class _Reading:
    """What reading the topics gave: their partitions and spans, the recomputation."""

    partitions: dict[str, list[int]]
    spans: list[Span]
    notes: NoteBook
    result: Result
    events: int
    seconds: float
    republished: dict[str, int]


async def _require_tables(conn: psycopg.AsyncConnection[Any], options: Options) -> None:
    """The tables the run reads (and writes); UserError when the database does not answer."""
    url = options.database_url
    try:
        await comparing.require_table(conn, "kpi", url)
        if options.into_table:
            await comparing.require_table(conn, "kpi_audit", url)
    except UNAVAILABLE as error:
        raise unreachable(url, error) from error


async def _read(options: Options) -> _Reading:
    """Plan the spans, read them through a recomputer (and a republisher, if asked)."""
    sel = options.selection
    consumer = await open_consumer(options.bootstrap)
    republisher: Republisher | None = None
    try:
        partitions = await partitions_of(consumer, [*sel.topics, CLOCK_TOPIC, CLAIMS_TOPIC])
        notes = await read_clock_notes(consumer, partitions.pop(CLOCK_TOPIC, []))
        districts = await read_claims(
            consumer, partitions.pop(CLAIMS_TOPIC, []), EntityClaims(options.fixed_districts)
        )
        recomputer = Recomputer(
            sel,
            options.grace_seconds,
            options.future_skew_seconds,
            keep_records=options.republish is not None,
            partition_counts={t: len(ps) for t, ps in partitions.items()},
            clock_notes=notes,
            fixed_districts=districts,
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
        records = await read(consumer, spans, _Feeder(recomputer, progress, republisher))
        events = records - recomputer.markers_read
        result = recomputer.finish()
        seconds = time.monotonic() - read_started
        progress.close()
    finally:
        await consumer.stop()
        if republisher is not None:
            await republisher.close()
    republished = dict(republisher.sent) if republisher is not None else {}
    return _Reading(partitions, spans, notes, result, events, seconds, republished)


def _warnings(options: Options, spans: Sequence[Span]) -> list[str]:
    """What the report warns about: spans that may miss records, a margin too short."""
    warnings = span_warnings(spans, options.margin_seconds is None)
    margin = options.margin_seconds
    if margin is not None and margin < options.future_skew_seconds:
        warnings.append(
            f"--margin {margin:g} s is shorter than the future skew "
            f"{options.future_skew_seconds:g} s: events produced before the start offset "
            "may still fall in the range; use a longer margin or the exact mode"
        )
    return warnings


async def _audit(
    conn: psycopg.AsyncConnection[Any], options: Options, replayed: dict[Identity, KpiRow]
) -> tuple[str, int, list[str]]:
    """Write the recomputed rows into kpi_audit: the replay id, rows written, refusals."""
    replay_id = options.replay_id or new_replay_id(dt.datetime.now(dt.UTC))
    try:
        audit_rows, refused = await write_audit(conn, replayed.values(), replay_id)
    except UNAVAILABLE as error:
        raise unreachable(options.database_url, error) from error
    return replay_id, audit_rows, refused


def _split_errors(result: Result) -> list[str]:
    """Entities whose windows are in two partitions of a topic (a changed key or district)."""
    return [
        f"{kind}:{entity_id} has windows in partitions {sorted(partitions)} of {topic} (an "
        "entity in two partitions: its key or district changed)"
        for (topic, kind, entity_id), partitions in sorted(result.split_entities.items())
    ]


async def _compare(
    conn: psycopg.AsyncConnection[Any], options: Options, result: Result
) -> tuple[dict[Identity, KpiRow], comparing.Comparison, int]:
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
                r.window_end.timestamp() <= result.watermark_of(r.source_topic, r.source_partition)
            ),
            open_replay=result.open_rows.keys(),
        )
    try:
        async for row in comparing.stream_rows(conn, options.selection):
            comparer.add(row)
    except UNAVAILABLE as error:
        raise unreachable(options.database_url, error) from error
    return replayed, comparer.finish(), comparer.stored
