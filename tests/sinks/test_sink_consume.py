"""`run_sink` end to end: Kafka topic -> TimescaleDB, dead letters, offsets, redelivery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace

import pytest
from sink_support import (
    SESSION_MS,
    count_rows,
    expected_table,
    kpi_row,
    message,
    single_row_message,
)

from common.config import Settings
from schemas.decode import read_deadletter
from sinks.migrate import migrate
from sinks.options import SinkOptions
from sinks.sink import run_sink
from tests.support.kafka import committed_offsets, on, produce, read_topic
from tests.support.tables import kpi_table_from_database

pytestmark = pytest.mark.integration


async def test_sink_writes_dead_letters_and_commits(
    settings: Settings, new_topic: Callable[..., str], new_database: Callable[..., str]
) -> None:
    topic, dead = new_topic("sink.kpi"), new_topic("sink.dead", partitions=1)
    url = new_database("sink_consume")
    migrate(url)
    rows = [kpi_row(i) for i in range(1500)]
    redelivered = rows[100:400]  # a replayed stretch: same rows again
    changed = [kpi_row(7, value=42.0)]  # a later correction of one row
    refused = kpi_row(5000, first_offset=9, last_offset=1)  # passes the model, not the DB
    garbage = [
        (b"k", b"{not json"),
        (None, b"[]"),
        message(kpi_row(1, minutes=5)),
    ]
    older = [(b"k", single_row_message(r)) for r in rows[1400:]]  # an older worker's rows
    messages = [message(r) for r in [*rows[:1400], *redelivered, *changed, refused]]
    messages += older + garbage
    await produce(settings.kafka_bootstrap, on(topic, messages))
    group = f"g-{topic}"

    started = time.monotonic()
    options = SinkOptions(
        topic=topic,
        deadletter_topic=dead,
        database_url=url,
        group_id=group,
        batch_size=500,
        until_idle=2.0,
        session_timeout_ms=SESSION_MS,
    )
    stats = await run_sink(settings, options)
    elapsed = time.monotonic() - started

    assert stats.messages == len(messages)
    assert (stats.invalid, stats.rejected) == (3, 1)
    assert kpi_table_from_database(url) == expected_table([*rows, *changed])
    ends = await committed_offsets(settings.kafka_bootstrap, topic, group)
    assert sum(ends.values()) == len(messages)
    letters = [
        read_deadletter(r.value) for r in await read_topic(settings.kafka_bootstrap, dead, 4)
    ]
    assert sorted(d.reason_kind for d in letters) == [
        "database",
        "invalid",
        "malformed",
        "not_object",
    ]
    db_letter = next(d for d in letters if d.reason_kind == "database")
    assert "kpi_offsets_ordered" in db_letter.reason and db_letter.origin_topic == topic
    assert db_letter.raw == message(refused)[1]
    print(f"\nsink: {len(messages)} messages in {elapsed:.1f} s incl. group join and 2 s idle")


async def test_second_group_replaying_everything_changes_nothing(
    settings: Settings, new_topic: Callable[..., str], new_database: Callable[..., str]
) -> None:
    topic, dead = new_topic("sink.replay"), new_topic("sink.replay.dead", partitions=1)
    url = new_database("sink_replay")
    migrate(url)
    rows = [kpi_row(i) for i in range(600)]
    await produce(settings.kafka_bootstrap, on(topic, [message(r) for r in rows]))
    common = SinkOptions(
        topic=topic,
        deadletter_topic=dead,
        database_url=url,
        until_idle=2.0,
        session_timeout_ms=SESSION_MS,
    )
    first, second = await asyncio.gather(
        run_sink(settings, replace(common, group_id=f"a-{topic}")),
        run_sink(settings, replace(common, group_id=f"b-{topic}", batch_size=64)),
    )
    assert first.messages == second.messages == 600
    assert count_rows(url) == 600
    assert kpi_table_from_database(url) == expected_table(rows)
    assert first.rows_changed + second.rows_changed >= 600
