"""The real worker on the real broker under hostile producers: any record, any size, never
stops a worker or loses a count; records in the wrong partition never create windows there:
they are re-routed to their district's partition and windowed there.

Regressions of issue "exact under hostile input": a 2 MiB value crashed an agent
(MessageSizeTooLargeError on its dead letter) and lost its batch's counts and the other
dead letters fetched with it; a record keyed by sensor id created one-event versions of its
district's windows in another partition.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from schemas.decode import DeadLetter, read_deadletter
from schemas.places import District
from schemas.topics import DEADLETTER_TOPIC, FARM_TOPIC, KPI_TOPIC
from streams.routing import Claim, district_partition
from tests.streams.support import PrivateBroker, WorkerProcess, metric_sum, wait_for
from tests.support.kafka import accept_any_timestamp, claims_log, read_topic

pytestmark = [pytest.mark.integration]

DISTRICT = "long-my"
PARTITIONS = 4
HOME = district_partition(DISTRICT, PARTITIONS)
GRACE = 5.0


def reading(n: int, at: dt.datetime, sensor: str = "lm-sal-001") -> bytes:
    return orjson.dumps(
        {
            "event_id": f"h{n}", "source": "kcat", "occurred_at": at.isoformat(),
            "schema_version": 1, "district": DISTRICT, "sensor_id": sensor, "farm_id": "f1",
            "zone": "z1", "kind": "salinity", "value": 2.5, "battery_pct": 80.0,
        }
    )  # fmt: skip


async def send(bootstrap: str, records: list[tuple[int, bytes, bytes]]) -> None:
    """(partition, key, value) in order, with a request limit large enough for 2 MiB."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks=1, max_request_size=24 << 20, linger_ms=50
    )
    await producer.start()
    try:
        futures = [
            await producer.send(FARM_TOPIC, value, key=key, partition=partition)
            for partition, key, value in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def test_huge_and_misrouted_records_lose_nothing_and_windows_stay_home(tmp_path: Path) -> None:
    start = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(minutes=3)
    huge = b'{"event_id": "' + b"x" * ((20 << 20) - 20) + b'"}'  # 20 MiB
    big = b"[" + b"1," * (400 << 10) + b"1]"
    key = DISTRICT.encode()
    invalid = [(HOME, key, b"{not json %d" % i) for i in range(50)]
    valid = [(HOME, key, reading(i, start + dt.timedelta(seconds=i))) for i in range(60)]
    other = (HOME + 1) % PARTITIONS
    misrouted = [
        (other, b"lm-sal-001", reading(1000 + i, start + dt.timedelta(seconds=i))) for i in range(5)
    ]
    records = [*invalid, (HOME, key, huge), *invalid, (HOME, key, big), *valid, *misrouted]
    with PrivateBroker(tmp_path, partitions=PARTITIONS) as broker:
        asyncio.run(send(broker.bootstrap, records))
        worker = WorkerProcess(broker.bootstrap, "hostile", tmp_path / "worker.log").start()
        try:
            wait_for(
                lambda: (
                    metric_sum(worker.metrics(), "ioc_events_consumed_total")
                    >= len(records) + len(misrouted)
                ),
                120,
                "every record and every re-routed copy consumed",
            )
            wait_for(
                lambda: metric_sum(worker.metrics(), "ioc_kpi_rows_emitted_total") > 0,
                60,
                "the windows closed by the idle advance",
            )
            samples = worker.metrics()
            assert worker.proc is not None and worker.proc.poll() is None, "the worker died"
        finally:
            worker.stop()
        letters = [
            read_deadletter(r.value)
            for r in asyncio.run(read_topic(broker.bootstrap, DEADLETTER_TOPIC))
        ]
        kpis = asyncio.run(read_topic(broker.bootstrap, KPI_TOPIC))
    assert metric_sum(samples, "ioc_events_consumed_total") == len(records) + len(misrouted)
    assert metric_sum(samples, "ioc_events_rerouted_total") == len(misrouted)
    assert metric_sum(samples, "ioc_events_windowed_total") == len(valid) + len(misrouted)
    assert metric_sum(samples, "ioc_events_invalid_total") == 102
    assert len(letters) == 102
    by_offset = {(d.origin_partition, d.origin_offset): d for d in letters}
    huge_letter = by_offset[(HOME, 50)]
    assert huge_letter.reason_kind == "oversized"
    assert huge_letter.size == len(huge) and huge_letter.truncated
    assert huge_letter.sha256 == hashlib.sha256(huge).hexdigest()
    assert huge_letter.raw is not None and huge.startswith(huge_letter.raw)
    windows = [w for r in kpis for w in orjson.loads(r.value)]
    assert windows and {w["source_partition"] for w in windows} == {HOME}
    sensor_minutes = [
        w
        for w in windows
        if w["entity_id"] == "lm-sal-001"
        and dt.datetime.fromisoformat(w["window_end"])
        - dt.datetime.fromisoformat(w["window_start"])
        == dt.timedelta(minutes=1)
    ]
    assert sum(w["event_count"] for w in sensor_minutes) == len(valid) + len(misrouted)


def _minute_rows(bootstrap: str) -> dict[tuple[str, str, str], tuple[float, int]]:
    """(kpi, entity, window start) -> (value, event count) of the 1-minute windows."""
    out = {}
    for record in asyncio.run(read_topic(bootstrap, KPI_TOPIC)):
        for w in orjson.loads(record.value):
            start = dt.datetime.fromisoformat(w["window_start"])
            if dt.datetime.fromisoformat(w["window_end"]) - start == dt.timedelta(minutes=1):
                for kpi, value, *_ in w["kpis"]:
                    out[(kpi, w["entity_id"], w["window_start"])] = (value, w["event_count"])
    return out


def _run(tmp_path: Path, name: str, records: list[tuple[int, bytes, bytes, int | None]]) -> Any:
    """Produce ``records`` (partition, key, value, timestamp ms), run a worker (grace 5 s)
    until it has consumed them and closed windows; its metrics and 1-minute rows."""
    with PrivateBroker(tmp_path, partitions=PARTITIONS) as broker:

        async def go() -> None:
            await accept_any_timestamp(broker.bootstrap)
            producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks=1)
            await producer.start()
            try:
                for partition, key, value, stamp in records:
                    await producer.send_and_wait(
                        FARM_TOPIC, value, key=key, partition=partition, timestamp_ms=stamp
                    )
            finally:
                await producer.stop()

        asyncio.run(go())
        worker = WorkerProcess(
            broker.bootstrap, name, tmp_path / f"{name}.log", IOC_GRACE_SECONDS=GRACE
        ).start()
        try:
            wait_for(
                lambda: (
                    metric_sum(worker.metrics(), "ioc_events_consumed_total") >= len(records)
                    and metric_sum(worker.metrics(), "ioc_kpi_rows_emitted_total") > 0
                ),
                150,
                "every record consumed and windows closed",
            )
            samples = worker.metrics()
        finally:
            worker.stop()
        return samples, _minute_rows(broker.bootstrap)


