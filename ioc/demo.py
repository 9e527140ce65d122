"""``ioc demo``: the whole product on real local servers, end to end, in about two minutes.

Steps: start the local servers, reset the product topics, migrate TimescaleDB (deleting
earlier runs' KPI rows in the simulated period), build the boards, start a worker and the
sink, simulate three hours of the province (salinity intrusion in Long My, a cell-site
outage in Phung Hiep, a few faults of every kind) as fast as the pipeline takes it, wait
until every window is closed and written, then show the latest KPIs per district against
their targets, the conservation line, a PNG of every board and where to look next.

The simulated hours are the latest office hours (07:00-17:00 Asia/Ho_Chi_Minh, Monday to
Friday): now when the office has been open that long today, else up to 17:00 of the last
working day, so the counters are staffed and dossiers complete. --end-now ends them now.
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from rich.console import Console

from common.config import Settings, load
from common.errors import UserError
from common.metrics import total
from dashboards.board import TIMEZONE
from dashboards.build import write as build_boards
from deploy.devstack import stack
from ioc.live import LiveFigures, LiveRun, live_summary, print_live
from ioc.processes import IOC, Children
from ioc.summary import Latest, Period, clear_period, latest_by_district, print_tables
from ioc.wall import write_board_pngs
from ioc.watch import DEMO_IDLE_SECONDS, conservation, print_conservation, wait_until_done
from schemas.topics import (
    CLAIMS_TOPIC,
    CLOCK_TOPIC,
    DEADLETTER_TOPIC,
    KPI_TOPIC,
    LATE_TOPIC,
    RAW_TOPICS,
)
from sinks.migrate import migrate

FAULTS: Final = (
    "--malformed=0.002",
    "--invalid=0.002",
    "--duplicates=0.005",
    "--late=0.003",
    "--future=0.001",
    "--out-of-order=0.01",
)


def register(add_parser: Callable[..., argparse.ArgumentParser]) -> None:
    """Add the ``demo`` subcommand."""
    parser = add_parser(
        "demo",
        help="run the whole pipeline on local servers and show the KPIs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--hours",
        type=float,
        default=3.0,
        help="simulated hours, the latest office hours (default 3)",
    )
    parser.add_argument(
        "--end-now",
        action="store_true",
        help="end the simulated hours now instead of in the latest office hours",
    )
    parser.add_argument("--seed", type=int, default=42, help="simulator seed (default 42)")
    parser.add_argument(
        "--keep", action="store_true", help="leave servers, worker and sink running"
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="after the catch-up, run the province in real time until Ctrl-C and print the "
        "alerts Alertmanager delivers",
    )
    parser.add_argument(
        "--live-minutes",
        type=float,
        default=None,
        help="with --live: stop after this many minutes instead of at Ctrl-C",
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="give up after this many seconds"
    )
    parser.add_argument(
        "--summary-json", type=Path, help="also write the printed figures to this file"
    )
    parser.set_defaults(handler=run)


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
        doomed = [n for n in [*names, CLAIMS_TOPIC] if n in existing]  # workers create it
        doomed += sorted(n for n in existing if n.startswith(DEMO_APP_PREFIX))
        if doomed:
            await admin.delete_topics(doomed)
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0 when the pipeline finished and the KPIs were shown."""
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 132)
    settings = load()
    started_at = time.monotonic()
    run_dir = Path(tempfile.mkdtemp(prefix="ioc-demo-"))
    started_servers = run_dir / "servers-started"
    now = datetime.now(UTC)
    period = Period.choose(now, args.hours, args.end_now)
    _start_servers(console, started_servers)
    children = Children(run_dir)
    live = LiveRun(console, settings, children) if args.live else None
    try:
        boards, env = _prepare(console, settings, period, children)
        sent = _simulate(console, args, period, env, run_dir)
        console.print("5/7 pipeline at work")
        deadline = started_at + args.timeout
        closed_to = period.end.timestamp() if period.ends_at(now) else None
        worker, sink = wait_until_done(console, settings, children, sent, deadline, closed_to)
        if live is not None:
            live.start(env, args.seed, FAULTS)
            console.print("    --live: the province goes on in real time from now")
        latest, figures = _show_kpis(console, settings, period, worker, sink, sent, started_at)
        pictures = _pictures(console, settings, run_dir, period)
        where_next(console, settings, boards[0].parent if boards else None, args, run_dir, period)
        live_figures: LiveFigures | None = None
        if live is not None:
            live_figures, sent, figures = _go_live(console, settings, children, live, args, sent)
        if args.summary_json is not None:
            summary = _summary(period, sent, figures, latest, pictures, live_figures)
            args.summary_json.write_text(json.dumps(summary, indent=2))
        return 0 if figures["balanced"] else 1
    finally:
        if live is not None:
            live.stop()
        if not args.keep:
            children.stop()
            names = stack.recorded(started_servers)
            if names:
                stack.down(names)


def _start_servers(console: Console, record_to: Path) -> None:
    """Step 1: the local servers, those it started recorded in ``record_to``."""
    console.rule("[bold]smartcity-ioc demo — Hậu Giang operations center")
    console.print("1/7 local servers (ioc dev up)")
    stack.up(record_to=record_to)
    for line in stack.status_lines()[0]:
        console.print(f"    {line}")


