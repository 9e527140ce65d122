"""Board query latency: every SQL query of every generated board on one simulated day.

Fills a throwaway database with one day of the simulated province as the product computes
it: ``ioc simulate --sim-duration 24h`` writes the events to a file, the worker's pure
pipeline (:class:`streams.pipeline.TopicPipeline`, the code ``ioc worker`` runs, fed in
offset order per partition as the worker reads them) turns them into KPI rows, and those
rows go into ``kpi`` with one binary COPY per chunk of rows (what the sink's fast path
does), the entities into ``entity`` as the sink stores them. Then ``ANALYZE``.

Each SQL target of each panel of each board (``dashboards.boards``), and the ``$district``
variable query, is expanded as Grafana sends it (``dashboards.queries``: variables, macros,
``$__interval``; all districts, the boards' default window kind) at the end of the day, for
the board's default time range and for 24 h, and run ``--rounds`` times as the read-only
role ``ioc_grafana``, after one warm-up round; rounds interleave the queries so that
machine noise spreads evenly. Prints and writes (section "## Board queries" of
BENCHMARKS.md) p50/p95 per board and per panel, with the database CPU the queries used.

    .venv/bin/python bench/board_query_bench.py --rounds 20

``--keep NAME`` keeps the filled database under that name (and reuses it when it is
already filled), so that index experiments can compare on the same rows.
Needs the local TimescaleDB (``ioc dev up``).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.databases import fresh_database, kept_database  # noqa: E402
from bench.report import write_section  # noqa: E402
from common import config  # noqa: E402
from dashboards.boards import BOARDS  # noqa: E402
from dashboards.build import board_json  # noqa: E402
from dashboards.datasources import TIMESCALEDB  # noqa: E402
from dashboards.queries import (  # noqa: E402
    PanelQuery,
    context,
    panel_queries,
    relative_seconds,
    run_sql,
    walk_panels,
)
from dashboards.variables import DEFAULT_WINDOW_KIND  # noqa: E402
from deploy.devstack.urls import with_user  # noqa: E402
from schemas.geo import position  # noqa: E402
from schemas.places import District  # noqa: E402
from schemas.topics import RAW_TOPICS  # noqa: E402
from sinks.entities import INSERT as ENTITY_INSERT  # noqa: E402
from sinks.entities import KNOWN_DISTRICTS  # noqa: E402
from sinks.kpi_codec import decode_kpis  # noqa: E402
from sinks.writer import COLUMNS, STAGE_TYPES  # noqa: E402
from streams.pipeline import SourceRecord, TopicPipeline  # noqa: E402
from streams.routing import district_partition  # noqa: E402
from streams.window_rows import KpiRow  # noqa: E402
from streams.windows import Closing, kpi_packs  # noqa: E402

IOC = ROOT / ".venv" / "bin" / "ioc"
DAY_START = "2026-03-10T00:00:00+07:00"
"""A Tuesday in Asia/Ho_Chi_Minh: office hours, night and the scenarios' rhythms."""
BATCH = 500
"""Records per pipeline step (the worker's batches are of this order)."""
COPY_ROWS = 200_000
"""Rows per COPY transaction while filling."""
VARIABLES = {"district": [d.value for d in District], "window_kind": [DEFAULT_WINDOW_KIND]}
SECTION = "Board queries"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- filling one simulated day


def simulate_day(out: Path, seed: int, start: str) -> None:
    """One simulated day of the province's events, as JSON lines."""
    subprocess.run(
        [str(IOC), "simulate", "--sim-duration=24h", f"--start={start}", f"--seed={seed}",
         f"--out={out}"],
        check=True, capture_output=True,
    )  # fmt: skip


