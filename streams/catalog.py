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

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

from schemas.events import (
    Channel,
    DossierEvent,
    DossierStatus,
    ProbeEvent,
    RawEvent,
    SensorKind,
    SensorReading,
    Technology,
)
from schemas.kpi import EntityKind
from schemas.places import District
from schemas.topics import FARM_TOPIC, NETWORK_TOPIC, PORTAL_TOPIC
from streams.accumulators import (
    ACCUMULATORS,
    Accumulator,
    KeyedAccumulator,
    Mean,
    PerKeyCompleteness,
    State,
)

Observation = tuple[float, float]
"""(value, weight) of one event for one KPI."""

Status = Literal["green", "amber", "red"]


@dataclass(frozen=True)
class Target:
    """A traffic-light target: green if ``value op target.value``, amber if ``value op
    target.amber``, red otherwise.

    ``Target(">=", 0.95, 0.90)``: green at 0.95 and above, amber from 0.90, red below.
    ``Target("<=", 2.0, 4.0)``: green up to 2, amber up to 4, red above 4.
    ``amber`` is therefore the red boundary, the natural alert threshold.
    """

    op: Literal[">=", "<="]
    value: float
    amber: float

    def __post_init__(self) -> None:
        if self.op not in (">=", "<="):
            raise ValueError(f"target op must be '>=' or '<=', got {self.op!r}")
        if (self.op == ">=" and self.amber > self.value) or (
            self.op == "<=" and self.amber < self.value
        ):
            raise ValueError(f"amber bound {self.amber} lies on the green side of {self.value}")

    def status(self, value: float) -> Status:
        """Traffic-light colour of ``value``."""
        if self.op == ">=":
            if value >= self.value:
                return "green"
            return "amber" if value >= self.amber else "red"
        if value <= self.value:
            return "green"
        return "amber" if value <= self.amber else "red"


@dataclass(frozen=True)
class KpiDef:
    """One KPI: where it comes from, how it is aggregated and how it is shown.

    ``unit`` is a Grafana unit id ("percentunit", "percent", "ms", "h", "none", "Mbits",
    "m" = minutes, "celsius") or one of the custom units "gL" (grams per litre) and "cm".
    """

    name: str
    topic: str
    accumulator: str
    unit: str
    title_en: str
    title_vi: str
    entity_kinds: tuple[EntityKind, ...]
    observe: Callable[[Any], Observation | None]
    target: Target | None = None
    alertable: bool = False
    decimals: int = 2
    observe_key: Callable[[Any], str] | None = None
    description: str = ""
    acc: Accumulator = field(init=False, repr=False, compare=False)
    """``ACCUMULATORS[accumulator]``, resolved once."""

    def __post_init__(self) -> None:
        acc = ACCUMULATORS.get(self.accumulator)
        if acc is None:
            raise ValueError(f"KPI {self.name}: unknown accumulator {self.accumulator!r}")
        if self.observe_key is not None and not isinstance(acc, KeyedAccumulator):
            raise ValueError(f"KPI {self.name}: observe_key needs a keyed accumulator")
        object.__setattr__(self, "acc", acc)


_ONE: Final[Observation] = (1.0, 1.0)
_ZERO: Final[Observation] = (0.0, 1.0)

_SUBMITTED = DossierStatus.SUBMITTED
_COMPLETED = DossierStatus.COMPLETED


# ---- portal -------------------------------------------------------------------------------


def _submitted(e: DossierEvent) -> Observation | None:
    return _ONE if e.status == _SUBMITTED else None


def _completed(e: DossierEvent) -> Observation | None:
    return _ONE if e.status == _COMPLETED else None


def _online_submission(e: DossierEvent) -> Observation | None:
    if e.status != _SUBMITTED:
        return None
    return _ONE if e.channel == Channel.ONLINE else _ZERO


def _online_payment(e: DossierEvent) -> Observation | None:
    if e.status != _COMPLETED:
        return None
    return _ONE if e.paid_online else _ZERO


def _on_time(e: DossierEvent) -> Observation | None:
    if e.status != _COMPLETED or e.due_at is None:
        return None
    return _ONE if e.occurred_at <= e.due_at else _ZERO


