"""One worker against two workers in the same group, on the same 8-partition topics.

Each setup gets a private Apache Kafka broker whose product topics have 8 partitions and
the same simulator events; then its workers (``ioc worker``, one Faust app id) start
together on that backlog. The figures are the time from the first consumed event to the
last (two workers include the rebalance when the second joins) and the CPU seconds the
workers spent meanwhile. Prints the table and writes the "## Scale" section of BENCHMARKS.md.

    .venv/bin/python bench/scale_bench.py --events 100000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report import write_section  # noqa: E402
from ioc.processes import Usage  # noqa: E402
from schemas.places import District  # noqa: E402
from schemas.topics import RAW_TOPICS  # noqa: E402
from streams.routing import district_partition  # noqa: E402
from tests.streams.support import (  # noqa: E402
    IOC,
    PrivateBroker,
    WorkerProcess,
    metric_sum,
    read_jsonl,
)
from tests.support.kafka import produce  # noqa: E402

PARTITIONS = 8


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cpu_seconds(worker: WorkerProcess) -> float:
    """User + system CPU seconds of the worker process so far."""
    assert worker.proc is not None
    usage = Usage.of(worker.proc.pid)
    assert usage is not None, "the worker is gone"
    return usage.cpu_seconds


def wait_held(workers: list[WorkerProcess], timeout: float = 180) -> None:
    """Until the workers hold every raw partition between them, each at least one."""
    wanted = PARTITIONS * len(RAW_TOPICS)
    deadline = time.monotonic() + timeout
    while True:
        held = [
            metric_sum(w.metrics("ioc_worker_partitions"), "ioc_worker_partitions") for w in workers
        ]
        if sum(held) >= wanted and all(held):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"workers hold {held} of {wanted} partitions after {timeout} s")
        time.sleep(0.5)


def restart_to_ready(worker: WorkerProcess) -> float:
    """Seconds from a SIGKILL of ``worker`` (after its offsets are committed) until the
    restarted worker has loaded the window state of every raw partition again."""
    time.sleep(3)
    worker.kill9()
    started = time.monotonic()
    worker.start()
    wait_held([worker])
    return time.monotonic() - started


def consumed_by(workers: list[WorkerProcess]) -> list[float]:
    """Events each worker has consumed so far."""
    name = "ioc_events_consumed_total"
    return [metric_sum(w.metrics(name), name) for w in workers]


def run(
    work: Path, messages: list[tuple[str, bytes | None, bytes | None]], count: int
) -> dict[str, float]:
    """Seconds, events/s and worker CPU seconds of ``count`` workers, started together on
    a backlog of ``messages``; ``share`` is the largest part one worker consumed."""
    n = len(messages)
    with PrivateBroker(work, partitions=PARTITIONS) as broker:
        asyncio.run(produce(broker.bootstrap, messages))
        workers = [
            WorkerProcess(
                broker.bootstrap,
                f"scale-{count}",
                work / f"scale-{count}-{i}.log",
                IOC_PARTITIONS=PARTITIONS,
                IOC_IDLE_TIMEOUT_SECONDS=3600,
            ).start()
            for i in range(count)
        ]
        try:
            first, cpu_before = None, 0.0
            deadline = time.monotonic() + 900
            while True:
                split = consumed_by(workers)
                now = time.perf_counter()
                if first is None and sum(split) > 0:
                    first, cpu_before = now, sum(cpu_seconds(w) for w in workers)
                if sum(split) >= n:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{count} worker(s) stalled at {split} of {n}; see {work}")
                time.sleep(0.05)
            cpu = sum(cpu_seconds(w) for w in workers) - cpu_before
            assert first is not None
            seconds = now - first
            result = {"seconds": seconds, "rate": n / seconds, "cpu": cpu, "share": max(split) / n}
            if count == 1:
                result["restart"] = restart_to_ready(workers[0])
            return result
        finally:
            for w in workers:
                w.stop()


def skew() -> str:
    """Why the work does not split evenly: the districts' partitions (the key contract)."""
    homes = Counter(district_partition(d.value, PARTITIONS) for d in District)
    return (
        f"Raw events are keyed by district: the {len(District)} districts live in "
        f"{len(homes)} of the {PARTITIONS} partitions ({dict(sorted(homes.items()))}, "
        "partition: districts), and Faust gives each worker the same partition numbers of "
        "the three raw topics, so one worker can get most districts."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ioc-bench-scale-"))
    events_file = work / "events.jsonl"
    subprocess.run(
        [IOC, "simulate", f"--events={args.events}", f"--seed={args.seed}",
         "--start=2026-03-10T00:00:00Z", f"--out={events_file}"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    messages = read_jsonl(events_file)
    load_before = os.getloadavg()
    results = {}
    for count in (1, 2):
        say(f"{count} worker(s) ...")
        results[count] = run(work, messages, count)
        say(f"{count} worker(s): {results[count]['rate']:,.0f} events/s")
    load_after = os.getloadavg()
    one, two = results[1], results[2]
    lines = [
        f"`bench/scale_bench.py`: {len(messages):,} simulator events on topics of "
        f"{PARTITIONS} partitions (private Apache Kafka broker per setup), produced before the "
        "workers of one group start together; from the first consumed event to the last "
        "(with two workers that includes the rebalance when the second joins). "
        f"{os.cpu_count()} cores, load average {load_before[0]:.1f} before and "
        f"{load_after[0]:.1f} after.",
        "",
        "| workers in the group | events/s | seconds | worker CPU seconds | CPU us/event |",
        "|---|---|---|---|---|",
        *(
            f"| {c} | {r['rate']:,.0f} | {r['seconds']:.1f} | {r['cpu']:.1f} "
            f"| {1e6 * r['cpu'] / len(messages):.0f} |"
            for c, r in results.items()
        ),
        "",
        f"Two workers: {two['rate'] / one['rate']:.2f}x the events/s of one, "
        f"{two['cpu'] / one['cpu']:.2f}x the CPU; the busier of the two consumed "
        f"{two['share']:.0%} of the events. {skew()}",
        "",
        f"Worker restart to ready after kill -9 (the one worker above, its state of all "
        f"{len(messages):,} events in the changelog): {one['restart']:.1f} s from the new "
        f"process to window state loaded for all {PARTITIONS * len(RAW_TOPICS)} raw partitions.",
        "",
        f"Command: `.venv/bin/python bench/scale_bench.py --events {args.events}`.",
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "Scale", "\n".join(lines))


if __name__ == "__main__":
    main()
