"""Retention by ``drop_chunks``: the Apache edition of TimescaleDB has no retention policies."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from common.errors import UserError

#: Hypertables the project owns; retention refuses any other name.
TABLES = ("kpi", "kpi_audit", "raw_events")


@dataclass(frozen=True)
class Chunk:
    """One chunk that is (or would be) dropped."""

    name: str
    range_start: datetime
    range_end: datetime
    rows: int | None


@dataclass(frozen=True)
class RetentionResult:
    """Chunks dropped (or, in a dry run, that would be)."""

    table: str
    older_than: timedelta
    dry_run: bool
    chunks: list[Chunk]

    @property
    def rows(self) -> int:
        """Rows in those chunks (0 when not counted)."""
        return sum(chunk.rows or 0 for chunk in self.chunks)


async def drop_old_chunks(
    conn: psycopg.AsyncConnection[Any],
    table: str,
    older_than: timedelta,
    *,
    dry_run: bool = False,
    count_rows: bool = True,
) -> RetentionResult:
    """Drop the chunks of ``table`` whose whole time range ends ``older_than`` ago or earlier.

    The same chunks ``drop_chunks(table, older_than => ...)`` drops; with ``dry_run`` only
    lists them. ``count_rows`` counts their rows first (a scan of those chunks).
    """
    if table not in TABLES:
        raise UserError(f"retention works on {', '.join(TABLES)}; not on {table!r}")
    async with conn.transaction():
        cur = await conn.execute(
            "SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = %s",
            (table,),
        )
        if await cur.fetchone() is None:
            raise UserError(f"table {table!r} is not a hypertable here: run `ioc migrate` first")
        cur = await conn.execute(
            """
            SELECT c.chunk_schema, c.chunk_name, c.range_start, c.range_end
            FROM show_chunks(%s::regclass, older_than => %s::interval) AS s(chunk)
            JOIN timescaledb_information.chunks c
              ON format('%%I.%%I', c.chunk_schema, c.chunk_name)::regclass = s.chunk
            ORDER BY c.range_start
            """,
            (table, older_than),
        )
        found = await cur.fetchall()
        chunks: list[Chunk] = []
        for schema, name, start, end in found:
            rows: int | None = None
            if count_rows:
                count_cur = await conn.execute(
                    sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name))
                )
                counted = await count_cur.fetchone()
                rows = int(counted[0]) if counted else 0
            chunks.append(Chunk(f"{schema}.{name}", start, end, rows))
        if chunks and not dry_run:
            await conn.execute(
                "SELECT drop_chunks(%s::regclass, older_than => %s::interval)",
                (table, older_than),
            )
    return RetentionResult(table=table, older_than=older_than, dry_run=dry_run, chunks=chunks)