def _processing_hours(e: DossierEvent) -> Observation | None:
    if e.status != _COMPLETED:
        return None
    return ((e.occurred_at - e.received_at).total_seconds() / 3600.0, 1.0)


def _component_reuse(e: DossierEvent) -> Observation | None:
    total = e.components_total
    if e.status != _SUBMITTED or total <= 0:
        return None
    return (e.components_reused / total, float(total))


def _rating(e: DossierEvent) -> Observation | None:
    rating = e.rating
    return None if rating is None else (float(rating), 1.0)


# ---- network ------------------------------------------------------------------------------


def _up(e: ProbeEvent) -> Observation | None:
    return _ONE if e.up else _ZERO


def _down(e: ProbeEvent) -> Observation | None:
    return _ZERO if e.up else _ONE


def _latency(e: ProbeEvent) -> Observation | None:
    latency = e.latency_ms
    return (latency, 1.0) if e.up and latency is not None else None


def _loss(e: ProbeEvent) -> Observation | None:
    loss = e.loss_pct
    return (loss, 1.0) if e.up and loss is not None else None


def _downlink_of(tech: Technology) -> Callable[[ProbeEvent], Observation | None]:
    def observe(e: ProbeEvent) -> Observation | None:
        downlink = e.downlink_mbps
        if e.technology != tech or not e.up or downlink is None:
            return None
        return (downlink, 1.0)

    return observe


def _share_2g(e: ProbeEvent) -> Observation | None:
    subscribers = e.subscribers
    if subscribers <= 0:
        return None
    return (1.0 if e.technology == Technology.G2 else 0.0, float(subscribers))


# ---- farm ---------------------------------------------------------------------------------


def _reading_of(kind: SensorKind) -> Callable[[SensorReading], Observation | None]:
    def observe(e: SensorReading) -> Observation | None:
        return (e.value, 1.0) if e.kind == kind else None

    return observe


def _salinity_above_4(e: SensorReading) -> Observation | None:
    if e.kind != SensorKind.SALINITY:
        return None
    return _ONE if e.value > SALINITY_DAMAGE_GL else _ZERO


def _any_reading(e: SensorReading) -> Observation | None:
    return _ONE


def _reading_key(e: SensorReading) -> str:
    return f"{e.sensor_id}/{e.kind}"  # a StrEnum formats as its value


def _battery(e: SensorReading) -> Observation | None:
    return (e.battery_pct, 1.0)


SALINITY_DAMAGE_GL: Final = 4.0
"""Salinity above which rice is damaged (g/L, per mille)."""

_D, _A, _S, _N = EntityKind.DISTRICT, EntityKind.AGENCY, EntityKind.SITE, EntityKind.SENSOR
_PORTAL_KINDS: Final = (_D, _A)
_NETWORK_KINDS: Final = (_D, _S)
_FARM_KINDS: Final = (_D, _N)


def _portal(name: str, acc: str, unit: str, en: str, vi: str, observe: Any, **kw: Any) -> KpiDef:
    return KpiDef(f"portal.{name}", PORTAL_TOPIC, acc, unit, en, vi, _PORTAL_KINDS, observe, **kw)


def _network(name: str, acc: str, unit: str, en: str, vi: str, observe: Any, **kw: Any) -> KpiDef:
    return KpiDef(
        f"network.{name}", NETWORK_TOPIC, acc, unit, en, vi, _NETWORK_KINDS, observe, **kw
    )


def _farm(name: str, acc: str, unit: str, en: str, vi: str, observe: Any, **kw: Any) -> KpiDef:
    return KpiDef(f"farm.{name}", FARM_TOPIC, acc, unit, en, vi, _FARM_KINDS, observe, **kw)


