"""Static PNG snapshot of a board: same grid, same queries, drawn with matplotlib (Agg).

Stats are big numbers on their threshold colour, time series are lines (dashed target
lines where the panel shows thresholds), tables are text grids with coloured KPI cells.
A panel whose query fails or returns nothing says so instead of breaking the picture.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import psycopg

from common.errors import UserError
from dashboards.board import TIMEZONE
from dashboards.display import format_value, mapped, unit_suffix
from dashboards.kpis import step_color
from dashboards.preview_map import draw_map
from dashboards.queries import (
    Frame,
    PanelQuery,
    PromQLError,
    context,
    panel_queries,
    run_promql,
    run_sql,
    walk_panels,
)
from dashboards.shown import stat_texts

WIDTH_PX = 1920
ROW_PX = 30
GAP_PX = 8
HEADER_PX = 56
DPI = 100
BACKGROUND = "#111217"
PANEL = "#181b1f"
TEXT = "#ccccdc"
MUTED = "#8e8e9e"
COLORS = {
    "green": "#73BF69",
    "orange": "#FF9830",
    "red": "#F2495C",
    "blue": "#5794F2",
    "text": TEXT,
}
PALETTE = ("#73BF69", "#F2CC0C", "#5794F2", "#FF780A", "#F2495C", "#B877D9", "#8AB8FF", "#FADE2A")
NO_DATA = "Không có dữ liệu"


def color_hex(name: str) -> str:
    """Hex colour of a Grafana colour name (hex strings pass through)."""
    return COLORS.get(name, name if name.startswith("#") else TEXT)


@dataclass
class PanelData:
    """What was fetched for one panel."""

    frames: list[Frame]
    error: str = ""


def _fetch(
    queries: Sequence[PanelQuery],
    conn: psycopg.Connection[Any] | None,
    prometheus_url: str,
    now: datetime,
    kpis_at: datetime,
    variables: Mapping[str, Sequence[str]],
) -> PanelData:
    frames: list[Frame] = []
    for query in queries:
        ctx = context(query, kpis_at if query.is_sql else now, variables)
        try:
            if query.is_sql:
                if conn is None:
                    return PanelData([], "no database")
                frames.append(run_sql(conn, query, ctx))
            else:
                frames.append(run_promql(prometheus_url, query, ctx))
        except (PromQLError, UserError, psycopg.Error) as error:
            if conn is not None and query.is_sql:
                conn.rollback()
            return PanelData(frames, str(error).splitlines()[0][:120])
    return PanelData(frames)


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _series(frame: Frame) -> list[tuple[str, list[datetime], list[float]]]:
    """(name, times, values) of a frame, whether SQL (wide or long) or PromQL."""
    out: list[tuple[str, list[datetime], list[float]]] = []
    if frame.series:
        for labels, points in frame.series:
            name = ", ".join(f"{v}" for k, v in sorted(labels.items()) if k != "__name__")
            out.append(
                (
                    name or "value",
                    [datetime.fromtimestamp(t, UTC) for t, _ in points],
                    [v for _, v in points],
                )
            )
        return out
    if "time" not in frame.columns:
        return out
    t_index = frame.columns.index("time")
    if "metric" in frame.columns:
        m_index = frame.columns.index("metric")
        v_index = next(i for i, c in enumerate(frame.columns) if i not in (t_index, m_index))
        grouped: dict[str, tuple[list[datetime], list[float]]] = {}
        for row in frame.rows:
            value = _numeric(row[v_index])
            if value is not None:
                times, values = grouped.setdefault(str(row[m_index]), ([], []))
                times.append(row[t_index])
                values.append(value)
        return [(name, t, v) for name, (t, v) in grouped.items()]
    for index, column in enumerate(frame.columns):
        if index == t_index:
            continue
        pairs = [(r[t_index], _numeric(r[index])) for r in frame.rows]
        kept = [(t, v) for t, v in pairs if v is not None]
        out.append((column, [t for t, _ in kept], [v for _, v in kept]))
    return out


def _defaults(panel: Mapping[str, Any]) -> dict[str, Any]:
    defaults: dict[str, Any] = panel.get("fieldConfig", {}).get("defaults", {})
    return defaults


def _message(ax: Any, text: str, error: str = "") -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(
        0.5, 0.5, text, ha="center", va="center", color=MUTED, fontsize=13, transform=ax.transAxes
    )
    if error:
        ax.text(
            0.5,
            0.3,
            error,
            ha="center",
            va="center",
            color=MUTED,
            fontsize=7,
            transform=ax.transAxes,
            wrap=True,
        )


def _draw_stat(ax: Any, panel: Mapping[str, Any], data: PanelData, width_px: float) -> None:
    defaults = _defaults(panel)
    series = [s for f in data.frames for s in _series(f) if s[2]]
    if not series:
        _message(ax, NO_DATA, data.error)
        return
    values = series[0][2]
    value = values[-1]
    steps = defaults.get("thresholds", {}).get("steps") or [{"color": "blue", "value": None}]
    ax.set_facecolor(color_hex(step_color(steps, value)))
    if len(values) > 1:
        low, high = min(values), max(values)
        span = (high - low) or 1.0
        xs = [i / (len(values) - 1) for i in range(len(values))]
        ys = [0.05 + 0.35 * (v - low) / span for v in values]
        ax.fill_between(xs, 0, ys, color="white", alpha=0.18, transform=ax.transAxes)
    text = stat_texts(panel, data.frames)[0]
    size = min(30.0, 0.9 * width_px / max(1, len(text)))
    ax.text(
        0.5,
        0.5,
        text,
        ha="center",
        va="center",
        color="white",
        fontsize=size,
        fontweight="bold",
        transform=ax.transAxes,
    )


def _draw_timeseries(ax: Any, panel: Mapping[str, Any], data: PanelData) -> None:
    defaults = _defaults(panel)
    series = [s for f in data.frames for s in _series(f) if s[2]]
    if not series:
        _message(ax, NO_DATA, data.error)
        return
    unit = str(defaults.get("unit", "none"))
    scale = 100.0 if unit == "percentunit" else 1.0
    for index, (name, times, values) in enumerate(series):
        ax.plot(
            times,
            [v * scale for v in values],
            color=PALETTE[index % len(PALETTE)],
            linewidth=1.5,
            label=name,
        )
    style = defaults.get("custom", {}).get("thresholdsStyle", {}).get("mode", "off")
    if style != "off":
        for step in defaults.get("thresholds", {}).get("steps", [])[1:]:
            ax.axhline(
                float(step["value"]) * scale,
                color=color_hex(step["color"]),
                linestyle="--",
                linewidth=1,
            )
    tz = ZoneInfo(TIMEZONE)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=tz))  # type: ignore[no-untyped-call]
    ax.tick_params(colors=MUTED, labelsize=7)
    ax.grid(color="#2c3235", linewidth=0.5)
    suffix = unit_suffix(unit)
    if suffix:
        ax.set_ylabel(suffix, color=MUTED, fontsize=7)
    ax.legend(
        loc="upper left", fontsize=6, ncol=min(4, len(series)), frameon=False, labelcolor=TEXT
    )


def _column_looks(panel: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    looks: dict[str, dict[str, Any]] = {}
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        name = override.get("matcher", {}).get("options")
        looks[str(name)] = {p["id"]: p["value"] for p in override.get("properties", [])}
    return looks


def _draw_table(ax: Any, panel: Mapping[str, Any], data: PanelData, height_px: float) -> None:
    hidden = {
        name
        for t in panel.get("transformations", [])
        for name in t.get("options", {}).get("excludeByName", {})
    }
    columns: list[str] = []
    rows: list[list[Any]] = []
    for frame in data.frames:
        if frame.series:
            keys = sorted({k for labels, _ in frame.series for k in labels} - hidden)
            columns = keys
            rows = [[labels.get(k, "") for k in keys] for labels, _ in frame.series]
        else:
            keep = [i for i, c in enumerate(frame.columns) if c not in hidden]
            columns = [frame.columns[i] for i in keep]
            rows = [[row[i] for i in keep] for row in frame.rows]
    if not rows:
        no_value = str(_defaults(panel).get("noValue") or NO_DATA)
        _message(ax, no_value, data.error)
        return
    looks = _column_looks(panel)
    fit = max(1, int((height_px - 40) // 22) - 1)
    cell_text: list[list[str]] = []
    cell_colors: list[list[str]] = []
    for row in rows[:fit]:
        texts, colors = [], []
        for column, value in zip(columns, row, strict=True):
            look = looks.get(column, {})
            number = _numeric(value) if "unit" in look else None
            if number is not None:
                texts.append(
                    format_value(number, str(look.get("unit", "none")), look.get("decimals"))
                )
                steps = look.get("thresholds", {}).get("steps")
                colors.append(color_hex(step_color(steps, number)) if steps else PANEL)
            else:
                texts.append(
                    "—"
                    if value is None
                    else mapped(str(value), look.get("mappings", [])) or str(value)
                )
                colors.append(PANEL)
        cell_text.append(texts)
        cell_colors.append(colors)
    widths = [max(len(str(c)), *(len(r[i]) for r in cell_text)) + 2 for i, c in enumerate(columns)]
    total = sum(widths)
    rows_shown = len(cell_text) + 1
    table = ax.table(
        cellText=cell_text,
        cellColours=cell_colors,
        colLabels=columns,
        colWidths=[w / total for w in widths],
        cellLoc="center",
        bbox=(
            0,
            max(0.0, 1 - rows_shown * 24 / height_px),
            1,
            min(1.0, rows_shown * 24 / height_px),
        ),
    )
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    for (row_index, _), cell in table.get_celld().items():
        cell.set_edgecolor("#2c3235")
        cell.get_text().set_color("white" if row_index else MUTED)
        if row_index == 0:
            cell.set_facecolor("#22252b")
            cell.get_text().set_fontweight("bold")
    ax.set_axis_off()


def render(
    board: Mapping[str, Any],
    out: Path,
    conn: psycopg.Connection[Any] | None,
    prometheus_url: str,
    variables: Mapping[str, Sequence[str]],
    now: datetime | None = None,
    kpis_at: datetime | None = None,
) -> dict[int, PanelData]:
    """Draw ``board`` into PNG ``out``; returns the data fetched per panel id.

    Prometheus panels show ``now`` (default: the wall clock); TimescaleDB panels the time
    range ending ``kpis_at`` (default ``now``), e.g. a simulated period in the past.
    """
    moment = now or datetime.now(UTC)
    kpis_moment = kpis_at or moment
    by_panel: dict[int, list[PanelQuery]] = {}
    for query in panel_queries(board):
        by_panel.setdefault(query.panel_id, []).append(query)
    panels = [p for p in walk_panels(board) if p.get("type") != "row"]
    rows = max((p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels), default=1)
    height = HEADER_PX + rows * (ROW_PX + GAP_PX)
    fig = plt.figure(figsize=(WIDTH_PX / DPI, height / DPI), dpi=DPI, facecolor=BACKGROUND)
    _draw_header(fig, board, variables, moment, kpis_moment, height)
    fetched: dict[int, PanelData] = {}
    for panel in panels:
        queries = by_panel.get(int(panel["id"]), [])
        data = _fetch(queries, conn, prometheus_url, moment, kpis_moment, variables)
        fetched[int(panel["id"])] = data
        _draw_panel(fig, panel, data, height)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, facecolor=BACKGROUND)
    plt.close(fig)
    return fetched


def _draw_header(
    fig: Any,
    board: Mapping[str, Any],
    variables: Mapping[str, Sequence[str]],
    moment: datetime,
    kpis_moment: datetime,
    height: float,
) -> None:
    """The board's title, and the time and variables it shows."""
    declared = {str(v["name"]) for v in board.get("templating", {}).get("list", [])}
    shown = ", ".join(
        f"{k}={'/'.join(v) if len(v) < 4 else 'All'}" for k, v in variables.items() if k in declared
    )
    local = moment.astimezone(ZoneInfo(TIMEZONE)).strftime("%Y-%m-%d %H:%M")
    if kpis_moment != moment:
        local = f"KPI {kpis_moment.astimezone(ZoneInfo(TIMEZONE)):%Y-%m-%d %H:%M} · now {local}"
    fig.text(
        GAP_PX / WIDTH_PX,
        1 - 30 / height,
        f"{board['title']}",
        color=TEXT,
        fontsize=16,
        fontweight="bold",
        va="center",
    )
    fig.text(
        1 - GAP_PX / WIDTH_PX,
        1 - 30 / height,
        f"{local} ({TIMEZONE})  {shown}",
        color=MUTED,
        fontsize=9,
        va="center",
        ha="right",
    )


