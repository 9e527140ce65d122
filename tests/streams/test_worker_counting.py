"""The worker's event counters keep the demo's conservation line when records are re-read.

After a stall repair (or a rebalance, or a restart behind the last commit) the worker
seeks back and reads records it already applied. Those re-reads are redeliveries: the
conservation line of ``ioc demo`` (sent = consumed = windowed + dead-lettered + late +
duplicates) must stay balanced however often that happens.
"""

from __future__ import annotations

import zlib

from prometheus_client import generate_latest

from common import metrics
from ioc.watch import conservation
from simulator.faults import FaultRates
from simulator.generator import SimConfig, generate
from streams.pipeline import SourceRecord, TopicPipeline
from streams.worker.counting import count_applied
from tests.replay.support import small_province

START_MS = 1_773_100_800_000  # 2026-03-10 00:00 UTC
TOPIC = "t-counting.city.farm.sensor.v1"
PARTITIONS = 2
FAULTS = FaultRates(malformed=0.01, invalid=0.01, duplicates=0.03, late=0.01, out_of_order=0.02)


def farm_records() -> list[SourceRecord]:
    """Simulated farm records with faults, on ``TOPIC``, offsets per partition."""
    config = SimConfig(
        start_ms=START_MS,
        end_ms=START_MS + 40 * 60_000,
        seed=5,
        sources=("farm",),
        faults=FAULTS,
    )
    offsets = [0] * PARTITIONS
    records = []
    for m in generate(config, small_province(5, every=4)):
        partition = zlib.crc32(m.key) % PARTITIONS
        records.append(SourceRecord(TOPIC, partition, offsets[partition], m.sim_ms, m.key, m.value))
        offsets[partition] += 1
    return records


def worker_samples() -> dict[str, float]:
    """This process's worker counters of ``TOPIC``."""
    samples = metrics.samples_of(generate_latest(metrics.WORKER_REGISTRY).decode())
    return {k: v for k, v in samples.items() if f'topic="{TOPIC}"' in k}


def test_re_reads_after_a_stall_are_redeliveries_and_the_line_stays_balanced() -> None:
    records = farm_records()
    pipeline = TopicPipeline(TOPIC, grace_seconds=30, future_skew_seconds=300)
    for partition in range(PARTITIONS):
        pipeline.load(partition, [])
    before = worker_samples()
    batch, position, re_read = 300, 0, 0
    while position < len(records):
        chunk = records[position : position + batch]
        count_applied(TOPIC, pipeline.apply(chunk))
        pipeline.retire(pipeline.close({r.partition for r in chunk}))
        position += batch
        if position < len(records) and position % (3 * batch) == 0:
            # a stall repair seeks back: the last 200 records arrive once more
            again = records[position - 200 : position]
            count_applied(TOPIC, pipeline.apply(again))
            re_read += len(again)
    after = worker_samples()
    delta = {k: v - before.get(k, 0.0) for k, v in after.items()}
    figures = conservation(delta, len(records))
    assert re_read > 0 and figures["late"] > 0 and figures["duplicates"] > 0
    assert figures["dead_lettered"] > 0
    assert figures["consumed"] == len(records), figures
    assert metrics.total(delta, "ioc_events_redelivered_total") == re_read
    assert figures["balanced"], figures
