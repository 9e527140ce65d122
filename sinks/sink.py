"""The sink: consume city.kpi.v1 in batches and upsert into TimescaleDB, exactly once in effect.

Per batch: decode (unreadable messages go to the dead-letter topic), write all rows in one
database transaction (sinks.writer), dead-letter the rows the database refused, and only
then commit the Kafka offsets. When the database is unreachable the batch stays in memory,
the partitions are paused, and the write is retried with capped exponential back-off; the
state change (ok -> retrying -> ok) is logged once each way. Redelivery after a crash
between the database commit and the offset commit is harmless: the upsert is idempotent.

``run_sink`` runs inside any asyncio program; ``ioc sink`` (sinks.cli) wraps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final, Generic, Protocol, TypeVar

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaConnectionError
from psycopg_pool import AsyncConnectionPool

from common import metrics
from common.config import Settings, load
from common.errors import UserError
from schemas.decode import Rejection, topic_models
from schemas.kpi import KpiRow
from schemas.topics import DEADLETTER_TOPIC, KPI_TOPIC, RAW_TOPICS
from sinks import migrate as migrations
from sinks.db import UNAVAILABLE, describe, unreachable
from sinks.deadletter import DATABASE, dead_letter
from sinks.kpi_codec import BadMessage, decode_kpis
from sinks.raw_archive import RawRecord, decode_raw, write_raw_events
from sinks.retention import drop_old_chunks
from sinks.writer import write_kpi_rows

log = logging.getLogger("sinks.sink")

BACKOFF_MIN: Final = 0.5
BACKOFF_MAX: Final = 15.0
POLL_MS: Final = 500
RETENTION_EVERY: Final = 3600.0
POOL_NAME: Final = "ioc-sink"

Payload = TypeVar("Payload")


class Record(Protocol):
    """The fields of an aiokafka ConsumerRecord the sink reads."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def default_group() -> str:
    """Consumer group of the sink: IOC_SINK_GROUP, else ``smartcity-ioc-sink``."""
    return load().sink_group


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