def test_one_bad_clock_does_not_make_the_partitions_on_time_events_late(
    tmp_path: Path,
) -> None:
    """A live partition (events a few seconds old, within the grace) with one event 290 s
    ahead and one dated 2200 (record timestamp too) gives the undisturbed rows."""
    now = dt.datetime.now(dt.UTC)
    key = DISTRICT.encode()
    first = now - dt.timedelta(seconds=GRACE - 1)
    times = [first + dt.timedelta(milliseconds=50 * i) for i in range(60)]
    # Each record stamped when its event happened (CreateTime), as a live producer does:
    # the verdicts do not depend on how long the private brokers take to start.
    on_time = [
        (HOME, key, reading(i, at), int(at.timestamp() * 1000) + 500) for i, at in enumerate(times)
    ]
    stamp = int(now.timestamp() * 1000)
    forged = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)  # the topic lets it in: see _run
    bad = [
        (HOME, key, reading(500, now + dt.timedelta(seconds=290), sensor="lm-sal-009"), stamp),
        (HOME, key, reading(501, forged, sensor="lm-sal-009"), int(forged.timestamp() * 1000)),
    ]
    disturbed = [bad[0], *on_time[:30], bad[1], *on_time[30:]]
    with ThreadPoolExecutor(2) as pool:
        quiet = pool.submit(_run, tmp_path, "undisturbed", on_time)
        (samples, rows), (quiet_samples, quiet_rows) = (
            _run(tmp_path, "disturbed", disturbed),
            quiet.result(),
        )
    assert metric_sum(samples, "ioc_events_consumed_total") == len(disturbed)
    assert metric_sum(samples, "ioc_events_windowed_total") == len(on_time) + 1
    assert metric_sum(samples, "ioc_events_late_total") == 0
    assert metric_sum(samples, "ioc_events_invalid_total") == 1  # the forged future
    assert metric_sum(samples, "ioc_events_future_held") == 1
    assert rows == quiet_rows and len(rows) >= 5
    assert metric_sum(quiet_samples, "ioc_events_windowed_total") == len(on_time)


OTHER = next(d.value for d in District if district_partition(d.value, PARTITIONS) != HOME)
"""A district whose windows live in another partition than long-my's."""