class DayRows:
    """The worker's pipelines over the day's events, one per raw topic: KPI rows as the sink
    stores them (the worker's city.kpi.v1 packs, decoded by the sink's codec), in the
    order the worker would emit them."""

    def __init__(self, partitions: int, grace: float, skew: float) -> None:
        self.partitions = partitions
        self.pipelines: dict[str, TopicPipeline] = {}
        for topic in RAW_TOPICS:
            pipeline = TopicPipeline(topic, grace, skew, partitions)
            for p in range(partitions):
                pipeline.partitions[p] = pipeline.new_windows(p)
            self.pipelines[topic] = pipeline
        self.offsets: dict[tuple[str, int], int] = defaultdict(int)
        self.pending: dict[str, list[SourceRecord]] = defaultdict(list)
        self.events = 0

    def _step(self, topic: str) -> list[KpiRow]:
        pipeline, records = self.pipelines[topic], self.pending.pop(topic, [])
        applied = pipeline.apply(records)
        closings = pipeline.close(applied.touched)
        pipeline.retire(closings)
        return stored(closings)

    def rows(self, events: Path) -> Iterator[KpiRow]:
        with events.open("rb") as lines:
            for line in lines:
                item = orjson.loads(line)
                topic, key, value = item["topic"], item.get("key"), item.get("value")
                partition = district_partition(str(key), self.partitions) if key else 0
                offset = self.offsets[topic, partition]
                self.offsets[topic, partition] = offset + 1
                self.pending[topic].append(
                    SourceRecord(topic, partition, offset, None,
                                 None if key is None else str(key).encode(),
                                 None if value is None else str(value).encode())
                )  # fmt: skip
                self.events += 1
                if len(self.pending[topic]) >= BATCH:
                    yield from self._step(topic)
        for topic, pipeline in self.pipelines.items():
            yield from self._step(topic)
            for windows in pipeline.partitions.values():
                windows.advance_idle(1e10)
            yield from stored(pipeline.close(range(self.partitions)))


def stored(closings: dict[int, Closing]) -> list[KpiRow]:
    """The rows of ``closings`` as the sink stores them."""
    rows = [row for _, value in kpi_packs(closings, 500) for row in decode_kpis(value)]
    return [row for row in rows if isinstance(row, KpiRow)]


def copy_rows(conn: psycopg.Connection[Any], rows: list[KpiRow]) -> None:
    """One binary COPY of ``rows`` into ``kpi`` (the sink's fast path), one transaction."""
    statement = sql.SQL("COPY kpi ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
    )
    with conn.transaction(), conn.cursor() as cur, cur.copy(statement) as copy:
        copy.set_types(STAGE_TYPES[2:])
        for row in rows:
            copy.write_row(row)


@dataclass
class Filled:
    events: int
    rows: int
    seconds: float
    kpi_bytes: int


def fill(url: str, seed: int, start: str) -> Filled:
    """One simulated day into the ``kpi`` and ``entity`` tables of ``url``, then ANALYZE."""
    settings = config.load()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ioc-bench-boards-") as work:
        events = Path(work) / "events.jsonl"
        say(f"simulating one day from {start} ...")
        simulate_day(events, seed, start)
        day = DayRows(settings.partitions, settings.grace_seconds, settings.future_skew_seconds)
        entities: dict[tuple[str, str], str] = {}
        written = 0
        with psycopg.connect(url, autocommit=True) as conn:
            chunk: list[KpiRow] = []
            for row in day.rows(events):
                chunk.append(row)
                entities.setdefault((row.entity_kind, row.entity_id), row.district)
                if len(chunk) >= COPY_ROWS:
                    copy_rows(conn, chunk)
                    written += len(chunk)
                    say(f"  {written:,} rows from {day.events:,} events")
                    chunk = []
            copy_rows(conn, chunk)
            written += len(chunk)
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    ENTITY_INSERT,
                    [(kind, entity_id, district, *position(kind, entity_id, district))
                     for (kind, entity_id), district in entities.items()
                     if district in KNOWN_DISTRICTS],
                )  # fmt: skip
            conn.execute("CREATE TABLE bench_fill (events bigint, start text, seed int)")
            conn.execute("INSERT INTO bench_fill VALUES (%s, %s, %s)", (day.events, start, seed))
            conn.execute("VACUUM ANALYZE kpi")
            conn.execute("ANALYZE entity")
            size = conn.execute("SELECT hypertable_size('kpi')").fetchone()
    return Filled(day.events, written, time.perf_counter() - started, int(size[0]) if size else 0)


def filled_rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM kpi").fetchone()
    return int(row[0]) if row else 0


def day_end(start: str) -> datetime:
    """The moment the boards are looked at: the end of the simulated day."""
    return datetime.fromisoformat(start).astimezone(UTC) + timedelta(days=1)


# ---------------------------------------------------------------- the boards' queries


@dataclass(frozen=True)
class Timed:
    """One query of one board at one time range."""

    board: str
    panel: str
    query: PanelQuery