CATALOG: Final[tuple[KpiDef, ...]] = (
    _portal(
        "dossiers_received",
        "count",
        "none",
        "Dossiers received",
        "Số hồ sơ tiếp nhận",
        _submitted,
        decimals=0,
        description="Dossier events with status submitted.",
    ),
    _portal(
        "online_submission_rate",
        "mean",
        "percentunit",
        "Online submission rate",
        "Tỷ lệ hồ sơ nộp trực tuyến",
        _online_submission,
        target=Target(">=", 0.80, 0.70),
        alertable=True,
        description="Submitted dossiers with channel online / submitted dossiers.",
    ),
    _portal(
        "online_payment_rate",
        "mean",
        "percentunit",
        "Online payment rate",
        "Tỷ lệ thanh toán trực tuyến",
        _online_payment,
        description="Completed dossiers paid online / completed dossiers.",
    ),
    _portal(
        "on_time_rate",
        "mean",
        "percentunit",
        "On-time completion rate",
        "Tỷ lệ hồ sơ giải quyết đúng hạn",
        _on_time,
        target=Target(">=", 0.95, 0.90),
        alertable=True,
        description="Completed at or before due_at / completed dossiers that have a due_at.",
    ),
    _portal(
        "processing_time_p50_hours",
        "quantile:0.5",
        "h",
        "Processing time p50",
        "Thời gian giải quyết (trung vị)",
        _processing_hours,
        decimals=1,
        description="Median of occurred_at - received_at of completed dossiers, hours.",
    ),
    _portal(
        "processing_time_p95_hours",
        "quantile:0.95",
        "h",
        "Processing time p95",
        "Thời gian giải quyết (phân vị 95)",
        _processing_hours,
        decimals=1,
        description="95th percentile of occurred_at - received_at of completed dossiers.",
    ),
    _portal(
        "component_reuse_rate",
        "mean",
        "percentunit",
        "Component reuse rate",
        "Tỷ lệ tái sử dụng thành phần hồ sơ",
        _component_reuse,
        description="Sum of reused / sum of total components of submitted dossiers.",
    ),
    _portal(
        "rating_mean",
        "mean",
        "none",
        "Mean citizen rating",
        "Điểm hài lòng trung bình",
        _rating,
        description="Mean of the 1-5 citizen ratings of events that carry one.",
    ),
    _portal(
        "dossiers_completed",
        "count",
        "none",
        "Dossiers completed",
        "Số hồ sơ đã giải quyết",
        _completed,
        decimals=0,
        description="Dossier events with status completed.",
    ),
    _network(
        "availability_ratio",
        "mean",
        "percentunit",
        "Availability",
        "Tỷ lệ sẵn sàng mạng",
        _up,
        target=Target(">=", 0.99, 0.97),
        alertable=True,
        decimals=4,
        description="Probes up / probes.",
    ),
    _network(
        "latency_p95_ms",
        "quantile:0.95",
        "ms",
        "Latency p95",
        "Độ trễ (phân vị 95)",
        _latency,
        target=Target("<=", 150.0, 250.0),
        alertable=True,
        decimals=0,
        description="95th percentile of latency_ms of probes that are up.",
    ),
    _network(
        "loss_mean_pct",
        "mean",
        "percent",
        "Mean packet loss",
        "Tỷ lệ mất gói trung bình",
        _loss,
        target=Target("<=", 2.0, 5.0),
        description="Mean loss_pct of probes that are up.",
    ),
    _network(
        "downlink_4g_mean_mbps",
        "mean",
        "Mbits",
        "4G mean downlink",
        "Tốc độ tải xuống trung bình 4G",
        _downlink_of(Technology.G4),
        target=Target(">=", 40.0, 30.0),
        alertable=True,
        decimals=1,
        description="Mean downlink_mbps of 4G probes that are up.",
    ),
    _network(
        "downlink_5g_mean_mbps",
        "mean",
        "Mbits",
        "5G mean downlink",
        "Tốc độ tải xuống trung bình 5G",
        _downlink_of(Technology.G5),
        target=Target(">=", 100.0, 70.0),
        alertable=True,
        decimals=1,
        description="Mean downlink_mbps of 5G probes that are up.",
    ),
    _network(
        "outage_minutes",
        "mean_x_window_minutes",
        "m",
        "Outage minutes",
        "Số phút mất kết nối",
        _down,
        decimals=1,
        description="Fraction of probes down x window minutes.",
    ),
    _network(
        "share_2g_subscribers",
        "mean",
        "percentunit",
        "2G subscriber share",
        "Tỷ lệ thuê bao 2G",
        _share_2g,
        description="Subscribers attached to 2G / all attached subscribers, over probes.",
    ),
    _farm(
        "salinity_mean_gl",
        "mean",
        "gL",
        "Mean salinity",
        "Độ mặn trung bình",
        _reading_of(SensorKind.SALINITY),
        target=Target("<=", 2.0, SALINITY_DAMAGE_GL),
        alertable=True,
        description="Mean of salinity readings, g/L (per mille).",
    ),
    _farm(
        "salinity_max_gl",
        "max",
        "gL",
        "Maximum salinity",
        "Độ mặn cao nhất",
        _reading_of(SensorKind.SALINITY),
        target=Target("<=", 2.0, SALINITY_DAMAGE_GL),
        alertable=True,
        description="Maximum salinity reading, g/L; above 4 g/L rice is damaged.",
    ),
    _farm(
        "salinity_minutes_above_4",
        "mean_x_window_minutes",
        "m",
        "Minutes of salinity above 4 g/L",
        "Số phút độ mặn trên 4 g/L",
        _salinity_above_4,
        decimals=1,
        description="Fraction of salinity readings above 4 g/L x window minutes.",
    ),
    _farm(
        "soil_moisture_min_pct",
        "min",
        "percent",
        "Minimum soil moisture",
        "Độ ẩm đất thấp nhất",
        _reading_of(SensorKind.SOIL_MOISTURE),
        decimals=1,
        description="Minimum soil moisture reading, %.",
    ),
    _farm(
        "air_temperature_max_c",
        "max",
        "celsius",
        "Maximum air temperature",
        "Nhiệt độ không khí cao nhất",
        _reading_of(SensorKind.AIR_TEMPERATURE),
        decimals=1,
        description="Maximum air temperature reading, degC.",
    ),
    _farm(
        "water_level_mean_cm",
        "mean",
        "cm",
        "Mean water level",
        "Mực nước trung bình",
        _reading_of(SensorKind.WATER_LEVEL),
        decimals=1,
        description="Mean water level reading, cm.",
    ),
    _farm(
        "completeness_ratio",
        "per_key_completeness",
        "percentunit",
        "Data completeness",
        "Tỷ lệ đầy đủ dữ liệu",
        _any_reading,
        observe_key=_reading_key,
        target=Target(">=", 0.95, 0.80),
        alertable=True,
        description=(
            "Readings received / expected, 1 reading per minute per (sensor, kind) heard "
            "from in the window, each capped at the expected number."
        ),
    ),
    _farm(
        "battery_min_pct",
        "min",
        "percent",
        "Minimum battery",
        "Mức pin thấp nhất",
        _battery,
        target=Target(">=", 30.0, 20.0),
        decimals=0,
        description="Minimum battery_pct over all readings.",
    ),
)
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


