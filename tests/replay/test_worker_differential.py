"""The real worker, the real sink and ``ioc replay`` against the independent oracle
(tests/oracle.py), on hostile record streams that hypothesis writes.

The streams are those of the pipeline's differential test (tests/streams/test_differential
.py): records in any partition, reused event ids across minutes and entities, a sensor
under two districts, out-of-order, late and future events, forged record timestamps, exact
minute and hour ends, offsets other than UTC, and values that are empty, huge, not UTF-8,
not JSON or NaN. They go to a real Apache Kafka broker; the real worker judges them and
re-routes the misplaced ones; ``ioc sink`` writes its rows to TimescaleDB. The oracle then
judges the logs as the broker holds them (the worker's copies where it appended them,
the first claims of city.entity-claims.v1 as the province's registry) and computes every
window by brute force: the database must hold exactly its rows, the worker's counts must
be its counts and balance, and ``ioc replay`` must find no difference.

A first reading per partition before the stream, and a last one hours after it, frame it:
the last moves every watermark past the stream's windows, so they all close and the rows
compared are all of them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson
import psycopg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import InvalidTimestampError
from hypothesis import HealthCheck, Phase, example, given, settings

from schemas.places import District
from schemas.topics import FARM_TOPIC
from streams.pipeline import SourceRecord
from streams.progress import is_marker
from streams.routing import district_partition
from tests.oracle import Row, from_log, judge_province, same_value
from tests.replay.support import sink_and_replay
from tests.streams.support import PrivateBroker, WorkerProcess, metric_sum
from tests.streams.test_differential import T0, hostile_batches
from tests.support.kafka import accept_any_timestamp, claims_log, read_topic
from tests.support.readings import salinity_reading

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTITIONS = 4
GRACE = 30.0
SKEW = 300.0
HORIZON = 3630.0
FLUSH = T0 + 6 * 3600.0
"""Event time of the last reading of each partition: after every window of the stream."""
CLOSED_UNTIL = (FLUSH - GRACE) // 60 * 60
"""The boundary every partition's windows are closed up to after its last reading."""

Identity = tuple[str, str, str, int, int, int]
"""kpi, entity kind, entity id, window start, window end (epoch seconds), partition."""


def frame_records(at: float, name: str) -> list[SourceRecord]:
    """One valid reading at ``at`` in each partition that holds a district."""
    homes: dict[int, str] = {}
    for district in District:
        homes.setdefault(district_partition(district.value, PARTITIONS), district.value)
    records = []
    for partition, district in sorted(homes.items()):
        value = salinity_reading(
            f"{name}-{partition}", at, district, f"{name}-{partition}",
            value=1.0, source="differential", farm_id="f",
        )  # fmt: skip
        stamp = int(at * 1000) + 500
        records.append(SourceRecord(FARM_TOPIC, partition, -1, stamp, None, value))
    return records


async def produce(bootstrap: str, records: list[SourceRecord]) -> None:
    """Each record to its partition, in order, with its record timestamp."""
    await accept_any_timestamp(bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, max_request_size=1 << 24)
    await producer.start()
    try:
        for r in records:
            key = r.key if r.value is not None else b"tombstone"  # aiokafka wants one of them
            for attempt in range(40):  # the topic's new timestamp limit takes a moment
                try:
                    await producer.send_and_wait(
                        FARM_TOPIC,
                        r.value,
                        key=key,
                        partition=r.partition,
                        timestamp_ms=r.timestamp,
                    )
                    break
                except InvalidTimestampError:
                    if attempt == 39:
                        raise
                    await asyncio.sleep(0.25)
    finally:
        await producer.stop()


def oracle(logs: list[Any], fixed: dict[str, str]) -> tuple[dict[Identity, Row], Counter[str]]:
    """The oracle's closed rows and outcome counts over the logs read back from the broker."""
    rows, outcomes = judge_province(
        FARM_TOPIC,
        (from_log(r) for r in logs),
        partitions=PARTITIONS, grace=GRACE, skew=SKEW, horizon=HORIZON, fixed=fixed,
    )  # fmt: skip
    return {k: row for k, row in rows.items() if k[4] <= CLOSED_UNTIL}, outcomes


def wait_processed(worker: WorkerProcess, sent: int, timeout: float = 180) -> dict[str, float]:
    """Until the worker consumed every record sent and every copy it made, and its counts
    stood still for 3 s (its last batches are committed only with later ones): its metrics."""
    deadline = time.monotonic() + timeout
    last: tuple[float, ...] = ()
    since = time.monotonic()
    while True:
        samples = worker.metrics()
        consumed = metric_sum(samples, "ioc_events_consumed_total")
        rerouted = metric_sum(samples, "ioc_events_rerouted_total")
        seen = (consumed, rerouted, metric_sum(samples, "ioc_kpi_rows_emitted_total"))
        now = time.monotonic()
        if seen != last:
            last, since = seen, now
        elif consumed >= sent + rerouted and now - since >= 3:
            return samples
        if now > deadline:
            raise AssertionError(f"worker consumed {consumed} of {sent} + {rerouted} copies")
        time.sleep(0.3)


def stored_rows(database_url: str) -> dict[Identity, tuple[Any, ...]]:
    """The kpi table's rows: identity -> (value, count, district, first, last, events)."""
    with psycopg.connect(database_url) as conn:
        records = conn.execute(
            "SELECT kpi, entity_kind, entity_id, window_start, window_end, source_partition,"
            " value, count, district, first_offset, last_offset, event_count FROM kpi"
        ).fetchall()
    return {
        (k, kind, e, int(s.timestamp()), int(end.timestamp()), p): tuple(rest)
        for k, kind, e, s, end, p, *rest in records
    }


