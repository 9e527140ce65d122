"""Helpers of the sink tests: KPI row factory, Kafka produce/read, a TCP proxy that can be cut."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg.conninfo import make_conninfo

from schemas.kpi import EntityKind
from streams.window_rows import KpiRow, iso_utc, kpi_pack

T0 = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
#: Consumer session timeout of test sinks.
SESSION_MS = 6000


def kpi_row(i: int, *, value: float | None = None, minutes: int = 1, **changes: Any) -> KpiRow:
    """A valid KPI row with a distinct identity per ``i`` (entity i % 50, minute i // 50);
    a window of another length than 1, 15 or 60 minutes gets the kind 'Nm'."""
    entity, minute = i % 50, i // 50
    start = T0 + timedelta(minutes=minute * minutes)
    row = KpiRow(
        kpi="farm.salinity_mean_gl",
        entity_kind=EntityKind.SENSOR.value,
        entity_id=f"sensor-{entity:03d}",
        district="vi-thanh",
        window_kind={1: "1m", 15: "15m", 60: "1h"}.get(minutes, f"{minutes}m"),
        window_start=start,
        window_end=start + timedelta(minutes=minutes),
        value=float(i % 17) / 4 if value is None else value,
        count=60,
        source_topic="city.farm.sensor.v1",
        source_partition=entity % 4,
        first_offset=i * 10,
        last_offset=i * 10 + 9,
        event_count=60,
        weight=None,
    )
    return row._replace(**changes)


def key_of(row: KpiRow) -> bytes:
    """Message key of a KPI row on city.kpi.v1."""
    return f"{row.kpi}|{row.entity_kind}|{row.entity_id}".encode()


def message(row: KpiRow) -> tuple[bytes, bytes]:
    """(key, value) of a KPI row as the workers produce it: a pack of its one window."""
    return key_of(row), kpi_pack([row])


def single_row_message(row: KpiRow) -> bytes:
    """``row`` as an older worker sent it: one object with the row's fields (the sink still
    accepts it)."""
    fields: dict[str, Any] = row._asdict()
    del fields["window_kind"], fields["sketch"], fields["sketch_cumulative"]
    fields["window_start"] = iso_utc(row.window_start)
    fields["window_end"] = iso_utc(row.window_end)
    return orjson.dumps(fields)


def expected_table(rows: Sequence[KpiRow]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """What kpi_table() must return after ``rows`` were delivered in this order."""
    kinds = {60: "1m", 900: "15m", 3600: "1h"}
    out: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for r in rows:
        kind = kinds[int((r.window_end - r.window_start).total_seconds())]
        out[r.identity()] = (kind, r.value, r.count, r.first_offset, r.last_offset)
    return out


def count_rows(url: str, table: str = "kpi") -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # test constant
    return int(row[0]) if row else 0


class TcpProxy:
    """A loopback TCP proxy to ``target``; ``cut()`` drops every connection and refuses new
    ones (like a database that went away), ``restore()`` listens again on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def url(self, database_url: str) -> str:
        """``database_url`` redirected through this proxy."""
        return make_conninfo(database_url, host="127.0.0.1", port=str(self.port))

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def restore(self) -> None:
        await self.start()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )
        self._writers -= {writer, up_writer}

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.transport.abort()