_DISTRICT_IDS: Final[dict[District, str]] = {d: d.value for d in District}
"""Each district's plain string id (cheaper than the Enum's ``value`` property per event)."""


def entities_of(event: RawEvent) -> tuple[tuple[EntityKind, str], ...]:
    """The KPI entities an event belongs to: its district and its agency / site / sensor."""
    district = _DISTRICT_IDS[event.district]
    if isinstance(event, SensorReading):
        return ((_D, district), (_N, event.sensor_id))
    if isinstance(event, ProbeEvent):
        return ((_D, district), (_S, event.site_id))
    return ((_D, district), (_A, event.agency_id))


Observed = tuple[str, Accumulator, float, float, str | None]
"""One KPI's share of one event: (KPI name, accumulator, value, weight, key or None)."""


KpiValue = tuple[str, float, int, float]
"""(KPI name, value, count, weight) of one KPI of one window (see ``Accumulator.weight``)."""


def _weight_of(acc: Accumulator) -> Callable[[State, float], float] | None:
    """``acc.weight``, or None where the weight is the observation count (read without a
    call per KPI and window)."""
    return acc.weight if isinstance(acc, Mean | PerKeyCompleteness) else None


class KpiPlan:
    """The KPIs of ``kpis`` with their functions looked up once (per partition, not per
    event or window): what an event contributes to each (:meth:`observe`) and the values
    of a window's panes (:meth:`values`)."""

    def __init__(self, kpis: tuple[KpiDef, ...]) -> None:
        self.kpis = kpis
        self._observe = tuple((k.observe, k.observe_key, k.name, k.acc) for k in kpis)
        self._read = tuple(
            (k.name, k.acc.result, k.acc.count, _weight_of(k.acc), k.acc.merge_all) for k in kpis
        )

    def observe(self, event: Any) -> list[Observed]:
        """The observations of ``event``, in KPI order."""
        out: list[Observed] = []
        for observe, observe_key, name, acc in self._observe:
            obs = observe(event)
            if obs is not None:
                key = None if observe_key is None else observe_key(event)
                out.append((name, acc, obs[0], obs[1], key))
        return out

    def pane_values(self, pane: dict[str, State], window_seconds: float) -> list[KpiValue]:
        """``(name, value, count, weight)`` of each KPI that has a value in the one ``pane``."""
        out: list[KpiValue] = []
        for name, result, count, weight, _ in self._read:
            state = pane.get(name)
            if state is not None:
                value = result(state, window_seconds)
                if value is not None:
                    n = count(state)
                    w = float(n) if weight is None else weight(state, window_seconds)
                    out.append((name, value, n, w))
        return out

    def values(self, panes: list[dict[str, State]], window_seconds: float) -> list[KpiValue]:
        """``(name, value, count, weight)`` of each KPI that has a value in ``panes``.

        One pane is read as it is; several are merged in (time) order first, KPI by KPI,
        with the accumulators' ``merge_all``; states of other KPI names (e.g. restored from
        an older changelog) are ignored. The inputs are left untouched.
        """
        if len(panes) == 1:
            return self.pane_values(panes[0], window_seconds)
        out: list[KpiValue] = []
        by_name: dict[str, list[State]] = {}
        for pane in panes:
            for name, pane_state in pane.items():
                states = by_name.get(name)
                if states is None:
                    by_name[name] = [pane_state]
                else:
                    states.append(pane_state)
        for name, result, count, weight, merge_all in self._read:
            states = by_name.get(name)
            if states is not None:
                merged = merge_all(states)
                value = result(merged, window_seconds)
                if value is not None:
                    n = count(merged)
                    w = float(n) if weight is None else weight(merged, window_seconds)
                    out.append((name, value, n, w))
        return out


