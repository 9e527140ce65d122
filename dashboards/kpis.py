"""What a board needs to know about a KPI, derived from ``streams.catalog`` only.

Grafana units, traffic-light thresholds from the catalog targets, the domain a KPI belongs
to, and how rows of several entities or windows merge into one figure (the SQL aggregate).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from schemas.topics import FARM_TOPIC, NETWORK_TOPIC, PORTAL_TOPIC
from streams.catalog import CATALOG, KpiDef, Target, by_name

GREEN: Final = "green"
AMBER: Final = "orange"
RED: Final = "red"
NEUTRAL: Final = "blue"

_CUSTOM_UNITS: Final = {"gL": "suffix:g/L", "cm": "suffix:cm"}
"""Grafana puts one space before a custom suffix itself (``suffix: g/L`` would show two)."""

ADDITIVE: Final = frozenset({"count", "sum"})
WEIGHTED: Final = frozenset({"mean", "mean_x_window_minutes", "per_key_completeness"})


@dataclass(frozen=True)
class Domain:
    """A group of KPIs fed by one raw topic, shown on one board."""

    key: str
    topic: str
    title_vi: str
    title_en: str

    def kpis(self) -> tuple[KpiDef, ...]:
        """The domain's KPIs, in catalog order."""
        return tuple(k for k in CATALOG if k.topic == self.topic)


SERVICES: Final = Domain("services", PORTAL_TOPIC, "Dịch vụ công trực tuyến", "Public services")
NETWORK: Final = Domain("network", NETWORK_TOPIC, "Hạ tầng mạng viễn thông", "Network")
AGRICULTURE: Final = Domain(
    "agriculture", FARM_TOPIC, "Nông nghiệp — Xâm nhập mặn", "Agriculture and salinity"
)
DOMAINS: Final = (SERVICES, NETWORK, AGRICULTURE)


def kpi(name: str) -> KpiDef:
    """The catalog entry ``name`` (KeyError names the known KPIs)."""
    return by_name(name)


def grafana_unit(k: KpiDef) -> str:
    """The Grafana unit id of a KPI (custom catalog units become suffix units)."""
    return _CUSTOM_UNITS.get(k.unit, k.unit)


def threshold_steps(target: Target | None) -> list[dict[str, Any]]:
    """Grafana threshold steps that colour a value exactly as ``target.status`` does.

    A Grafana step colours values at or above its ``value``. For ``>=`` targets the steps
    are red, amber from ``amber``, green from ``value``. For ``<=`` targets a value equal to
    the target is still green, so the amber and red steps start one float above the bounds.
    Without a target the value is shown in the neutral colour.
    """
    if target is None:
        return [{"color": NEUTRAL, "value": None}]
    if target.op == ">=":
        return [
            {"color": RED, "value": None},
            {"color": AMBER, "value": target.amber},
            {"color": GREEN, "value": target.value},
        ]
    return [
        {"color": GREEN, "value": None},
        {"color": AMBER, "value": math.nextafter(target.value, math.inf)},
        {"color": RED, "value": math.nextafter(target.amber, math.inf)},
    ]


def step_color(steps: list[dict[str, Any]], value: float) -> str:
    """The colour Grafana gives ``value`` under threshold ``steps``."""
    color = str(steps[0]["color"])
    for step in steps[1:]:
        if step["value"] is not None and value >= float(step["value"]):
            color = str(step["color"])
    return color


def merge_sql(k: KpiDef) -> str:
    """SQL aggregate merging the rows of one group (several entities and/or windows).

    Counts and sums: the total per window, averaged over the distinct windows in the group
    (so overlapping 15-minute windows are not added up). Means and ratios: weighted by
    ``weight``, their denominator (rows older than that column: by ``count``), which is
    exact. Minima and maxima: exact. Quantiles: the quantile of the merged sketches of the
    group's district rows, which is exact: by a binary search over their cumulative weights
    (``ioc_sketch_cumulative_quantile``, migration 0010), or from their JSON bins when a row
    has no cumulative form (``ioc_sketch_quantile``, migration 0009; 4x slower); a group of
    one row shows its value (the same number, without the call), and a group with a row
    without a sketch (written before migration 0009) shows its worst member.
    """
    acc = k.accumulator
    if acc in ADDITIVE:
        return "sum(value) / count(DISTINCT window_start)"
    if acc in WEIGHTED:
        return "sum(value * coalesce(weight, count)) / NULLIF(sum(coalesce(weight, count)), 0)"
    if acc == "min":
        return "min(value)"
    if acc.startswith("quantile:"):
        q = float(acc.removeprefix("quantile:"))
        return (
            "CASE WHEN count(*) > 1 AND count(sketch_cumulative) = count(*) THEN "
            f"ioc_sketch_cumulative_quantile(ioc_array_cat_agg(sketch_cumulative), {q!r}) "
            "WHEN count(*) > 1 AND count(sketch) = count(*) "
            f"THEN ioc_sketch_quantile(array_agg(sketch), {q!r}) ELSE max(value) END"
        )
    if acc == "max":
        return "max(value)"
    raise ValueError(f"KPI {k.name}: no SQL merge for accumulator {acc!r}")


def lower_is_better(k: KpiDef) -> bool:
    """True when the KPI's target is an upper bound (latency, loss, salinity)."""
    return k.target is not None and k.target.op == "<="
