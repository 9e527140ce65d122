"""Recompute is the worker's pipeline: same rows whatever the batching, lateness from all events,
and the --margin start is exact under its stated clock assumption."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.topics import FARM_TOPIC
from streams import window_close
from streams.pipeline import SourceRecord, TopicPipeline
from streams.replay.recompute import Recomputer
from streams.replay.selection import Selection
from streams.window_rows import KpiRow
from streams.windows import rows_of
from tests.support.readings import salinity_reading

T0 = int(dt.datetime(2026, 3, 10, 6, 0, tzinfo=dt.UTC).timestamp())
GRACE = 30.0
SKEW = 300.0


DISTRICTS = ("vi-thanh", "nga-bay")


def reading(
    i: int, occurred: float, sensor: int = 0, value: float = 1.0, partition: int = 0
) -> bytes:
    """A salinity reading; each partition holds one district (raw topics are keyed by it)."""
    district = DISTRICTS[partition]
    return salinity_reading(
        f"e{i}", occurred, district, f"{district}-sal-{sensor:03d}",
        value=value, farm_id="vt-farm-01", battery_pct=50.0,
    )  # fmt: skip


def record(offset: int, value: bytes, broker_time: float, partition: int = 0) -> SourceRecord:
    key = DISTRICTS[partition].encode()
    return SourceRecord(FARM_TOPIC, partition, offset, int(broker_time * 1000), key, value)


def worker_rows(records: list[SourceRecord], batch: int) -> list[KpiRow]:
    """What a worker emits (no idle advance), processing ``batch`` records at a time."""
    pipeline = TopicPipeline(FARM_TOPIC, GRACE, SKEW)
    rows: list[KpiRow] = []
    for i in range(0, len(records), batch):
        chunk = records[i : i + batch]
        for partition in {r.partition for r in chunk}:
            if not pipeline.is_loaded(partition):
                pipeline.load(partition, [])
        applied = pipeline.apply(chunk)
        closings = pipeline.close(applied.touched)
        pipeline.pane_writes(applied.touched, closings)
        rows.extend(rows_of(closings))
        pipeline.retire(closings)
    return rows


def replay(records: list[SourceRecord], sel: Selection, batch: int) -> Recomputer:
    recomputer = Recomputer(sel, GRACE, SKEW)
    for i in range(0, len(records), batch):
        recomputer.feed(FARM_TOPIC, records[i : i + batch])
    return recomputer


def stream(seed: int, n: int) -> list[SourceRecord]:
    """Two partitions of readings, mostly in order, some late, duplicated or malformed."""
    rng = random.Random(seed)
    out: list[SourceRecord] = []
    offsets = [0, 0]
    t = float(T0)
    for i in range(n):
        t += rng.uniform(0, 20)
        partition = rng.randrange(2)
        roll = rng.random()
        if roll < 0.05:
            value = b'{"broken'
        elif roll < 0.1 and offsets[partition]:
            same = [r for r in out if r.partition == partition]
            value = same[rng.randrange(len(same))].value or b""
        else:
            occurred = t - (rng.uniform(60, 600) if roll < 0.2 else rng.uniform(0, 5))
            value = reading(i, occurred, rng.randrange(3), rng.uniform(0, 8), partition)
        out.append(record(offsets[partition], value, t, partition))
        offsets[partition] += 1
    return out


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    worker_batch=st.integers(1, 50),
    replay_batch=st.integers(1, 400),
)
def test_replay_rows_are_the_worker_rows_whatever_the_batching(
    seed: int, worker_batch: int, replay_batch: int
) -> None:
    records = stream(seed, 300)
    sel = Selection(T0 + 600, T0 + 2400, topics=(FARM_TOPIC,))
    expected = {r.identity(): r for r in worker_rows(records, worker_batch) if sel.keeps(r)}
    result = replay(records, sel, replay_batch).finish()
    assert result.rows == expected
    assert set(result.open_rows).isdisjoint(expected)
    for row in result.open_rows.values():
        assert row.window_end.timestamp() > result.watermarks[(FARM_TOPIC, row.source_partition)]


def test_an_event_made_late_by_an_event_outside_the_range_stays_late() -> None:
    sel = Selection(T0, T0 + 3600, topics=(FARM_TOPIC,))
    records = [
        record(0, reading(1, T0 + 10), T0 + 10),
        record(1, reading(2, T0 + 7200), T0 + 7200),  # after the range: moves the watermark
        record(2, reading(3, T0 + 300, sensor=1), T0 + 7201),  # in the range, now late
    ]
    recomputer = replay(records, sel, 1)
    result = recomputer.finish()
    stats = recomputer.stats[FARM_TOPIC]
    assert stats.range_summary() == {
        "events": 2,
        "windowed": 1,
        "late": 1,
        "invalid": 0,
        "duplicate": 0,
        "rerouted": 0,
    }
    assert {r.entity_id for r in result.rows.values()} == {"vi-thanh", "vi-thanh-sal-000"}
    assert all(r.window_start.timestamp() < T0 + 300 for r in result.rows.values())


def test_rows_are_only_those_the_selection_keeps_and_open_ones_are_apart() -> None:
    sel = Selection(
        T0,
        T0 + 3600,
        topics=(FARM_TOPIC,),
        kpis=frozenset({"farm.salinity_max_gl"}),
        windows=frozenset({"1m"}),
        entities=frozenset({("sensor", "vi-thanh-sal-000")}),
    )
    records = [record(i, reading(i, T0 + 30 * i), T0 + 30 * i) for i in range(20)]
    result = replay(records, sel, 7).finish()
    assert {(r.kpi, r.entity_id, r.window_kind) for r in result.rows.values()} == {
        ("farm.salinity_max_gl", "vi-thanh-sal-000", "1m")
    }
    last_watermark = T0 + 30 * 19 - GRACE
    assert all(r.window_end.timestamp() <= last_watermark for r in result.rows.values())
    assert all(r.window_end.timestamp() > last_watermark for r in result.open_rows.values())
    assert len(result.rows) + len(result.open_rows) == 10


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    extra_margin=st.floats(0, 1200),
    start_minute=st.integers(5, 60),
)
def test_margin_start_gives_the_exact_rows_when_clocks_keep_within_the_skew(
    seed: int, extra_margin: float, start_minute: int
) -> None:
    """Events are at most SKEW ahead of the broker clock (else rejected as future) and
    arbitrarily delayed; reading from offsets_for_times(T1 - margin) with margin >= SKEW
    yields the rows and in-range outcomes of a replay from the beginning."""
    rng = random.Random(seed)
    records: list[SourceRecord] = []
    broker = float(T0)
    for i in range(250):
        broker += rng.uniform(0, 30)
        delay = rng.choice([rng.uniform(-SKEW, 0), rng.uniform(0, 10), rng.uniform(0, 1800)])
        records.append(record(i, reading(i, broker - delay, rng.randrange(3)), broker))
    t1 = T0 + 60 * start_minute
    sel = Selection(t1, t1 + 1800, topics=(FARM_TOPIC,))
    margin = SKEW + extra_margin
    start = next(
        (i for i, r in enumerate(records) if (r.timestamp or 0) >= (t1 - margin) * 1000),
        len(records),
    )
    full = replay(records, sel, 64)
    partial = replay(records[start:], sel, 64)
    full_result, partial_result = full.finish(), partial.finish()
    assert partial_result.rows == full_result.rows
    assert partial_result.open_rows == full_result.open_rows
    assert partial.stats[FARM_TOPIC].in_range == full.stats[FARM_TOPIC].in_range


def test_rows_outside_the_selection_are_never_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replay skips building rows it would throw away (a saving, and the spy shows it)."""
    built: list[tuple[int, int]] = []

    window = window_close._Window  # what a closing builds per window, before its rows

    def spy(*fields: Any) -> Any:
        result = window(*fields)
        built.append((result.window_start, result.window_end))
        return result

    monkeypatch.setattr(window_close, "_Window", spy)
    sel = Selection(T0 + 600, T0 + 1200, topics=(FARM_TOPIC,), windows=frozenset({"1m"}))
    records = [record(i, reading(i, T0 + 20 * i), T0 + 20 * i) for i in range(200)]
    result = replay(records, sel, 50).finish()
    assert len(result.rows) > 0
    assert built and all(sel.start <= s and e <= sel.end and e - s == 60 for s, e in built)


def test_an_entity_windowed_in_two_partitions_is_reported() -> None:
    sel = Selection(T0, T0 + 3600, topics=(FARM_TOPIC,))
    recomputer = Recomputer(sel, GRACE, SKEW)
    same_sensor = [
        orjson.loads(reading(i, T0 + 5 + i, partition=i)) | {"sensor_id": "shared-sal-1"}
        for i in range(2)
    ]
    for i, event in enumerate(same_sensor):
        recomputer.feed(FARM_TOPIC, [record(0, orjson.dumps(event), T0 + 10, partition=i)])
    result = recomputer.finish()
    assert result.split_entities == {(FARM_TOPIC, "sensor", "shared-sal-1"): {0, 1}}
