"""The I/O-free pipeline: what a worker produces from simulated province records."""

from __future__ import annotations

import zlib
from collections import defaultdict

import orjson

from schemas.topics import RAW_TOPICS
from simulator.generator import SimConfig, generate
from sinks.kpi_codec import BadMessage, decode_kpis
from sinks.sketch_cumulative import cumulative
from streams.catalog import CATALOG
from streams.pipeline import SourceRecord, TopicPipeline
from streams.window_rows import KpiRow, kpi_pack
from streams.windows import kpi_packs, rows_of
from tests.replay.support import small_province

START_MS = 1_773_100_800_000  # 2026-03-10 00:00 UTC
PARTITIONS = 2
QUANTILE_KPIS = {k.name for k in CATALOG if k.accumulator.startswith("quantile:")}


def province_records(minutes: int) -> dict[str, list[SourceRecord]]:
    """Clean simulated records of ``minutes``, partitioned as the producers key them."""
    config = SimConfig(start_ms=START_MS, end_ms=START_MS + minutes * 60_000, seed=3)
    by_topic: dict[str, list[SourceRecord]] = defaultdict(list)
    next_offset: dict[tuple[str, int], int] = defaultdict(int)
    for m in generate(config, small_province(3, every=6)):
        partition = zlib.crc32(m.key) % PARTITIONS
        offset = next_offset[(m.topic, partition)]
        next_offset[(m.topic, partition)] += 1
        by_topic[m.topic].append(SourceRecord(m.topic, partition, offset, m.sim_ms, m.key, m.value))
    return by_topic


def _identity(row: object) -> tuple[object, ...]:
    assert isinstance(row, KpiRow)
    return row.identity()


def test_kpi_packs_carry_every_row_once_as_the_sink_decodes_them() -> None:
    records = province_records(minutes=75)
    packs_seen = rows_seen = rows_seen_sketched = 0
    for topic in RAW_TOPICS:
        pipeline = TopicPipeline(topic, grace_seconds=30, future_skew_seconds=300)
        for partition in range(PARTITIONS):
            pipeline.load(partition, [])
        batch = records[topic]
        for i in range(0, len(batch), 400):
            applied = pipeline.apply(batch[i : i + 400])
            closings = pipeline.close(applied.touched)
            expected = [row._replace(sketch=None) for row in rows_of(closings)]
            packs = kpi_packs(closings, rows_per_pack=50)
            decoded = [row for _, value in packs for row in decode_kpis(value)]
            assert not [row for row in decoded if isinstance(row, BadMessage)]
            sketched = [r for r in decoded if isinstance(r, KpiRow) and r.sketch is not None]
            assert all(r.entity_kind == "district" for r in sketched)
            assert {r.kpi for r in sketched} <= QUANTILE_KPIS
            assert all(r.sketch_cumulative == cumulative(r.sketch) for r in sketched)
            rows_seen_sketched += len(sketched)
            plain = [
                r._replace(sketch=None, sketch_cumulative=None)
                for r in decoded
                if isinstance(r, KpiRow)
            ]
            assert sorted(plain, key=_identity) == sorted(expected, key=_identity)
            for key, value in packs:
                windows = orjson.loads(value)
                assert {w["source_partition"] for w in windows} == {int(key.split(b"|")[1])}
                assert sum(len(w["kpis"]) for w in windows) < 50 + max(
                    len(w["kpis"]) for w in windows
                )
            for partition, closing in closings.items():  # one encoder for packs and rows
                whole = kpi_packs({partition: closing}, rows_per_pack=1 << 30)
                assert [value for _, value in whole] == ([kpi_pack(closing.rows)] * bool(whole))
            pipeline.retire(closings)
            packs_seen += len(packs)
            rows_seen += len(expected)
    assert packs_seen > 10 and rows_seen > 1000
    assert rows_seen_sketched > 50, "district quantile rows carry their sketches"
