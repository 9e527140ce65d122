"""The worker's one seam to faust-streaming: everything else of the worker sees Faust only
through :class:`FaustHost`.

The host builds the Faust app (with :mod:`streams.worker.faust_patches` installed), one
plain table per source (window state and its changelog), batch lanes and their agents; it
answers what the consumer holds and whether recovery ended, writes state (the table's data
and its changelog), produces, seeks, reads high watermarks, and repairs the gaps Faust can
leave in a partition's offsets after a rebalance (faust-streaming#216). An upgrade of
faust-streaming must re-check what this module and ``faust_patches`` touch: README,
"Upgrading faust-streaming".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, NamedTuple

import faust
from faust.types import TP

from common.config import Settings
from streams.pipeline import StateWrite
from streams.worker import faust_patches
from streams.worker.faust_options import LANE_QUEUE, app_options

log = logging.getLogger("streams.worker.app")

OnBatch = Callable[[str, Sequence[Any]], Awaitable[None]]
"""Called with (topic, the fetched records of one partition in offset order)."""


class Gap(NamedTuple):
    """A jump in a partition's offsets: ``want`` was expected, ``got`` arrived."""

    topic: str
    partition: int
    want: int
    got: int


class FaustHost:
    """The Faust app of one worker and the few things the worker asks of it."""

    def __init__(self, settings: Settings) -> None:
        faust_patches.apply()
        self.settings = settings
        self.app = faust.App(settings.app_id, **app_options(settings))
        self._tables: dict[str, Any] = {}
        self._changelogs: dict[str, str] = {}
        self._gaps_seen: set[Gap] = set()

    # -- building --------------------------------------------------------------------
    def add_source(self, topic_name: str, table_name: str, on_batch: OnBatch) -> int:
        """Consume ``topic_name`` in batch lanes (one agent each, calling ``on_batch``) with
        a window-state table ``table_name`` co-partitioned with it; the number of lanes."""
        partitions = self.settings.partitions
        topic = self.app.topic(
            topic_name,
            key_type=bytes,
            value_type=bytes,
            partitions=partitions,
            key_serializer="raw",
            value_serializer="raw",
        )
        table = self.app.Table(table_name, partitions=partitions, key_type=bytes, value_type=bytes)
        self._tables[topic_name] = table
        self._changelogs[topic_name] = table.changelog_topic.get_topic_name()
        lanes = faust_patches.batch_lanes(self.app, topic, partitions, LANE_QUEUE)
        for index, lane in enumerate(lanes):
            self._add_agent(topic_name, index, lane, on_batch)
        return len(lanes)

    def _add_agent(self, topic_name: str, index: int, lane: Any, on_batch: OnBatch) -> None:
        async def agent(stream: Any) -> None:
            async for batch in stream:  # acked (offsets committable) when the next is taken
                await on_batch(topic_name, batch.records)

        name = f"windows_{topic_name.split('.')[1]}_{index}"
        agent.__name__ = agent.__qualname__ = name
        self.app.agent(lane, name=name)(agent)

    def every(self, seconds: float, tick: Callable[[], Awaitable[None]]) -> None:
        """Run ``tick`` every ``seconds`` while the worker runs."""
        self.app.timer(seconds)(tick)

    def at_start(self, task: Callable[[], Awaitable[None]]) -> None:
        """Run ``task`` once when the worker starts, beside joining the group."""
        self.app.task(task)

    def at_stop(self, task: Callable[[], Awaitable[None]]) -> None:
        """Run ``task`` once when the worker stops, before Faust closes its clients."""

        async def stopping(app: Any, **_: Any) -> None:
            await task()

        self.app.on_before_shutdown.connect(stopping)  # type: ignore[arg-type]

    def on_revoked(self, dropped: Callable[[str, int], Awaitable[None]]) -> None:
        """Call ``dropped(topic, partition)`` for every partition a rebalance takes away."""

        async def revoked(app: Any, revoked: set[Any], **_: Any) -> None:
            for tp in revoked:
                await dropped(tp.topic, tp.partition)

        self.app.on_partitions_revoked.connect(revoked)  # type: ignore[arg-type]

    # -- state -----------------------------------------------------------------------
    def restored_state(self, topic: str) -> list[tuple[bytes, bytes]]:
        """Every item of ``topic``'s window-state table (all partitions this worker holds)."""
        return list(self._tables[topic].data.items())

    async def write_state(
        self, topic: str, writes: Iterable[StateWrite], *, wait: bool = False
    ) -> None:
        """Apply state writes to the table and produce them to its changelog in bulk; with
        ``wait``, return once the broker has them all.

        The records go straight to the Kafka producer (which keeps per-partition order and
        is flushed by Faust before every offset commit) instead of Faust's one-by-one
        changelog buffer, which cannot keep up with thousands of panes per batch.
        """
        data = self._tables[topic].data
        changelog = self._changelogs[topic]
        send = self.app.producer.send
        futures: list[Any] = []
        for write in writes:
            if write.value is None:
                data.pop(write.key, None)
            else:
                data[write.key] = write.value
            futures.append(
                await send(changelog, write.key, write.value, write.partition, None, None)
            )
        if wait:
            await asyncio.gather(*futures)

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        *,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]:
        """Hand one record to the producer (``partition`` None: the key's partition;
        ``timestamp_ms`` None: now); the returned future says when the broker has it."""
        timestamp = None if timestamp_ms is None or timestamp_ms < 0 else timestamp_ms / 1000.0
        future: Awaitable[Any] = await self.app.producer.send(
            topic, key, value, partition, timestamp, headers
        )
        return future

    # -- the consumer ----------------------------------------------------------------
    def held(self) -> set[tuple[str, int]] | None:
        """(topic, partition) of every partition assigned to this worker now; None while
        the consumer cannot say (not started, or rebalancing)."""
        try:
            return {(tp.topic, tp.partition) for tp in self.app.consumer.assignment()}
        except Exception:
            return None

    @property
    def rebalancing(self) -> bool:
        """True while a rebalance is under way."""
        return bool(self.app.rebalancing)

    def restored(self) -> bool:
        """True when Faust has finished restoring the tables from their changelogs."""
        tables: Any = self.app.tables
        return not self.app.in_recovery and bool(tables.recovery.completed.is_set())

    async def wait_restored(self) -> bool:
        """Wait until Faust has restored the tables from their changelogs; False when a new
        rebalance began meanwhile.

        Faust may deliver records before recovery ends (faust-streaming#596); a partition's
        state must not be loaded from a half-restored table. The caller may hold a lock the
        next rebalance needs, and that rebalance would hold the recovery back: so the wait
        ends when one begins.
        """
        rebalances = self.app.rebalancing_count
        while not self.restored():
            if self.app.rebalancing_count != rebalances:
                return False
            await asyncio.sleep(0.05)
        return True

    async def seek(self, topic: str, partition: int, offset: int) -> None:
        """Read ``topic[partition]`` again from ``offset``."""
        await self.app.consumer.seek(TP(topic, partition), offset)

    def highwater(self, topic: str, partition: int) -> int | None:
        """The partition's high watermark as last fetched; None while unknown (no fetch
        answered yet, or the consumer is rebalancing)."""
        try:
            value = self.app.consumer.highwater(TP(topic, partition))
        except Exception:
            return None
        return None if value is None else int(value)

    async def without_gaps(
        self, topic: str, records: list[Any], processed: Callable[[int], int]
    ) -> list[Any]:
        """Drop the records that follow a gap in a partition's offsets and re-read the gap.

        ``processed(partition)`` is the highest offset the worker processed (-1: none).
        After a rebalance Faust may drop fetched records and go on with later ones
        (faust-streaming#216); folding those would lose the dropped events for good. A gap
        seen twice at the same place is genuine (compaction, transaction markers) and
        accepted.
        """
        if _contiguous(records, processed):
            return list(records)
        expected: dict[int, int] = {}
        cut: set[int] = set()
        kept: list[Any] = []
        for record in records:
            partition = record.partition
            if partition in cut:
                continue
            if partition not in expected:
                done = processed(partition)
                expected[partition] = done + 1 if done >= 0 else record.offset
            want = expected[partition]
            if record.offset > want:
                gap = Gap(topic, partition, want, record.offset)
                if gap not in self._gaps_seen:
                    self._gaps_seen.add(gap)
                    cut.add(partition)
                    log.warning(
                        "%s[%d] jumped from %d to %d; re-reading the gap", *gap
                    )  # fmt: skip
                    await self.seek(topic, partition, want)
                    continue
            expected[partition] = max(want, record.offset + 1)
            kept.append(record)
        return kept


def _contiguous(records: list[Any], processed: Callable[[int], int]) -> bool:
    """True when ``records`` are of one partition, at consecutive offsets, the first no
    later than the next one to process: no gap (checked without a Python step per record,
    as a batch of one lane normally is)."""
    if not records:
        return True
    if len({record.partition for record in records}) != 1:
        return False
    offsets = [record.offset for record in records]
    first = offsets[0]
    done = processed(records[0].partition)
    if done >= 0 and first > done + 1:
        return False
    return offsets == list(range(first, first + len(offsets)))
