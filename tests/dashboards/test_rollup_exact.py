"""Province roll-ups on the boards equal a computation from the raw events.

District rows of a small simulated province go through the worker's pipeline and the sink's
writer into TimescaleDB; the boards' merge SQL (``dashboards.kpis.merge_sql``) rolls them up
to the province per hour and per 15 minutes. Each figure must equal the independent oracle's
brute-force value over every admitted event of every district in that window: exact for
counts, sums, means, ratios (merged by their denominator, ``weight``), extremes, and
quantiles (each district row carries its sketch; the province merges them in SQL).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import sql

from dashboards.kpis import merge_sql
from deploy.devstack.aio import run_sync
from schemas.topics import RAW_TOPICS
from sinks.kpi_codec import decode_kpis
from sinks.migrate import migrate
from sinks.writer import write_kpi_rows
from streams.catalog import kpis_for_topic
from streams.pipeline import SourceRecord, TopicPipeline
from streams.routing import district_partition
from streams.window_rows import KpiRow
from streams.windows import kpi_packs
from tests.oracle import Admitted, OracleRecord, _brute_force, judge, same_value
from tests.streams.support import province_messages

pytestmark = pytest.mark.integration

PARTITIONS = 4
WINDOWS = {"1h": 3600, "15m": 900}


def _records(topic: str, messages: list[tuple[str, bytes, bytes]]) -> list[SourceRecord]:
    offsets: dict[int, int] = defaultdict(int)
    out = []
    for t, key, value in messages:
        if t != topic:
            continue
        partition = district_partition(key.decode(), PARTITIONS)
        out.append(SourceRecord(topic, partition, offsets[partition], None, key, value))
        offsets[partition] += 1
    return out


def _pipeline_rows(topic: str, records: list[SourceRecord]) -> list[KpiRow]:
    """The district rows of ``records`` as the sink stores them: the worker's city.kpi.v1
    packs, decoded by the sink's codec."""
    pipeline = TopicPipeline(topic, 30.0, 300.0, PARTITIONS)
    for partition in range(PARTITIONS):
        pipeline.partitions[partition] = pipeline.new_windows(partition)
    packs = []
    for start in range(0, len(records), 500):
        applied = pipeline.apply(records[start : start + 500])
        closings = pipeline.close(applied.touched)
        packs += kpi_packs(closings, 500)
        pipeline.retire(closings)
    for windows in pipeline.partitions.values():
        windows.advance_idle(1e10)
    packs += kpi_packs(pipeline.close(range(PARTITIONS)), 500)
    rows = [row for _, value in packs for row in decode_kpis(value)]
    assert all(isinstance(row, KpiRow) for row in rows)
    return [row for row in rows if isinstance(row, KpiRow) and row.entity_kind == "district"]


def _admitted(topic: str, records: list[SourceRecord]) -> list[Admitted]:
    out: list[Admitted] = []
    for partition in range(PARTITIONS):
        mine = [
            OracleRecord(r.partition, r.offset, r.timestamp, r.value)
            for r in records
            if r.partition == partition
        ]
        verdicts = judge(
            topic, partition, mine, partitions=PARTITIONS, grace=30.0, skew=300.0,
            horizon=3630.0,
        )  # fmt: skip
        out += verdicts.admitted
    return out


@pytest.mark.parametrize("older_rows", [False, True], ids=["cumulative", "json-bins"])
def test_province_rollups_equal_the_raw_events(
    new_database: Callable[..., str], older_rows: bool
) -> None:
    """``older_rows``: one district's rows lack the cumulative sketch (as rows written
    before migration 0010), so quantiles merge the JSON bins instead."""
    url = new_database("rollup")
    migrate(url)
    messages = province_messages(seed=5, minutes=75, start="2026-03-10T06:50:00+00:00")
    checked = quantiles = 0
    for topic in RAW_TOPICS:
        records = _records(topic, messages)
        rows = _pipeline_rows(topic, records)

        async def store(rows: list[KpiRow] = rows) -> None:
            async with await psycopg.AsyncConnection.connect(url) as conn:
                result = await write_kpi_rows(conn, rows)
                assert not result.rejected

        run_sync(store)
        with psycopg.connect(url) as conn:
            if older_rows:
                conn.execute("UPDATE kpi SET sketch_cumulative = NULL WHERE district = 'vi-thanh'")
            else:
                (with_sketch, cumulative) = conn.execute(
                    "SELECT count(sketch), count(sketch_cumulative) FROM kpi"
                ).fetchone() or (0, 0)
                assert with_sketch == cumulative
        admitted = _admitted(topic, records)
        for kpi in kpis_for_topic(topic):
            for kind, seconds in WINDOWS.items():
                by_window: dict[int, list[Any]] = defaultdict(list)
                for item in admitted:
                    for end in _window_ends(item.time, seconds):
                        by_window[end].append(item.event)
                query = sql.SQL(
                    "SELECT extract(epoch FROM window_end)::bigint, {merge} FROM kpi "
                    "WHERE kpi = %s AND entity_kind = 'district' AND window_kind = %s "
                    "GROUP BY window_end"
                ).format(merge=sql.SQL(merge_sql(kpi)))  # type: ignore[arg-type]
                with psycopg.connect(url) as conn:
                    board = dict(conn.execute(query, (kpi.name, kind)).fetchall())
                for end, events in by_window.items():
                    want, _ = _brute_force(kpi, sorted(events, key=_time), seconds)
                    if want is None:
                        assert board.get(end) is None, (kpi.name, kind, end)
                        continue
                    assert end in board, (kpi.name, kind, end)
                    assert same_value(float(board[end]), want), (
                        kpi.name, kind, end, board[end], want,
                    )  # fmt: skip
                    checked += 1
                    quantiles += kpi.accumulator.startswith("quantile:")
    assert checked > 500
    assert quantiles > 50


def _window_ends(t: float, seconds: int) -> range:
    """Ends of the windows of ``seconds`` that hold event time ``t``: one tumbling hour, or
    the 15 hopping quarters (every minute) that cover its minute."""
    if seconds == 3600:
        end = int(t // 3600) * 3600 + 3600
        return range(end, end + 1)
    minute_end = int(t // 60) * 60 + 60
    return range(minute_end, minute_end + seconds, 60)


def _time(event: Any) -> dt.datetime:
    occurred: dt.datetime = event.occurred_at
    return occurred
