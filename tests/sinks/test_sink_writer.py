"""sinks.writer against a real TimescaleDB: idempotent upsert, last-wins, refused rows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sink_support import expected_table, kpi_row

from sinks.migrate import migrate
from sinks.writer import write_kpi_rows
from tests.support.tables import kpi_table_from_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def db(new_database: Callable[..., str]) -> str:
    url = new_database("sink_writer")
    migrate(url)
    return url


@pytest.fixture
async def conn(db: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(db, autocommit=True) as c:
        await c.execute("TRUNCATE kpi, kpi_audit")
        yield c


async def written_at(conn: psycopg.AsyncConnection[Any]) -> list[Any]:
    cur = await conn.execute("SELECT written_at FROM kpi ORDER BY kpi, entity_id, window_start")
    return [r[0] for r in await cur.fetchall()]


async def test_batch_written_once_and_replay_changes_nothing(
    conn: psycopg.AsyncConnection[Any], db: str
) -> None:
    rows = [kpi_row(i) for i in range(120)]
    first = await write_kpi_rows(conn, rows)
    assert (first.rows, first.changed, first.rejected) == (120, 120, [])
    stamps = await written_at(conn)
    again = await write_kpi_rows(conn, rows)
    assert (again.rows, again.changed) == (120, 0)
    assert await written_at(conn) == stamps
    assert kpi_table_from_database(db) == expected_table(rows)


async def test_duplicates_within_a_batch_keep_the_last(
    conn: psycopg.AsyncConnection[Any], db: str
) -> None:
    rows = [kpi_row(1, value=1.0), kpi_row(2), kpi_row(1, value=3.0), kpi_row(1, value=2.0)]
    result = await write_kpi_rows(conn, rows)
    assert (result.rows, result.changed) == (2, 2)
    assert kpi_table_from_database(db) == expected_table(rows)
    assert kpi_table_from_database(db)[rows[0].identity()][1] == 2.0


async def test_a_changed_row_is_updated(conn: psycopg.AsyncConnection[Any], db: str) -> None:
    await write_kpi_rows(conn, [kpi_row(5, value=1.0)])
    result = await write_kpi_rows(conn, [kpi_row(5, value=9.5, last_offset=99)])
    assert result.changed == 1
    assert kpi_table_from_database(db)[kpi_row(5).identity()] == ("1m", 9.5, 60, 50, 99)


@pytest.mark.parametrize(("minutes", "kind"), [(1, "1m"), (15, "15m"), (60, "1h")])
async def test_window_kind_stored(
    conn: psycopg.AsyncConnection[Any], db: str, minutes: int, kind: str
) -> None:
    await write_kpi_rows(conn, [kpi_row(0, minutes=minutes)])
    assert [v[0] for v in kpi_table_from_database(db).values()] == [kind]


async def test_refused_rows_are_isolated_with_the_database_reason(
    conn: psycopg.AsyncConnection[Any], db: str
) -> None:
    good = [kpi_row(i) for i in range(6)]
    bad_offsets = kpi_row(100, first_offset=50, last_offset=10)
    bad_range = kpi_row(101, event_count=2**63)  # bigint overflow
    bad_window = kpi_row(102, minutes=5)
    batch = [*good[:3], bad_offsets, *good[3:], bad_range, bad_window]
    result = await write_kpi_rows(conn, batch)
    assert result.rows == 6
    reasons = {r.index: r.reason for r in result.rejected}
    assert set(reasons) == {3, 7, 8}
    assert "kpi_offsets_ordered" in reasons[3] and reasons[3].startswith("23514")
    assert "out of range" in reasons[7]
    assert "kpi_window_kind" in reasons[8]
    assert kpi_table_from_database(db) == expected_table(good)


async def test_latest_view_gives_the_newest_row(conn: psycopg.AsyncConnection[Any]) -> None:
    rows = [kpi_row(i * 50) for i in range(5)]  # entity 0, minutes 0..4
    rows.append(kpi_row(0, minutes=15))
    await write_kpi_rows(conn, rows)
    cur = await conn.execute(
        "SELECT window_kind, window_start FROM kpi_latest WHERE entity_id = 'sensor-000' "
        "ORDER BY window_kind"
    )
    latest = await cur.fetchall()
    assert latest == [
        ("15m", rows[-1].window_start),
        ("1m", rows[0].window_start + timedelta(minutes=4)),
    ]


async def test_audit_table_keeps_replays_apart(conn: psycopg.AsyncConnection[Any], db: str) -> None:
    rows = [kpi_row(i) for i in range(10)]
    await write_kpi_rows(conn, rows, table="kpi_audit", replay_id="r1")
    await write_kpi_rows(conn, rows, table="kpi_audit", replay_id="r2")
    await write_kpi_rows(conn, rows, table="kpi_audit", replay_id="r2")
    cur = await conn.execute("SELECT replay_id, count(*) FROM kpi_audit GROUP BY 1 ORDER BY 1")
    assert await cur.fetchall() == [("r1", 10), ("r2", 10)]
    assert kpi_table_from_database(db) == {}
    with pytest.raises(ValueError):
        await write_kpi_rows(conn, rows, table="kpi_audit")


async def test_two_batches_inside_one_caller_transaction(db: str) -> None:
    async with await psycopg.AsyncConnection.connect(db) as c:  # not autocommit
        await c.execute("TRUNCATE kpi")
        await write_kpi_rows(c, [kpi_row(1, value=1.0), kpi_row(2)])
        await write_kpi_rows(c, [kpi_row(1, value=5.0)])
        await c.commit()
    assert kpi_table_from_database(db) == expected_table([kpi_row(2), kpi_row(1, value=5.0)])


async def test_new_rows_are_copied_straight_and_a_known_identity_takes_the_upsert(
    conn: psycopg.AsyncConnection[Any], db: str
) -> None:
    fresh = await write_kpi_rows(conn, [kpi_row(i) for i in range(50)])
    assert fresh.copied and (fresh.rows, fresh.changed) == (50, 50)
    # One stored identity among new ones: the COPY fails as a whole, nothing of it stays,
    # and the upsert writes the batch (the stored row changes, the new ones are inserted).
    mixed = [kpi_row(i) for i in range(50, 80)] + [kpi_row(7, value=42.0, last_offset=77)]
    result = await write_kpi_rows(conn, mixed)
    assert not result.copied and (result.rows, result.changed) == (31, 31)
    expected = [kpi_row(i) for i in range(80) if i != 7] + [mixed[-1]]
    assert kpi_table_from_database(db) == expected_table(expected)


async def test_copy_first_gives_way_to_in_batch_duplicates_and_refused_rows(
    conn: psycopg.AsyncConnection[Any], db: str
) -> None:
    twice = await write_kpi_rows(conn, [kpi_row(1, value=1.0), kpi_row(1, value=2.0)])
    assert not twice.copied and twice.rows == 1
    refused = await write_kpi_rows(conn, [kpi_row(2), kpi_row(3, value=float("nan"))])
    assert not refused.copied and [r.index for r in refused.rejected] == [1]
    assert kpi_table_from_database(db) == expected_table([kpi_row(1, value=2.0), kpi_row(2)])


async def test_copy_first_writes_the_audit_table_under_its_replay_id(
    conn: psycopg.AsyncConnection[Any],
) -> None:
    rows = [kpi_row(i) for i in range(5)]
    first = await write_kpi_rows(conn, rows, table="kpi_audit", replay_id="r1")
    other = await write_kpi_rows(conn, rows, table="kpi_audit", replay_id="r2")
    again = await write_kpi_rows(conn, rows, table="kpi_audit", replay_id="r2")
    assert (first.copied, other.copied, again.copied) == (True, True, False)
    cur = await conn.execute("SELECT replay_id, count(*) FROM kpi_audit GROUP BY 1 ORDER BY 1")
    assert await cur.fetchall() == [("r1", 5), ("r2", 5)]
