"""A worker refuses raw topics whose partition count is not ``IOC_PARTITIONS`` (real broker).

Windows live in the partition of their district, computed from ``IOC_PARTITIONS``; on a
topic with another count every re-routed record would go to a partition that does not hold
its district (or does not exist).
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from schemas.topics import FARM_TOPIC, RAW_TOPICS
from streams.worker.preflight import check_partitions, partition_counts, partition_mismatches
from tests.streams.support import PrivateBroker, WorkerProcess

pytestmark = pytest.mark.integration


def test_partition_mismatches_names_each_topic_and_the_fix() -> None:
    problems = partition_mismatches({"b": 4, "a": 3, "c": 8}, 4)
    assert len(problems) == 2
    assert problems[0].startswith("topic a has 3 partitions but IOC_PARTITIONS is 4")
    assert "IOC_PARTITIONS=3" in problems[0]
    assert problems[1].startswith("topic c has 8 partitions")


def test_a_worker_refuses_topics_with_another_partition_count(tmp_path: Path) -> None:
    with PrivateBroker(tmp_path, partitions=3) as broker:
        counts = asyncio.run(partition_counts(broker.bootstrap, [*RAW_TOPICS, "absent.topic"]))
        assert counts == dict.fromkeys(RAW_TOPICS, 3)
        assert check_partitions(broker.bootstrap, RAW_TOPICS, 3) == []

        worker = WorkerProcess(
            broker.bootstrap, "preflight", tmp_path / "worker.log", IOC_PARTITIONS=4
        ).start()
        assert worker.proc is not None
        try:
            code = worker.proc.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill9()
            pytest.fail("the worker started on topics with 3 partitions and IOC_PARTITIONS=4")
        log = (tmp_path / "worker.log").read_text()
        assert code == 2, log
        assert f"topic {FARM_TOPIC} has 3 partitions but IOC_PARTITIONS is 4" in log
        assert "IOC_PARTITIONS=3" in log


def test_an_unanswering_broker_is_not_a_mismatch() -> None:
    assert check_partitions("127.0.0.1:9", RAW_TOPICS, 4) == []
