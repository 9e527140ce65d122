"""Helpers of the replay tests: simulated events, and the real worker + sink run to completion.

The broker is private per test module (``tests.streams.support.PrivateBroker``): the raw
topics have fixed names, so sharing the dev broker would mix other tests' events in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorLoadInProgressError, GroupCoordinatorNotAvailableError

from ioc.cli import main
from schemas.topics import KPI_TOPIC, RAW_TOPICS
from simulator.faults import FaultRates
from simulator.generator import Message, SimConfig, generate
from simulator.province import Province, build_province
from streams.replay.broker_quirks import true_end_offsets
from streams.replay.times import iso
from tests.streams.support import IOC, WorkerProcess, metric_sum
from tests.support.kafka import event_ends

FAULTS = FaultRates(
    malformed=0.01, invalid=0.01, duplicates=0.03, late=0.03, future=0.01, out_of_order=0.05
)


def sim_start(days_ago: int = 1) -> int:
    """09:00 in Vietnam (02:00 UTC) ``days_ago`` days ago, in ms: office hours for the portal."""
    today = dt.datetime.now(dt.UTC).replace(hour=2, minute=0, second=0, microsecond=0)
    return int((today - dt.timedelta(days=days_ago)).timestamp() * 1000)


def small_province(seed: int, every: int = 12) -> Province:
    """Every ``every``-th site and sensor and a tenth of the agencies of the province."""
    full = build_province(seed)
    return Province(
        agencies=full.agencies[:: max(1, every // 2)],
        sites=full.sites[::every],
        sensors=full.sensors[::every],
    )


def sim_messages(
    start_ms: int, minutes: int, *, seed: int = 7, faults: FaultRates = FAULTS, every: int = 12
) -> list[Message]:
    """Simulated messages of ``minutes`` from ``start_ms`` with faults, small province."""
    config = SimConfig(
        start_ms=start_ms, end_ms=start_ms + minutes * 60_000, seed=seed, faults=faults
    )
    return list(generate(config, small_province(seed, every)))


async def produce_sim(bootstrap: str, messages: Sequence[Message]) -> None:
    """Produce messages with the simulated clock as record timestamp (keyed partitioning)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks=1, linger_ms=10, max_batch_size=1 << 20
    )
    await producer.start()
    try:
        futures = [
            await producer.send(m.topic, m.value, key=m.key, timestamp_ms=m.sim_ms)
            for m in messages
        ]
        await producer.flush()
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _committed_and_ends(bootstrap: str, group: str) -> tuple[int, int, int]:
    """(records committed by ``group`` on the raw topics, raw end total, kpi end total).

    Committed offsets come from the admin API: a consumer started with the worker's group
    id would disturb that group.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = await admin.describe_topics([*RAW_TOPICS, KPI_TOPIC])
        partitions = {t["topic"]: [p["partition"] for p in t["partitions"]] for t in topics}
        raw = [TopicPartition(t, p) for t in RAW_TOPICS for p in partitions.get(t, [])]
        kpi = [TopicPartition(KPI_TOPIC, p) for p in partitions.get(KPI_TOPIC, [])]
        try:
            offsets = await admin.list_consumer_group_offsets(group, partitions=raw)
        except (GroupCoordinatorNotAvailableError, CoordinatorLoadInProgressError):
            offsets = {}  # a fresh broker creates its offsets topic with the first group
    finally:
        await admin.close()
    done = {tp: max(0, meta.offset) for tp, meta in offsets.items() if tp.topic in RAW_TOPICS}
    ends = await true_end_offsets(bootstrap, raw + kpi)
    committed, raw_end = sum(done.values()), sum(ends[tp] for tp in raw)
    if committed < raw_end:  # progress markers appended last may not have been read yet
        events = await event_ends(bootstrap, RAW_TOPICS)
        if all(done.get(tp, 0) >= end for tp, end in events.items()):
            committed = raw_end
    return committed, raw_end, sum(ends[tp] for tp in kpi)


def wait_worker_done(bootstrap: str, app_id: str, stable_seconds: float, timeout: float) -> None:
    """Until the worker committed every raw record and city.kpi.v1 did not grow for
    ``stable_seconds`` (longer than the idle timeout when idle partitions must close)."""
    deadline = time.monotonic() + timeout
    last_kpi, stable_since = -1, time.monotonic()
    while True:
        committed, raw_end, kpi_end = asyncio.run(_committed_and_ends(bootstrap, app_id))
        now = time.monotonic()
        if kpi_end != last_kpi or committed < raw_end:
            last_kpi, stable_since = kpi_end, now
        elif kpi_end > 0 and now - stable_since > stable_seconds:
            return
        if now > deadline:
            raise AssertionError(
                f"worker not done after {timeout}s: committed {committed}/{raw_end}, "
                f"kpi records {kpi_end}"
            )
        time.sleep(0.5)


async def _kpi_end(bootstrap: str) -> int:
    """Records on city.kpi.v1 so far."""
    tps = [TopicPartition(KPI_TOPIC, p) for p in range(4)]
    return sum((await true_end_offsets(bootstrap, tps)).values())


def wait_settled(
    worker: WorkerProcess, bootstrap: str, stable_seconds: float, timeout: float
) -> None:
    """Until the (restarted) worker holds every partition, lags nowhere and city.kpi.v1 did
    not grow for ``stable_seconds`` (its commits may trail behind). Windows of old events
    stay open: only a live partition closes them by wall clock."""
    deadline = time.monotonic() + timeout
    last_kpi, stable_since = -1, time.monotonic()
    while True:
        samples = worker.metrics()
        # a restarted worker may only re-read what it applied before: redeliveries
        consumed = metric_sum(samples, "ioc_events_consumed_total") + metric_sum(
            samples, "ioc_events_redelivered_total"
        )
        lag = metric_sum(samples, "ioc_consumer_lag")
        lags = sum(1 for k in samples if k.startswith("ioc_consumer_lag_messages{"))
        held = samples.get("ioc_worker_partitions", 0)
        kpi_end = asyncio.run(_kpi_end(bootstrap))
        now = time.monotonic()
        # consumed may stay 0: under load the killed worker may have committed everything
        up = bool(samples)
        if kpi_end != last_kpi or not (up and lag == 0 and lags >= held == 12):
            last_kpi, stable_since = kpi_end, now
        elif now - stable_since > stable_seconds:
            return
        if now > deadline:
            raise AssertionError(
                f"worker not settled after {timeout}s: read {consumed}, lag {lag} over "
                f"{lags} partitions, {held} held, kpi records {kpi_end}"
            )
        time.sleep(0.5)


def wait_consumed(worker: WorkerProcess, at_least: float, timeout: float) -> None:
    """Until the worker's ioc_events_consumed_total (this process) reaches ``at_least``."""
    deadline = time.monotonic() + timeout
    while True:
        samples = worker.metrics()
        done = sum(v for k, v in samples.items() if k.startswith("ioc_events_consumed_total"))
        if done >= at_least:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"worker consumed {done} < {at_least} after {timeout}s")
        time.sleep(0.05)