def bad_day() -> list[tuple[float, list[SourceRecord]]]:
    """One stream with each kind of hostile record at least once, whatever hypothesis draws:
    a 2 MB value, bytes that are not UTF-8, no value, NaN, a record time forged to 2200, a
    record in another partition than its district's, one event id in two minutes, and a
    sensor under districts of two partitions."""
    other = next(d.value for d in District if district_partition(d.value, PARTITIONS) != 0)
    first = next(d.value for d in District if district_partition(d.value, PARTITIONS) == 0)

    def reading(n: int, at: float, district: str, **fields: Any) -> bytes:
        event = {
            "event_id": f"bad-{n}", "source": "differential",
            "occurred_at": dt.datetime.fromtimestamp(at, dt.UTC).isoformat(),
            "schema_version": 1, "district": district, "sensor_id": "wander-1",
            "farm_id": "f", "zone": "z1", "kind": "salinity", "value": 2.0, "battery_pct": 80.0,
        }  # fmt: skip
        return orjson.dumps(event | fields)

    home = district_partition(other, PARTITIONS)
    values = [
        (0, reading(1, T0, first)),
        (home, reading(2, T0 + 5, other)),  # the same sensor, another district's partition
        (0, b"x" * 2_000_000),
        (home, b"\xff\xfe{"),
        (0, None),
        (0, reading(3, T0 + 10, first).replace(b'"value":2.0', b'"value":NaN')),
        ((home + 1) % PARTITIONS, reading(4, T0 + 20, other, sensor_id="s-9")),  # misplaced
        (0, reading(5, T0 + 70, first, sensor_id="s-8")),
        (0, reading(5, T0 + 130, first, sensor_id="s-8")),  # its id again, a minute later
    ]
    records = [
        SourceRecord(FARM_TOPIC, p, -1, int((T0 + 30 + i) * 1000), None, v)
        for i, (p, v) in enumerate(values)
    ]
    forged = int(dt.datetime(2200, 1, 1, tzinfo=dt.UTC).timestamp() * 1000)
    records.append(SourceRecord(FARM_TOPIC, 0, -1, forged, None, reading(6, T0 + 200, first)))
    return [(T0 + 300, records)]


@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,  # the same two streams every run: a failure can be run again
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example takes ~40 s
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=hostile_batches(PARTITIONS))
@example(batches=bad_day())
def test_the_workers_rows_in_the_database_are_the_oracles(
    tmp_path_factory: pytest.TempPathFactory,
    new_database: Callable[..., str],
    batches: list[tuple[float, list[SourceRecord]]],
) -> None:
    tmp = tmp_path_factory.mktemp("differential")
    hostile = [r for _, records in batches for r in records]
    sent = frame_records(T0 - 120, "first") + hostile + frame_records(FLUSH, "last")
    app_id = f"differential-{uuid.uuid4().hex[:8]}"
    with PrivateBroker(tmp, partitions=PARTITIONS) as broker:
        asyncio.run(produce(broker.bootstrap, sent))
        worker = WorkerProcess(
            broker.bootstrap, app_id, tmp / "worker.log", IOC_GRACE_SECONDS=GRACE,
            IOC_FUTURE_SKEW_SECONDS=SKEW, IOC_DEDUP_HORIZON_SECONDS=HORIZON,
            IOC_PARTITIONS=PARTITIONS,
        ).start()  # fmt: skip
        try:
            samples = wait_processed(worker, len(sent))
        finally:
            worker.stop()
        logs = asyncio.run(read_topic(broker.bootstrap, FARM_TOPIC))
        first_claims: dict[str, str] = {}
        for claim in asyncio.run(claims_log(broker.bootstrap)):
            assert claim is not None
            first_claims.setdefault(claim.entity_id, claim.district)
        url = new_database(f"differential-{app_id[-8:]}")
        code, report = sink_and_replay(
            broker.bootstrap, url, tmp, T0 - 7200, FLUSH - 3600,
            "--grace", str(GRACE), "--future-skew", str(SKEW),
        )  # fmt: skip
    expected, outcomes = oracle(logs, first_claims)
    got = stored_rows(url)

    rerouted = outcomes["rerouted"]
    events = [r for r in logs if not is_marker(r.headers)]
    assert len(events) == len(sent) + rerouted
    consumed = metric_sum(samples, "ioc_events_consumed_total")
    assert consumed == len(events)
    assert metric_sum(samples, "ioc_events_rerouted_total") == rerouted
    assert metric_sum(samples, "ioc_events_windowed_total") == outcomes["windowed"]
    assert metric_sum(samples, "ioc_events_late_total") == outcomes["late"]
    assert metric_sum(samples, "ioc_events_duplicate_total") == outcomes["event_id"]
    balance = ("windowed", "late", "event_id", "rerouted")
    invalid = consumed - sum(outcomes[k] for k in balance)
    assert metric_sum(samples, "ioc_events_invalid_total") == invalid

    assert got.keys() == expected.keys()
    for identity, (value, count, district, first, last, events) in got.items():
        want = expected[identity]
        assert same_value(value, want.value), (identity, value, want.value)
        assert (count, district) == (want.count, want.district), identity
        assert (first, last, events) == (want.first_offset, want.last_offset, want.event_count)
    entities = Counter(identity[:5] for identity in got)
    assert max(entities.values()) == 1, "an entity's window came from two partitions"

    assert code == 0, report["differences"][:5]
    comparison = report["comparison"]
    assert comparison["rows_equal"] == comparison["rows_compared"] > 0
