"""What a stat or table panel shows, as text, from the frames its queries returned.

The same steps as Grafana 11: a stat reduces each numeric field (``reduceOptions.calcs``)
and formats it with the panel's unit, decimals, value mappings and ``noValue``; a table
drops the columns its ``organize`` transformation hides and formats each cell with the
override of its column (unit, decimals, value mappings), else the panel's defaults.
Used by the board-truth test and by the PNG preview, so both read what an operator reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dashboards.display import NO_VALUE, display, mapped, reduce
from dashboards.kpis import step_color
from dashboards.queries import Frame

TIME_COLUMN = "time"


def defaults(panel: Mapping[str, Any]) -> dict[str, Any]:
    """The panel's ``fieldConfig.defaults``."""
    found: dict[str, Any] = panel.get("fieldConfig", {}).get("defaults", {})
    return found


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool | str):
        return None
    return float(value)


def numeric_fields(frame: Frame) -> list[tuple[str, list[float | None]]]:
    """(name, values) of each numeric field: PromQL series, or SQL columns but ``time``."""
    if frame.series:
        return [
            (",".join(f"{k}={v}" for k, v in sorted(labels.items())), [v for _, v in points])
            for labels, points in frame.series
        ]
    fields = []
    for index, column in enumerate(frame.columns):
        if column == TIME_COLUMN:
            continue
        values = [_number(row[index]) for row in frame.rows]
        if frame.rows and all(isinstance(row[index], str) for row in frame.rows):
            continue
        fields.append((column, values))
    return fields


def stat_texts(panel: Mapping[str, Any], frames: Sequence[Frame]) -> list[str]:
    """The value(s) a stat panel shows: one per numeric field, or its ``noValue``."""
    config = defaults(panel)
    options = panel.get("options", {}).get("reduceOptions", {})
    calcs = options.get("calcs") or ["lastNotNull"]
    if options.get("values"):
        raise ValueError(f"stat {panel.get('title')!r} shows every value: not reproduced here")
    texts = []
    for frame in frames:
        for _, values in numeric_fields(frame):
            value = reduce(values, calcs[0])
            if value is None:
                continue
            texts.append(
                display(
                    value, config.get("unit"), config.get("decimals"), config.get("mappings", [])
                )
            )
    return texts or [str(config.get("noValue") or NO_VALUE)]


def hidden_columns(panel: Mapping[str, Any]) -> set[str]:
    """Columns an ``organize`` transformation of the panel excludes."""
    return {
        name
        for t in panel.get("transformations", [])
        if t.get("id") == "organize"
        for name, hide in t.get("options", {}).get("excludeByName", {}).items()
        if hide
    }


def column_configs(panel: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per column name, the properties of its ``byName`` override (unit, decimals, ...)."""
    found: dict[str, dict[str, Any]] = {}
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        matcher = override.get("matcher", {})
        if matcher.get("id") != "byName":
            raise ValueError(f"override matcher {matcher.get('id')!r} is not reproduced here")
        properties = {p["id"]: p["value"] for p in override.get("properties", [])}
        found.setdefault(str(matcher.get("options")), {}).update(properties)
    return found


def _frame_table(frame: Frame) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of a frame; an instant PromQL frame becomes Time, labels, Value."""
    if not frame.series:
        return list(frame.columns), [list(row) for row in frame.rows]
    keys = sorted({k for labels, _ in frame.series for k in labels})
    rows = [
        [points[-1][0] if points else None, *(labels.get(k) for k in keys), points[-1][1]]
        for labels, points in frame.series
        if points
    ]
    return ["Time", *keys, "Value"], rows


def table_rows(panel: Mapping[str, Any], frames: Sequence[Frame]) -> list[dict[str, str]]:
    """The rows a table panel shows, each as {column: text}; hidden columns left out."""
    config = defaults(panel)
    looks = column_configs(panel)
    hidden = hidden_columns(panel)
    no_value = str(config.get("noValue") or NO_VALUE)
    shown: list[dict[str, str]] = []
    for frame in frames:
        columns, rows = _frame_table(frame)
        for row in rows:
            cells: dict[str, str] = {}
            for column, value in zip(columns, row, strict=True):
                if column in hidden:
                    continue
                look = {**config, **looks.get(column, {})}
                mappings = look.get("mappings", [])
                if value is None:
                    cells[column] = no_value
                elif isinstance(value, str):
                    cells[column] = mapped(value, mappings) or value
                else:
                    cells[column] = display(
                        float(value), look.get("unit"), look.get("decimals"), mappings
                    )
            shown.append(cells)
    return shown


def map_points(panel: Mapping[str, Any], frames: Sequence[Frame]) -> list[dict[str, Any]]:
    """The points a geomap's marker layers draw, in drawing order.

    Each point: its layer, ``lat`` and ``lon`` (numbers), the other columns as a table
    shows them (the tooltip), and ``colour``: the threshold colour of the colour field.
    """
    by_ref = {
        str(target["refId"]): frame
        for target, frame in zip(panel.get("targets", []), frames, strict=True)
    }
    looks = column_configs(panel)
    points: list[dict[str, Any]] = []
    for layer in panel.get("options", {}).get("layers", []):
        if layer.get("type") != "markers":
            continue
        frame = by_ref[str(layer["filterData"]["options"])]
        location = layer["location"]
        colour_field = layer["config"]["style"]["color"]["field"]
        steps = looks.get(colour_field, {}).get("thresholds", {}).get("steps", [])
        cells = table_rows({"fieldConfig": panel.get("fieldConfig", {})}, [frame])
        for row, raw in zip(cells, frame.rows, strict=True):
            value = raw[frame.columns.index(colour_field)]
            colour = step_color(steps, float(value)) if value is not None and steps else ""
            lat = raw[frame.columns.index(location["latitude"])]
            lon = raw[frame.columns.index(location["longitude"])]
            del row[location["latitude"]], row[location["longitude"]]
            points.append({"layer": layer["name"], "lat": lat, "lon": lon, **row,
                           "colour": colour})  # fmt: skip
    return points
