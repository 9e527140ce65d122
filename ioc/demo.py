"""``ioc demo``: the whole product on real local servers, end to end, in about two minutes.

Steps: start the local servers, reset the product topics, migrate TimescaleDB, build the
boards, start a worker and the sink, simulate three hours of the province (salinity
intrusion in Long My, a cell-site outage in Phung Hiep, a few faults of every kind) as
fast as the pipeline takes it, wait until every window is closed and written, then show
the latest KPIs per district against their targets, the conservation line and where to
look next.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import psycopg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from rich.console import Console
from rich.table import Table

from common.config import Settings, load
from common.errors import UserError
from common.metrics import scrape, total
from dashboards.build import write as build_boards
from deploy.devstack import stack
from schemas.places import DISTRICT_NAMES, District
from schemas.topics import CLOCK_TOPIC, DEADLETTER_TOPIC, KPI_TOPIC, LATE_TOPIC, RAW_TOPICS
from sinks.migrate import migrate
from streams.catalog import by_name

IOC: Final = str(Path(sys.executable).parent / "ioc")
SUMMARY_KPIS: Final[dict[str, tuple[str, ...]]] = {
    "Dịch vụ công — public services": (
        "portal.dossiers_received",
        "portal.online_submission_rate",
        "portal.on_time_rate",
        "portal.rating_mean",
    ),
    "Viễn thông — network": (
        "network.availability_ratio",
        "network.latency_p95_ms",
        "network.downlink_4g_mean_mbps",
        "network.outage_minutes",
    ),
    "Nông nghiệp — agriculture": (
        "farm.salinity_max_gl",
        "farm.salinity_minutes_above_4",
        "farm.soil_moisture_min_pct",
        "farm.completeness_ratio",
    ),
}
FAULTS: Final = (
    "--malformed=0.002",
    "--invalid=0.002",
    "--duplicates=0.005",
    "--late=0.003",
    "--future=0.001",
    "--out-of-order=0.01",
)
DEMO_IDLE_SECONDS: Final = 5.0
COLOURS: Final = {"green": "green", "amber": "yellow", "red": "bold red"}


def register(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the ``demo`` subcommand."""
    parser = add_parser(
        "demo",
        help="run the whole pipeline on local servers and show the KPIs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--hours", type=float, default=3.0, help="simulated hours, ending now (default 3)"
    )
    parser.add_argument("--seed", type=int, default=42, help="simulator seed (default 42)")
    parser.add_argument(
        "--keep", action="store_true", help="leave servers, worker and sink running"
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="give up after this many seconds"
    )
    parser.add_argument(
        "--summary-json", type=Path, help="also write the printed figures to this file"
    )
    parser.set_defaults(handler=run)