def _show_kpis(
    console: Console,
    settings: Settings,
    period: Period,
    worker: dict[str, float],
    sink: dict[str, float],
    sent: int,
    started_at: float,
) -> tuple[Latest, dict[str, Any]]:
    """Step 6: the latest KPIs per district and the conservation line; both returned."""
    console.print("6/7 latest KPIs per district (15-minute rolling windows)")
    latest = latest_by_district(settings.database_url, period)
    print_tables(console, latest)
    figures = conservation(worker, sent)
    print_conservation(console, figures)
    console.print(
        f"KPI rows emitted {total(worker, 'ioc_kpi_rows_emitted_total'):,.0f}, written "
        f"{total(sink, 'ioc_sink_rows_written_total'):,.0f}; "
        f"wall time {time.monotonic() - started_at:.0f} s"
    )
    return latest, figures


def _go_live(
    console: Console,
    settings: Settings,
    children: Children,
    live: LiveRun,
    args: argparse.Namespace,
    sent: int,
) -> tuple[LiveFigures, int, dict[str, Any]]:
    """--live: the province in real time until Ctrl-C or --live-minutes, then the pipeline
    drained; the live figures, the events sent in all and the conservation figures."""
    console.rule("Live: the province in real time (Ctrl-C stops)")
    live_figures = live.wait(args.live_minutes)
    print_live(console, live_figures)
    sent += live_figures.sent
    worker, _ = wait_until_done(console, settings, children, sent, time.monotonic() + args.timeout)
    figures = conservation(worker, sent)
    print_conservation(console, figures)
    return live_figures, sent, figures


def _summary(
    period: Period,
    sent: int,
    figures: dict[str, Any],
    latest: Latest,
    pictures: list[tuple[Path, int, int]],
    live_figures: LiveFigures | None,
) -> dict[str, Any]:
    """The printed figures as the JSON document of --summary-json."""
    return {
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
        "sent": sent,
        "conservation": figures,
        "latest": latest,
        "boards": {p.stem: {"png": str(p), "panels": n, "with_data": d} for p, n, d in pictures},
        "live": None if live_figures is None else live_summary(live_figures),
    }


def _prepare(
    console: Console, settings: Settings, period: Period, children: Children
) -> tuple[list[Path], dict[str, str]]:
    """Steps 2 and 3: fresh topics, migrations, the period cleared, boards built, worker and
    sink started; the boards written and the environment of the demo's processes."""
    console.print("2/7 fresh topics, database migrations, Grafana boards")
    asyncio.run(reset_topics(settings.kafka_bootstrap, settings.partitions))
    migrate(settings.database_url)
    cleared = clear_period(settings.database_url, period)
    if cleared:
        console.print(f"    deleted {cleared:,} KPI rows of earlier runs in the period")
    boards = build_boards()
    stamp = time.strftime("%Y%m%d%H%M%S")
    env = {
        **os.environ,
        "IOC_APP_ID": f"{DEMO_APP_PREFIX}{stamp}",
        "IOC_SINK_GROUP": f"{DEMO_APP_PREFIX}sink-{stamp}",
        "IOC_IDLE_TIMEOUT_SECONDS": str(DEMO_IDLE_SECONDS),
    }
    console.print("3/7 worker and sink")
    children.start("worker", [IOC, "worker"], env)
    children.start("sink", [IOC, "sink"], env)
    return boards, env


def _simulate(
    console: Console, args: argparse.Namespace, period: Period, env: dict[str, str], run_dir: Path
) -> int:
    """Step 4: the simulated province of the period, sent to Kafka; the events sent."""
    summary_path = run_dir / "simulator.json"
    console.print(
        f"4/7 simulating {args.hours:g} h of the province, {period.local()}: salinity "
        "intrusion in Long Mỹ, cell-site outage in Phụng Hiệp, a few faults of every kind"
    )
    simulate = [
        IOC,
        "simulate",
        f"--start={period.start.isoformat()}",
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
    sent = int(json.loads(summary_path.read_text())["totals"]["messages"])
    console.print(f"    sent {sent:,} events; waiting for every window to close and land")
    return sent


def _pictures(
    console: Console, settings: Settings, run_dir: Path, period: Period
) -> list[tuple[Path, int, int]]:
    """Step 7: a PNG of every board in the run's folder; (path, panels, with data) each."""
    console.print("7/7 the boards as pictures")
    pictures = write_board_pngs(
        run_dir,
        settings.database_url,
        f"http://127.0.0.1:{settings.ports.prometheus}",
        period.end,
    )
    for path, panels, with_data in pictures:
        console.print(f"    {path}  ({with_data} of {panels} panels with data)")
    return list(pictures)


def where_next(
    console: Console,
    settings: Settings,
    boards: Path | None,
    args: argparse.Namespace,
    run_dir: Path,
    period: Period,
) -> None:
    """Print where to look next."""
    ports = settings.ports
    keep = bool(args.keep or args.live)
    at = period.end.astimezone(ZoneInfo(TIMEZONE)).isoformat()
    console.rule("Where to look next")
    lines = [
        f"worker metrics   http://127.0.0.1:{ports.worker_metrics}/metrics"
        + ("" if keep else "  (with --keep)"),
        f"Prometheus       http://127.0.0.1:{ports.prometheus}/alerts",
        f"Alertmanager     http://127.0.0.1:{ports.alertmanager}/",
        f"Grafana boards   {boards or 'deploy/grafana/dashboards'} (time range "
        f"{period.local()}; ioc dashboards preview overview --at {at} --out overview.png)",
        f"KPI table        psql {settings.database_url} -c 'SELECT * FROM kpi_latest LIMIT 20'",
        "Grafana + all    docker compose up (production stack, see README)",
        f"logs             {run_dir}",
    ]
    for line in lines:
        console.print(f"  {line}")
