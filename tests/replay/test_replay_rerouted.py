"""``ioc replay`` on a topic where a producer put records in other partitions than their
districts' (keyed by sensor id, or librdkafka's default partitioner).

The real worker re-routes them: a copy goes to the district's partition of the same topic
and is judged there, in the order the broker appended it. Phase one is produced before the
worker starts (a catch-up: copies land after their partitions' backlog, and some are late);
phase two while it runs (live: copies land seconds after their originals and are windowed).
Replay reads the same logs, copies included, and must take every decision the worker took:
no difference with the database, the same counts. The live phase also names one sensor under
districts of two partitions: the worker claims it (city.entity-claims.v1), windows it under
the first claim's district and dead-letters the other event; replay reads the claims and
agrees (before claims, both partitions windowed it and replay exited 1).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from schemas.places import District
from schemas.topics import FARM_TOPIC
from streams.routing import district_partition
from tests.replay.support import sink_and_replay
from tests.streams.support import PrivateBroker, WorkerProcess, metric_sum, wait_for
from tests.support.readings import salinity_reading

pytestmark = [pytest.mark.integration]

PARTITIONS = 4
GRACE = 20.0
DISTRICTS = [d.value for d in District]


def reading(n: int, district: str, at: float) -> bytes:
    return salinity_reading(
        f"r{n}", at, district, f"{district}-sal-{n % 2}", value=1.0 + n % 5, source="gateway"
    )


def phase(first: int, times: list[float]) -> list[tuple[int, bytes, int]]:
    """(partition, value, record time ms): one reading per district and time; every third
    one in the partition after its district's."""
    out = []
    for i, t in enumerate(times):
        for j, district in enumerate(DISTRICTS):
            n = first + i * len(DISTRICTS) + j
            home = district_partition(district, PARTITIONS)
            partition = (home + 1) % PARTITIONS if n % 3 == 0 else home
            out.append((partition, reading(n, district, t), int((t + 0.5) * 1000)))
    return out


def wanderer(at: float) -> list[tuple[int, bytes, int]]:
    """One sensor named under two districts of different partitions, each in its home."""
    first = DISTRICTS[0]
    second = next(d for d in DISTRICTS if district_partition(d, PARTITIONS) != HOME_OF[first])
    out = []
    for n, district in enumerate((first, second)):
        value = orjson.loads(reading(90_000 + n, district, at)) | {"sensor_id": "wander-1"}
        out.append((HOME_OF[district], orjson.dumps(value), int(at * 1000)))
    return out


HOME_OF = {d: district_partition(d, PARTITIONS) for d in DISTRICTS}


async def produce(bootstrap: str, records: list[tuple[int, bytes, int]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1)
    await producer.start()
    try:
        for partition, value, stamp in records:
            await producer.send_and_wait(
                FARM_TOPIC, value, key=b"sensor", partition=partition, timestamp_ms=stamp
            )
    finally:
        await producer.stop()


def test_replay_takes_the_workers_decisions_on_rerouted_records(
    tmp_path: Path, new_database: Callable[..., str]
) -> None:
    present = dt.datetime.now(dt.UTC).timestamp()
    backlog = phase(0, [present - 400 + 8 * i for i in range(40)])
    live = phase(10_000, [present - 30 + 3 * i for i in range(10)]) + wanderer(present - 5)
    misplaced = sum(
        1
        for p, v, _ in [*backlog, *live]
        if p != district_partition(orjson.loads(v)["district"], PARTITIONS)
    )
    with PrivateBroker(tmp_path, partitions=PARTITIONS) as broker:
        asyncio.run(produce(broker.bootstrap, backlog))
        worker = WorkerProcess(
            broker.bootstrap,
            f"rerouted-{uuid.uuid4().hex[:8]}",
            tmp_path / "worker.log",
            IOC_GRACE_SECONDS=GRACE,
        ).start()
        try:
            sent = len(backlog)
            wait_for(
                lambda: metric_sum(worker.metrics(), "ioc_events_consumed_total") >= sent,
                120,
                "the backlog consumed",
            )
            asyncio.run(produce(broker.bootstrap, live))
            sent += len(live)
            wait_for(
                lambda: (
                    metric_sum(worker.metrics(), "ioc_events_consumed_total") >= sent + misplaced
                ),
                120,
                "every record and every copy consumed",
            )
            samples = worker.metrics()
        finally:
            worker.stop()
        url = new_database("rerouted")
        code, report = sink_and_replay(
            broker.bootstrap, url, tmp_path, present - 900, present + 900, "--grace", str(GRACE)
        )
    assert metric_sum(samples, "ioc_events_rerouted_total") == misplaced
    assert metric_sum(samples, "ioc_events_invalid_total") == 1  # the wanderer's second
    assert metric_sum(samples, "ioc_entity_claims_total") >= 1
    late = metric_sum(samples, "ioc_events_late_total")
    assert 0 < late < misplaced, "the catch-up should make some copies late, not all"
    assert code == 0, report["differences"][:5]
    comparison = report["comparison"]
    assert comparison["rows_compared"] > 50
    assert comparison["rows_equal"] == comparison["rows_compared"]
    read = report["topics"][FARM_TOPIC]["all_read"]
    assert read["read"] == sent + misplaced
    assert read["rerouted"] == misplaced
    assert read["late"] == late
    assert read["windowed"] + read["outside"] == metric_sum(samples, "ioc_events_windowed_total")