@dataclass
class Children:
    """Worker and sink processes started by the demo."""

    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = (self.log_dir / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def check(self) -> None:
        """Fail with the log path when a child died."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise UserError(
                    f"the {name} exited with code {proc.returncode}; "
                    f"see its log: {self.log_dir / (name + '.log')}"
                )

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


DEMO_APP_PREFIX = "ioc-demo-"
"""App ids of demo workers: their changelogs are useless once their demo ended."""


async def reset_topics(bootstrap: str, partitions: int) -> None:
    """Delete and re-create the product topics so the demo counts only its own events, and
    delete earlier demos' window-state changelogs (Kafka keeps topics across restarts)."""
    names = [*RAW_TOPICS, KPI_TOPIC, DEADLETTER_TOPIC, LATE_TOPIC, CLOCK_TOPIC]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [n for n in names if n in existing]
        doomed += sorted(n for n in existing if n.startswith(DEMO_APP_PREFIX))
        if doomed:
            await admin.delete_topics(doomed)
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


def latest_by_district(database_url: str) -> dict[str, dict[str, tuple[float, str]]]:
    """Latest 15-minute district value of every summary KPI: kpi -> district -> (value, end)."""
    kpis = [k for group in SUMMARY_KPIS.values() for k in group]
    query = """
        SELECT DISTINCT ON (kpi, entity_id) kpi, entity_id, value, window_end
        FROM kpi
        WHERE entity_kind = 'district' AND window_kind = '15m' AND kpi = ANY(%s)
          AND window_end > now() - interval '1 day'
        ORDER BY kpi, entity_id, window_end DESC
    """
    out: dict[str, dict[str, tuple[float, str]]] = {}
    with psycopg.connect(database_url) as conn:
        for kpi, district, value, end in conn.execute(query, (kpis,)):
            out.setdefault(kpi, {})[district] = (float(value), end.isoformat())
    return out


def _cell(kpi_name: str, value: float | None) -> str:
    if value is None:
        return "[dim]–[/dim]"
    kpi = by_name(kpi_name)
    text = f"{value * 100:.1f} %" if kpi.unit == "percentunit" else f"{value:.{kpi.decimals}f}"
    if kpi.target is None:
        return text
    return f"[{COLOURS[kpi.target.status(value)]}]{text}[/]"


def _header(kpi_name: str) -> str:
    kpi = by_name(kpi_name)
    target = ""
    if kpi.target is not None:
        shown = (
            f"{kpi.target.value * 100:g} %"
            if kpi.unit == "percentunit"
            else f"{kpi.target.value:g}"
        )
        target = f"\n[dim]target {kpi.target.op} {shown}[/dim]"
    return f"{kpi.title_vi}\n[dim]{kpi.title_en}[/dim]{target}"


def print_tables(console: Console, latest: dict[str, dict[str, tuple[float, str]]]) -> None:
    """One table per domain: districts x KPIs, coloured red/amber/green by target."""
    for title, kpis in SUMMARY_KPIS.items():
        table = Table(title=title, title_justify="left", show_lines=False)
        table.add_column("Huyện / district")
        for kpi in kpis:
            table.add_column(_header(kpi), justify="right")
        for district in District:
            cells = [
                _cell(kpi, latest.get(kpi, {}).get(district.value, (None, ""))[0]) for kpi in kpis
            ]
            table.add_row(DISTRICT_NAMES[district], *cells)
        console.print(table)


def _progress(
    console: Console, worker: dict[str, float], sink: dict[str, float], rate: float
) -> None:
    console.print(
        f"  events {total(worker, 'ioc_events_consumed_total'):,.0f} ({rate:,.0f}/s) · "
        f"windows {total(worker, 'ioc_windows_closed_total'):,.0f} · KPI rows "
        f"{total(worker, 'ioc_kpi_rows_emitted_total'):,.0f} emitted, "
        f"{total(sink, 'ioc_sink_rows_written_total'):,.0f} written",
        highlight=False,
        soft_wrap=True,
    )


def wait_until_done(
    console: Console, settings: Settings, children: Children, sent: int, deadline: float
) -> tuple[dict[str, float], dict[str, float]]:
    """Poll the worker and sink until every event is consumed, the idle watermark has closed
    every window that can close (the current hour stays open) and every row is written."""
    ports = settings.ports
    last_count, last_time = 0.0, time.monotonic()
    consumed_at: float | None = None
    last_emitted = -1.0
    settle = DEMO_IDLE_SECONDS + 4.0
    while True:
        children.check()
        time.sleep(2)
        worker, sink = scrape(ports.worker_metrics), scrape(ports.sink_metrics)
        consumed = total(worker, "ioc_events_consumed_total")
        now = time.monotonic()
        _progress(console, worker, sink, (consumed - last_count) / (now - last_time))
        last_count, last_time = consumed, now
        if consumed >= sent and consumed_at is None:
            consumed_at = now
        emitted = total(worker, "ioc_kpi_rows_emitted_total")
        written = total(sink, "ioc_sink_rows_written_total")
        if (
            consumed_at is not None
            and now - consumed_at >= settle
            and written >= emitted == last_emitted
        ):
            return worker, sink
        last_emitted = emitted
        if now > deadline:
            raise UserError(
                f"the pipeline did not finish in time: consumed {consumed:.0f} of {sent} "
                f"events, {written:.0f} of {emitted:.0f} KPI rows written; "
                f"see the logs in {children.log_dir}"
            )


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when the pipeline finished and the KPIs were shown."""
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 132)
    settings = load()
    started_at = time.monotonic()
    deadline = started_at + args.timeout
    run_dir = Path(tempfile.mkdtemp(prefix="ioc-demo-"))
    started_servers = run_dir / "servers-started"

    console.rule("[bold]smartcity-ioc demo — Hậu Giang operations center")
    console.print("1/6 local servers (ioc dev up)")
    stack.up(record_to=started_servers)
    for line in stack.status_lines()[0]:
        console.print(f"    {line}")
    children = Children(run_dir)
    try:
        console.print("2/6 fresh topics, database migrations, Grafana boards")
        asyncio.run(reset_topics(settings.kafka_bootstrap, settings.partitions))
        migrate(settings.database_url)
        boards = build_boards()
        stamp = time.strftime("%Y%m%d%H%M%S")
        env = {
            **os.environ,
            "IOC_APP_ID": f"{DEMO_APP_PREFIX}{stamp}",
            "IOC_SINK_GROUP": f"{DEMO_APP_PREFIX}sink-{stamp}",
            "IOC_IDLE_TIMEOUT_SECONDS": str(DEMO_IDLE_SECONDS),
        }
        console.print("3/6 worker and sink")
        children.start("worker", [IOC, "worker"], env)
        children.start("sink", [IOC, "sink"], env)
        summary_path = run_dir / "simulator.json"
        console.print(
            f"4/6 simulating {args.hours:g} h of the province: salinity intrusion in Long Mỹ, "
            "cell-site outage in Phụng Hiệp, a few faults of every kind"
        )
        simulate = [
            IOC,
            "simulate",
            f"--start=now-{args.hours:g}h",
            f"--sim-duration={args.hours:g}h",
            f"--seed={args.seed}",
            "--scenario=salinity-intrusion",
            "--scenario=site-outage",
            "--scenario-after=30m",
            f"--summary-json={summary_path}",
            *FAULTS,
        ]
        result = subprocess.run(simulate, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise UserError(f"the simulator failed: {result.stderr.strip()[-500:]}")
        sent_summary = json.loads(summary_path.read_text())
        sent = int(sent_summary["totals"]["messages"])
        console.print(f"    sent {sent:,} events; waiting for every window to close and land")
        console.print("5/6 pipeline at work")
        worker, sink = wait_until_done(console, settings, children, sent, deadline)
        console.print("6/6 latest KPIs per district (15-minute rolling windows)")
        latest = latest_by_district(settings.database_url)
        print_tables(console, latest)
        figures = conservation(worker, sent)
        console.print(
            "[bold]Conservation:[/bold] "
            f"sent {sent:,} · consumed {figures['consumed']:,} = windowed "
            f"{figures['windowed']:,} + dead-lettered {figures['dead_lettered']:,} + late "
            f"{figures['late']:,} + duplicates {figures['duplicates']:,} "
            + ("[green]✓[/green]" if figures["balanced"] else "[bold red]✗[/bold red]")
        )
        console.print(
            f"KPI rows emitted {total(worker, 'ioc_kpi_rows_emitted_total'):,.0f}, written "
            f"{total(sink, 'ioc_sink_rows_written_total'):,.0f}; "
            f"wall time {time.monotonic() - started_at:.0f} s"
        )
        where_next(console, settings, boards[0].parent if boards else None, args.keep, run_dir)
        if args.summary_json is not None:
            args.summary_json.write_text(
                json.dumps({"sent": sent, "conservation": figures, "latest": latest}, indent=2)
            )
        return 0 if figures["balanced"] else 1
    finally:
        if not args.keep:
            children.stop()
            names = stack.recorded(started_servers)
            if names:
                stack.down(names)


def conservation(worker: dict[str, float], sent: int) -> dict[str, Any]:
    """The conservation figures of a worker's counters."""
    figures = {
        "consumed": int(total(worker, "ioc_events_consumed_total")),
        "windowed": int(total(worker, "ioc_events_windowed_total")),
        "dead_lettered": int(total(worker, "ioc_events_invalid_total")),
        "late": int(total(worker, "ioc_events_late_total")),
        "duplicates": int(total(worker, "ioc_events_duplicate_total")),
    }
    parts = figures["windowed"] + figures["dead_lettered"] + figures["late"]
    balanced = figures["consumed"] == sent and parts + figures["duplicates"] == sent
    return {**figures, "sent": sent, "balanced": balanced}


def where_next(
    console: Console, settings: Settings, boards: Path | None, keep: bool, run_dir: Path
) -> None:
    """Print where to look next."""
    ports = settings.ports
    console.rule("Where to look next")
    lines = [
        f"worker metrics   http://127.0.0.1:{ports.worker_metrics}/metrics"
        + ("" if keep else "  (with --keep)"),
        f"Prometheus       http://127.0.0.1:{ports.prometheus}/alerts",
        f"Alertmanager     http://127.0.0.1:{ports.alertmanager}/",
        f"Grafana boards   {boards or 'deploy/grafana/dashboards'} "
        "(ioc dashboards preview overview --out overview.png)",
        f"KPI table        psql {settings.database_url} -c 'SELECT * FROM kpi_latest LIMIT 20'",
        "Grafana + all    docker compose up (production stack, see README)",
        f"logs             {run_dir}",
    ]
    for line in lines:
        console.print(f"  {line}")
