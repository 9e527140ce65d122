"""Nothing lost: with every simulator fault switched on, every consumed record is windowed,
dead-lettered, late or a duplicate, and the dead-letter and late topics hold exactly the
records counted as such. The simulated period ends a few minutes ago, so future-dated
faults are in the future of their record timestamps, as in production."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import orjson
import pytest

from tests.streams.support import (
    IOC,
    PrivateBroker,
    WorkerProcess,
    metric_sum,
    read_jsonl,
    wait_for,
)
from tests.support.kafka import produce, read_topic

pytestmark = [pytest.mark.integration]


def test_consumed_equals_windowed_plus_deadlettered_plus_late_plus_duplicates(
    tmp_path: Path,
) -> None:
    events, summary_file = tmp_path / "events.jsonl", tmp_path / "summary.json"
    subprocess.run(
        [
            IOC, "simulate", "--sim-duration=20m", "--seed=11", "--start=now-25m",
            "--malformed=0.01", "--invalid=0.01", "--duplicates=0.02", "--late=0.01",
            "--future=0.005", "--out-of-order=0.05",
            f"--out={events}", f"--summary-json={summary_file}",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    summary = json.loads(summary_file.read_text())
    messages = read_jsonl(events)
    assert len(messages) == summary["totals"]["messages"]
    expected_rejections = sum(summary["totals"]["rejected"].values())
    with PrivateBroker(tmp_path) as broker:
        asyncio.run(produce(broker.bootstrap, messages))
        worker = WorkerProcess(broker.bootstrap, "conservation", tmp_path / "worker.log").start()
        try:
            wait_for(
                lambda: metric_sum(worker.metrics(), "ioc_events_consumed_total") >= len(messages),
                120,
                "every record consumed",
            )
            samples = worker.metrics()
        finally:
            worker.stop()
        deadletters = asyncio.run(read_topic(broker.bootstrap, "city.deadletter.v1"))
        lates = asyncio.run(read_topic(broker.bootstrap, "city.late.v1"))
    consumed = metric_sum(samples, "ioc_events_consumed_total")
    windowed = metric_sum(samples, "ioc_events_windowed_total")
    invalid = metric_sum(samples, "ioc_events_invalid_total")
    late = metric_sum(samples, "ioc_events_late_total")
    duplicates = metric_sum(samples, "ioc_events_duplicate_total")
    assert consumed == len(messages)
    assert windowed + invalid + late + duplicates == consumed
    assert invalid == expected_rejections == len(deadletters)
    assert late == len(lates) > 0
    assert duplicates >= summary["totals"]["faults"]["duplicate"] > 0
    reasons = {orjson.loads(r.value)["reason_kind"] for r in deadletters}
    assert {"malformed", "invalid", "future"} <= reasons
