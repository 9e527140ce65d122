"""Grafana geomap panels: the province's district outlines and one layer of points per KPI.

grafanalib has no geomap panel; :class:`GeoMap` writes Grafana 11's JSON itself. Each
marker layer reads one SQL target (``filterData`` by refId) whose rows carry ``latitude``,
``longitude``, the entity, its district and one KPI value; the marker colour is that value
under the KPI's catalog thresholds (the column override of the value, as in the tables).
The outlines are a GeoJSON layer served by Grafana from ``public/maps/ioc`` (the compose
file mounts deploy/grafana/maps there; ``ioc dashboards build`` writes the file from
``schemas.geo``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import attr
from grafanalib import core as g

from dashboards import panels, sql
from dashboards.datasources import TIMESCALEDB
from dashboards.panels import REF_IDS, SqlQuery
from schemas.geo import OUTLINES
from schemas.places import DISTRICT_NAMES

OUTLINES_FILE: Final = "hau-giang-districts.geojson"
OUTLINES_SRC: Final = f"public/maps/ioc/{OUTLINES_FILE}"
"""Where Grafana serves the outlines (deploy/grafana/maps mounted at public/maps/ioc)."""
CENTER: Final = (9.80, 105.64)
"""(lat, lon) the maps open on: the middle of the province."""
ZOOM: Final = 9.6
LATITUDE: Final = "latitude"
LONGITUDE: Final = "longitude"
MARKER_SIZE: Final = 6


@dataclass(frozen=True)
class MapLayer:
    """One layer of points: entities of ``entity_kind`` coloured by ``column``'s KPI."""

    name: str
    entity_kind: str
    entity_header: str
    column: sql.Column

    def query(self) -> SqlQuery:
        """The layer's SQL target (table format)."""
        return SqlQuery(
            sql.entity_map(self.entity_kind, self.entity_header, self.column), format="table"
        )


def _marker_layer(layer: MapLayer, ref_id: str) -> dict[str, Any]:
    return {
        "type": "markers",
        "name": layer.name,
        "config": {
            "showLegend": True,
            "style": {
                "color": {"field": layer.column.header, "fixed": "dark-green"},
                "opacity": 0.85,
                "size": {"fixed": MARKER_SIZE, "min": 2, "max": 15},
                "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
            },
        },
        "filterData": {"id": "byRefId", "options": ref_id},
        "location": {"mode": "coords", "latitude": LATITUDE, "longitude": LONGITUDE},
        "tooltip": True,
    }


def _value_overrides(layers: Sequence[MapLayer]) -> list[dict[str, Any]]:
    """Unit, decimals and thresholds of each layer's value column (no table cell style)."""
    overrides = panels.column_overrides([layer.column for layer in layers])
    for override in overrides:
        override["properties"] = [
            p for p in override["properties"] if p["id"] != "custom.cellOptions"
        ]
    return overrides


OUTLINE_LAYER: Final[dict[str, Any]] = {
    "type": "geojson",
    "name": "Ranh giới huyện, thị xã, thành phố",
    "config": {
        "src": OUTLINES_SRC,
        "rules": [],
        "style": {"color": {"fixed": "#8e8e9e"}, "opacity": 0.25, "lineWidth": 1},
    },
}


@attr.s
class GeoMap:
    """A Grafana 11 geomap panel (grafanalib-compatible: ``id``, ``to_json_data``)."""

    title: str = attr.ib()
    layers: list[MapLayer] = attr.ib()
    gridPos: g.GridPos = attr.ib()
    description: str = attr.ib(default="")
    id: int | None = attr.ib(default=None)

    def _map_panels(self, f: Any) -> Any:
        return f(self)

    def to_json_data(self) -> dict[str, Any]:
        """The panel as Grafana stores it."""
        queries = [layer.query() for layer in self.layers]
        return {
            "type": "geomap",
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "gridPos": self.gridPos,
            "datasource": TIMESCALEDB.ref(),
            "interval": panels.MIN_INTERVAL,
            "maxDataPoints": 100,
            "targets": [
                {
                    "datasource": TIMESCALEDB.ref(),
                    "format": q.format,
                    "rawQuery": True,
                    "rawSql": q.raw_sql,
                    "refId": REF_IDS[i],
                }
                for i, q in enumerate(queries)
            ],
            "fieldConfig": {
                "defaults": {"color": {"mode": "thresholds"}, "noValue": "—"},
                "overrides": _value_overrides(self.layers),
            },
            "options": {
                "view": {"id": "coords", "lat": CENTER[0], "lon": CENTER[1], "zoom": ZOOM},
                "controls": {"showZoom": True, "mouseWheelZoom": False, "showAttribution": True},
                "basemap": {"type": "default", "name": "Nền bản đồ"},
                "layers": [
                    OUTLINE_LAYER,
                    *(_marker_layer(layer, REF_IDS[i]) for i, layer in enumerate(self.layers)),
                ],
                "tooltip": {"mode": "details"},
            },
        }


def geomap(title: str, layers: Sequence[MapLayer], pos: g.GridPos, description: str = "") -> GeoMap:
    """A map of the province with one marker layer per ``layers`` entry."""
    return GeoMap(title=title, layers=list(layers), gridPos=pos, description=description)


def outlines_geojson() -> bytes:
    """The district outlines as a GeoJSON FeatureCollection (closed rings, lon/lat)."""
    features = [
        {
            "type": "Feature",
            "properties": {"district": district.value, "name": DISTRICT_NAMES[district]},
            "geometry": {"type": "Polygon", "coordinates": [[*map(list, ring), list(ring[0])]]},
        }
        for district, ring in OUTLINES.items()
    ]
    text = json.dumps(
        {"type": "FeatureCollection", "features": features}, ensure_ascii=False, indent=1
    )
    return (text + "\n").encode()
