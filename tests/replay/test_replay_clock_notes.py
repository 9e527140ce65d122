"""``ioc replay`` on a CreateTime topic with record times forged ahead of the worker's clock.

A farm gateway stamps two records 50 minutes ahead (Kafka accepts up to an hour): one event
150 s ahead of the present (inside the 300 s future skew of the worker's clock), one 20
minutes ahead (beyond it). The real worker judges both by its wall clock: it windows the
first without letting it move the watermark past the present, and dead-letters the second
as ``future``. Judged by the record times alone, replay would window both, move the
watermark 150 s ahead and make the on-time events after them late: rows, late and dead
letter counts would differ. With the worker's clock notes (city.clock.v1) they are equal.
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

from schemas.decode import read_deadletter
from schemas.topics import CLOCK_TOPIC, DEADLETTER_TOPIC, FARM_TOPIC
from streams.routing import district_partition
from tests.replay.support import sink_and_replay
from tests.streams.support import PrivateBroker, WorkerProcess, metric_sum, wait_for
from tests.support.kafka import read_topic
from tests.support.readings import salinity_reading

pytestmark = [pytest.mark.integration]

DISTRICT = "long-my"
HOME = district_partition(DISTRICT, 4)
GRACE = 120.0


def reading(n: int, at: float) -> bytes:
    return salinity_reading(
        f"k{n}", at, DISTRICT, f"lm-sal-{n % 3}", value=1.0 + n % 5, source="gateway"
    )


def stream(present: float) -> list[tuple[bytes, int]]:
    """(value, record time ms): on-time events stamped as they happen, the two forged
    records, then more on-time events of the last 100 s."""
    forged = int((present + 3000) * 1000)
    before = [present - 600 + 2 * i for i in range(240)]
    after = [present - 100 + 2 * i for i in range(48)]
    out = [(reading(i, t), int((t + 0.5) * 1000)) for i, t in enumerate(before)]
    out += [(reading(1000, present + 150), forged), (reading(1001, present + 1200), forged)]
    out += [(reading(2000 + i, t), int((t + 0.5) * 1000)) for i, t in enumerate(after)]
    return out


async def produce(bootstrap: str, records: list[tuple[bytes, int]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1)
    await producer.start()
    try:
        for value, stamp in records:
            await producer.send_and_wait(
                FARM_TOPIC, value, key=DISTRICT.encode(), partition=HOME, timestamp_ms=stamp
            )
    finally:
        await producer.stop()


def test_replay_takes_the_workers_decisions_on_forged_record_times(
    tmp_path: Path, new_database: Callable[..., str]
) -> None:
    present = dt.datetime.now(dt.UTC).timestamp()
    records = stream(present)
    with PrivateBroker(tmp_path) as broker:
        asyncio.run(produce(broker.bootstrap, records))
        worker = WorkerProcess(
            broker.bootstrap,
            f"clock-notes-{uuid.uuid4().hex[:8]}",
            tmp_path / "worker.log",
            IOC_GRACE_SECONDS=GRACE,
        ).start()
        try:
            wait_for(
                lambda: metric_sum(worker.metrics(), "ioc_events_consumed_total") >= len(records),
                120,
                "every record consumed",
            )
            samples = worker.metrics()
        finally:
            worker.stop()
        notes = [
            orjson.loads(r.value) for r in asyncio.run(read_topic(broker.bootstrap, CLOCK_TOPIC))
        ]
        letters = [
            read_deadletter(r.value)
            for r in asyncio.run(read_topic(broker.bootstrap, DEADLETTER_TOPIC))
        ]
        url = new_database("clock_notes")
        code, report = sink_and_replay(
            broker.bootstrap, url, tmp_path, present - 900, present + 1800, "--grace", str(GRACE)
        )
    assert [d.reason_kind for d in letters] == ["future"]
    assert metric_sum(samples, "ioc_events_invalid_total") == 1
    assert metric_sum(samples, "ioc_events_clock_noted_total") == 2
    noted = sorted(o for note in notes for o in note["offsets"])
    assert noted == [240, 241], notes
    assert report["reading"]["clock_notes"] == 2

    assert code == 0, report["differences"][:5]
    comparison = report["comparison"]
    assert comparison["rows_compared"] > 20
    assert comparison["rows_equal"] == comparison["rows_compared"]
    read = report["topics"][FARM_TOPIC]["all_read"]
    assert read["read"] == len(records)
    assert report["topics"][FARM_TOPIC]["invalid_by_reason"] == {"future": 1}
    assert read["late"] == metric_sum(samples, "ioc_events_late_total")
    assert read["windowed"] + read["outside"] == metric_sum(samples, "ioc_events_windowed_total")
