"""The stored side (rows of the ``kpi`` table) and the comparison with recomputed rows.

Rows are matched by identity (kpi, entity_kind, entity_id, window_start, window_end);
``value`` is compared exactly or within a relative tolerance, ``count`` and
``event_count`` exactly. Lineage (partition, offsets) is reported, and a difference in
lineage alone is counted apart without failing the comparison.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import psycopg

from common.errors import UserError
from sinks.db import UNAVAILABLE, describe, unreachable
from streams.replay.recompute import Identity
from streams.replay.selection import Selection
from streams.window_rows import KpiRow

DiffKind = Literal["missing_in_db", "extra_in_db", "changed"]
LINEAGE: Final = ("source_topic", "source_partition", "first_offset", "last_offset")
FETCH_ROWS: Final = 20_000

_SELECT: Final = """
SELECT kpi, entity_kind, entity_id, district, window_kind, window_start, window_end, value,
       count, source_topic, source_partition, first_offset, last_offset, event_count, weight,
       sketch
FROM kpi
WHERE window_start >= %(start)s AND window_end <= %(end)s
  AND kpi = ANY(%(kpis)s) AND window_kind = ANY(%(windows)s)
"""
_ENTITIES: Final = (
    " AND (entity_kind, entity_id) IN (SELECT * FROM unnest(%(kinds)s::text[], %(ids)s::text[]))"
)


async def connect(database_url: str) -> psycopg.AsyncConnection[Any]:
    """An autocommit connection; UserError naming the server when it does not answer."""
    try:
        return await psycopg.AsyncConnection.connect(
            database_url, autocommit=True, connect_timeout=10
        )
    except UNAVAILABLE as error:
        raise unreachable(database_url, error) from error


async def require_table(conn: psycopg.AsyncConnection[Any], table: str, database_url: str) -> None:
    """UserError when ``table`` does not exist (the database is not migrated)."""
    cur = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
    found = await cur.fetchone()
    if not found or not found[0]:
        raise UserError(
            f"the database {describe(database_url)} has no table {table!r}: apply the "
            "migrations with `.venv/bin/ioc migrate` (or point IOC_DATABASE_URL at the "
            "database the sink writes)"
        )


async def stream_rows(
    conn: psycopg.AsyncConnection[Any], selection: Selection
) -> AsyncIterator[KpiRow]:
    """Rows of ``kpi`` inside the selection, read through a server-side cursor."""
    params: dict[str, Any] = {
        "start": dt.datetime.fromtimestamp(selection.start, dt.UTC),
        "end": dt.datetime.fromtimestamp(selection.end, dt.UTC),
        "kpis": selection.kpi_names(),
        "windows": selection.window_kinds(),
    }
    query = _SELECT
    if selection.entities:
        pairs = sorted(selection.entities)
        params["kinds"] = [kind for kind, _ in pairs]
        params["ids"] = [entity_id for _, entity_id in pairs]
        query += _ENTITIES
    async with conn.transaction(), conn.cursor(name="ioc_replay_kpi") as cur:
        cur.itersize = FETCH_ROWS
        await cur.execute(query.encode(), params)
        async for item in cur:
            yield KpiRow(*item)


@dataclass(frozen=True)
class Difference:
    """One row that differs: missing in the database, extra there, or changed."""

    kind: DiffKind
    replay: KpiRow | None
    db: KpiRow | None
    fields: tuple[str, ...] = ()

    @property
    def row(self) -> KpiRow:
        """The replayed row when there is one, else the stored row."""
        row = self.replay or self.db
        assert row is not None
        return row


@dataclass
class Comparison:
    """Outcome of comparing recomputed rows with stored rows."""

    compared: int = 0
    equal: int = 0
    differences: list[Difference] = field(default_factory=list)
    lineage_only: list[Difference] = field(default_factory=list)
    skipped_open_replay: int = 0
    skipped_open_db: int = 0

    @property
    def counts(self) -> dict[str, int]:
        """Differences by kind."""
        out = {"missing_in_db": 0, "extra_in_db": 0, "changed": 0}
        for diff in self.differences:
            out[diff.kind] += 1
        return out


def same_value(a: float, b: float, tolerance: float) -> bool:
    """Equal, or within ``tolerance`` relative to the larger magnitude."""
    return a == b or (tolerance > 0 and abs(a - b) <= tolerance * max(abs(a), abs(b)))


def changed_fields(replay: KpiRow, db: KpiRow, tolerance: float) -> tuple[str, ...]:
    """Names of the compared fields that differ."""
    out = []
    if not same_value(replay.value, db.value, tolerance):
        out.append("value")
    if replay.count != db.count:
        out.append("count")
    if replay.event_count != db.event_count:
        out.append("event_count")
    return tuple(out)


def lineage_fields(replay: KpiRow, db: KpiRow) -> tuple[str, ...]:
    """Names of the lineage fields that differ."""
    return tuple(f for f in LINEAGE if getattr(replay, f) != getattr(db, f))


class Comparer:
    """Compares stored rows, fed one by one, with the recomputed rows (kept in memory).

    ``replay`` holds the recomputed rows of closed windows; ``open_replay`` the identities
    of recomputed rows whose window is still open (not compared; stored rows with those
    identities are skipped too); a stored row without a recomputed twin is compared only
    when ``comparable`` says so (its window closed by event time).
    """

    def __init__(
        self,
        replay: Mapping[Identity, KpiRow],
        *,
        tolerance: float = 0.0,
        comparable: Callable[[KpiRow], bool] = lambda _: True,
        open_replay: Iterable[Identity] = (),
    ) -> None:
        self.replay = replay
        self.tolerance = tolerance
        self.comparable = comparable
        self.open = set(open_replay)
        self.matched: set[Identity] = set()
        self.stored = 0
        self.result = Comparison(skipped_open_replay=len(self.open))

    def add(self, theirs: KpiRow) -> None:
        """Compare one stored row."""
        self.stored += 1
        result = self.result
        identity = theirs.identity()
        mine = self.replay.get(identity)
        if mine is None:
            if identity in self.open or not self.comparable(theirs):
                result.skipped_open_db += 1
                return
            result.compared += 1
            result.differences.append(Difference("extra_in_db", None, theirs))
            return
        self.matched.add(identity)
        result.compared += 1
        fields = changed_fields(mine, theirs, self.tolerance)
        if fields:
            result.differences.append(Difference("changed", mine, theirs, fields))
            return
        result.equal += 1
        lineage = lineage_fields(mine, theirs)
        if lineage:
            result.lineage_only.append(Difference("changed", mine, theirs, lineage))

    def finish(self) -> Comparison:
        """The comparison, once every stored row was added: unmatched rows are missing."""
        result = self.result
        for identity, mine in self.replay.items():
            if identity not in self.matched:
                result.compared += 1
                result.differences.append(Difference("missing_in_db", mine, None))
        result.differences.sort(key=lambda d: _order(d.row.identity()))
        result.lineage_only.sort(key=lambda d: _order(d.row.identity()))
        return result


def compare(
    replay: Mapping[Identity, KpiRow],
    stored: Iterable[KpiRow],
    *,
    tolerance: float = 0.0,
    comparable: Callable[[KpiRow], bool] = lambda _: True,
    open_replay: Iterable[Identity] = (),
) -> Comparison:
    """Compare recomputed rows with stored rows (see :class:`Comparer`)."""
    comparer = Comparer(replay, tolerance=tolerance, comparable=comparable, open_replay=open_replay)
    for row in stored:
        comparer.add(row)
    return comparer.finish()


def _order(identity: Identity) -> tuple[dt.datetime, str, str, str, dt.datetime]:
    kpi, kind, entity_id, start, end = identity
    return (start, kpi, kind, entity_id, end)
