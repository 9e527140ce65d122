"""Static PNG snapshot of a board: same grid, same queries, drawn with matplotlib (Agg).

Stats are big numbers on their threshold colour, time series are lines (dashed target
lines where the panel shows thresholds), tables are text grids with coloured KPI cells
(:mod:`dashboards.preview_charts`, :mod:`dashboards.preview_table`,
:mod:`dashboards.preview_map`). A panel whose query fails or returns nothing says so
instead of breaking the picture.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import psycopg

from common.errors import UserError
from dashboards.board import TIMEZONE
from dashboards.preview_base import (
    BACKGROUND,
    DPI,
    GAP_PX,
    HEADER_PX,
    MUTED,
    PANEL,
    ROW_PX,
    TEXT,
    WIDTH_PX,
    PanelData,
    color_hex,
    draw_message,
)
from dashboards.preview_charts import draw_stat, draw_timeseries
from dashboards.preview_map import draw_map
from dashboards.preview_table import draw_table
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

__all__ = ["PanelData", "render"]


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
    _draw_frame(fig, str(panel.get("title", "")), (left, top, width, panel_height), height)
    body_top = top + 28
    body_height = max(10.0, panel_height - 28 - 6)
    inset, bottom = (44, 20) if panel["type"] == "timeseries" else (4, 0)
    ax = fig.add_axes(
        (
            (left + inset) / WIDTH_PX,
            1 - (body_top + body_height - bottom) / height,
            (width - inset - 6) / WIDTH_PX,
            (body_height - bottom) / height,
        )
    )
    ax.set_facecolor(PANEL)
    _draw_body(ax, panel, data, width, body_height)


def _draw_frame(
    fig: Any, title: str, box: tuple[float, float, float, float], height: float
) -> None:
    """The panel's background, border and title; ``box`` is (left, top, width, height) px."""
    left, top, width, panel_height = box
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
        title,
        color=TEXT,
        fontsize=10,
        fontweight="bold",
        va="center",
        transform=frame_ax.transAxes,
    )


def _draw_body(
    ax: Any, panel: Mapping[str, Any], data: PanelData, width: float, body_height: float
) -> None:
    """What the panel shows, by its type; a type the preview does not draw is named."""
    kind = panel["type"]
    if kind == "timeseries":
        draw_timeseries(ax, panel, data)
        return
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if kind == "stat":
        draw_stat(ax, panel, data, width)
    elif kind == "table":
        draw_table(ax, panel, data, body_height)
    elif kind == "geomap" and not data.error:
        draw_map(ax, panel, data.frames, color_hex)
    else:
        draw_message(ax, f"({kind})")
