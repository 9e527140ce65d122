"""`ioc retention` drops whole old chunks with drop_chunks and keeps recent ones."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sink_support import SESSION_MS, count_rows, kpi_row

from common.config import Settings
from ioc.cli import main as ioc_main
from sinks.migrate import migrate
from sinks.options import SinkOptions
from sinks.sink import run_sink
from sinks.writer import write_kpi_rows

pytestmark = pytest.mark.integration

AGES_DAYS = (45, 40, 35, 29, 2, 0)


def seed(url: str) -> dict[int, int]:
    """Ten rows at each age (days before now); returns age -> rows."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    rows = []
    for age in AGES_DAYS:
        base = now - timedelta(days=age, hours=1)
        for i in range(10):
            row = kpi_row(i)
            start = base + timedelta(minutes=i)
            rows.append(row._replace(window_start=start, window_end=start + timedelta(minutes=1)))

    async def go() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            result = await write_kpi_rows(conn, rows)
            assert result.rows == len(rows)

    asyncio.run(go())
    return {age: 10 for age in AGES_DAYS}


def ages_left(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT DISTINCT round(extract(epoch FROM now() - window_start) / 86400)::int "
            "FROM kpi ORDER BY 1 DESC"
        ).fetchall()
    return [r[0] for r in rows]


def chunks(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM show_chunks('kpi')").fetchone()
    return int(row[0]) if row else 0


def test_retention_dry_run_then_drop(
    new_database: Callable[..., str], capsys: pytest.CaptureFixture[str]
) -> None:
    url = new_database("sink_retention")
    migrate(url)
    seed(url)
    before = chunks(url)
    assert before >= len(AGES_DAYS)

    code = ioc_main(["retention", "--older-than", "30d", "--dry-run", "--database-url", url])
    out = capsys.readouterr().out
    assert code == 0
    assert "would drop 3 chunks (30 rows) older than 30d" in out
    assert count_rows(url) == 60 and chunks(url) == before

    assert ioc_main(["retention", "--older-than", "30d", "--database-url", url]) == 0
    assert "dropped 3 chunks (30 rows)" in capsys.readouterr().out
    assert ages_left(url) == [29, 2, 0]
    assert count_rows(url) == 30
    assert chunks(url) == before - 3

    assert ioc_main(["retention", "--older-than", "30d", "--database-url", url]) == 0
    assert "dropped 0 chunks" in capsys.readouterr().out
    assert count_rows(url) == 30


def test_retention_refuses_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        ioc_main(["retention", "--older-than", "soon"])
    assert "not a duration" in capsys.readouterr().err


async def test_sink_runs_retention_while_consuming(
    settings: Settings, new_topic: Callable[..., str], new_database: Callable[..., str]
) -> None:
    topic, dead = new_topic("sink.ret"), new_topic("sink.ret.dead", partitions=1)
    url = new_database("sink_retention_task")
    await asyncio.to_thread(migrate, url)
    await asyncio.to_thread(seed, url)
    options = SinkOptions(
        topic=topic,
        deadletter_topic=dead,
        database_url=url,
        group_id=f"g-{topic}",
        until_idle=1.0,
        retention=timedelta(days=30),
        session_timeout_ms=SESSION_MS,
    )
    stats = await run_sink(settings, options)
    assert stats.chunks_dropped == 3
    assert await asyncio.to_thread(ages_left, url) == [29, 2, 0]
