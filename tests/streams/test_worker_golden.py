"""Golden test: a fixed event file through the real broker and worker, hand-computed KPIs;
and a live partition that goes idle closes its windows by wall clock."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas.topics import FARM_TOPIC, NETWORK_TOPIC, PORTAL_TOPIC, RAW_TOPICS
from streams.replay.broker_quirks import true_end_offsets
from tests.streams.support import PrivateBroker, WorkerProcess, wait_for
from tests.support.kafka import event_ends, known_partitions, produce, read_topic
from tests.support.tables import kpi_table_from_topic, kpis_on_topic

pytestmark = [pytest.mark.integration]

T0 = dt.datetime(2026, 3, 10, 10, 0, tzinfo=dt.UTC)
D = "long-my"


def _at(second: float) -> str:
    return (T0 + dt.timedelta(seconds=second)).isoformat()


def _env(i: int, second: float) -> dict[str, object]:
    return {
        "event_id": f"g-{i}",
        "source": "golden",
        "occurred_at": _at(second),
        "schema_version": 1,
        "district": D,
    }


def _salinity(i: int, second: float, value: float) -> tuple[str, bytes, bytes]:
    event = {
        **_env(i, second),
        "sensor_id": "lm-sal-001",
        "farm_id": "lm-farm-01",
        "zone": "z1",
        "kind": "salinity",
        "value": value,
        "battery_pct": 50.0 + i,
    }
    return FARM_TOPIC, D.encode(), orjson.dumps(event)


def _probe(i: int, second: float, up: bool, latency: float | None) -> tuple[str, bytes, bytes]:
    event = {
        **_env(i, second),
        "site_id": "lm-4g-001",
        "technology": "4G",
        "up": up,
        "latency_ms": latency,
        "loss_pct": 1.0 if up else None,
        "downlink_mbps": 50.0 if up else None,
        "uplink_mbps": 10.0 if up else None,
        "subscribers": 100,
    }
    return NETWORK_TOPIC, D.encode(), orjson.dumps(event)


def _dossier(i: int, second: float, channel: str) -> tuple[str, bytes, bytes]:
    event = {
        **_env(i, second),
        "dossier_id": f"hs-{i}",
        "procedure_code": "1.001",
        "agency_id": "lm-ubnd",
        "level": "district",
        "channel": channel,
        "status": "submitted",
        "received_at": _at(second),
        "due_at": _at(second + 86400),
        "paid_online": False,
        "components_total": 4,
        "components_reused": 1,
    }
    return PORTAL_TOPIC, D.encode(), orjson.dumps(event)


GOLDEN = [
    _salinity(1, 10, 2.0),
    _salinity(2, 40, 4.5),
    _salinity(3, 90, 3.0),
    _probe(4, 5, True, 20.0),
    _probe(5, 35, False, None),
    _probe(6, 65, True, 40.0),
    _dossier(7, 20, "online"),
    _dossier(8, 50, "counter"),
    (FARM_TOPIC, D.encode(), b'{"broken": '),
    # three hours later: moves each topic's watermark past every window above
    _salinity(40, 3 * 3600, 1.0),
    _probe(41, 3 * 3600, True, 10.0),
    _dossier(42, 3 * 3600, "online"),
]

MIN = 60
M1, M15, H1 = MIN, 15 * MIN, 60 * MIN


def _ts(offset_seconds: int) -> str:
    return (T0 + dt.timedelta(seconds=offset_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _id(kpi: str, kind: str, entity: str, start: int, length: int) -> tuple[str, ...]:
    return (kpi, kind, entity, _ts(start), _ts(start + length))


EXPECTED: dict[tuple[str, ...], tuple[float, int]] = {
    _id("farm.salinity_max_gl", "sensor", "lm-sal-001", 0, M1): (4.5, 2),
    _id("farm.salinity_mean_gl", "sensor", "lm-sal-001", 0, M1): (3.25, 2),
    _id("farm.salinity_minutes_above_4", "sensor", "lm-sal-001", 0, M1): (0.5, 2),
    _id("farm.salinity_mean_gl", "district", D, MIN, M1): (3.0, 1),
    _id("farm.battery_min_pct", "sensor", "lm-sal-001", 0, H1): (51.0, 3),
    _id("farm.salinity_minutes_above_4", "sensor", "lm-sal-001", 0, H1): (20.0, 3),
    _id("farm.salinity_max_gl", "district", D, -14 * MIN, M15): (4.5, 2),
    _id("farm.salinity_max_gl", "district", D, -13 * MIN, M15): (4.5, 3),
    _id("farm.salinity_mean_gl", "district", D, MIN, M15): (3.0, 1),
    _id("network.availability_ratio", "site", "lm-4g-001", 0, M1): (0.5, 2),
    _id("network.availability_ratio", "district", D, 0, H1): (2 / 3, 3),
    _id("network.outage_minutes", "site", "lm-4g-001", 0, M1): (0.5, 2),
    _id("network.outage_minutes", "site", "lm-4g-001", 0, H1): (20.0, 3),
    _id("network.downlink_4g_mean_mbps", "district", D, -13 * MIN, M15): (50.0, 2),
    _id("portal.dossiers_received", "agency", "lm-ubnd", 0, M1): (2.0, 2),
    _id("portal.online_submission_rate", "district", D, 0, M1): (0.5, 2),
    _id("portal.online_submission_rate", "district", D, 0, H1): (0.5, 2),
    _id("portal.component_reuse_rate", "district", D, 0, M1): (0.25, 2),
}


async def _committed_and_end(bootstrap: str, group: str) -> tuple[dict[Any, Any], dict[Any, int]]:
    """The group's committed offset and the high watermark of every raw partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        tps = [
            TopicPartition(topic, p)
            for topic in RAW_TOPICS
            for p in await known_partitions(consumer, topic)
        ]
        committed = {tp: await consumer.committed(tp) for tp in tps}
    finally:
        await consumer.stop()
    return committed, await true_end_offsets(bootstrap, tps)


