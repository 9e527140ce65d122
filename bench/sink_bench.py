"""Sink write path vs a raw COPY of the same KPI rows into the same hypertable.

Run: ``.venv/bin/python bench/sink_bench.py [--rows 200000] [--batch 5000] [--repeat 3]``.
Needs the local TimescaleDB (``ioc dev up``). Creates a fresh database, migrates it, and
for each repeat measures on an emptied ``kpi`` hypertable:

(a) raw COPY of all rows straight into ``kpi`` in one transaction (baseline),
(b) the sink writer (``sinks.writer.write_kpi_rows``: COPY into the staging table + one
    INSERT .. ON CONFLICT per batch, one transaction per batch), as the sink calls it,
(c) the same batches again (every row a redelivery: conflicts, nothing rewritten).

Prints medians, the ratio (b)/(a) and the batch latency p50/p99 of (b), and writes the
"## Sink" section of BENCHMARKS.md (``--no-write`` to skip).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.databases import fresh_database  # noqa: E402
from bench.report import write_section  # noqa: E402

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ioc.processes import Usage  # noqa: E402
from schemas.kpi import EntityKind  # noqa: E402
from sinks.writer import COLUMNS, STAGE_TYPES, write_kpi_rows  # noqa: E402
from streams.window_rows import KpiRow  # noqa: E402

KPIS = (
    "farm.salinity_mean_gl",
    "farm.salinity_max_gl",
    "farm.salinity_minutes_above_4",
    "farm.soil_moisture_min_pct",
    "farm.air_temperature_max_c",
    "farm.water_level_mean_cm",
    "farm.completeness_ratio",
    "farm.battery_min_pct",
)
DISTRICTS = (
    "vi-thanh",
    "nga-bay",
    "long-my-town",
    "chau-thanh",
    "chau-thanh-a",
    "phung-hiep",
    "vi-thuy",
    "long-my",
)
SECTION = "## Sink"


def make_rows(n: int, entities: int = 500) -> list[KpiRow]:
    """``n`` distinct 1-minute KPI rows: entities x KPIs x consecutive minutes."""
    start = datetime(2025, 6, 1, tzinfo=UTC)
    rows: list[KpiRow] = []
    per_minute = entities * len(KPIS)
    for i in range(n):
        minute, rest = divmod(i, per_minute)
        entity, k = divmod(rest, len(KPIS))
        window_start = start + timedelta(minutes=minute)
        rows.append(
            KpiRow(
                kpi=KPIS[k],
                entity_kind=EntityKind.SENSOR.value,
                entity_id=f"sensor-{entity:04d}",
                district=DISTRICTS[entity % len(DISTRICTS)],
                window_kind="1m",
                window_start=window_start,
                window_end=window_start + timedelta(minutes=1),
                value=(i % 997) / 100.0,
                count=60,
                source_topic="city.farm.sensor.v1",
                source_partition=entity % 4,
                first_offset=i * 60,
                last_offset=i * 60 + 59,
                event_count=60,
                weight=None,
            )
        )
    return rows


class Cpu:
    """CPU seconds of this process plus the database backend serving ``conn`` (read from
    /proc: the local TimescaleDB runs on this machine). Under a shared, noisy machine the
    CPU a path burns is steadier than its wall-clock time."""

    def __init__(self, backend_pid: int) -> None:
        self._backend = backend_pid

    def now(self) -> float | None:
        backend = Usage.of(self._backend)
        return None if backend is None else time.process_time() + backend.cpu_seconds


def _spent(cpu: Cpu, before: float | None) -> float | None:
    after = cpu.now()
    return None if before is None or after is None else after - before


async def raw_copy(
    conn: psycopg.AsyncConnection[Any], rows: list[KpiRow], cpu: Cpu
) -> tuple[float, float | None]:
    """Wall and CPU seconds of one binary COPY of every row into kpi (writer's conversion)."""
    statement = sql.SQL("COPY kpi ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
    )
    cpu0, started = cpu.now(), time.perf_counter()
    async with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
        copy.set_types(STAGE_TYPES[2:])
        for row in rows:
            await copy.write_row(row)
    return time.perf_counter() - started, _spent(cpu, cpu0)


async def sink_path(
    conn: psycopg.AsyncConnection[Any], rows: list[KpiRow], batch: int, cpu: Cpu
) -> tuple[float, float | None, list[float]]:
    """Wall seconds, CPU seconds and per-batch seconds of the sink writer over ``rows``."""
    latencies: list[float] = []
    cpu0, started = cpu.now(), time.perf_counter()
    for i in range(0, len(rows), batch):
        t0 = time.perf_counter()
        result = await write_kpi_rows(conn, rows[i : i + batch])
        latencies.append(time.perf_counter() - t0)
        assert not result.rejected, result.rejected[:3]
    return time.perf_counter() - started, _spent(cpu, cpu0), latencies


async def count(conn: psycopg.AsyncConnection[Any]) -> int:
    cur = await conn.execute("SELECT count(*) FROM kpi")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _rate(n: int, seconds: list[float | None]) -> float | None:
    known = [s for s in seconds if s is not None]
    return n / statistics.median(known) if len(known) == len(seconds) and known else None


async def measure(url: str, n: int, batch: int, repeat: int) -> dict[str, Any]:
    rows = make_rows(n)
    wall: dict[str, list[float | None]] = {"raw": [], "sink": [], "again": []}
    cpu_s: dict[str, list[float | None]] = {"raw": [], "sink": [], "again": []}
    latencies: list[float] = []
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cur = await conn.execute("SELECT pg_backend_pid()")
        pid = await cur.fetchone()
        cpu = Cpu(int(pid[0]) if pid else -1)
        for _ in range(repeat):
            await conn.execute("TRUNCATE kpi")
            await conn.execute("VACUUM ANALYZE kpi")
            seconds, spent = await raw_copy(conn, rows, cpu)
            wall["raw"].append(seconds)
            cpu_s["raw"].append(spent)
            assert await count(conn) == n
            await conn.execute("TRUNCATE kpi")
            await conn.execute("VACUUM ANALYZE kpi")
            seconds, spent, lat = await sink_path(conn, rows, batch, cpu)
            wall["sink"].append(seconds)
            cpu_s["sink"].append(spent)
            latencies += lat
            assert await count(conn) == n
            seconds, spent, _ = await sink_path(conn, rows, batch, cpu)
            wall["again"].append(seconds)
            cpu_s["again"].append(spent)
            assert await count(conn) == n
    result: dict[str, Any] = {"rows": n, "batch": batch, "repeat": repeat}
    for name in ("raw", "sink", "again"):
        result[f"{name}_rows_s"] = _rate(n, wall[name])
        result[f"{name}_rows_cpu_s"] = _rate(n, cpu_s[name])
    result["ratio"] = result["sink_rows_s"] / result["raw_rows_s"]
    if result["sink_rows_cpu_s"] and result["raw_rows_cpu_s"]:
        result["ratio_cpu"] = result["sink_rows_cpu_s"] / result["raw_rows_cpu_s"]
    else:
        result["ratio_cpu"] = None
    result["p50_ms"] = 1000 * percentile(latencies, 0.50)
    result["p99_ms"] = 1000 * percentile(latencies, 0.99)
    result["batches"] = len(latencies)
    return result


def _fmt(value: float | None, spec: str = ",.0f") -> str:
    return "n/a" if value is None else format(value, spec)


def section(result: dict[str, Any], command: str, load: str) -> str:
    """The ``## Sink`` section of BENCHMARKS.md for one run."""
    cpu = platform.processor() or platform.machine()
    verdict = "meets" if result["ratio"] >= 0.5 else "MISSES"
    return f"""{SECTION}

`bench/sink_bench.py`: the sink's write path against a raw COPY of the same rows into the
same hypertable. Command: `{command}`.
Measured {datetime.now(UTC):%Y-%m-%d} on {cpu}, 2 cores shared with the team's other work
(load average {load} at start): wall-clock figures carry +-30 % noise; CPU figures (client
process + database backend) are steadier. Local TimescaleDB 2.19, Apache edition,
PostgreSQL 17 (chroot); `kpi` hypertable with its unique identity index, its board index
and CHECK constraints; {result["rows"]:,} distinct 1-minute KPI rows; batches of
{result["batch"]:,} rows; median of {result["repeat"]} runs.

| path | rows/s (wall) | rows per CPU-second |
|---|---|---|
| (a) raw binary COPY of all rows into `kpi`, one transaction | {_fmt(result["raw_rows_s"])} | {_fmt(result["raw_rows_cpu_s"])} |
| (b) sink writer, one transaction per batch | {_fmt(result["sink_rows_s"])} | {_fmt(result["sink_rows_cpu_s"])} |
| (c) (b) again: every row a redelivery, nothing rewritten | {_fmt(result["again_rows_s"])} | {_fmt(result["again_rows_cpu_s"])} |

(b) is `sinks.writer.write_kpi_rows` as the sink calls it: binary COPY into a temp staging
table, then one INSERT .. SELECT .. ON CONFLICT DO UPDATE per batch (with DISTINCT ON when
the batch holds an identity twice), committed per batch.

- Ratio (b)/(a): **{result["ratio"]:.0%}** wall-clock ({verdict} the bar of 50 %),
  {_fmt(result["ratio_cpu"], ".0%")} by CPU.
- Batch latency of (b), COPY + upsert + commit of {result["batch"]:,} rows, over
  {result["batches"]} batches: p50 {result["p50_ms"]:.0f} ms, p99 {result["p99_ms"]:.0f} ms.
"""  # noqa: E501


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    parser.add_argument(
        "--extra-sql", metavar="SQL", help="run SQL after the migrations (what-if indexes)"
    )
    args = parser.parse_args(argv)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    with fresh_database("ioc_bench_sink", args.extra_sql) as url:
        result = asyncio.run(measure(url, args.rows, args.batch, args.repeat))
    for key, value in result.items():
        shown = f"{value:,.2f}" if isinstance(value, float) else str(value)
        print(f"{key:>18}: {shown}")
    if not args.no_write:
        command = "python bench/sink_bench.py " + " ".join(
            f"--{k} {v}"
            for k, v in (("rows", args.rows), ("batch", args.batch), ("repeat", args.repeat))
        )
        command += f' --extra-sql "{args.extra_sql}"' if args.extra_sql else ""
        write_section(ROOT / "BENCHMARKS.md", "Sink", section(result, command, load))
        print("updated the '## Sink' section of BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
