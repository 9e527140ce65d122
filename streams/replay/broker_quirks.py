"""Offsets the product asks the broker for: end offsets and the first offset at a time.

On Apache Kafka both are plain requests (ListOffsets); the one guard kept is harmless: an
``offsets_for_times`` answer without a timestamp (a time past the end) means no match
(tests/streams/test_broker_quirks.py checks both answers on the dev broker).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition


async def true_end_offsets(
    bootstrap: str, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """The high watermark (offset of the next record) of each partition."""
    tps = list(partitions)
    if not tps:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return await end_offsets_with(consumer, tps)
    finally:
        await consumer.stop()


async def end_offsets_with(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """Like :func:`true_end_offsets`, on a started consumer."""
    if not tps:
        return {}
    found = await consumer.end_offsets(tps)
    return {tp: int(found[tp]) for tp in tps}


async def offset_for_time(
    consumer: AIOKafkaConsumer, tp: TopicPartition, timestamp_ms: int
) -> int | None:
    """The first offset whose record timestamp (CreateTime) is at or after ``timestamp_ms``,
    or None when there is none."""
    answer = await consumer.offsets_for_times({tp: timestamp_ms})
    found = answer.get(tp)
    if found is None or found.timestamp is None or found.timestamp < 0:
        return None
    return int(found.offset)
