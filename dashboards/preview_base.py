"""What every part of a board's PNG preview shares: the look (sizes, colours), the data
fetched for one panel, numbers read from cells and the message of a panel with no data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dashboards.queries import Frame

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


def numeric(value: Any) -> float | None:
    """``value`` as a float, or None when it is no number (booleans are none)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def field_defaults(panel: Mapping[str, Any]) -> dict[str, Any]:
    """The panel's ``fieldConfig.defaults`` (unit, thresholds, no-value text...)."""
    defaults: dict[str, Any] = panel.get("fieldConfig", {}).get("defaults", {})
    return defaults


def draw_message(ax: Any, text: str, error: str = "") -> None:
    """``text`` (and the ``error`` below it, small) in the middle of an empty panel."""
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
