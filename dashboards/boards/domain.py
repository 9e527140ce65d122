"""The layout shared by the three domain boards (services, network, agriculture).

Top: one stat per KPI of the domain (catalog order), rows filled edge to edge. Then the
latest value of every KPI per district, one line chart per KPI with a line per district,
and the latest values per entity (agency, cell site, sensor), worst first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from grafanalib import core as g

from dashboards import panels, sql
from dashboards.board import dashboard
from dashboards.geomap import MapLayer, geomap
from dashboards.kpis import Domain, kpi
from dashboards.panels import Flow, SqlQuery
from dashboards.variables import sql_board_variables
from streams.catalog import KpiDef

STATS_PER_ROW_MAX = 8
STAT_HEIGHT = 4
CHART_WIDTH = 12
CHART_HEIGHT = 8
TABLE_HEIGHT = 10
ENTITY_ROWS = 50
GRID_WIDTH_BESIDE_MAP = 14


@dataclass(frozen=True)
class EntityTable:
    """The per-entity table of a domain: entity kind, its header, columns and sort column."""

    entity_kind: str
    title: str
    header: str
    columns: tuple[tuple[str, str], ...]
    sort_by: str


def stat_widths(n: int, total: int = 24, per_row_max: int = STATS_PER_ROW_MAX) -> list[int]:
    """Widths of ``n`` stats in as few rows as possible, each row filled to ``total``."""
    rows = max(1, math.ceil(n / per_row_max))
    widths: list[int] = []
    remaining = n
    for row in range(rows):
        in_row = math.ceil(remaining / (rows - row))
        base, extra = divmod(total, in_row)
        widths += [base + 1 if i < extra else base for i in range(in_row)]
        remaining -= in_row
    return widths


def _short(k: KpiDef) -> str:
    return k.title_vi


def build_domain(
    domain: Domain,
    uid: str,
    entity: EntityTable,
    description: str,
    province_map: tuple[str, MapLayer] | None = None,
) -> g.Dashboard:
    """A domain board for ``domain``; ``province_map`` (title, layer) puts a map beside the
    district grid."""
    kpis: Sequence[KpiDef] = domain.kpis()
    flow = Flow()
    items: list[object] = [
        panels.kpi_stat(k, flow.place(w, STAT_HEIGHT))
        for k, w in zip(kpis, stat_widths(len(kpis)), strict=True)
    ]
    flow.newline()
    items += _district_grid(kpis, flow, province_map)
    flow.newline()
    items += [panels.kpi_district_series(k, flow.place(CHART_WIDTH, CHART_HEIGHT)) for k in kpis]
    flow.newline()
    items.append(_entity_table(entity, flow))
    return dashboard(
        uid,
        domain.title_vi,
        items,
        description=description,
        templating=sql_board_variables(),
        tags=(domain.key,),
    )


def _district_grid(
    kpis: Sequence[KpiDef], flow: Flow, province_map: tuple[str, MapLayer] | None
) -> list[object]:
    """The latest value of every KPI per district, with the province map beside it if any."""
    grid = [sql.Column(k, _short(k)) for k in kpis]
    items: list[object] = [
        panels.table(
            "Theo huyện, thị xã, thành phố — giá trị mới nhất",
            [SqlQuery(sql.district_grid(grid), format="table")],
            flow.place(GRID_WIDTH_BESIDE_MAP if province_map else 24, TABLE_HEIGHT),
            description="Latest window of each KPI per district, coloured by its target.",
            overrides=panels.column_overrides(grid),
        )
    ]
    if province_map is not None:
        title, layer = province_map
        items.append(
            geomap(
                title,
                [layer],
                flow.place(24 - GRID_WIDTH_BESIDE_MAP, TABLE_HEIGHT),
                description=f"{layer.name}: latest window per {layer.entity_kind}, coloured "
                f"by the target of {layer.column.kpi.name}.",
            )
        )
    return items


def _entity_table(entity: EntityTable, flow: Flow) -> g.Table:
    """The latest values per entity (agency, cell site, sensor), worst first."""
    columns = [sql.Column(kpi(name), header) for name, header in entity.columns]
    sort = next(c for c in columns if c.kpi.name == entity.sort_by)
    return panels.table(
        entity.title,
        [
            SqlQuery(
                sql.entity_table(entity.entity_kind, entity.header, columns, sort, ENTITY_ROWS),
                format="table",
            )
        ],
        flow.place(24, TABLE_HEIGHT + 4),
        description=f"Latest window per {entity.entity_kind}, worst {sort.header} first.",
        overrides=panels.column_overrides(columns),
    )
