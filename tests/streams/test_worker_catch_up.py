"""A misplaced producer through a worker outage, on real Apache Kafka: its events still count.

Debian's ``kcat`` writes one district's readings into two partitions, as a producer keyed
by sensor id does: sensor ``ct-1`` into the district's partition, ``ct-2`` into another.
A real ``ioc worker`` windows the first five minutes (it starts on the first, so that the
partitions have told each other their progress before the rest comes) and stops; while it
is down, twenty minutes more are written. When it starts again, the district's partition
has a backlog of twenty minutes, and the copies of ``ct-2``'s readings are appended after
it. Each of the district's minutes must still hold both sensors' readings, and nothing may
be late: the progress markers (streams/progress.py) hold the district's windows open until
the other partition has read as far. Without them, the copies of the outage were late (the test
fails when copies are judged by the partition's own watermark).
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from schemas.topics import FARM_TOPIC, KPI_TOPIC, LATE_TOPIC
from streams.routing import district_partition
from tests.streams.support import PrivateBroker, WorkerProcess, metric_sum, wait_for
from tests.streams.test_worker_kcat import kcat_read
from tests.support.readings import salinity_reading

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("kcat") is None, reason="kcat is missing: ./run.sh setup installs it"
    ),
]

PARTITIONS = 4
DISTRICT = "chau-thanh"
HOME = district_partition(DISTRICT, PARTITIONS)
AWAY = (HOME + 1) % PARTITIONS
T0 = dt.datetime(2026, 3, 10, 6, 0, tzinfo=dt.UTC)
LIVE, DOWN = 5, 20
"""Minutes written before the outage, and during it."""


def reading(sensor: str, second: int) -> bytes:
    """A salinity reading of ``sensor`` of the district, ``second`` s after T0."""
    at = T0 + dt.timedelta(seconds=second)
    return salinity_reading(
        f"{sensor}-{second}", at, DISTRICT, sensor, source="kcat", farm_id="ct-farm"
    )


def kcat_into(bootstrap: str, partition: int, values: list[bytes]) -> None:
    """``kcat -P -p``: the records, without key, into one partition."""
    argv = ["kcat", "-P", "-b", bootstrap, "-t", FARM_TOPIC, "-p", str(partition)]
    subprocess.run(argv, input=b"".join(v + b"\n" for v in values), check=True, timeout=60)


def write_minutes(bootstrap: str, first: int, minutes: int) -> int:
    """One reading of each sensor every 10 s; returns how many records were written."""
    seconds = range(first * 60, (first + minutes) * 60, 10)
    kcat_into(bootstrap, HOME, [reading("ct-1", s) for s in seconds])
    kcat_into(bootstrap, AWAY, [reading("ct-2", s) for s in seconds])
    return 2 * len(seconds)


def balanced(samples: dict[str, float]) -> bool:
    """consumed = windowed + dead-lettered + late + duplicates + re-routed."""
    consumed = metric_sum(samples, "ioc_events_consumed_total")
    return consumed == sum(
        metric_sum(samples, f"ioc_events_{kind}_total")
        for kind in ("windowed", "invalid", "late", "duplicate", "rerouted")
    )


def test_copies_of_an_outage_are_windowed_after_the_restart(tmp_path: Path) -> None:
    with PrivateBroker(tmp_path, partitions=PARTITIONS) as broker:
        sent = write_minutes(broker.bootstrap, 0, 1)
        worker = WorkerProcess(broker.bootstrap, "catch-up", tmp_path / "worker.log")
        worker.start()
        try:
            wait_for(
                lambda: _markers_read(worker.metrics()) > 0,
                120,
                "a first progress marker read (a peer that never spoke holds nothing back)",
            )
            sent += write_minutes(broker.bootstrap, 1, LIVE - 1)
            wait_for(
                lambda: (
                    metric_sum(worker.metrics(), "ioc_events_consumed_total") >= sent + sent // 2
                ),
                120,
                "the live minutes consumed, copies included",
            )
            first = worker.metrics()
            worker.stop()

            down = write_minutes(broker.bootstrap, LIVE, DOWN)
            worker.start()
            wait_for(
                lambda: (
                    metric_sum(worker.metrics(), "ioc_events_consumed_total") >= down + down // 2
                ),
                120,
                "the outage's backlog consumed, copies included",
            )
            closing = write_minutes(broker.bootstrap, LIVE + DOWN + 1, 1)
            last_minute = (T0 + dt.timedelta(minutes=LIVE + DOWN - 1)).isoformat()
            wait_for(
                lambda: any(w["window_start"] == last_minute for w in _district_minutes(broker)),
                120,
                "the outage's last minute closed",
            )
            second = worker.metrics()
        finally:
            worker.stop()
        windows = _district_minutes(broker)
        lates = kcat_read(broker.bootstrap, LATE_TOPIC)

    assert lates == []
    counts = {w["window_start"]: w["event_count"] for w in windows}
    minutes = [(T0 + dt.timedelta(minutes=m)).isoformat() for m in range(LIVE + DOWN)]
    assert {m: counts.get(m) for m in minutes} == dict.fromkeys(minutes, 12), (
        "each minute holds 6 readings of each sensor"
    )
    assert metric_sum(first, "ioc_events_rerouted_total") == sent // 2
    assert metric_sum(second, "ioc_events_rerouted_total") >= down // 2
    assert metric_sum(second, "ioc_events_late_total") == 0
    assert balanced(first) and balanced(second)
    assert closing == 12


def _markers_read(samples: dict[str, float]) -> float:
    return sum(v for k, v in samples.items() if k.startswith("ioc_progress_markers_total{")
               and 'direction="read"' in k)  # fmt: skip


def _district_minutes(broker: PrivateBroker) -> list[dict[str, object]]:
    """The district's 1-minute windows on city.kpi.v1, window starts in ISO form."""
    out = []
    for _, _, value in kcat_read(broker.bootstrap, KPI_TOPIC):
        for w in orjson.loads(value):
            start = dt.datetime.fromisoformat(w["window_start"])
            end = dt.datetime.fromisoformat(w["window_end"])
            if w["entity_kind"] == "district" and end - start == dt.timedelta(minutes=1):
                out.append({**w, "window_start": start.isoformat()})
    return out
