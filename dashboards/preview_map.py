"""The PNG preview of a geomap panel: district outlines (schemas.geo) and coloured points.

Points are those the panel's marker layers draw (``dashboards.shown.map_points``), in the
colour of their threshold; each layer keeps its own marker shape. Axes are longitude and
latitude, scaled so that a kilometre is as long east-west as north-south.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from dashboards.queries import Frame
from dashboards.shown import map_points
from schemas.geo import OUTLINES, SEATS
from schemas.places import DISTRICT_NAMES

MARKERS: Final = ("o", "^", "s", "D")
OUTLINE_COLOUR: Final = "#8e8e9e"
LABEL_COLOUR: Final = "#ccccdc"
NO_POINT_COLOUR: Final = "#5794F2"


def _short(name: str) -> str:
    """``Thành phố Vị Thanh`` -> ``TP Vị Thanh``, ``Huyện Vị Thủy`` -> ``Vị Thủy``."""
    return name.replace("Thành phố ", "TP ").replace("Thị xã ", "TX ").removeprefix("Huyện ")


def draw_map(
    ax: Any,
    panel: Mapping[str, Any],
    frames: Sequence[Frame],
    color_hex: Callable[[str], str],
) -> int:
    """Draw the map of ``panel`` on ``ax``; the number of points drawn."""
    for district, ring in OUTLINES.items():
        lons = [lon for lon, _ in ring] + [ring[0][0]]
        lats = [lat for _, lat in ring] + [ring[0][1]]
        ax.fill(lons, lats, color=OUTLINE_COLOUR, alpha=0.12, linewidth=0)
        ax.plot(lons, lats, color=OUTLINE_COLOUR, linewidth=0.8)
        seat_lon, seat_lat = SEATS[district]
        name = _short(DISTRICT_NAMES[district])
        ax.text(seat_lon, seat_lat, name, color=LABEL_COLOUR, fontsize=6, alpha=0.7,
                ha="center", va="center")  # fmt: skip
    points = map_points(panel, frames)
    layers = list(dict.fromkeys(str(p["layer"]) for p in points))
    for point in points:
        colour = color_hex(point["colour"]) if point["colour"] else NO_POINT_COLOUR
        marker = MARKERS[layers.index(str(point["layer"])) % len(MARKERS)]
        ax.scatter([point["lon"]], [point["lat"]], s=14, color=colour, marker=marker,
                   edgecolors="black", linewidths=0.3, zorder=3)  # fmt: skip
    for index, layer in enumerate(layers):
        ax.scatter([], [], s=14, color=NO_POINT_COLOUR, marker=MARKERS[index], label=layer)
    if layers:
        ax.legend(loc="lower left", fontsize=6, frameon=False, labelcolor=LABEL_COLOUR)
    middle = sum(lat for _, lat in SEATS.values()) / len(SEATS)
    ax.set_aspect(1 / math.cos(math.radians(middle)), adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    return len(points)