def variable_queries(board: dict[str, Any]) -> list[PanelQuery]:
    """The board's SQL template variables (``$district``) as queries, at the board range."""
    found = []
    for variable in board.get("templating", {}).get("list", []):
        source = variable.get("datasource") or {}
        if variable.get("type") != "query" or source.get("uid") != TIMESCALEDB.uid:
            continue
        query = variable["query"]
        found.append(
            PanelQuery(
                board_uid=str(board["uid"]), panel_id=0,
                panel_title=f"variable ${variable['name']}", panel_type="variable",
                ref_id="A", datasource_uid=TIMESCALEDB.uid,
                text=str(query["query"] if isinstance(query, dict) else query),
                format="table", instant=False,
                range_seconds=relative_seconds(str(board["time"]["from"])),
                max_data_points=100, min_interval=None,
            )
        )  # fmt: skip
    return found


def board_queries(range_seconds: float | None) -> list[Timed]:
    """Every SQL query of every board; at ``range_seconds`` instead of the board's default
    range (a panel with its own ``timeFrom`` keeps it, as in Grafana)."""
    found = []
    for spec in BOARDS:
        board = board_json(spec.build())
        own = {p["id"] for p in walk_panels(board) if p.get("timeFrom")}
        for query in [*variable_queries(board), *panel_queries(board)]:
            if not query.is_sql:
                continue
            if range_seconds is not None and query.panel_id not in own:
                query = dataclasses.replace(query, range_seconds=range_seconds)
            ref = "" if query.ref_id == "A" else f" {query.ref_id}"
            title = f"{query.panel_title} ({query.panel_type}{ref})"
            found.append(Timed(spec.slug, title, query))
    return found


