"""A client nobody here wrote: Debian's ``kcat`` (librdkafka) produces the raw events and
reads what a real ``ioc worker`` wrote to city.kpi.v1, city.deadletter.v1 and city.late.v1.

Batch one is keyed by district with ``partitioner=murmur2_random`` (Kafka's default
partitioner, the product's key contract in streams/routing.py) and holds one late event;
batch two uses kcat's default ``consistent_random`` partitioner (CRC32 of the key), which
puts some districts in other partitions: the worker re-routes those to their districts'
partitions, so every KPI is as if kcat had used murmur2, and no record is dead-lettered.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from schemas.decode import read_deadletter
from schemas.places import District
from schemas.topics import DEADLETTER_TOPIC, FARM_TOPIC, KPI_TOPIC, LATE_TOPIC
from streams.routing import district_partition
from tests.streams.support import PrivateBroker, WorkerProcess, metric_sum, wait_for
from tests.support.readings import salinity_reading

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("kcat") is None, reason="kcat is missing: ./run.sh setup installs it"
    ),
]

PARTITIONS = 4
START = dt.datetime(2026, 3, 10, 6, 0, tzinfo=dt.UTC)
MINUTES = 5


def reading(event_id: str, district: str, at: dt.datetime) -> bytes:
    """A salinity reading of ``district``'s first sensor at ``at``."""
    return salinity_reading(
        event_id, at, district, f"{district}-sal-1", source="kcat", farm_id=f"{district}-farm"
    )


def kcat_produce(bootstrap: str, lines: list[tuple[str, bytes]], *options: str) -> None:
    """``kcat -P``: one record per line, the key before a tab."""
    text = b"".join(key.encode() + b"\t" + value + b"\n" for key, value in lines)
    argv = ["kcat", "-P", "-b", bootstrap, "-t", FARM_TOPIC, "-K", "\t", *options]
    subprocess.run(argv, input=text, check=True, timeout=60)


def kcat_read(bootstrap: str, topic: str) -> list[tuple[int, int, bytes]]:
    """``kcat -C -e -o beginning``: (partition, offset, value) of every record of ``topic``."""
    argv = ["kcat", "-C", "-b", bootstrap, "-t", topic, "-e", "-o", "beginning", "-q"]
    out = subprocess.run(
        [*argv, "-f", "%p\t%o\t%s\n"], capture_output=True, check=True, timeout=60
    ).stdout
    records = []
    for line in out.splitlines():
        partition, offset, value = line.split(b"\t", 2)
        records.append((int(partition), int(offset), value))
    return records


def test_kcat_in_and_out_of_a_real_worker(tmp_path: Path) -> None:
    districts = [d.value for d in District]
    murmur = [
        (d, reading(f"m-{d}-{m}", d, START + dt.timedelta(minutes=m, seconds=10)))
        for m in range(MINUTES)
        for d in districts
    ]
    late = ("long-my", reading("late-1", "long-my", START - dt.timedelta(minutes=10)))
    second = [
        (d, reading(f"c-{d}", d, START + dt.timedelta(minutes=MINUTES, seconds=5)))
        for d in districts
    ]
    closing = [
        (d, reading(f"z-{d}", d, START + dt.timedelta(minutes=MINUTES + 2))) for d in districts
    ]
    with PrivateBroker(tmp_path, partitions=PARTITIONS) as broker:
        kcat_produce(broker.bootstrap, [*murmur, late], "-X", "partitioner=murmur2_random")
        kcat_produce(broker.bootstrap, second)
        raw = kcat_read(broker.bootstrap, FARM_TOPIC)
        total = len(murmur) + 1 + len(second)
        assert len(raw) == total
        placed = {orjson.loads(value)["event_id"]: (p, o) for p, o, value in raw}
        assert all(
            placed[f"m-{d}-{m}"][0] == district_partition(d, PARTITIONS)
            for d in districts
            for m in range(MINUTES)
        ), "murmur2_random put a district outside its partition"
        misrouted = [
            d for d in districts if placed[f"c-{d}"][0] != district_partition(d, PARTITIONS)
        ]
        assert misrouted, "consistent_random put every district in its murmur2 partition"

        worker = WorkerProcess(broker.bootstrap, "kcat", tmp_path / "worker.log").start()
        try:
            wait_for(
                lambda: (
                    metric_sum(worker.metrics(), "ioc_events_consumed_total")
                    >= total + len(misrouted)
                ),
                120,
                "every record and every re-routed copy consumed",
            )
            # Later events close the minute of batch two, re-routed copies included.
            kcat_produce(broker.bootstrap, closing, "-X", "partitioner=murmur2_random")
            total += len(closing)
            wait_for(
                lambda: (
                    metric_sum(worker.metrics(), "ioc_events_consumed_total")
                    >= total + len(misrouted)
                    and metric_sum(worker.metrics(), "ioc_windows_closed_total") > 0
                ),
                120,
                "the closing events consumed",
            )
            samples = worker.metrics()
        finally:
            worker.stop()
        kpis = kcat_read(broker.bootstrap, KPI_TOPIC)
        letters = [read_deadletter(v) for _, _, v in kcat_read(broker.bootstrap, DEADLETTER_TOPIC)]
        lates = [orjson.loads(v) for _, _, v in kcat_read(broker.bootstrap, LATE_TOPIC)]

    windows = [w for _, _, value in kpis for w in orjson.loads(value)]
    assert {w["district"] for w in windows} == set(districts)
    assert all(
        w["source_partition"] == district_partition(w["district"], PARTITIONS) for w in windows
    )
    assert letters == []
    minute_of_batch_two = (START + dt.timedelta(minutes=MINUTES)).isoformat()
    counts = {
        w["district"]: w["event_count"]
        for w in windows
        if w["entity_kind"] == "district"
        and dt.datetime.fromisoformat(w["window_start"]).isoformat() == minute_of_batch_two
        and dt.datetime.fromisoformat(w["window_end"])
        - dt.datetime.fromisoformat(w["window_start"])
        == dt.timedelta(minutes=1)
    }
    assert counts == dict.fromkeys(districts, 1), "a re-routed event is missing from its minute"
    assert [x["event_id"] for x in lates] == ["late-1"]
    assert lates[0]["origin"]["partition"] == district_partition("long-my", PARTITIONS)
    consumed = metric_sum(samples, "ioc_events_consumed_total")
    assert consumed == total + len(misrouted)
    assert consumed == sum(
        metric_sum(samples, f"ioc_events_{kind}_total")
        for kind in ("windowed", "invalid", "late", "duplicate", "rerouted")
    )
    assert metric_sum(samples, "ioc_events_rerouted_total") == len(misrouted)
    assert metric_sum(samples, "ioc_events_invalid_total") == 0
