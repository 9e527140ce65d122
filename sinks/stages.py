"""What each consumer group of the sink writes: KPI rows into ``kpi``, raw events into
``raw_events``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

import psycopg

from schemas.decode import Rejection, topic_models
from sinks.batch import Flushed, Record, SinkStats, Stage
from sinks.entities import EntityRegister
from sinks.kpi_codec import BadMessage, decode_kpis
from sinks.raw_archive import RawRecord, decode_raw, write_raw_events
from sinks.writer import write_kpi_rows
from streams.window_rows import KpiRow

log = logging.getLogger("sinks.sink")

COPY_RETRY_AFTER: Final = 16
"""Batches written by upsert before the KPI stage tries a straight COPY again."""


class KpiStage(Stage[KpiRow]):
    """KPI rows into ``kpi``: straight COPY while batches are new, upsert after a conflict.

    After a batch whose identities were already stored (redeliveries) the next
    ``COPY_RETRY_AFTER`` batches skip the COPY attempt, so that re-reading a backlog does
    not pay for a failed COPY per batch. The entities of the rows go into ``entity``.
    """

    table = "kpi"

    def __init__(self) -> None:
        self.upserts_before_copy = 0
        self.entities = EntityRegister()

    def decode(self, record: Record) -> Sequence[KpiRow | BadMessage]:
        return decode_kpis(record.value)

    async def write(
        self, conn: psycopg.AsyncConnection[Any], payloads: Sequence[KpiRow]
    ) -> Flushed:
        copy_first = self.upserts_before_copy == 0
        result = await write_kpi_rows(conn, payloads, copy_first=copy_first)
        if result.copied:
            self.upserts_before_copy = 0
        elif copy_first:
            self.upserts_before_copy = COPY_RETRY_AFTER
        else:
            self.upserts_before_copy -= 1
        refused = [(item.index, item.reason) for item in result.rejected]
        rejected = {index for index, _ in refused}
        await self.entities.store(conn, (r for i, r in enumerate(payloads) if i not in rejected))
        return Flushed(rows=result.rows, changed=result.changed, refused=refused)

    def account(self, stats: SinkStats, flushed: Flushed, messages: int) -> None:
        stats.messages += messages
        stats.rows_written += flushed.rows
        stats.rows_changed += flushed.changed
        stats.rejected += len(flushed.refused)


class RawStage(Stage[RawRecord]):
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
    ) -> Flushed:
        written, refused = await write_raw_events(conn, payloads)
        return Flushed(rows=written, changed=written, refused=refused)

    def account(self, stats: SinkStats, flushed: Flushed, messages: int) -> None:
        stats.raw_messages += messages
        stats.raw_written += flushed.rows
        stats.raw_skipped = self.skipped
        if flushed.refused:
            log.warning(
                "raw_events refused %d records: %s", len(flushed.refused), flushed.refused[0]
            )