def _ticks(pid: int) -> tuple[int, int]:
    """(utime + stime of ``pid``, cutime + cstime of its parent) in clock ticks: the
    backend's own CPU and that of the parallel workers its postmaster reaped."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    parent = Path(f"/proc/{fields[1]}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12]), int(parent[13]) + int(parent[14])


@dataclass
class Samples:
    wall_ms: dict[Timed, list[float]] = field(default_factory=lambda: defaultdict(list))
    cpu_ms: dict[Timed, float] = field(default_factory=lambda: defaultdict(float))
    rows: dict[Timed, int] = field(default_factory=dict)
    errors: dict[Timed, str] = field(default_factory=dict)


def measure(url: str, now: datetime, queries: list[Timed], rounds: int) -> Samples:
    """Run every query ``rounds`` times (after one warm-up round) as ``ioc_grafana``."""
    samples = Samples()
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    with psycopg.connect(with_user(url, "ioc_grafana"), autocommit=True) as conn:
        backend = conn.info.backend_pid
        for round_ in range(rounds + 1):
            for timed in queries:
                if timed in samples.errors:
                    continue
                ctx = context(timed.query, now, VARIABLES)
                own0, reaped0 = _ticks(backend)
                try:
                    frame = run_sql(conn, timed.query, ctx)
                except psycopg.Error as error:
                    samples.errors[timed] = str(error).splitlines()[0]
                    continue
                own1, reaped1 = _ticks(backend)
                if round_ == 0:
                    samples.rows[timed] = frame.size
                    continue
                samples.wall_ms[timed].append(frame.elapsed_ms)
                samples.cpu_ms[timed] += (own1 - own0 + reaped1 - reaped0) * tick_ms
    return samples


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# ---------------------------------------------------------------- report


def table(samples: Samples, rounds: int, label: str) -> list[str]:
    """Per board (one full load: every query once, in sequence; and each query alone) and
    per panel."""
    boards: dict[str, list[Timed]] = defaultdict(list)
    for timed in samples.wall_ms:
        boards[timed.board].append(timed)
    out = [
        f"**{label}**",
        "",
        "| board | SQL queries | whole board p50 / p95 ms | one query p50 / p95 / max ms "
        "| DB CPU ms per board load |",
        "|---|---|---|---|---|",
    ]
    for board, members in boards.items():
        loads = [sum(samples.wall_ms[t][i] for t in members) for i in range(rounds)]
        each = [ms for t in members for ms in samples.wall_ms[t]]
        cpu = sum(samples.cpu_ms[t] for t in members) / rounds
        out.append(
            f"| {board} | {len(members)} | {statistics.median(loads):.0f} / "
            f"{nearest_rank(loads, 0.95):.0f} | {statistics.median(each):.1f} / "
            f"{nearest_rank(each, 0.95):.1f} / {max(each):.1f} | {cpu:.0f} |"
        )
    out += [
        "",
        "<details><summary>per panel</summary>",
        "",
        "| board | panel | rows | p50 ms | p95 ms | DB CPU ms per run |",
        "|---|---|---|---|---|---|",
    ]
    for timed, walls in samples.wall_ms.items():
        title = timed.panel.replace("|", "/")
        out.append(
            f"| {timed.board} | {title} | {samples.rows.get(timed, 0)} | "
            f"{statistics.median(walls):.1f} | {nearest_rank(walls, 0.95):.1f} | "
            f"{samples.cpu_ms[timed] / rounds:.1f} |"
        )
    out += ["", "</details>"]
    for timed, error in samples.errors.items():
        out.append(f"- FAILED {timed.board} / {timed.panel}: {error}")
    return out


def report(results: list[tuple[str, Samples]], info: dict[str, Any], rounds: int) -> str:
    intro = (
        f"`bench/board_query_bench.py`: every SQL query of every board (panel targets and the "
        f"`$district` variable) on one simulated day of the province: {info['events']:,} "
        f"events from `ioc simulate --sim-duration 24h --start {info['start']} --seed "
        f"{info['seed']}` through the worker's pipeline, {info['rows']:,} KPI rows COPYed into "
        f"`kpi` ({info['mib']:.0f} MiB, hypertable_size), then ANALYZE. Queries as Grafana "
        f"sends them (all districts, window kind {DEFAULT_WINDOW_KIND}) at the end of the day "
        f"({info['now']}), as the read-only role `ioc_grafana`; one warm-up round, then "
        f"{rounds} rounds interleaving every query. Wall time is the client's (execute + "
        "fetch); DB CPU is the backend's and its parallel workers' (clock ticks of 10 ms, "
        f"summed). Indexes on `kpi`: {info['indexes']}. Load average {info['load_before']} "
        f"before, {info['load_after']} after (2 cores, shared). Command: `{info['command']}`."
    )
    lines = [textwrap.fill(intro, 92, break_on_hyphens=False, break_long_words=False), ""]
    for label, samples in results:
        lines += [*table(samples, rounds, label), ""]
    return "\n".join(lines)


def indexes(url: str) -> str:
    """The indexes of ``kpi`` with their size over all chunks."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT indexname, indexdef, hypertable_index_size(indexname::regclass) "
            "FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'kpi' ORDER BY 1"
        ).fetchall()
    return "; ".join(
        f"`{name}` {definition.partition(' USING btree ')[2]} {size / 2**20:.0f} MiB"
        for name, definition, size in rows
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default=DAY_START, help="simulated day start (ISO time)")
    parser.add_argument("--keep", metavar="NAME", help="keep (or reuse) the filled database")
    parser.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args(argv)
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    database = kept_database(args.keep) if args.keep else fresh_database("ioc_bench_boards")
    with database as url:
        if filled_rows(url) == 0:
            filled = fill(url, args.seed, args.start)
            say(f"filled {filled.rows:,} rows from {filled.events:,} events in "
                f"{filled.seconds:.0f} s; kpi {filled.kpi_bytes / 2**20:.0f} MiB")  # fmt: skip
        with psycopg.connect(url) as conn:
            size = conn.execute("SELECT hypertable_size('kpi')").fetchone()
            events = conn.execute("SELECT events, start, seed FROM bench_fill").fetchone()
        now = day_end(str(events[1]) if events else args.start)
        results = []
        for label, range_seconds in (("board default ranges", None), ("24 h", 86400.0)):
            say(f"measuring at {label} ...")
            queries = board_queries(range_seconds)
            results.append((f"At the {label}", measure(url, now, queries, args.rounds)))
        info = {
            "events": int(events[0]) if events else 0,
            "rows": filled_rows(url),
            "mib": (int(size[0]) if size and size[0] else 0) / 2**20,
            "start": events[1] if events else args.start,
            "seed": events[2] if events else args.seed,
            "now": f"{now:%Y-%m-%d %H:%M} UTC",
            "indexes": indexes(url),
            "load_before": load_before,
            "load_after": " ".join(f"{x:.1f}" for x in os.getloadavg()),
            "command": f".venv/bin/python bench/board_query_bench.py --rounds {args.rounds}"
            + (f" --keep {args.keep}" if args.keep else ""),
        }
    text = report(results, info, args.rounds)
    print(text)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
