"""What the demo shows of the KPIs: its simulated period and the latest values per district."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import psycopg
from rich.console import Console
from rich.table import Table

from dashboards.board import TIMEZONE
from schemas.places import DISTRICT_NAMES, District
from simulator.rhythms import office_period_end
from streams.catalog import by_name

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
COLOURS: Final = {"green": "green", "amber": "yellow", "red": "bold red"}
Latest = dict[str, dict[str, tuple[float, str]]]
"""KPI -> district -> (value, window end), as :func:`latest_by_district` gives it."""


@dataclass(frozen=True)
class Period:
    """The simulated hours: ``[start, end)``, UTC."""

    start: datetime
    end: datetime

    @classmethod
    def choose(cls, now: datetime, hours: float, end_now: bool) -> Period:
        """The latest ``hours`` of office hours, or the ``hours`` ending ``now``."""
        now_ms = int(now.timestamp() * 1000)
        end_ms = now_ms - now_ms % 60_000 if end_now else office_period_end(now_ms, hours)
        end = datetime.fromtimestamp(end_ms / 1000, UTC)
        return cls(end - timedelta(hours=hours), end)

    def ends_at(self, now: datetime) -> bool:
        """True when the period ends at ``now``'s minute: its last windows are live ones,
        which the idle watermark closes by wall clock (those of an older period wait for
        newer events)."""
        return now - self.end < timedelta(minutes=1)

    def local(self) -> str:
        """The period in local time, e.g. ``2026-12-07 14:00-17:00 (Asia/Ho_Chi_Minh)``."""
        zone = ZoneInfo(TIMEZONE)
        start, end = self.start.astimezone(zone), self.end.astimezone(zone)
        shown = f"{end:%H:%M}" if start.date() == end.date() else f"{end:%Y-%m-%d %H:%M}"
        return f"{start:%Y-%m-%d %H:%M}-{shown} ({TIMEZONE})"


def clear_period(database_url: str, period: Period) -> int:
    """Delete the KPI rows of earlier runs whose windows overlap ``period`` (the demo's
    figures and boards then show its own rows only); the number of rows deleted."""
    with psycopg.connect(database_url) as conn:
        cursor = conn.execute(
            "DELETE FROM kpi WHERE window_end > %s AND window_start < %s",
            (period.start, period.end),
        )
        return cursor.rowcount


def latest_by_district(database_url: str, period: Period) -> Latest:
    """Latest 15-minute district value of every summary KPI in ``period``:
    kpi -> district -> (value, end)."""
    kpis = [k for group in SUMMARY_KPIS.values() for k in group]
    query = """
        SELECT DISTINCT ON (kpi, entity_id) kpi, entity_id, value, window_end
        FROM kpi
        WHERE entity_kind = 'district' AND window_kind = '15m' AND kpi = ANY(%s)
          AND window_end > %s AND window_end <= %s
        ORDER BY kpi, entity_id, window_end DESC
    """
    out: Latest = {}
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(query, (kpis, period.start, period.end))
        for kpi, district, value, end in rows:
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


def print_tables(console: Console, latest: Latest) -> None:
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
