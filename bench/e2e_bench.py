"""End to end: raw events to KPI rows visible in TimescaleDB, against the worker alone.

One run on the same input (the province simulator) and the same private broker measures

(a) the worker alone: ``ioc worker`` until it consumed every event (rows go to city.kpi.v1),
(b) worker + sink side by side: from the worker's first step until the sink has committed
    the last of those rows into ``kpi`` (a fresh database),
(c) a raw binary COPY of the same rows into the same (emptied) table, one transaction,
(d) the sink alone draining the rows of (b) from city.kpi.v1 into the emptied table,

and prints events/s and rows/s, the ratios (b)/(a) and (d)/(c), the CPU seconds of the worker
and sink processes, and the delay from a KPI message (its windows closed) to its rows being
visible (the sink's ``ioc_sink_visible_delay_seconds``) during the catch-up of (b) and, with
``--live``, at the province's live rate. Writes the "## End to end" section of BENCHMARKS.md.

    .venv/bin/python bench/e2e_bench.py --events 300000 --repeat 3 --live 150

Needs the local TimescaleDB (``ioc dev up``); starts its own Kafka broker.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from aiokafka import AIOKafkaConsumer, TopicPartition
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import fresh_database  # noqa: E402
from bench.report import write_section  # noqa: E402
from common.metrics import scrape, total  # noqa: E402
from ioc.processes import Usage  # noqa: E402
from schemas.topics import KPI_TOPIC, RAW_TOPICS  # noqa: E402
from sinks.writer import COLUMNS, STAGE_TYPES  # noqa: E402
from streams.replay.broker_quirks import true_end_offsets  # noqa: E402
from tests.streams.support import (  # noqa: E402
    IOC,
    PrivateBroker,
    WorkerProcess,
    free_port,
    metric_sum,
    read_jsonl,
)
from tests.support.kafka import produce  # noqa: E402

DELAY = "ioc_sink_visible_delay_seconds"
TIMEOUT = 1800.0
EXTRA_SQL: list[str] = []
KPI_BACKLOG: list[int] = [0]
"""The worker's IOC_KPI_BACKLOG_MESSAGES in (b) (``--kpi-backlog``; 0: off)."""
"""SQL run after the migrations in every benchmark database (``--extra-sql``)."""


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process."""
    usage = Usage.of(pid)
    assert usage is not None, f"process {pid} is gone"
    return usage.cpu_seconds


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()


def server_cpu(url: str) -> float:
    """CPU seconds the local PostgreSQL server has used: its postmaster with every child
    that ended (cutime, cstime) and every live child (the backends, checkpointer, WAL
    writer). Read from /proc: the local TimescaleDB runs on this machine."""
    with psycopg.connect(url) as c:
        row = c.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        postmaster = int(_stat(int(row[0]))[1])  # while that backend is alive
    ticks = sum(int(x) for x in _stat(postmaster)[11:15])
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(int(entry.name))
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class SinkProcess:
    """``ioc sink`` as a child process, its /metrics on a port of its own."""

    writers = 2

    def __init__(self, bootstrap: str, url: str, group: str, log: Path) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "IOC_KAFKA_BOOTSTRAP": bootstrap,
            "IOC_SINK_METRICS_PORT": str(self.port),
        }
        with open(log, "ab") as out:
            command = [str(IOC), "sink", "--database-url", url, "--group", group]
            self.proc = subprocess.Popen(
                [*command, "--writers", str(self.writers)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def samples(self) -> dict[str, float]:
        return scrape(self.port, names=("ioc_sink_rows_written_total", f"{DELAY}_bucket"))

    def rows(self) -> float:
        return total(self.samples(), "ioc_sink_rows_written_total")

    def stop(self) -> float:
        """SIGTERM, wait; the CPU seconds it used (read just before it ends)."""
        spent = cpu_seconds(self.proc.pid)
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return spent


def delay_quantile(samples: dict[str, float], q: float) -> float | None:
    """``q``-quantile of the visible delay of KPI rows, interpolated in its buckets as
    Prometheus's histogram_quantile does (None without observations)."""
    buckets: list[tuple[float, float]] = []
    for series, value in samples.items():
        if series.startswith(f"{DELAY}_bucket{{") and 'table="kpi"' in series:
            bound = series.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float(bound), value))
    buckets.sort()
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-9)
        lower, below = bound, count
    return lower


async def end_offsets(
    broker: PrivateBroker, topics: tuple[str, ...] = (KPI_TOPIC,)
) -> dict[TopicPartition, int]:
    """Where ``topics`` (city.kpi.v1) end now, per partition."""
    parts = [TopicPartition(t, p) for t in topics for p in range(broker.partitions)]
    return await true_end_offsets(broker.bootstrap, parts)