def run_sink(bootstrap: str, database_url: str, log: Path) -> None:
    """``ioc sink --until-idle 3 --migrate`` to completion."""
    env = {**os.environ, "IOC_KAFKA_BOOTSTRAP": bootstrap, "IOC_SINK_GROUP": "replay-test-sink"}
    with open(log, "ab") as out:
        subprocess.run(
            [
                str(IOC),
                "sink",
                "--database-url",
                database_url,
                "--until-idle",
                "3",
                "--migrate",
                "--no-metrics",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=120,
        )


def sink_and_replay(
    bootstrap: str, database_url: str, tmp_path: Path, start: float, end: float, *options: str
) -> tuple[int, dict[str, Any]]:
    """Write the broker's KPI rows with ``ioc sink``, then run ``ioc replay`` over
    ``[start, end)`` (epoch seconds) against that database: its exit code and JSON report."""
    run_sink(bootstrap, database_url, tmp_path / "sink.log")
    report_path = tmp_path / "report.json"
    code = main(
        [
            "replay", "--from", iso(start), "--to", iso(end), "--bootstrap", bootstrap,
            "--database-url", database_url, "--no-progress", "--report", str(report_path),
            *options,
        ]
    )  # fmt: skip
    report: dict[str, Any] = orjson.loads(report_path.read_bytes())
    return code, report
