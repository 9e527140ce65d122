"""`ioc sink --archive-raw`: validated raw events land in raw_events once, invalid ones not."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import psycopg
import pytest
from sink_support import SESSION_MS, T0

from common.config import Settings
from schemas.events import ProbeEvent, SensorKind, SensorReading, Technology
from schemas.places import District
from sinks.migrate import migrate
from sinks.options import SinkOptions
from sinks.sink import run_sink
from tests.support.kafka import on, produce

pytestmark = pytest.mark.integration


def reading(i: int) -> SensorReading:
    return SensorReading(
        event_id=f"r-{i}",
        source="test",
        occurred_at=T0 + timedelta(seconds=i),
        schema_version=1,
        district=District.VI_THANH,
        sensor_id=f"s-{i % 5}",
        farm_id="farm-1",
        zone="z1",
        kind=SensorKind.SALINITY,
        value=2.5,
        battery_pct=80.0,
    )


def probe(i: int) -> ProbeEvent:
    return ProbeEvent(
        event_id=f"p-{i}",
        source="test",
        occurred_at=T0 + timedelta(days=2, seconds=i),
        schema_version=1,
        district=District.NGA_BAY,
        site_id=f"site-{i}",
        technology=Technology("4G"),
        up=True,
        latency_ms=20.0,
    )


async def test_archive_raw_stores_validated_events(
    settings: Settings, new_topic: Callable[..., str], new_database: Callable[..., str]
) -> None:
    portal, network, farm = (new_topic(f"sink.raw.{n}", partitions=2) for n in "pnf")
    kpi, dead = new_topic("sink.raw.kpi"), new_topic("sink.raw.dead", partitions=1)
    url = new_database("sink_archive")
    migrate(url)
    readings = [reading(i) for i in range(40)]
    probes = [probe(i) for i in range(10)]
    farm_msgs = [(b"vi-thanh", r.model_dump_json().encode()) for r in readings]
    await produce(settings.kafka_bootstrap, on(farm, [*farm_msgs, (b"vi-thanh", b"{broken")]))
    await produce(
        settings.kafka_bootstrap,
        on(network, [(b"nga-bay", p.model_dump_json().encode()) for p in probes]),
    )
    options = SinkOptions(
        topic=kpi,
        deadletter_topic=dead,
        database_url=url,
        until_idle=2.0,
        session_timeout_ms=SESSION_MS,
        archive_raw=True,
        raw_topics=(portal, network, farm),
        group_id=f"g-{kpi}",
    )
    # Two groups archive the same records at once: every position is stored exactly once.
    first, second = await asyncio.gather(
        run_sink(settings, options),
        run_sink(settings, replace(options, group_id=f"h-{kpi}")),
    )

    for stats in (first, second):
        assert (stats.raw_messages, stats.raw_skipped) == (51, 1)
    assert first.raw_written + second.raw_written == 50
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT topic, district, count(*), count(DISTINCT event_id), min(occurred_at) "
            "FROM raw_events GROUP BY 1, 2 ORDER BY 1"
        ).fetchall()
        payload = conn.execute(
            "SELECT payload->>'sensor_id', (payload->>'value')::float8 FROM raw_events "
            "WHERE event_id = 'r-7'"
        ).fetchone()
    assert sorted(rows) == sorted(
        [
            (farm, "vi-thanh", 40, 40, T0),
            (network, "nga-bay", 10, 10, T0 + timedelta(days=2)),
        ]
    )
    assert payload == ("s-2", 2.5)
