"""Batch writer of KPI rows: COPY straight into the table, or COPY into a staging table and
one upsert, in one transaction.

A live sink writes mostly rows it has never seen (a window closes once), so a batch first
goes straight into the table with one binary COPY (``copy_first``): as fast as a raw COPY.
If one of its identities is already stored (a redelivery after a crash, a replayed batch)
or comes twice in it, the unique index makes the COPY fail as a whole and nothing of it
stays; the batch then takes the upsert path.
Redelivered rows and replayed batches leave one row per identity (kpi, entity_kind,
entity_id, window_start, window_end); within a batch the last occurrence wins. A row the
database refuses (a CHECK constraint, a number out of range) is isolated row by row under
savepoints and returned as rejected with the database's reason; the rest is written.
The caller owns the connection and its retries; in autocommit mode (as the sink uses it)
each call is one transaction, inside a caller's transaction it is a savepoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import psycopg
from psycopg import sql

from streams.window_rows import KpiRow

KpiTable = Literal["kpi", "kpi_audit"]

STAGE_TABLE: Final = "ioc_kpi_stage"
IDENTITY: Final = ("kpi", "entity_kind", "entity_id", "window_start", "window_end")


COLUMNS: Final = KpiRow._fields
"""The columns of ``kpi`` a row fills, in COPY order."""
_UPDATED: Final = tuple(c for c in COLUMNS if c not in IDENTITY)

# Session temp table, emptied by every commit; created on a connection's first batch. The
# DELETE (free on an empty table) keeps a batch correct inside a caller's open transaction.
_STAGE_DDL: Final = b"""
SET LOCAL client_min_messages = warning;
CREATE TEMP TABLE IF NOT EXISTS ioc_kpi_stage (
    seq int NOT NULL, replay_id text, kpi text, entity_kind text, entity_id text,
    district text, window_kind text, window_start timestamptz, window_end timestamptz,
    value double precision, count bigint, source_topic text, source_partition int,
    first_offset bigint, last_offset bigint, event_count bigint, weight double precision,
    sketch jsonb, sketch_cumulative double precision[]
) ON COMMIT DELETE ROWS;
DELETE FROM ioc_kpi_stage
"""

#: Column types of the binary COPY into the staging table (seq, replay_id, COLUMNS).
STAGE_TYPES: Final = (
    "int4", "text",
    "text", "text", "text", "text", "text", "timestamptz", "timestamptz", "float8", "int8",
    "text", "int4", "int8", "int8", "int8", "float8", "jsonb", "float8[]",
)  # fmt: skip

#: Errors that mean "this data is refused", as opposed to "the server is gone".
DATA_ERRORS: Final = (psycopg.errors.IntegrityError, psycopg.errors.DataError)


@dataclass(frozen=True)
class Rejected:
    """A row the database refused: its index in the input and the database's reason."""

    index: int
    reason: str


@dataclass(frozen=True)
class WriteResult:
    """Outcome of one batch."""

    rows: int
    """Rows stored (inserted, updated or already identical), after in-batch de-duplication."""
    changed: int
    """Rows inserted or updated (identical redeliveries are not rewritten)."""
    rejected: list[Rejected] = field(default_factory=list)
    copied: bool = False
    """True when the batch went straight into the table (no identity of it was stored)."""


def _key_columns(table: KpiTable) -> tuple[str, ...]:
    return ("replay_id", *IDENTITY) if table == "kpi_audit" else IDENTITY


def _columns(table: KpiTable) -> tuple[str, ...]:
    return ("replay_id", *COLUMNS) if table == "kpi_audit" else COLUMNS


