"""Optional archive of validated raw events into the ``raw_events`` hypertable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import psycopg

from schemas.decode import DEFAULT_MODELS, EventModel, Rejection, decode
from sinks.writer import DATA_ERRORS

_STAGE_DDL: Final = b"""
SET LOCAL client_min_messages = warning;
CREATE TEMP TABLE IF NOT EXISTS ioc_raw_stage (
    topic text, "partition" int, "offset" bigint, occurred_at timestamptz, district text,
    event_id text, payload jsonb
) ON COMMIT DELETE ROWS
"""
_COLUMNS: Final = '(topic, "partition", "offset", occurred_at, district, event_id, payload)'
_COPY: Final = f"COPY ioc_raw_stage {_COLUMNS} FROM STDIN".encode()
_INSERT_FROM_STAGE: Final = (
    f"INSERT INTO raw_events {_COLUMNS} SELECT {_COLUMNS[1:-1]} FROM ioc_raw_stage "
    'ON CONFLICT (topic, "partition", "offset", occurred_at) DO NOTHING'
).encode()
_INSERT_ONE: Final = (
    f"INSERT INTO raw_events {_COLUMNS} VALUES (%s, %s, %s, %s, %s, %s, %s) "
    'ON CONFLICT (topic, "partition", "offset", occurred_at) DO NOTHING'
).encode()


@dataclass(frozen=True, slots=True)
class RawRecord:
    """A validated raw event with its Kafka position, ready to archive."""

    topic: str
    partition: int
    offset: int
    occurred_at: datetime
    district: str
    event_id: str
    payload: str

    def values(self) -> tuple[Any, ...]:
        """Column values in table order."""
        return (
            self.topic,
            self.partition,
            self.offset,
            self.occurred_at,
            self.district,
            self.event_id,
            self.payload,
        )


def decode_raw(
    topic: str,
    partition: int,
    offset: int,
    value: bytes | None,
    models: Mapping[str, EventModel] = DEFAULT_MODELS,
) -> RawRecord | Rejection:
    """Validate a raw record with the workers' decoder; a Rejection is not archived."""
    event = decode(topic, value, models=models)
    if isinstance(event, Rejection):
        return event
    assert value is not None  # decode rejects empty values
    return RawRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        occurred_at=event.occurred_at,
        district=str(event.district.value),
        event_id=event.event_id,
        payload=value.decode("utf-8"),
    )


async def write_raw_events(
    conn: psycopg.AsyncConnection[Any], records: Sequence[RawRecord]
) -> tuple[int, list[tuple[int, str]]]:
    """Archive ``records`` in one transaction; returns (rows new, [(index, reason)] refused).

    Already archived positions are skipped (ON CONFLICT DO NOTHING), so redelivery is safe.
    """
    if not records:
        return 0, []
    try:
        async with conn.transaction(), conn.cursor() as cur:
            await cur.execute(_STAGE_DDL)
            async with cur.copy(_COPY) as copy:
                for record in records:
                    await copy.write_row(record.values())
            await cur.execute(_INSERT_FROM_STAGE)
            return max(cur.rowcount, 0), []
    except DATA_ERRORS:
        pass
    refused: list[tuple[int, str]] = []
    written = 0
    async with conn.transaction():
        for index, record in enumerate(records):
            try:
                async with conn.transaction():
                    cur = await conn.execute(_INSERT_ONE, record.values())
            except DATA_ERRORS as error:
                refused.append((index, error.diag.message_primary or str(error)))
                continue
            written += max(cur.rowcount, 0)
    return written, refused