def observe_event(kpis: tuple[KpiDef, ...], event: Any) -> list[Observed]:
    """What ``event`` contributes to each KPI of ``kpis`` (KPIs it does not count for are
    left out). Computed once per event, then folded into each of its entities' panes."""
    return KpiPlan(kpis).observe(event)


def fold(panes: list[dict[str, State]], observed: list[Observed]) -> None:
    """Fold the observations of one event into the per-KPI states of each of ``panes``
    (one pass over the observations; each pane sees them in the same order)."""
    for name, acc, value, weight, key in observed:
        for pane in panes:
            state = pane.get(name)
            if state is None:
                state = pane[name] = acc.new()
            if key is None:
                acc.add(state, value, weight)
            else:
                cast(KeyedAccumulator, acc).add_keyed(state, key, value, weight)


def apply_event(pane: dict[str, State], kpis: tuple[KpiDef, ...], event: Any) -> None:
    """Fold ``event`` into the per-KPI states of one entity's pane (created when missing)."""
    fold([pane], observe_event(kpis, event))


def window_values(
    panes: list[dict[str, State]], kpis: tuple[KpiDef, ...], window_seconds: float
) -> list[KpiValue]:
    """``(name, value, count)`` of each KPI of ``kpis`` that has a value in ``panes`` (see
    :meth:`KpiPlan.values`)."""
    return KpiPlan(kpis).values(panes, window_seconds)
