"""SQL of every TimescaleDB panel, built in one place from the catalog.

All queries read table ``kpi`` or view ``kpi_latest`` (sinks/migrations), filter on
``window_start`` (the hypertable's time column, so chunks outside the range are skipped),
on the template variables ``$district`` (multi, quoted list) and ``$window_kind`` (single),
and show district ids as their Vietnamese names through a CASE generated from
``schemas.places.DISTRICT_NAMES``. Grafana macros used: ``$__timeFilter``,
``$__timeGroupAlias`` and ``$__interval`` (see ``dashboards.macros``).

The boards hang on a shared wall, and a viewer can put any text in a variable (URL
``var-window_kind=...``). So a variable reaches SQL only as a value the board allows: Grafana
quotes it (``'...'`` with ``'`` doubled; a multi-valued variable as a list of such
literals), and the query itself admits only whitelisted values (:func:`window_kind_filter`,
:func:`district_filter`). Anything else selects no rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from dashboards.kpis import merge_sql
from schemas.places import DISTRICT_NAMES, District
from streams import windows
from streams.catalog import CATALOG, KpiDef

WINDOW_KINDS: Final = tuple(windows.WINDOW_KINDS.values())
"""The window kinds a board may select (``1m``, ``15m``, ``1h``)."""
HOPPING_KIND: Final = windows.WINDOW_KINDS[windows.HOP_SECONDS]
ENTITY_WINDOW_KINDS: Final = {
    kind: windows.WINDOW_KINDS[windows.PANE_SECONDS] if kind == HOPPING_KIND else kind
    for kind in WINDOW_KINDS
}
"""The window an entity panel reads for each selectable kind. Only districts get the hopping
15-minute window (``streams.window_close.HOPPING_ENTITY_KINDS``); agencies, sites and sensors
show their newest 1-minute window instead, not nothing."""

DISTRICT_HEADER = "Huyện / thị xã / thành phố"


def literal(text: str) -> str:
    """``text`` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def ident(text: str) -> str:
    """``text`` as a quoted SQL identifier (column alias)."""
    return '"' + text.replace('"', '""') + '"'


def district_name(column: str = "district") -> str:
    """CASE expression mapping a district id column to its Vietnamese name."""
    arms = " ".join(
        f"WHEN {literal(d.value)} THEN {literal(name)}" for d, name in DISTRICT_NAMES.items()
    )
    return f"CASE {column} {arms} ELSE {column} END"


def district_order(column: str = "district") -> str:
    """CASE expression giving a district its position in ``DISTRICT_NAMES`` (unknown last)."""
    arms = " ".join(
        f"WHEN {literal(d.value)} THEN {i}" for i, d in enumerate(DISTRICT_NAMES, start=1)
    )
    return f"CASE {column} {arms} ELSE {len(DISTRICT_NAMES) + 1} END"


def window_kind_filter(column: str = "window_kind", *, entity: bool = False) -> str:
    """``column`` equals ``$window_kind`` if that is one of ``WINDOW_KINDS``, else nothing.

    The variable is only ever compared with the whitelist inside a sub-query; the outer
    comparison is with the whitelisted value, which is NULL (no row) for any other text.
    ``entity``: the window kind entities have for it (``ENTITY_WINDOW_KINDS``).
    """
    if not entity:
        rows = ", ".join(f"({literal(kind)})" for kind in WINDOW_KINDS)
        return f"{column} = (SELECT k FROM (VALUES {rows}) AS allowed(k) WHERE k = '$window_kind')"
    pairs = ", ".join(f"({literal(k)}, {literal(v)})" for k, v in ENTITY_WINDOW_KINDS.items())
    return f"{column} = (SELECT w FROM (VALUES {pairs}) AS allowed(k, w) WHERE k = '$window_kind')"


def district_filter(column: str = "district") -> str:
    """``column`` is one of the selected ``$district`` values and a known district id."""
    known = ", ".join(literal(d.value) for d in District)
    return f"{column} IN ($district) AND {column} = ANY(ARRAY[{known}])"


