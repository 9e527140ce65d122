"""A bound on the KPI messages waiting for the sink: the worker pauses before it emits.

During a catch-up the worker closes windows faster than ``ioc sink`` writes their rows, so
rows queue on city.kpi.v1 and a window closed now becomes visible only after the whole
queue before it (BENCHMARKS.md "End to end": p99 29 s). With ``IOC_KPI_BACKLOG_MESSAGES``
set to N > 0, a worker about to emit first waits while the sink group
(``IOC_SINK_GROUP``) has more than N messages of city.kpi.v1 unread (each message carries
up to 500 rows), at most ``max_wait_seconds`` at a time, so a sink that is down or slow
cannot stop the worker for good. The raw events wait in Kafka instead, where they cost
nothing. 0 (the default) turns it off. The lag is read with a consumer of the sink's group
that never joins it nor commits, at most every ``poll_seconds``; a broker that does not
answer means no wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from schemas.topics import KPI_TOPIC

log = logging.getLogger("streams.worker.backlog")

MAX_WAIT_SECONDS: Final = 30.0
POLL_SECONDS: Final = 0.2


class KpiBacklog:
    """The sink group's unread messages of city.kpi.v1, and a wait until they are few."""

    def __init__(
        self,
        bootstrap: str,
        sink_group: str,
        limit: int,
        partitions: int,
        max_wait_seconds: float = MAX_WAIT_SECONDS,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.bootstrap = bootstrap
        self.group = sink_group
        self.limit = limit
        self.tps = [TopicPartition(KPI_TOPIC, p) for p in range(partitions)]
        self.max_wait = max_wait_seconds
        self.poll = poll_seconds
        self.waited_seconds = 0.0
        self._consumer: AIOKafkaConsumer | None = None
        self._lag: tuple[float, int | None] = (-1e9, None)
        self._reading = asyncio.Lock()

    async def wait(self) -> float:
        """Wait while more than ``limit`` messages are unread (at most ``max_wait``); the
        seconds waited. Returns at once when the bound is off."""
        if self.limit <= 0:
            return 0.0
        started = time.monotonic()
        while time.monotonic() - started < self.max_wait:
            lag = await self.lag()
            if lag is None or lag <= self.limit:
                break
            await asyncio.sleep(self.poll)
        waited = time.monotonic() - started
        self.waited_seconds += waited
        return waited

    async def lag(self) -> int | None:
        """Unread messages of the sink group on city.kpi.v1 (read at most every ``poll``
        seconds); None when the broker does not tell."""
        async with self._reading:
            at, lag = self._lag
            if time.monotonic() - at < self.poll:
                return lag
            try:
                lag = await self._read()
            except (TimeoutError, KafkaError, OSError) as error:
                log.warning("cannot read the sink's lag on %s: %s", KPI_TOPIC, error)
                lag = None
            self._lag = (time.monotonic(), lag)
            return lag

    async def _read(self) -> int:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, group_id=self.group, enable_auto_commit=False
            )
            await consumer.start()
            self._consumer = consumer
        ends = await self._consumer.end_offsets(self.tps)
        unread = 0
        for tp in self.tps:
            committed = await self._consumer.committed(tp)
            if committed is not None:  # a group that never committed here: unknown
                unread += max(0, int(ends[tp]) - committed)
        return unread

    async def stop(self) -> None:
        """Close the lag consumer, if one was started."""
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None
