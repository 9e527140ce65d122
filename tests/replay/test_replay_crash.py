"""Kill -9 the worker mid-stream (simulator faults on): replay still finds no difference.

Invariant 2 seen from the audit side: KPI rows written through crashes and redeliveries
equal those recomputed from the raw events by an undisturbed pipeline.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.replay.support import (
    produce_sim,
    sim_messages,
    sim_start,
    sink_and_replay,
    wait_consumed,
    wait_settled,
)
from tests.streams.support import PrivateBroker, WorkerProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MINUTES = 60


def test_worker_killed_mid_stream_matches_replay(
    tmp_path: Path, new_database: Callable[..., str]
) -> None:
    start = sim_start(days_ago=2)
    messages = sim_messages(start, MINUTES, seed=11, every=5)
    total = len(messages)
    with PrivateBroker(tmp_path) as broker:
        asyncio.run(produce_sim(broker.bootstrap, messages))
        app_id = f"replay-crash-{uuid.uuid4().hex[:8]}"
        worker = WorkerProcess(
            broker.bootstrap, app_id, tmp_path / "worker.log", IOC_IDLE_TIMEOUT_SECONDS=3
        )
        try:
            worker.start()
            wait_consumed(worker, 0.4 * total, timeout=60)
            worker.kill9()  # mid-window: state, KPI records and offsets not all written
            worker.start()
            wait_settled(worker, broker.bootstrap, 3, timeout=90)
        finally:
            worker.stop()
        url = new_database("replay_crash")
        code, report = sink_and_replay(
            broker.bootstrap, url, tmp_path, start / 1000, start / 1000 + MINUTES * 60
        )
    assert code == 0, report["differences"][:5]
    comparison = report["comparison"]
    assert comparison["rows_compared"] > 3000
    assert comparison["rows_equal"] == comparison["rows_compared"]
    read = [s["all_read"] for s in report["topics"].values()]
    assert sum(s["read"] for s in read) == total
    assert sum(s["late"] for s in read) > 0 and sum(s["duplicate"] for s in read) > 0
