"""One consumer group's batch loop: poll, batch, write with retries, then commit offsets.

Per batch: decode (unreadable messages go to the dead-letter topic), write all rows in one
database transaction (a :class:`Stage`), dead-letter the rows the database refused, and only
then commit the Kafka offsets. When the database is unreachable the batch stays in memory,
the partitions are paused, and the write is retried with capped exponential back-off; the
state change (ok -> retrying -> ok) is logged once each way. Redelivery after a crash
between the database commit and the offset commit is harmless: the writes are idempotent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any, Final, Generic

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from psycopg_pool import AsyncConnectionPool

from common import metrics
from common.errors import UserError
from sinks.batch import Batch, Flushed, Item, Payload, Record, SinkStats, Stage
from sinks.db import UNAVAILABLE
from sinks.deadletter import DATABASE, dead_letter
from sinks.kpi_codec import BadMessage
from sinks.options import SinkOptions

log = logging.getLogger("sinks.sink")

POLL_MS: Final = 500
LINGER_CAP: Final = 1.0


class BatchLoop(Generic[Payload]):
    """One consumer group: poll, batch, write with retries, then commit offsets.

    Writing a batch and polling (and decoding) the next one overlap: while the database
    writes batch k, the loop fills batch k+1; it waits for the write before it starts the
    next, so batches are written and their offsets committed in order. A batch whose write
    failed is put back in front of the one filled meanwhile and both are retried together.
    """

    def __init__(
        self,
        stage: Stage[Payload],
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]],
        options: SinkOptions,
        *,
        stats: SinkStats,
        stop: asyncio.Event,
        where: str,
    ) -> None:
        self.stage = stage
        self.consumer = consumer
        self.producer = producer
        self.pool = pool
        self.stats = stats
        self.stop = stop
        self.deadletter_topic = options.deadletter_topic
        self.batch_size = options.batch_size
        self.writers = options.writers
        self.linger = options.linger
        self.until_idle = options.until_idle
        self.backoff = options.backoff
        self.where = where
        self.batch: Batch[Payload] = Batch()
        self.writing: tuple[asyncio.Task[None], Batch[Payload]] | None = None
        self.up = True
        self.attempt = 0
        self.last_wait = 0.0

    async def run(self) -> None:
        """Until ``stop`` is set (or idle long enough): fetch, write, repeat."""
        idle_since = time.monotonic()
        try:
            while not self.stop.is_set():
                got = 0
                if self.up and self.batch.rows < self.batch_size:
                    got = await self._fill()
                    if got or not self.consumer.assignment():
                        idle_since = time.monotonic()
                if self.writing is not None:
                    task = self.writing[0]
                    if got and not task.done() and self.batch.rows < self.batch_size:
                        continue  # keep filling the next batch while this one is written
                    if not await self._written():
                        continue
                    idle_since = time.monotonic()
                if not self.batch.offsets:
                    if self._idle_for(idle_since):
                        return
                    continue
                batch, self.batch = self.batch, Batch()
                self.writing = (asyncio.create_task(self._flush(batch)), batch)
        except BaseException:
            if self.writing is not None:  # not committed: its records come again
                self.writing[0].cancel()
            raise
        if self.writing is not None:  # stopped: finish the write under way
            await self._written()

    def _put_back(self, failed: Batch[Payload]) -> None:
        """A batch whose write failed goes again, in front of the one filled meanwhile."""
        failed.absorb(self.batch)
        self.batch = failed

    def _idle_for(self, since: float) -> bool:
        if self.until_idle is None or time.monotonic() - since < self.until_idle:
            return False
        log.info("%s: no new message for %.1f s, stopping", self.stage.table, self.until_idle)
        return True

    async def _written(self) -> bool:
        """Wait for the batch being written; False when it failed (it is then put back in
        front of the current batch, after the back-off its error calls for)."""
        assert self.writing is not None
        (task, batch), self.writing = self.writing, None
        try:
            await task
        except psycopg.errors.TransactionRollback as error:
            # deadlock or serialization failure against another writer: just retry
            self._put_back(batch)
            metrics.SINK_ERRORS.labels(kind="transaction_retry").inc()
            log.warning("%s: batch rolled back (%s), retrying", self.stage.table, error)
            await asyncio.sleep(self.backoff.minimum)
            return False
        except UNAVAILABLE as error:
            self._put_back(batch)
            await self._on_unavailable(error)
            return False
        except psycopg.Error as error:
            raise UserError(
                f"TimescaleDB at {self.where} refused a {self.stage.table} batch: "
                f"{str(error).strip()}. Is the schema current (`ioc migrate`)?"
            ) from error
        if not self.up:
            self._on_recovered()
        return True

    async def _fill(self) -> int:
        """Poll once (up to POLL_MS), then keep polling while records flow: up to ``linger``
        s of waiting for more (time spent decoding does not count, so a backlog fills whole
        batches), and never more than LINGER_CAP s in all."""
        got = await self._poll(POLL_MS)
        if got:
            started = time.monotonic()
            waited = 0.0
            while self.batch.rows < self.batch_size:
                remaining = self.linger - waited
                if remaining <= 0 or time.monotonic() - started > LINGER_CAP:
                    break
                more = await self._poll(max(1, int(remaining * 1000)))
                waited += self.last_wait
                if not more:
                    break
                got += more
        return got

    async def _poll(self, timeout_ms: int) -> int:
        """Fetch (waiting up to ``timeout_ms``) and decode into the current batch; the time
        spent waiting for the broker is left in ``last_wait``."""
        asked = time.monotonic()
        fetched = await self.consumer.getmany(
            timeout_ms=timeout_ms,
            max_records=max(1, min(100, self.batch_size - self.batch.rows)),
        )
        self.last_wait = time.monotonic() - asked
        count = 0
        for tp, records in fetched.items():
            for record in records:
                self._accept(record)
                # Let the write under way send its next rows and commit: decoding a whole
                # fetch in one go would leave the database idle meanwhile.
                await asyncio.sleep(0)
            self.batch.stamps += [record.timestamp for record in records]
            if records:
                count += len(records)
                offsets = self.batch.offsets
                offsets[tp] = max(offsets.get(tp, 0), records[-1].offset + 1)
        self.batch.polled += count
        return count

    def _accept(self, record: Record) -> None:
        payloads: list[Payload] = []
        for decoded in self.stage.decode(record):
            if isinstance(decoded, BadMessage):
                self.stats.invalid += 1
                metrics.SINK_ERRORS.labels(kind="invalid_message").inc()
                self._send_dead(self.batch, record, decoded.reason_kind, decoded.reason)
            else:
                payloads.append(decoded)
        if payloads:
            self.batch.items.append(Item(record, payloads))
            self.batch.rows += len(payloads)

    def _send_dead(
        self, batch: Batch[Payload], record: Record, reason_kind: str, reason: str
    ) -> None:
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
        batch.dead_sent.append(sent)

    async def _flush(self, batch: Batch[Payload]) -> None:
        """Write ``batch``, dead-letter refused rows, then commit its offsets."""
        if batch.items:
            started = time.perf_counter()
            flushed, refused = await self._write_side_by_side(batch.items)
            elapsed = time.perf_counter() - started
            metrics.SINK_BATCH_SECONDS.observe(elapsed)
            metrics.SINK_BATCH_ROWS.observe(batch.rows)
            metrics.SINK_ROWS_WRITTEN.labels(table=self.stage.table).inc(flushed.rows)
            self.stats.batch_seconds.append(elapsed)
            self.stats.batches += 1
            for record, reason in refused:
                metrics.SINK_ROWS_REJECTED.inc()
                metrics.SINK_ERRORS.labels(kind="rejected_row").inc()
                self._send_dead(batch, record, DATABASE, reason)
        else:
            flushed = Flushed(rows=0, changed=0, refused=[])
        visible = time.time()
        if batch.dead_sent:
            await asyncio.gather(*batch.dead_sent)
        self.stage.account(self.stats, flushed, batch.polled)
        await self._commit(batch.offsets)
        delay = metrics.SINK_VISIBLE_DELAY.labels(table=self.stage.table)
        for stamp in batch.stamps:
            delay.observe(max(0.0, visible - stamp / 1000.0))

    async def _write_side_by_side(
        self, items: list[Item[Payload]]
    ) -> tuple[Flushed, list[tuple[Record, str]]]:
        """Write the items in ``writers`` transactions side by side, one per group of
        partitions (all rows of one identity come from one partition, so their order
        holds); raise the first error once every transaction has ended. Also returns the
        refused rows' records with the database's reasons, in batch order per group."""
        lanes: dict[int, list[Item[Payload]]] = {}
        for item in items:
            lane = hash((item.record.topic, item.record.partition)) % self.writers
            lanes.setdefault(lane, []).append(item)

        async def write(group: list[Item[Payload]]) -> Flushed:
            payloads = [payload for item in group for payload in item.payloads]
            async with self.pool.connection() as conn:
                return await self.stage.write(conn, payloads)

        groups = list(lanes.values())
        results = await asyncio.gather(*(write(g) for g in groups), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        done = [r for r in results if isinstance(r, Flushed)]
        flushed = Flushed(
            rows=sum(f.rows for f in done),
            changed=sum(f.changed for f in done),
            refused=[refusal for f in done for refusal in f.refused],
        )
        refused = [
            (_owner(group, index), reason)
            for group, f in zip(groups, done, strict=True)
            for index, reason in f.refused
        ]
        return flushed, refused

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
                self.batch.rows,
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


def _owner(items: list[Item[Payload]], index: int) -> Record:
    """The record of row ``index`` of the payloads of ``items`` laid end to end."""
    for item in items:
        if index < len(item.payloads):
            return item.record
        index -= len(item.payloads)
    raise IndexError(index)