def district_variable_query() -> str:
    """Values of the ``district`` variable: the known districts with rows in the time range.

    Ids are the values, Vietnamese names the text, in the order of ``DISTRICT_NAMES``. Each
    known district is one probe of index ``kpi_identity`` (a district's rows have
    ``entity_id`` = the district) that stops at its first row in the range; a DISTINCT over
    the range read every row of it (0.8 s for one day, BENCHMARKS.md "Board queries").
    Unknown ids are not listed: :func:`district_filter` would select nothing for them.
    """
    known = ", ".join(literal(d.value) for d in DISTRICT_NAMES)
    names = ", ".join(literal(k.name) for k in CATALOG)
    return (
        f"SELECT district AS __value, {district_name()} AS __text\n"
        f"FROM unnest(ARRAY[{known}]) WITH ORDINALITY AS known(district, position)\n"
        "WHERE EXISTS (\n"
        f"  SELECT FROM kpi WHERE kpi = ANY(ARRAY[{names}])\n"
        "    AND entity_kind = 'district' AND entity_id = known.district\n"
        "    AND $__timeFilter(window_start)\n)\n"
        "ORDER BY position"
    )


def _where(kpis: Sequence[KpiDef], entity_kind: str, *, districts: bool = True) -> str:
    names = ", ".join(literal(k.name) for k in kpis)
    kpi_test = f"kpi = {names}" if len(kpis) == 1 else f"kpi IN ({names})"
    parts = [
        "$__timeFilter(window_start)",
        kpi_test,
        f"entity_kind = {literal(entity_kind)}",
        window_kind_filter(entity=entity_kind != "district"),
    ]
    if districts:
        parts.append(district_filter())
    return "\n  AND ".join(parts)


def province_series(k: KpiDef, alias: str) -> str:
    """Time series of one KPI over the selected districts, merged per interval."""
    return (
        f"SELECT $__timeGroupAlias(window_start, $__interval), {merge_sql(k)} AS {ident(alias)}\n"
        f"FROM kpi\nWHERE {_where([k], 'district')}\n"
        "GROUP BY 1\nORDER BY 1"
    )


def province_by_window(k: KpiDef, alias: str) -> str:
    """One KPI over the selected districts, one point per window (the stats' query).

    The newest point is the province figure of the newest window, the same window the
    district grid shows; a time bucket would merge several hopping windows into a figure
    no table shows. Of the hopping 15-minute windows (one a minute) the sparkline takes
    those that do not overlap (starting on the quarter hour) and the newest: 15 times fewer
    merges (a province quantile merges 8 sketches a point), and every point still a window.
    """
    where = _where([k], "district")
    return (
        f'SELECT window_start AS "time", {merge_sql(k)} AS {ident(alias)}\n'
        f"FROM kpi\nWHERE {where}\n"
        f"  AND (window_kind <> {literal(HOPPING_KIND)}\n"
        f"    OR date_part('epoch', window_start)::bigint % {windows.HOP_SECONDS} = 0\n"
        f"    OR window_start = (SELECT max(window_start) FROM kpi WHERE {where}))\n"
        "GROUP BY window_start\nORDER BY 1"
    )


def district_series(k: KpiDef) -> str:
    """Time series of one KPI, one series per district (named in Vietnamese)."""
    return (
        "SELECT $__timeGroupAlias(window_start, $__interval), "
        f"{district_name()} AS metric, {merge_sql(k)} AS value\n"
        f"FROM kpi\nWHERE {_where([k], 'district')}\n"
        "GROUP BY 1, district\nORDER BY 1, 2"
    )


@dataclass(frozen=True)
class Column:
    """One KPI column of a latest-values table."""

    kpi: KpiDef
    header: str


