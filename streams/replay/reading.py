"""Reading raw topics with plain aiokafka: no Faust, no consumer group, partitions assigned.

:func:`plan` decides, per partition, the first offset to read and the true end offset (the
high watermark of a Fetch, see :mod:`streams.replay.broker_quirks`); :func:`read` hands the records
to a callback in offset order per partition, in large batches; :func:`read_clock_notes` reads
the workers' clock notes first.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError

from common.errors import UserError
from schemas.topics import CLAIMS_TOPIC, CLOCK_TOPIC
from streams.clocknotes import NoteBook
from streams.pipeline import SourceRecord
from streams.replay.broker_quirks import end_offsets_with, offset_for_time
from streams.routing import EntityClaims

MAX_RECORDS: Final = 20_000
PARTITION_FETCH_BYTES: Final = 16 << 20
FETCH_BYTES: Final = 64 << 20
STALL_SECONDS: Final = 30.0

StartHow = Literal["beginning", "time", "fallback"]


@dataclass(frozen=True)
class Span:
    """What to read of one partition: offsets ``[start, end)``, and how start was chosen.

    ``how`` is ``beginning`` (first retained record), ``time`` (offsets_for_times) or
    ``fallback`` (the broker's answer was unusable, so the beginning).
    """

    topic: str
    partition: int
    log_start: int
    start: int
    end: int
    how: StartHow

    @property
    def size(self) -> int:
        """Records to read."""
        return max(0, self.end - self.start)


def unreachable(bootstrap: str, error: BaseException) -> UserError:
    """The error of a broker that does not answer, with how to start the local one."""
    return UserError(
        f"cannot reach Kafka at {bootstrap}: {error}. Start the local servers with "
        "`.venv/bin/ioc dev up`, or set IOC_KAFKA_BOOTSTRAP (or IOC_KAFKA_PORT) to a running "
        "broker."
    )


async def open_consumer(bootstrap: str) -> AIOKafkaConsumer:
    """A started consumer tuned for bulk reading; UserError when the broker does not answer."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=PARTITION_FETCH_BYTES,
        fetch_max_bytes=FETCH_BYTES,
        check_crcs=False,
        request_timeout_ms=15_000,
        fetch_max_wait_ms=100,
    )
    try:
        await consumer.start()
    except (KafkaConnectionError, OSError) as error:
        await consumer.stop()
        raise unreachable(bootstrap, error) from error
    return consumer


async def partitions_of(consumer: AIOKafkaConsumer, topics: Sequence[str]) -> dict[str, list[int]]:
    """Partitions of each topic that exists on the broker (missing topics are left out).

    A fresh consumer knows no topic (Kafka answers aiokafka's bootstrap request with none)
    and ``topics()`` does not fill its cache: refresh the metadata of every topic instead.
    """
    await consumer._client.force_metadata_update()
    found: dict[str, list[int]] = {}
    for topic in topics:
        partitions = consumer.partitions_for_topic(topic)
        if partitions:
            found[topic] = sorted(partitions)
    return found


async def plan(
    consumer: AIOKafkaConsumer,
    partitions: dict[str, list[int]],
    *,
    since_ms: int | None,
) -> list[Span]:
    """Spans of every partition: from the beginning, or from record time ``since_ms``.

    With ``since_ms`` the start is ``offsets_for_times(since_ms)``; when the broker has no
    usable answer (none, or timestamp -1) it is the beginning.
    """
    tps = [TopicPartition(t, p) for t, ps in partitions.items() for p in ps]
    if not tps:
        return []
    try:
        firsts: dict[Any, int] = await consumer.beginning_offsets(tps)
        ends = await end_offsets_with(consumer, tps)
    except KafkaError as error:
        raise UserError(f"the broker did not answer offset requests: {error!r}") from error
    spans: list[Span] = []
    for tp in tps:
        first, end = int(firsts[tp]), int(ends[tp])
        start = first
        how: StartHow = "beginning"
        if since_ms is not None:
            found = await offset_for_time(consumer, tp, since_ms)
            if found is None or not first <= found <= end:
                how = "fallback"
            else:
                start, how = found, "time"
        spans.append(Span(tp.topic, tp.partition, first, start, end, how))
    return spans


Sink = Callable[[str, Sequence[SourceRecord]], Awaitable[None]]
"""Receives the records of one partition (topic, records in offset order)."""


async def read(
    consumer: AIOKafkaConsumer,
    spans: Sequence[Span],
    sink: Sink,
    *,
    max_records: int = MAX_RECORDS,
    stall_seconds: float = STALL_SECONDS,
) -> int:
    """Read every span to its end, handing records to ``sink``; returns the records read."""
    pending: dict[Any, Span] = {}
    for span in spans:
        if span.size:
            pending[TopicPartition(span.topic, span.partition)] = span
    if not pending:
        return 0
    consumer.assign(list(pending))
    for tp, span in pending.items():
        consumer.seek(tp, span.start)
    total = 0
    last_progress = time.monotonic()
    while pending:
        batch = await consumer.getmany(*pending, timeout_ms=200, max_records=max_records)
        now = time.monotonic()
        for tp, items in batch.items():
            current = pending.get(tp)
            if current is None or not items:
                continue
            end = current.end
            topic = current.topic
            records = [
                SourceRecord(topic, r.partition, r.offset, r.timestamp, r.key, r.value, r.headers)
                for r in items
                if r.offset < end
            ]
            if records:
                total += len(records)
                last_progress = now
                await sink(topic, records)
            if items[-1].offset + 1 >= end:
                del pending[tp]
                consumer.pause(tp)
        for tp in [tp for tp in pending if await consumer.position(tp) >= pending[tp].end]:
            del pending[tp]
            consumer.pause(tp)
        if pending and now - last_progress > stall_seconds:
            where = ", ".join(
                f"{tp.topic}[{tp.partition}] before offset {span.end}"
                for tp, span in sorted(pending.items(), key=lambda item: str(item[0]))
            )
            raise UserError(
                f"the broker returned no records for {stall_seconds:g} s while records remain "
                f"({where}): is it still running?"
            )
    return total


async def read_clock_notes(consumer: AIOKafkaConsumer, partitions: Sequence[int]) -> NoteBook:
    """Every worker clock note on ``city.clock.v1`` (``partitions``: those of the topic). The
    topic holds a record only where a worker's wall clock changed a decision, so it is read
    whole, whatever the range."""
    book = NoteBook()

    async def take(_: str, records: Sequence[SourceRecord]) -> None:
        book.add_records(r.value for r in records)

    await read(consumer, await plan(consumer, {CLOCK_TOPIC: list(partitions)}, since_ms=None), take)
    return book


async def read_claims(
    consumer: AIOKafkaConsumer, partitions: Sequence[int], claims: EntityClaims
) -> EntityClaims:
    """``claims`` (the province's registry) with every claim of ``city.entity-claims.v1``
    (``partitions``: those of the topic) added in log order: the workers' first claims. Read
    whole, whatever the range: a claim made before the range decides within it."""

    async def take(_: str, records: Sequence[SourceRecord]) -> None:
        claims.read(r.value for r in records)

    await read(
        consumer, await plan(consumer, {CLAIMS_TOPIC: list(partitions)}, since_ms=None), take
    )
    return claims
