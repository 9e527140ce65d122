"""The Apache Kafka broker: consumer groups, committed offsets, offsets_for_times."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

pytestmark = pytest.mark.integration


async def _produce(bootstrap: str, topic: str, values: list[bytes], partition: int = 0) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=5)
    await producer.start()
    try:
        for value in values:
            await producer.send(topic, value, partition=partition)
        await producer.flush()
    finally:
        await producer.stop()


def _consumer(bootstrap: str, topic: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        fetch_max_wait_ms=100,
    )


async def _take(consumer: AIOKafkaConsumer, count: int, timeout: float = 30.0) -> list[bytes]:
    got: list[bytes] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        batches = await consumer.getmany(timeout_ms=200, max_records=count - len(got))
        for records in batches.values():
            got.extend(record.value for record in records if record.value is not None)
    return got


async def test_committed_offsets_survive_consumer_restart(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    topic = new_topic("infra.group", 1)
    group = f"{topic}.group"
    values = [f"event-{i}".encode() for i in range(10)]
    await _produce(kafka_bootstrap, topic, values)

    first = _consumer(kafka_bootstrap, topic, group)
    await first.start()
    try:
        head = await _take(first, 6)
        assert head == values[:6]
        await first.commit()
    finally:
        await first.stop()

    second = _consumer(kafka_bootstrap, topic, group)
    await second.start()
    try:
        rest = await _take(second, 4)
        assert rest == values[6:]
        extra = await second.getmany(timeout_ms=300)
        assert not any(extra.values()), "records before the committed offset came back"
        committed = await second.committed(TopicPartition(topic, 0))
        assert committed == 6
    finally:
        await second.stop()


async def test_offsets_for_times_finds_first_record_after_a_time(
    kafka_bootstrap: str, new_topic: Callable[..., str]
) -> None:
    # Kafka answers by record CreateTime (here the producer's send time): `between` lies
    # after batch one and before batch two.
    topic = new_topic("infra.times", 1)
    before = int(time.time() * 1000) - 1000
    await _produce(kafka_bootstrap, topic, [b"a0", b"a1", b"a2"])
    await asyncio.sleep(0.4)
    between = int(time.time() * 1000)
    await asyncio.sleep(0.4)
    await _produce(kafka_bootstrap, topic, [b"b0", b"b1"])

    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        found = await consumer.offsets_for_times({tp: between})
        assert found[tp] is not None
        assert found[tp].offset == 3
        earliest = await consumer.offsets_for_times({tp: before})
        assert earliest[tp] is not None and earliest[tp].offset == 0
        consumer.assign([tp])
        consumer.seek(tp, found[tp].offset)
        assert await _take(consumer, 2) == [b"b0", b"b1"]
    finally:
        await consumer.stop()
