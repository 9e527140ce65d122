"""Kafka I/O for tests: produce messages, read a topic (the claims log too), read committed
offsets, let the farm topic take any record timestamp."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from schemas.topics import CLAIMS_TOPIC, FARM_TOPIC
from streams.progress import is_marker
from streams.replay.broker_quirks import true_end_offsets
from streams.routing import Claim, decode_claim

Message: TypeAlias = tuple[str, bytes | None, bytes | None]
"""(topic, key, value) of one record."""


def on(topic: str, pairs: Iterable[tuple[bytes | None, bytes | None]]) -> list[Message]:
    """(key, value) pairs as messages of ``topic``."""
    return [(topic, key, value) for key, value in pairs]


async def produce(bootstrap: str, messages: Iterable[Message], *, rate: float = 0.0) -> int:
    """Send messages (keyed partitioning) and wait for every ack; ``rate`` > 0 paces them
    (events/s). Returns how many were sent."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=10, max_batch_size=1 << 20
    )
    await producer.start()
    sent = 0
    started = time.monotonic()
    try:
        futures = []
        for topic, key, value in messages:
            futures.append(await producer.send(topic, value, key=key))
            sent += 1
            if rate and sent % 200 == 0:
                ahead = sent / rate - (time.monotonic() - started)
                if ahead > 0:
                    await asyncio.sleep(ahead)
        await producer.flush()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


async def known_partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    """Partitions of ``topic`` (empty when missing): a fresh aiokafka consumer knows no
    topic on Kafka until its metadata is refreshed."""
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


async def read_topic(
    bootstrap: str, topic: str, expected: int | None = None, timeout: float = 15.0
) -> list[Any]:
    """Every record of ``topic`` up to its end offsets now; with ``expected``, read until that
    many came instead (or ``timeout`` passed: a topic still being written)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    await consumer.start()
    deadline = time.monotonic() + timeout
    try:
        partitions = await known_partitions(consumer, topic)
        while expected and not partitions and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            partitions = await known_partitions(consumer, topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        if expected is not None:
            return await _read_count(consumer, expected, deadline)
        return await _read_to_end(consumer, bootstrap, tps)
    finally:
        await consumer.stop()


async def _read_count(consumer: AIOKafkaConsumer, expected: int, deadline: float) -> list[Any]:
    records: list[Any] = []
    while len(records) < expected and time.monotonic() < deadline:
        batch = await consumer.getmany(timeout_ms=200)
        for items in batch.values():
            records.extend(items)
    return records


async def _read_to_end(
    consumer: AIOKafkaConsumer, bootstrap: str, tps: list[TopicPartition]
) -> list[Any]:
    ends = await true_end_offsets(bootstrap, tps)
    records: list[Any] = []
    pending = {tp for tp in tps if ends[tp] > 0}
    while pending:
        batch = await consumer.getmany(*pending, timeout_ms=500, max_records=10000)
        for tp, items in batch.items():
            records.extend(items)
            if items and items[-1].offset + 1 >= ends[tp]:
                pending.discard(tp)
    return records


async def committed_offsets(bootstrap: str, topic: str, group: str) -> dict[int, int]:
    """partition -> committed offset of ``group`` (missing when none)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        out: dict[int, int] = {}
        for p in await known_partitions(consumer, topic):
            offset = await consumer.committed(TopicPartition(topic, p))
            if offset is not None:
                out[p] = offset
        return out
    finally:
        await consumer.stop()


async def accept_any_timestamp(bootstrap: str) -> None:
    """Let the farm topic take record timestamps far ahead, as a broker older than Kafka 4.0
    or one configured so does (4.0 refuses more than one hour ahead by default with
    InvalidTimestampError): the worker must not trust them either way."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        resource = ConfigResource(
            ConfigResourceType.TOPIC,
            FARM_TOPIC,
            {"message.timestamp.after.max.ms": str(2**63 - 1)},
        )
        await admin.alter_configs([resource])
    finally:
        await admin.close()


async def claims_log(bootstrap: str) -> list[Claim | None]:
    """Every record of city.entity-claims.v1, decoded; [] when no worker created it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        exists = CLAIMS_TOPIC in await admin.list_topics()
    finally:
        await admin.close()
    if not exists:
        return []
    return [decode_claim(r.value) for r in await read_topic(bootstrap, CLAIMS_TOPIC)]


async def event_ends(bootstrap: str, topics: Iterable[str]) -> dict[TopicPartition, int]:
    """The offset after the last record of each partition of ``topics`` that is not a
    progress marker (streams/progress.py): what a worker must have committed once it has
    processed every event (the markers it appends last may not have been read yet)."""
    ends: dict[TopicPartition, int] = {}
    for topic in topics:
        for record in await read_topic(bootstrap, topic):
            tp = TopicPartition(topic, record.partition)
            ends.setdefault(tp, 0)
            if not is_marker(record.headers or ()):
                ends[tp] = record.offset + 1
    return ends
