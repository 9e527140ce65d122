"""``--into-table``: store recomputed rows in ``kpi_audit`` under a replay id (sinks writer)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from typing import Any, Final

import psycopg

from sinks.writer import write_kpi_rows
from streams.window_rows import KpiRow

BATCH: Final = 5000


def new_replay_id(now: dt.datetime) -> str:
    """``replay-20260310T060000Z-1a2b3c4d``: sortable by time, unique by the uuid part."""
    return f"replay-{now.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


async def write_audit(
    conn: psycopg.AsyncConnection[Any], rows: Iterable[KpiRow], replay_id: str
) -> tuple[int, list[str]]:
    """Upsert ``rows`` into ``kpi_audit`` with ``replay_id`` in batches.

    Returns the rows stored and one message per row the database refused.
    """
    stored = 0
    refused: list[str] = []
    batch: list[KpiRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            stored += await _write(conn, batch, replay_id, refused)
            batch = []
    if batch:
        stored += await _write(conn, batch, replay_id, refused)
    return stored, refused


async def _write(
    conn: psycopg.AsyncConnection[Any], batch: list[KpiRow], replay_id: str, refused: list[str]
) -> int:
    result = await write_kpi_rows(conn, batch, table="kpi_audit", replay_id=replay_id)
    for item in result.rejected:
        row = batch[item.index]
        refused.append(
            f"kpi_audit refused {row.kpi} {row.entity_kind}:{row.entity_id} "
            f"{row.window_start.isoformat()}: {item.reason}"
        )
    return result.rows