async def start_group_at(bootstrap: str, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit ``offsets`` for ``group`` so that a sink of that group starts there."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


def wait_until(what: str, done: Any, poll: float = 0.05) -> float:
    """Poll ``done()`` until true; the perf_counter time it first was."""
    deadline = time.monotonic() + TIMEOUT
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(poll)
    return time.perf_counter()


@dataclass
class Database:
    """The ``kpi`` table of a benchmark database (see :func:`fresh_database`)."""

    url: str

    def count(self) -> int:
        with psycopg.connect(self.url) as c:
            row = c.execute("SELECT count(*) FROM kpi").fetchone()
        return int(row[0]) if row else 0

    def size(self) -> int:
        """Bytes of ``kpi`` (its chunks, with indexes)."""
        with psycopg.connect(self.url) as c:
            row = c.execute("SELECT hypertable_size('kpi')").fetchone()
        return int(row[0]) if row and row[0] else 0

    def raw_copy(self) -> tuple[float, float, float]:
        """Seconds of one binary COPY of every row of ``kpi`` back into the emptied table,
        and the CPU seconds it took in this process and in the database server."""
        cols = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
        with psycopg.connect(self.url, autocommit=True) as c:
            rows = c.execute(sql.SQL("SELECT {} FROM kpi").format(cols)).fetchall()
            c.execute("TRUNCATE kpi")
            c.execute("VACUUM ANALYZE kpi")
            server, client = server_cpu(self.url), time.process_time()
            started = time.perf_counter()
            with c.transaction(), c.cursor() as cur:
                copy_sql = sql.SQL("COPY kpi ({}) FROM STDIN (FORMAT BINARY)").format(cols)
                with cur.copy(copy_sql) as copy:
                    copy.set_types(STAGE_TYPES[2:])
                    for row in rows:
                        copy.write_row(row)
            seconds = time.perf_counter() - started
            return seconds, time.process_time() - client, server_cpu(self.url) - server

    def empty(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as c:
            c.execute("TRUNCATE kpi")
            c.execute("VACUUM ANALYZE kpi")


@dataclass
class Run:
    worker_s: float = 0.0
    worker_cpu: float = 0.0
    rows: int = 0
    e2e_s: float = 0.0
    e2e_worker_cpu: float = 0.0
    e2e_sink_cpu: float = 0.0
    catchup_p50: float | None = None
    catchup_p99: float | None = None
    e2e_db_cpu: float = 0.0
    copy_s: float = 0.0
    copy_cpu: float = 0.0
    copy_db_cpu: float = 0.0
    sink_s: float = 0.0
    sink_cpu: float = 0.0
    sink_db_cpu: float = 0.0
    kpi_bytes: int = 0


def worker_until_consumed(worker: WorkerProcess, expected: int) -> tuple[float, float]:
    """Seconds from the worker's first step until it consumed ``expected`` events, and the
    perf_counter time of that first step."""
    names = ("ioc_events_consumed_total", "ioc_worker_steps_in_progress")
    first: list[float] = []

    def consumed() -> bool:
        samples = worker.metrics(*names)
        if not first and (metric_sum(samples, names[0]) or metric_sum(samples, names[1])):
            first.append(time.perf_counter())
        return metric_sum(samples, names[0]) >= expected

    end = wait_until("the worker to consume every event", consumed)
    return end - first[0], first[0]


def rows_settled(worker: WorkerProcess) -> int:
    """Rows the worker emitted, once that number stopped moving for a second."""
    last, since = -1.0, time.monotonic()
    while time.monotonic() - since < 1.0:
        now = metric_sum(worker.metrics("ioc_kpi_rows_emitted_total"), "ioc_kpi_rows_emitted_total")
        if now != last:
            last, since = now, time.monotonic()
        time.sleep(0.1)
    return int(last)


def one_run(broker: PrivateBroker, n: int, work: Path, run: int) -> Run:
    result = Run()
    say(f"run {run + 1}: (a) the worker alone ...")
    worker = WorkerProcess(broker.bootstrap, f"e2e-a-{run}", work / f"a-{run}.log",
                           IOC_IDLE_TIMEOUT_SECONDS=3600).start()  # fmt: skip
    try:
        result.worker_s, _ = worker_until_consumed(worker, n)
        assert worker.proc is not None
        result.worker_cpu = cpu_seconds(worker.proc.pid)
        result.rows = rows_settled(worker)
    finally:
        worker.stop()
    start = asyncio.run(end_offsets(broker))
    with fresh_database("ioc_bench_e2e", "".join(EXTRA_SQL) or None) as url:
        db = Database(url)
        say("(b) worker + sink side by side ...")
        asyncio.run(start_group_at(broker.bootstrap, f"e2e-sink-b-{run}", start))
        server = server_cpu(db.url)
        sink = SinkProcess(
            broker.bootstrap, db.url, f"e2e-sink-b-{run}", work / f"b-sink-{run}.log"
        )
        worker = WorkerProcess(broker.bootstrap, f"e2e-b-{run}", work / f"b-{run}.log",
                               IOC_IDLE_TIMEOUT_SECONDS=3600,
                               IOC_KPI_BACKLOG_MESSAGES=KPI_BACKLOG[0],
                               IOC_SINK_GROUP=f"e2e-sink-b-{run}").start()  # fmt: skip
        try:
            _, first = worker_until_consumed(worker, n)
            assert worker.proc is not None
            result.e2e_worker_cpu = cpu_seconds(worker.proc.pid)
            end = wait_until("the sink to write every row", lambda: sink.rows() >= result.rows)
            result.e2e_s = end - first
            samples = sink.samples()
            result.catchup_p50 = delay_quantile(samples, 0.50)
            result.catchup_p99 = delay_quantile(samples, 0.99)
        finally:
            worker.stop()
            result.e2e_sink_cpu = sink.stop()
            result.e2e_db_cpu = server_cpu(db.url) - server
        assert db.count() == result.rows, (db.count(), result.rows)
        result.kpi_bytes = db.size()
        say("(c) raw COPY of the same rows ...")
        result.copy_s, result.copy_cpu, result.copy_db_cpu = db.raw_copy()
        say("(d) the sink alone ...")
        db.empty()
        asyncio.run(start_group_at(broker.bootstrap, f"e2e-sink-d-{run}", start))
        server = server_cpu(db.url)
        sink = SinkProcess(
            broker.bootstrap, db.url, f"e2e-sink-d-{run}", work / f"d-sink-{run}.log"
        )
        try:
            began: list[tuple[float, float]] = []

            def drained() -> bool:
                rows = sink.rows()
                if not began and rows > 0:
                    began.append((time.perf_counter(), rows))
                return rows >= result.rows

            end = wait_until("the sink alone", drained, poll=0.2)
            at, rows_then = began[0]
            result.sink_s = (end - at) * result.rows / max(result.rows - rows_then, 1)
        finally:
            result.sink_cpu = sink.stop()
            result.sink_db_cpu = server_cpu(db.url) - server
    return result


def live_delay(broker: PrivateBroker, seconds: float, work: Path) -> tuple[float | None, int]:
    """Worker + sink while the simulator sends the province in real time for ``seconds``;
    the p99 delay from window close to rows visible, and the KPI messages observed."""
    with fresh_database("ioc_bench_e2e", "".join(EXTRA_SQL) or None) as url:
        db = Database(url)
        asyncio.run(start_group_at(broker.bootstrap, "e2e-sink-live",
                                   asyncio.run(end_offsets(broker))))  # fmt: skip
        # The live worker starts where the backfill ends: it windows only live events.
        raw_ends = asyncio.run(end_offsets(broker, RAW_TOPICS))
        asyncio.run(start_group_at(broker.bootstrap, "e2e-live", raw_ends))
        sink = SinkProcess(broker.bootstrap, db.url, "e2e-sink-live", work / "live-sink.log")
        worker = WorkerProcess(broker.bootstrap, "e2e-live", work / "live.log").start()
        try:
            subprocess.run(
                [str(IOC), "simulate", "--bootstrap", broker.bootstrap, "--start=now",
                 "--speed=1", f"--duration={int(seconds)}s", "--seed=5"],
                check=True, capture_output=True,
            )  # fmt: skip
            time.sleep(5)
            samples = sink.samples()
        finally:
            worker.stop()
            sink.stop()
    observed = sum(
        v for k, v in samples.items() if k.startswith(f"{DELAY}_bucket") and 'le="+Inf"' in k
    )
    return delay_quantile(samples, 0.99), int(observed)


def median(values: list[float]) -> float:
    return statistics.median(values)


def report(runs: list[Run], n: int, live: tuple[float | None, int] | None, cmd: str) -> str:
    rows = runs[0].rows
    a = n / median([r.worker_s for r in runs])
    b = n / median([r.e2e_s for r in runs])
    c = rows / median([r.copy_s for r in runs])
    d = rows / median([r.sink_s for r in runs])
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    p99 = [r.catchup_p99 for r in runs if r.catchup_p99 is not None]
    p50 = [r.catchup_p50 for r in runs if r.catchup_p50 is not None]
    mib = median([r.kpi_bytes for r in runs]) / 2**20
    lines = [
        f"Input: {n:,} simulator events -> {rows:,} KPI rows ({rows / n:.2f} per event); "
        f"private Apache Kafka broker, local TimescaleDB; median of {len(runs)} run(s). "
        f"Load average at the end: {load} (2 cores). Command: `{cmd}`.",
        "",
        "| path | events/s | rows/s | CPU s (worker / sink or COPY client / database) |",
        "|---|---|---|---|",
        f"| (a) worker alone, rows to city.kpi.v1 | {a:,.0f} | {a * rows / n:,.0f} | "
        f"{median([r.worker_cpu for r in runs]):.1f} / - / - |",
        f"| (b) worker + sink, until the last row is visible in `kpi` | {b:,.0f} | "
        f"{b * rows / n:,.0f} | {median([r.e2e_worker_cpu for r in runs]):.1f} / "
        f"{median([r.e2e_sink_cpu for r in runs]):.1f} / "
        f"{median([r.e2e_db_cpu for r in runs]):.1f} |",
        f"| (c) raw binary COPY of the same rows, one transaction | - | {c:,.0f} | "
        f"- / {median([r.copy_cpu for r in runs]):.1f} / "
        f"{median([r.copy_db_cpu for r in runs]):.1f} |",
        f"| (d) sink alone, the same rows from city.kpi.v1 | - | {d:,.0f} | "
        f"- / {median([r.sink_cpu for r in runs]):.1f} / "
        f"{median([r.sink_db_cpu for r in runs]):.1f} |",
        "",
        "Database CPU is the whole local PostgreSQL server's (backends, WAL writer,"
        " checkpointer) over the step, read from /proc.",
        "",
        f"- (b)/(a) = **{b / a:.0%}** (bar 50 %); (d)/(c) = **{d / c:.0%}** (bar 80 %).",
        "- Window close to rows visible during the catch-up of (b): p50 "
        + (f"{median(p50):.2f} s, p99 {median(p99):.2f} s" if p99 else "n/a")
        + " (`ioc_sink_visible_delay_seconds`, interpolated in its buckets).",
    ]
    if live is not None:
        lp99, seen = live
        lines.append(
            "- At the province's live rate (simulator in real time): p99 "
            + (f"{lp99:.2f} s over {seen} KPI messages." if lp99 is not None else "n/a.")
        )
    lines.append(f"- Disk: `kpi` holds these rows in {mib:.0f} MiB (hypertable_size).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--live", type=float, default=0.0, metavar="SECONDS",
        help="also measure close-to-visible delay at the live rate for SECONDS",
    )  # fmt: skip
    parser.add_argument("--writers", type=int, default=2, help="the sink's --writers (2)")
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    parser.add_argument(
        "--extra-sql", metavar="SQL", help="run SQL after the migrations (what-if indexes)"
    )
    parser.add_argument(
        "--kpi-backlog", type=int, default=0, metavar="N",
        help="the worker of (b) waits while the sink has over N KPI messages unread",
    )  # fmt: skip
    args = parser.parse_args()
    EXTRA_SQL[:] = [args.extra_sql] if args.extra_sql else []
    KPI_BACKLOG[0] = args.kpi_backlog
    SinkProcess.writers = args.writers
    work = Path(tempfile.mkdtemp(prefix="ioc-bench-e2e-"))
    say(f"generating {args.events:,} simulator events ...")
    events_file = work / "events.jsonl"
    subprocess.run(
        [str(IOC), "simulate", f"--events={args.events}", f"--seed={args.seed}",
         "--start=2026-03-10T00:00:00Z", f"--out={events_file}"],
        check=True, capture_output=True,
    )  # fmt: skip
    messages = read_jsonl(events_file)
    with PrivateBroker(work) as broker:
        asyncio.run(produce(broker.bootstrap, messages))
        runs = [one_run(broker, len(messages), work, run) for run in range(args.repeat)]
        live = live_delay(broker, args.live, work) if args.live > 0 else None
    cmd = f".venv/bin/python bench/e2e_bench.py --events {args.events} --repeat {args.repeat}"
    cmd += f" --live {args.live:g}" if args.live > 0 else ""
    cmd += f" --writers {args.writers}" if args.writers != 2 else ""
    cmd += f' --extra-sql "{args.extra_sql}"' if args.extra_sql else ""
    cmd += f" --kpi-backlog {args.kpi_backlog}" if args.kpi_backlog else ""
    text = report(runs, len(messages), live, cmd)
    print(text)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "End to end", text)


if __name__ == "__main__":
    main()
