"""Worker throughput, in one run on the same topics of a private broker:

(a) plain aiokafka consume + JSON decode + dict aggregation (the ceiling),
(b) a naive Faust tumbling windowed table (bench/naive_faust_app.py, the baseline),
(c) our worker with all windows (``ioc worker``: validation, 1 min + 1 h + hopping
    15/1 min windows, changelog state, KPI rows),
(d) the floor: our worker's Faust options, patches and batch lanes with agents that only
    count their batches (bench/faust_floor_app.py): no worker on this setup can beat it.

Input: the province simulator (``ioc simulate --events N``). Prints events/s and ratios
and writes the "## Streams" section of BENCHMARKS.md.

    .venv/bin/python bench/streams_bench.py --events 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402
from ioc.processes import Usage  # noqa: E402
from schemas.topics import RAW_TOPICS  # noqa: E402
from streams.replay.broker_quirks import true_end_offsets  # noqa: E402
from tests.streams.support import (  # noqa: E402
    IOC,
    PrivateBroker,
    WorkerProcess,
    metric_sum,
    read_jsonl,
)
from tests.support.kafka import produce  # noqa: E402


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def plain_loop(bootstrap: str, expected: int) -> tuple[float, float]:
    """(a): consume every raw record, decode, count and sum per district and minute; its
    seconds and CPU seconds."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=8 << 20,
    )
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in RAW_TOPICS for p in range(4)]
        ends = await true_end_offsets(bootstrap, tps)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        windows: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0, 0.0])
        seen = 0
        start, cpu_start = time.perf_counter(), time.process_time()
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=200, max_records=20000)
            for tp, records in batch.items():
                for record in records:
                    seen += 1
                    try:
                        event = orjson.loads(record.value)
                        key = (event["district"], int(record.timestamp // 60000))
                        acc = windows[key]
                        acc[0] += 1
                        acc[1] += float(event.get("value") or 0.0)
                    except Exception:
                        continue
                if records and records[-1].offset + 1 >= ends[tp]:
                    pending.discard(tp)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        assert seen == expected, (seen, expected)
        return elapsed, cpu
    finally:
        await consumer.stop()


def faust_app(module: str, bootstrap: str, expected: int, log_dir: Path, run: int = 0) -> float:
    """Run the Faust app ``module`` (consumer group of its own per ``run``) until it has
    seen every event; its seconds."""
    name = f"{module.rsplit('.', 1)[-1]}-{run}"
    done = log_dir / f"{name}.done"
    env = {
        **os.environ,
        "BENCH_APP_ID": f"bench-{name}",
        "IOC_KAFKA_BOOTSTRAP": bootstrap,
        "BENCH_EVENTS": str(expected),
        "BENCH_DONE_FILE": str(done),
        "PYTHONPATH": str(ROOT),
        "APP_DATADIR": str(log_dir / f"{name}-data"),
        "IOC_STATE_DIR": str(log_dir),
    }
    faust_bin = str(Path(sys.executable).parent / "faust")
    with (log_dir / f"{name}.log").open("wb") as log:
        proc = subprocess.Popen(
            [faust_bin, "-A", module, "worker", "-l", "warn"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 1800
            while not done.exists():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{module} failed; see {log_dir / name}.log")
                time.sleep(0.5)
            return float(done.read_text())
        finally:
            proc.terminate()
            proc.wait(30)


def our_worker(
    bootstrap: str,
    expected: int,
    log_dir: Path,
    app_id: str = "bench-ours",
    guarantee: str = "at_least_once",
) -> tuple[float, float, float]:
    """(c): ``ioc worker`` (Faust ``processing_guarantee`` ``guarantee``) from the start of
    its first processing step to the end of the step that consumed the last event; returns
    (seconds, rss MiB, CPU seconds of the worker process over the same span)."""
    worker = WorkerProcess(
        bootstrap,
        app_id,
        log_dir / f"{app_id}.log",
        IOC_IDLE_TIMEOUT_SECONDS=3600,
        IOC_PROCESSING_GUARANTEE=guarantee,
    ).start()
    names = ("ioc_events_consumed_total", "ioc_worker_steps_in_progress")
    pid = worker.proc.pid if worker.proc else 0
    try:
        first = None
        cpu_first = 0.0
        deadline = time.monotonic() + 1800
        while True:
            samples = worker.metrics(*names)
            now = time.perf_counter()
            consumed = metric_sum(samples, names[0])
            if first is None and (consumed > 0 or metric_sum(samples, names[1]) > 0):
                first = now
                cpu_first = _cpu_seconds(pid)
            if consumed >= expected:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"our worker stalled at {consumed}; see {log_dir}")
            time.sleep(0.05)
        assert first is not None
        return now - first, _rss_mib(pid), _cpu_seconds(pid) - cpu_first
    finally:
        worker.stop()


def _cpu_seconds(pid: int) -> float:
    usage = Usage.of(pid)
    assert usage is not None, "the worker is gone"
    return usage.cpu_seconds


def _rss_mib(pid: int) -> float:
    usage = Usage.of(pid)
    return 0.0 if usage is None else usage.rss_bytes / 2**20


def main() -> None:
    args = _arguments()
    work = Path(tempfile.mkdtemp(prefix="ioc-bench-streams-"))
    messages = read_jsonl(_simulate(args.events, args.seed, work))
    with PrivateBroker(work) as broker:
        asyncio.run(produce(broker.bootstrap, messages))
        n = len(messages)
        seconds, cpu, rss = _measure(broker.bootstrap, n, work, args.repeat, args.exactly_once)
    text = "\n".join(_report(n, args, seconds, cpu, rss))
    print(text)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "Streams", text)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each path; the median is reported"
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    parser.add_argument(
        "--exactly-once",
        action="store_true",
        help="also run (e): our worker with processing_guarantee=exactly_once",
    )
    return parser.parse_args()


def _simulate(events: int, seed: int, work: Path) -> Path:
    """The simulator's events as a JSONL file in ``work``."""
    say(f"generating {events:,} simulator events ...")
    events_file = work / "events.jsonl"
    subprocess.run(
        [
            IOC,
            "simulate",
            f"--events={events}",
            f"--seed={seed}",
            "--start=2026-03-10T00:00:00Z",
            f"--out={events_file}",
        ],
        check=True,
        capture_output=True,
    )
    return events_file


def _measure(
    bootstrap: str, n: int, work: Path, repeat: int, exactly_once: bool
) -> tuple[dict[str, list[float]], dict[str, list[float]], float]:
    """Seconds and CPU seconds of every path in every run, and our worker's last RSS (MiB)."""
    seconds: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    rss = 0.0
    for run in range(repeat):
        say(f"run {run + 1}/{repeat}: (a) plain aiokafka loop ...")
        plain_s, plain_cpu = asyncio.run(plain_loop(bootstrap, n))
        seconds["plain"].append(plain_s)
        cpu["plain"].append(plain_cpu)
        say("(b) naive Faust windowed table ...")
        seconds["naive"].append(faust_app("bench.naive_faust_app", bootstrap, n, work, run))
        say("(d) Faust floor: our worker's Faust setup, batches counted only ...")
        seconds["floor"].append(faust_app("bench.faust_floor_app", bootstrap, n, work, run))
        say("(c) our worker ...")
        ours, rss, ours_cpu = our_worker(bootstrap, n, work, f"bench-ours-{run}")
        seconds["ours"].append(ours)
        cpu["ours"].append(ours_cpu)
        if exactly_once:
            say("(e) our worker, processing_guarantee=exactly_once ...")
            eos, _, _ = our_worker(bootstrap, n, work, f"bench-eos-{run}", guarantee="exactly_once")
            seconds["eos"].append(eos)
        say(", ".join(f"{k} {n / v[-1]:,.0f}/s" for k, v in seconds.items()))
    return seconds, cpu, rss


def _report(
    n: int,
    args: argparse.Namespace,
    seconds: dict[str, list[float]],
    cpu: dict[str, list[float]],
    rss: float,
) -> list[str]:
    """The "## Streams" section of BENCHMARKS.md."""
    rates = {name: n / statistics.median(runs) for name, runs in seconds.items()}
    cpu_us = {name: 1e6 * statistics.median(runs) / n for name, runs in cpu.items()}
    spread = {name: f"{n / max(runs):,.0f}-{n / min(runs):,.0f}" for name, runs in seconds.items()}
    return [
        f"Input: {n:,} simulator events (3 raw topics x 4 partitions, private Apache Kafka "
        f"broker); median of {args.repeat} run(s) per path"
        + (
            f", range of events/s: (c) {spread['ours']}, (b) {spread['naive']}, "
            f"(d) {spread['floor']}."
            if args.repeat > 1
            else "."
        ),
        "",
        "| path | events/s | vs naive Faust | CPU us per event |",
        "|---|---|---|---|",
        f"| (a) aiokafka consume + decode + dict aggregation (ceiling) | {rates['plain']:,.0f} "
        f"| {rates['plain'] / rates['naive']:.1f}x | {cpu_us['plain']:.1f} |",
        f"| (b) naive Faust tumbling windowed table (baseline) | {rates['naive']:,.0f} | 1.0x "
        "| - |",
        f"| (c) our worker, all windows + validation + KPI rows | {rates['ours']:,.0f} "
        f"| {rates['ours'] / rates['naive']:.1f}x | {cpu_us['ours']:.1f} |",
        f"| (d) Faust floor: the worker's Faust setup, batches only counted | "
        f"{rates['floor']:,.0f} | {rates['floor'] / rates['naive']:.1f}x | - |",
        *(
            [
                f"| (e) our worker with processing_guarantee=exactly_once | {rates['eos']:,.0f} "
                f"| {rates['eos'] / rates['naive']:.1f}x | - |"
            ]
            if "eos" in rates
            else []
        ),
        "",
        f"CPU per event is the process's user + system time over the measured span (steadier "
        f"than events/s on a shared machine; load average {os.getloadavg()[0]:.1f} at the end).",
        "",
        f"Our worker runs at {rates['ours'] / rates['floor']:.0%} of the floor (d): of each "
        f"event's {1e6 / rates['ours']:.0f} us, {1e6 / rates['floor']:.0f} us are Faust's own "
        "path (fetch, batch lane hand-over, ack), the rest is our processing.",
        "",
        "Bar of the streams issue, (c) >= 10x (b) and >= 20,000 events/s: "
        + (
            "**met**."
            if rates["ours"] >= 10 * rates["naive"] and rates["ours"] >= 20_000
            else f"**not met** ({rates['ours'] / rates['naive']:.1f}x, {rates['ours']:,.0f}/s)."
        ),
        "",
        f"Worker RSS at the end: {rss:.0f} MiB. Command: "
        f"`.venv/bin/python bench/streams_bench.py --events {args.events} "
        f"--repeat {args.repeat}{' --exactly-once' if args.exactly_once else ''}`.",
    ]


if __name__ == "__main__":
    main()