async def _changelog_cleanup_policies(bootstrap: str) -> dict[str, str]:
    """cleanup.policy of every changelog topic on the broker."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.endswith("-changelog")]
        resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        answers = await admin.describe_configs(resources)
    finally:
        await admin.close()
    policies: dict[str, str] = {}
    for answer in answers:
        for _code, _message, _type, name, entries in answer.resources:
            for entry in entries:
                if entry[0] == "cleanup.policy":
                    policies[name] = entry[1]
    return policies


def test_golden_event_file_gives_hand_computed_kpis(tmp_path: Path) -> None:
    with PrivateBroker(tmp_path) as broker:
        asyncio.run(produce(broker.bootstrap, GOLDEN))
        worker = WorkerProcess(broker.bootstrap, "golden", tmp_path / "worker.log").start()
        try:
            wait_for(
                lambda: (
                    EXPECTED.keys()
                    <= kpi_table_from_topic(
                        asyncio.run(read_topic(broker.bootstrap, "city.kpi.v1"))
                    ).keys()
                ),
                90,
                "the watermark to close every golden window",
                interval=1.0,
            )
        finally:
            worker.stop()
        rows = kpis_on_topic(broker.bootstrap)
        deadletters = asyncio.run(read_topic(broker.bootstrap, "city.deadletter.v1"))
        committed, ends = asyncio.run(_committed_and_end(broker.bootstrap, "golden"))
        events_end = asyncio.run(event_ends(broker.bootstrap, RAW_TOPICS))
        policies = asyncio.run(_changelog_cleanup_policies(broker.bootstrap))
    # Window state changelogs are compacted, as Kafka Streams' state changelogs are.
    assert len(policies) == 3 and set(policies.values()) == {"compact"}, policies
    # Records reach the agents in batches (faust_patches.batch_lanes); their acks must still
    # let Faust commit every processed event (progress markers appended last may not have
    # been read before the worker stopped).
    assert {tp: end for tp, end in events_end.items() if end} == {
        tp: min(committed[tp] or 0, end) for tp, end in events_end.items() if end
    }
    assert all((committed[tp] or 0) <= end for tp, end in ends.items())
    for identity, (value, count) in EXPECTED.items():
        assert identity in rows, f"missing {identity}"
        got_value, got_count = rows[identity]
        assert got_value == pytest.approx(value, rel=1e-12), identity
        assert got_count == count, identity
    latency = rows[_id("network.latency_p95_ms", "site", "lm-4g-001", 0, H1)]
    # DDSketch ranks q x (n - 1): the p95 of {20, 40} is the lower value, within 1 %.
    assert latency[0] == pytest.approx(20.0, rel=0.01) and latency[1] == 2
    assert len(deadletters) == 1
    assert orjson.loads(deadletters[0].value)["reason_kind"] == "malformed"
    window_ends = {k[4] for k in rows if k[0] == "farm.salinity_max_gl" and k[1] == "district"}
    assert _ts(H1) in window_ends and _ts(MIN + M15) in window_ends


def test_a_live_partition_that_goes_idle_closes_its_windows(tmp_path: Path) -> None:
    """No later event comes: the idle timeout moves the watermark by wall clock."""
    recent = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=2)
    event = {
        "event_id": "idle-1",
        "source": "golden",
        "occurred_at": (recent + dt.timedelta(seconds=5)).isoformat(),
        "schema_version": 1,
        "district": D,
        "sensor_id": "lm-sal-009",
        "farm_id": "lm-farm-01",
        "zone": "z1",
        "kind": "salinity",
        "value": 5.5,
        "battery_pct": 70.0,
    }
    end = (recent + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    identity = (
        "farm.salinity_max_gl",
        "sensor",
        "lm-sal-009",
        recent.strftime("%Y-%m-%dT%H:%M:%SZ"),
        end,
    )
    with PrivateBroker(tmp_path) as broker:
        asyncio.run(produce(broker.bootstrap, [(FARM_TOPIC, D.encode(), orjson.dumps(event))]))
        worker = WorkerProcess(
            broker.bootstrap, "idle", tmp_path / "worker.log", IOC_IDLE_TIMEOUT_SECONDS=3
        ).start()
        try:
            wait_for(
                lambda: (
                    identity
                    in kpi_table_from_topic(
                        asyncio.run(read_topic(broker.bootstrap, "city.kpi.v1"))
                    )
                ),
                90,
                "the idle live partition to close its 1-minute window",
                interval=1.0,
            )
        finally:
            worker.stop()
        rows = kpis_on_topic(broker.bootstrap)
    assert rows[identity] == (5.5, 1)
