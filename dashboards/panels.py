"""Panel builders shared by every board: stat, time series and table, on SQL or PromQL.

Each builder takes a grid position and returns a grafanalib panel whose data source, unit,
decimals and thresholds come from ``dashboards.datasources`` and the KPI catalog, so that a
KPI looks the same on every board.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from grafanalib import core as g

from dashboards import sql
from dashboards.datasources import PROMETHEUS, TIMESCALEDB
from dashboards.kpis import grafana_unit, threshold_steps
from schemas.places import DISTRICT_NAMES
from streams.catalog import KpiDef

MIN_INTERVAL = "1m"
"""Smallest $__interval of SQL panels: the shortest KPI window."""

REF_IDS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass
class Flow:
    """Places panels left to right on Grafana's 24-column grid, wrapping to a new row."""

    width: int = 24
    x: int = 0
    y: int = 0
    row_height: int = 0

    def place(self, w: int, h: int) -> g.GridPos:
        """The position of the next ``w`` x ``h`` panel."""
        if self.x + w > self.width:
            self.newline()
        pos = g.GridPos(h=h, w=w, x=self.x, y=self.y)
        self.x += w
        self.row_height = max(self.row_height, h)
        return pos

    def newline(self) -> None:
        """Start a new row below the tallest panel of the current one."""
        if self.x:
            self.y += self.row_height
        self.x, self.row_height = 0, 0

    @property
    def height(self) -> int:
        """Rows used so far, including the current row."""
        return self.y + self.row_height


@dataclass(frozen=True)
class SqlQuery:
    """One SQL target: the query and the Grafana result format."""

    raw_sql: str
    format: str = "time_series"


@dataclass(frozen=True)
class PromQuery:
    """One PromQL target: expression, legend and whether it is an instant query."""

    expr: str
    legend: str = ""
    instant: bool = False
    format: str = "time_series"


@dataclass(frozen=True)
class Look:
    """How values are displayed: Grafana unit, decimals and threshold steps."""

    unit: str = "none"
    decimals: int | None = None
    steps: list[dict[str, Any]] = field(default_factory=lambda: threshold_steps(None))

    @classmethod
    def of(cls, k: KpiDef) -> Look:
        """The look the catalog gives KPI ``k``."""
        return cls(grafana_unit(k), k.decimals, threshold_steps(k.target))


def _sql_targets(queries: Sequence[SqlQuery]) -> list[g.SqlTarget]:
    return [
        g.SqlTarget(
            rawSql=q.raw_sql,
            format=q.format,
            refId=REF_IDS[i],
            datasource=TIMESCALEDB.ref(),
        )
        for i, q in enumerate(queries)
    ]


def _prom_targets(queries: Sequence[PromQuery]) -> list[g.Target]:
    return [
        g.Target(
            expr=q.expr,
            legendFormat=q.legend,
            instant=q.instant,
            format=q.format,
            refId=REF_IDS[i],
            datasource=PROMETHEUS.ref(),
            intervalFactor=1,
        )
        for i, q in enumerate(queries)
    ]


def _targets(
    queries: Sequence[SqlQuery] | Sequence[PromQuery],
) -> tuple[dict[str, str], list[Any], str | None]:
    """Panel data source, targets and minimum interval of a list of queries of one kind."""
    prom = [q for q in queries if isinstance(q, PromQuery)]
    if prom:
        if len(prom) != len(queries):
            raise ValueError("a panel mixes SQL and PromQL queries")
        return PROMETHEUS.ref(), _prom_targets(prom), None
    sql_queries = [q for q in queries if isinstance(q, SqlQuery)]
    return TIMESCALEDB.ref(), _sql_targets(sql_queries), MIN_INTERVAL


def district_name_mappings(field_name: str = "district") -> dict[str, Any]:
    """Override showing district ids of a label column by their Vietnamese names."""
    names = enumerate(DISTRICT_NAMES.items())
    options = {d.value: {"text": name, "index": i} for i, (d, name) in names}
    return {
        "matcher": {"id": "byName", "options": field_name},
        "properties": [{"id": "mappings", "value": [{"type": "value", "options": options}]}],
    }


def _describe(k: KpiDef) -> str:
    text = f"{k.title_en} ({k.name}): {k.description}"
    if k.target is not None:
        text += f" Target {k.target.op} {k.target.value:g}, red beyond {k.target.amber:g}."
    return text


def kpi_stat(k: KpiDef, pos: g.GridPos) -> g.Stat:
    """Big number of one KPI over the selected districts, coloured by its target."""
    return stat(
        k.title_vi,
        [SqlQuery(sql.province_by_window(k, k.title_vi))],
        Look.of(k),
        pos,
        description=_describe(k),
    )


