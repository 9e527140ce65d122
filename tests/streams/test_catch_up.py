"""Re-routed copies after an outage: the catch-up of a misplaced producer stays exact.

A producer keyed by sensor id puts some of a district's sensors in other partitions. While
the worker keeps up, each copy reaches the district's partition seconds after its original.
After an outage longer than the grace, the district's partition holds a backlog and every
copy is appended after it: without progress markers (:mod:`streams.progress`) the worker
reads the whole backlog first, its watermark passes the copies' minutes, and they all turn
late. With them, the district's partition closes nothing its peers have not reached.

The broker here is a list per partition; the worker's order of reading is the worst one:
the district's whole backlog before any record of the misplaced producer's partition.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import orjson

from schemas.topics import FARM_TOPIC
from streams.pipeline import SourceRecord, TopicPipeline
from streams.progress import PROGRESS_HEADER
from streams.routing import district_partition
from streams.window_rows import KpiRow
from streams.windows import rows_of
from tests.support.readings import salinity_reading

PARTITIONS = 2
GRACE = 30.0
DISTRICT = "chau-thanh"
HOME = district_partition(DISTRICT, PARTITIONS)
AWAY = 1 - HOME
T0 = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC).timestamp()


class Broker:
    """One raw topic's partitions as lists, read from each worker's position."""

    def __init__(self) -> None:
        self.logs: dict[int, list[SourceRecord]] = {p: [] for p in range(PARTITIONS)}
        self.read: dict[int, int] = dict.fromkeys(range(PARTITIONS), 0)

    def append(self, partition: int, value: bytes | None, at: float, headers=()) -> None:  # type: ignore[no-untyped-def]
        log = self.logs[partition]
        log.append(
            SourceRecord(FARM_TOPIC, partition, len(log), int(at * 1000), None, value, headers)
        )


def reading(sensor: str, t: float) -> bytes:
    return salinity_reading(f"{sensor}-{t:.0f}", t, DISTRICT, sensor, value=2.0, farm_id="farm-1")


def produce(broker: Broker, start: float, seconds: int) -> None:
    """Two sensors of one district, one reading each every 10 s: ``ct-1`` keyed so that
    it lands in the district's partition, ``ct-2`` in the other one."""
    for t in range(int(start), int(start) + seconds, 10):
        broker.append(HOME, reading("ct-1", t), t)
        broker.append(AWAY, reading("ct-2", t), t)


def step(
    broker: Broker, pipeline: TopicPipeline, partition: int, now: float, aligned: bool
) -> tuple[list[KpiRow], Counter[str]]:
    """Read the rest of ``partition`` as one batch and carry out what the worker does:
    copies, then (``aligned``) markers appended after them, closing."""
    records = broker.logs[partition][broker.read[partition] :]
    broker.read[partition] += len(records)
    applied = pipeline.apply(records, now)
    for copy in applied.reroutes:
        broker.append(copy.partition, copy.value, copy.timestamp_ms / 1000, copy.headers)  # type: ignore[operator]
    if aligned:  # it read everything there is
        for marker in pipeline.progress_markers({partition}, caught_up={partition}):
            broker.append(marker.partition, marker.value, now, marker.headers)
    closings = pipeline.close({partition})
    pipeline.retire(closings)
    return rows_of(closings), applied.outcomes


def run(aligned: bool) -> tuple[dict[int, int], Counter[str]]:
    """Ten live minutes, a 20-minute outage, the catch-up (district's partition first),
    then ten live minutes more. Returns the district's 1-minute counts and the outcomes."""
    broker, pipeline = Broker(), TopicPipeline(FARM_TOPIC, GRACE, 300.0, PARTITIONS)
    for partition in range(PARTITIONS):
        pipeline.partitions[partition] = pipeline.new_windows(partition)
    rows: list[KpiRow] = []
    outcomes: Counter[str] = Counter()

    def steps(order: list[int], now: float) -> None:
        for partition in order:
            got, counted = step(broker, pipeline, partition, now, aligned)
            rows.extend(got)
            outcomes.update(counted)

    for second in range(0, 600, 10):  # live: both partitions read every 10 s
        produce(broker, T0 + second, 10)
        steps([AWAY, HOME, HOME], T0 + second + 10)
    produce(broker, T0 + 600, 1200)  # the worker is down for 20 minutes
    steps([HOME, AWAY, HOME], T0 + 1801)  # catch-up, the district's backlog first
    for second in range(1800, 2400, 10):
        produce(broker, T0 + second, 10)
        steps([AWAY, HOME, HOME], T0 + second + 10)
    steps([AWAY, HOME], T0 + 2410)
    for windows in pipeline.partitions.values():
        windows.advance_to_end(1e10)
    closings = pipeline.close(range(PARTITIONS))
    rows.extend(rows_of(closings))
    counts = {
        int(r.window_start.timestamp()): r.event_count
        for r in rows
        if r.entity_kind == "district" and r.window_end - r.window_start == dt.timedelta(minutes=1)
        and r.kpi == "farm.salinity_mean_gl"
    }  # fmt: skip
    return counts, outcomes


def test_copies_made_during_a_catch_up_are_windowed_as_a_keyed_producers_events() -> None:
    counts, outcomes = run(aligned=True)
    assert outcomes["late"] == 0
    assert outcomes["rerouted"] == 240
    minutes = range(int(T0), int(T0) + 2400, 60)
    assert counts == dict.fromkeys(minutes, 12), "each minute: 6 readings of each sensor"


def test_without_markers_the_copies_of_the_outage_are_late() -> None:
    """What the markers prevent (the code before them): the copies made while catching up
    are appended after the district's backlog, which closed their windows."""
    counts, outcomes = run(aligned=False)
    assert outcomes["late"] >= 110
    assert min(counts.values()) == 6


def test_a_caught_up_partition_holds_each_peer_back_no_further_than_its_own_progress() -> None:
    pipeline = TopicPipeline(FARM_TOPIC, GRACE, 300.0, 3)
    for partition in range(3):
        pipeline.partitions[partition] = pipeline.new_windows(partition)
    assert pipeline.progress_markers({1}, caught_up={1}) == [], "no progress: nothing to tell"
    pipeline.windows(1).hear(0, T0 + 120)
    pipeline.windows(1).hear(2, T0 + 60)
    assert pipeline.progress_markers({1}) == [], "behind, with no progress of its own"
    told = pipeline.progress_markers({1}, caught_up={1})
    assert [(m.partition, orjson.loads(m.value or b"")) for m in told] == [
        (0, {"partition": 1, "progress": int(T0) + 120}),
        (2, {"partition": 1, "progress": int(T0) + 60}),
    ]
    assert all(m.headers == [(PROGRESS_HEADER, b"1")] for m in told)
    assert pipeline.progress_markers({1}, caught_up={1}) == [], "nothing new"
    pipeline.windows(2).hear(1, T0 + 100)
    pipeline.windows(1).hear(2, T0 + 150)
    told = pipeline.progress_markers({1}, caught_up={1})
    assert [(m.partition, orjson.loads(m.value or b"")) for m in told] == [
        (2, {"partition": 1, "progress": int(T0) + 120}),
    ]