def _conflict_clause(table: KpiTable) -> sql.Composed:
    """ON CONFLICT (identity) DO UPDATE, skipping rows whose content did not change."""
    assignments = sql.SQL(", ").join(
        sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in _UPDATED
    )
    old = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in _UPDATED)
    new = sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in _UPDATED)
    return sql.SQL(
        " ON CONFLICT ({key}) DO UPDATE SET {assignments}, written_at = now()"
        " WHERE ({old}) IS DISTINCT FROM ({new})"
    ).format(
        key=sql.SQL(", ").join(map(sql.Identifier, _key_columns(table))),
        assignments=assignments,
        old=old,
        new=new,
    )


def upsert_from_stage_sql(table: KpiTable, *, dedupe: bool = True) -> sql.Composed:
    """INSERT .. SELECT DISTINCT ON (identity) .. ORDER BY seq DESC .. ON CONFLICT DO UPDATE.

    DISTINCT ON keeps the last occurrence (highest ``seq``) of an identity: ON CONFLICT
    cannot touch one row twice in a statement. The sort compares text bytewise (COLLATE
    "C"): the same groups as the unique index's equality, without the locale's slower
    comparison. ``dedupe=False`` (a batch known to hold each identity once) skips the sort.
    """
    cols = sql.SQL(", ").join(map(sql.Identifier, _columns(table)))
    if not dedupe:
        return sql.SQL("INSERT INTO {table} AS t ({cols}) SELECT {cols} FROM {stage}").format(
            table=sql.Identifier(table), cols=cols, stage=sql.Identifier(STAGE_TABLE)
        ) + _conflict_clause(table)
    key = sql.SQL(", ").join(
        sql.SQL('{} COLLATE "C"').format(sql.Identifier(c))
        if c not in ("window_start", "window_end")
        else sql.Identifier(c)
        for c in _key_columns(table)
    )
    return sql.SQL(
        "INSERT INTO {table} AS t ({cols}) SELECT DISTINCT ON ({key}) {cols} FROM {stage}"
        " ORDER BY {key}, seq DESC"
    ).format(
        table=sql.Identifier(table), cols=cols, key=key, stage=sql.Identifier(STAGE_TABLE)
    ) + _conflict_clause(table)


def upsert_one_sql(table: KpiTable) -> sql.Composed:
    """INSERT of one row with parameters, same conflict handling as the batch upsert."""
    cols = _columns(table)
    return sql.SQL("INSERT INTO {table} AS t ({cols}) VALUES ({params})").format(
        table=sql.Identifier(table),
        cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
        params=sql.SQL(", ").join(sql.Placeholder() * len(cols)),
    ) + _conflict_clause(table)


def copy_stage_sql() -> sql.Composed:
    """Binary COPY into the staging table, columns ``seq, replay_id, COLUMNS`` (STAGE_TYPES)."""
    return sql.SQL("COPY {stage} ({cols}) FROM STDIN (FORMAT BINARY)").format(
        stage=sql.Identifier(STAGE_TABLE),
        cols=sql.SQL(", ").join(map(sql.Identifier, ("seq", "replay_id", *COLUMNS))),
    )


def copy_table_sql(table: KpiTable) -> sql.Composed:
    """Binary COPY straight into ``table``, its columns (``replay_id`` first for kpi_audit)."""
    return sql.SQL("COPY {table} ({cols}) FROM STDIN (FORMAT BINARY)").format(
        table=sql.Identifier(table),
        cols=sql.SQL(", ").join(map(sql.Identifier, _columns(table))),
    )


def _reason(error: psycopg.Error) -> str:
    diag = error.diag
    text = diag.message_primary or str(error).strip().splitlines()[0]
    if diag.constraint_name:
        text += f" (constraint {diag.constraint_name})"
    return f"{diag.sqlstate or '?'}: {text}"