def stat(
    title: str,
    queries: Sequence[SqlQuery] | Sequence[PromQuery],
    look: Look,
    pos: g.GridPos,
    description: str = "",
    mappings: list[dict[str, Any]] | None = None,
) -> g.Stat:
    """A stat panel: the last value of its series, background coloured by thresholds."""
    source, targets, interval = _targets(queries)
    return g.Stat(
        title=title,
        description=description,
        dataSource=source,
        targets=targets,
        gridPos=pos,
        interval=interval,
        format=look.unit,
        decimals=look.decimals,
        thresholds=look.steps,
        color={"mode": "thresholds"},
        colorMode="background",
        graphMode="area",
        textMode="value",
        reduceCalc="lastNotNull",
        noValue="—",
        mappings=mappings or [],
    )


def timeseries(
    title: str,
    queries: Sequence[SqlQuery] | Sequence[PromQuery],
    look: Look,
    pos: g.GridPos,
    description: str = "",
    time_from: str | None = None,
    show_thresholds: bool = False,
    overrides: list[dict[str, Any]] | None = None,
) -> g.TimeSeries:
    """A time-series panel of SQL or PromQL queries (``overrides``: per-series looks)."""
    source, targets, interval = _targets(queries)
    return g.TimeSeries(
        title=title,
        description=description,
        dataSource=source,
        targets=targets,
        gridPos=pos,
        interval=interval,
        unit=look.unit,
        valueDecimals=look.decimals,
        thresholds=look.steps,
        thresholdsStyleMode="dashed" if show_thresholds else "off",
        lineWidth=2,
        fillOpacity=10,
        showPoints="never",
        spanNulls=True,
        legendDisplayMode="list",
        legendPlacement="bottom",
        tooltipMode="multi",
        timeFrom=time_from,
        overrides=overrides or [],
    )


def kpi_district_series(k: KpiDef, pos: g.GridPos) -> g.TimeSeries:
    """One KPI, one line per district, target drawn as dashed lines."""
    return timeseries(
        k.title_vi,
        [SqlQuery(sql.district_series(k))],
        Look.of(k),
        pos,
        description=_describe(k),
        show_thresholds=k.target is not None,
    )


def series_overrides(kpis: Sequence[KpiDef]) -> list[dict[str, Any]]:
    """Unit and decimals of each KPI's series, named by its Vietnamese title.

    A panel plotting several KPIs shows each with its own catalog decimals, whatever the
    panel-wide default says.
    """
    return [
        {
            "matcher": {"id": "byName", "options": k.title_vi},
            "properties": [
                {"id": "unit", "value": grafana_unit(k)},
                {"id": "decimals", "value": k.decimals},
            ],
        }
        for k in kpis
    ]


def column_overrides(columns: Sequence[sql.Column]) -> list[dict[str, Any]]:
    """Per-column unit, decimals and (for KPIs with a target) coloured cells."""
    overrides: list[dict[str, Any]] = []
    for column in columns:
        k = column.kpi
        properties: list[dict[str, Any]] = [
            {"id": "unit", "value": grafana_unit(k)},
            {"id": "decimals", "value": k.decimals},
        ]
        if k.target is not None:
            properties += [
                {
                    "id": "thresholds",
                    "value": {"mode": "absolute", "steps": threshold_steps(k.target)},
                },
                {"id": "color", "value": {"mode": "thresholds"}},
                {"id": "custom.cellOptions", "value": {"type": "color-background"}},
            ]
        overrides.append(
            {"matcher": {"id": "byName", "options": column.header}, "properties": properties}
        )
    return overrides


def table(
    title: str,
    queries: Sequence[SqlQuery] | Sequence[PromQuery],
    pos: g.GridPos,
    description: str = "",
    overrides: list[dict[str, Any]] | None = None,
    hidden: Sequence[str] = (),
    no_value: str = "—",
) -> g.Table:
    """A table of SQL rows or of an instant PromQL result (labels as columns)."""
    source, targets, interval = _targets(queries)
    transformations: list[dict[str, Any]] = []
    if hidden:
        transformations.append(
            {"id": "organize", "options": {"excludeByName": {name: True for name in hidden}}}
        )
    return g.Table(
        title=title,
        description=description,
        dataSource=source,
        targets=targets,
        gridPos=pos,
        interval=interval,
        overrides=overrides or [],
        transformations=transformations,
        extraJson={"fieldConfig": {"defaults": {"noValue": no_value}}},
    )
