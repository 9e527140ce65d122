"""Agriculture board: salinity intrusion and field sensors of the Mekong delta farms."""

from __future__ import annotations

from typing import Final

from grafanalib import core as g

from dashboards import sql
from dashboards.boards.domain import EntityTable, build_domain
from dashboards.geomap import MapLayer
from dashboards.kpis import AGRICULTURE, kpi

UID: Final = "ioc-agriculture"
SENSORS: Final = EntityTable(
    entity_kind="sensor",
    title="Cảm biến — giá trị mới nhất (mặn nhất trước)",
    header="Cảm biến",
    columns=(
        ("farm.salinity_max_gl", "Độ mặn max"),
        ("farm.salinity_mean_gl", "Độ mặn TB"),
        ("farm.salinity_minutes_above_4", "Phút > 4 g/L"),
        ("farm.soil_moisture_min_pct", "Độ ẩm đất min"),
        ("farm.water_level_mean_cm", "Mực nước"),
        ("farm.completeness_ratio", "Đầy đủ dữ liệu"),
        ("farm.battery_min_pct", "Pin"),
    ),
    sort_by="farm.salinity_max_gl",
)


SENSORS_LAYER: Final = MapLayer(
    "Cảm biến độ mặn", "sensor", "Cảm biến", sql.Column(kpi("farm.salinity_max_gl"), "Độ mặn max")
)
"""Salinity sensors, coloured by their highest reading of the window."""
MAP_TITLE: Final = "Bản đồ cảm biến — độ mặn cao nhất"


def build() -> g.Dashboard:
    """The agriculture and salinity board."""
    return build_domain(
        AGRICULTURE,
        UID,
        SENSORS,
        "Salinity intrusion (alert above 4 g/L) and farm sensors.",
        province_map=(MAP_TITLE, SENSORS_LAYER),
    )
