"""``--republish``: copy the raw records of the range to sandbox topics, originals untouched.

Each record keeps its key, value and timestamp, and its partition number when the target
topic has that many partitions (a target created here gets the source's partition count),
so a sandbox worker sees every partition's records in their original order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Any, Final

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from common.errors import UserError
from schemas.topics import (
    CLAIMS_TOPIC,
    CLOCK_TOPIC,
    DEADLETTER_TOPIC,
    KPI_TOPIC,
    LATE_TOPIC,
    RAW_TOPICS,
)
from streams.pipeline import Record
from streams.replay.reading import unreachable

ACK_EVERY: Final = 50_000
PROTECTED: Final = frozenset(
    (*RAW_TOPICS, KPI_TOPIC, DEADLETTER_TOPIC, LATE_TOPIC, CLOCK_TOPIC, CLAIMS_TOPIC)
)


def targets(name: str, topics: Sequence[str]) -> dict[str, str]:
    """Source topic -> target topic: ``name`` itself for one topic, ``name.<topic>`` for more.

    UserError when a target is one of the product's topics (the originals stay untouched).
    """
    mapping = {topics[0]: name} if len(topics) == 1 else {t: f"{name}.{t}" for t in topics}
    for target in mapping.values():
        if target in PROTECTED:
            raise UserError(
                f"--republish {name}: {target} is one of the product's topics; choose a "
                "sandbox topic name (records are copied, never written back to the originals)"
            )
    return mapping


class Republisher:
    """Produces records of the range to their sandbox topics."""

    def __init__(self, bootstrap: str, mapping: dict[str, str]) -> None:
        self.bootstrap = bootstrap
        self.mapping = mapping
        self.partitions: dict[str, int] = {}
        self.sent: dict[str, int] = dict.fromkeys(mapping.values(), 0)
        self.producer: Any = None
        self.futures: list[Any] = []

    async def start(self, source_partitions: dict[str, int]) -> None:
        """Create missing targets (partitions as their source) and start the producer."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        try:
            await admin.start()
        except (KafkaConnectionError, OSError) as error:
            raise unreachable(self.bootstrap, error) from error
        try:
            existing = set(await admin.list_topics())
            for source, target in self.mapping.items():
                if target in existing:
                    continue
                count = max(1, source_partitions.get(source, 1))
                with contextlib.suppress(TopicAlreadyExistsError):
                    await admin.create_topics([NewTopic(target, count, 1)])
        finally:
            await admin.close()
        self.producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks=1,
            linger_ms=20,
            max_batch_size=1 << 20,
            max_request_size=4 << 20,
        )
        await self.producer.start()
        for target in self.mapping.values():
            self.partitions[target] = len(await self.producer.partitions_for(target))

    async def send(self, source: str, records: Sequence[Record]) -> None:
        """Queue ``records`` of topic ``source`` (call :meth:`close` to wait for the acks)."""
        target = self.mapping[source]
        count = self.partitions[target]
        producer = self.producer
        futures = self.futures
        try:
            for r in records:
                futures.append(
                    await producer.send(
                        target,
                        r.value,
                        key=r.key,
                        partition=r.partition if r.partition < count else None,
                        timestamp_ms=r.timestamp if r.timestamp and r.timestamp > 0 else None,
                    )
                )
            if len(futures) >= ACK_EVERY:
                await self._acks()
        except KafkaError as error:
            raise UserError(f"republishing to {target} failed: {error!r}") from error
        self.sent[target] += len(records)

    async def _acks(self) -> None:
        futures, self.futures = self.futures, []
        await asyncio.gather(*futures)

    async def close(self) -> None:
        """Wait until the broker has every record, then stop."""
        if self.producer is None:
            return
        try:
            await self.producer.flush()
            await self._acks()
        except KafkaError as error:
            raise UserError(f"republishing failed: {error!r}") from error
        finally:
            await self.producer.stop()
