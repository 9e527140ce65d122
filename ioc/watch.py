"""Watching the demo's pipeline: its progress until every event is consumed and every KPI
row written, and the conservation balance of the worker's counters."""

from __future__ import annotations

import time
from typing import Any, Final

from rich.console import Console

from common.config import Settings
from common.errors import UserError
from common.metrics import scrape, series, total
from ioc.processes import Children
from schemas.topics import RAW_TOPICS

WATERMARK: Final = "ioc_watermark_timestamp_seconds"
DEMO_IDLE_SECONDS: Final = 5.0
"""The demo workers' idle timeout: how soon the idle watermark closes the last windows."""


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


def watermarks(worker: dict[str, float]) -> dict[str, float]:
    """The watermark series of the worker's scraped samples."""
    return {k: v for k, v in worker.items() if k.startswith(WATERMARK + "{")}


def watermarks_behind(worker: dict[str, float], partitions: int, closed_to: float) -> int:
    """How many partitions of the raw topics have not reported a watermark at or past
    ``closed_to`` (Unix time) in the worker's scraped samples: 0 once every window that
    ends by then is closed."""
    behind = 0
    for topic in RAW_TOPICS:
        for partition in range(partitions):
            labels = {"topic": topic, "partition": str(partition)}
            if worker.get(series(WATERMARK, labels), 0.0) < closed_to:
                behind += 1
    return behind


def wait_until_done(
    console: Console,
    settings: Settings,
    children: Children,
    sent: int,
    deadline: float,
    closed_to: float | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """Poll the worker and sink until every event is consumed, the windows that can close
    are closed and every row is written.

    Windows are closed when every raw partition's watermark has reached ``closed_to`` (Unix
    time): give it for a period that ends now, whose last windows the idle watermark closes
    by wall clock. Without it (old events: their last windows wait for newer ones), when
    the watermarks stand still: progress markers may close windows after the last event.
    """
    ports = settings.ports
    last_count, last_time = 0.0, time.monotonic()
    consumed_at: float | None = None
    last_emitted = -1.0
    last_marks: dict[str, float] | None = None
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
        marks = watermarks(worker)
        if closed_to is None:
            behind, closing = 0, marks != last_marks
        else:
            behind = watermarks_behind(worker, settings.partitions, closed_to)
            closing = behind > 0
        if (
            consumed_at is not None
            and now - consumed_at >= settle
            and not closing
            and written >= emitted == last_emitted
        ):
            return worker, sink
        last_emitted, last_marks = emitted, marks
        if now > deadline:
            raise UserError(
                f"the pipeline did not finish in time: consumed {consumed:.0f} of {sent} "
                f"events, {written:.0f} of {emitted:.0f} KPI rows written, {behind} "
                "partitions with windows still open in the period; "
                f"see the logs in {children.log_dir}"
            )


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