def _latest(kpis: Sequence[KpiDef], entity_kind: str) -> str:
    """Newest row per (kpi, entity) within the time range.

    Same rows as view ``kpi_latest`` as of the range end, but the time filter applies first,
    so only the chunks of the range are read (the view reads every chunk). Districts (a few
    rows a minute): DISTINCT ON over the range. Agencies, sites and sensors (hundreds, a
    row per KPI a minute): one newest-first index probe per (kpi, entity) of table
    ``entity``, which the sink fills on an entity's first row; DISTINCT ON would read and
    sort every row of the range (2.8M rows and 6 s for the sites over 24 h, BENCHMARKS.md
    "Board queries").
    """
    if entity_kind == "district":
        return (
            "SELECT DISTINCT ON (kpi, entity_id) kpi, entity_id, district, value\n"
            f"  FROM kpi\n  WHERE {_where(kpis, entity_kind)}\n"
            "  ORDER BY kpi, entity_id, window_start DESC"
        ).replace("\n  AND ", "\n    AND ")
    names = ", ".join(f"({literal(k.name)})" for k in kpis)
    probe = "\n      AND ".join(
        [
            f"kpi.kpi = {literal(kpis[0].name)}" if len(kpis) == 1 else "kpi.kpi = wanted.kpi",
            f"kpi.entity_kind = {literal(entity_kind)}",
            "kpi.entity_id = e.entity_id",
            "$__timeFilter(window_start)",
            window_kind_filter(entity=True),
        ]
    )
    return (
        "SELECT wanted.kpi, e.entity_id, e.district, newest.value\n"
        f"  FROM entity AS e CROSS JOIN (VALUES {names}) AS wanted(kpi)\n"
        "  CROSS JOIN LATERAL (\n"
        f"    SELECT value FROM kpi\n    WHERE {probe}\n"
        "    ORDER BY window_start DESC LIMIT 1\n  ) AS newest\n"
        f"  WHERE e.entity_kind = {literal(entity_kind)} AND {district_filter()}"
    )


def _pivots(columns: Sequence[Column]) -> str:
    return ",\n  ".join(
        f"max(value) FILTER (WHERE kpi = {literal(c.kpi.name)}) AS {ident(c.header)}"
        for c in columns
    )


def district_grid(columns: Sequence[Column]) -> str:
    """Latest value of each KPI per selected district, one row per district in fixed order."""
    return (
        f"SELECT {district_name()} AS {ident(DISTRICT_HEADER)},\n  {_pivots(columns)}\n"
        f"FROM (\n  {_latest([c.kpi for c in columns], 'district')}\n) AS latest\n"
        f"GROUP BY district\nORDER BY {district_order()}"
    )


def entity_table(
    entity_kind: str, entity_header: str, columns: Sequence[Column], sort: Column, limit: int
) -> str:
    """Latest values per entity (site, sensor, agency), worst ``sort`` value first."""
    target = sort.kpi.target
    direction = "DESC" if target is not None and target.op == "<=" else "ASC"
    return (
        f"SELECT entity_id AS {ident(entity_header)},\n"
        f"  {district_name()} AS {ident(DISTRICT_HEADER)},\n  {_pivots(columns)}\n"
        f"FROM (\n  {_latest([c.kpi for c in columns], entity_kind)}\n) AS latest\n"
        f"GROUP BY entity_id, district\nORDER BY {ident(sort.header)} {direction} NULLS LAST, 1\n"
        f"LIMIT {limit}"
    )


def entity_map(entity_kind: str, entity_header: str, column: Column) -> str:
    """Latest value of one KPI per entity with the entity's position (table ``entity``).

    Rows come best first, so that on a map the worst points are drawn last, on top.
    """
    target = column.kpi.target
    direction = "ASC" if target is not None and target.op == "<=" else "DESC"
    return (
        "SELECT e.latitude, e.longitude, latest.entity_id AS "
        f"{ident(entity_header)},\n  {district_name('latest.district')} AS "
        f"{ident(DISTRICT_HEADER)},\n  latest.value AS {ident(column.header)}\n"
        f"FROM (\n  {_latest([column.kpi], entity_kind)}\n) AS latest\n"
        f"JOIN entity AS e ON e.entity_kind = {literal(entity_kind)} "
        "AND e.entity_id = latest.entity_id\n"
        f"ORDER BY {ident(column.header)} {direction}, 3"
    )
