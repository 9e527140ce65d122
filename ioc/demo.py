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
from common.metrics import scrape, total
from dashboards.board import TIMEZONE
from dashboards.build import write as build_boards
from deploy.devstack import stack
from ioc.live import LiveFigures, LiveRun, live_summary, print_live
from ioc.processes import IOC, Children
from ioc.summary import Period, clear_period, latest_by_district, print_tables
from ioc.wall import write_board_pngs
from schemas.topics import CLOCK_TOPIC, DEADLETTER_TOPIC, KPI_TOPIC, LATE_TOPIC, RAW_TOPICS
from sinks.migrate import migrate

FAULTS: Final = (
    "--malformed=0.002",
    "--invalid=0.002",
    "--duplicates=0.005",
    "--late=0.003",
    "--future=0.001",
    "--out-of-order=0.01",
)
DEMO_IDLE_SECONDS: Final = 5.0


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
        doomed = [n for n in names if n in existing]
        doomed += sorted(n for n in existing if n.startswith(DEMO_APP_PREFIX))
        if doomed:
            await admin.delete_topics(doomed)
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


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
    run_dir = Path(tempfile.mkdtemp(prefix="ioc-demo-"))
    started_servers = run_dir / "servers-started"
    period = Period.choose(datetime.now(UTC), args.hours, args.end_now)

    console.rule("[bold]smartcity-ioc demo — Hậu Giang operations center")
    console.print("1/7 local servers (ioc dev up)")
    stack.up(record_to=started_servers)
    for line in stack.status_lines()[0]:
        console.print(f"    {line}")
    children = Children(run_dir)
    live = LiveRun(console, settings, children) if args.live else None
    try:
        boards, env = _prepare(console, settings, period, children)
        sent = _simulate(console, args, period, env, run_dir)
        console.print("5/7 pipeline at work")
        deadline = started_at + args.timeout
        worker, sink = wait_until_done(console, settings, children, sent, deadline)
        if live is not None:
            live.start(env, args.seed, FAULTS)
            console.print("    --live: the province goes on in real time from now")
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
        pictures = _pictures(console, settings, run_dir, period)
        where_next(console, settings, boards[0].parent if boards else None, args, run_dir, period)
        live_figures: LiveFigures | None = None
        if live is not None:
            console.rule("Live: the province in real time (Ctrl-C stops)")
            live_figures = live.wait(args.live_minutes)
            print_live(console, live_figures)
            sent += live_figures.sent
            worker, sink = wait_until_done(
                console, settings, children, sent, time.monotonic() + args.timeout
            )
            figures = conservation(worker, sent)
            print_conservation(console, figures)
        if args.summary_json is not None:
            summary = {
                "period": {"start": period.start.isoformat(), "end": period.end.isoformat()},
                "sent": sent,
                "conservation": figures,
                "latest": latest,
                "boards": {
                    p.stem: {"png": str(p), "panels": n, "with_data": d} for p, n, d in pictures
                },
                "live": None if live_figures is None else live_summary(live_figures),
            }
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


def print_conservation(console: Console, figures: dict[str, Any]) -> None:
    """The conservation line: sent = windowed + dead-lettered + late + duplicates, and
    consumed = sent + re-routed (a re-routed event is read again in its district's partition)."""
    rerouted = figures["rerouted"]
    console.print(
        "[bold]Conservation:[/bold] "
        f"sent {figures['sent']:,} · consumed {figures['consumed']:,} = windowed "
        f"{figures['windowed']:,} + dead-lettered {figures['dead_lettered']:,} + late "
        f"{figures['late']:,} + duplicates {figures['duplicates']:,} "
        + (f"+ re-routed {rerouted:,} " if rerouted else "")
        + ("[green]✓[/green]" if figures["balanced"] else "[bold red]✗[/bold red]")
        + f" (re-read: {figures['redelivered']:,} redeliveries)"
    )


def conservation(worker: dict[str, float], sent: int) -> dict[str, Any]:
    """The conservation figures of a worker's counters (re-read records are redeliveries,
    outside the balance)."""
    figures = {
        "consumed": int(total(worker, "ioc_events_consumed_total")),
        "windowed": int(total(worker, "ioc_events_windowed_total")),
        "dead_lettered": int(total(worker, "ioc_events_invalid_total")),
        "late": int(total(worker, "ioc_events_late_total")),
        "duplicates": int(total(worker, "ioc_events_duplicate_total")),
        "redelivered": int(total(worker, "ioc_events_redelivered_total")),
        "rerouted": int(total(worker, "ioc_events_rerouted_total")),
    }
    parts = figures["windowed"] + figures["dead_lettered"] + figures["late"]
    balanced = (
        figures["consumed"] == sent + figures["rerouted"] and parts + figures["duplicates"] == sent
    )
    return {**figures, "sent": sent, "balanced": balanced}


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
