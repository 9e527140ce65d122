"""The PNG preview of a table panel: a text grid, KPI cells on their threshold colour.

Columns the panel hides stay hidden; cells of columns with a unit are formatted as Grafana
would, others go through the column's value mappings. Rows that do not fit are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dashboards.display import format_value, mapped
from dashboards.kpis import step_color
from dashboards.preview_base import (
    MUTED,
    NO_DATA,
    PANEL,
    PanelData,
    color_hex,
    draw_message,
    field_defaults,
    numeric,
)

ROW_HEIGHT_PX = 24


def draw_table(ax: Any, panel: Mapping[str, Any], data: PanelData, height_px: float) -> None:
    """A table panel: as many rows as fit in ``height_px``, or the panel's no-value text."""
    columns, rows = _shown_cells(panel, data)
    if not rows:
        no_value = str(field_defaults(panel).get("noValue") or NO_DATA)
        draw_message(ax, no_value, data.error)
        return
    looks = _column_looks(panel)
    fit = max(1, int((height_px - 40) // 22) - 1)
    texts, colors = _cell_looks(columns, rows[:fit], looks)
    _draw_grid(ax, columns, texts, colors, height_px)


def _shown_cells(panel: Mapping[str, Any], data: PanelData) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of the panel's last frame, without the columns it hides."""
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
    return columns, rows


def _column_looks(panel: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The override properties of each column the panel styles, by column name."""
    looks: dict[str, dict[str, Any]] = {}
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        name = override.get("matcher", {}).get("options")
        looks[str(name)] = {p["id"]: p["value"] for p in override.get("properties", [])}
    return looks


def _cell_looks(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], looks: Mapping[str, dict[str, Any]]
) -> tuple[list[list[str]], list[list[str]]]:
    """The text and the background colour of every cell."""
    cell_text: list[list[str]] = []
    cell_colors: list[list[str]] = []
    for row in rows:
        texts, colors = [], []
        for column, value in zip(columns, row, strict=True):
            look = looks.get(column, {})
            number = numeric(value) if "unit" in look else None
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
    return cell_text, cell_colors


def _draw_grid(
    ax: Any,
    columns: Sequence[str],
    cell_text: list[list[str]],
    cell_colors: list[list[str]],
    height_px: float,
) -> None:
    """The grid itself: column widths by their longest text, a bold header row."""
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
            max(0.0, 1 - rows_shown * ROW_HEIGHT_PX / height_px),
            1,
            min(1.0, rows_shown * ROW_HEIGHT_PX / height_px),
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