def _one_sensor_under_two_partitions(
    tmp_path: Path, **env: str
) -> tuple[dict[str, float], list[DeadLetter], list[Claim | None]]:
    """Sensor lm-sal-001 under long-my, then under :data:`OTHER`, each record in its
    district's partition, through one worker (``env``: its settings): the worker's metrics,
    the dead letters and the claims log."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
    moved = orjson.loads(reading(2, start)) | {"district": OTHER}
    records = [
        (HOME, DISTRICT.encode(), reading(1, start)),
        (district_partition(OTHER, PARTITIONS), OTHER.encode(), orjson.dumps(moved)),
    ]
    with PrivateBroker(tmp_path, partitions=PARTITIONS) as broker:
        asyncio.run(send(broker.bootstrap, records))
        worker = WorkerProcess(broker.bootstrap, "moved", tmp_path / "worker.log", **env).start()
        try:
            wait_for(
                lambda: metric_sum(worker.metrics(), "ioc_events_consumed_total") >= 2,
                120,
                "both records consumed",
            )
            samples = worker.metrics()
        finally:
            worker.stop()
        letters = [
            read_deadletter(r.value)
            for r in asyncio.run(read_topic(broker.bootstrap, DEADLETTER_TOPIC))
        ]
        claims = asyncio.run(claims_log(broker.bootstrap))
    return samples, letters, claims


def test_the_provinces_registry_fixes_an_entitys_district_in_every_partition(
    tmp_path: Path,
) -> None:
    """A sensor named under long-my and under a district of another partition: with
    IOC_ENTITY_REGISTRY listing it under long-my, the second event is dead-lettered there
    and nothing is claimed."""
    registry = tmp_path / "entities.csv"
    registry.write_text("entity_kind,entity_id,district\nsensor,lm-sal-001,long-my\n")
    samples, letters, claims = _one_sensor_under_two_partitions(
        tmp_path, IOC_ENTITY_REGISTRY=str(registry)
    )
    assert metric_sum(samples, "ioc_events_windowed_total") == 1
    assert claims == []
    (letter,) = letters
    assert letter.reason_kind == "entity_district"
    assert "'long-my'" in letter.reason and repr(OTHER) in letter.reason


def test_an_unlisted_entity_named_under_two_partitions_is_windowed_once(tmp_path: Path) -> None:
    """A sensor no registry lists, named under long-my and under a district of another
    partition: the first claim in city.entity-claims.v1 gives its district, whichever
    partition made it; the other event is dead-lettered. Before claims, each partition
    windowed it under its own district."""
    samples, letters, claims = _one_sensor_under_two_partitions(tmp_path)
    assert metric_sum(samples, "ioc_events_windowed_total") == 1
    assert metric_sum(samples, "ioc_entity_claims_total") == len(claims) >= 1
    first = claims[0]
    assert first is not None and first.entity_id == "lm-sal-001"
    (letter,) = letters
    assert letter.reason_kind == "entity_district"
    loser = OTHER if first.district == DISTRICT else DISTRICT
    assert f"'{first.district}'" in letter.reason and repr(loser) in letter.reason


def test_two_workers_that_meet_new_entities_at_once_take_the_same_decisions(
    tmp_path: Path,
) -> None:
    """Two independent apps (their own groups and state) read the same topic, where each of
    eight new sensors is named under districts of two partitions at the same moment. They
    race to claim them on the one claims log, and both take the first claim's side: the
    same events windowed, the same ones dead-lettered."""
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2)
    districts = [d.value for d in District]
    records = []
    for n in range(8):
        first = districts[n % len(districts)]
        second = next(
            d
            for d in districts[n % len(districts) + 1 :] + districts
            if district_partition(d, PARTITIONS) != district_partition(first, PARTITIONS)
        )
        for k, district in enumerate((first, second)):
            event = orjson.loads(reading(10 * n + k, start, sensor=f"new-{n}"))
            value = orjson.dumps(event | {"district": district})
            records.append((district_partition(district, PARTITIONS), district.encode(), value))
    with PrivateBroker(tmp_path, partitions=PARTITIONS) as broker:
        asyncio.run(send(broker.bootstrap, records))
        workers = [
            WorkerProcess(
                broker.bootstrap,
                f"race-{name}",
                tmp_path / name / "worker.log",
                IOC_STATE_DIR=str(tmp_path / name / "state"),
            )
            for name in ("a", "b")
        ]
        for worker in workers:
            worker.log_path.parent.mkdir()
            worker.start()
        try:
            for worker in workers:
                wait_for(
                    lambda w=worker: metric_sum(w.metrics(), "ioc_events_consumed_total") >= 16,
                    120,
                    "every record consumed by both workers",
                )
            samples = [worker.metrics() for worker in workers]
        finally:
            for worker in workers:
                worker.stop()
        letters = [
            read_deadletter(r.value)
            for r in asyncio.run(read_topic(broker.bootstrap, DEADLETTER_TOPIC))
        ]
        claims = asyncio.run(claims_log(broker.bootstrap))
    for worker_samples in samples:
        assert metric_sum(worker_samples, "ioc_events_windowed_total") == 8
        assert metric_sum(worker_samples, "ioc_events_invalid_total") == 8
    first_claims: dict[str, str] = {}
    for claim in claims:
        assert claim is not None
        first_claims.setdefault(claim.entity_id, claim.district)
    assert len(first_claims) == 8 and len(claims) >= 8
    refused = Counter((letter.origin_partition, letter.origin_offset) for letter in letters)
    assert len(letters) == 16 and set(refused.values()) == {2}, "both refused the same events"
    for letter in letters:
        assert letter.reason_kind == "entity_district"
        entity = orjson.loads(letter.raw or b"")["sensor_id"]
        assert f"under district {first_claims[entity]!r}" in letter.reason
