"""Exactness under failure: kill -9 and rebalances give the rows of an undisturbed run.

Each run gets a private broker; the same messages (with duplicates, late and malformed
records) go through an undisturbed worker and through a disturbed one, and the final KPI
tables (what an upserting sink holds) must be equal, value for value.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.streams.support import (
    PrivateBroker,
    WorkerProcess,
    metric_sum,
    province_messages,
    wait_for,
)
from tests.support.kafka import produce, read_topic
from tests.support.tables import kpis_on_topic

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KpiTable = dict[tuple[str, ...], tuple[float, int]]
MESSAGES = province_messages(seed=7, minutes=200)
RATE = 600.0
"""Events per second: the stream lasts about 30 s, so that workers join, leave and crash
while it flows (a faster stream is all read before a second worker gets partitions)."""


def settle(workers: list[WorkerProcess], bootstrap: str, timeout: float = 240) -> None:
    """Until the workers hold every partition, lag nowhere and city.kpi.v1 stopped growing.

    The last windows of these old events stay open (only a live partition closes windows
    by wall clock), in the disturbed and the undisturbed run alike."""
    deadline = time.monotonic() + timeout
    last, stable_since = -1, time.monotonic()
    while True:
        samples = [w.metrics() for w in workers]
        held = sum(m.get("ioc_worker_partitions", 0) for m in samples)
        lags = [
            v for m in samples for k, v in m.items() if k.startswith("ioc_consumer_lag_messages{")
        ]
        kpis = len(asyncio.run(read_topic(bootstrap, "city.kpi.v1")))
        now = time.monotonic()
        if kpis != last or held < 12 or len(lags) < 12 or any(lags):
            last, stable_since = kpis, now
        elif now - stable_since >= 6:
            return
        if now > deadline:
            raise AssertionError(
                f"not settled: {held} partitions held, lags {lags}, {kpis} KPI records"
            )
        time.sleep(1)


def _run(
    tmp: Path,
    name: str,
    disturb: Callable[[PrivateBroker, list[WorkerProcess]], None] | None,
    samples: list[dict[str, float]] | None = None,
) -> KpiTable:
    """The KPI table of one run; the workers' last metrics go to ``samples`` when given."""
    with PrivateBroker(tmp) as broker:
        worker = WorkerProcess(broker.bootstrap, name, tmp / f"{name}-worker.log").start()
        workers = [worker]
        producer = threading.Thread(
            target=lambda: asyncio.run(produce(broker.bootstrap, MESSAGES, rate=RATE))
        )
        producer.start()
        try:
            if disturb is not None:
                disturb(broker, workers)
            producer.join()
            settle(workers, broker.bootstrap)
            if samples is not None:
                samples.extend(w.metrics() for w in workers)
        finally:
            producer.join()
            for w in workers:
                w.stop()
        return kpis_on_topic(broker.bootstrap)


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory: pytest.TempPathFactory) -> KpiTable:
    table = _run(tmp_path_factory.mktemp("undisturbed"), "calm", None)
    assert len(table) > 10_000
    return table


def _assert_same(expected: KpiTable, got: KpiTable) -> None:
    missing = expected.keys() - got.keys()
    extra = got.keys() - expected.keys()
    changed = [k for k in expected.keys() & got.keys() if expected[k] != got[k]]
    assert not missing and not extra and not changed, (
        f"{len(missing)} missing, {len(extra)} extra, {len(changed)} changed; "
        f"e.g. {sorted(missing)[:2]} {sorted(extra)[:2]} "
        f"{[(k, expected[k], got[k]) for k in changed[:2]]}"
    )


def test_kill9_mid_window_gives_the_rows_of_an_undisturbed_run(
    tmp_path: Path, undisturbed: KpiTable
) -> None:
    rng = random.Random(3)

    def crash(broker: PrivateBroker, workers: list[WorkerProcess]) -> None:
        worker = workers[0]
        for _ in range(3):
            busy_by = time.monotonic() + 40  # the last restart may find nothing left to do
            while metric_sum(worker.metrics(), "ioc_events_consumed_total") <= 300:
                if time.monotonic() > busy_by:
                    break
                time.sleep(0.2)
            time.sleep(rng.uniform(0.5, 3.0))
            worker.kill9()
            worker.start()

    _assert_same(undisturbed, _run(tmp_path, "crashy", crash))


def test_broker_kill9_and_restart_mid_stream_gives_the_rows_of_an_undisturbed_run(
    tmp_path: Path, undisturbed: KpiTable
) -> None:
    """The broker is SIGKILLed while the worker consumes the paced stream and restarted on
    the same data dir and port; the worker reconnects (or is restarted when it gave up)."""
    outage: dict[str, float] = {}

    def crash_broker(broker: PrivateBroker, workers: list[WorkerProcess]) -> None:
        worker = workers[0]
        wait_for(
            lambda: metric_sum(worker.metrics(), "ioc_events_windowed_total") > 3000,
            120,
            "the worker to window events",
        )
        broker.kill9()
        time.sleep(1.0)
        outage["restart_s"] = broker.restart()
        time.sleep(5.0)
        if worker.proc is not None and worker.proc.poll() is not None:
            outage["worker_exit"] = float(worker.proc.returncode)
            worker.start()

    samples: list[dict[str, float]] = []
    got = _run(tmp_path, "brokerkill", crash_broker, samples)
    print(f"broker restart to answering: {outage}")
    _assert_same(undisturbed, got)
    [metrics] = samples
    consumed = metric_sum(metrics, "ioc_events_consumed_total")
    outcomes = {
        kind: metric_sum(metrics, f"ioc_events_{kind}_total")
        for kind in ("windowed", "invalid", "late", "duplicate")
    }
    assert consumed == sum(outcomes.values()), (consumed, outcomes)
    if "worker_exit" not in outage:
        assert consumed >= len(MESSAGES), (consumed, len(MESSAGES))


def test_worker_joining_and_leaving_mid_stream_changes_no_row(
    tmp_path: Path, undisturbed: KpiTable
) -> None:
    def rebalance(broker: PrivateBroker, workers: list[WorkerProcess]) -> None:
        first = workers[0]
        wait_for(
            lambda: metric_sum(first.metrics(), "ioc_events_windowed_total") > 500,
            120,
            "the first worker to process events",
        )
        second = WorkerProcess(broker.bootstrap, "rebal", tmp_path / "second.log").start()
        workers.append(second)
        wait_for(
            lambda: metric_sum(second.metrics(), "ioc_events_consumed_total") > 100,
            120,
            "the second worker to get partitions",
        )
        second.stop()
        workers.remove(second)

    _assert_same(undisturbed, _run(tmp_path, "rebal", rebalance))


def test_messages_fixture_has_every_fault() -> None:
    values = [m[2] for m in MESSAGES]
    assert len(values) != len(set(values)), "duplicates"
    assert any(v is not None and b"-late" in v for v in values), "late events"
    assert any(v == b'{"event_id": 42' for v in values), "malformed records"