async def write_kpi_rows(
    conn: psycopg.AsyncConnection[Any],
    rows: Sequence[KpiRow],
    *,
    table: KpiTable = "kpi",
    replay_id: str | None = None,
    copy_first: bool = True,
) -> WriteResult:
    """Upsert ``rows`` (in delivery order) into ``table`` in one transaction.

    ``kpi_audit`` needs ``replay_id``. With ``copy_first`` the batch is first copied
    straight into the table; when one of its identities is already stored or comes twice
    in it, it is upserted instead (``WriteResult.copied`` says which path wrote it). Connection
    errors propagate: nothing of the batch is committed then, and calling again with the
    same rows is safe.
    """
    rejected: list[Rejected] = []
    if (table == "kpi_audit") != (replay_id is not None):
        raise ValueError("replay_id is required for kpi_audit and only for kpi_audit")
    if not rows:
        return WriteResult(rows=0, changed=0, rejected=rejected)
    if copy_first:
        # No look at the identities first: one repeated within the batch, like one already
        # stored, makes the unique index refuse the COPY, and the upsert path sorts it out.
        try:
            await _copy_batch(conn, rows, table, replay_id)
        except (*DATA_ERRORS, OverflowError):
            pass  # an identity already stored or repeated, or a bad row
        else:
            return WriteResult(rows=len(rows), changed=len(rows), rejected=rejected, copied=True)
    staged = list(enumerate(rows))
    distinct = len({values.identity() for _, values in staged})
    try:
        changed = await _write_batch(conn, staged, table, replay_id, dedupe=distinct < len(staged))
    except (*DATA_ERRORS, OverflowError):  # OverflowError: a number too big for binary COPY
        return await _write_row_by_row(conn, staged, table, replay_id, rejected)
    return WriteResult(rows=distinct, changed=changed, rejected=rejected)


async def _copy_batch(
    conn: psycopg.AsyncConnection[Any],
    rows: Sequence[KpiRow],
    table: KpiTable,
    replay_id: str | None,
) -> None:
    """One binary COPY of the batch into ``table``; raises (leaving nothing) on any conflict."""
    types = STAGE_TYPES[1:] if table == "kpi_audit" else STAGE_TYPES[2:]
    async with conn.transaction(), conn.cursor() as cur, cur.copy(copy_table_sql(table)) as copy:
        copy.set_types(types)
        if table == "kpi_audit":
            for row in rows:
                await copy.write_row((replay_id, *row))
        else:
            for row in rows:  # the row as it is: no new tuple per row
                await copy.write_row(row)


async def _write_batch(
    conn: psycopg.AsyncConnection[Any],
    staged: Sequence[tuple[int, KpiRow]],
    table: KpiTable,
    replay_id: str | None,
    *,
    dedupe: bool,
) -> int:
    async with conn.transaction(), conn.cursor() as cur:
        await cur.execute(_STAGE_DDL)
        async with cur.copy(copy_stage_sql()) as copy:
            copy.set_types(STAGE_TYPES)
            for index, values in staged:
                await copy.write_row((index, replay_id, *values))
        await cur.execute(upsert_from_stage_sql(table, dedupe=dedupe))
        return max(cur.rowcount, 0)


async def _write_row_by_row(
    conn: psycopg.AsyncConnection[Any],
    staged: Sequence[tuple[int, KpiRow]],
    table: KpiTable,
    replay_id: str | None,
    rejected: list[Rejected],
) -> WriteResult:
    """Slow path after the batch was refused: one savepoint per row isolates the bad ones."""
    last = {values.identity(): (index, values) for index, values in staged}
    statement = upsert_one_sql(table)
    prefix: tuple[Any, ...] = (replay_id,) if table == "kpi_audit" else ()
    rows = changed = 0
    async with conn.transaction():
        for index, values in sorted(last.values(), key=lambda item: item[0]):
            try:
                async with conn.transaction():
                    cur = await conn.execute(statement, (*prefix, *values))
            except DATA_ERRORS as error:
                rejected.append(Rejected(index, _reason(error)))
                continue
            rows += 1
            changed += max(cur.rowcount, 0)
    rejected.sort(key=lambda item: item.index)
    return WriteResult(rows=rows, changed=changed, rejected=rejected)
