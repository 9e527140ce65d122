"""What the sink's batch loop moves around: records, batches, what a write did, and the
stage that knows how to decode and write one consumer group's records."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import psycopg
from aiokafka import TopicPartition

from sinks.kpi_codec import BadMessage

Payload = TypeVar("Payload")


class Record(Protocol):
    """The fields of an aiokafka ConsumerRecord the sink reads."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None


@dataclass
class SinkStats:
    """What a sink run did; times are ``time.monotonic()`` values."""

    messages: int = 0
    batches: int = 0
    rows_written: int = 0
    rows_changed: int = 0
    invalid: int = 0
    rejected: int = 0
    raw_messages: int = 0
    raw_written: int = 0
    raw_skipped: int = 0
    outages: int = 0
    retries: int = 0
    chunks_dropped: int = 0
    outage_started: list[float] = field(default_factory=list)
    recovered: list[float] = field(default_factory=list)
    batch_seconds: deque[float] = field(default_factory=lambda: deque(maxlen=10_000))
    """Write time of the latest batches (COPY + upsert + commit), newest last."""


@dataclass
class Item(Generic[Payload]):
    """The payloads one record decoded into (a KPI pack gives hundreds of rows)."""

    record: Record
    payloads: list[Payload]


@dataclass(frozen=True)
class Flushed:
    rows: int
    changed: int
    refused: list[tuple[int, str]]


@dataclass
class Batch(Generic[Payload]):
    """Records polled since the last write: their payloads (``rows`` in all), where each
    partition got to, their Kafka timestamps and the dead letters sent for them."""

    items: list[Item[Payload]] = field(default_factory=list)
    rows: int = 0
    offsets: dict[TopicPartition, int] = field(default_factory=dict)
    stamps: list[int] = field(default_factory=list)
    dead_sent: list[asyncio.Future[Any]] = field(default_factory=list)
    polled: int = 0

    def absorb(self, newer: Batch[Payload]) -> None:
        """Append a newer batch (after this one failed to write: both go again, in order)."""
        self.items += newer.items
        self.rows += newer.rows
        for tp, offset in newer.offsets.items():
            self.offsets[tp] = max(self.offsets.get(tp, 0), offset)
        self.stamps += newer.stamps
        self.dead_sent += newer.dead_sent
        self.polled += newer.polled


class Stage(Generic[Payload]):
    """How one consumer group turns records into rows: decode, write, account."""

    table: str = ""

    def decode(self, record: Record) -> Sequence[Payload | BadMessage]:
        """Payloads to write and BadMessages to dead-letter (empty: skip silently)."""
        raise NotImplementedError

    async def write(
        self, conn: psycopg.AsyncConnection[Any], payloads: Sequence[Payload]
    ) -> Flushed:
        """Write payloads in one transaction; refused = [(index, database reason)]."""
        raise NotImplementedError

    def account(self, stats: SinkStats, flushed: Flushed, messages: int) -> None:
        """Add a flushed batch to the run's statistics."""
        raise NotImplementedError
