"""The KPI catalog: names, units, titles, targets and how each raw event feeds each KPI.

Pure data plus cheap functions (no I/O, no pydantic calls on the hot path). The names are a
contract shared with the sink, alert rules, dashboards and demo.

How an engine uses it, per event of topic T::

    observed = observe_event(kpis_for_topic(T), event)
    fold([pane_of(entity) for entity in entities_of(event)], observed)

``observe_event`` asks each KPI's ``observe(event)`` for ``(value, weight)`` (None: the
event does not count for that KPI); ``fold`` folds it into each pane's state of that KPI with
``accumulator.add`` (``apply_event`` does both for one pane); when ``kpi.observe_key`` is
set it calls
``accumulator.add_keyed(state, kpi.observe_key(event), value, weight)`` instead (used by
``farm.completeness_ratio``, keyed by sensor and reading kind). Closing a window merges its
panes in time order and reads the values (``window_values``).
"""

from __future__ import annotations

from typing import Final

from schemas.topics import FARM_TOPIC, NETWORK_TOPIC, PORTAL_TOPIC
from streams.catalog.definitions import KpiDef, Observation, Status, Target
from streams.catalog.farm import FARM, SALINITY_DAMAGE_GL
from streams.catalog.network import NETWORK
from streams.catalog.plan import (
    KpiPlan,
    KpiValue,
    Observed,
    apply_event,
    entities_of,
    fold,
    observe_event,
    window_values,
)
from streams.catalog.portal import PORTAL

__all__ = [
    "ALERTABLE",
    "CATALOG",
    "SALINITY_DAMAGE_GL",
    "KpiDef",
    "KpiPlan",
    "KpiValue",
    "Observation",
    "Observed",
    "Status",
    "Target",
    "apply_event",
    "by_name",
    "entities_of",
    "fold",
    "kpis_for_topic",
    "observe_event",
    "window_values",
]

CATALOG: Final[tuple[KpiDef, ...]] = PORTAL + NETWORK + FARM
"""Every KPI of the product, in display order."""

_BY_NAME: Final[dict[str, KpiDef]] = {k.name: k for k in CATALOG}
_BY_TOPIC: Final[dict[str, tuple[KpiDef, ...]]] = {
    topic: tuple(k for k in CATALOG if k.topic == topic)
    for topic in (PORTAL_TOPIC, NETWORK_TOPIC, FARM_TOPIC)
}
ALERTABLE: Final[tuple[KpiDef, ...]] = tuple(k for k in CATALOG if k.alertable)
"""KPIs exported as the ``ioc_kpi_last_value`` gauge."""


def kpis_for_topic(topic: str) -> tuple[KpiDef, ...]:
    """The KPIs fed by raw topic ``topic`` (empty for any other topic)."""
    return _BY_TOPIC.get(topic, ())


def by_name(name: str) -> KpiDef:
    """The KPI called ``name``; KeyError names the known KPIs otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown KPI {name!r}; known: {', '.join(_BY_NAME)}") from None
