"""A worker commits what it processed: restarted, it reads nothing again.

Records reach the agents in batches (streams/worker/faust_patches.py). Faust's compiled
stream iterator acks a batch by its last offset alone; before the batch's other offsets
were registered as a gap, commits stopped after the first batch of three or more records
of a partition, and a worker restarted after a clean stop read about half of a 20,000-event
run again (idempotent state kept the rows exact, at the cost of the re-reading).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.streams.support import (
    PrivateBroker,
    WorkerProcess,
    metric_sum,
    province_messages,
    wait_for,
)
from tests.support.kafka import produce

pytestmark = pytest.mark.integration

MESSAGES = province_messages(seed=11, minutes=60)


def test_a_restarted_worker_reads_no_record_again(tmp_path: Path) -> None:
    with PrivateBroker(tmp_path) as broker:
        asyncio.run(produce(broker.bootstrap, MESSAGES))
        worker = WorkerProcess(broker.bootstrap, "commits", tmp_path / "worker.log")
        worker.start()
        try:
            wait_for(
                lambda: metric_sum(worker.metrics(), "ioc_events_consumed_total") >= len(MESSAGES),
                180,
                "every record consumed",
            )
            time.sleep(3)  # the last batches acked and committed (every second)
        finally:
            worker.stop()
        worker.start()
        try:
            wait_for(
                lambda: metric_sum(worker.metrics(), "ioc_worker_partitions") > 0,
                120,
                "the restarted worker holding its partitions",
            )
            time.sleep(10)
            samples = worker.metrics()
        finally:
            worker.stop()
    assert metric_sum(samples, "ioc_events_redelivered_total") == 0
    assert metric_sum(samples, "ioc_events_consumed_total") == 0
