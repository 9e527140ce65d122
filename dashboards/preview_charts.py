"""The PNG preview of stat and time-series panels: big numbers on their threshold colour,
lines with dashed target lines where the panel shows thresholds."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import matplotlib.dates as mdates

from dashboards.board import TIMEZONE
from dashboards.display import unit_suffix
from dashboards.kpis import step_color
from dashboards.preview_base import (
    MUTED,
    NO_DATA,
    PALETTE,
    TEXT,
    PanelData,
    color_hex,
    draw_message,
    field_defaults,
    numeric,
)
from dashboards.queries import Frame
from dashboards.shown import stat_texts

Series = tuple[str, list[datetime], list[float]]
"""(name, times, values) of one line."""


def frame_series(frame: Frame) -> list[Series]:
    """(name, times, values) of a frame, whether SQL (wide or long) or PromQL."""
    out: list[Series] = []
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
            value = numeric(row[v_index])
            if value is not None:
                times, values = grouped.setdefault(str(row[m_index]), ([], []))
                times.append(row[t_index])
                values.append(value)
        return [(name, t, v) for name, (t, v) in grouped.items()]
    for index, column in enumerate(frame.columns):
        if index == t_index:
            continue
        pairs = [(r[t_index], numeric(r[index])) for r in frame.rows]
        kept = [(t, v) for t, v in pairs if v is not None]
        out.append((column, [t for t, _ in kept], [v for _, v in kept]))
    return out


def draw_stat(ax: Any, panel: Mapping[str, Any], data: PanelData, width_px: float) -> None:
    """A stat panel: its last value on its threshold colour, over a faint sparkline."""
    defaults = field_defaults(panel)
    series = [s for f in data.frames for s in frame_series(f) if s[2]]
    if not series:
        draw_message(ax, NO_DATA, data.error)
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


def draw_timeseries(ax: Any, panel: Mapping[str, Any], data: PanelData) -> None:
    """A time-series panel: one line per series, dashed thresholds when the panel shows them."""
    defaults = field_defaults(panel)
    series = [s for f in data.frames for s in frame_series(f) if s[2]]
    if not series:
        draw_message(ax, NO_DATA, data.error)
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