@dataclass(frozen=True)
class Backoff:
    """Capped exponential back-off: minimum, doubling, maximum (seconds)."""

    minimum: float = BACKOFF_MIN
    maximum: float = BACKOFF_MAX

    def delay(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (0-based)."""
        return float(min(self.maximum, self.minimum * 2 ** min(attempt, 30)))


@dataclass
class _Item(Generic[Payload]):
    record: Record
    payload: Payload


@dataclass(frozen=True)
class _Flushed:
    rows: int
    changed: int
    refused: list[tuple[int, str]]


class _Stage(Generic[Payload]):
    """How one consumer group turns records into rows: decode, write, account."""

    table: str = ""

    def decode(self, record: Record) -> Sequence[Payload | BadMessage]:
        """Payloads to write and BadMessages to dead-letter (empty: skip silently)."""
        raise NotImplementedError

    async def write(
        self, conn: psycopg.AsyncConnection[Any], payloads: Sequence[Payload]
    ) -> _Flushed:
        """Write payloads in one transaction; refused = [(index, database reason)]."""
        raise NotImplementedError

    def account(self, stats: SinkStats, flushed: _Flushed, messages: int) -> None:
        """Add a flushed batch to the run's statistics."""
        raise NotImplementedError


class _KpiStage(_Stage[KpiRow]):
    table = "kpi"

    def decode(self, record: Record) -> Sequence[KpiRow | BadMessage]:
        return decode_kpis(record.value)

    async def write(
        self, conn: psycopg.AsyncConnection[Any], payloads: Sequence[KpiRow]
    ) -> _Flushed:
        result = await write_kpi_rows(conn, payloads)
        refused = [(item.index, item.reason) for item in result.rejected]
        return _Flushed(rows=result.rows, changed=result.changed, refused=refused)

    def account(self, stats: SinkStats, flushed: _Flushed, messages: int) -> None:
        stats.messages += messages
        stats.rows_written += flushed.rows
        stats.rows_changed += flushed.changed
        stats.rejected += len(flushed.refused)


class _RawStage(_Stage[RawRecord]):
    table = "raw_events"

    def __init__(self, raw_topics: Sequence[str]) -> None:
        portal, network, farm = raw_topics
        self._models = topic_models(portal, network, farm)
        self.skipped = 0

    def decode(self, record: Record) -> Sequence[RawRecord]:
        decoded = decode_raw(
            record.topic, record.partition, record.offset, record.value, self._models
        )
        if isinstance(decoded, Rejection):
            self.skipped += 1  # the workers dead-letter invalid raw events, not the archive
            return []
        return [decoded]

    async def write(
        self, conn: psycopg.AsyncConnection[Any], payloads: Sequence[RawRecord]
    ) -> _Flushed:
        written, refused = await write_raw_events(conn, payloads)
        return _Flushed(rows=written, changed=written, refused=refused)

    def account(self, stats: SinkStats, flushed: _Flushed, messages: int) -> None:
        stats.raw_messages += messages
        stats.raw_written += flushed.rows
        stats.raw_skipped = self.skipped
        if flushed.refused:
            log.warning(
                "raw_events refused %d records: %s", len(flushed.refused), flushed.refused[0]
            )


class _Loop(Generic[Payload]):
    """One consumer group: poll, batch, write with retries, then commit offsets."""

    def __init__(
        self,
        stage: _Stage[Payload],
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        *,
        stats: SinkStats,
        stop: asyncio.Event,
        deadletter_topic: str,
        batch_size: int,
        linger: float,
        until_idle: float | None,
        backoff: Backoff,
        where: str,
    ) -> None:
        self.stage = stage
        self.consumer = consumer
        self.producer = producer
        self.pool = pool
        self.stats = stats
        self.stop = stop
        self.deadletter_topic = deadletter_topic
        self.batch_size = batch_size
        self.linger = linger
        self.until_idle = until_idle
        self.backoff = backoff
        self.where = where
        self.items: list[_Item[Payload]] = []
        self.offsets: dict[TopicPartition, int] = {}
        self.polled = 0
        self.dead_sent: list[asyncio.Future[Any]] = []
        self.up = True
        self.attempt = 0

    async def run(self) -> None:
        """Until ``stop`` is set (or idle long enough): fetch, flush, repeat."""
        idle_since = time.monotonic()
        while not self.stop.is_set():
            if self.up and len(self.items) < self.batch_size:
                got = await self._fill()
                if got or not self.consumer.assignment():
                    idle_since = time.monotonic()
            if not self.offsets:
                if self.until_idle is not None and time.monotonic() - idle_since >= self.until_idle:
                    log.info(
                        "%s: no new message for %.1f s, stopping", self.stage.table, self.until_idle
                    )
                    return
                continue
            try:
                await self._flush()
            except psycopg.errors.TransactionRollback as error:
                # deadlock or serialization failure against another writer: just retry
                metrics.SINK_ERRORS.labels(kind="transaction_retry").inc()
                log.warning("%s: batch rolled back (%s), retrying", self.stage.table, error)
                await asyncio.sleep(self.backoff.minimum)
                continue
            except UNAVAILABLE as error:
                await self._on_unavailable(error)
                continue
            except psycopg.Error as error:
                raise UserError(
                    f"TimescaleDB at {self.where} refused a {self.stage.table} batch: "
                    f"{str(error).strip()}. Is the schema current (`ioc migrate`)?"
                ) from error
            if not self.up:
                self._on_recovered()
            idle_since = time.monotonic()

    async def _fill(self) -> int:
        """Poll once (up to POLL_MS), then keep polling for ``linger`` s while records flow."""
        got = await self._poll(POLL_MS)
        if got:
            deadline = time.monotonic() + self.linger
            while len(self.items) < self.batch_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                more = await self._poll(max(1, int(remaining * 1000)))
                if not more:
                    break
                got += more
        return got

    async def _poll(self, timeout_ms: int) -> int:
        fetched = await self.consumer.getmany(
            timeout_ms=timeout_ms, max_records=max(1, min(100, self.batch_size - len(self.items)))
        )
        count = 0
        for tp, records in fetched.items():
            for record in records:
                self._accept(record)
            if records:
                count += len(records)
                self.offsets[tp] = max(self.offsets.get(tp, 0), records[-1].offset + 1)
        self.polled += count
        return count

    def _accept(self, record: Record) -> None:
        for decoded in self.stage.decode(record):
            if isinstance(decoded, BadMessage):
                self.stats.invalid += 1
                metrics.SINK_ERRORS.labels(kind="invalid_message").inc()
                self._send_dead(record, decoded.reason_kind, decoded.reason)
            else:
                self.items.append(_Item(record, decoded))

    def _send_dead(self, record: Record, reason_kind: str, reason: str) -> None:
        value = dead_letter(
            reason_kind,
            reason,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
        )
        sent = asyncio.ensure_future(
            self.producer.send_and_wait(self.deadletter_topic, value=value, key=record.key)
        )
        self.dead_sent.append(sent)

    async def _flush(self) -> None:
        """Write the held batch, dead-letter refused rows, then commit the offsets."""
        if self.items:
            payloads = [item.payload for item in self.items]
            started = time.perf_counter()
            async with self.pool.connection() as conn:
                flushed = await self.stage.write(conn, payloads)
            elapsed = time.perf_counter() - started
            metrics.SINK_BATCH_SECONDS.observe(elapsed)
            metrics.SINK_BATCH_ROWS.observe(len(payloads))
            metrics.SINK_ROWS_WRITTEN.labels(table=self.stage.table).inc(flushed.rows)
            self.stats.batch_seconds.append(elapsed)
            self.stats.batches += 1
            for index, reason in flushed.refused:
                metrics.SINK_ROWS_REJECTED.inc()
                metrics.SINK_ERRORS.labels(kind="rejected_row").inc()
                self._send_dead(self.items[index].record, DATABASE, reason)
        else:
            flushed = _Flushed(rows=0, changed=0, refused=[])
        if self.dead_sent:
            await asyncio.gather(*self.dead_sent)
        self.stage.account(self.stats, flushed, self.polled)
        await self._commit(self.offsets)
        self.items, self.offsets, self.dead_sent, self.polled = [], {}, [], 0

    async def _commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        assigned = self.consumer.assignment()
        mine = {tp: offset for tp, offset in offsets.items() if tp in assigned}
        if len(mine) < len(offsets):
            log.warning(
                "%s: partitions %s were revoked while their batch was written; their new owner "
                "re-delivers those rows (the upsert makes that harmless)",
                self.stage.table,
                sorted(f"{tp.topic}[{tp.partition}]" for tp in offsets if tp not in assigned),
            )
        if not mine:
            return
        try:
            await self.consumer.commit(mine)
        except (CommitFailedError, IllegalStateError) as error:
            metrics.SINK_ERRORS.labels(kind="offset_commit").inc()
            log.warning(
                "%s: offset commit refused (%s); rows will be re-delivered", self.stage.table, error
            )

    async def _on_unavailable(self, error: Exception) -> None:
        metrics.SINK_ERRORS.labels(kind="database_unavailable").inc()
        if self.up:
            self.up = False
            metrics.SINK_UP.set(0)
            self.stats.outages += 1
            self.stats.outage_started.append(time.monotonic())
            detail = (
                str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            )
            log.warning(
                "%s: TimescaleDB at %s unreachable (%s): consumption paused, holding %d rows, "
                "retrying with back-off %.1f-%.0f s",
                self.stage.table,
                self.where,
                detail,
                len(self.items),
                self.backoff.minimum,
                self.backoff.maximum,
            )
        self.stats.retries += 1
        delay = self.backoff.delay(self.attempt)
        self.attempt += 1
        await self._hold(delay)

    async def _hold(self, seconds: float) -> None:
        """Wait ``seconds`` with every partition paused, still polling to stay in the group."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self.consumer.pause(*self.consumer.assignment())
            await self._poll(max(1, int(min(remaining, 1.0) * 1000)))

    def _on_recovered(self) -> None:
        self.up = True
        self.attempt = 0
        metrics.SINK_UP.set(1)
        now = time.monotonic()
        self.stats.recovered.append(now)
        began = self.stats.outage_started[-1] if self.stats.outage_started else now
        self.consumer.resume(*self.consumer.paused())
        log.warning(
            "%s: TimescaleDB at %s reachable again after %.1f s: batch written, resuming",
            self.stage.table,
            self.where,
            now - began,
        )


async def wait_for_database(url: str, backoff: Backoff, stop: asyncio.Event) -> bool:
    """Wait until TimescaleDB at ``url`` accepts a connection, retrying with ``backoff``
    (logged once when it starts and once when it ends); False when ``stop`` came first."""
    attempt = 0
    began = time.monotonic()
    while not stop.is_set():
        try:
            conn = await psycopg.AsyncConnection.connect(url, connect_timeout=3)
        except UNAVAILABLE as error:
            if attempt == 0:
                metrics.SINK_UP.set(0)
                metrics.SINK_ERRORS.labels(kind="unavailable").inc()
                log.warning(
                    "%s; waiting for it, retrying with back-off %.1f-%.0f s",
                    unreachable(url, error), backoff.minimum, backoff.maximum,
                )  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=backoff.delay(attempt))
            attempt += 1
            continue
        await conn.close()
        if attempt:
            log.warning(
                "TimescaleDB at %s reachable after %.1f s: starting",
                describe(url), time.monotonic() - began,
            )  # fmt: skip
        return True
    return False


async def check_schema(database_url: str, *, migrate_first: bool = False) -> int:
    """Raise UserError unless the database is reachable and migrated (or migrate it)."""
    if migrate_first:
        result = await asyncio.to_thread(migrations.migrate, database_url)
        return result.version
    try:
        conn = await psycopg.AsyncConnection.connect(database_url, connect_timeout=10)
    except UNAVAILABLE as error:
        raise unreachable(database_url, error) from error
    async with conn:
        cur = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        exists = await cur.fetchone()
        row: tuple[Any, ...] | None = (0,)
        if exists and exists[0]:
            cur = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
            row = await cur.fetchone()
    version = int(row[0]) if row else 0
    needed = migrations.latest_version()
    if version < needed:
        raise UserError(
            f"database {describe(database_url)} is at schema version {version}, the sink needs "
            f"{needed}: run `.venv/bin/ioc migrate` first"
        )
    return version


class _QuietPoolFilter(logging.Filter):
    """Drop psycopg_pool's per-attempt connect warnings of the sink's pool: the sink logs
    each outage once when it starts and once when it ends."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = str(record.msg)
        return not (
            POOL_NAME in str(record.args)
            and (text.startswith("error connecting in") or text.startswith("reconnection attempt"))
        )


_QUIET_POOL = _QuietPoolFilter()


def make_pool(
    database_url: str, *, max_size: int = 3
) -> AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
    """A pool that fails fast while the server is down, so the sink's own back-off rules."""
    logging.getLogger("psycopg.pool").addFilter(_QUIET_POOL)  # idempotent
    return AsyncConnectionPool(
        database_url,
        min_size=1,
        max_size=max_size,
        open=False,
        timeout=3.0,
        reconnect_timeout=1.0,
        check=AsyncConnectionPool.check_connection,
        kwargs={"autocommit": True, "connect_timeout": 3},
        name=POOL_NAME,
    )


async def _start_kafka(
    bootstrap: str, topics: Sequence[str], group_id: str, session_timeout_ms: int
) -> tuple[AIOKafkaConsumer, AIOKafkaProducer]:
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=f"{group_id}-consumer",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=max(100, min(3000, session_timeout_ms // 3)),
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        await consumer.start()
        await producer.start()
    except KafkaConnectionError as error:
        await consumer.stop()
        await producer.stop()
        raise UserError(
            f"cannot reach Kafka at {bootstrap}: {error}. Start the local servers with "
            "`.venv/bin/ioc dev up`, or set IOC_KAFKA_BOOTSTRAP (or IOC_KAFKA_PORT)."
        ) from error
    return consumer, producer


async def _retention_task(
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
    tables: Sequence[str],
    older_than: timedelta,
    every: float,
    stats: SinkStats,
    stop: asyncio.Event,
) -> None:
    while not stop.is_set():
        for table in tables:
            try:
                async with pool.connection() as conn:
                    result = await drop_old_chunks(conn, table, older_than, count_rows=False)
            except UNAVAILABLE as error:
                log.warning("retention on %s skipped, database unreachable: %s", table, error)
                continue
            stats.chunks_dropped += len(result.chunks)
            if result.chunks:
                log.info("retention: dropped %d chunks of %s", len(result.chunks), table)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


async def run_sink(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    group_id: str | None = None,
    topic: str = KPI_TOPIC,
    deadletter_topic: str = DEADLETTER_TOPIC,
    database_url: str | None = None,
    batch_size: int = 5000,
    linger: float = 0.1,
    until_idle: float | None = None,
    archive_raw: bool = False,
    raw_topics: Sequence[str] = RAW_TOPICS,
    retention: timedelta | None = None,
    retention_every: float = RETENTION_EVERY,
    migrate_first: bool = False,
    backoff: Backoff = Backoff(),
    session_timeout_ms: int = 10_000,
) -> SinkStats:
    """Run the sink until ``stop`` is set (or, with ``until_idle``, after that many idle s).

    Consumes ``topic`` in group ``group_id`` (default IOC_SINK_GROUP or smartcity-ioc-sink)
    and upserts into ``kpi``; with ``archive_raw`` a second group (``<group>-raw``) archives
    the three raw topics into ``raw_events``. ``retention`` drops chunks older than that
    every ``retention_every`` s. A database that is not there at start is waited for with
    ``backoff``, as an outage later is. Raises UserError when Kafka is not there at start,
    or the schema is not migrated (``migrate_first`` migrates it instead).
    """
    stop = stop if stop is not None else asyncio.Event()
    url = database_url or settings.database_url
    group = group_id or default_group()
    if not await wait_for_database(url, backoff, stop):
        return SinkStats()
    await check_schema(url, migrate_first=migrate_first)
    stats = SinkStats()
    pool = make_pool(url)
    try:
        await pool.open(wait=True, timeout=10.0)
    except UNAVAILABLE as error:
        await pool.close()
        raise unreachable(url, error) from error
    metrics.SINK_UP.set(1)
    stoppers: list[Callable[[], Awaitable[None]]] = [pool.close]
    try:
        consumer, producer = await _start_kafka(
            settings.kafka_bootstrap, [topic], group, session_timeout_ms
        )
        stoppers += [consumer.stop, producer.stop]
        common: dict[str, Any] = {
            "stats": stats,
            "stop": stop,
            "deadletter_topic": deadletter_topic,
            "batch_size": batch_size,
            "linger": linger,
            "until_idle": until_idle,
            "backoff": backoff,
            "where": describe(url),
        }
        loops: list[Coroutine[Any, Any, None]] = [
            _Loop(_KpiStage(), consumer, producer, pool, **common).run()
        ]
        if archive_raw:
            raw_consumer, raw_producer = await _start_kafka(
                settings.kafka_bootstrap, raw_topics, f"{group}-raw", session_timeout_ms
            )
            stoppers += [raw_consumer.stop, raw_producer.stop]
            loops.append(
                _Loop(_RawStage(raw_topics), raw_consumer, raw_producer, pool, **common).run()
            )
        background: list[asyncio.Task[None]] = []
        if retention is not None:
            tables = ["kpi", "raw_events"] if archive_raw else ["kpi"]
            background.append(
                asyncio.create_task(
                    _retention_task(pool, tables, retention, retention_every, stats, stop)
                )
            )
        tasks = [asyncio.create_task(loop) for loop in loops]
        try:
            await asyncio.gather(*tasks)
        finally:
            stop.set()
            for task in [*tasks, *background]:
                task.cancel()
            await asyncio.gather(*tasks, *background, return_exceptions=True)
    finally:
        metrics.SINK_UP.set(0)
        for stopper in reversed(stoppers):
            with contextlib.suppress(Exception):
                await stopper()
    return stats