def _draw_panel(fig: Any, panel: Mapping[str, Any], data: PanelData, height: float) -> None:
    """One panel at its grid position: frame, title and body drawn from ``data``."""
    column_px = WIDTH_PX / 24
    pos = panel["gridPos"]
    left = pos["x"] * column_px + GAP_PX / 2
    top = HEADER_PX + pos["y"] * (ROW_PX + GAP_PX)
    width = pos["w"] * column_px - GAP_PX
    panel_height = pos["h"] * (ROW_PX + GAP_PX) - GAP_PX
    frame_ax = fig.add_axes(
        (
            left / WIDTH_PX,
            1 - (top + panel_height) / height,
            width / WIDTH_PX,
            panel_height / height,
        )
    )
    frame_ax.set_facecolor(PANEL)
    frame_ax.set_xticks([])
    frame_ax.set_yticks([])
    for spine in frame_ax.spines.values():
        spine.set_color("#2c3235")
    frame_ax.text(
        0.01,
        1 - 14 / panel_height,
        str(panel.get("title", "")),
        color=TEXT,
        fontsize=10,
        fontweight="bold",
        va="center",
        transform=frame_ax.transAxes,
    )
    body_top = top + 28
    body_height = max(10.0, panel_height - 28 - 6)
    kind = panel["type"]
    inset, bottom = (44, 20) if kind == "timeseries" else (4, 0)
    ax = fig.add_axes(
        (
            (left + inset) / WIDTH_PX,
            1 - (body_top + body_height - bottom) / height,
            (width - inset - 6) / WIDTH_PX,
            (body_height - bottom) / height,
        )
    )
    ax.set_facecolor(PANEL)
    if kind == "timeseries":
        _draw_timeseries(ax, panel, data)
        return
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if kind == "stat":
        _draw_stat(ax, panel, data, width)
    elif kind == "table":
        _draw_table(ax, panel, data, body_height)
    elif kind == "geomap" and not data.error:
        draw_map(ax, panel, data.frames, color_hex)
    else:
        _message(ax, f"({kind})")
