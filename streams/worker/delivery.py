"""Records the worker must not lose: re-routed copies, dead letters, late records.

:class:`Delivery` produces them and waits until the broker has every one. A refused record
is sent again (``PRODUCE_ATTEMPTS`` in all, with back-off); one the broker still refuses
stops the worker loudly (log, ``ioc_worker_produce_failures_total``, alert
``WorkerProduceFailing``) before its batch is committed, so it is read again on restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Final

from common import metrics
from streams.pipeline import Reroute
from streams.worker.faust_host import FaustHost

log = logging.getLogger("streams.worker.delivery")

PRODUCE_ATTEMPTS: Final = 5
PRODUCE_BACKOFF_SECONDS: Final = 0.2

Outgoing = tuple[bytes | None, bytes] | Reroute
"""A record the worker must not lose: (key, value) for an output topic, or a re-routed copy."""


class ProduceFailed(RuntimeError):
    """The broker refused records that must not be lost; the worker stops uncommitted."""


class Delivery:
    """Produces records that must not be lost through one :class:`FaustHost`."""

    def __init__(self, host: FaustHost, backoff_seconds: float = PRODUCE_BACKOFF_SECONDS) -> None:
        self.host = host
        self.backoff_seconds = backoff_seconds

    async def produce(self, *outputs: tuple[str, Sequence[Outgoing]]) -> None:
        """Produce the records of every (topic, records) of ``outputs`` and wait once until
        the broker has every one; raise :class:`ProduceFailed` when it still refuses some
        after every attempt."""
        pending = [(topic, record) for topic, records in outputs for record in records]
        error: BaseException | None = None
        for attempt in range(1, PRODUCE_ATTEMPTS + 1):
            if not pending:
                return
            pending, error = await self._attempt(pending)
            if pending:
                log.warning(
                    "%d records to %s refused (attempt %d of %d): %r",
                    len(pending), _topics(pending), attempt, PRODUCE_ATTEMPTS, error,
                )  # fmt: skip
            if pending and attempt < PRODUCE_ATTEMPTS:
                await asyncio.sleep(self.backoff_seconds * 2 ** (attempt - 1))
        if not pending:
            return
        for topic, _ in pending:
            metrics.PRODUCE_FAILURES.labels(topic=topic).inc()
        hint = _hint([record for _, record in pending])
        log.critical(
            "the broker refused %d records to %s after %d attempts; stopping without "
            "committing their batch (it is read again on restart)%s",
            len(pending), _topics(pending), PRODUCE_ATTEMPTS, hint,
        )  # fmt: skip
        raise ProduceFailed(
            f"{len(pending)} records to {_topics(pending)} refused: {error!r}{hint}"
        )

    async def _attempt(
        self, records: list[tuple[str, Outgoing]]
    ) -> tuple[list[tuple[str, Outgoing]], BaseException | None]:
        """Send ``records`` once; the ones refused and the last error."""
        failed: list[tuple[str, Outgoing]] = []
        error: BaseException | None = None
        waiting: list[tuple[tuple[str, Outgoing], Any]] = []
        for item in records:
            try:
                future = await self._send(*item)
            except Exception as refused:  # e.g. MessageSizeTooLargeError, at once
                failed.append(item)
                error = refused
            else:
                waiting.append((item, future))
        outcomes = await asyncio.gather(*(f for _, f in waiting), return_exceptions=True)
        for (item, _), outcome in zip(waiting, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                failed.append(item)
                error = outcome
        return failed, error

    async def _send(self, topic: str, record: Outgoing) -> Any:
        if isinstance(record, Reroute):
            return await self.host.send(
                topic,
                record.key,
                record.value,
                partition=record.partition,
                timestamp_ms=record.timestamp_ms,
                headers=record.headers,
            )
        return await self.host.send(topic, *record)


def _topics(records: Sequence[tuple[str, Outgoing]]) -> str:
    """The topics of ``records``, e.g. 'city.deadletter.v1, city.late.v1'."""
    return ", ".join(sorted({topic for topic, _ in records}))


def _hint(refused: Sequence[Outgoing]) -> str:
    """What to check when the refused records include re-routed copies."""
    partitions = sorted({r.partition for r in refused if isinstance(r, Reroute)})
    if not partitions:
        return ""
    return (
        f"; re-routed copies for partitions {partitions} among them: check that the topic "
        "has IOC_PARTITIONS partitions (the districts' partitions are computed from it)"
    )
