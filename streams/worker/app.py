"""The Faust app: three agents (one per raw topic) over changelog-backed window state.

Start it with ``ioc worker`` or ``faust -A streams.worker.app worker``. Window state lives in one
plain Faust table per raw topic (``ioc-windows-<source>``), co-partitioned with its source
topic; see :mod:`streams.pipeline` for the order of writes that keeps KPIs exact.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Iterable, Sequence
from typing import Final

from common import metrics
from common.config import Settings, load
from schemas.topics import CLOCK_TOPIC, DEADLETTER_TOPIC, KPI_TOPIC, LATE_TOPIC, RAW_TOPICS
from streams.clocknotes import note_records
from streams.pipeline import Applied, Record, StateWrite, TopicPipeline
from streams.routing import EntityClaims, load_entity_registry
from streams.windows import Closing, kpi_packs
from streams.worker import garbage
from streams.worker.backlog import KpiBacklog
from streams.worker.claims import ClaimsLog
from streams.worker.counting import count_applied
from streams.worker.delivery import Delivery
from streams.worker.faust_host import FaustHost
from streams.worker.kpi_gauges import KpiGauges
from streams.worker.watermark_gauges import report_watermarks

log = logging.getLogger("streams.worker.app")

ROWS_PER_MESSAGE: Final = 500
STALL_SECONDS: Final = 10.0


def _table_name(topic: str) -> str:
    return "ioc-windows-" + topic.split(".")[1]


class Worker:
    """The app, its topics, tables and agents, built from :class:`Settings`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.host = FaustHost(settings)
        self.app = self.host.app
        self.districts = EntityClaims(load_entity_registry(settings.entity_registry))
        self.pipelines: dict[str, TopicPipeline] = {}
        self.positions: dict[tuple[str, int], int] = {}
        self.arrival_lag: dict[tuple[str, int], float] = {}
        self.locks: dict[tuple[str, int], asyncio.Lock] = {}
        self.last_event_wall: dict[tuple[str, int], float] = {}
        self.kpi_gauges = KpiGauges()
        self.delivery = Delivery(self.host)
        self.claims = ClaimsLog(settings.kafka_bootstrap, self.districts, self.delivery)
        self.backlog = KpiBacklog(
            settings.kafka_bootstrap,
            settings.sink_group,
            settings.kpi_backlog_messages,
            settings.partitions,
        )
        for topic_name in RAW_TOPICS:
            self._add_source(topic_name)
        self.host.at_start(self.claims.start)
        self.host.at_stop(self._stop_clients)
        self.host.every(1.0, self._idle_tick)
        self.host.every(garbage.INTERVAL_SECONDS, self._collect_garbage)
        self.host.on_revoked(self._drop)

    def _add_source(self, topic_name: str) -> None:
        settings = self.settings
        self.pipelines[topic_name] = TopicPipeline(
            topic_name,
            settings.grace_seconds,
            settings.future_skew_seconds,
            settings.partitions,
            settings.dedup_horizon_seconds,
            self.districts,
            claims_required=True,
        )
        # One agent per partition lane: partitions are processed side by side (one waits
        # for the broker while another computes), each in offset order.
        lanes = self.host.add_source(topic_name, _table_name(topic_name), self.process)
        for index in range(lanes):
            self.locks[(topic_name, index)] = asyncio.Lock()

    def _lock(self, topic: str, partition: int) -> asyncio.Lock:
        """The lock of the lane that carries ``partition``: steps, idle closing, loading and
        dropping of a partition never interleave."""
        return self.locks[(topic, partition % self.settings.partitions)]

    # -- batch processing ---------------------------------------------------------------
    async def process(self, topic: str, fetched: Sequence[Record]) -> None:
        """Apply the fetched records of one partition of ``topic`` (aiokafka
        ``ConsumerRecord``s, in offset order) and carry out what they need: one step."""
        metrics.STEP_RECORDS.labels(topic=topic).observe(len(fetched))
        with (
            metrics.STEPS_IN_PROGRESS.track_inprogress(),
            metrics.STEP_SECONDS.labels(topic=topic).time(),
        ):
            await self._step(topic, fetched)

    async def _step(self, topic: str, fetched: Sequence[Record]) -> None:
        records = list(fetched)
        if not records:
            return
        pipeline = self.pipelines[topic]
        async with self._lock(topic, records[0].partition):
            records = self._owned(topic, records)
            missing = {r.partition for r in records if not pipeline.is_loaded(r.partition)}
            if missing and await self.host.wait_restored():
                for partition in missing:
                    self._load(topic, partition)
            elif missing:
                records = [r for r in records if r.partition not in missing]
                log.info(
                    "%s: a rebalance began while partitions %s awaited their state; their "
                    "records are read again later",
                    topic,
                    sorted(missing),
                )
            records = await self.host.without_gaps(
                topic, records, lambda p: pipeline.windows(p).clock.processed_offset
            )
            now = time.time()
            applied = pipeline.apply(records, now)
            while applied.rest:  # stopped at entities nobody claimed: claim, then go on
                await self.claims.claim(applied.unclaimed)
                applied = pipeline.apply(applied.rest, now, into=applied)
            if applied.markers_read < len(records):  # markers alone keep nothing busy
                for partition in applied.touched:
                    self.last_event_wall[(topic, partition)] = now
                    self._note_arrival(topic, partition, now)
            if applied.clock_notes:
                await self._write(topic, pipeline.note_writes(applied), wait=True)
            await self.delivery.produce(
                (CLOCK_TOPIC, note_records(topic, applied.clock_notes)),
                (topic, applied.reroutes),
                (DEADLETTER_TOPIC, applied.deadletters),
                (LATE_TOPIC, applied.lates),
            )
            await self._tell_progress(topic, applied.touched)
            await self._finish(topic, applied.touched)
        self._count(topic, records, applied)

    async def _tell_progress(
        self, topic: str, partitions: Iterable[int], caught_up: Collection[int] = ()
    ) -> None:
        """Append the progress markers of ``partitions`` to the topic's other partitions
        (:mod:`streams.progress`). Call it holding their lanes' locks, once the broker has
        every copy they made: a marker must come after them."""
        markers = self.pipelines[topic].progress_markers(partitions, caught_up)
        if markers:
            await self.delivery.produce((topic, markers))
            metrics.PROGRESS_MARKERS.labels(topic=topic, direction="sent").inc(len(markers))

    async def _finish(self, topic: str, partitions: set[int]) -> None:
        pipeline = self.pipelines[topic]
        closings = pipeline.close(partitions)
        await self._write(topic, pipeline.pane_writes(partitions, closings))
        if closings:
            await self._emit(closings)
        await self._write(topic, pipeline.clock_writes(partitions))
        if closings:
            # The clock and the deletions go to the same changelog partition, in order:
            # no wait is needed between them (the rows before the clock need one: _emit).
            await self._write(topic, pipeline.retire(closings))
        for closing in closings.values():
            for window, n in closing.windows_closed.items():
                if n:
                    metrics.WINDOWS_CLOSED.labels(window=window).inc(n)
        metrics.WINDOW_STATE_ENTRIES.set(sum(p.state_entries() for p in self.pipelines.values()))
        report_watermarks(pipeline, topic, partitions, time.time())

    async def _emit(self, closings: dict[int, Closing]) -> None:
        """Produce closed-window rows to city.kpi.v1 and wait until the broker has them.

        Re-emitted rows are identical, so their order across packs is moot.
        """
        packs = kpi_packs(closings, ROWS_PER_MESSAGE)
        if packs:
            await self.backlog.wait()
        futures = [await self.host.send(KPI_TOPIC, key, value) for key, value in packs]
        await asyncio.gather(*futures)
        self.kpi_gauges.update(closings)

    async def _write(self, topic: str, writes: list[StateWrite], *, wait: bool = False) -> None:
        if writes:
            await self.host.write_state(topic, writes, wait=wait)

    def _load(self, topic: str, partition: int) -> None:
        windows = self.pipelines[topic].load(partition, self.host.restored_state(topic))
        log.info(
            "loaded %s[%d]: %d panes, clock %s", topic, partition, windows.pane_count, windows.clock
        )
        self.last_event_wall[(topic, partition)] = time.time()
        self._note_arrival(topic, partition, time.time())
        self._count_partitions()

    def _note_arrival(self, topic: str, partition: int, now: float) -> None:
        newest = self.pipelines[topic].windows(partition).clock.max_event_time
        if newest is not None:
            self.arrival_lag[(topic, partition)] = now - newest

    def _count_partitions(self) -> None:
        metrics.PARTITIONS_HELD.set(sum(len(p.partitions) for p in self.pipelines.values()))

    def _count(self, topic: str, records: list[Record], applied: Applied) -> None:
        count_applied(topic, applied)
        metrics.SENSOR_LAST_SEEN.set_all((k, (t,)) for k, t in applied.sensors_seen.items())
        last: dict[int, int] = {}
        for record in records:
            last[record.partition] = record.offset
        for partition, offset in last.items():
            self.positions[(topic, partition)] = offset + 1
        for partition in last:
            if self.pipelines[topic].is_loaded(partition):
                self._set_lag(topic, partition)

    async def _stop_clients(self) -> None:
        """Close the worker's own Kafka clients (the claims log, the sink's lag reader)."""
        await self.claims.stop()
        await self.backlog.stop()

    async def _collect_garbage(self) -> None:
        garbage.collect()

    async def _idle_tick(self) -> None:
        now = time.time()
        timeout = self.settings.idle_timeout_seconds
        await self._load_quiet_partitions()
        self._report_lag()
        await self._repair_stalls(now)
        for topic, pipeline in self.pipelines.items():
            report_watermarks(pipeline, topic, list(pipeline.partitions), now)
        await self._tell_idle_progress()
        for topic, pipeline in self.pipelines.items():
            idle = [
                p
                for p in list(pipeline.partitions)
                if now - self.last_event_wall.get((topic, p), now) >= timeout
                and self._live(topic, p)
                and self._caught_up(topic, p)
            ]
            if not idle:
                continue
            for partition in idle:
                async with self._lock(topic, partition):
                    if pipeline.is_loaded(partition):
                        pipeline.windows(partition).advance_idle(now)
                        await self._finish(topic, {partition})

    async def _tell_idle_progress(self) -> None:
        """Tell the peers of every held partition what changed in its progress; one with
        nothing left to read holds them back no further than their own progress
        (:meth:`PartitionWindows.statements`)."""
        for topic, pipeline in self.pipelines.items():
            for partition in list(pipeline.partitions):
                async with self._lock(topic, partition):
                    if not pipeline.is_loaded(partition):
                        continue
                    caught_up = {partition} if self._caught_up(topic, partition) else set()
                    await self._tell_progress(topic, {partition}, caught_up)

    async def _load_quiet_partitions(self) -> None:
        """Load assigned partitions that have received nothing since this worker got them.

        Their restored windows must close too, even when no new event ever arrives.
        """
        held = self.host.held()
        if not self.host.restored() or held is None:
            return
        for topic, partition in held:
            pipeline = self.pipelines.get(topic)
            if pipeline is not None and not pipeline.is_loaded(partition):
                async with self._lock(topic, partition):
                    if not pipeline.is_loaded(partition):
                        self._load(topic, partition)

    def _owned(self, topic: str, records: list[Record]) -> list[Record]:
        """Only the records of partitions this worker holds now.

        Events buffered before a rebalance can still reach the agent after their partition
        went to another worker; folding them here would write the new owner's changelog
        from two workers. They are not committed, so the new owner reads them again.
        """
        held = self.host.held() or set()  # not started or rebalancing: hold nothing
        assigned = {partition for t, partition in held if t == topic}
        owned = [r for r in records if r.partition in assigned]
        if len(owned) < len(records):
            for partition in {r.partition for r in records} - assigned:
                self.pipelines[topic].drop(partition)
            log.info(
                "%s: %d records of partitions held elsewhere skipped",
                topic,
                len(records) - len(owned),
            )
        return owned

    async def _repair_stalls(self, now: float) -> None:
        """Seek back a partition that has records to read but delivers none.

        After a rebalance Faust may drop fetched records and keep its read offset ahead of
        them (see faust-streaming#216): the partition then looks active but never delivers
        the rest. Re-reading from the first unprocessed offset is safe: processing is
        idempotent. A partition this worker no longer holds (given away in a rebalance) is
        dropped instead: its state is reloaded from the table if it comes back.
        """
        if self.host.rebalancing:
            return
        held = self.host.held()
        if held is None:  # not started or rebalancing: try on a later tick
            return
        for topic, pipeline in self.pipelines.items():
            for partition in list(pipeline.partitions):
                key = (topic, partition)
                if now - self.last_event_wall.get(key, now) < STALL_SECONDS:
                    continue
                if key not in held:
                    async with self._lock(topic, partition):
                        pipeline.drop(partition)
                    log.info("%s[%d] is held by another worker now; state dropped", *key)
                    self._count_partitions()
                    continue
                if self._caught_up(topic, partition):
                    continue
                offset = pipeline.windows(partition).clock.processed_offset + 1
                log.warning(
                    "%s[%d] delivers nothing below its high watermark; re-reading from %d",
                    topic,
                    partition,
                    offset,
                )
                self.last_event_wall[key] = now
                try:
                    await self.host.seek(topic, partition, offset)
                except Exception as error:  # rebalancing: try again on a later tick
                    log.warning("seek of %s[%d] failed: %r", topic, partition, error)

    def _report_lag(self) -> None:
        """Consumer lag of every held partition, quiet ones included."""
        for topic, pipeline in self.pipelines.items():
            for partition in list(pipeline.partitions):
                self._set_lag(topic, partition)

    def _set_lag(self, topic: str, partition: int) -> None:
        lag = self._lag(topic, partition)
        if lag is not None:
            metrics.CONSUMER_LAG.labels(topic=topic, partition=str(partition)).set(lag)

    def _lag(self, topic: str, partition: int) -> int | None:
        """Records of a held partition not processed yet; None while the high watermark is
        unknown (no fetch answered yet, or the consumer is rebalancing)."""
        processed = self.pipelines[topic].windows(partition).clock.processed_offset + 1
        position = max(self.positions.get((topic, partition), 0), processed)
        highwater = self.host.highwater(topic, partition)
        return None if highwater is None else max(0, highwater - position)

    def _live(self, topic: str, partition: int) -> bool:
        """True when the partition's events arrived close to their event time.

        Only a live stream may have its watermark moved by wall clock: a backfill or a
        replay of old events pauses now and then, and jumping to the wall clock there
        would turn every later event late. Their last windows close with newer events.
        """
        lag = self.arrival_lag.get((topic, partition))
        return lag is not None and lag <= self.settings.live_lag_seconds

    def _caught_up(self, topic: str, partition: int) -> bool:
        """True when this worker has processed every record of the partition it knows of.

        A partition is idle only when nothing waits in it: a lagging worker must not move
        a watermark by wall clock, or the records still waiting would turn late.
        """
        return self._lag(topic, partition) == 0

    async def _drop(self, topic: str, partition: int) -> None:
        """A rebalance took ``topic[partition]`` away: forget its windows."""
        pipeline = self.pipelines.get(topic)
        if pipeline is not None:
            async with self._lock(topic, partition):
                pipeline.drop(partition)
        self._count_partitions()


worker = Worker(load())
app = worker.app
