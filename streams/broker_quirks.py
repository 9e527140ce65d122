"""Workarounds for Kafka-protocol brokers that stray from Apache Kafka (see NOTES: tansu).

Each workaround is correct on Apache Kafka too, and each has a test that shows the
behaviour it guards against (tests/streams/test_broker_quirks.py).

* ListOffsets LATEST may answer the base offset of the last record batch + 1 instead of
  the high watermark: :func:`true_end_offsets` reads the high watermark of a Fetch.
* ``offsets_for_times`` answers by broker receive time and returns offset 0 with
  timestamp -1 for a time past the end: :func:`offset_for_time` maps that to "no match".
* ``acks=0`` breaks the connection and ``fetch_max_wait_ms=0`` hangs a consumer:
  :data:`PRODUCER_SAFE` and :data:`CONSUMER_SAFE` hold settings that avoid both.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, TopicPartition

PRODUCER_SAFE: Final[dict[str, Any]] = {"acks": 1}
CONSUMER_SAFE: Final[dict[str, Any]] = {"fetch_max_wait_ms": 100}


async def true_end_offsets(
    bootstrap: str, partitions: Iterable[TopicPartition], *, timeout: float = 10.0
) -> dict[TopicPartition, int]:
    """The high watermark (offset of the next record) of each partition, read from a Fetch."""
    tps = list(partitions)
    if not tps:
        return {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        group_id=None,
        **CONSUMER_SAFE,
    )
    await consumer.start()
    try:
        return await end_offsets_with(consumer, tps, timeout=timeout)
    finally:
        await consumer.stop()


async def end_offsets_with(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], *, timeout: float = 10.0
) -> dict[TopicPartition, int]:
    """Like :func:`true_end_offsets`, on a started consumer that it (re)assigns to ``tps``."""
    reported: Mapping[TopicPartition, int] = await consumer.end_offsets(tps)
    result = {tp: 0 for tp in tps if reported[tp] == 0}
    pending = [tp for tp in tps if reported[tp] > 0]
    if not pending:
        return result
    consumer.assign(pending)
    for tp in pending:
        consumer.seek(tp, reported[tp] - 1)
    deadline = time.monotonic() + timeout
    while pending:
        await consumer.getmany(*pending, timeout_ms=100, max_records=1)
        still = []
        for tp in pending:
            highwater = consumer.highwater(tp)
            if highwater is None:
                still.append(tp)
            else:
                result[tp] = max(highwater, reported[tp])
        pending = still
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"no high watermark from the broker for {pending} in {timeout}s")
        await asyncio.sleep(0)
    return result


async def offset_for_time(
    consumer: AIOKafkaConsumer, tp: TopicPartition, timestamp_ms: int
) -> int | None:
    """The first offset at or after ``timestamp_ms`` by broker time, or None when there is none."""
    answer = await consumer.offsets_for_times({tp: timestamp_ms})
    found = answer.get(tp)
    if found is None or found.timestamp is None or found.timestamp < 0:
        return None
    return int(found.offset)
