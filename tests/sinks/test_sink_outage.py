"""A 30 s database outage in the middle of a run: the sink pauses, retries, then resumes
without losing or duplicating a row. The outage is a TCP proxy between sink and database
that the test cuts, so the shared TimescaleDB keeps serving every other test."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import pytest
from sink_support import SESSION_MS, TcpProxy, count_rows, expected_table, kpi_row, message

from common.config import Settings
from common.metrics import SINK_REGISTRY
from sinks.migrate import migrate
from sinks.options import SinkOptions
from sinks.sink import run_sink
from tests.support.kafka import committed_offsets, on, produce
from tests.support.tables import kpi_table_from_database

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OUTAGE_SECONDS = 30.0


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(predicate):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.2)


def sink_up() -> float | None:
    return SINK_REGISTRY.get_sample_value("ioc_sink_database_up")


async def test_database_outage_loses_and_duplicates_nothing(
    settings: Settings,
    new_topic: Callable[..., str],
    new_database: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sinks.sink")
    topic, dead = new_topic("sink.outage"), new_topic("sink.outage.dead", partitions=1)
    url = new_database("sink_outage")
    migrate(url)
    proxy = TcpProxy("127.0.0.1", settings.ports.postgres)
    await proxy.start()
    before = [kpi_row(i) for i in range(1000)]
    during = [kpi_row(i) for i in range(1000, 2500)] + [
        kpi_row(i, value=-1.0) for i in range(900, 1100)
    ]
    group = f"g-{topic}"
    stop = asyncio.Event()
    await produce(settings.kafka_bootstrap, on(topic, [message(r) for r in before]))
    sink = asyncio.create_task(
        run_sink(
            settings,
            SinkOptions(
                topic=topic,
                deadletter_topic=dead,
                database_url=proxy.url(url),
                group_id=group,
                batch_size=400,
                session_timeout_ms=SESSION_MS,
            ),
            stop=stop,
        )
    )
    try:
        await wait_for(lambda: count_rows(url) == len(before), 60, "the first rows")
        await proxy.cut()
        await produce(settings.kafka_bootstrap, on(topic, [message(r) for r in during]))
        await asyncio.sleep(OUTAGE_SECONDS)
        assert sink_up() == 0.0
        assert count_rows(url) == len(before)  # nothing written while cut
        await proxy.restore()
        restored = time.monotonic()
        await wait_for(lambda: count_rows(url) == 2500, 40, "the rows held during the outage")
        assert sink_up() == 1.0
    finally:
        stop.set()
        stats = await sink
        await proxy.cut()

    recovery = stats.recovered[0] - restored
    print(f"\nrecovery after the outage ended: {recovery:.2f} s; retries {stats.retries}")
    assert stats.outages == 1 and stats.retries >= 3
    assert 0 <= recovery <= 15.0 + 3.0 + 5.0  # back-off cap + pool timeout + slack (busy CI)
    assert kpi_table_from_database(url) == expected_table([*before, *during])
    assert stats.messages == len(before) + len(during) and stats.invalid == stats.rejected == 0
    ends = await committed_offsets(settings.kafka_bootstrap, topic, group)
    assert sum(ends.values()) == len(before) + len(during)
    transitions = [r.getMessage() for r in caplog.records if r.name == "sinks.sink"]
    assert sum("unreachable" in m for m in transitions) == 1
    assert sum("reachable again" in m for m in transitions) == 1


async def test_a_sink_started_while_the_database_is_down_waits_for_it(
    settings: Settings,
    new_topic: Callable[..., str],
    new_database: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="sinks.sink")
    topic, dead = new_topic("sink.late_db"), new_topic("sink.late_db.dead", partitions=1)
    url = new_database("sink_late_db")
    migrate(url)
    proxy = TcpProxy("127.0.0.1", settings.ports.postgres)
    await proxy.start()
    await proxy.cut()
    rows = [kpi_row(i) for i in range(300)]
    await produce(settings.kafka_bootstrap, on(topic, [message(r) for r in rows]))
    stop = asyncio.Event()
    sink = asyncio.create_task(
        run_sink(
            settings,
            SinkOptions(
                topic=topic,
                deadletter_topic=dead,
                database_url=proxy.url(url),
                group_id=f"g-{topic}",
                session_timeout_ms=SESSION_MS,
            ),
            stop=stop,
        )
    )
    try:
        await asyncio.sleep(5)
        assert not sink.done(), "the sink gave up instead of waiting for the database"
        assert sink_up() == 0.0
        await proxy.restore()
        await wait_for(lambda: count_rows(url) == len(rows), 60, "the rows after the start")
    finally:
        stop.set()
        await sink
        await proxy.cut()
    assert kpi_table_from_database(url) == expected_table(rows)
    waits = [r.getMessage() for r in caplog.records if "waiting for it" in r.getMessage()]
    assert len(waits) == 1 and "ioc dev up" in waits[0]
