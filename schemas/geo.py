"""Where things are: schematic outlines of Hau Giang's districts and a place for every entity.

The outlines are hand-drawn approximations, not survey data: a few vertices per district
(longitude, latitude, WGS 84) placed from the district seats' positions and the relative
layout of the districts on OpenStreetMap's map of Hau Giang (administrative map before the
2025 reorganisation): Chau Thanh A and Chau Thanh along the Can Tho border in the north,
Vi Thanh, Vi Thuy and Phung Hiep across the middle (Nga Bay a small city on Phung Hiep's
north-east edge), Long My district and Long My town in the south. Neighbouring outlines
share their edges. Good enough to put a point in the right district and draw a sketch of
the province; not for measuring distances or areas.

An entity's position is derived from its kind and id alone (a seeded random point inside
its district's outline; a district itself sits at its seat), so the simulator, the sink
and the boards agree on it without sharing state.
"""

from __future__ import annotations

import hashlib
import random
from typing import Final

from schemas.places import District

LonLat = tuple[float, float]

OUTLINES: Final[dict[District, tuple[LonLat, ...]]] = {
    District.CHAU_THANH_A: (
        (105.50, 9.86), (105.74, 9.86), (105.74, 10.00), (105.62, 10.03), (105.50, 9.98),
    ),
    District.CHAU_THANH: (
        (105.74, 9.86), (105.92, 9.86), (105.95, 9.94), (105.86, 10.00), (105.74, 10.00),
    ),
    District.VI_THANH: ((105.36, 9.72), (105.50, 9.72), (105.50, 9.86), (105.40, 9.84)),
    District.VI_THUY: ((105.50, 9.72), (105.64, 9.72), (105.64, 9.86), (105.50, 9.86)),
    District.NGA_BAY: ((105.78, 9.78), (105.86, 9.78), (105.86, 9.86), (105.78, 9.86)),
    District.PHUNG_HIEP: (
        (105.64, 9.60), (105.88, 9.60), (105.92, 9.72), (105.92, 9.86), (105.86, 9.86),
        (105.86, 9.78), (105.78, 9.78), (105.78, 9.86), (105.64, 9.86),
    ),
    District.LONG_MY_TOWN: ((105.52, 9.60), (105.64, 9.60), (105.64, 9.72), (105.52, 9.72)),
    District.LONG_MY: ((105.34, 9.58), (105.52, 9.60), (105.52, 9.72), (105.36, 9.72)),
}  # fmt: skip
"""District outlines as closed rings without the repeated first vertex."""

SEATS: Final[dict[District, LonLat]] = {
    District.VI_THANH: (105.47, 9.78),
    District.NGA_BAY: (105.82, 9.815),
    District.LONG_MY_TOWN: (105.57, 9.68),
    District.CHAU_THANH: (105.80, 9.92),
    District.CHAU_THANH_A: (105.63, 9.93),
    District.PHUNG_HIEP: (105.70, 9.80),
    District.VI_THUY: (105.56, 9.80),
    District.LONG_MY: (105.45, 9.65),
}
"""Approximate positions of the district seats (Vi Thanh, Nga Bay, Tra Long, Nga Sau, Mot
Ngan, Cay Duong, Nang Mau, Vinh Vien)."""

_TRIES: Final = 200


def contains(outline: tuple[LonLat, ...], lon: float, lat: float) -> bool:
    """Whether (lon, lat) lies inside ``outline`` (even-odd ray casting)."""
    inside = False
    previous = outline[-1]
    for vertex in outline:
        (x1, y1), (x2, y2) = previous, vertex
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
        previous = vertex
    return inside


def district_at(lon: float, lat: float) -> District | None:
    """The district whose outline holds (lon, lat), if any."""
    return next((d for d, outline in OUTLINES.items() if contains(outline, lon, lat)), None)


def position(entity_kind: str, entity_id: str, district: District | str) -> LonLat:
    """(lon, lat) of an entity: a district at its seat, anything else at a point of its
    district chosen by its kind and id (same entity, same point)."""
    where = District(district)
    if entity_kind == "district":
        return SEATS[where]
    outline = OUTLINES[where]
    seed = hashlib.sha256(f"{entity_kind}:{entity_id}".encode()).digest()
    rng = random.Random(seed)
    lons = [lon for lon, _ in outline]
    lats = [lat for _, lat in outline]
    for _ in range(_TRIES):
        lon = round(rng.uniform(min(lons), max(lons)), 5)
        lat = round(rng.uniform(min(lats), max(lats)), 5)
        if contains(outline, lon, lat):
            return lon, lat
    return SEATS[where]
